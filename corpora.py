"""Corpus adapters: AI Hub, Common Voice and TIMIT folders -> manifest rows; describe (the EDA).

Every adapter returns a list of row dicts with the manifest columns `path, speaker, gender, age, dialect,
split` (strings; "" = unknown label / split not yet assigned) plus the extras `source`, `text`, `duration_s`.
Each adapter only finds a corpus's label fields; labels.py normalises their spellings (gender -> male/female,
age -> age groups, dialect -> AI Hub's six groups or TIMIT's eight regions; Common Voice's free-text
`accents` cell is kept as written).
Bad input raises ValueError / FileNotFoundError naming the file, the value and what was expected.
data.py writes the manifest and assigns the missing splits; this module never imports data.py.

Test: python -m pytest tests/test_corpora.py
"""
import csv
import json
import re
import warnings
from pathlib import Path

import numpy as np
import soundfile as sf

from labels import DECADES, age_group, dialect_group, normalise_gender, timit_dialect

# ---------------------------------------------------------------- 1. one manifest row
def _row(path, speaker, gender, age, dialect, split="", source="", text="", duration_s=""):
    return dict(path=str(path), speaker=str(speaker), gender=gender, age=age, dialect=dialect,
                split=split, source=source, text=text, duration_s=str(duration_s))


def _labelled(where, gender, age, region, bins, region_fn):
    """Normalise one file's three labels; errors name `where` (the label file)."""
    try:
        return normalise_gender(gender), age_group(age, bins), region_fn(region)
    except ValueError as e:
        raise ValueError(f"{where}: {e}") from None


# ---------------------------------------------------------------- 2. AI Hub
AUDIO_SUFFIXES = (".wav", ".flac")  # headerless .pcm (KsponSpeech) is not read: convert it to .wav first
SPEAKER_ID_KEYS = ("SpeakerId", "SpeakerID", "SpeakerName", "recorderId", "ID")


def _index_audio(root):
    """{file stem: path} of every .wav/.flac under root (walked once). Duplicate stems are ambiguous."""
    index = {}
    for path in sorted(root.rglob("*")):
        if path.suffix.lower() in AUDIO_SUFFIXES and path.is_file():
            if path.stem in index:
                raise ValueError(f"two audio files share the stem {path.stem!r}: {index[path.stem]} and {path}")
            index[path.stem] = path
    return index


def _read_json(path):
    try:
        return json.loads(path.read_text(encoding="utf-8-sig"))  # -sig: AI Hub files may start with a BOM
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ValueError(f"{path}: malformed JSON ({e})") from None


def _aihub_fields(path, doc):
    """(audio file name, speaker, gender, age, region, text, duration_s) from either known layout."""
    keys = list(doc) if isinstance(doc, dict) else f"a top-level {type(doc).__name__}"
    if isinstance(doc, dict) and "발화정보" in doc and "녹음자정보" in doc:  # (a) 자유대화 음성
        utt, who, conv = doc["발화정보"], doc["녹음자정보"], doc.get("대화정보", {})
        return (utt.get("fileNm", ""), who.get("recorderId", ""), who.get("gender"), who.get("age"),
                conv.get("cityCode"), utt.get("stt", ""), utt.get("recrdTime", ""))
    if isinstance(doc, dict) and "화자정보" in doc:  # (b) 명령어 음성 etc.: 화자정보 + 파일정보 + 전사정보
        who, info = doc["화자정보"], doc.get("파일정보", {})
        speaker = next((who[k] for k in SPEAKER_ID_KEYS if who.get(k)), "")
        region = who.get("Dialect") or who.get("Region")
        return (info.get("FileName", ""), speaker, who.get("Gender"), who.get("Age"), region,
                doc.get("전사정보", {}).get("LabelText", ""), info.get("FileLength", ""))
    raise ValueError(f"{path}: unknown AI Hub layout; top-level keys {keys}; expected 발화정보 + 녹음자정보 "
                     "(자유대화 음성) or 화자정보 (Gender, Age, Dialect/Region)")


def aihub_rows(root, bins=DECADES, skip_missing=False):
    """One row per AI Hub label JSON under root, paired with the .wav/.flac of the same stem anywhere under
    root (the JSON's own stem first, then the stem of its fileNm/FileName: some fileNm carry typos like
    ".wavp"). Splits are left empty for data.py to assign by speaker.

    Missing audio: FileNotFoundError naming the JSON; with skip_missing=True a counted one-line warning.
    """
    root = Path(root)
    audio = _index_audio(root)
    rows, missing = [], []
    for path in sorted(root.rglob("*.json")):
        file_name, speaker, gender, age, region, text, duration_s = _aihub_fields(path, _read_json(path))
        gender, age, dialect = _labelled(path, gender, age, region, bins, dialect_group)
        if not str(speaker).strip():
            raise ValueError(f"{path}: no speaker id (looked for {SPEAKER_ID_KEYS} / recorderId)")
        stems = [path.stem, Path(str(file_name)).stem]
        wav = next((audio[s] for s in stems if s in audio), None)
        if wav is None:
            if not skip_missing:
                raise FileNotFoundError(f"{path}: no audio file with stem {stems[0]!r} "
                                        f"({'/'.join(AUDIO_SUFFIXES)}) under {root}")
            missing.append(path)
            continue
        rows.append(_row(wav, speaker, gender, age, dialect, "", "aihub", str(text).strip(), duration_s))
    if missing:
        warnings.warn(f"aihub: skipped {len(missing)} label files without audio, e.g. {missing[0]}")
    return rows


# ---------------------------------------------------------------- 3. Common Voice
CV_TABLES = {"train.tsv": "train", "dev.tsv": "val", "test.tsv": "test"}  # official split -> our split


def _read_tsv(path):
    with open(path, encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE)  # sentences contain quotes
        table, columns = list(reader), reader.fieldnames or []
    accent = "accents" if "accents" in columns else "accent"  # renamed in Common Voice 8
    for column in ("client_id", "path", "age", "gender", accent):
        if column not in columns:
            raise ValueError(f"{path}: missing column {column!r} (found {list(columns)})")
    return table, accent


def commonvoice_rows(root, bins=DECADES, use_official_splits=True, skip_missing=False):
    """Rows of a Common Voice language folder: train/dev/test.tsv (splits train/val/test) when present and
    use_official_splits, else validated.tsv (splits left empty). Audio: clips/<path> (MP3; soundfile reads
    it). Blank age/gender/accents cells -> unknown labels. dialect = the accents cell as written."""
    root = Path(root)
    tables = [(root / name, split) for name, split in CV_TABLES.items() if (root / name).is_file()]
    if not (use_official_splits and tables):
        tables = [(root / "validated.tsv", "")]
    if not tables[0][0].is_file():
        raise FileNotFoundError(f"{root}: no validated.tsv or train/dev/test.tsv (is this a Common Voice folder?)")
    rows, missing = [], []
    for tsv, split in tables:
        table, accent = _read_tsv(tsv)
        for line, rec in enumerate(table, start=2):  # line 1 is the header
            gender, age, dialect = _labelled(f"{tsv} line {line}", rec["gender"], rec["age"],
                                             rec[accent], bins, lambda s: (s or "").strip())
            clip = root / "clips" / rec["path"]
            if not clip.is_file():
                if not skip_missing:
                    raise FileNotFoundError(f"{tsv} line {line}: audio {clip} not found")
                missing.append(clip)
                continue
            rows.append(_row(clip, rec["client_id"], gender, age, dialect, split, "commonvoice",
                             rec.get("sentence", "")))
    if missing:
        warnings.warn(f"commonvoice: skipped {len(missing)} rows without audio, e.g. {missing[0]}")
    return rows


# ---------------------------------------------------------------- 4. TIMIT
SPEAKER_DIR = re.compile(r"(?:dr\d-)?([fm])([a-z]{3}\d)", re.IGNORECASE)  # FVMH0 (LDC) or dr1-fvmh0 (NLTK)


def _timit_age(rec_date, birth_date):
    """Whole years between two MM/DD/YY dates of the 1900s ("??" anywhere -> None)."""
    try:
        rm, rd, ry = (int(x) for x in rec_date.split("/"))
        bm, bd, by = (int(x) for x in birth_date.split("/"))
    except ValueError:
        return None
    return (ry - by) - ((rm, rd) < (bm, bd))  # one year less if the birthday was not yet reached


def read_spkrinfo(path):
    """{speaker "FVMH0" (sex letter + ID): dict(sex, dr, use, age)} from TIMIT's spkrinfo.txt."""
    speakers = {}
    for line in Path(path).read_text(encoding="latin-1").splitlines():
        if line.startswith(";") or not line.strip():  # ';' lines are comments
            continue
        spk_id, sex, dr, use, rec_date, birth_date = line.split()[:6]
        speakers[sex.upper() + spk_id.upper()] = dict(
            sex=sex.upper(), dr=dr, use=use.upper(), age=_timit_age(rec_date, birth_date))
    return speakers


def _timit_val_speakers(train_speakers, sexes, seed, val_fraction):
    """Seeded choice of round(val_fraction * n) training speakers per sex (>= 1 when a sex has >= 2)."""
    rng = np.random.default_rng(seed)
    chosen = set()
    for sex in sorted(set(sexes.values())):
        group = sorted(s for s in train_speakers if sexes[s] == sex)
        n_val = int(round(val_fraction * len(group)))
        n_val = max(n_val, 1) if val_fraction > 0 and len(group) >= 2 else n_val
        chosen.update(rng.permutation(group)[:n_val].tolist())
    return chosen


def timit_rows(root, seed=0, val_fraction=0.1, bins=DECADES):
    """Rows of TIMIT in the LDC layout (TRAIN|TEST/DR1/FVMH0/SA1.WAV, NIST SPHERE) or the NLTK sample layout
    (dr1-fvmh0/sa1.wav). Labels from spkrinfo.txt: gender <- Sex, age <- RecDate - BirthDate then
    age_group, dialect <- DR via TIMIT_DIALECTS, split <- Use (TRN -> train, TST -> test), and
    val_fraction of the training speakers of each sex -> val (seeded). Audio files found twice under one
    utterance name (SA1.WAV and a converted SA1.WAV.wav) count once: the first in sorted order."""
    root = Path(root)
    info_files = sorted(p for p in root.rglob("*") if p.name.lower() == "spkrinfo.txt")
    if not info_files:
        raise FileNotFoundError(f"{root}: no spkrinfo.txt (TIMIT keeps it in DOC/ or at the top)")
    speakers = read_spkrinfo(info_files[0])
    clips = {}  # (speaker, utterance) -> path
    for path in sorted(root.rglob("*")):
        m = SPEAKER_DIR.fullmatch(path.parent.name)
        if m and path.name.lower().endswith(".wav") and path.is_file():
            clips.setdefault((m[1].upper() + m[2].upper(), path.name.split(".")[0].lower()), path)
    if not clips:
        raise FileNotFoundError(f"{root}: no speaker folders with .wav files (e.g. dr1-fvmh0/ or DR1/FVMH0/)")
    unknown = sorted({spk for spk, _ in clips} - set(speakers))
    if unknown:
        raise ValueError(f"{info_files[0]}: speakers {unknown} have audio but no spkrinfo line")
    used = {spk for spk, _ in clips}
    train = [s for s in used if speakers[s]["use"] == "TRN"]
    val = _timit_val_speakers(train, {s: speakers[s]["sex"] for s in used}, seed, val_fraction)
    rows = []
    for (spk, utt), path in sorted(clips.items()):
        info = speakers[spk]
        age = "" if info["age"] is None else info["age"]
        gender, age, dialect = _labelled(info_files[0], info["sex"], age, info["dr"], bins, timit_dialect)
        split = "val" if spk in val else {"TRN": "train", "TST": "test"}.get(info["use"], "")
        txt = path.with_name(path.name.split(".")[0] + ".txt")  # "0 46797 She had your dark suit..."
        text = " ".join(txt.read_text().split()[2:]) if txt.is_file() else ""
        rows.append(_row(path, spk, gender, age, dialect, split, "timit", text))
    return rows
