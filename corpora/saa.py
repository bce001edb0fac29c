"""The Speech Accent Archive adapter: `speakers_all.csv` (age, sex, native_language, birthplace, filename, ...)
beside one MP3 per speaker reading the same paragraph ("Please call Stella...") -> manifest rows.

Weinberger (2015), accent.gmu.edu, CC BY-NC-SA 2.0; a 595-speaker subset in `gabillogical/whisper_project` (MP3s
at the top and under folder1/). Home and field recordings, 44.1 kHz, about 25 s each, ages 7 to 81. The accent
task is `dialect` = the speaker's first language for the ACCENTS most common in the subset (the rest unlabelled,
not dropped: they still train gender and age); every first language is kept in `native_language`.

    python -m corpora saa --root whisper_project/ --out saa.csv --age-bins child:0-12,teen:13-17,adult:18-59,senior:60-
    python -m pytest tests/test_corpora.py
"""
import csv
import io
from pathlib import Path

from corpora.labels import DECADES, clean_value
from corpora.rows import labelled, make_row
from corpora.text import read_text

ACCENTS = ("english", "arabic", "dutch", "cantonese", "amharic", "bulgarian")  # 264, 102, 47, 23, 20, 18 speakers
COLUMNS = ("age", "sex", "native_language", "filename", "speakerid")


def saa_rows(root, bins=DECADES):
    """Rows of a Speech Accent Archive folder: every speakers_all.csv line whose <filename>.mp3 is under root
    (lines of missing files are left out: the table lists 2,138 speakers, a subset ships fewer MP3s)."""
    root = Path(root)
    table_path = next(iter(sorted(root.rglob("speakers_all.csv"))), None)
    if table_path is None:
        raise FileNotFoundError(f"{root}: no speakers_all.csv (is this a Speech Accent Archive folder?)")
    audio = {p.stem: p for p in sorted(root.rglob("*.mp3"))}
    reader = csv.DictReader(io.StringIO(read_text(table_path), newline=""))
    missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        raise ValueError(f"{table_path}: missing column(s) {', '.join(missing)}")
    rows = []
    for line, rec in enumerate(reader, start=2):
        path = audio.get((rec["filename"] or "").strip())
        if path is None:
            continue
        language = clean_value(rec["native_language"]) or ""
        gender, age, years, _ = labelled(f"{table_path} line {line}", rec["sex"], rec["age"], "", bins, lambda v: "")
        rows.append(make_row(path, f"saa{clean_value(rec['speakerid'])}", gender, age,
                             language if language in ACCENTS else "", source="saa", age_years=years,
                             native_language=language, birthplace=clean_value(rec.get("birthplace", "")) or ""))
    return rows
