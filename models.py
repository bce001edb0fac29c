"""Trunks: networks that turn one batch of model inputs into one embedding per example.

Every trunk maps x of shape (B, *in_shape, L) to an embedding (B, D) and says D in `out_dim`; the task heads
that turn embeddings into logits live in mtl.py, so the same trunk serves one task or several. The trunks
follow the course slides (MFCC CNN, log-mel CNN, vanilla RNN, CNN+LSTM, logistic-regression baseline) and, for
the raw waveform, Dai et al. 2016, "Very deep convolutional neural networks for raw waveforms" (M5/M11/M18).

Input kinds (their shapes are made by features.py; this floor imports no data code, so the constructor is
told the non-time dims `in_shape` instead):
    "mfcc_f0" (B, 3, 14, T)   "mfcc" (B, 3, 13, T)   "mel" (B, 1, 64, T)   "raw" (B, 1, N)
T is in frames (10 ms hop, 400 in a 4 s training window), N in samples (64000 = 4 s at 16 kHz). Every trunk
pools time adaptively, so any length from its `min_length` upward is accepted.

Features arrive in their natural units (MFCC ~ hundreds, the F0 row in semitones above 50 Hz, log-mel in dB). Every frame trunk therefore
starts with `InputNorm`: each feature row is standardised with statistics learned during training, like
BatchNorm's running mean and variance (cepstral mean/variance normalisation, learned from the training set).

Test: python -m pytest tests/test_models.py
"""
import torch
from torch import nn

VALID_INPUTS = {
    "cnn": ("mfcc", "mfcc_f0"),
    "mel_cnn": ("mel",),
    "rnn": ("mfcc", "mfcc_f0", "mel"),
    "clstm": ("mfcc", "mfcc_f0", "mel"),
    "rawcnn": ("raw",),
    "logreg": ("mfcc", "mfcc_f0", "mel"),
}


def check_length(x, min_length, name):
    """Raise ValueError when the last (time) axis of x is shorter than `min_length` frames or samples."""
    if x.shape[-1] < min_length:
        raise ValueError(f"{name}: input has {x.shape[-1]} steps on its last axis, needs at least {min_length}")


class InputNorm(nn.Module):
    """Standardise each feature row over batch and time: (B, C, F, T) -> (B, C, F, T).

    y = (x - mean_row) / sqrt(var_row + eps); a BatchNorm1d over the C*F rows without affine weights, so in
    eval mode it uses the running statistics gathered in training (saved with the model's state_dict).
    """

    def __init__(self, in_shape):
        super().__init__()
        C, F = in_shape
        self.norm = nn.BatchNorm1d(C * F, affine=False)

    def forward(self, x):
        B, C, F, T = x.shape  # batch, channels, features, frames
        x = self.norm(x.reshape(B, C * F, T))  # (B, C*F, T)
        return x.reshape(B, C, F, T)


def conv_block(c_in, c_out, batch_norm):
    """Conv 3x3 (same padding) -> [BatchNorm] -> ReLU -> MaxPool 2x2: (B, c_in, F, T) -> (B, c_out, F//2, T//2)."""
    layers = [nn.Conv2d(c_in, c_out, kernel_size=3, padding=1)]
    if batch_norm:
        layers.append(nn.BatchNorm2d(c_out))
    layers += [nn.ReLU(), nn.MaxPool2d(2)]
    return nn.Sequential(*layers)


class CNN(nn.Module):
    """The slides' MFCC CNN on (B, 3, F, T), F = 13 (mfcc) or 14 (mfcc_f0) -> embedding (B, emb_dim).

    Zero-pad two rows above and below the feature axis (F + 4 rows, so the 3x3 kernels see the edge
    coefficients as often as the middle ones), [Conv -> ReLU -> MaxPool] x 2, statistics pooling over time,
    then two fully connected layers; the second one's output (after ReLU) is the embedding.
    Deviations from the slides: the InputNorm in front, and statistics pooling -- the mean AND the standard
    deviation of every (channel, feature row) over the remaining frames, as in x-vectors (Snyder et al. 2018) --
    instead of flattening a fixed 400-frame map. It lets T vary, keeps the FC small, and the spread carries
    what a mean cannot (pitch range, voice-quality variation): on the built-in corpus it lifted hps's
    validation dialect accuracy from 0.55 to 0.68 (same seed, 50 epochs). min_length = 4 frames.
    """

    def __init__(self, in_shape, channels=(16, 32), hidden=128, emb_dim=64):
        super().__init__()
        C, F = in_shape
        self.min_length = 4  # frames: two MaxPool(2) in time
        self.norm = InputNorm(in_shape)
        self.pad = nn.ZeroPad2d((0, 0, 2, 2))  # (left, right, top, bottom): 2 rows each side of the feature axis
        self.conv = nn.Sequential(conv_block(C, channels[0], False), conv_block(channels[0], channels[1], False))
        f_out = (F + 4) // 2 // 2  # feature rows left after two 2x poolings (4 for F = 13 or 14)
        self.fc = nn.Sequential(nn.Linear(2 * channels[1] * f_out, hidden), nn.ReLU(),
                                nn.Linear(hidden, emb_dim), nn.ReLU())
        self.out_dim = emb_dim

    def forward(self, x):
        check_length(x, self.min_length, "cnn")
        x = self.pad(self.norm(x))  # (B, C, F+4, T)
        x = self.conv(x)  # (B, c2, (F+4)//4, T//4)
        x = torch.cat([x.mean(dim=-1), x.std(dim=-1, correction=0)], dim=1)  # (B, 2 * c2, (F+4)//4)
        x = x.flatten(1)  # (B, 2 * c2 * (F+4)//4); correction=0: a single frame has spread 0, not NaN
        return self.fc(x)  # (B, emb_dim)


class MelCNN(nn.Module):
    """The slides' log-mel CNN on (B, 1, n_mels, T): [Conv -> BatchNorm -> ReLU -> MaxPool] x 4, then two FCs.

    Channels double per block (8 -> 64 by default, small enough to train on a CPU); time is averaged after the
    convolutions (CNN pools the standard deviation too). min_length = 16 frames (four 2x poolings).
    """

    def __init__(self, in_shape, channels=(8, 16, 32, 64), hidden=128, emb_dim=64):
        super().__init__()
        C, F = in_shape
        self.min_length = 16  # frames: four MaxPool(2) in time
        self.norm = InputNorm(in_shape)
        blocks, c_in = [], C
        for c_out in channels:
            blocks.append(conv_block(c_in, c_out, True))
            c_in = c_out
        self.conv = nn.Sequential(*blocks)
        f_out = F // 2 ** len(channels)  # mel rows left after the poolings (64 -> 4)
        self.pool_time = nn.AdaptiveAvgPool2d((f_out, 1))
        self.fc = nn.Sequential(nn.Linear(channels[-1] * f_out, hidden), nn.ReLU(),
                                nn.Linear(hidden, emb_dim), nn.ReLU())
        self.out_dim = emb_dim

    def forward(self, x):
        check_length(x, self.min_length, "mel_cnn")
        x = self.conv(self.norm(x))  # (B, c4, n_mels//16, T//16)
        x = self.pool_time(x).flatten(1)  # (B, c4 * n_mels//16)
        return self.fc(x)  # (B, emb_dim)


class RNN(nn.Module):
    """Many-to-one recurrent net over frames: (B, C, F, T) -> (B, T, C*F) -> last step's hidden output (B, hidden).

    cell="rnn" is the slides' vanilla tanh RNN (2 layers). Its lesson: the embedding is the state after the
    LAST frame, and the gradient reaching frame t shrinks roughly like |dh_T/dh_t| ~ rho^(T-t) with rho < 1, so
    over 400 frames the model effectively hears only the final few dozen frames (and on a zero-padded short
    clip those are silence). Clip gradients in training (train.py does). cell="lstm" swaps in an LSTM, whose
    additive cell state carries information across hundreds of steps; mtl.py's lstm_mtl uses it.
    min_length = 1 frame.
    """

    def __init__(self, in_shape, hidden=64, num_layers=2, cell="rnn"):
        super().__init__()
        C, F = in_shape
        if cell not in ("rnn", "lstm"):
            raise ValueError(f"cell={cell!r}: expected 'rnn' or 'lstm'")
        self.min_length = 1  # frames
        self.norm = InputNorm(in_shape)
        recurrent = nn.RNN if cell == "rnn" else nn.LSTM
        self.rnn = recurrent(C * F, hidden, num_layers=num_layers, batch_first=True)
        self.out_dim = hidden

    def forward(self, x):
        check_length(x, self.min_length, "rnn")
        B, C, F, T = x.shape  # batch, channels, features, frames
        x = self.norm(x).reshape(B, C * F, T).transpose(1, 2)  # (B, T, C*F): frames are the sequence
        out, _ = self.rnn(x)  # (B, T, hidden): top layer's output at every step
        return out[:, -1]  # (B, hidden): many-to-one, the last frame only


class CLSTM(nn.Module):
    """The slides' CLSTM: a conv front end over (features, time), then an LSTM over the pooled frames.

    (B, C, F, T) -> [Conv -> ReLU -> MaxPool] x 2 -> (B, c2, F//4, T//4) -> (B, T//4, c2*F//4) -> LSTM ->
    last step's hidden output (B, hidden). The conv layers find local spectro-temporal patterns and shorten
    the sequence 4x (400 -> 100 steps) before the LSTM. min_length = 4 frames.
    """

    def __init__(self, in_shape, channels=(16, 32), hidden=64):
        super().__init__()
        C, F = in_shape
        self.min_length = 4  # frames: two MaxPool(2) in time
        self.norm = InputNorm(in_shape)
        self.conv = nn.Sequential(conv_block(C, channels[0], False), conv_block(channels[0], channels[1], False))
        self.lstm = nn.LSTM(channels[1] * (F // 4), hidden, batch_first=True)
        self.out_dim = hidden

    def forward(self, x):
        check_length(x, self.min_length, "clstm")
        x = self.conv(self.norm(x))  # (B, c2, F//4, T//4)
        B, C2, F4, T4 = x.shape  # batch, conv channels, pooled features, pooled frames
        x = x.reshape(B, C2 * F4, T4).transpose(1, 2)  # (B, T//4, c2*F//4)
        out, _ = self.lstm(x)  # (B, T//4, hidden)
        return out[:, -1]  # (B, hidden)


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
    MaxPool(4); then kernel-3 convs (same padding) each with BatchNorm and ReLU, a MaxPool(4) between stages;
    global average pooling over time. min_length = 1100 samples (the first conv must leave >= 4^4 = 256 steps).
    """

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
        self.out_dim = c_in

    def forward(self, x):
        check_length(x, self.min_length, "rawcnn")
        x = self.conv(x)  # (B, 512, about N / 1024): stride 4, then four MaxPool(4)
        return x.mean(dim=-1)  # (B, 512): global average pooling over time


class LogReg(nn.Module):
    """Utterance statistics for the logistic-regression baseline: (B, C, F, T) -> (B, 2*C*F).

    Each feature row is first standardised by InputNorm (training-set mean and variance of that row), then
    summarised over time by its mean and its standard deviation (population, divide by T). So every statistic
    is in units of its row's standard deviation, and the linear head that mtl.py puts on top is exactly
    multinomial logistic regression on these scaled statistics. (A BatchNorm over the statistics themselves
    would z-score them better but fails on a training batch of one.) min_length = 1 frame (std of one frame = 0).
    """

    def __init__(self, in_shape):
        super().__init__()
        C, F = in_shape
        self.min_length = 1  # frames
        self.norm = InputNorm(in_shape)
        self.out_dim = 2 * C * F

    def forward(self, x):
        check_length(x, self.min_length, "logreg")
        B, C, F, T = x.shape  # batch, channels, features, frames
        x = self.norm(x).reshape(B, C * F, T)  # (B, C*F, T)
        return torch.cat([x.mean(dim=-1), x.std(dim=-1, correction=0)], dim=1)  # (B, 2*C*F)


TRUNKS = {"cnn": CNN, "mel_cnn": MelCNN, "rnn": RNN, "clstm": CLSTM, "rawcnn": RawCNN, "logreg": LogReg}
