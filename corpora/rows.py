"""Corpus adapters' shared row format: one manifest row, labels normalised with one error line, validation
speakers drawn for corpora that ship only train and test.

Every adapter (aihub.py, kaldi.py, commonvoice.py, timit.py) builds its rows with `make_row`.
Every adapter returns a list of row dicts with the manifest columns `path, speaker, gender, age, dialect,
split` (strings; "" = unknown label / split not yet assigned) plus the extras `source`, `text`, `duration_s`
(seconds), `age_years` (the age as a number, when the corpus gives one) and any corpus-specific columns
(TIMIT: `education`). Each adapter only finds a corpus's label fields; labels.py normalises their spellings.
Every text file is read with corpora/text.read_text (UTF-8, UTF-16 with a BOM, CP949 with a warning).
Bad input raises ValueError / FileNotFoundError naming the file, the value and what was expected.
corpora/cli.py writes the manifest and assigns the missing splits.

Test: python -m pytest tests/test_corpora.py
"""
from corpora.labels import age_group, age_years, normalise_gender
from data import assign_splits, validation_fraction


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
    stratified on their labels as data.assign_splits stratifies, seeded. The share defaults to
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
