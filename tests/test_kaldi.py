"""kaldi.py on small Kaldi data directories written here (two splits, a missing spk2age, CRLF endings, bad
lines of every kind), and on the real speechocean762 when $MOKSORI_SPEECHOCEAN points at it. Expected labels
are read off the tables by hand."""
import os
import re
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

import data
from corpora import cli as corpora_cli
from corpora.kaldi import kaldi_rows, split_of
from corpora.labels import parse_age_bins
from data import read_manifest

SR = 16000  # Hz


def write_table(path, lines, newline="\n"):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes((newline.join(lines) + newline).encode("utf-8"))


def kaldi_corpus(root, newline="\n"):
    """speechocean762's layout: root/WAVE/SPEAKERxxxx/*.WAV, root/train and root/test with relative paths.
    train: speakers 0001 m 6, 0002 f 30, 0003 m 41, 0004 f 25 (two clips each); test: 0005 f, 0006 m, no spk2age."""
    speakers = {"train": ["0001", "0002", "0003", "0004"], "test": ["0005", "0006"]}
    for split, spks in speakers.items():
        wav, utt2spk, text = [], [], []
        for spk in spks:
            for k in (1, 2):
                utt = f"{spk}{k:04d}"
                path = root / "WAVE" / f"SPEAKER{spk}" / f"{utt}.WAV"
                path.parent.mkdir(parents=True, exist_ok=True)
                sf.write(path, 0.1 * np.sin(2 * np.pi * 200 * np.arange(SR // 4) / SR), SR, format="WAV")
                wav.append(f"{utt}\tWAVE/SPEAKER{spk}/{utt}.WAV")
                utt2spk.append(f"{utt} {spk}")
                text.append(f"{utt}\tWE CALL IT BEAR {k}")
        write_table(root / split / "wav.scp", wav, newline)
        write_table(root / split / "utt2spk", utt2spk, newline)
        write_table(root / split / "text", text, newline)
    write_table(root / "train" / "spk2gender", ["0001\tm", "0002\tf", "0003\tm", "0004\tf"], newline)
    write_table(root / "train" / "spk2age", ["0001\t6", "0002\t30", "0003\t41", "0004\t25"], newline)
    write_table(root / "test" / "spk2gender", ["0005 f", "0006 m"], newline)  # and no spk2age
    return root


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_two_splits_labels_and_validation_speakers(tmp_path, newline):
    root = kaldi_corpus(tmp_path / "so", newline)
    rows = kaldi_rows([root / "train", root / "test"])
    assert len(rows) == 12 and all(Path(r["path"]).is_file() for r in rows)
    by_speaker = {r["speaker"]: r for r in rows}
    got = {s: (r["gender"], r["age"], r["age_years"]) for s, r in by_speaker.items()}
    assert got == {"0001": ("male", "0s", "6"), "0002": ("female", "30s", "30"), "0003": ("male", "40s", "41"),
                   "0004": ("female", "20s", "25"), "0005": ("female", "", ""), "0006": ("male", "", "")}
    assert rows[0]["path"] == str(root / "WAVE" / "SPEAKER0001" / "00010001.WAV")
    assert rows[1]["text"] == "WE CALL IT BEAR 2" and rows[0]["source"] == "kaldi" and rows[0]["dialect"] == ""
    split = {s: r["split"] for s, r in by_speaker.items()}
    assert split["0005"] == split["0006"] == "test"
    val = sorted(s for s, v in split.items() if v == "val")
    assert len(val) == 1 and split[val[0]] == "val" and val[0] in ("0001", "0002", "0003", "0004"), \
        "validation_fraction(4) = 0.2 of 4 training speakers: one, drawn from train"
    assert [r["split"] for r in kaldi_rows([root / "train", root / "test"])] == [r["split"] for r in rows], "seeded"
    bins = parse_age_bins("child:0-12,teen:13-17,adult:18-")
    assert [r["age"] for r in kaldi_rows([root / "train"], bins=bins)][::2] == ["child", "adult", "adult", "adult"]


def test_split_names():
    assert [split_of(Path(n)) for n in ("train", "TEST", "dev", "valid", "val", "dev_clean", "train-960", "eval")] \
        == ["train", "test", "val", "val", "val", "val", "train", ""]


def test_a_dev_directory_is_the_validation_split(tmp_path):
    root = kaldi_corpus(tmp_path / "so")
    (root / "test").rename(root / "dev")
    rows = kaldi_rows([root / "train", root / "dev"])
    assert Counter(r["split"] for r in rows) == {"train": 8, "val": 4}, "no speaker drawn from train"


def test_accent_and_language_become_the_dialect(tmp_path):
    root = kaldi_corpus(tmp_path / "so")
    write_table(root / "test" / "spk2accent", ["0005 scottish"])
    write_table(root / "test" / "utt2lang", ["00050001 en-GB", "00060001 en-US", "00060002 N/A"])
    rows = kaldi_rows([root / "test"])
    assert [r["dialect"] for r in rows] == ["scottish", "scottish", "en-US", ""]


@pytest.mark.parametrize("file, line, problem", [
    ("spk2gender", "0002\tx", r"spk2gender line 2: unknown gender value 'x'"),
    ("spk2age", "0002\told", r"spk2age line 2: unknown age value 'old'"),
    ("wav.scp", "00020001 sph2pipe -f wav WAVE/x.sph |", r"wav\.scp line 3: a command pipe"),
    ("wav.scp", "00020001 WAVE/nowhere/x.wav", r"wav\.scp line 3: audio 'WAVE/nowhere/x\.wav' not found"),
    ("utt2spk", "00020001", r"utt2spk line 3: expected 'KEY VALUE', got '00020001'"),
    ("utt2spk", "00010001 0009", r"utt2spk line 3: key '00010001' appears twice \(first on line 1\)"),
])
def test_bad_lines_are_one_line_errors_naming_file_line_and_value(tmp_path, file, line, problem):
    root = kaldi_corpus(tmp_path / "so")
    path = root / "train" / file
    lines = path.read_text().splitlines()
    index = 1 if file in ("spk2gender", "spk2age") else 2
    lines[index] = line
    write_table(path, lines, "\r\n")
    with pytest.raises((ValueError, FileNotFoundError)) as info:
        kaldi_rows([root / "train"])
    message = str(info.value)
    assert message.startswith(str(path)) and "\n" not in message
    assert re.search(problem, message), message


def test_a_missing_utt2spk_line(tmp_path):
    root = kaldi_corpus(tmp_path / "so")
    write_table(root / "test" / "utt2spk", ["00050001 0005"])
    with pytest.raises(ValueError, match=r"test/wav\.scp line 2: utterance '00050002' has no line in .*utt2spk"):
        kaldi_rows([root / "test"])


# ---------------------------------------------------------------- segments: utterances cut from recordings
def dialogue_corpus(root):
    """One 3 s recording "rec1" of two speakers taking turns: A (a 120 Hz tone) 0-1 s and 2-3 s, B (220 Hz)
    1-2 s; segments name each turn, a 0.2 s backchannel of B and a span past the recording's end."""
    t = np.arange(3 * SR) / SR  # (3 * SR,) seconds
    y = 0.1 * np.where((t >= 1.0) & (t < 2.0), np.sin(2 * np.pi * 220 * t), np.sin(2 * np.pi * 120 * t))
    (root / "audio").mkdir(parents=True)
    sf.write(root / "audio" / "rec1.wav", y, SR)
    write_table(root / "train" / "wav.scp", ["rec1 audio/rec1.wav"])
    write_table(root / "train" / "segments", ["A-1 rec1 0.00 1.00", "B-1 rec1 1.00 2.00", "A-2 rec1 2.00 -1",
                                               "B-2 rec1 2.40 2.60", "A-3 rec1 2.50 4.00"])
    write_table(root / "train" / "utt2spk", ["A-1 A", "B-1 B", "A-2 A", "B-2 B", "A-3 A"])
    write_table(root / "train" / "spk2gender", ["A m", "B f"])
    write_table(root / "train" / "text", ["B-1 HELLO THERE"])
    return root


def peak_hz(y):
    return np.argmax(np.abs(np.fft.rfft(y))) * SR / len(y)


def test_segments_are_read_in_place_each_turn_with_its_speaker(tmp_path):
    root = dialogue_corpus(tmp_path / "d")
    with pytest.warns(UserWarning) as caught:
        rows = kaldi_rows([root / "train"], min_segment_s=0.5)
    short, past = sorted(str(w.message) for w in caught)  # one line per kind
    assert "skipped 1 of 5 segments that end past their audio file's end" in past \
        and "2.500-4.000 s (the file: 3.000 s)" in past, past
    assert "skipped 1 of 5 segments shorter than 0.5 s" in short and "2.400-2.600 s" in short, short
    got = [(r["speaker"], r["gender"], r["start_s"], r["end_s"], r["duration_s"]) for r in rows]
    assert got == [("A", "male", "0", "1", "1"), ("B", "female", "1", "2", "1"), ("A", "male", "2", "", "")]
    assert all(r["path"] == str(root / "audio" / "rec1.wav") for r in rows) and rows[1]["text"] == "HELLO THERE"
    for row, f0_hz in zip(rows, (120.0, 220.0, 120.0)):  # each span holds its own speaker's tone, nothing else
        y = data.load_audio(row["path"], SR, *data.segment(row))
        assert abs(len(y) / SR - 1.0) < 1e-3, f"{len(y) / SR} s, expected 1 s"
        assert abs(peak_hz(y) - f0_hz) <= SR / len(y), f"peak at {peak_hz(y)} Hz, expected {f0_hz} Hz"


@pytest.mark.parametrize("line, problem", [
    ("A-1 rec1 0.5", r"segments line 1: expected 'UTTERANCE RECORDING START END'"),
    ("A-1 rec1 2.0 1.0", r"segments line 1: expected .* 0 <= START < END .*got 'A-1 rec1 2\.0 1\.0'"),
    ("A-1 rec1 zero 1.0", r"segments line 1: expected 'UTTERANCE RECORDING START END'"),
    ("A-1 rec9 0.0 1.0", r"segments line 1: recording 'rec9' has no line in .*wav\.scp"),
    ("Z-1 rec1 0.0 1.0", r"segments line 1: utterance 'Z-1' has no line in .*utt2spk"),
])
def test_bad_segments_lines_name_the_file_and_line(tmp_path, line, problem):
    root = dialogue_corpus(tmp_path / "d")
    write_table(root / "train" / "segments", [line])
    with pytest.raises(ValueError, match=problem) as info:
        kaldi_rows([root / "train"])
    assert "\n" not in str(info.value)


def test_cli_writes_segment_columns_that_the_manifest_reads_back(tmp_path, capsys):
    root = dialogue_corpus(tmp_path / "d")
    out = tmp_path / "d.csv"
    assert corpora_cli.main(["kaldi", "--root", str(root / "train"), "--out", str(out), "--min-segment-s", "0.1"]) == 0
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "skipped 1 of 5 segments that end past" in err, err
    rows = read_manifest(out)
    assert [(r["start_s"], r["end_s"]) for r in rows] == [("0", "1"), ("1", "2"), ("2", ""), ("2.4", "2.6")]
    assert [data.segment(r) for r in rows][2] == (2.0, None), "an empty end_s reads to the file's end"
    assert corpora_cli.main(["kaldi", "--root", str(root / "train"), "--out", str(out), "--min-segment-s", "0.05"]) == 2
    assert "--min-segment-s 0.05: segments shorter than data.MIN_CLIP_S = 0.1 s" in capsys.readouterr().err


def test_a_speaker_in_two_directories_is_refused(tmp_path):
    root = kaldi_corpus(tmp_path / "so")
    write_table(root / "test" / "utt2spk", ["00050001 0005", "00050002 0005", "00060001 0001", "00060002 0006"])
    with pytest.raises(ValueError) as info:
        kaldi_rows([root / "train", root / "test"])
    assert str(info.value) == (f"speaker '0001' is in both {root / 'train' / 'utt2spk'} and "
                               f"{root / 'test' / 'utt2spk'}; the directories must not share speakers")


def test_audio_root_and_recipe_layout(tmp_path):
    root = kaldi_corpus(tmp_path / "so")
    recipe = tmp_path / "s5" / "data"  # a recipe's data/train: paths are relative to s5/, the grandparent
    recipe.mkdir(parents=True)
    (root / "train").rename(recipe / "train")
    (root / "WAVE").rename(tmp_path / "s5" / "WAVE")
    assert len(kaldi_rows([recipe / "train"])) == 8
    moved = tmp_path / "audio_elsewhere"
    moved.mkdir()
    (tmp_path / "s5" / "WAVE").rename(moved / "WAVE")
    with pytest.raises(FileNotFoundError, match=r"line 1: audio 'WAVE/SPEAKER0001/00010001\.WAV' not found.*--audio-root"):
        kaldi_rows([recipe / "train"])
    assert kaldi_rows([recipe / "train"], audio_root=moved)[0]["path"] == str(moved / "WAVE/SPEAKER0001/00010001.WAV")


def test_cli_writes_the_manifest(tmp_path, capsys):
    root = kaldi_corpus(tmp_path / "so")
    out = tmp_path / "so.csv"
    assert corpora_cli.main(["kaldi", "--root", str(root / "train"), str(root / "test"), "--out", str(out),
                      "--age-bins", "child:0-12,adult:13-"]) == 0
    assert "12 clips, 6 speakers" in capsys.readouterr().out
    rows = read_manifest(out)
    assert [(r["speaker"], r["age"], r["age_years"]) for r in rows][::2] == [
        ("0001", "child", "6"), ("0002", "adult", "30"), ("0003", "adult", "41"), ("0004", "adult", "25"),
        ("0005", "", ""), ("0006", "", "")]
    assert corpora_cli.main(["kaldi", "--root", str(root / "train"), str(root / "nope"), "--out", str(out)]) == 2
    assert capsys.readouterr().err == f"error: {root / 'nope'}: corpus folder not found\n"


@pytest.fixture
def speechocean():
    root = os.environ.get("MOKSORI_SPEECHOCEAN")
    if not root or not (Path(root) / "train" / "wav.scp").is_file():
        pytest.skip("speechocean762 not found ($MOKSORI_SPEECHOCEAN, the folder holding train/ and test/)")
    return Path(root)


def test_speechocean762(speechocean):
    rows = kaldi_rows([speechocean / "train", speechocean / "test"])
    speakers = {}
    for r in rows:
        assert speakers.setdefault(r["speaker"], r["split"]) == r["split"], "a speaker in two splits"
    assert len(rows) == 5000 and len(speakers) == 250
    official_test = {s for s, split in speakers.items() if split == "test"}
    assert len(official_test) == 125 and Counter(speakers.values())["train"] + Counter(speakers.values())["val"] == 125
    # by hand from the tables: test/spk2gender "0003 m", test/spk2age "0003 6", test/text 000030012
    first = next(r for r in rows if r["path"].endswith("000030012.WAV"))
    assert (first["speaker"], first["gender"], first["age"], first["age_years"], first["split"]) == (
        "0003", "male", "0s", "6", "test")
    assert first["text"] == "MARK IS GOING TO SEE ELEPHANT"
    assert all(r["gender"] and r["age"] for r in rows), "speaker ids match spk2gender/spk2age exactly"
