"""The Common Voice adapter: a release's language folder (train/dev/test.tsv or validated.tsv + clips/*.mp3)
-> manifest rows, with Common Voice's age words ("twenties") and gender spellings ("male_masculine").

    python data.py commonvoice --root cv-corpus-ko/ --out cv.csv
    python -m pytest tests/test_corpora.py
"""
import csv
import io
import warnings
from pathlib import Path

from corpora.labels import DECADES, clean_value, shown
from corpora.rows import labelled, make_row
from corpora.text import PATH_MAX, is_file, read_text


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
