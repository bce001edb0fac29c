"""mfcc.py against librosa 0.11 (values saved by tests/make_reference.py), scipy's DCT and known answers.

Run: python -m pytest tests/test_mfcc.py
"""
from pathlib import Path

import numpy as np
import pytest
import scipy.fft

import mfcc

REF = np.load(Path(__file__).resolve().parent / "data" / "ref_features.npz")
SR = 16000  # Hz


# --- against librosa -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("key", [k for k in REF.files if "_mfcc_" in k])
def test_mfcc_matches_librosa(key):
    signal, _, scale, norm, lifter = key.split("_")  # e.g. speech_mfcc_htk_none_l22
    y = REF[signal].astype(np.float64)
    ours = mfcc.mfcc(y, SR, n_mfcc=13, lifter=int(lifter[1:]), n_fft=512, hop_length=160, win_length=400,
                     n_mels=40, htk=scale == "htk", norm=None if norm == "none" else norm)
    ref = REF[key]
    assert ours.shape == ref.shape == (13, 1 + len(y) // 160)
    worst = np.abs(ours - ref).max()
    assert worst < 1e-5, f"{key}: largest difference {worst:.2e} (dB-scaled cepstrum)"


def test_delta_matches_librosa_nearest():
    x = REF["speech_mfcc_slaney_slaney_l0"]  # (13, T)
    worst = np.abs(mfcc.delta(x, N=2) - REF["speech_delta1"]).max()
    assert worst < 1e-10, f"delta: largest difference {worst:.2e} per frame"
    worst = np.abs(mfcc.delta(mfcc.delta(x)) - REF["speech_delta_delta"]).max()
    assert worst < 1e-10, f"delta-delta: largest difference {worst:.2e} per frame^2"


def test_delta_delta_is_not_librosa_order_2():
    """librosa.feature.delta(order=2) is a Savitzky-Golay 2nd derivative, not HTK's delta of the delta."""
    x = REF["speech_mfcc_slaney_slaney_l0"]
    gap = np.abs(mfcc.delta(mfcc.delta(x)) - REF["speech_delta2_savgol"]).max()
    assert gap > 1.0, f"expected the two conventions to differ on speech, largest difference only {gap:.2e}"


# --- the DCT ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("n_out, n_in", [(40, 40), (13, 40), (20, 64)])
def test_dct_matrix_is_orthonormal_and_equals_scipy(n_out, n_in):
    D = mfcc.dct_matrix(n_out, n_in)  # (n_out, n_in)
    worst = np.abs(D @ D.T - np.eye(n_out)).max()
    assert worst < 1e-12, f"D D^T differs from I by {worst:.2e}"
    x = np.random.default_rng(0).standard_normal((n_in, 7))  # 7 test vectors as columns
    ref = scipy.fft.dct(x, type=2, norm="ortho", axis=0)[:n_out]  # (n_out, 7)
    worst = np.abs(D @ x - ref).max()
    assert worst < 1e-12, f"dct_matrix vs scipy.fft.dct: largest difference {worst:.2e}"


def test_square_dct_keeps_energy():
    x = np.random.default_rng(1).standard_normal(40)
    D = mfcc.dct_matrix(40, 40)
    assert abs(np.sum((D @ x) ** 2) - np.sum(x ** 2)) < 1e-10 * np.sum(x ** 2)


# --- deltas on signals with a known answer --------------------------------------------------------------------

def test_delta_of_a_line_is_its_slope():
    t = np.arange(50.0)  # frames
    x = np.stack([3.0 * t - 7.0, -0.5 * t])  # (2, 50): slopes 3 and -0.5 per frame
    d = mfcc.delta(x, N=2)
    assert np.allclose(d[:, 2:-2], [[3.0], [-0.5]], atol=1e-12)  # exact away from the 2 replicated edge frames
    # At the edges the replicated frames flatten the slope s. Frame 0: x_{-1} = x_{-2} = x_0, so
    # d_0 = (1·(x_1 − x_0) + 2·(x_2 − x_0)) / 10 = (s + 4s) / 10 = 0.5 s; frame 1: (2s + 2·3s) / 10 = 0.8 s.
    edge = np.array([0.5, 0.8])  # fraction of the slope at frames 0, 1 (and mirrored at the end)
    assert np.allclose(d[:, :2], np.outer([3.0, -0.5], edge), atol=1e-12), d[:, :2]
    assert np.allclose(d[:, -2:], np.outer([3.0, -0.5], edge[::-1]), atol=1e-12), d[:, -2:]


def test_delta_delta_of_a_parabola_is_constant():
    t = np.arange(60.0)  # frames
    x = 0.25 * t ** 2  # second derivative 0.5 per frame^2
    dd = mfcc.delta(mfcc.delta(x, N=2), N=2)
    assert np.allclose(dd[4:-4], 0.5, atol=1e-12), f"largest difference {np.abs(dd[4:-4] - 0.5).max():.2e}"


# --- shapes and inputs that must not crash -------------------------------------------------------------------

@pytest.mark.parametrize("n", [1, 400, 16000])
def test_mfcc_frame_count(n):
    y = np.random.default_rng(0).standard_normal(n)
    assert mfcc.mfcc(y, SR).shape == (13, 1 + n // 160)


def test_silence_gives_finite_mfcc():
    c = mfcc.mfcc(np.zeros(SR), SR)
    assert np.all(np.isfinite(c))
    d = mfcc.delta(c)
    assert np.all(np.isfinite(d)) and np.abs(d).max() < 1e-9, np.abs(d).max()  # constant features: zero slope (dB/frame)


def test_bad_input_raises_value_error():
    with pytest.raises(ValueError, match="non-empty"):
        mfcc.mfcc(np.zeros(0), SR)
    with pytest.raises(ValueError, match="shorter than n_fft"):
        mfcc.mfcc(np.zeros(300), SR, center=False)
    with pytest.raises(ValueError, match="n_mfcc"):
        mfcc.mfcc(np.zeros(SR), SR, n_mfcc=41)
    with pytest.raises(ValueError, match="lifter"):
        mfcc.mfcc(np.zeros(SR), SR, lifter=-1)
    with pytest.raises(ValueError, match="frame"):
        mfcc.delta(np.zeros((13, 0)))
