"""Options that make a profile travel to recordings unlike the training ones -- each one switched on by a flag of
train.py, plugged into the model by mtl.build_model, and skippable by a student following one run:

    WindowOptions     after the input normalisation: per-window cepstral mean normalisation (--cmn), which
                      removes a fixed channel, and SpecAugment on training batches (--augment spec)
    spec_augment_mask SpecAugment's masks (Park et al. 2019)
    PitchStatistics   each window's voiced share and F0 mean and spread, handed to the heads (--pitch)
    VocalTractStatistics   its formants and the vocal tract's length, handed to the heads (--vocal-tract)
    reverse_gradient  the identity going forward, the gradient times -1 going back (--adversary)
Torch only; nothing here is a parameter, so a model's weights load alike with or without them.

    python -m pytest tests/test_models.py tests/test_mtl.py
"""
import numpy as np
import torch
from torch import nn

import features

SPEC_AUGMENT = {"n_time": 2, "time_width": 20, "n_freq": 2, "freq_width": 2}  # masks: frames, feature rows


def cepstral_rows(kind):
    """(C, F) bool, True on the rows that cepstral mean normalisation centres (train.py --cmn): the static
    cepstra of mfcc and mfcc_f0 (their deltas have no fixed offset to remove; the F0 row is kept, its level is
    the voice itself) and every log-mel band of mel. A fixed channel adds a constant to each of them."""
    if kind == "raw":
        raise ValueError("cepstral mean normalisation works on feature rows; raw is the waveform")
    rows = np.zeros(features.input_shape(kind), dtype=bool)  # (C, F)
    rows[0, :features.N_MFCC if kind != "mel" else features.N_MELS] = True
    return rows


def spec_augment_mask(lengths, F, T, n_time=2, time_width=20, n_freq=2, freq_width=2, generator=None):
    """SpecAugment's masks (Park et al. 2019) as a (B, F, T) bool keep-mask, False inside the masks.

    n_time stripes of 0..time_width frames each, placed uniformly inside each window's real frames
    (0 <= start <= length - width), and n_freq bands of 0..freq_width feature rows, placed uniformly in [0, F).
    Drawn on the CPU from `generator` (torch's global one by default, which --resume restores).
    """
    lengths = lengths.cpu()
    B = lengths.shape[0]
    keep = torch.ones(B, F, T, dtype=torch.bool)
    for n, width_max, size, axis in ((n_time, time_width, lengths, 2), (n_freq, freq_width, torch.full((B,), F), 1)):
        steps = torch.arange(keep.shape[axis])  # (T,) or (F,)
        for _ in range(n):
            width = torch.minimum(torch.randint(0, width_max + 1, (B,), generator=generator), size)  # (B,)
            start = (torch.rand(B, generator=generator) * (size - width + 1)).long()  # (B,) in [0, size - width]
            inside = (steps[None] >= start[:, None]) & (steps[None] < (start + width)[:, None])  # (B, T) or (B, F)
            keep &= ~(inside[:, None, :] if axis == 2 else inside[:, :, None])
    return keep


class WindowOptions(nn.Module):
    """models.InputNorm's options, applied to its output x (B, C, F, T), padding already 0; mask (B, T) real frames.

    centre (C, F) bool or None: those rows are centred on their mean over the window's real frames, y -= mean_t(y)
    (cepstral mean normalisation, as Kaldi's x-vector recipes do). spec_augment (spec_augment_mask's settings) or
    None: training batches also get SpecAugment, the masked cells set to 0 -- the training mean, as padding -- in
    every channel (a masked MFCC row loses its deltas too).
    """

    def __init__(self, centre=None, spec_augment=None):
        super().__init__()
        self.register_buffer("centre", None if centre is None else torch.as_tensor(centre, dtype=torch.bool),
                             persistent=False)  # not saved: the run's config.json says so (--cmn)
        self.spec_augment = dict(spec_augment) if spec_augment else None

    def forward(self, x, mask):
        m = mask[:, None, None, :].to(x.dtype)  # (B, 1, 1, T)
        if self.centre is not None:
            window_mean = (x * m).sum(dim=-1, keepdim=True) / m.sum(dim=-1, keepdim=True)  # (B, C, F, 1)
            x = (x - window_mean * self.centre[..., None].to(x.dtype)) * m
        if self.training and self.spec_augment:
            B, C, F, T = x.shape
            keep = spec_augment_mask(mask.sum(dim=1), F, T, **self.spec_augment).to(x.device)  # (B, F, T)
            x = x * keep[:, None].to(x.dtype)
        return x


class VocalTractStatistics(nn.Module):
    """(B, 6) per window of mfcc_f0_vt: the share of real frames with formants, the vocal tract's mean length and
    its spread over them ((cm - 15) / 2, cm / 2), and the mean F1, F2, F3 in semitones re 50 Hz ((st - 55) / 10).
    The tube's length follows the speaker's size, not the mood (features.py rows 14-18; formants.py)."""
    dim = 6

    def forward(self, x, lengths):
        rows, length = x[:, 0, 14:19, :], x[:, 0, 18, :]  # (B, 5, T) F1..F4 st and cm; (B, T) cm, 0 = no formants
        real = torch.arange(x.shape[-1], device=x.device)[None, :] < lengths[:, None]  # (B, T)
        valid = (length > 0) & real  # (B, T)
        n = valid.sum(dim=-1).clamp(min=1)  # (B,) (a window without formants gives zeros, not NaN)
        mean = (rows * valid[:, None]).sum(dim=-1) / n[:, None]  # (B, 5)
        spread = (((length - mean[:, 4:5]) ** 2 * valid).sum(dim=-1) / n).sqrt()  # (B,) cm
        some = valid.any(dim=-1)  # (B,)
        return torch.stack([valid.sum(dim=-1) / lengths.clamp(min=1), torch.where(some, (mean[:, 4] - 15) / 2, 0.0),
                            spread / 2, *[torch.where(some, (mean[:, i] - 55) / 10, 0.0) for i in range(3)]], dim=1)


class Statistics(nn.Module):
    """The heads' extra inputs: the chosen statistics modules' outputs side by side, (B, sum of their dims)."""

    def __init__(self, parts):
        super().__init__()
        self.parts, self.dim = nn.ModuleList(parts), sum(p.dim for p in parts)

    def forward(self, x, lengths):
        return torch.cat([p(x, lengths) for p in self.parts], dim=1)


class PitchStatistics(nn.Module):
    """(B, 3) per window of mfcc_f0: the voiced share of the real frames, the mean and the standard deviation of the
    F0 row (static row 13: semitones above 50 Hz on voiced frames, 0 elsewhere) over the voiced frames, scaled by
    fixed numbers to about unit size ((st - 20) / 6, st / 6). For adults this is most of what gender is, and no
    microphone or room changes it: train.py --pitch hands it to the heads beside the trunk's embedding."""
    dim = 3

    def forward(self, x, lengths):
        f0 = x[:, 0, features.N_MFCC, :]  # (B, T) semitones, 0 on unvoiced frames
        real = torch.arange(x.shape[-1], device=x.device)[None, :] < lengths[:, None]  # (B, T)
        voiced = (f0 > 0) & real  # (B, T)
        n = voiced.sum(dim=-1).clamp(min=1)  # (B,) voiced frames (at least 1: a silent window gives zeros, not NaN)
        mean = (f0 * voiced).sum(dim=-1) / n  # (B,)
        std = (((f0 - mean[:, None]) ** 2 * voiced).sum(dim=-1) / n).sqrt()  # (B,)
        share = voiced.sum(dim=-1) / lengths.clamp(min=1)  # (B,)
        return torch.stack([share, torch.where(voiced.any(dim=-1), (mean - 20.0) / 6.0, 0.0), std / 6.0], dim=1)


class GradientReversal(torch.autograd.Function):
    """The identity going forward, the gradient times -1 going back (Ganin & Lempitsky 2015): a head behind it
    learns to tell corpora apart while the trunk, pushed the other way, learns embeddings in which it cannot."""

    @staticmethod
    def forward(ctx, h):
        return h.view_as(h)

    @staticmethod
    def backward(ctx, grad):
        return -grad


def reverse_gradient(h):
    """h (B, D) unchanged; its gradient reversed on the way back (GradientReversal)."""
    return GradientReversal.apply(h)
