"""The cascade: the original project's "model connection", an option of any trunk (train.py --cascade, or
--model cascade = cnn + a cascade) that mtl.build_model plugs in. Does knowing "a man in his 60s" help to tell
the dialect? Each head reads the embedding and every earlier head's answer.

    python -m pytest tests/test_mtl.py -k cascade
"""
import torch
import torch.nn.functional as F
from torch import nn


class Cascade(nn.Module):
    """The original project's "model connection": the tasks in the given order, each head reading the earlier
    outputs. n_classes as mtl.build_model's; make_head(dim, n) builds a head (mtl.make_head).

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

    def __init__(self, trunk, n_classes, make_head, dropout=0.0, teacher_forcing=True):
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
        self.numeric = {task for task, n in n_classes.items() if n == 0}  # regression heads: a value, not classes
        self.free_outputs = None

    def chain(self, h, targets=None):
        outputs, evidence = {}, [h]
        for i, (task, head) in enumerate(self.heads.items()):
            out = head(torch.cat(evidence, dim=1))  # (B, n) logits or (B,) value
            if task in self.numeric:  # mtl.Regression: mean and std of the training targets
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
