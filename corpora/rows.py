"""Corpus adapters' shared row format: one manifest row, labels normalised with one error line, validation
speakers drawn for corpora that ship only train and test.

Every adapter (aihub.py, kaldi.py, commonvoice.py, timit.py) builds its rows with `make_row`.
Every adapter returns a list of row dicts with the manifest columns `path, speaker, gender, age, dialect,
split` (strings; "" = unknown label / split not yet assigned) plus the extras `source`, `text`, `duration_s`
(seconds), `age_years` (the age as a number, when the corpus gives one) and any corpus-specific columns
(TIMIT: `education`). Each adapter only finds a corpus's label fields; labels.py normalises their spellings.
A row that is an utterance cut from a longer recording also has `start_s`, `end_s` (seconds; "" end = to the
file's end); check_segments leaves out the segments shorter than MIN_SEGMENT_S or outside their file.
Every text file is read with corpora/text.read_text (UTF-8, UTF-16 with a BOM, CP949 with a warning).
Bad input raises ValueError / FileNotFoundError naming the file, the value and what was expected.
corpora/cli.py writes the manifest and assigns the missing splits.

Test: python -m pytest tests/test_corpora.py
"""
import warnings
from collections import Counter

from corpora.labels import age_group, age_years, normalise_gender
from data import MIN_CLIP_S, AudioError, assign_splits, audio_info, segment, validation_fraction

# Seconds: the shortest utterance segment the adapters keep by default (--min-segment-s). data.MIN_CLIP_S (0.1 s)
# is the floor below which a clip is no voice at all; dialogue corpora are full of 0.1-0.5 s backchannels
# ("응", "네") that carry a few frames of one vowel and, padded to the 4 s window, teach little but noise.
MIN_SEGMENT_S = 0.5
SPAN_SLACK_S = 0.01  # seconds: a segment may end this far past its file's end (data.load_audio allows 10 ms)


# ---------------------------------------------------------------- 1. one manifest row
def make_row(path, speaker, gender, age, dialect, split="", source="", text="", duration_s="", start_s=None,
             end_s=None, **extra):
    """One manifest row: the six manifest columns, then source, text, duration_s, the segment's start_s and
    end_s (seconds; only for a segment: both None = the whole file, end_s None = to its end) and any extras."""
    whole = start_s is None and end_s is None
    span = {} if whole else dict(start_s=seconds_cell(start_s or 0.0), end_s=seconds_cell(end_s))
    return dict(path=str(path), speaker=str(speaker), gender=gender, age=age, dialect=dialect, split=split,
                source=source, text=text, duration_s=str(duration_s), **span, **extra)


def seconds_cell(value):
    """Seconds as a manifest cell, to the microsecond (finer than one sample at 16 kHz, 62.5 us): 1.5 -> "1.5",
    2.0 -> "2", 0.1 + 0.2 -> "0.3", None -> "" (to the file's end)."""
    return "" if value is None else f"{value:.6f}".rstrip("0").rstrip(".")


def labelled(where, gender, age, region, bins, region_fn):
    """Normalise one file's labels -> (gender, age group, age_years, dialect); errors name `where`."""
    try:
        return normalise_gender(gender), age_group(age, bins), age_years(age), region_fn(region)
    except ValueError as e:
        raise ValueError(f"{where}: {e}") from None


# ---------------------------------------------------------------- 2. utterance segments
def check_min_segment(min_s):
    """ValueError unless min_s (seconds) is at least data.MIN_CLIP_S: shorter clips are no voice at all."""
    if not min_s >= MIN_CLIP_S:  # "not >=" also refuses nan
        raise ValueError(f"--min-segment-s {min_s}: segments shorter than data.MIN_CLIP_S = {MIN_CLIP_S} s "
                         "are no voice; choose at least that")


def check_segments(rows, source, min_s=MIN_SEGMENT_S):
    """The rows to keep: whole files, and segments at least min_s seconds long that lie inside their audio
    file (its length from the header, data.audio_info, read once per file). Too short and past the end are left
    out, each kind counted in one warning line naming `source` and the first case. A file whose header cannot
    be read keeps its segments unchecked (training reports it, or skips it with --skip-bad)."""
    check_min_segment(min_s)
    lengths, kept, dropped, first = {}, [], Counter(), {}
    for row in rows:
        start, end = segment(row)
        if start is None and end is None:
            kept.append(row)
            continue
        if row["path"] not in lengths:
            try:
                rate, frames, _ = audio_info(row["path"])
                lengths[row["path"]] = frames / rate
            except AudioError:
                lengths[row["path"]] = None
        length = lengths[row["path"]]
        start, end = start or 0.0, end if end is not None else length
        if length is not None and (end > length + SPAN_SLACK_S or start >= length):
            kind = "that end past their audio file's end"
        elif end is not None and end - start < min_s:  # end None: to the end of an unreadable file
            kind = f"shorter than {min_s:g} s"
        else:
            kind = None
        if kind is None:
            kept.append(row)
            continue
        dropped[kind] += 1
        file_s = f" (the file: {length:.3f} s)" if length is not None else ""
        first.setdefault(kind, f"{row['path']} {start:.3f}-{end:.3f} s{file_s}")
    n_segments = len(rows) - sum(1 for row in rows if segment(row) == (None, None))
    for kind, n in dropped.items():
        warnings.warn(f"{source}: skipped {n} of {n_segments} segments {kind}, e.g. {first[kind]}", stacklevel=2)
    return kept


# ---------------------------------------------------------------- 3. validation speakers
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
