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
    """Two different filters, worked out by hand and seen through a unit impulse.

    HTK's delta with N = 2 is d_t = Σ_k c_k x_{t+k}, c = [-2, -1, 0, 1, 2] / 10 (k = -2..2). The delta of the delta
    is the filter c * c, e_j = Σ_k c_k c_{j-k}, 9 taps (j = -4..4):
        e_0 = (-2·2 - 1·1 + 0 - 1·1 - 2·2) / 100 = -10/100,  e_±1 = (-2·1 + 0 + 0 - 1·2) / 100 = -4/100,
        e_±2 = (-2·0 + (-1)(-1) + 0) / 100 = 1/100,  e_±3 = (-2)(-1)·2 / 100 = 4/100,  e_±4 = (-2)(-2) / 100 = 4/100,
    so an impulse far from the edges comes out as [4, 4, 1, -4, -10, -4, 1, 4, 4] / 100.
    librosa's order=2 is the quadratic Savitzky-Golay second derivative over 5 frames, [2, -1, -2, -1, 2] / 7
    (the second-derivative row of the least-squares parabola fit): checked here against librosa's saved output.
    """
    impulse = np.zeros(15)
    impulse[7] = 1.0
    htk = np.array([0, 0, 0, 4, 4, 1, -4, -10, -4, 1, 4, 4, 0, 0, 0]) / 100.0  # e_j around frame 7, by hand
    worst = np.abs(mfcc.delta(mfcc.delta(impulse)) - htk).max()
    assert worst < 1e-12, f"delta-delta of an impulse differs from the hand-made 9-tap filter by {worst:.2e}"

    x = REF["speech_mfcc_slaney_slaney_l0"]  # (13, T) dB
    T = x.shape[1]
    padded = np.pad(x, [(0, 0), (2, 2)], mode="edge")  # (13, T + 4), mode="nearest" as the reference was made
    savgol = sum(w * padded[:, j:j + T] for j, w in enumerate(np.array([2, -1, -2, -1, 2]) / 7.0))  # (13, T)
    worst = np.abs(savgol - REF["speech_delta2_savgol"]).max()
    assert worst < 1e-9, f"[2, -1, -2, -1, 2] / 7 is not librosa's order=2: off by {worst:.2e} dB/frame^2"


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


def test_delta_of_a_parabola_by_hand_edges_included():
    """x_t = t², t = 0..9, N = 2: d_t = (1·(x_{t+1} − x_{t−1}) + 2·(x_{t+2} − x_{t−2})) / 10, edges replicated.
    Inside: ((t+1)² − (t−1)² + 2((t+2)² − (t−2)²)) / 10 = (4t + 16t) / 10 = 2t, the derivative.
    Frame 0 (x_{−1} = x_{−2} = x_0 = 0, replicated): (1 + 2·4) / 10 = 0.9.  Frame 1: (4 − 0 + 2·(9 − 0)) / 10 = 2.2.
    Frame 9 (x_10 = x_11 = x_9 = 81): (81 − 64 + 2·(81 − 49)) / 10 = 8.1.  Frame 8: (81 − 49 + 2·(81 − 36)) / 10 = 12.2.
    Zero padding would give −16.2 at frame 9, reflection 0 at frame 0: each end catches another edge rule.
    Applied twice, the delta of 0.25 t² is its second derivative, 0.5 per frame², on frames 4 or more from an edge.
    """
    x = np.arange(10.0) ** 2  # (10,)
    expected = np.array([0.9, 2.2, 4.0, 6.0, 8.0, 10.0, 12.0, 14.0, 12.2, 8.1])  # by hand, above
    worst = np.abs(mfcc.delta(x, N=2) - expected).max()
    assert worst < 1e-12, f"delta of t² off by {worst:.2e} per frame: {mfcc.delta(x, N=2)}"
    t = np.arange(60.0)  # frames
    dd = mfcc.delta(mfcc.delta(0.25 * t ** 2))  # second derivative of 0.25 t²: 0.5 per frame²
    assert np.abs(dd[4:-4] - 0.5).max() < 1e-12, f"largest difference {np.abs(dd[4:-4] - 0.5).max():.2e}"


# --- shapes and inputs that must not crash -------------------------------------------------------------------

@pytest.mark.parametrize("n", [1, 400, 16000])
def test_mfcc_frame_count(n):
    y = np.random.default_rng(0).standard_normal(n)
    assert mfcc.mfcc(y, SR).shape == (13, 1 + n // 160)


@pytest.mark.parametrize("dtype, atol_db", [(np.float64, 1e-9), (np.float32, 1e-3)])
def test_silence_has_known_mfcc(dtype, atol_db):
    """Silence's MFCCs, worked out: every mel band's power is 0, so power_to_db clips it to amin = 1e-10, i.e.
    10·log10(1e-10) = −100 dB in all 40 bands (the top_db floor, max − 80 = −180 dB, does not bite). The
    orthonormal DCT's row 0 is 1/√40 everywhere: c0 = 40 · (−100) / √40 = −100·√40 = −632.456 dB. Rows 1..12 are
    orthogonal to that constant row, so c1..c12 = 0. A constant track has zero slope: every delta is 0 dB/frame."""
    c = mfcc.mfcc(np.zeros(SR, dtype=dtype), SR)  # (13, 101)
    expected = np.zeros_like(c, dtype=np.float64)
    expected[0] = -100.0 * np.sqrt(40.0)  # dB
    worst = np.abs(c - expected).max()
    assert worst < atol_db, f"silence's MFCCs off by up to {worst:.2e} dB (c0 = {c[0, 0]:.4f}, expected -632.456)"
    worst = np.abs(mfcc.delta(c)).max()
    assert worst < atol_db, f"silence's deltas reach {worst:.2e} dB/frame, expected 0"


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
