"""Trunks (models.py): shapes, minimum lengths, and checks against independent references.

References: Dai et al. 2016 Table 1 parameter counts for M5/M11/M18; statistics recomputed in NumPy for the
input normalisation and the logistic-regression features; the vanishing gradient of a vanilla RNN.
"""
import numpy as np
import pytest
import torch

from models import RAWCNN_DEPTHS, TRUNKS, VALID_INPUTS, InputNorm, LogReg, RawCNN

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # conftest.py: tiny tensors run fastest on one thread

SHAPES = {"mfcc_f0": (3, 14), "mfcc": (3, 13), "mel": (1, 64), "raw": (1,)}  # features.input_shape
LENGTH = {"mfcc_f0": 100, "mfcc": 100, "mel": 100, "raw": 16000}  # frames / samples: 1 s, short for speed
PAIRS = [(name, kind) for name in TRUNKS for kind in VALID_INPUTS[name]]


@pytest.mark.parametrize("name,kind", PAIRS)
def test_trunk_forward_backward_shapes(name, kind):
    torch.manual_seed(0)
    trunk = TRUNKS[name](SHAPES[kind])
    x = torch.randn(4, *SHAPES[kind], LENGTH[kind], requires_grad=True)  # (B, *in_shape, L)
    emb = trunk(x)
    assert emb.shape == (4, trunk.out_dim), f"{name}/{kind}: embedding {tuple(emb.shape)}"
    emb.square().sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()
    # any length from min_length upward is accepted (time is pooled adaptively) ...
    assert trunk(torch.randn(2, *SHAPES[kind], trunk.min_length)).shape == (2, trunk.out_dim)
    # ... and a shorter input is refused with a clear error
    with pytest.raises(ValueError, match="at least"):
        trunk(torch.randn(2, *SHAPES[kind], trunk.min_length - 1))


@pytest.mark.parametrize("depth,paper_millions", [("m5", 0.5), ("m11", 1.8), ("m18", 3.7)])
def test_rawcnn_sizes_match_dai_2016_table(depth, paper_millions):
    trunk = RawCNN((1,), depth=depth)
    n = sum(p.numel() for p in trunk.parameters()) / 1e6
    print(f"{depth}: {n:.3f}M parameters, paper {paper_millions}M")
    assert abs(n - paper_millions) < 0.06, f"{depth}: {n:.3f}M vs {paper_millions}M (paper rounds to 0.1M)"
    assert trunk(torch.randn(2, 1, 16000)).shape == (2, 512)


def test_rawcnn_unknown_depth():
    with pytest.raises(ValueError, match="m11"):
        RawCNN((1,), depth="m34")
    assert set(RAWCNN_DEPTHS) == {"m5", "m11", "m18"}


def test_input_norm_is_per_row_zscore():
    torch.manual_seed(0)
    x = torch.randn(5, 3, 14, 50) * 300.0 + 40.0  # MFCC-like scale
    y = InputNorm((3, 14))(x).detach().numpy()  # training mode: this batch's statistics
    xn = x.numpy().astype(np.float64)
    mean = xn.mean(axis=(0, 3), keepdims=True)  # per row, over batch and frames
    std = xn.std(axis=(0, 3), keepdims=True)  # population std, as BatchNorm normalises
    diff = np.abs(y - (xn - mean) / np.sqrt(std ** 2 + 1e-5)).max()
    print("InputNorm max |diff| vs NumPy:", diff)
    assert diff < 1e-4


def test_logreg_statistics_match_numpy():
    torch.manual_seed(0)
    x = torch.randn(6, 3, 13, 80) * 5.0 + 2.0
    trunk = LogReg((3, 13)).eval()  # eval: running stats are the defaults (mean 0, var 1) -> identity norm
    emb = trunk(x).detach().numpy()
    xn = x.numpy().astype(np.float64).reshape(6, 39, 80) / np.sqrt(1 + 1e-5)
    expected = np.concatenate([xn.mean(axis=-1), xn.std(axis=-1)], axis=1)  # (B, 78)
    diff = np.abs(emb - expected).max()
    print("logreg stats max |diff| vs NumPy:", diff)
    assert diff < 1e-4


def test_vanilla_rnn_gradient_vanishes_over_400_frames():
    """The lesson of the many-to-one RNN: the last frame moves the embedding, the first hardly at all."""
    torch.manual_seed(0)
    trunk = TRUNKS["rnn"]((3, 13)).eval()
    x = torch.randn(1, 3, 13, 400, requires_grad=True)
    trunk(x).sum().backward()
    first, last = x.grad[..., 0].abs().max().item(), x.grad[..., -1].abs().max().item()
    print(f"|d emb / d frame 0| = {first:.2e}, |d emb / d frame 399| = {last:.2e}")
    assert first < 1e-6 * last
