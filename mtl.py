"""Multi-task learning: task heads on any trunk, the model a run describes, the masked multi-task loss, and a
model's answer about a whole clip.

A model is a trunk from models.py plus one head per task -- hard parameter sharing (Caruana 1997): every task
reads the same embedding. forward(x, lengths) returns {task: output}:
    a classification task (n classes)   logits (B, n)
    a regression task (0 classes)       a value (B,) in the task's own unit, e.g. years for age_years
Any trunk takes one task or many; the original project's names stay as aliases (ALIASES): hps = cnn ("MFCC +
F0, hard parameter sharing"), lstm_mtl = lstm, cascade = cnn with its heads chained (extras/cascade.py). The
loss (multitask_loss) skips unknown labels (NaN, an empty manifest cell): they send no gradient to their task's
head. A clip's answer (`predict`) is the mean over its 4 s windows.

    python -m pytest tests/test_mtl.py
"""
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

import features
import sampling
from models import TRUNKS, VALID_INPUTS, full_lengths

ALIASES = {"hps": ("cnn", False), "lstm_mtl": ("lstm", False), "cascade": ("cnn", True)}  # name -> (trunk, cascade)
MODELS = tuple(TRUNKS) + tuple(ALIASES)


class Regression(nn.Module):
    """A regression head: embedding (B, D) -> value (B,) in the target's unit, y = mean + std * (w . h + b).

    mean and std (buffers, saved with the weights) are the training targets' statistics, so the linear layer
    works in standard units and the output reads in years."""

    def __init__(self, dim):
        super().__init__()
        self.linear = nn.Linear(dim, 1)
        self.register_buffer("mean", torch.zeros(()))
        self.register_buffer("std", torch.ones(()))

    def set_statistics(self, mean, std):
        self.mean.fill_(float(mean))
        self.std.fill_(max(float(std), 1e-3))

    def forward(self, h):
        return self.mean + self.std * self.linear(h).squeeze(-1)  # (B,)


def make_head(dim, n_classes):
    """Linear(dim, n) for a classification task, Regression(dim) for a regression task (n_classes == 0)."""
    return Regression(dim) if n_classes == 0 else nn.Linear(dim, n_classes)


class MultiHead(nn.Module):
    """A trunk and one head per task: x -> embedding (B, D) -> dropout -> {task: output}. Two options, plugged in by
    build_model: `extra` (extras/robust.Statistics: --pitch, --vocal-tract) adds a few statistics of the window
    beside the embedding for every head; `reversed_tasks` (--adversary) read the embedding through a gradient reversal."""

    def __init__(self, trunk, n_classes, dropout=0.0, extra=None, reversed_tasks=None):
        super().__init__()
        self.trunk, self.tasks, self.dropout, self.extra = trunk, list(n_classes), nn.Dropout(dropout), extra
        dim = trunk.out_dim + (extra.dim if extra is not None else 0)
        self.heads = nn.ModuleDict({task: make_head(dim, n) for task, n in n_classes.items()})
        self.reversed = reversed_tasks or {}  # {task: the function its head reads the embedding through}

    def forward(self, x, lengths=None, targets=None):
        h = self.dropout(self.trunk(x, lengths))  # (B, D)
        if self.extra is not None:
            h = torch.cat([h, self.extra(x, full_lengths(x, lengths))], dim=1)  # (B, D + extra.dim)
        return {task: head(self.reversed[task](h) if task in self.reversed else h) for task, head in self.heads.items()}


def resolve(name, cascade=False):
    """(trunk name, cascade?) of a --model name: a trunk, or one of ALIASES."""
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}: expected one of {', '.join(MODELS)}")
    trunk, alias_cascade = ALIASES.get(name, (name, False))
    return trunk, cascade or alias_cascade


def check(name, kind, n_tasks, cascade=False, spec_augment=None, cmn=False):
    """Raise ValueError when model `name` cannot be built this way: an unknown name, an input its trunk cannot
    read (naming the valid ones), a cascade of fewer than two tasks, SpecAugment or cepstral mean normalisation
    on the raw waveform, cepstral mean normalisation under logreg (whose features are the rows' means)."""
    trunk_name, cascade = resolve(name, cascade)
    if kind not in VALID_INPUTS[trunk_name]:
        raise ValueError(f"model {name!r} cannot read input {kind!r}: valid inputs are "
                         f"{', '.join(VALID_INPUTS[trunk_name])}")
    if cascade and n_tasks < 2:
        raise ValueError(f"cascade needs two or more tasks to chain, got {n_tasks}")
    if spec_augment and kind == "raw":
        raise ValueError(f"SpecAugment masks feature rows and frames; {trunk_name} reads the raw waveform")
    if cmn and kind == "raw":
        raise ValueError("cepstral mean normalisation centres feature rows; raw is the waveform")
    if cmn and trunk_name == "logreg":
        raise ValueError("cepstral mean normalisation: logreg reads each row's mean and std over the window, and "
                         "centring sets the means of the cepstral rows to 0")


def build_model(name, kind, n_classes, in_shape, cascade=False, spec_augment=None, dropout=0.0, centre=None,
                adversarial=(), pitch=False, vocal_tract=False, **options):
    """Build model `name` (a trunk or an alias) for input `kind`, one head per task of n_classes.

    n_classes: {task: number of classes, or 0 for a regression task}, in the order of the targets' columns
    (and of the cascade's chain). in_shape: the input's non-time dims, features.input_shape(kind). options go
    to the trunk (e.g. depth="m11" for rawcnn, hidden=128 for rnn, channels=256 for xvector). The options that
    make a profile travel come from extras/robust.py: spec_augment (SpecAugment's settings, training batches
    only), centre ((C, F) bool: the rows per-window CMN centres), adversarial (tasks read through a gradient
    reversal), pitch and vocal_tract (the window's F0, formant and tube-length statistics beside the embedding).
    Returns an nn.Module whose forward(x, lengths=None, targets=None) gives {task: output}. ValueError where
    check() refuses, or for pitch, vocal_tract without their input; TypeError when n_classes is not a non-empty dict."""
    if not isinstance(n_classes, dict) or not n_classes:
        raise TypeError(f"n_classes must be a non-empty dict task -> number of classes, got {n_classes!r} "
                        "(call build_model(name, kind, n_classes, in_shape))")
    check(name, kind, len(n_classes), cascade, spec_augment, centre is not None)
    if (pitch or vocal_tract) and cascade or pitch and not kind.startswith("mfcc_f0"):
        raise ValueError("--pitch hands the heads the F0 row's statistics: it needs --input mfcc_f0, and no cascade")
    if vocal_tract and kind != "mfcc_f0_vt":
        raise ValueError("--vocal-tract hands the heads the formants' statistics: it needs --input mfcc_f0_vt")
    trunk_name, cascade = resolve(name, cascade)
    trunk = TRUNKS[trunk_name](tuple(in_shape), **options)
    robust = None
    if spec_augment or centre is not None or adversarial or pitch or vocal_tract:
        from extras import robust  # seam: per-window CMN, SpecAugment, F0 statistics, a gradient reversal
    if spec_augment or centre is not None:
        trunk.norm.options = robust.WindowOptions(centre, spec_augment)
    if cascade:
        from extras.cascade import Cascade  # seam: the original project's "model connection"
        return Cascade(trunk, n_classes, make_head, dropout)
    parts = ([robust.PitchStatistics()] if pitch else []) + ([robust.VocalTractStatistics()] if vocal_tract else [])
    return MultiHead(trunk, n_classes, dropout, robust.Statistics(parts) if parts else None,
                     {task: robust.reverse_gradient for task in adversarial})


def from_config(config, train=False):
    """The (untrained) model a run's config.json describes: its name, input, heads (its tasks, then any auxiliary
    one: a class count, or 0 for a numeric task) and options. train: with SpecAugment, if the run asked for it."""
    vocabs, kind = config["vocabs"], config["input"]
    n_classes = {t: 0 if vocabs[t] is None else len(vocabs[t]) for t in config["tasks"] + config.get("aux_tasks", [])}
    robust = None
    if config.get("cmn") or (train and "spec" in config.get("augment", "")):
        from extras import robust  # seam: the settings of per-window CMN and SpecAugment
    return build_model(config["model"], kind, n_classes, features.input_shape(kind), config.get("cascade", False),
                       robust.SPEC_AUGMENT if train and "spec" in config.get("augment", "") else None,
                       config.get("dropout", 0.0), robust.cepstral_rows(kind) if config.get("cmn") else None,
                       config.get("adversarial", ()), config.get("pitch", False), config.get("vocal_tract", False),
                       **config.get("trunk_options", {}))


def count_parameters(model):
    """Number of trainable parameters (weights and biases; BatchNorm running statistics not counted)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def regression_scales(model):
    """{task: std of its training targets} for the regression heads of a model (the L1 loss's unit)."""
    return {task: float(head.std) for task, head in model.heads.items() if isinstance(head, Regression)}


def multitask_loss(outputs, targets, tasks, weights=None, scales=None, label_smoothing=0.0):
    """Sum over tasks of w_task * (mean loss over the examples whose label for that task is known).

    outputs: {task: logits (B, n) or values (B,)}; targets: (B, n_tasks) float, column i for tasks[i]: a class index
    or a value, NaN = unknown. Classification: cross-entropy (with label_smoothing, Szegedy et al. 2016); regression:
    L1 in standard units, |y_hat - y| / scale (scales: {task: std of its training targets}, regression_scales; 1 when
    missing), so a task in years weighs like one in classes. weights: {task: float} or None, 1.0 for a task missing.
    Returns (total: scalar tensor, {task: its unweighted loss, a detached scalar tensor: no GPU sync}). A task with
    no known label in the batch contributes exactly 0 (not NaN: a mean over zero examples would be 0/0)."""
    B, weights = next(iter(outputs.values())).shape[0], weights or {}
    assert targets.shape == (B, len(tasks)), f"targets {tuple(targets.shape)}, expected (B, n_tasks) = {B, len(tasks)}"
    assert set(weights) <= set(tasks) <= set(outputs), f"weights {list(weights)}, tasks {tasks}, outputs {[*outputs]}"
    total, per_task = 0.0, {}
    for i, task in enumerate(tasks):
        y, out = targets[:, i], outputs[task]  # (B,), (B, n) or (B,)
        known = ~torch.isnan(y)  # (B,) bool
        if not known.any():
            loss = out.sum() * 0.0  # 0, still attached to the graph so backward() works
        elif out.dim() == 1:  # regression
            loss = (out[known].float() - y[known]).abs().mean() / (scales or {}).get(task, 1.0)
        else:
            loss = F.cross_entropy(out[known].float(), y[known].long(), label_smoothing=label_smoothing)
        per_task[task] = loss.detach()
        total = total + weights.get(task, 1.0) * loss
    return total, per_task


@torch.no_grad()
def predict(model, feats, kind, device="cpu", batch_size=64):
    """The model's answer about whole clips: outputs for every clip of `feats` (data.Features or a scale/store.py
    store) -> {task: float64 (n, n_classes) probabilities, or (n,) values}.

    Each clip is cut into evenly spaced windows of features.window_length(kind) (sampling.window_starts), and its
    output is the mean over its K windows: p = (1/K) sum_k softmax(logits_k), or the mean of the K values."""
    if len(feats) == 0:
        return {}
    model.eval()
    length = features.window_length(kind)
    starts = [sampling.window_starts(T, length) for T in feats.lengths()]  # each clip's windows
    windows = [(i, s) for i, clip in enumerate(starts) for s in clip]  # (clip, start frame)
    batches = sampling.Batches(feats, np.zeros((len(feats), 0)), length)
    outputs = {}  # task -> list of (b, n_classes) or (b,) arrays, one row per window
    for k in range(0, len(windows), batch_size):
        x, lengths, _ = batches[windows[k:k + batch_size]]  # (b, *shape, L), (b,)
        for task, z in model(torch.from_numpy(x).to(device), torch.from_numpy(lengths).to(device)).items():
            z = z.float()
            outputs.setdefault(task, []).append((z.softmax(dim=-1) if z.dim() == 2 else z).cpu().double().numpy())
    # A clip's windows are consecutive rows: its mean is a sum over its block of rows divided by their number.
    counts = np.array([len(clip) for clip in starts])  # (n,) K per clip
    first = np.concatenate([[0], np.cumsum(counts)[:-1]])  # (n,) each clip's first window
    return {task: np.add.reduceat(np.concatenate(rows), first, axis=0) / counts.reshape(-1, *[1] * (rows[0].ndim - 1))
            for task, rows in outputs.items()}
