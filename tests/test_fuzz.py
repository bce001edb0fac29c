"""Fuzzing every reader of a text or label file: valid files of each kind (manifest CSV, AI Hub JSON in both
layouts and zipped, TIMIT spkrinfo.txt, Common Voice TSV, Kaldi tables, a JSON read by corpora/text.read_json) are
mutated by a seeded random.Random -- truncation, random bytes, byte flips, other encodings, a 1 MB cell,
NaN/inf, 100,000 levels of nesting, paths with ".." and "\\" -- and each case must end either in success or
in one of the project's own errors (ValueError, FileNotFoundError, AudioError, EncodingError, ArchiveError)
whose message is one line naming a file of the corpus. Any other exception (KeyError, TypeError,
UnicodeDecodeError, RecursionError, csv.Error, ...) fails the test with the case that raised it. A few
cases also go through `python -m corpora` in a subprocess: exit code 2, one line, no traceback.
"""
import io
import json
import random
import re
import shutil
import subprocess
import sys
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from corpora.aihub import aihub_rows
from corpora.archive import ArchiveError
from data import AudioError, load_audio
from corpora.commonvoice import commonvoice_rows
from corpora.timit import timit_rows
from corpora.describe import describe
from corpora.text import EncodingError, read_json
from corpora.kaldi import kaldi_rows
from corpora.speakers import resolve_speaker_conflicts
from data import PER_CLIP_COLUMNS, TASKS, read_manifest

ROOT = Path(__file__).resolve().parents[1]
SR = 16000  # Hz
PROJECT_ERRORS = (ValueError, FileNotFoundError, AudioError, EncodingError, ArchiveError)  # exact types only
CASES_PER_KIND = 40  # random mutations of each kind of file, besides the directed ones; about 20 s in all
NASTY = ["NaN", "nan", "inf", "-inf", "1e999", "Infinity", "", "-", "NotProvided", "null", "true", "[]", "{}",
         '"', "'", "\t", ",", "\r\n", "\u2028", "🎤", "０１２", "26세", "60대 이상", "99", "1111000000",
         "../../../etc/passwd", "..\\..\\windows\\x.wav", "C:\\data\\x.wav", "a.zip::b.wav",
         "[원천]x.zip::..\\..\\y.wav", "y" * 5000, "x" * 1_000_000]  # longer than PATH_MAX; a 1 MB cell


def wav_bytes(seconds=0.25):
    buffer = io.BytesIO()
    sf.write(buffer, 0.1 * np.sin(2 * np.pi * 200 * np.arange(int(SR * seconds)) / SR), SR, format="WAV",
             subtype="PCM_16")
    return buffer.getvalue()


def put(path, content):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))


FREETALK = {"발화정보": {"stt": "안녕하세요", "fileNm": "a1.wav", "recrdTime": "0.25"},
            "대화정보": {"cityCode": "부산", "recrdEnvrn": "실내"},
            "녹음자정보": {"gender": "남", "recorderId": "R001", "age": 34, "education": "대졸"}}
COMMAND = {"기본정보": {"DataCategory": "명령어"}, "전사정보": {"LabelText": "불 켜 줘"},
           "파일정보": {"FileName": "b1.wav", "FileLength": "0.25"},
           "화자정보": {"SpeakerName": "S042", "Gender": "여성", "Age": "20대", "Region": "충청북도", "Dialect": "충청"}}


# ---------------------------------------------------------------- one valid corpus per kind
def make_corpus(kind, root):
    """Write a valid corpus of `kind` under root; return (the file to mutate, a function that reads it)."""
    if kind == "manifest":
        put(root / "a.wav", wav_bytes())
        put(root / "b.wav", wav_bytes())
        put(root / "m.csv", "path,speaker,gender,age,dialect,split,education\na.wav,s1,male,20s,경상,train,BS\n"
                            'b.wav,s2,female,30s,제주,test,대졸\n"c d.wav",s3,,,,,\n')
        return root / "m.csv", lambda: describe(resolve_speaker_conflicts(read_manifest(root / "m.csv"), "m.csv",
                                                                          PER_CLIP_COLUMNS, TASKS),
                                                ["gender", "age", "education"])
    if kind in ("aihub_freetalk", "aihub_command"):
        doc, stem = (FREETALK, "a1") if kind == "aihub_freetalk" else (COMMAND, "b1")
        put(root / "라벨" / f"{stem}.json", json.dumps(doc, ensure_ascii=False))
        put(root / "원천" / f"{stem}.wav", wav_bytes())
        return root / "라벨" / f"{stem}.json", lambda: aihub_rows(root)
    if kind == "aihub_zip":
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
            zf.writestr("TL/서울/a1.json", json.dumps(FREETALK, ensure_ascii=False))
            zf.writestr("TS/서울/a1.wav", wav_bytes())
        put(root / "[라벨+원천]자유대화.zip", buffer.getvalue())

        def read_zip():
            rows = aihub_rows(root)
            return [load_audio(r["path"]) for r in rows]
        return root / "[라벨+원천]자유대화.zip", read_zip
    if kind == "timit":
        put(root / "spkrinfo.txt", ";ID  Sex DR Use  RecDate   BirthDate  Ht    Race Edu  Comments\n"
                                   "ABC0  F  1  TRN  03/11/86  05/20/50  5'05\"  WHT  BS   NICE VOICE\n")
        put(root / "dr1-fabc0" / "sa1.wav", wav_bytes())
        put(root / "dr1-fabc0" / "sa1.txt", "0 46797 She had your dark suit in greasy wash water all year.\n")
        return root / "spkrinfo.txt", lambda: timit_rows(root)
    if kind == "commonvoice":
        put(root / "clips" / "cv_1.mp3", wav_bytes())  # soundfile is not asked to decode it here
        put(root / "validated.tsv", "client_id\tpath\tsentence\tup_votes\tdown_votes\tage\tgender\taccents\tlocale\n"
                                    'aaa\tcv_1.mp3\tHe said "hi".\t2\t0\ttwenties\tmale_masculine\tUS English\ten\n')
        return root / "validated.tsv", lambda: commonvoice_rows(root)
    if kind.startswith("kaldi_"):
        put(root / "WAVE" / "S1" / "u1.wav", wav_bytes())
        put(root / "WAVE" / "S2" / "u2.wav", wav_bytes())
        put(root / "train" / "wav.scp", "u1\tWAVE/S1/u1.wav\nu2 WAVE/S2/u2.wav\n")
        put(root / "train" / "utt2spk", "u1 0001\nu2 0002\n")
        put(root / "train" / "spk2gender", "0001\tm\n0002\tf\n")
        put(root / "train" / "spk2age", "0001\t6\n0002\t30\n")
        return root / "train" / kind.removeprefix("kaldi_"), lambda: kaldi_rows([root / "train"])
    if kind == "json":
        put(root / "config.json", json.dumps({"model": "cnn", "lr": 0.001, "tasks": ["age", "gender"],
                                              "seed": 0, "nested": {"a": [1, 2.5, None, True]}}))
        return root / "config.json", lambda: read_json(root / "config.json")
    raise AssertionError(kind)


KINDS = ["manifest", "aihub_freetalk", "aihub_command", "aihub_zip", "timit", "commonvoice", "kaldi_wav.scp",
         "kaldi_utt2spk", "kaldi_spk2gender", "kaldi_spk2age", "json"]


# ---------------------------------------------------------------- mutations
def _tokens(text):
    """text split into tokens and the delimiters between them (kept, so "".join gives the text back)."""
    return re.split(r'([,\t\n\r ":{}\[\]])', text)


def mutate(raw, rng):
    """One seeded mutation of a file's bytes -> (name of the mutation, new bytes)."""
    text = raw.decode("utf-8")
    choice = rng.randrange(13)
    if choice == 0:
        return "truncate", raw[:rng.randrange(len(raw))]
    if choice == 1:
        at = rng.randrange(len(raw) + 1)
        return "random bytes", raw[:at] + bytes(rng.randrange(256) for _ in range(rng.randint(1, 40))) + raw[at:]
    if choice == 2:
        flipped = bytearray(raw)
        for _ in range(rng.randint(1, 8)):
            flipped[rng.randrange(len(flipped))] ^= 1 << rng.randrange(8)
        return "byte flips", bytes(flipped)
    if choice == 3:
        encoding = rng.choice(["cp949", "utf-8-sig", "utf-16", "utf-16-le", "utf-32", "latin-1"])
        return f"encoding {encoding}", text.encode(encoding, errors="replace")
    if choice in (4, 5, 6, 7):
        tokens = _tokens(text)
        spots = [i for i in range(0, len(tokens), 2) if tokens[i]]
        i = rng.choice(spots) if spots else 0
        tokens[i] = rng.choice(NASTY)
        return f"token {tokens[i][:20]!r}", "".join(tokens).encode("utf-8")
    if choice == 8:
        lines = text.splitlines(keepends=True)
        rng.shuffle(lines)
        return "lines shuffled", "".join(lines[:rng.randint(0, len(lines))]).encode("utf-8")
    if choice == 9:
        return "whole file random", bytes(rng.randrange(256) for _ in range(rng.randint(0, 200)))
    if choice == 10:
        return "nested 100k", (b"[" * 100_000 + b"]" * 100_000) if rng.random() < 0.5 else b'{"a":' * 100_000
    if choice == 11 and text.lstrip().startswith("{"):
        return json_mutation(json.loads(text), rng)
    at = rng.randrange(len(text) + 1)
    return "1 MB in the middle", (text[:at] + "x" * 1_000_000 + text[at:]).encode("utf-8")


def json_mutation(doc, rng):
    """Replace a random value of a JSON document with a value of another type (NaN allowed)."""
    node = doc
    while isinstance(node, dict) and node and rng.random() < 0.7:
        key = rng.choice(list(node))
        if not isinstance(node[key], dict):
            break
        node = node[key]
    if isinstance(node, dict) and node:
        key = rng.choice(list(node))
        node[key] = rng.choice([None, True, 0, -3, 1.5, float("nan"), float("inf"), [], [1, "a"], {}, {"x": {}},
                                "x" * 1000, "NotProvided", "60대 이상", "31"])
        return f"json {key!r} -> {str(node[key])[:20]}", json.dumps(doc, ensure_ascii=False).encode("utf-8")
    return "json top level", rng.choice([b"[]", b"null", b"1", b'"s"', b"NaN"])


def zip_mutation(raw, rng):
    """Mutations of a zip archive's bytes: truncation, byte flips, random bytes."""
    choice = rng.randrange(3)
    if choice == 0:
        return "zip truncated", raw[:rng.randrange(len(raw))]
    flipped = bytearray(raw)
    for _ in range(rng.randint(1, 6)):
        flipped[rng.randrange(len(flipped))] = rng.randrange(256)
    if choice == 1:
        return "zip byte flips", bytes(flipped)
    return "zip random", bytes(rng.randrange(256) for _ in range(300))


# ---------------------------------------------------------------- the check
def check(kind, name, root, run):
    """None when the case succeeded or ended in a proper error; else a line describing the defect."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            run()
    except Exception as err:  # noqa: BLE001 -- this is the point: any exception is examined
        message = str(err)
        if type(err) not in PROJECT_ERRORS:
            return f"{kind} / {name}: {type(err).__name__}: {message[:200]}"
        if "\n" in message or str(root) not in message or len(message) > 1500:
            return f"{kind} / {name}: message not one short line naming a file: {message[:300]!r}"
    return None


def directed_cases(raw):
    """Each token replaced by the two long cells and one other NASTY value; each encoding; 100,000 levels of nesting."""
    text = raw.decode("utf-8")
    spots = [i for i, token in enumerate(_tokens(text)) if i % 2 == 0 and token]
    for k, spot in enumerate(spots):  # every token with the two long cells and one more nasty value
        for value in (NASTY[-1], NASTY[-2], NASTY[k % (len(NASTY) - 2)]):
            tokens = _tokens(text)
            tokens[spot] = value
            yield f"token {spot} {value[:20]!r}", "".join(tokens).encode("utf-8")
    for encoding in ("cp949", "utf-8-sig", "utf-16", "utf-16-le", "utf-32"):
        yield f"encoding {encoding}", text.encode(encoding, errors="replace")
    yield "nested 100k", b"[" * 100_000 + b"]" * 100_000


def directed_json_cases(raw):
    """Every key of a JSON object (at any depth) given every other type of value, NaN included."""
    def paths(node, prefix=()):
        for key, value in node.items():
            yield prefix + (key,)
            if isinstance(value, dict):
                yield from paths(value, prefix + (key,))
    doc = json.loads(raw)
    for path in list(paths(doc)):
        for value in (None, True, 1.5, float("nan"), [], [1, "a"], {}, {"x": {}}, "y" * 5000):
            copy = json.loads(raw)
            node = copy
            for key in path[:-1]:
                node = node[key]
            node[path[-1]] = value
            yield f"json {'/'.join(path)} = {str(value)[:12]}", json.dumps(copy, ensure_ascii=False).encode("utf-8")


@pytest.mark.parametrize("kind", KINDS)
def test_fuzz(tmp_path, kind):
    rng = random.Random(f"moksori-fuzz-{kind}")  # seeded per kind: the same cases on every run
    defects = []
    valid_target, _ = make_corpus(kind, tmp_path / "template")
    valid = valid_target.read_bytes()
    mutations = [zip_mutation(valid, rng) if kind == "aihub_zip" else mutate(valid, rng)
                 for _ in range(CASES_PER_KIND)]
    if kind != "aihub_zip":
        mutations += list(directed_cases(valid))
    if kind in ("aihub_freetalk", "aihub_command", "json"):
        mutations += list(directed_json_cases(valid))
    for case, (name, content) in enumerate(mutations):
        root = tmp_path / f"case{case}"
        target, run = make_corpus(kind, root)  # a fresh valid corpus, then one file mutated
        target.write_bytes(content)
        defect = check(kind, name, root, run)
        if defect:
            defects.append(defect)
        shutil.rmtree(root)
    assert not defects, f"{len(defects)} of {len(mutations)} cases failed:\n" + "\n".join(defects[:10])


def test_zip_member_names_with_dotdot_and_backslashes_are_only_names(tmp_path):
    """A hostile archive ("zip slip" names) is read in place: nothing is written outside, names are just keys."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr("../../라벨/a1.json", json.dumps(FREETALK, ensure_ascii=False))
        zf.writestr("..\\..\\원천\\a1.wav", wav_bytes())
    put(tmp_path / "corpus" / "evil.zip", buffer.getvalue())
    rows = aihub_rows(tmp_path / "corpus")
    assert rows[0]["path"] == f"{tmp_path / 'corpus' / 'evil.zip'}::../../원천/a1.wav"
    assert len(load_audio(rows[0]["path"])) == SR // 4
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["corpus", "evil.zip"], "nothing was extracted"


# ---------------------------------------------------------------- the same through `python -m corpora`
def cli(*args):
    """Run `python -m corpora ARGS` from the repository root -> (exit code, stdout, stderr)."""
    done = subprocess.run([sys.executable, "-m", "corpora", *map(str, args)], capture_output=True,
                          text=True, cwd=ROOT, timeout=120)
    return done.returncode, done.stdout, done.stderr


def test_cli_bad_files_exit_2_with_one_line(tmp_path):
    target, _ = make_corpus("manifest", tmp_path / "m")
    target.write_bytes(random.Random(0).randbytes(300))  # random bytes: no encoding reads them
    nested, _ = make_corpus("aihub_freetalk", tmp_path / "nested")
    nested.write_bytes(b'{"a":' * 100_000)
    zipped, _ = make_corpus("aihub_zip", tmp_path / "zipped")
    zipped.write_bytes(zipped.read_bytes()[:-30])  # the end of the central directory cut off
    out_csv = tmp_path / "o.csv"
    for args, file in ((["describe", target], target),
                       (["aihub", "--root", nested.parents[1], "--out", out_csv], nested),
                       (["aihub", "--root", zipped.parent, "--out", out_csv], zipped)):
        code, out, err = cli(*args)
        assert code == 2 and "Traceback" not in err and err.count("\n") == 1, (args, code, err[-500:])
        assert err.startswith(f"error: {file}"), err[:300]
    assert not out_csv.exists()


def test_cli_cp949_manifest_is_read_with_a_warning(tmp_path):
    target, _ = make_corpus("manifest", tmp_path)
    target.write_bytes(target.read_bytes().decode("utf-8").encode("cp949"))  # Excel on Korean Windows
    code, out, err = cli("describe", target, "--tasks", "dialect,education")
    assert code == 0 and "Traceback" not in err, err
    assert err == f"warning: {target}: read as CP949 (Korean Windows); save it as UTF-8 (Excel: 'CSV UTF-8') to silence this\n"
    assert "경상" in out and "대졸" in out and "3 clips, 3 speakers" in out
