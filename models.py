"""Models: trunks -- networks that turn a batch of feature windows into one embedding per example -- and the
pieces they are built from (lengths and masks, masked statistics pooling, the fixed input normalisation).

Every trunk maps x (B, *in_shape, L) and lengths (B,) to an embedding (B, D) and says D in `out_dim`; the task
heads live in mtl.py, so any trunk serves one task or several.
    cnn       the original project's MFCC CNN, + statistics pooling mel_cnn   its log-mel CNN
    rnn       vanilla many-to-one RNN                               lstm      the same with an LSTM cell
    clstm     conv front end, then an LSTM                          rawcnn    Dai et al. 2016 M5/M11/M18
    logreg    per-row mean and std: logistic regression's input     xvector   Snyder et al. 2018 TDNN
Inputs (features.py): "mfcc_f0" (B, 3, 14, T), "mfcc" (B, 3, 13, T), "mel" (B, 1, 64, T), "raw" (B, 1, N); T in
frames (10 ms, 400 in a 4 s window), N in samples (64000 = 4 s at 16 kHz).

**Lengths.** A clip shorter than the window is padded; `lengths[b]` says how many steps of window b are real.
Padding never enters a statistic: the input normalisation zeroes it, every pooling is a masked mean over real
frames, and the recurrent trunks read their state at the last real frame, so a 1.5 s clip gets the same
embedding padded to 400 or 600 frames (tests/test_models.py). Every frame trunk starts with `InputNorm`.

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


def masked_mean(x, mask, keepdim=False):
    """Mean of x (B, ..., T) over the frames where mask (B, T) is True -> (B, ...) (or (B, ..., 1) with keepdim).

    mean = sum_t m_t x_t / sum_t m_t: padding (m_t = 0) never enters it. The one masked mean of every trunk."""
    m = mask.reshape(mask.shape[0], *([1] * (x.dim() - 2)), mask.shape[1]).to(x.dtype)  # (B, 1.., T)
    return (x * m).sum(dim=-1, keepdim=keepdim) / m.sum(dim=-1, keepdim=keepdim)


def masked_stats(x, mask, eps=1e-5):
    """Mean and standard deviation of x (B, ..., T) over the frames where mask (B, T) is True.

    -> (B, 2 * prod(...)): [mean, std] of every row, std = sqrt(var + eps) (population variance; eps keeps the
    gradient finite when a single real frame has no spread)."""
    mean = masked_mean(x, mask, keepdim=True)  # (B, ..., 1)
    var = masked_mean((x - mean) ** 2, mask)  # (B, ...)
    return torch.cat([mean.flatten(1), torch.sqrt(var + eps).flatten(1)], dim=1)  # (B, 2 * rows)


def last_real_step(out, lengths):
    """out (B, T, H) -> (B, H): each sequence's output at its last real step."""
    index = (lengths - 1).clamp(min=0)[:, None, None].expand(-1, 1, out.shape[-1])  # (B, 1, H)
    return out.gather(1, index).squeeze(1)  # (B, H)


def real_lengths(x, lengths, min_length, name):
    """full_lengths(x, lengths), after a ValueError if x's last (time) axis is shorter than min_length steps."""
    if x.shape[-1] < min_length:
        raise ValueError(f"{name}: input has {x.shape[-1]} steps on its last axis, needs at least {min_length}")
    return full_lengths(x, lengths)


# ----------------------------------------------------------------------------- input normalisation
class InputNorm(nn.Module):
    """Fixed per-row standardisation (CMVN): (B, C, F, T) -> (B, C, F, T), padding set to 0.

    y = (x - mean_row) / std_row on real frames, 0 on padding; mean and std (C, F) are buffers saved with the
    state_dict, identity until set_statistics() gives them every real training frame's (data.Features.statistics).
    Fixed, not learnt per batch: padding cannot move it, and torchrun's processes normalise alike. `options`, when
    a run asks for them (extras/robust.WindowOptions: per-window CMN, SpecAugment), then act on y."""

    def __init__(self, in_shape):
        super().__init__()
        C, F = in_shape
        self.register_buffer("mean", torch.zeros(C, F))
        self.register_buffer("std", torch.ones(C, F))
        self.options = None  # mtl.build_model's seam: extras/robust.WindowOptions, for --cmn and --augment spec

    def set_statistics(self, mean, std):
        """mean, std: array-likes of shape (C, F) in feature units; std is floored at 1e-3 (a constant row)."""
        self.mean.copy_(torch.as_tensor(mean, dtype=torch.float32).reshape(self.mean.shape))
        self.std.copy_(torch.as_tensor(std, dtype=torch.float32).reshape(self.std.shape).clamp(min=1e-3))

    def forward(self, x, mask):
        x = (x - self.mean[..., None]) / self.std[..., None]  # (B, C, F, T)
        x = x * mask[:, None, None, :].to(x.dtype)  # padding -> 0, the training mean
        return x if self.options is None else self.options(x, mask)


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


FRAMES = ("mfcc", "mfcc_f0", "mel", "mfcc_f0_vt")  # the inputs of feature rows over frames
VALID_INPUTS = {"cnn": ("mfcc", "mfcc_f0", "mfcc_f0_vt"), "mel_cnn": ("mel",), "rnn": FRAMES, "lstm": FRAMES,
                "clstm": FRAMES, "rawcnn": ("raw",), "logreg": FRAMES, "xvector": FRAMES}


# ----------------------------------------------------------------------------- the original project's trunks
class CNN(nn.Module):
    """The original project's MFCC CNN on (B, 3, F, T), F = 13 (mfcc) or 14 (mfcc_f0) -> embedding (B, emb_dim).

    Zero-pad two rows above and below the feature axis (F + 4 rows, so the 3x3 kernels see the edge coefficients as
    often as the middle ones), [Conv -> ReLU -> MaxPool] x 2, statistics pooling over time, then two fully connected
    layers; the second one's output (after ReLU) is the embedding. Deviations from the original: the InputNorm in front,
    and statistics pooling -- the mean AND the standard deviation of every (channel, feature row) over the real frames,
    as in x-vectors (Snyder et al. 2018) -- instead of flattening a fixed 400-frame map: T may vary, the FC stays small,
    and the spread carries what a mean cannot (pitch range, voice-quality variation). min_length = 4 frames."""

    def __init__(self, in_shape, channels=(16, 32), hidden=128, emb_dim=64):
        super().__init__()
        C, F = in_shape
        self.min_length = 4  # frames: two MaxPool(2) in time
        self.norm = InputNorm(in_shape)
        self.pad = nn.ZeroPad2d((0, 0, 2, 2))  # (left, right, top, bottom): 2 rows each side of the feature axis
        self.conv = nn.ModuleList([conv_block(C, channels[0], False), conv_block(channels[0], channels[1], False)])
        f_out = (F + 4) // 2 // 2  # feature rows left after two 2x poolings (4 for F = 13 or 14)
        self.fc = nn.Sequential(nn.Linear(2 * channels[1] * f_out, hidden), nn.ReLU(),
                                nn.Linear(hidden, emb_dim), nn.ReLU())
        self.out_dim = emb_dim

    def forward(self, x, lengths=None):
        lengths = real_lengths(x, lengths, self.min_length, "cnn")
        x = self.pad(self.norm(x, frame_mask(lengths, x.shape[-1])))  # (B, C, F+4, T)
        x, lengths, mask = masked_conv(self.conv, x, lengths)  # (B, c2, (F+4)//4, T//4)
        return self.fc(masked_stats(x, mask))  # (B, 2*c2*(F+4)//4) -> (B, emb_dim)


class MelCNN(nn.Module):
    """The original project's log-mel CNN on (B, 1, n_mels, T): [Conv -> BatchNorm -> ReLU -> MaxPool] x 4, 2 FCs.

    Channels double per block (8 -> 64 by default, small enough to train on a CPU); the mean over the real
    frames after the convolutions feeds the FCs. min_length = 16 frames (four 2x poolings)."""

    def __init__(self, in_shape, channels=(8, 16, 32, 64), hidden=128, emb_dim=64):
        super().__init__()
        C, F = in_shape
        self.min_length = 16  # frames: four MaxPool(2) in time
        self.norm = InputNorm(in_shape)
        self.conv = nn.ModuleList([conv_block(c_in, c_out, True) for c_in, c_out in zip((C,) + channels, channels)])
        f_out = F // 2 ** len(channels)  # mel rows left after the poolings (64 -> 4)
        self.fc = nn.Sequential(nn.Linear(channels[-1] * f_out, hidden), nn.ReLU(),
                                nn.Linear(hidden, emb_dim), nn.ReLU())
        self.out_dim = emb_dim

    def forward(self, x, lengths=None):
        lengths = real_lengths(x, lengths, self.min_length, "mel_cnn")
        x = self.norm(x, frame_mask(lengths, x.shape[-1]))  # (B, 1, n_mels, T)
        x, lengths, mask = masked_conv(self.conv, x, lengths)  # (B, c4, n_mels//16, T//16)
        x = masked_mean(x, mask)  # (B, c4, n_mels//16): mean over real frames
        return self.fc(x.flatten(1))  # (B, emb_dim)


class RNN(nn.Module):
    """Many-to-one recurrent net over frames: (B, C, F, T) -> (B, T, C*F) -> hidden output at the last real frame.

    cell="rnn" is the original project's vanilla tanh RNN (2 layers). Its lesson: the embedding is the state after
    the LAST frame, and the gradient reaching frame t shrinks roughly like |dh_T/dh_t| ~ rho^(T-t), rho < 1, so
    over 400 frames the model effectively hears only the final few dozen. Clip gradients in training (train.py
    does). cell="lstm" (the `lstm` trunk) swaps in an LSTM, whose additive cell state carries information across
    hundreds of steps. Padding comes after the last real frame, so it never reaches the output. min_length = 1."""

    def __init__(self, in_shape, hidden=64, num_layers=2, cell="rnn"):
        super().__init__()
        C, F = in_shape
        if cell not in ("rnn", "lstm"):
            raise ValueError(f"cell={cell!r}: expected 'rnn' or 'lstm'")
        self.name, self.min_length = cell, 1  # frames
        self.norm = InputNorm(in_shape)
        recurrent = nn.RNN if cell == "rnn" else nn.LSTM
        self.rnn = recurrent(C * F, hidden, num_layers=num_layers, batch_first=True)
        self.out_dim = hidden

    def forward(self, x, lengths=None):
        lengths = real_lengths(x, lengths, self.min_length, self.name)
        B, C, F, T = x.shape  # batch, channels, features, frames
        x = self.norm(x, frame_mask(lengths, T)).reshape(B, C * F, T).transpose(1, 2)  # (B, T, C*F)
        out, _ = self.rnn(x)  # (B, T, hidden): top layer's output at every step
        return last_real_step(out, lengths)  # (B, hidden)


def LSTM(in_shape, **options):
    """The `lstm` trunk: RNN with an LSTM cell (the original project's LSTM-based multi-task model, lstm_mtl)."""
    return RNN(in_shape, **{"cell": "lstm", **options})


class CLSTM(nn.Module):
    """The original project's CLSTM: a conv front end over (features, time), then an LSTM over the pooled frames.

    (B, C, F, T) -> [Conv -> ReLU -> MaxPool] x 2 -> (B, c2, F//4, T//4) -> (B, T//4, c2*F//4) -> LSTM ->
    output at the last real step (B, hidden). The conv layers find local spectro-temporal patterns and shorten
    the sequence 4x (400 -> 100 steps) before the LSTM. min_length = 4 frames."""

    def __init__(self, in_shape, channels=(16, 32), hidden=64):
        super().__init__()
        C, F = in_shape
        self.min_length = 4  # frames: two MaxPool(2) in time
        self.norm = InputNorm(in_shape)
        self.conv = nn.ModuleList([conv_block(C, channels[0], False), conv_block(channels[0], channels[1], False)])
        self.lstm = nn.LSTM(channels[1] * (F // 4), hidden, batch_first=True)
        self.out_dim = hidden

    def forward(self, x, lengths=None):
        lengths = real_lengths(x, lengths, self.min_length, "clstm")
        x = self.norm(x, frame_mask(lengths, x.shape[-1]))
        x, lengths, _ = masked_conv(self.conv, x, lengths)  # (B, c2, F//4, T//4)
        B, C2, F4, T4 = x.shape  # batch, conv channels, pooled features, pooled frames
        out, _ = self.lstm(x.reshape(B, C2 * F4, T4).transpose(1, 2))  # (B, T//4, hidden)
        return last_real_step(out, lengths)  # (B, hidden)


# Dai et al. 2016, Table 1, as (channels of the first conv [kernel 80, stride 4], stages as (channels, number of
# kernel-3 convs), whether a MaxPool(4) follows the last stage). A MaxPool(4) follows the first conv and every
# other stage; global average pooling ends all three. Paper's sizes: M5 0.5M, M11 1.8M, M18 3.7M parameters.
RAWCNN_DEPTHS = {
    "m5": (128, ((128, 1), (256, 1), (512, 1)), True),
    "m11": (64, ((64, 2), (128, 2), (256, 3), (512, 2)), False),
    "m18": (64, ((64, 4), (128, 4), (256, 4), (512, 4)), False),
}


class RawCNN(nn.Module):
    """Dai et al. 2016 raw-waveform CNN on (B, 1, N) samples -> embedding (B, 512).

    First conv: kernel 80 samples (5 ms at 16 kHz; the paper's 10 ms at 8 kHz), stride 4, then BatchNorm, ReLU,
    MaxPool(4); then kernel-3 convs (same padding) each with BatchNorm and ReLU, a MaxPool(4) between stages; global
    average pooling over the real steps. min_length = 1100 samples (the first conv must leave >= 4^4 = 256 steps)."""

    def __init__(self, in_shape, depth="m5"):
        super().__init__()
        if depth not in RAWCNN_DEPTHS:
            raise ValueError(f"rawcnn depth={depth!r}: expected one of {sorted(RAWCNN_DEPTHS)}")
        (C,) = in_shape
        first, stages, pool_last = RAWCNN_DEPTHS[depth]
        self.min_length = 80 + 4 * (4 ** 4 - 1)  # samples: 256 outputs of the stride-4 first conv, four MaxPool(4)
        layers = [nn.Conv1d(C, first, kernel_size=80, stride=4), nn.BatchNorm1d(first), nn.ReLU(), nn.MaxPool1d(4)]
        c_in = first
        for i, (c_out, n_convs) in enumerate(stages):
            for _ in range(n_convs):
                layers += [nn.Conv1d(c_in, c_out, kernel_size=3, padding=1), nn.BatchNorm1d(c_out), nn.ReLU()]
                c_in = c_out
            if i < len(stages) - 1 or pool_last:
                layers.append(nn.MaxPool1d(4))
        self.conv = nn.Sequential(*layers)
        self.n_pools = sum(isinstance(layer, nn.MaxPool1d) for layer in layers)
        self.out_dim = c_in

    def forward(self, x, lengths=None):
        lengths = real_lengths(x, lengths, self.min_length, "rawcnn")  # samples
        x = x * frame_mask(lengths, x.shape[-1])[:, None, :].to(x.dtype)  # padding -> silence, whatever it held
        x = self.conv(x)  # (B, 512, about N / 1024): stride 4, then MaxPool(4)s
        steps = ((lengths - 80) // 4 + 1).clamp(min=1)  # outputs of the stride-4 first conv
        for _ in range(self.n_pools):
            steps = pooled_lengths(steps, 4)
        return masked_mean(x, frame_mask(steps.clamp(max=x.shape[-1]), x.shape[-1]))  # (B, 512): over real steps


class LogReg(nn.Module):
    """Utterance statistics for the logistic-regression baseline: (B, C, F, T) -> (B, 2*C*F).

    Each row is standardised by InputNorm (training-set mean and std of that row), then summarised over the real frames
    by its mean and its standard deviation. With mtl.py's linear head on top this is exactly multinomial logistic
    regression on these statistics. baseline.py is the tuned, whole-clip version of this idea. min_length = 1 frame."""

    def __init__(self, in_shape):
        super().__init__()
        C, F = in_shape
        self.min_length = 1  # frames
        self.norm = InputNorm(in_shape)
        self.out_dim = 2 * C * F

    def forward(self, x, lengths=None):
        lengths = real_lengths(x, lengths, self.min_length, "logreg")
        mask = frame_mask(lengths, x.shape[-1])  # (B, T)
        return masked_stats(self.norm(x, mask).flatten(1, 2), mask)  # (B, C*F, T) -> (B, 2*C*F)


class XVector(nn.Module):
    """The x-vector trunk (Snyder et al. 2018, Table 1), sized for a CPU: TDNN frame layers, statistics pooling,
    a segment layer whose output is the embedding.

    (B, C, F, T) -> (B, C*F, T) -> frame1 context [t-2, t+2] -> frame2 {t-2, t, t+2} -> frame3 {t-3, t, t+3}
    -> frame4 {t} -> frame5 {t} (B, pool_dim, T) -> mean and std over the real frames (B, 2*pool_dim) -> segment6
    (B, emb_dim). Every TDNN layer is a dilated Conv1d (same padding), ReLU, BatchNorm, as in Kaldi's recipe. The
    paper's 512 channels and 1500-dimensional pooling layer are 4x narrower here. min_length = 1 frame."""

    def __init__(self, in_shape, channels=128, pool_dim=384, emb_dim=128, dropout=0.0):
        super().__init__()
        C, F = in_shape
        self.min_length = 1  # frames
        self.norm = InputNorm(in_shape)

        def tdnn(c_in, c_out, kernel, dilation):
            return nn.Sequential(nn.Conv1d(c_in, c_out, kernel, dilation=dilation, padding=dilation * (kernel // 2)),
                                 nn.ReLU(), nn.BatchNorm1d(c_out))

        self.frames = nn.ModuleList([tdnn(C * F, channels, 5, 1), tdnn(channels, channels, 3, 2),
                                     tdnn(channels, channels, 3, 3), tdnn(channels, channels, 1, 1),
                                     tdnn(channels, pool_dim, 1, 1)])
        self.segment = nn.Sequential(nn.Linear(2 * pool_dim, emb_dim), nn.ReLU(), nn.BatchNorm1d(emb_dim),
                                     nn.Dropout(dropout))
        self.out_dim = emb_dim

    def forward(self, x, lengths=None):
        lengths = real_lengths(x, lengths, self.min_length, "xvector")
        B, C, F, T = x.shape  # batch, channels, features, frames
        mask = frame_mask(lengths, T)  # (B, T)
        x = self.norm(x, mask).reshape(B, C * F, T)  # (B, C*F, T)
        for layer in self.frames:
            x = layer(x) * mask[:, None, :].to(x.dtype)  # (B, channels, T), padding kept at 0
        return self.segment(masked_stats(x, mask))  # (B, 2*pool_dim) -> (B, emb_dim)


TRUNKS = {"cnn": CNN, "mel_cnn": MelCNN, "rnn": RNN, "lstm": LSTM, "clstm": CLSTM, "rawcnn": RawCNN,
          "logreg": LogReg, "xvector": XVector}
