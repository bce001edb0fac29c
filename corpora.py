"""Data floor: corpus adapters -- the shared row format, Common Voice and TIMIT folders -> manifest rows.

AI Hub lives in aihub.py and Kaldi data directories in kaldi.py; all three build their rows with `make_row`.
Every adapter returns a list of row dicts with the manifest columns `path, speaker, gender, age, dialect,
split` (strings; "" = unknown label / split not yet assigned) plus the extras `source`, `text`, `duration_s`
(seconds), `age_years` (the age as a number, when the corpus gives one) and any corpus-specific columns
(TIMIT: `education`). Each adapter only finds a corpus's label fields; labels.py normalises their spellings.
Every text file is read with files.read_text (UTF-8, UTF-16 with a BOM, CP949 with a warning).
Bad input raises ValueError / FileNotFoundError naming the file, the value and what was expected.
data.py writes the manifest and assigns the missing splits; this module never imports data.py.

Test: python -m pytest tests/test_corpora.py
"""
import csv
import io
import re
import warnings
from pathlib import Path


from files import PATH_MAX, is_file, read_text
from manifest import assign_splits, validation_fraction
from labels import (DECADES, age_group, age_years, clean_value, normalise_gender, shown, timit_dialect,
                    timit_education)


# ---------------------------------------------------------------- 1. one manifest row
def make_row(path, speaker, gender, age, dialect, split="", source="", text="", duration_s="", **extra):
    """One manifest row: the six manifest columns, then source, text, duration_s and any extra columns."""
    return dict(path=str(path), speaker=str(speaker), gender=gender, age=age, dialect=dialect, split=split,
                source=source, text=text, duration_s=str(duration_s), **extra)


def labelled(where, gender, age, region, bins, region_fn):
    """Normalise one file's labels -> (gender, age group, age_years, dialect); errors name `where`."""
    try:
        return normalise_gender(gender), age_group(age, bins), age_years(age), region_fn(region)
    except ValueError as e:
        raise ValueError(f"{where}: {e}") from None


def draw_validation(rows, seed=0, val_fraction=None):
    """Move a share of the training speakers to "val", for corpora that ship only train and test (TIMIT, Kaldi):
    stratified on their labels as manifest.assign_splits stratifies, seeded. The share defaults to
    manifest.validation_fraction(training speakers): 10 %, raised towards 25 speakers, at most 20 %."""
    train = [row for row in rows if row["split"] == "train"]
    n = len({row["speaker"] for row in train})
    if n < 2:
        return rows
    share = validation_fraction(n) if val_fraction is None else val_fraction
    share = max(1, round(share * n)) / n  # at least one validation speaker
    drawn = assign_splits([dict(row, split="") for row in train], fractions=(1 - share, share, 0.0), seed=seed)
    val = {row["speaker"] for row in drawn if row["split"] == "val"}
    return [dict(row, split="val") if row["speaker"] in val else row for row in rows]


# ---------------------------------------------------------------- 2. Common Voice
CV_TABLES = {"train.tsv": "train", "dev.tsv": "val", "test.tsv": "test"}  # official split -> our split


def _read_tsv(path):
    """(rows as dicts, name of the accent column) of a Common Voice TSV; one-line errors name the file."""
    with io.StringIO(read_text(path), newline="") as f:
        reader = csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE)  # sentences contain quotes
        try:
            table, columns = list(reader), reader.fieldnames or []
        except csv.Error as err:  # e.g. a cell longer than csv.field_size_limit()
            raise ValueError(f"{path} line {reader.line_num + 1}: unreadable TSV ({err})") from None
    accent = "accents" if "accents" in columns else "accent"  # renamed in Common Voice 8
    for column in ("client_id", "path", "age", "gender", accent):
        if column not in columns:
            raise ValueError(f"{path}: missing column {column!r} (found {shown(list(columns), 200)})")
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
            rec = {k: v or "" for k, v in rec.items()}  # short lines leave None cells
            gender, age, years, dialect = labelled(f"{tsv} line {line}", rec["gender"], rec["age"],
                                                   rec[accent], bins, lambda s: clean_value(s) or "")
            if not rec["client_id"].strip() or not rec["path"].strip() or len(rec["path"]) > PATH_MAX:
                raise ValueError(f"{tsv} line {line}: empty client_id or path cell, or a path over {PATH_MAX} characters")
            clip = root / "clips" / rec["path"].strip()
            if not is_file(clip):
                if not skip_missing:
                    raise FileNotFoundError(f"{tsv} line {line}: audio {shown(str(clip), 200)} not found")
                missing.append(clip)
                continue
            rows.append(make_row(clip, rec["client_id"].strip(), gender, age, dialect, split, "commonvoice",
                                 rec.get("sentence", ""), age_years=years))
    if missing:
        warnings.warn(f"commonvoice: skipped {len(missing)} rows without audio, e.g. {missing[0]}")
    return rows


# ---------------------------------------------------------------- 3. TIMIT
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
    """{speaker "FVMH0" (sex letter + ID): dict(sex, dr, use, age, edu)} from TIMIT's spkrinfo.txt.

    Columns: ID Sex DR Use RecDate BirthDate Ht Race Edu [Comments]; age = RecDate - BirthDate in whole
    years (None when a date is "??"), edu = the Edu column ("" when absent).
    """
    speakers = {}
    for number, line in enumerate(read_text(path).splitlines(), start=1):
        if line.startswith(";") or not line.strip():  # ';' lines are comments
            continue
        fields = line.split()
        if len(fields) < 6 or fields[1].upper() not in ("M", "F"):
            raise ValueError(f"{path} line {number}: expected 'ID Sex DR Use RecDate BirthDate Ht Race Edu', "
                             f"got {shown(line)}")
        spk_id, sex, dr, use, rec_date, birth_date = fields[:6]
        speakers[sex.upper() + spk_id.upper()] = dict(
            sex=sex.upper(), dr=dr, use=use.upper(), age=_timit_age(rec_date, birth_date),
            edu=fields[8] if len(fields) > 8 else "", line=number)
    return speakers


def timit_rows(root, seed=0, val_fraction=None, bins=DECADES):
    """Rows of TIMIT in the LDC layout (TRAIN|TEST/DR1/FVMH0/SA1.WAV, NIST SPHERE) or the NLTK sample layout
    (dr1-fvmh0/sa1.wav). Labels from spkrinfo.txt: gender <- Sex, age <- RecDate - BirthDate then
    age_group (the years also in `age_years`), dialect <- DR via TIMIT_DIALECTS, education <- Edu (HS, AS,
    BS, MS, PHD; ?? -> unknown), split <- Use (TRN -> train, TST -> test), then validation speakers drawn
    from train (draw_validation). Audio files found twice under one utterance name (SA1.WAV and a
    converted SA1.WAV.wav) count once: the first in sorted order."""
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
    rows = []
    for (spk, utt), path in sorted(clips.items()):
        info = speakers[spk]
        where = f"{info_files[0]} line {info['line']}"
        gender, age, years, dialect = labelled(where, info["sex"], "" if info["age"] is None else info["age"],
                                               info["dr"], bins, timit_dialect)
        try:
            education = timit_education(info["edu"])
        except ValueError as e:
            raise ValueError(f"{where}: {e}") from None
        split = {"TRN": "train", "TST": "test"}.get(info["use"], "")
        txt = path.with_name(path.name.split(".")[0] + ".txt")  # "0 46797 She had your dark suit..."
        text = " ".join(read_text(txt).split()[2:]) if txt.is_file() else ""
        rows.append(make_row(path, spk, gender, age, dialect, split, "timit", text, age_years=years,
                             education=education))
    return draw_validation(rows, seed, val_fraction)
