"""Speakers: one set of labels per speaker (majority vote), speakers dealt to splits stratified on their labels,
and k speaker-disjoint folds for cross-validation.

A corpus often labels every clip, so a speaker's clips can disagree (a typo, a re-labelled session). The core
calls resolve_speaker_conflicts (data.read_manifest) and stratified_splits (data.assign_splits) through this seam,
handing them its own column lists (this room imports nothing of the core); `python -m corpora folds` calls
speaker_folds.

    python -m pytest tests/test_manifest.py tests/test_data.py
"""
import math
import warnings
from collections import Counter, defaultdict

import numpy as np

def _is_number(text):
    try:
        return math.isfinite(float(text))
    except ValueError:
        return False


def speaker_columns(rows, per_clip, tasks):
    """The columns that describe a speaker rather than a clip: the `tasks` always (data.TASKS); any other column
    outside `per_clip` (data.PER_CLIP_COLUMNS) whose known values are not all numbers and on which at least half of
    the speakers with two or more labelled clips agree. Another per-clip label (a recording place) varies within
    most speakers, so it is left alone; so are numbers (age_years, durations)."""
    chosen = []
    for column in dict.fromkeys(k for row in rows for k in row):
        if column in per_clip:
            continue
        values = defaultdict(list)  # speaker -> known values
        for row in rows:
            if row.get(column, ""):
                values[row["speaker"]].append(row[column])
        known = [v for vs in values.values() for v in vs]
        if column not in tasks and (not known or all(_is_number(v) for v in known)):
            continue
        several = [vs for vs in values.values() if len(vs) >= 2]
        if column in tasks or 2 * sum(len(set(vs)) == 1 for vs in several) >= len(several):
            chosen.append(column)
    return chosen


def resolve_speaker_conflicts(rows, source, per_clip, tasks, columns=None):
    """One value per speaker for every speaker-level column; returns new row dicts.

    Policy: for each speaker and column (default: speaker_columns(rows, per_clip, tasks): gender, age, dialect and
    other categorical columns that describe speakers), the value written on most of the speaker's clips
    wins, counting only known (non-empty) cells; a tie between the most frequent values gives "" (unknown),
    so nothing is guessed. The winner is written on every clip of the speaker, so an unknown cell next to
    known ones is filled too. Numbers per clip (age_years) are left as they are. One warning line names the
    count of speakers with conflicting labels and the first three with their counts, e.g.
        m.csv: 2 speakers with conflicting labels, resolved by majority vote (a tie -> unknown):
        speaker 'F01': gender male 12 / female 1 -> male; ...
    (printed as one line).
    """
    columns = speaker_columns(rows, per_clip, tasks) if columns is None else columns
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
                notes.append(f"speaker {repr(speaker)[:40]}: {column} {tally} -> {winner or '(unknown)'}")
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


def stratified_splits(rows, fractions, seed, tasks, names):
    """{speaker: split} for the speakers none of whose rows has a split, dealt to the splits `names` (data.SPLITS)
    with `fractions` (3,) of them, stratified on each task's labels (iterative stratification, simplified from
    Sechidis et al. 2011): speakers in a seeded random order, each to the split furthest behind its quota,
        need(s) = sum over the speaker's known labels (t, v) of [f_s n(t, v) - have_s(t, v)] + [f_s n - have_s],
    n(t, v) = speakers with label v of task t, f_s = split s's fraction; a split holding ceil(f_s n) speakers
    takes no more. Speakers without any label are dealt after the others, by their own quotas, so they never
    crowd labelled voices out of validation and test."""
    preset = {row["speaker"] for row in rows if row.get("split")}
    labels = {row["speaker"]: [(t, row.get(t, "")) for t in tasks if row.get(t, "")] for row in rows}
    todo = sorted(s for s in labels if s not in preset)
    todo = [todo[i] for i in np.random.default_rng(seed).permutation(len(todo))]
    f, split_of = np.asarray(fractions, dtype=np.float64), {}  # (3,)
    for group in ([s for s in todo if labels[s]], [s for s in todo if not labels[s]]):  # labelled first
        split_of.update(_deal(group, labels, f, names))
    return split_of


def _deal(todo, labels, f, names):
    """stratified_splits' dealing of the speakers `todo`, in order -> {speaker: split}."""
    split_of = {}
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
        split_of[speaker] = names[choice]
    return split_of


def speaker_folds(rows, tasks, k=5, seed=0):
    """k speaker-disjoint folds over the training and validation speakers, for cross-validation -> k row lists
    (the test rows left out): in fold i its speakers' rows are "val", every other speaker's "train".

    Stratified on each speaker's labels of `tasks` (data.TASKS: age, gender, dialect): the speakers of each
    combination, in a seeded random order, are dealt round-robin with one counter over all combinations, so each
    fold gets about a k-th of every combination and the folds differ in size by at most one speaker.
    """
    labels = {r["speaker"]: tuple(r.get(t, "") for t in tasks) for r in rows if r["split"] in ("train", "val")}
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
