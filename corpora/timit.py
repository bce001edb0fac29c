"""The TIMIT adapter: the LDC layout (TRAIN|TEST/DR1/FVMH0/SA1.WAV) or NLTK's sample (dr1-fvmh0/sa1.wav) with
spkrinfo.txt -> manifest rows: gender, age (and age_years), the eight dialect regions, education.

    python -m corpora timit --root timit/ --out timit.csv
    python -m pytest tests/test_corpora.py
"""
import re
from pathlib import Path

from corpora.labels import DECADES, shown, timit_dialect, timit_education
from corpora.rows import draw_validation, labelled, make_row
from corpora.text import read_text


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
