"""Front-door helper: what a trained model says about whole clips, and how good that is, per task.

Every prediction is utterance-level: the model reads every window of a clip (data.window_starts) and the
windows' class probabilities -- or, for a numeric task, the predicted values -- are averaged. Scores follow
metrics.py; each stands beside a baseline that knows only the training labels.

    python -m pytest tests/test_predict.py
"""
import math

import numpy as np
import torch
from torch.utils.data import DataLoader

import features
import metrics
from data import Batches, evaluation_windows
from runs import gather


@torch.no_grad()
def predict(model, store, kind, device="cpu", batch_size=64, clips=None, workers=0):
    """Outputs of `model` for whole clips of `store` (every clip, or the indices in `clips`).

    Each clip is cut into windows of features.window_length(kind) (the last one aligned with the clip's end)
    and p = (1/K) sum_k softmax(logits_k) over its K windows; a numeric task's value is the mean of the K values.
    Windows of consecutive clips share batches of `batch_size`, cut by `workers` DataLoader processes.
    Returns {task: float64 (n, n_classes) probabilities, rows summing to 1, or (n,) values}, n = len(clips).
    """
    clips = np.arange(len(store)) if clips is None else np.asarray(clips, dtype=np.int64)
    if len(clips) == 0:
        return {}
    model.eval()
    length = features.window_length(kind)
    specs = evaluation_windows(store, length, clips)  # (n_windows, 3): clip, version 0, start
    slot = np.searchsorted(clips, specs[:, 0]) if np.all(np.diff(clips) > 0) else \
        np.array([list(clips).index(c) for c in specs[:, 0]])  # (n_windows,) row of each window's clip
    batches = Batches(store, np.zeros((len(store), 0), np.float32), length)
    chunks = [specs[k:k + batch_size] for k in range(0, len(specs), batch_size)]
    loader = DataLoader(batches, sampler=chunks, batch_size=None, num_workers=workers,
                        generator=torch.Generator())  # its own: prediction never moves torch's global RNG
    sums, counts, k = {}, np.zeros(len(clips)), 0
    for x, lengths, _ in loader:
        owners = slot[k:k + len(x)]  # (B,)
        k += len(x)
        for task, z in model(x.to(device), lengths.to(device)).items():
            z = z.float()
            p = (torch.softmax(z, dim=-1) if z.dim() == 2 else z).cpu().numpy().astype(np.float64)
            if task not in sums:
                sums[task] = np.zeros((len(clips),) + p.shape[1:])
            np.add.at(sums[task], owners, p)  # add each window's output to its clip
        np.add.at(counts, owners, 1.0)
    assert counts.min() > 0, "every clip gives at least one window"
    return {task: s / counts.reshape(-1, *([1] * (s.ndim - 1))) for task, s in sums.items()}


def predict_everywhere(model, store, kind, device, batch_size=64, workers=0):
    """predict() on every clip of `store`, the clips shared out among torchrun's processes (every world-th clip
    to each) and the outputs gathered, so every process returns the whole {task: array}."""
    dist = torch.distributed
    rank, world = (dist.get_rank(), dist.get_world_size()) if dist.is_initialized() else (0, 1)
    mine = np.arange(rank, len(store), world)  # (about n / world,)
    pieces = gather((mine, predict(model, store, kind, device, batch_size, mine, workers)))
    merged = {}
    for clips, outputs in pieces:
        for task, out in outputs.items():
            merged.setdefault(task, np.zeros((len(store),) + out.shape[1:]))[clips] = out
    return merged


def task_scores(outputs, labels, train_labels, tasks, vocabs):
    """Scores of utterance-level outputs against labels (float (n, n_tasks), NaN = unknown) -> {task: dict}.

    A classification task: acc, balanced_acc, macro_f1, and majority (the accuracy of always answering the
    training set's most frequent class). A numeric task: mae (mean absolute error, in its unit), baseline_mae
    (always answering the training median) and skill = max(0, 1 - mae / baseline_mae) -- 0 for a model no better
    than the constant, 1 for a perfect one, so it averages with balanced accuracies (selection_score).
    A split without known labels scores NaN.
    """
    scores = {}
    for i, task in enumerate(tasks):
        y, known = labels[:, i], ~np.isnan(labels[:, i])
        y_train = train_labels[:, i][~np.isnan(train_labels[:, i])]
        if vocabs[task] is None:
            pred = outputs[task][known] if task in outputs else np.zeros(0)
            mae = metrics.mean_absolute_error(y[known], pred)
            base = metrics.mean_absolute_error(y[known], np.full(known.sum(), np.median(y_train))) \
                if len(y_train) else math.nan
            skill = max(0.0, 1.0 - mae / base) if base > 0 else math.nan
            scores[task] = {"mae": mae, "baseline_mae": base, "skill": skill}
        else:
            truth = y[known].astype(np.int64)
            pred = outputs[task][known].argmax(axis=1) if task in outputs else np.zeros(0, np.int64)
            scores[task] = {"acc": metrics.accuracy(truth, pred), "balanced_acc": metrics.balanced_accuracy(truth, pred),
                            "macro_f1": metrics.macro_f1(truth, pred),
                            "majority": metrics.majority_baseline(y_train.astype(np.int64), truth)}
    return scores


def selection_score(scores):
    """The one number model selection and early stopping maximise: the mean over tasks of the balanced accuracy
    (classification) or the skill (numeric task); tasks without a score (NaN) are left out."""
    values = [s["balanced_acc"] if "balanced_acc" in s else s["skill"] for s in scores.values()]
    values = [v for v in values if not math.isnan(v)]
    return float(np.mean(values)) if values else math.nan
