"""Sampling: which 4 s windows of which clips each optimiser step reads -- NumPy only, no torch. Batches cuts
windows from features (data.Features or the store) with their real lengths; epoch_plan draws every batch of an
epoch from (seed, epoch) alone; balance_weights flattens every trained task's classes (and the corpora) at once.

    python -m pytest tests/test_data.py
"""
import math

import numpy as np

WINDOW_SLACK = 40  # an evaluated clip may leave 1/40 of a window (0.1 s of 4 s) unjudged rather than add a window
MAX_REPLAY = 5.0  # balanced sampling draws no class more than this many times as often as it occurs


# ---------------------------------------------------------------- windows and batches
def window_starts(T, length):
    """Where the evaluation windows of a clip of T frames start: evenly spaced, together covering the clip.

    n = max(1, ceil((T - length/WINDOW_SLACK) / length)) windows from 0 to T - length, so a 4.00 s clip (401 frames) is
    one window, not two windows one frame apart; a clip shorter than one window is one (padded) window. Utterance-level
    prediction averages the windows' class probabilities, so a 12 s clip is judged on all 12 s, not on its first 4."""
    n = max(1, math.ceil((T - length // WINDOW_SLACK) / length))
    return [0] if n == 1 else np.round(np.linspace(0, T - length, n)).astype(np.int64).tolist()


class Batches:
    """Batches cut from features (in memory, or scale/store.py's store): batches[spec] -> (x, lengths, y).

    spec: (B, 2) int64 rows of (clip, start frame). x: float32 (B, *input_shape, length), each window frames
    [start, start + length) of that clip, zero-padded where the clip ends; lengths: int64 (B,) real frames of
    each window (the models ignore the padding); y: float32 (B, n_tasks) labels, NaN = unknown."""

    def __init__(self, feats, labels, length):
        self.feats, self.labels, self.length = feats, np.asarray(labels, dtype=np.float32), length
        assert len(self.labels) == len(feats), "one label row per clip"

    def __getitem__(self, spec):
        spec = np.asarray(spec, dtype=np.int64).reshape(-1, 2)
        x = np.zeros((len(spec), *self.feats.shape, self.length), dtype=np.float32)  # (B, *shape, L)
        lengths = np.zeros(len(spec), dtype=np.int64)  # (B,)
        for b, (i, start) in enumerate(spec):
            window = self.feats.read(i, start, start + self.length)  # (*shape, <= L)
            x[b, ..., :window.shape[-1]] = window
            lengths[b] = window.shape[-1]
        return x, lengths, self.labels[spec[:, 0]]


# ---------------------------------------------------------------- the epoch plan and balanced sampling
def epoch_plan(seed, epoch, lengths, length, batch_size, weights=None):
    """Every training batch of one epoch, drawn from a generator seeded with (seed, epoch) alone.

    lengths: (n_clips,) frames of each clip; weights: (n_clips,) sampling weights (balance_weights) or None for a
    plain shuffle. Each draw is a clip (by weight, with replacement; or a permutation) and a crop start (uniform
    in [0, T - length]). Returns a list of (B, 2) int64 specs for Batches; the last partial batch is dropped when
    there are at least batch_size clips. Whatever the number of processes, a resumed run sees these batches."""
    rng = np.random.default_rng([seed, epoch])
    n = len(lengths)
    order = rng.permutation(n) if weights is None else rng.choice(n, size=n, p=weights / weights.sum())
    T = np.asarray(lengths)[order]  # (n,) frames of each drawn clip
    starts = (rng.random(n) * np.maximum(T - length + 1, 1)).astype(np.int64)  # (n,) in [0, max(T - L, 0)]
    spec = np.stack([order, starts], axis=1)  # (n, 2)
    n_batches = n // batch_size if n >= batch_size else 1
    return [spec[k * batch_size:(k + 1) * batch_size] for k in range(n_batches)]


def class_targets(counts, cap=None):
    """Equal shares for classes of `counts` clips, except that no class gets more than `cap` times its natural
    share counts / sum(counts) -> shares (K,) summing to 1. Water-filling: a class that cannot take an equal
    share without breaking the cap gets exactly the cap, and the rest is shared equally among the others."""
    cap = MAX_REPLAY if cap is None else cap
    natural = np.asarray(counts, dtype=np.float64) / np.sum(counts)  # (K,)
    limit = np.minimum(cap * natural, 1.0)  # (K,) the largest share each class may get
    share, fixed = np.zeros(len(natural)), np.zeros(len(natural), dtype=bool)
    while True:
        share[~fixed] = (1.0 - share[fixed].sum()) / (~fixed).sum()  # split what is left equally
        over = ~fixed & (share > limit)
        if not over.any():
            return share
        share[over], fixed[over] = limit[over], True


def balance_weights(labels, columns, corpus=None, iterations=500):
    """Sampling weights (n,), mean 1, that flatten the class shares of every label column in `columns` at once.

    labels: float (n, n_columns), NaN = unknown; columns: the columns to balance (classification tasks); corpus:
    (n,) str, each clip's corpus -- when several corpora train together they are balanced too, so the largest
    does not drown the rest. Each class's target share is equal, but no class is drawn more
    than MAX_REPLAY times as often as it occurs (class_targets). Iterative proportional fitting (raking, Deming &
    Stephan 1940) meets every column's targets at once: for each column in turn, scale each class's known rows to
    its target share of the known weight; unknown rows keep theirs. With one column: target_k / (clips of class k)."""
    labels, columns = np.asarray(labels, dtype=np.float64), list(columns)
    names = sorted({str(c) for c in corpus} - {""}) if corpus is not None else []
    if len(names) > 1:  # the corpus as one more column to balance
        codes = np.array([names.index(str(c)) if str(c) in names else np.nan for c in corpus])  # (n,)
        labels, columns = np.hstack([labels, codes[:, None]]), columns + [labels.shape[1]]
    w = np.ones(len(labels))
    plans = []  # per column: (known rows, [(rows of class k, target share k)])
    for c in columns:
        y, known = labels[:, c], ~np.isnan(labels[:, c])
        classes, counts = np.unique(y[known], return_counts=True)
        plans.append((known, [(known & (y == k), t) for k, t in zip(classes, class_targets(counts))]))
    for _ in range(iterations):
        before = w.copy()
        for known, targets in plans:
            total = w[known].sum()
            for rows, share in targets:
                w[rows] *= share * total / w[rows].sum()
        if np.abs(w - before).max() < 1e-10 * w.max():
            break
    return w / w.mean()
