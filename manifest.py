"""Data floor: the manifest -- one CSV row per clip -- its speaker-disjoint splits, and label vocabularies.

Every corpus becomes one CSV manifest with the columns `path, speaker, gender, age, dialect, split` (extra
columns are kept, and any column can be a task). An empty label cell means "unknown": it is encoded as -1 and
masked out of that task's loss, never guessed and never dropped. Splits are assigned by speaker, so no voice is
heard in training and in test. A speaker's labels are made consistent across its clips by majority vote
(resolve_speaker_conflicts). `path` may name a zip member, "ARCHIVE.zip::MEMBER" (archive.py); only the
archive part is made relative or absolute.

    from manifest import read_manifest, write_manifest
    rows = read_manifest("timit.csv")       # [{"path": "/abs/x.wav", "speaker": "FVMH0", ...}, ...]
    python -m pytest tests/test_manifest.py
"""
import csv
import io
import math
import re
import warnings
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np

from archive import join_member, split_member
from files import PATH_MAX, atomic_write, read_text
from labels import shown

TASKS = ("age", "gender", "dialect")  # the usual tasks, in the order tables print them
COLUMNS = ("path", "speaker", "gender", "age", "dialect", "split")  # what write_manifest writes first
REQUIRED = ("path", "speaker")  # what a manifest must have; a missing label or split column reads as all empty
SPLITS = ("train", "val", "test")
NUMERIC_TASKS = ("age_years",)  # columns predicted as numbers (regression, scored by MAE), not classes
PER_CLIP_COLUMNS = ("path", "speaker", "split", "source", "text", "duration_s", "age_years")  # never voted on


# ---------------------------------------------------------------- 1. reading and writing
def _absolute(cell, folder):
    """A manifest path cell as an absolute path (a zip member: its archive part), resolved against `folder`."""
    member = split_member(cell)
    if member:
        return join_member((folder / member[0]).resolve(), member[1])
    return str((folder / cell).resolve())


def _relative(path, folder):
    """An absolute path (a zip member: its archive part) relative to `folder` when inside it, else absolute."""
    member = split_member(path)
    audio = Path(member[0] if member else path).resolve()
    written = str(audio.relative_to(folder)) if audio.is_relative_to(folder) else str(audio)
    return join_member(written, member[1]) if member else written


def read_manifest(path, seed=0):
    """Read a manifest CSV into a list of row dicts (all values str; `path` made absolute).

    Relative audio paths are resolved against the manifest's folder (a zip member's archive part likewise).
    A speaker whose labels differ between clips is resolved by majority vote with a one-line warning
    (resolve_speaker_conflicts). Empty split cells are filled by assign_splits(rows, seed=seed):
    speaker-disjoint and the same for the same seed (train.py and evaluate.py pass the run's --seed, so both
    see the same splits). A manifest needs only `path` and `speaker`: an absent label or split column reads as
    all empty. Raises FileNotFoundError if the file is missing and ValueError, naming the file,
    for a missing path or speaker column, an empty manifest, an empty path/speaker cell, a split value other than
    train/val/test/empty (with the line number), an unreadable line, or a speaker in two splits.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: manifest not found")
    with io.StringIO(read_text(path), newline="") as f:  # UTF-8 with or without a BOM, or CP949 with a warning
        reader = csv.DictReader(f)
        try:
            rows = _read_rows(reader, path)
        except csv.Error as err:  # a cell longer than csv.field_size_limit(), a stray quote in strict mode
            raise ValueError(f"{path}: line {reader.line_num + 1}: unreadable CSV ({err})") from None
    if not rows:
        raise ValueError(f"{path}: manifest has no rows")
    check_speaker_disjoint(rows, path)
    rows = resolve_speaker_conflicts(rows, path)
    if any(not row["split"] for row in rows):  # empty split cells: assigned by speaker, the same for a seed
        rows = assign_splits(rows, seed=seed)
    return rows


def _read_rows(reader, path):
    """The checked rows of a csv.DictReader over a manifest (see read_manifest)."""
    missing = [c for c in REQUIRED if c not in (reader.fieldnames or [])]
    if missing:
        raise ValueError(f"{path}: missing column(s) {', '.join(missing)}; expected at least {', '.join(REQUIRED)} "
                         f"(usually {', '.join(COLUMNS)})")
    absent = dict.fromkeys(c for c in COLUMNS if c not in reader.fieldnames)  # e.g. no dialect: all unknown
    rows = []
    for row in reader:
        row = {**{c: "" for c in absent}, **{k: (v or "").strip() for k, v in row.items() if k is not None}}
        where = f"{path}: line {reader.line_num}"
        if row["split"] not in SPLITS + ("",):
            raise ValueError(f"{where}: split {shown(row['split'])} is not one of train, val, test or empty")
        if not row["path"] or not row["speaker"]:
            raise ValueError(f"{where}: empty {'path' if not row['path'] else 'speaker'} cell")
        if "\x00" in row["path"] or len(row["path"]) > PATH_MAX:
            problem = "a NUL character" if "\x00" in row["path"] else f"{len(row['path'])} characters (> {PATH_MAX})"
            raise ValueError(f"{where}: the path cell holds {problem}; it cannot name a file")
        row["path"] = _absolute(row["path"], path.parent)
        rows.append(row)
    return rows


def check_speaker_disjoint(rows, source="manifest"):
    """Raise ValueError (naming `source`, the speaker and the splits) if a speaker has rows in two splits."""
    splits_of = defaultdict(set)
    for row in rows:
        if row.get("split"):
            splits_of[row["speaker"]].add(row["split"])
    for speaker, splits in splits_of.items():
        if len(splits) > 1:
            raise ValueError(f"{source}: speaker {speaker!r} appears in splits {' and '.join(sorted(splits))}; "
                             "splits must be speaker-disjoint")


def write_manifest(rows, path):
    """Write rows to a manifest CSV atomically (a temporary file in the same folder, then os.replace).

    Audio paths inside the manifest's folder are written relative to it, so a corpus folder can be moved;
    any other path is written absolute (read_manifest resolves relative paths against the manifest's folder).
    A zip member is written as ARCHIVE::MEMBER with only the archive part made relative.
    """
    path = Path(path)
    extras = [k for k in dict.fromkeys(k for row in rows for k in row) if k not in COLUMNS]
    folder = path.parent.resolve()
    text = io.StringIO(newline="")
    writer = csv.DictWriter(text, fieldnames=list(COLUMNS) + extras, restval="")
    writer.writeheader()
    for row in rows:
        writer.writerow({**row, "path": _relative(row["path"], folder)})
    atomic_write(path, lambda f: f.write(text.getvalue().encode("utf-8")))  # old file or new, never half



# ---------------------------------------------------------------- 2. one speaker, one set of labels
def _is_number(text):
    try:
        return math.isfinite(float(text))
    except ValueError:
        return False


def speaker_columns(rows):
    """The columns that describe a speaker rather than a clip: the TASKS always; any other column outside
    PER_CLIP_COLUMNS whose known values are not all numbers and on which at least half of the speakers with
    two or more labelled clips agree. A per-clip label (an emotion, a recording place) varies within most
    speakers, so it is left alone; so are numbers (age_years, durations)."""
    chosen = []
    for column in dict.fromkeys(k for row in rows for k in row):
        if column in PER_CLIP_COLUMNS:
            continue
        values = defaultdict(list)  # speaker -> known values
        for row in rows:
            if row.get(column, ""):
                values[row["speaker"]].append(row[column])
        known = [v for vs in values.values() for v in vs]
        if column not in TASKS and (not known or all(_is_number(v) for v in known)):
            continue
        several = [vs for vs in values.values() if len(vs) >= 2]
        if column in TASKS or 2 * sum(len(set(vs)) == 1 for vs in several) >= len(several):
            chosen.append(column)
    return chosen


def resolve_speaker_conflicts(rows, source="manifest", columns=None):
    """One value per speaker for every speaker-level column; returns new row dicts.

    Policy: for each speaker and column (default: speaker_columns(rows), i.e. gender, age, dialect and
    other categorical columns that describe speakers), the value written on most of the speaker's clips
    wins, counting only known (non-empty) cells; a tie between the most frequent values gives "" (unknown),
    so nothing is guessed. The winner is written on every clip of the speaker, so an unknown cell next to
    known ones is filled too. Numbers per clip (age_years) are left as they are. One warning line names the
    count of speakers with conflicting labels and the first three with their counts, e.g.
        m.csv: 2 speakers with conflicting labels, resolved by majority vote (a tie -> unknown):
        speaker 'F01': gender male 12 / female 1 -> male; ...
    (printed as one line).
    """
    columns = speaker_columns(rows) if columns is None else columns
    rows = [dict(row) for row in rows]
    by_speaker = defaultdict(list)
    for row in rows:
        by_speaker[row["speaker"]].append(row)
    notes, conflicted, filled = [], set(), 0
    for speaker, clips in by_speaker.items():
        for column in columns:
            counts = Counter(r.get(column, "") for r in clips if r.get(column, ""))
            if not counts:
                continue
            ranked = counts.most_common()
            winner = ranked[0][0] if len(ranked) == 1 or ranked[0][1] > ranked[1][1] else ""
            if len(counts) > 1:
                conflicted.add(speaker)
                tally = " / ".join(f"{value} {n}" for value, n in ranked)
                notes.append(f"speaker {shown(speaker, 40)}: {column} {tally} -> {winner or '(unknown)'}")
            filled += sum(1 for r in clips if not r.get(column, "") and winner)
            for r in clips:
                r[column] = winner
    if conflicted or filled:
        shown_notes = "; ".join(notes[:3]) + ("; ..." if len(notes) > 3 else "")
        fills = f"{filled} unknown cells filled from the speaker's other clips" if filled else ""
        warnings.warn(f"{source}: {len(conflicted)} speakers with conflicting labels, resolved by majority vote "
                      f"(a tie -> unknown){': ' + shown_notes if notes else ''}{'; ' if notes and fills else ''}"
                      f"{fills}", stacklevel=2)
    return rows


# ---------------------------------------------------------------- 3. speaker-disjoint splits
MIN_VAL_SPEAKERS = 25  # validation speakers wanted: with 12, one speaker moves validation accuracy by 0.08


def validation_fraction(n_speakers):
    """Share of speakers to hold out for validation: 10 %, raised towards MIN_VAL_SPEAKERS speakers on small
    corpora, but never above 20 % (model selection needs voices; training needs them more)."""
    return max(0.1, min(MIN_VAL_SPEAKERS / max(n_speakers, 1), 0.2))


def assign_splits(rows, fractions=None, seed=0):
    """Fill empty `split` cells by speaker; return new row dicts (pre-set splits, e.g. TIMIT's, are kept).

    Stratified on each task's own labels, not on their (gender, age, dialect) combination: the built-in
    corpus has 60 combinations and only 24 validation speakers, and dealing out whole combinations dropped
    entire dialects from validation. Instead (a simplified "iterative stratification", Sechidis et al. 2011) the speakers are
    taken in a seeded random order and each goes to the split that is furthest behind its quota,
        need(s) = sum over the speaker's known labels (t, v) of  [f_s * n(t, v) - have_s(t, v)]
                  + [f_s * n - have_s],
    where n(t, v) counts the speakers with label v for task t and f_s is split s's fraction. A split that
    already holds ceil(f_s * n) speakers takes no more, so the split sizes are exact to one speaker.
    `fractions` = (train, val, test); default: validation_fraction(speakers to assign) for val, 0.1 for test.
    """
    if fractions is None:
        val = validation_fraction(len({row["speaker"] for row in rows if not row.get("split")}))
        fractions = (0.9 - val, val, 0.1)
    if len(fractions) != 3 or min(fractions) < 0 or not math.isclose(sum(fractions), 1.0, abs_tol=1e-6):
        raise ValueError(f"split fractions {fractions} must be three non-negative numbers summing to 1")
    rows = [dict(row) for row in rows]
    check_speaker_disjoint(rows, "assign_splits")
    split_of = {row["speaker"]: row["split"] for row in rows if row.get("split")}  # pre-set splits stay
    labels = {row["speaker"]: [(t, row.get(t, "")) for t in TASKS if row.get(t, "")] for row in rows}  # last row wins
    todo = sorted(s for s in labels if s not in split_of)
    todo = [todo[i] for i in np.random.default_rng(seed).permutation(len(todo))]
    f = np.asarray(fractions, dtype=np.float64)  # (3,)
    target = {key: f * n for key, n in Counter(key for s in todo for key in labels[s]).items()}  # (t, v) -> (3,)
    have = defaultdict(lambda: np.zeros(3))  # (t, v) -> speakers per split so far
    cap, count = np.ceil(f * len(todo) - 1e-9), np.zeros(3)  # most speakers each split may take; taken so far
    for k, speaker in enumerate(todo):
        need = f * (k + 1) - count  # (3,) how far each split is behind on speakers
        for key in labels[speaker]:
            need = need + target[key] - have[key]  # ... and on this speaker's labels
        need[(count >= cap) | (f == 0)] = -np.inf  # full splits, and splits nobody asked for, take no one
        choice = int(np.argmax(need))
        count[choice] += 1
        for key in labels[speaker]:
            have[key][choice] += 1
        split_of[speaker] = SPLITS[choice]
    for row in rows:
        row["split"] = split_of[row["speaker"]]
    return rows



def speaker_folds(rows, k=5, seed=0):
    """k speaker-disjoint folds over the training and validation speakers, for cross-validation -> k row lists
    (the test rows left out): in fold i its speakers' rows are "val", every other speaker's "train".

    Stratified on each speaker's (age, gender, dialect) labels: the speakers of each combination, in a seeded
    random order, are dealt round-robin with one counter over all combinations, so each fold gets about a k-th of
    every combination and the folds differ in size by at most one speaker.
    """
    labels = {r["speaker"]: tuple(r.get(t, "") for t in TASKS) for r in rows if r["split"] in ("train", "val")}
    if len(labels) < k:
        raise ValueError(f"{k} folds need at least {k} training and validation speakers, found {len(labels)}")
    groups = defaultdict(list)  # label combination -> speakers
    for speaker, key in sorted(labels.items()):
        groups[key].append(speaker)
    rng, fold_of = np.random.default_rng(seed), {}
    for key in sorted(groups):
        for speaker in rng.permutation(groups[key]):
            fold_of[str(speaker)] = len(fold_of) % k
    return [[dict(r, split="val" if fold_of[r["speaker"]] == i else "train") for r in rows if r["speaker"] in fold_of]
            for i in range(k)]


# ---------------------------------------------------------------- 4. labels
def label_order(label):
    """Sort key for class names: numbers inside a label by value ("5s" < "20s" < "100s"), unknown ("") last."""
    return (label == "", [(0, int(part), "") if part.isdigit() else (1, 0, part)
                          for part in re.split(r"(\d+)", label) if part])


def default_tasks(rows):
    """The tasks to train when none are named: those of TASKS and NUMERIC_TASKS that some training row and
    some validation row label (speechocean762: age, gender, age_years; the built-in corpus: age, gender, dialect)."""
    labelled = [t for t in TASKS + NUMERIC_TASKS
                if all(any(r.get(t) for r in rows if r["split"] == s) for s in ("train", "val"))]
    if not labelled:
        raise ValueError(f"no clip of the train and val splits has a {', '.join(TASKS + NUMERIC_TASKS)} label; "
                         "name the columns to predict with --tasks")
    return labelled


def build_vocabs(rows, tasks=TASKS):
    """{task: sorted list of the class names seen in rows} (empty cells = unknown, not a class); None for a
    numeric task (NUMERIC_TASKS), which is predicted as a number."""
    return {t: None if t in NUMERIC_TASKS else sorted({row[t] for row in rows if row.get(t)}, key=label_order)
            for t in tasks}


def encode_labels(rows, vocabs, tasks=None):
    """Labels of many rows -> float32 (n_rows, n_tasks): a class index, or the number itself for a numeric task
    (vocab None); NaN where the label is unknown (empty cell).

    `tasks` defaults to the vocabs' order. A class missing from its vocab (e.g. a label never seen in training)
    or a numeric cell that is not a finite number raises ValueError naming the value, the task and the file.
    """
    tasks = list(vocabs) if tasks is None else list(tasks)
    index = {t: None if vocabs[t] is None else {name: k for k, name in enumerate(vocabs[t])} for t in tasks}
    codes = np.full((len(rows), len(tasks)), np.nan, dtype=np.float32)
    for r, row in enumerate(rows):
        for i, task in enumerate(tasks):
            value = row.get(task, "")
            if not value:
                continue
            if index[task] is None:
                try:
                    number = float(value)
                except ValueError:
                    number = math.nan
                if not math.isfinite(number):
                    raise ValueError(f"{row['path']}: {task} value {value!r} is not a finite number")
                codes[r, i] = number
            elif value in index[task]:
                codes[r, i] = index[task][value]
            else:
                raise ValueError(f"{row['path']}: {task} label {value!r} is not in the vocabulary "
                                 f"{vocabs[task]} (the run's label vocabulary)")
    return codes


def split_summary(rows):
    """One line: clips and speakers per split, e.g. "1200 clips, 240 speakers (train 192 / val 24 / test 24)"."""
    speakers = {s: {r["speaker"] for r in rows if r["split"] == s} for s in SPLITS}
    per_split = " / ".join(f"{s} {len(speakers[s])}" for s in SPLITS)
    return f"{len(rows)} clips, {len({r['speaker'] for r in rows})} speakers ({per_split} speakers)"
