"""Data floor: describe a manifest -- the EDA: clips and speakers per label per split, imbalance, durations.

    python data.py describe timit.csv
    python -m pytest tests/test_describe.py
"""
from collections import Counter

import numpy as np
import soundfile as sf

from files import display_width
from manifest import TASKS, label_order

DESCRIBE_SPLITS = ("train", "val", "test", "")  # "" = not yet assigned


def _duration_lines(rows):
    durations = []
    for row in rows:
        try:
            durations.append(sf.info(row["path"]).duration)
        except (RuntimeError, OSError, sf.LibsndfileError):  # missing or unreadable file
            pass
    if not durations:
        return [f"duration: n/a (none of the {len(rows)} files could be read)"]
    d = np.array(durations)  # (n_readable,) seconds
    return [f"duration: total {d.sum() / 3600:.2f} h ({d.sum():.1f} s) over {len(d)} of {len(rows)} clips; "
            f"per clip mean {d.mean():.2f} s, min {d.min():.2f} s, max {d.max():.2f} s"]


def describe(rows, tasks=TASKS):
    """The EDA as text: per task, clips / speakers per label value per split, unknown labels, the imbalance
    ratio (largest / smallest class, in clips); then the total and per-clip duration."""
    splits = [s for s in DESCRIBE_SPLITS if any(r["split"] == s for r in rows)]
    head = ["label"] + [f"{s or '(none)'} clips/spk" for s in splits] + ["all clips/spk"]
    lines = [f"{len(rows)} clips, {len({r['speaker'] for r in rows})} speakers", ""]
    for task in tasks:
        table = [head]
        for value in sorted({r[task] for r in rows}, key=label_order):
            cells = [value or "(unknown)"]
            for split in splits + [None]:
                hit = [r for r in rows if r[task] == value and split in (None, r["split"])]
                cells.append(f"{len(hit)}/{len({r['speaker'] for r in hit})}")
            table.append(cells)
        widths = [max(display_width(row[i]) for row in table) for i in range(len(head))]
        lines.append(f"== {task} ==")
        lines += ["  ".join(c + " " * (w - display_width(c)) for c, w in zip(row, widths)).rstrip() for row in table]
        counts = Counter(r[task] for r in rows if r[task])
        ratio = f"{max(counts.values()) / min(counts.values()):.2f}" if counts else "n/a"
        n_unknown = sum(1 for r in rows if not r[task])
        lines += [f"unknown {task}: {n_unknown} clips; imbalance ratio (largest/smallest class): {ratio}", ""]
    return "\n".join(lines + _duration_lines(rows))
