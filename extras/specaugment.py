"""SpecAugment (Park et al. 2019): time and feature-row masks on training batches, after the input normalisation.

models.InputNorm applies it when a trunk is built with spec_augment settings (train.py --augment spec): the masked
cells are set to 0 -- the training mean -- in every channel, so a masked MFCC row loses its deltas too. Drawn on
the CPU from torch's generator, which --resume restores.

    python -m pytest tests/test_models.py -k spec_augment
"""
import torch


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
