"""Calibrated confidence: a profile's probabilities made to mean what they say, and a way to tell when to doubt one.

A network trained with cross-entropy is often over-confident: of the answers it gives with p = 0.9, fewer than 90 %
are right. Temperature scaling (Guo et al. 2017, "On calibration of modern neural networks", ICML) divides the
log-probabilities by one number T per task, fitted on the validation speakers -- never on test -- to minimise their
negative log-likelihood; T > 1 softens, T < 1 sharpens, and no answer changes (the order of the classes stays).
A clip's probability is the mean over its windows (mtl.predict), so T scales that mean's logarithm:
    p_T(k) = p(k)^(1/T) / sum_j p(j)^(1/T)
train.py fits T at the end of every run with validation speakers and writes it to RUN/calibration.json (a refit,
which has none, keeps its run's); scale/checkpoints.load_run hands it to every reader of the run, and a profile
whose top answer stays below UNSURE_P after scaling is marked unsure (extras/recording.py, the page).

    expected_calibration_error(p, y)   ECE over 10 equal-width confidence bins (Naeini et al. 2015)
    coverage(p, y)                     accuracy of the answers kept at each confidence threshold

    python -m scale.coverage RUN corpus.csv [--task gender]   # accuracy against coverage, the ECE
    python -m pytest tests/test_calibration.py
"""
import json
import math
from pathlib import Path

import numpy as np
from scipy.optimize import minimize_scalar

UNSURE_P = 0.8  # a top answer below this calibrated probability is shown as unsure
MIN_CLIPS = 20  # validation clips a task needs before its temperature is fitted (else T = 1)
T_RANGE = (0.05, 20.0)  # the temperatures searched


def scaled(p, T):
    """Probabilities p (n, K) at temperature T -> (n, K): softmax(log p / T), rows summing to 1."""
    logits = np.log(np.clip(np.asarray(p, dtype=np.float64), 1e-12, 1.0)) / T  # (n, K)
    logits -= logits.max(axis=-1, keepdims=True)
    q = np.exp(logits)
    return q / q.sum(axis=-1, keepdims=True)


def apply(outputs, temperatures):
    """{task: (n, K) probabilities or (n,) numbers} -> the same with every task in temperatures scaled (scaled)."""
    return {t: scaled(o, temperatures[t]) if t in temperatures else o for t, o in outputs.items()}


def nll(p, y):
    """Mean negative log-likelihood of the true classes y (n,) under p (n, K), in nats."""
    return float(-np.mean(np.log(np.clip(p[np.arange(len(y)), y], 1e-12, 1.0))))


def fit_temperature(p, y):
    """The T in T_RANGE that minimises nll(scaled(p, T), y) (a bounded search over log T); 1.0 for too few clips."""
    y = np.asarray(y, dtype=np.int64)
    if len(y) < MIN_CLIPS:
        return 1.0
    found = minimize_scalar(lambda log_t: nll(scaled(p, math.exp(log_t)), y), method="bounded",
                            bounds=tuple(map(math.log, T_RANGE)))
    return float(math.exp(found.x))


def expected_calibration_error(p, y, bins=10):
    """sum_b (n_b / n) |accuracy_b - confidence_b| over `bins` equal-width bins of the top probability: 0 for a
    perfectly calibrated model; NaN for no clips."""
    p, y = np.asarray(p, dtype=np.float64), np.asarray(y, dtype=np.int64)
    if len(y) == 0:
        return math.nan
    confidence, right = p.max(axis=1), p.argmax(axis=1) == y  # (n,), (n,)
    which = np.minimum((confidence * bins).astype(int), bins - 1)  # (n,) bin of each clip
    return float(sum(abs(right[which == b].mean() - confidence[which == b].mean()) * (which == b).mean()
                     for b in range(bins) if (which == b).any()))


def coverage(p, y, thresholds=(0.5, 0.6, 0.7, 0.8, 0.9, 0.95)):
    """[(threshold, share of clips answered with top p >= threshold, accuracy of those answers)]."""
    p, y = np.asarray(p, dtype=np.float64), np.asarray(y, dtype=np.int64)
    top, right = p.max(axis=1), p.argmax(axis=1) == y
    return [(t, float((top >= t).mean()) if len(y) else math.nan,
             float(right[top >= t].mean()) if (top >= t).any() else math.nan) for t in thresholds]


def fit(outputs, labels, tasks, vocabs):
    """{task: T} for every class task of a run, fitted on the validation clips' outputs {task: (n, K)} and labels
    (n, n_tasks), NaN = unknown."""
    found = {}
    for i, t in enumerate(tasks):
        if vocabs[t] is not None and t in outputs:
            known = ~np.isnan(labels[:, i])
            found[t] = round(fit_temperature(outputs[t][known], labels[known, i].astype(np.int64)), 4)
    return found


def of_run(run_dir):
    """{task: T} saved in a run folder's calibration.json, or {} (an older run: every T = 1)."""
    path = Path(run_dir) / "calibration.json"
    try:
        found = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    except (OSError, ValueError):
        return {}
    return {t: float(v) for t, v in found.items() if isinstance(v, (int, float)) and T_RANGE[0] <= v <= T_RANGE[1]} \
        if isinstance(found, dict) else {}
