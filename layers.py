"""Model floor: the pieces every trunk is built from -- lengths and masks, masked statistics pooling, the fixed
input normalisation, SpecAugment's masks, the slides' conv block.

**Lengths.** A clip shorter than the window is padded; `lengths[b]` says how many frames (samples for raw) of
window b are real. Padding never enters a statistic: the input normalisation zeroes it, every pooling is a
masked mean/std over real frames only, and the recurrent trunks read their state at the last real frame. So a
1.5 s clip gets the same embedding whether it is padded to 400 or 600 frames (tests/test_models.py).

**Input normalisation.** Features arrive in their units (MFCC in dB-scaled hundreds, the F0 row in semitones,
log-mel in dB). Every frame trunk starts with `InputNorm`: each row is standardised with the mean and standard
deviation of that row over every real training frame (CMVN, computed once by the data floor and passed in;
saved with the weights). It is fixed, not learnt per batch, so padding cannot move it and several processes
(torchrun) normalise identically. With `centre` (train.py --cmn) the cepstral rows are then also centred on
their own mean over the window's real frames -- cepstral mean normalisation, as Kaldi's x-vector recipes do:
a fixed channel (a microphone, a telephone line) adds a constant to every cepstral row, and this removes it.
(Reverberation lasts longer than a frame, so it is no constant, and CMN does not remove it.)

    python -m pytest tests/test_models.py
"""
import torch
from torch import nn


# ----------------------------------------------------------------------------- lengths and masks
def full_lengths(x, lengths):
    """lengths as a long tensor on x's device; None means every window is real to its end."""
    if lengths is None:
        return torch.full((x.shape[0],), x.shape[-1], dtype=torch.long, device=x.device)
    return lengths.to(device=x.device, dtype=torch.long).clamp(1, x.shape[-1])


def frame_mask(lengths, T):
    """(B,) real lengths -> (B, T) bool, True on real frames."""
    return torch.arange(T, device=lengths.device)[None, :] < lengths[:, None]  # (B, T)


def pooled_lengths(lengths, factor):
    """Real length after a pooling by `factor`: ceil(lengths / factor), at least 1 (a partial last step is real)."""
    return ((lengths + factor - 1) // factor).clamp(min=1)


def masked_stats(x, mask, eps=1e-5):
    """Mean and standard deviation of x (B, ..., T) over the frames where mask (B, T) is True.

    -> (B, 2 * prod(...)): [mean, std] of every row, std = sqrt(var + eps) (population variance; eps keeps the
    gradient finite when a single real frame has no spread).
    """
    m = mask.reshape(mask.shape[0], *([1] * (x.dim() - 2)), mask.shape[1]).to(x.dtype)  # (B, 1.., T)
    n = m.sum(dim=-1)  # (B, 1..) real frames
    mean = (x * m).sum(dim=-1) / n  # (B, ...)
    var = ((x - mean.unsqueeze(-1)) ** 2 * m).sum(dim=-1) / n  # (B, ...)
    return torch.cat([mean.flatten(1), torch.sqrt(var + eps).flatten(1)], dim=1)  # (B, 2 * rows)


def last_real_step(out, lengths):
    """out (B, T, H) -> (B, H): each sequence's output at its last real step."""
    index = (lengths - 1).clamp(min=0)[:, None, None].expand(-1, 1, out.shape[-1])  # (B, 1, H)
    return out.gather(1, index).squeeze(1)  # (B, H)


def check_length(x, min_length, name):
    """Raise ValueError when the last (time) axis of x is shorter than `min_length` frames or samples."""
    if x.shape[-1] < min_length:
        raise ValueError(f"{name}: input has {x.shape[-1]} steps on its last axis, needs at least {min_length}")


# ----------------------------------------------------------------------------- input normalisation, SpecAugment
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


class InputNorm(nn.Module):
    """Fixed per-row standardisation (CMVN): (B, C, F, T) -> (B, C, F, T), padding set to 0.

    y = (x - mean_row) / std_row on real frames, 0 on padding; mean and std (C, F) are buffers (saved with the
    state_dict), identity until set_statistics() gives them the training set's values. On the rows that
    set_centring() marks, y is then centred on its mean over the window's real frames: y -= mean_t(y). When
    `augment` holds spec_augment_mask's settings, training batches also get SpecAugment: the masked cells are set to 0 -- the
    training mean, as padding -- in every channel (a masked MFCC row loses its deltas too).
    """

    def __init__(self, in_shape):
        super().__init__()
        C, F = in_shape
        self.register_buffer("mean", torch.zeros(C, F))
        self.register_buffer("std", torch.ones(C, F))
        self.register_buffer("centre", torch.zeros(C, F, dtype=torch.bool), persistent=False)  # rows to CMN
        self.centring = False  # whether any row is centred (a Python flag: no GPU sync in forward)
        self.augment = None  # e.g. {"n_time": 2, "time_width": 20, "n_freq": 2, "freq_width": 2}

    def set_statistics(self, mean, std):
        """mean, std: array-likes of shape (C, F) in feature units; std is floored at 1e-3 (a constant row)."""
        self.mean.copy_(torch.as_tensor(mean, dtype=torch.float32).reshape(self.mean.shape))
        self.std.copy_(torch.as_tensor(std, dtype=torch.float32).reshape(self.std.shape).clamp(min=1e-3))

    def set_centring(self, rows):
        """rows: (C, F) bool, True for the rows that are centred on their mean over each window's real frames
        (cepstral mean normalisation). Not saved with the weights: the run's config.json says so (--cmn)."""
        rows = torch.as_tensor(rows, dtype=torch.bool)
        assert rows.shape == self.centre.shape, f"centring rows {tuple(rows.shape)}, expected {tuple(self.centre.shape)}"
        self.centre.copy_(rows)
        self.centring = bool(rows.any())

    def forward(self, x, mask):
        x = (x - self.mean[..., None]) / self.std[..., None]  # (B, C, F, T)
        keep = mask[:, None, None, :]  # (B, 1, 1, T)
        if self.centring:  # per-window mean of every row over real frames, taken off the centred rows
            m = keep.to(x.dtype)  # (B, 1, 1, T)
            window_mean = (x * m).sum(dim=-1, keepdim=True) / m.sum(dim=-1, keepdim=True)  # (B, C, F, 1)
            x = x - window_mean * self.centre[..., None].to(x.dtype)
        if self.training and self.augment:
            B, C, F, T = x.shape
            keep = keep & spec_augment_mask(mask.sum(dim=1), F, T, **self.augment).to(x.device)[:, None]
        return x * keep.to(x.dtype)  # padding (and masked cells) -> 0, the training mean


def conv_block(c_in, c_out, batch_norm):
    """Conv 3x3 (same padding) -> [BatchNorm] -> ReLU -> MaxPool 2x2: (B, c_in, F, T) -> (B, c_out, F//2, T//2)."""
    layers = [nn.Conv2d(c_in, c_out, kernel_size=3, padding=1)]
    if batch_norm:
        layers.append(nn.BatchNorm2d(c_out))
    layers += [nn.ReLU(), nn.MaxPool2d(2)]
    return nn.Sequential(*layers)


def masked_conv(blocks, x, lengths):
    """Run 2x-pooling conv blocks, zeroing padded frames after each: -> (x, lengths, mask) at the output rate."""
    for block in blocks:
        x = block(x)  # (B, c, F/2, T/2)
        lengths = pooled_lengths(lengths, 2)
        mask = frame_mask(lengths, x.shape[-1])  # (B, T/2)
        x = x * mask[:, None, None, :].to(x.dtype)
    return x, lengths, mask
