"""The Common Voice adapter: a release's language folder (train/dev/test.tsv or validated.tsv + clips/*.mp3), or
the release folder holding one folder per language, -> manifest rows, with Common Voice's age bands ("twenties")
and gender spellings ("male_masculine"), the language and its family (corpora/languages.py).

Ages: Common Voice asks for a band, not a number (labels.CV_AGES: teens = under 19, read as 13-18; twenties = 19-29;
thirties = 30-39; ...; nineties = over 89, read as 90-99). `age` is the --age-bins bin holding most of the band's
years (teens with child:0-12,teen:13-17,adult:18- -> teen); `age_years` is the band's midpoint (teens 16, twenties
24.5, thirties 35, ..., nineties 95), so that `merge --age-bins` can place every row and a regression head has a
target; a midpoint is 2.5 years off on average (a uniform spread over ten years: sd 2.9), a floor under any MAE
measured on Common Voice.

    python -m corpora commonvoice --root cv-corpus-6.1-2020-12-11/ --out cv.csv    # every language folder
    python -m pytest tests/test_corpora.py
"""
import csv
import io
import warnings
from pathlib import Path

from corpora.labels import DECADES, clean_value, cv_age_years, shown
from corpora.languages import language_family
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


def is_language_folder(folder):
    """True when `folder` holds a Common Voice table (validated.tsv or train/dev/test.tsv)."""
    return any((Path(folder) / name).is_file() for name in ("validated.tsv", *CV_TABLES))


def commonvoice_rows(root, bins=DECADES, use_official_splits=True, skip_missing=False):
    """Rows of a Common Voice language folder, or of a release folder whose subfolders are language folders
    (every one read, in name order). Per language folder: train/dev/test.tsv (splits train/val/test) when present
    and use_official_splits, else validated.tsv (splits left empty); audio clips/<path> (MP3; soundfile reads it).
    Blank age/gender/accents cells -> unknown labels; age_years = the age band's midpoint (labels.cv_age_years).
    `language` = the TSV's locale cell, else the folder's name; `language_family` from corpora/languages.py.
    dialect = the accents cell as written; reading several languages, prefixed with the language ("eu:mendebalekoa",
    "en:other"), since two languages may give one word two meanings. A speaker (client_id) who recorded in several
    languages stays one speaker. One warning line lists language codes without a family."""
    root = Path(root)
    if is_language_folder(root):
        folders = [root]
    else:  # a release folder: one folder per language
        folders = sorted(d for d in root.glob("*") if d.is_dir() and is_language_folder(d))
    if not folders:
        raise FileNotFoundError(f"{root}: no validated.tsv or train/dev/test.tsv, here or in a language folder "
                                "below (is this a Common Voice folder?)")
    rows, missing = [], []
    for folder in folders:
        rows += _language_rows(folder, bins, use_official_splits, skip_missing, missing, several=len(folders) > 1)
    if missing:
        warnings.warn(f"commonvoice: skipped {len(missing)} rows without audio, e.g. {missing[0]}")
    no_family = sorted({r["language"] for r in rows if not r["language_family"]})
    if no_family:
        warnings.warn(f"commonvoice: no language family for {', '.join(no_family)} (corpora/languages.FAMILIES): "
                      "language_family left unknown")
    return rows


def _language_rows(root, bins, use_official_splits, skip_missing, missing, several):
    """Rows of one language folder (see commonvoice_rows); clips without audio are appended to `missing`."""
    tables = [(root / name, split) for name, split in CV_TABLES.items() if (root / name).is_file()]
    if not (use_official_splits and tables):
        tables = [(root / "validated.tsv", "")]
    if not tables[0][0].is_file():
        raise FileNotFoundError(f"{root}: no validated.tsv or train/dev/test.tsv (is this a Common Voice folder?)")
    rows = []
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
            language = clean_value(rec.get("locale", "")) or root.name
            if several and dialect:
                dialect = f"{language}:{dialect}"
            rows.append(make_row(clip, rec["client_id"].strip(), gender, age, dialect, split, "commonvoice",
                                 rec.get("sentence", ""), age_years=years or cv_age_years(rec["age"]),
                                 language=language, language_family=language_family(language)))
    return rows
