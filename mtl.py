"""Task heads, multi-task models and the multi-task loss: embeddings in, a dict of logits out.

A model here is a trunk from models.py plus one linear head per task; forward(x) returns
{task: logits (B, n_classes[task])}. The names train.py accepts for --model (MODELS):
    cnn, mel_cnn, rnn, clstm, rawcnn, logreg   single task: the trunk + one linear head
    hps        hard parameter sharing (Caruana 1997): one shared trunk, one linear head per task
    lstm_mtl   the slides' LSTM-based MTL: a shared 2-layer LSTM over frames, one head per task
    cascade    the slides' "model connection": gender -> age -> dialect, each later head also sees the
               earlier heads' posteriors (does knowing "a man in his 60s" help to tell the dialect?)
The loss is a plain function: the sum over tasks of the mean cross-entropy over the examples whose label is
known (-1 = unknown, an empty manifest cell), so an unknown label sends no gradient to that task's head.

Test: python -m pytest tests/test_mtl.py
"""
import torch
import torch.nn.functional as F
from torch import nn

from models import TRUNKS, VALID_INPUTS

MULTI_TASK = ("hps", "lstm_mtl", "cascade")
MODELS = tuple(TRUNKS) + MULTI_TASK
CASCADE_ORDER = ("gender", "age", "dialect")  # the chain: each task is conditioned on those before it

# Non-time dims of each input kind; mirrors features.input_shape (this floor does not import features.py).
# Pass in_shape= to build_model to override, e.g. for another number of mel bands.
INPUT_SHAPES = {"mfcc_f0": (3, 14), "mfcc": (3, 13), "mel": (1, 64), "raw": (1,)}


class MultiHead(nn.Module):
    """A trunk and one linear head per task: x -> embedding (B, D) -> {task: logits (B, n_classes[task])}."""

    def __init__(self, trunk, n_classes):
        super().__init__()
        self.trunk = trunk
        self.tasks = list(n_classes)
        self.heads = nn.ModuleDict({task: nn.Linear(trunk.out_dim, n) for task, n in n_classes.items()})

    def forward(self, x):
        h = self.trunk(x)  # (B, D)
        return {task: head(h) for task, head in self.heads.items()}  # {task: (B, n_classes[task])}


class Cascade(nn.Module):
    """The slides' "model connection": predict gender, then age, then dialect, each from more evidence.

    With embedding h (B, D) and posteriors p = softmax(logits):
        gender  = W_g h
        age     = W_a [h, p_gender]
        dialect = W_d [h, p_gender, p_age]
    Posteriors (not embeddings) are concatenated: they are small (2 + 5 numbers), readable ("how male does this
    voice sound"), and they are exactly what teacher forcing can replace with a one-hot truth. Gradients flow
    through the posteriors, so the dialect loss also trains the gender and age heads.

    Any two or three of gender, age, dialect may be used; the chain always runs in CASCADE_ORDER and a task is
    conditioned on those earlier ones that are present (e.g. gender + dialect: dialect sees p_gender).

    forward(x, targets=None, teacher_forcing=False): with teacher_forcing, targets (B, n_tasks) long (columns in
    the order of the n_classes keys, -1 = unknown) replaces each posterior by the one-hot of the true label where
    it is known and keeps the predicted posterior where it is not. Use it in training only; at test time there
    are no labels, so a teacher-forced model meets its own (noisier) posteriors for the first time.
    """

    def __init__(self, trunk, n_classes):
        super().__init__()
        unknown = [t for t in n_classes if t not in CASCADE_ORDER]
        if unknown or len(n_classes) < 2:
            raise ValueError(f"cascade needs two or three of {CASCADE_ORDER}, got tasks {list(n_classes)}")
        self.trunk = trunk
        self.tasks = list(n_classes)  # column order of `targets`
        self.chain = [t for t in CASCADE_ORDER if t in n_classes]
        heads, extra = {}, 0
        for task in self.chain:
            heads[task] = nn.Linear(trunk.out_dim + extra, n_classes[task])
            extra += n_classes[task]  # later heads also read this task's posterior
        self.heads = nn.ModuleDict(heads)

    def forward(self, x, targets=None, teacher_forcing=False):
        if teacher_forcing and targets is None:
            raise ValueError("cascade: teacher_forcing=True needs targets (B, n_tasks)")
        h = self.trunk(x)  # (B, D)
        logits, evidence = {}, [h]
        for task in self.chain:
            logits[task] = self.heads[task](torch.cat(evidence, dim=1))  # (B, n_classes[task])
            p = logits[task].softmax(dim=1)  # (B, n_classes[task]) posterior
            if teacher_forcing:
                y = targets[:, self.tasks.index(task)]  # (B,) true labels, -1 = unknown
                known = (y >= 0).unsqueeze(1)  # (B, 1)
                one_hot = F.one_hot(y.clamp(min=0), p.shape[1]).to(p.dtype)  # (B, n_classes[task])
                p = torch.where(known, one_hot, p)
            evidence.append(p)
        return logits


def valid_inputs(name, trunk="cnn"):
    """The input kinds model `name` accepts (for hps and cascade: those of its shared trunk)."""
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}: expected one of {', '.join(MODELS)}")
    if name in ("hps", "cascade"):
        return VALID_INPUTS[trunk]
    if name == "lstm_mtl":
        return VALID_INPUTS["rnn"]
    return VALID_INPUTS[name]


def build_model(name, kind, n_classes, in_shape=None, **options):
    """Build model `name` for input `kind` with one head per task of n_classes {task: number of classes}.

    in_shape: the input's non-time dims; default INPUT_SHAPES[kind]. options go to the trunk (e.g. depth="m11"
    for rawcnn, hidden=128 for rnn); hps and cascade also take trunk="cnn" (any name in models.TRUNKS).
    Returns an nn.Module whose forward(x) gives {task: logits (B, n_classes[task])}.
    Raises ValueError on an unknown name, a (model, kind) pair the model cannot read (naming the valid
    inputs), more than one task for a single-task model, or tasks a cascade cannot chain; TypeError when
    n_classes is not a dict (e.g. in_shape passed in its place).
    """
    if not isinstance(n_classes, dict) or not n_classes:
        raise TypeError(f"n_classes must be a non-empty dict task -> number of classes, got {n_classes!r} "
                        "(call build_model(name, kind, n_classes, in_shape=...))")
    trunk_name = options.pop("trunk", "cnn") if name in ("hps", "cascade") else None
    if trunk_name is not None and trunk_name not in TRUNKS:
        raise ValueError(f"{name}: unknown trunk {trunk_name!r}: expected one of {', '.join(TRUNKS)}")
    allowed = valid_inputs(name, trunk_name)
    if kind not in allowed:
        raise ValueError(f"model {name!r} cannot read input {kind!r}: valid inputs are {', '.join(allowed)}")
    if name in TRUNKS and len(n_classes) != 1:
        raise ValueError(f"model {name!r} is single-task, got {len(n_classes)} tasks {list(n_classes)}: "
                         f"pass one task, or use one of {', '.join(MULTI_TASK)}")
    in_shape = tuple(in_shape) if in_shape is not None else INPUT_SHAPES[kind]

    if name == "lstm_mtl":
        trunk = TRUNKS["rnn"](in_shape, **{"cell": "lstm", **options})
    else:
        trunk = TRUNKS[trunk_name or name](in_shape, **options)
    if name == "cascade":
        return Cascade(trunk, n_classes)
    return MultiHead(trunk, n_classes)


def count_parameters(model):
    """Number of trainable parameters (weights and biases; BatchNorm running statistics not counted)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def multitask_loss(logits, targets, tasks, weights=None):
    """Sum over tasks of w_task * mean cross-entropy over the examples whose label for that task is known.

    logits: {task: (B, n_classes[task])}; targets: (B, n_tasks) long, column i for tasks[i], -1 = unknown;
    weights: {task: float} or None (missing tasks weigh 1.0).
    Returns (total: scalar tensor, {task: unweighted loss as float}). A task with no known label in the batch
    contributes exactly 0 (not NaN: F.cross_entropy's mean over zero examples would be 0/0).
    """
    B = next(iter(logits.values())).shape[0]
    if targets.shape != (B, len(tasks)):
        raise ValueError(f"targets has shape {tuple(targets.shape)}, expected (B, n_tasks) = ({B}, {len(tasks)})")
    weights = weights or {}
    stray = [t for t in weights if t not in tasks]
    if stray:
        raise ValueError(f"weights name tasks {stray} not in tasks {list(tasks)}")
    total, per_task = 0.0, {}
    for i, task in enumerate(tasks):
        if task not in logits:
            raise ValueError(f"no logits for task {task!r}: the model predicts {list(logits)}")
        y = targets[:, i]  # (B,)
        known = y >= 0  # (B,) bool
        if known.any():
            loss = F.cross_entropy(logits[task][known], y[known])  # mean over the known examples
        else:
            loss = logits[task].sum() * 0.0  # 0, still attached to the graph so backward() works
        per_task[task] = loss.item()
        total = total + weights.get(task, 1.0) * loss
    return total, per_task


if __name__ == "__main__":
    # The README's table: parameters of every model for every input it accepts (python mtl.py).
    ALL_TASKS = {"age": 5, "gender": 2, "dialect": 6}  # classes per task in the built-in corpus
    for name in MODELS:
        n_classes = ALL_TASKS if name in MULTI_TASK else {"gender": 2}
        counts = [f"{kind} {count_parameters(build_model(name, kind, n_classes)):,}"
                  for kind in valid_inputs(name)]
        print(f"{name:9s} {' | '.join(counts)}")
