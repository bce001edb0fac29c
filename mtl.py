"""Multi-task learning: task heads on any trunk, the cascade, and the masked multi-task loss.

A model is a trunk from models.py plus one head per task -- hard parameter sharing (Caruana 1997): every task
reads the same embedding. forward(x, lengths) returns {task: output}:
    a classification task (n classes)   logits (B, n)
    a regression task (0 classes)       a value (B,) in the task's own unit, e.g. years for age_years
Any trunk takes one task or many; the original project's names stay as aliases (ALIASES):
    hps = cnn (the slides' "MFCC + F0, hard parameter sharing"), lstm_mtl = lstm, cascade = cnn + cascade heads.
The cascade (the slides' "model connection") chains the heads in the order the tasks are given: each head
also reads the earlier heads' outputs (does knowing "a man in his 60s" help to tell the dialect?).
The loss is a plain function: the sum over tasks of the mean loss over the examples whose label is known
(NaN = unknown, an empty manifest cell), so an unknown label sends no gradient to that task's head.

Test: python -m pytest tests/test_mtl.py
"""
import torch
import torch.nn.functional as F
from torch import nn

from models import TRUNKS, VALID_INPUTS, full_lengths, pitch_statistics

ALIASES = {"hps": ("cnn", False), "lstm_mtl": ("lstm", False), "cascade": ("cnn", True)}  # name -> (trunk, cascade)
MODELS = tuple(TRUNKS) + tuple(ALIASES)


class Regression(nn.Module):
    """A regression head: embedding (B, D) -> value (B,) in the target's unit, y = mean + std * (w . h + b).

    mean and std (buffers, saved with the weights) are the training targets' statistics, so the linear layer
    works in standard units and the output reads in years.
    """

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


class GradientReversal(torch.autograd.Function):
    """The identity going forward, the gradient times -1 going back (Ganin & Lempitsky 2015): a head behind it
    learns to tell corpora apart while the trunk, pushed the other way, learns embeddings in which it cannot."""

    @staticmethod
    def forward(ctx, h):
        return h.view_as(h)

    @staticmethod
    def backward(ctx, grad):
        return -grad


class MultiHead(nn.Module):
    """A trunk and one head per task: x -> embedding (B, D) -> dropout -> {task: output}. The heads named in
    `adversarial` read the embedding through a GradientReversal (train.py --adversary: the corpus); with `pitch`,
    every head also reads the window's pitch statistics (models.pitch_statistics: 3 numbers) beside it."""

    def __init__(self, trunk, n_classes, dropout=0.0, adversarial=(), pitch=False):
        super().__init__()
        self.trunk, self.tasks, self.dropout, self.pitch = trunk, list(n_classes), nn.Dropout(dropout), pitch
        dim = trunk.out_dim + 3 * pitch
        self.heads = nn.ModuleDict({task: make_head(dim, n) for task, n in n_classes.items()})
        self.adversarial = set(adversarial)

    def forward(self, x, lengths=None, targets=None):
        h = self.dropout(self.trunk(x, lengths))  # (B, D)
        if self.pitch:
            h = torch.cat([h, pitch_statistics(x, full_lengths(x, lengths))], dim=1)  # (B, D + 3)
        return {task: head(GradientReversal.apply(h) if task in self.adversarial else h)
                for task, head in self.heads.items()}


class Cascade(nn.Module):
    """The slides' "model connection": the tasks in the given order, each head reading the earlier outputs.

    With embedding h (B, D) and, for each earlier task, evidence e = its posterior softmax(logits) (n numbers)
    or its standardised value (1 number) for a regression task:
        out_1 = W_1 h,   out_2 = W_2 [h, e_1],   out_3 = W_3 [h, e_1, e_2], ...
    Posteriors are small (2 + 5 numbers), readable ("how male does this voice sound") and exactly what teacher
    forcing can replace by the truth. Without teacher forcing, gradients flow through the posteriors, so a later
    task's loss also trains the earlier heads.

    forward(x, lengths, targets): with teacher_forcing on and targets (B, n_tasks) given (NaN = unknown), each
    evidence is replaced by the truth (one-hot, or the standardised value) where it is known; no gradient then
    flows back through it. At test time there are no labels: a teacher-forced model meets its own noisier
    posteriors. Since the forced outputs flatter the later heads, forward also leaves the free-running outputs
    of the same batch in `self.free_outputs` (detached), which train.py's per-epoch train accuracy uses.
    """

    def __init__(self, trunk, n_classes, dropout=0.0, teacher_forcing=True):
        super().__init__()
        if len(n_classes) < 2:
            raise ValueError(f"cascade needs two or more tasks to chain, got {list(n_classes)}")
        self.trunk, self.tasks, self.teacher_forcing = trunk, list(n_classes), teacher_forcing
        self.dropout = nn.Dropout(dropout)
        heads, extra = {}, 0
        for task, n in n_classes.items():
            heads[task] = make_head(trunk.out_dim + extra, n)
            extra += max(n, 1)  # later heads also read this task's evidence
        self.heads = nn.ModuleDict(heads)
        self.free_outputs = None

    def chain(self, h, targets=None):
        outputs, evidence = {}, [h]
        for i, (task, head) in enumerate(self.heads.items()):
            out = head(torch.cat(evidence, dim=1))  # (B, n) logits or (B,) value
            if isinstance(head, Regression):
                e = ((out - head.mean) / head.std)[:, None]  # (B, 1) standard units
                truth = None if targets is None else ((targets[:, i] - head.mean) / head.std)[:, None]
            else:
                e = out.softmax(dim=1)  # (B, n) posterior
                y = None if targets is None else targets[:, i]
                truth = None if y is None else F.one_hot(y.nan_to_num(0).long(), out.shape[1]).to(e.dtype)
            if truth is not None:
                e = torch.where(torch.isnan(targets[:, i])[:, None], e, truth)
            outputs[task] = out
            evidence.append(e)
        return outputs

    def forward(self, x, lengths=None, targets=None):
        h = self.dropout(self.trunk(x, lengths))  # (B, D)
        if targets is None or not (self.training and self.teacher_forcing):
            self.free_outputs = None
            return self.chain(h)
        with torch.no_grad():
            self.free_outputs = self.chain(h.detach())
        return self.chain(h, targets)


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
                adversarial=(), pitch=False, **options):
    """Build model `name` (a trunk or an alias) for input `kind`, one head per task of n_classes.

    n_classes: {task: number of classes, or 0 for a regression task}, in the order of the targets' columns
    (and of the cascade's chain). in_shape: the input's non-time dims, features.input_shape(kind) (this floor
    does not import the signal floor: the front doors pass it). options go
    to the trunk (e.g. depth="m11" for rawcnn, hidden=128 for rnn, channels=256 for xvector). spec_augment:
    extras/specaugment.spec_augment_mask's settings, applied to training batches after the input normalisation. centre:
    (C, F) bool, the rows that cepstral mean normalisation centres per window (features.cepstral_rows), or None.
    Returns an nn.Module whose forward(x, lengths=None, targets=None) gives {task: output}.
    Raises ValueError on an unknown name, a (model, kind) pair the trunk cannot read (naming the valid inputs),
    or a cascade of fewer than two tasks; TypeError when n_classes is not a non-empty dict.
    """
    if not isinstance(n_classes, dict) or not n_classes:
        raise TypeError(f"n_classes must be a non-empty dict task -> number of classes, got {n_classes!r} "
                        "(call build_model(name, kind, n_classes, in_shape))")
    check(name, kind, len(n_classes), cascade, spec_augment, centre is not None)
    trunk_name, cascade = resolve(name, cascade)
    trunk = TRUNKS[trunk_name](tuple(in_shape), **options)
    if spec_augment:
        trunk.norm.augment = dict(spec_augment)
    if centre is not None:
        trunk.norm.set_centring(centre)
    if pitch and (cascade or kind != "mfcc_f0"):
        raise ValueError("--pitch hands the heads the F0 row's statistics: it needs --input mfcc_f0, and no cascade")
    return Cascade(trunk, n_classes, dropout) if cascade else MultiHead(trunk, n_classes, dropout, adversarial, pitch)


def count_parameters(model):
    """Number of trainable parameters (weights and biases; BatchNorm running statistics not counted)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def regression_scales(model):
    """{task: std of its training targets} for the regression heads of a model (the L1 loss's unit)."""
    return {task: float(head.std) for task, head in model.heads.items() if isinstance(head, Regression)}


def multitask_loss(outputs, targets, tasks, weights=None, scales=None, label_smoothing=0.0):
    """Sum over tasks of w_task * (mean loss over the examples whose label for that task is known).

    outputs: {task: logits (B, n) or values (B,)}; targets: (B, n_tasks) float, column i for tasks[i]: a class
    index or a value, NaN = unknown. Classification: cross-entropy (with label_smoothing, Szegedy et al. 2016);
    regression: L1 in standard units, |y_hat - y| / scale (scales: {task: std of the training targets}, see
    regression_scales; 1 when missing), so a task in years weighs like one in classes. weights: {task: float}
    or None (missing tasks weigh 1.0).
    Returns (total: scalar tensor, {task: unweighted loss as float}). A task with no known label in the batch
    contributes exactly 0 (not NaN: a mean over zero examples would be 0/0).
    """
    B = next(iter(outputs.values())).shape[0]
    if targets.shape != (B, len(tasks)):
        raise ValueError(f"targets has shape {tuple(targets.shape)}, expected (B, n_tasks) = ({B}, {len(tasks)})")
    weights = weights or {}
    stray = [t for t in weights if t not in tasks]
    if stray:
        raise ValueError(f"weights name tasks {stray} not in tasks {list(tasks)}")
    total, per_task = 0.0, {}
    for i, task in enumerate(tasks):
        if task not in outputs:
            raise ValueError(f"no output for task {task!r}: the model predicts {list(outputs)}")
        y, out = targets[:, i], outputs[task]  # (B,), (B, n) or (B,)
        known = ~torch.isnan(y)  # (B,) bool
        if not known.any():
            loss = out.sum() * 0.0  # 0, still attached to the graph so backward() works
        elif out.dim() == 1:  # regression
            loss = (out[known].float() - y[known]).abs().mean() / (scales or {}).get(task, 1.0)
        else:
            loss = F.cross_entropy(out[known].float(), y[known].long(), label_smoothing=label_smoothing)
        per_task[task] = loss.item()
        total = total + weights.get(task, 1.0) * loss
    return total, per_task


if __name__ == "__main__":
    # The README's model table: parameters of every trunk for every input it reads, with the built-in corpus's
    # three tasks (age 5, gender 2, dialect 6 classes) on top (python mtl.py).
    from features import input_shape
    THREE_TASKS = {"age": 5, "gender": 2, "dialect": 6}
    for trunk in TRUNKS:
        counts = [f"{kind} {count_parameters(build_model(trunk, kind, THREE_TASKS, input_shape(kind))):,}"
                  for kind in VALID_INPUTS[trunk]]
        print(f"{trunk:8s} {' | '.join(counts)}")
