"""Describe a manifest -- the EDA: clips and speakers per label per split, imbalance, durations,
and (with matplotlib) the same as figures plus the F0 distribution per gender.

Any manifest column can be a task (`--tasks gender,age,education`); durations come from the audio headers
(duration_s: segments and zip members included); F0 is YIN via features.f0_row on a seeded sample of clips.

    python -m corpora describe timit.csv --tasks gender,age,education --plot figures/
    python -m pytest tests/test_describe.py
"""
import re
import warnings
from collections import Counter
from pathlib import Path

import numpy as np

import features
from data import TASKS, AudioError, audio_info, label_order, load_audio, segment
from extras.plots import plot_labels, pyplot, save
from scale.tables import display_width

DESCRIBE_SPLITS = ("train", "val", "test", "")  # "" = not yet assigned
F0_SAMPLE = 200  # clips: enough for a histogram per gender, few enough to run in seconds (~10 ms per clip)


def check_tasks(rows, tasks, source="manifest"):
    """ValueError naming `source` and the columns it has when a task is not a column of the rows."""
    columns = list(rows[0]) if rows else []
    missing = [t for t in tasks if t not in columns]
    if missing:
        raise ValueError(f"{source}: no column {', '.join(map(repr, missing))} for --tasks; "
                         f"the manifest has {', '.join(columns)}")


def duration_s(row):
    """A clip's length in seconds: its segment's (start_s, end_s), or the whole file's from its header."""
    start, end = segment(row)
    if end is None:
        rate, frames, _ = audio_info(row["path"])
        end = frames / rate
    return end - (start or 0.0)


def clip_durations(rows):
    """(durations in seconds of the readable clips (n_readable,), number of unreadable clips)."""
    durations, bad = [], 0
    for row in rows:
        try:
            durations.append(duration_s(row))
        except AudioError:  # missing or unreadable file or member
            bad += 1
    return np.array(durations, dtype=np.float64), bad


def _duration_lines(rows):
    d, _ = clip_durations(rows)  # (n_readable,) seconds
    if len(d) == 0:
        return [f"duration: n/a (none of the {len(rows)} files could be read)"]
    return [f"duration: total {d.sum() / 3600:.2f} h ({d.sum():.1f} s) over {len(d)} of {len(rows)} clips; "
            f"per clip mean {d.mean():.2f} s, min {d.min():.2f} s, max {d.max():.2f} s"]


def _splits(rows):
    return [s for s in DESCRIBE_SPLITS if any(r["split"] == s for r in rows)]


def describe(rows, tasks=TASKS):
    """The EDA as text: clips (and how many are utterance segments, of how many files) and speakers; per task
    (any column), clips / speakers per label value per split, unknown labels, the imbalance ratio (largest /
    smallest class, in clips); then the total and per-clip duration (a segment's own length)."""
    splits = _splits(rows)
    head = ["label"] + [f"{s or '(none)'} clips/spk" for s in splits] + ["all clips/spk"]
    segments = [r for r in rows if segment(r) != (None, None)]  # utterances cut from longer recordings
    cut = f" ({len(segments)} utterance segments of {len({r['path'] for r in segments})} files)" if segments else ""
    lines = [f"{len(rows)} clips{cut}, {len({r['speaker'] for r in rows})} speakers", ""]
    for task in tasks:
        table = [head]
        for value in sorted({r.get(task, "") for r in rows}, key=label_order):
            cells = [value or "(unknown)"]
            for split in splits + [None]:
                hit = [r for r in rows if r.get(task, "") == value and split in (None, r["split"])]
                cells.append(f"{len(hit)}/{len({r['speaker'] for r in hit})}")
            table.append(cells)
        widths = [max(display_width(row[i]) for row in table) for i in range(len(head))]
        lines.append(f"== {task} ==")
        lines += ["  ".join(c + " " * (w - display_width(c)) for c, w in zip(row, widths)).rstrip() for row in table]
        counts = Counter(r[task] for r in rows if r.get(task, ""))
        ratio = f"{max(counts.values()) / min(counts.values()):.2f}" if counts else "n/a"
        n_unknown = sum(1 for r in rows if not r.get(task, ""))
        lines += [f"unknown {task}: {n_unknown} clips; imbalance ratio (largest/smallest class): {ratio}", ""]
    return "\n".join(lines + _duration_lines(rows))


# ---------------------------------------------------------------- figures
def _bars(plt, rows, task, count, ylabel, path):
    """Grouped bars: one group per class of `task`, one bar per split; count(rows of a cell) is the height."""
    splits = _splits(rows)
    classes = sorted({r.get(task, "") for r in rows}, key=label_order)
    x = np.arange(len(classes))  # (n_classes,) group positions
    width = 0.8 / len(splits)
    fig, ax = plt.subplots(figsize=(max(5.0, 0.9 * len(classes) + 2), 3.5))
    for i, split in enumerate(splits):
        heights = [count([r for r in rows if r.get(task, "") == c and r["split"] == split]) for c in classes]
        ax.bar(x + (i - (len(splits) - 1) / 2) * width, heights, width, label=split or "(none)")
    ax.set_xticks(x)
    ax.set_xticklabels(plot_labels([c or "(unknown)" for c in classes], plt), rotation=30, ha="right")
    ax.yaxis.set_major_locator(plt.MaxNLocator(integer=True))  # counts: whole numbers only
    ax.set(xlabel=f"{task} class", ylabel=ylabel, title=f"{task}: {ylabel} per class and split")
    ax.legend(title="split")
    fig.tight_layout()
    save(fig, path)


def median_f0_hz(path, start_s=None, end_s=None):
    """Median F0 in Hz over the voiced frames of one clip (the span start_s..end_s of the file, in seconds, for
    an utterance segment), or None if none is voiced. features.f0_row (YIN) gives 12 * log2(f0 / F0_REF)
    semitones on voiced frames, 0 elsewhere; f0 = F0_REF * 2^(row / 12)."""
    row = features.f0_row(load_audio(path, features.SR, start_s, end_s))  # (T,) semitones above F0_REF, 0 = unvoiced
    voiced = row[row > 0]
    return float(features.F0_REF * 2 ** (np.median(voiced) / 12)) if len(voiced) else None


def _f0_figure(plt, rows, path, seed, max_clips):
    """Histogram of the per-clip median F0 per gender class, on a seeded sample of at most max_clips clips."""
    by_gender = "gender" in rows[0]
    pool = [r for r in rows if r.get("gender")] if by_gender else rows
    rng = np.random.default_rng(seed)
    sample = [pool[i] for i in sorted(rng.choice(len(pool), min(max_clips, len(pool)), replace=False))]
    f0s, bad = {}, 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a nearly silent clip's warning, once per clip, would bury the output
        for row in sample:
            try:
                hz = median_f0_hz(row["path"], *segment(row))  # a segment: its own speaker's voice only
            except AudioError:
                bad += 1
                continue
            if hz is not None:
                f0s.setdefault(row["gender"] if by_gender else "all clips", []).append(hz)
    fig, ax = plt.subplots(figsize=(6, 3.5))
    edges = np.linspace(features.F0_FMIN, features.F0_FMAX, 41)  # Hz: YIN's search range, 40 bins
    names = sorted(f0s, key=label_order)
    for name, label in zip(names, plot_labels(names, plt)):
        ax.hist(f0s[name], bins=edges, alpha=0.6, label=f"{label} ({len(f0s[name])})")
    ax.set(xlabel="median F0 per clip (Hz)", ylabel="clips",
           title=f"F0 (YIN, features.f0_row) on a seeded sample of {len(sample)} of {len(pool)} clips"
                 + (f", {bad} unreadable" if bad else ""))
    ax.title.set_fontsize(9)
    if names:
        ax.legend(title="gender" if by_gender else None)
    fig.tight_layout()
    save(fig, path)


def plot_describe(rows, tasks, out_dir, seed=0, max_clips=F0_SAMPLE):
    """Write the EDA figures as PNG into out_dir; returns their paths. Per task: clips per class and split
    (counts_TASK.png) and speakers per class and split (speakers_TASK.png); durations.png (histogram of
    clip lengths); f0_by_gender.png (median F0 per clip per gender class, sampled). Needs matplotlib."""
    plt = pyplot()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for task in tasks:
        name = re.sub(r"\W+", "_", task)
        for kind, count, ylabel in (("counts", len, "clips"),
                                    ("speakers", lambda part: len({r["speaker"] for r in part}), "speakers")):
            written.append(out_dir / f"{kind}_{name}.png")
            _bars(plt, rows, task, count, ylabel, written[-1])
    d, bad = clip_durations(rows)  # (n_readable,) seconds
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.hist(d, bins=40)
    ax.set(xlabel="clip duration (s)", ylabel="clips",
           title=f"durations of {len(d)} of {len(rows)} clips" + (f" ({bad} unreadable)" if bad else ""))
    written.append(out_dir / "durations.png")
    fig.tight_layout()
    save(fig, written[-1])
    written.append(out_dir / "f0_by_gender.png")
    _f0_figure(plt, rows, written[-1], seed, max_clips)
    return written
