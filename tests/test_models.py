"""Trunks (models.py) and their building blocks (lengths, masks, pooling, InputNorm): shapes, lengths, independent references.

References: Dai et al. 2016 Table 1 parameter counts for M5/M11/M18; statistics recomputed in NumPy for the
input normalisation and the logistic-regression features; Snyder et al. 2018 Table 1's 15-frame context of the
x-vector's frame layers; the vanishing gradient of a vanilla RNN; padding that must not change a prediction.
"""
import numpy as np
import pytest
import torch

import features
from extras import robust
from extras.robust import spec_augment_mask
from models import InputNorm, masked_stats
from models import TRUNKS, VALID_INPUTS, LogReg, RawCNN, XVector

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # conftest.py: tiny tensors run fastest on one thread

SHAPES = {kind: features.input_shape(kind) for kind in features.INPUTS}
LENGTH = {"mfcc_f0": 100, "mfcc": 100, "mel": 100, "raw": 16000, "mfcc_f0_vt": 100}  # frames / samples: 1 s, short for speed
PAIRS = [(name, kind) for name in TRUNKS for kind in VALID_INPUTS[name]]


@pytest.mark.parametrize("name,kind", PAIRS)
def test_trunk_forward_backward_shapes(name, kind):
    torch.manual_seed(0)
    trunk = TRUNKS[name](SHAPES[kind])
    x = torch.randn(4, *SHAPES[kind], LENGTH[kind], requires_grad=True)  # (B, *in_shape, L)
    lengths = torch.tensor([LENGTH[kind], LENGTH[kind] // 2, trunk.min_length, LENGTH[kind]])
    emb = trunk(x, lengths)
    assert emb.shape == (4, trunk.out_dim), f"{name}/{kind}: embedding {tuple(emb.shape)}"
    emb.square().sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()
    assert trunk(torch.randn(2, *SHAPES[kind], trunk.min_length)).shape == (2, trunk.out_dim)
    with pytest.raises(ValueError, match="at least"):  # a shorter input is refused with a clear error
        trunk(torch.randn(2, *SHAPES[kind], trunk.min_length - 1))


@pytest.mark.parametrize("name,kind", PAIRS)
def test_padding_does_not_change_the_embedding(name, kind):
    """A 1.5 s clip padded to 4 s or to 6 s: the same embedding (padding never enters a statistic)."""
    torch.manual_seed(0)
    trunk = TRUNKS[name](SHAPES[kind]).eval()
    real = 24000 if kind == "raw" else 150  # 1.5 s in samples or frames
    short, long = (64000, 96000) if kind == "raw" else (400, 600)
    clip = torch.randn(1, *SHAPES[kind], real)
    padded = [torch.nn.functional.pad(clip, (0, n - real), value=v) for n, v in ((short, 0.0), (long, 123.0))]
    with torch.no_grad():
        a, b = (trunk(x, torch.tensor([real])) for x in padded)
    diff = (a - b).abs().max().item()
    print(f"{name}/{kind}: largest embedding difference, padded to {short} vs {long}: {diff:.2e}")
    assert diff < 1e-4


@pytest.mark.parametrize("depth,paper_millions", [("m5", 0.5), ("m11", 1.8), ("m18", 3.7)])
def test_rawcnn_sizes_match_dai_2016_table(depth, paper_millions):
    trunk = RawCNN((1,), depth=depth)
    n = sum(p.numel() for p in trunk.parameters()) / 1e6
    print(f"{depth}: {n:.3f}M parameters, paper {paper_millions}M")
    assert abs(n - paper_millions) < 0.06, f"{depth}: {n:.3f}M vs {paper_millions}M (paper rounds to 0.1M)"
    assert trunk(torch.randn(2, 1, 16000)).shape == (2, 512)


def test_rawcnn_unknown_depth_names_the_known_ones():
    with pytest.raises(ValueError, match=r"\['m11', 'm18', 'm5'\]"):
        RawCNN((1,), depth="m34")


def test_input_norm_is_a_fixed_per_row_zscore_and_zeroes_padding():
    """Standardised with the given (training-set) statistics, the same in training and eval mode; padding -> 0."""
    rng = np.random.default_rng(0)
    mean, std = rng.normal(size=(3, 14)) * 50, rng.uniform(1, 30, size=(3, 14))
    norm = InputNorm((3, 14))
    norm.set_statistics(mean, std)
    x = torch.from_numpy(rng.normal(size=(2, 3, 14, 20)).astype(np.float32) * 40)
    mask = torch.arange(20)[None, :] < torch.tensor([[20], [12]])  # (2, 20): second window has 12 real frames
    expected = (x.numpy() - mean[..., None]) / std[..., None] * mask.numpy()[:, None, None, :]
    for mode in (norm.train(), norm.eval()):
        diff = np.abs(mode(x, mask).detach().numpy() - expected).max()
        print("InputNorm max |diff| vs NumPy:", diff)
        assert diff < 1e-5


def test_cmn_centres_the_cepstra_on_their_real_frames_and_nothing_else():
    """--cmn: each static cepstral row has mean 0 over a window's real frames (NumPy reference); the F0 row and
    the deltas are standardised only; padding stays 0."""
    rng = np.random.default_rng(1)
    mean, std = rng.normal(size=(3, 14)) * 50, rng.uniform(1, 30, size=(3, 14))
    norm = InputNorm((3, 14))
    norm.set_statistics(mean, std)
    norm.options = robust.WindowOptions(centre=robust.cepstral_rows("mfcc_f0"))
    x = torch.from_numpy(rng.normal(size=(2, 3, 14, 20)).astype(np.float32) * 40)
    mask = torch.arange(20)[None, :] < torch.tensor([[20], [12]])
    z = (x.numpy() - mean[..., None]) / std[..., None]
    for b, n in enumerate((20, 12)):
        z[b, 0, :13, :n] -= z[b, 0, :13, :n].mean(axis=-1, keepdims=True)
    expected = z * mask.numpy()[:, None, None, :]
    assert np.abs(norm(x, mask).detach().numpy() - expected).max() < 1e-4
    assert robust.cepstral_rows("mfcc_f0").sum() == 13 and robust.cepstral_rows("mfcc").sum() == 13
    assert robust.cepstral_rows("mel").all()
    with pytest.raises(ValueError, match="raw"):
        robust.cepstral_rows("raw")


@pytest.mark.parametrize("kind", ["mfcc_f0", "mel"])
def test_cmn_makes_the_prediction_deaf_to_a_fixed_channel(kind):
    """A fixed channel (a microphone's response) adds the same constant to a static cepstral row, or a log-mel
    band, in every frame. With --cmn the x-vector's embedding of a padded clip does not move; without it, it
    does, and an offset on the F0 row (the voice's pitch, not the channel) moves it either way."""
    torch.manual_seed(0)
    C, F = SHAPES[kind]
    clip = torch.randn(1, C, F, 150)
    x = torch.nn.functional.pad(clip, (0, 250))
    channel = torch.zeros(1, C, F, 1)
    rows = 13 if kind == "mfcc_f0" else F
    channel[0, 0, :rows, 0] = torch.randn(rows) * 3
    moved = torch.nn.functional.pad(clip + channel, (0, 250))
    lengths = torch.tensor([150])
    plain, centred = XVector((C, F)).eval(), XVector((C, F)).eval()
    centred.load_state_dict(plain.state_dict())
    centred.norm.options = robust.WindowOptions(centre=robust.cepstral_rows(kind))

    def change(trunk, y):  # largest change of the embedding, relative to its largest value
        with torch.no_grad():
            a = trunk(x, lengths)
            return ((a - trunk(y, lengths)).abs().max() / a.abs().max()).item()

    assert change(centred, moved) < 1e-4 and change(plain, moved) > 0.05
    if kind == "mfcc_f0":
        offset = torch.zeros(1, C, F, 1)
        offset[0, 0, 13] = 3.0  # the static F0 row only: a higher voice, whose deltas do not change
        pitch = torch.nn.functional.pad(clip + offset, (0, 250))
        assert change(centred, pitch) > 0.05


def test_masked_stats_and_logreg_match_numpy_on_the_real_frames():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(2, 3, 13, 80)) * 5.0 + 2.0
    lengths = [80, 31]
    trunk = LogReg((3, 13)).eval()  # statistics identity (mean 0, std 1) until set_statistics
    emb = trunk(torch.from_numpy(x.astype(np.float32)), torch.tensor(lengths)).detach().numpy()
    for b, n in enumerate(lengths):
        rows = x[b].reshape(39, 80)[:, :n]  # only the real frames
        expected = np.concatenate([rows.mean(axis=1), np.sqrt(rows.var(axis=1) + 1e-5)])  # (78,)
        diff = np.abs(emb[b] - expected).max()
        print(f"window {b} ({n} real frames): logreg stats max |diff| vs NumPy {diff:.2e}")
        assert diff < 1e-4
    one = masked_stats(torch.ones(1, 2, 5), torch.tensor([[True, False, False, False, False]]))
    assert torch.allclose(one, torch.tensor([[1.0, 1.0, 1e-5 ** 0.5, 1e-5 ** 0.5]]))  # one frame: no spread


def test_xvector_frame_layers_see_fifteen_frames():
    """Snyder et al. 2018, Table 1: frame1 [t-2, t+2], frame2 {t-2, t, t+2}, frame3 {t-3, t, t+3} -> a total
    context of 15 frames, t-7 .. t+7. The gradient of frame t's output reaches exactly those input frames."""
    torch.manual_seed(0)
    trunk = XVector((3, 14)).eval()
    x = torch.randn(1, 42, 60, requires_grad=True)
    h = x
    for layer in trunk.frames:
        h = layer(h)  # (1, channels, 60)
    h[0, :, 30].sum().backward()
    touched = torch.nonzero(x.grad[0].abs().sum(dim=0) > 0).flatten().tolist()
    assert touched == list(range(23, 38)), touched


def test_spec_augment_masks_stay_inside_the_real_frames_and_the_feature_rows():
    g = torch.Generator().manual_seed(0)
    lengths = torch.tensor([400, 150, 30, 5])
    for _ in range(50):
        keep = spec_augment_mask(lengths, 14, 400, n_time=2, time_width=20, n_freq=2, freq_width=3, generator=g)
        assert keep.shape == (4, 14, 400)
        for b, n in enumerate(lengths.tolist()):
            masked_time = ~keep[b].any(dim=0)  # (400,) frames masked in every row: the time masks
            masked_rows = ~keep[b].any(dim=1)  # (14,) rows masked in every frame: the feature masks
            assert not masked_time[n:].any(), "a time mask reached into the padding"
            assert masked_time.sum() <= 2 * 20 and masked_rows.sum() <= 2 * 3
    # the widths really vary up to their maximum: over many draws some mask is as wide as allowed
    keep = spec_augment_mask(torch.full((2000,), 400), 14, 400, n_time=1, time_width=20, n_freq=0, generator=g)
    widths = (~keep.any(dim=1)).sum(dim=1)  # (2000,) masked frames per window
    assert widths.max() == 20 and widths.min() == 0


def test_vanilla_rnn_gradient_vanishes_over_400_frames():
    """The lesson of the many-to-one RNN: the last frame moves the embedding, the first hardly at all."""
    torch.manual_seed(0)
    trunk = TRUNKS["rnn"]((3, 13)).eval()
    x = torch.randn(1, 3, 13, 400, requires_grad=True)
    trunk(x).sum().backward()
    first, last = x.grad[..., 0].abs().max().item(), x.grad[..., -1].abs().max().item()
    print(f"|d emb / d frame 0| = {first:.2e}, |d emb / d frame 399| = {last:.2e}")
    assert first < 1e-6 * last


def test_pitch_statistics_of_a_known_f0_row():
    """F0 row (semitones) 14 and 26 on alternate frames of 10 real ones, unvoiced (0) on 10 more, padding after:
    voiced share 10/20, mean 20 -> (20 - 20) / 6 = 0, standard deviation 6 -> 1; padding never counts."""
    pitch_statistics = robust.PitchStatistics()
    x = torch.zeros(1, 3, 14, 30)
    x[0, 0, 13, :10] = torch.tensor([14.0, 26.0] * 5)
    x[0, 0, 13, 20:] = 99.0  # padding, beyond the real length
    stats = pitch_statistics(x, torch.tensor([20]))
    assert torch.allclose(stats, torch.tensor([[0.5, 0.0, 1.0]]), atol=1e-6), stats
    assert torch.allclose(pitch_statistics(torch.zeros(1, 3, 14, 5), torch.tensor([5])), torch.zeros(1, 3)), \
        "a window without a voiced frame gives zeros, not NaN"
