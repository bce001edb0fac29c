"""Tests for f0.py (YIN): against saved librosa.yin values, against signals of known pitch, and each step of
the paper against its literal (slow, looped) definition.

Tolerances are in cents (1/100 semitone, 1200·log2 of a frequency ratio). Reference values come from
tests/make_reference.py (librosa 0.11); librosa itself is never imported here.
Run: python -m pytest tests/test_f0.py
"""
import warnings
from pathlib import Path

import numpy as np
import pytest

from f0 import absolute_threshold, cmnd, difference_function, parabolic_interpolation, yin
from mfcc import mfcc
from conftest import close

SR = 16000  # Hz
HOP = 160  # samples
REF = np.load(Path(__file__).resolve().parent / "data" / "ref_yin.npz")


def cents(f, f_ref):
    """Pitch difference in cents: 1200 · log2(f / f_ref)."""
    return 1200.0 * np.log2(np.asarray(f) / np.asarray(f_ref))


def harmonic_complex(f0_hz, harmonics, seconds=0.5, seed=0):
    """Sum of sines at k · f0 for k in `harmonics`, amplitude 1/k, random phases (deterministic)."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SR)) / SR  # (N,) seconds
    return sum(np.sin(2 * np.pi * k * f0_hz * t + rng.uniform(0, 2 * np.pi)) / k for k in harmonics)


def interior(f0_hz, voiced, frame_length=1024):
    """Drop the frames whose window reaches into the zero padding at either end."""
    edge = frame_length // (2 * HOP) + 1  # frames
    return f0_hz[edge:-edge], voiced[edge:-edge]


# ---- agreement with librosa.yin ----

def run_like_reference(name, librosa_compat):
    """yin on a saved signal with the parameters the reference was made with."""
    return yin(REF[name].astype(np.float64), int(REF["sr"]), fmin=float(REF["fmin"]), fmax=float(REF["fmax"]),
               frame_length=int(REF["frame_length"]), hop_length=int(REF["hop_length"]),
               threshold=float(REF["threshold"]), librosa_compat=librosa_compat)


@pytest.mark.parametrize("name", ["speech", "harmonic", "chirp"])
def test_librosa_compat_reproduces_librosa(name):
    f0_hz, voiced = run_like_reference(name, librosa_compat=True)
    ref_f0, ref_voiced = REF[f"{name}_f0"], REF[f"{name}_voiced"]
    assert f0_hz.shape == ref_f0.shape
    worst = np.abs(cents(f0_hz, ref_f0)).max()  # every frame, voiced or not
    print(f"{name}: librosa_compat=True, largest difference from librosa.yin: {worst:.2e} cents")
    assert worst < 0.01, f"{name}: f0 differs from librosa.yin by up to {worst:.4f} cents"
    # a voicing decision is a threshold on a float: a frame whose dip sits on the threshold may flip between CPUs
    assert (voiced != ref_voiced).sum() <= 1, f"{name}: {(voiced != ref_voiced).sum()} voicing decisions differ"


@pytest.mark.parametrize("name", ["speech", "harmonic", "chirp"])
def test_default_close_to_librosa_on_voiced_frames(name):
    """The default (paper's eq. 6) differs from librosa only by librosa's low-pitch bias (see f0.py)."""
    f0_hz, voiced = run_like_reference(name, librosa_compat=False)
    ref_f0, ref_voiced = REF[f"{name}_f0"], REF[f"{name}_voiced"]
    both = voiced & ref_voiced
    assert both.sum() > 0.3 * len(both), f"{name}: only {both.sum()} frames voiced by both"
    worst = np.abs(cents(f0_hz[both], ref_f0[both])).max()
    agree = (voiced == ref_voiced).mean()
    print(f"{name}: default, largest difference from librosa.yin on {both.sum()} frames voiced by both: "
          f"{worst:.2f} cents; voicing agrees on {agree:.1%} of frames")
    assert worst < 10.0, f"{name}: f0 differs from librosa.yin by up to {worst:.2f} cents on voiced frames"
    assert agree >= 0.85, f"{name}: voicing decision agrees with librosa on only {agree:.1%} of frames"
    # librosa's extra energy term only ever makes frames look *less* periodic, so we voice a superset
    assert (voiced | ~ref_voiced).all(), f"{name}: {(ref_voiced & ~voiced).sum()} frames voiced only by librosa"


# ---- signals with a known pitch ----

F0_GRID = [60.0, 73.4, 100.0, 131.0, 150.0, 201.7, 250.0, 333.3, 400.0, 499.0]  # Hz, many non-integer periods


@pytest.mark.parametrize("f0_true", F0_GRID)
def test_pure_tone(f0_true):
    f0_hz, voiced = interior(*yin(0.5 * harmonic_complex(f0_true, [1]), SR))
    assert voiced.all(), f"{f0_true} Hz tone: {(~voiced).sum()} interior frames unvoiced"
    worst = np.abs(cents(f0_hz, f0_true)).max()
    assert worst < 10.0, f"{f0_true} Hz tone: off by up to {worst:.2f} cents"


@pytest.mark.parametrize("f0_true", F0_GRID)
def test_missing_fundamental(f0_true):
    """Harmonics 2..6 only: no energy at f0, yet the waveform repeats every 1/f0 s, and so does the pitch."""
    f0_hz, voiced = interior(*yin(0.3 * harmonic_complex(f0_true, [2, 3, 4, 5, 6]), SR))
    assert voiced.all(), f"{f0_true} Hz missing fundamental: {(~voiced).sum()} interior frames unvoiced"
    worst = np.abs(cents(f0_hz, f0_true)).max()
    assert worst < 10.0, f"{f0_true} Hz missing fundamental: off by up to {worst:.2f} cents"


@pytest.mark.parametrize("f0_true", [65.0, 73.4])
def test_librosa_compat_misses_low_voices(f0_true):
    """Why the default is the paper's eq. 6: librosa's convention calls a clean low tone unvoiced."""
    x = 0.5 * harmonic_complex(f0_true, [1])
    _, voiced_paper = interior(*yin(x, SR))
    _, voiced_librosa = interior(*yin(x, SR, librosa_compat=True))
    assert voiced_paper.all() and not voiced_librosa.any()


def test_white_noise_mostly_unvoiced():
    noise = np.random.default_rng(1).standard_normal(SR)  # 1 s
    _, voiced = yin(noise, SR)
    assert voiced.mean() < 0.05, f"white noise: {voiced.mean():.1%} of frames voiced"


@pytest.mark.parametrize("n", [1, 1000, SR])
def test_silence_all_unvoiced_without_warnings(n):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a RuntimeWarning (0/0) would fail the test
        f0_hz, voiced = yin(np.zeros(n), SR)
    assert not voiced.any()
    assert np.isfinite(f0_hz).all() and (f0_hz > 0).all()


@pytest.mark.parametrize("n", [1, 159, 160, 161, 1023, 1024, 16000, 16001])
@pytest.mark.parametrize("hop", [160, 256])
def test_frame_count_matches_mfcc_frames(n, hop):
    """F0 frame t lines up with MFCC frame t: the same count for any length, centred framing in both."""
    y = np.random.default_rng(n).standard_normal(n)
    f0_hz, voiced = yin(y, SR, hop_length=hop)
    n_mfcc_frames = mfcc(y, SR, hop_length=hop).shape[1]
    assert f0_hz.shape == voiced.shape == (n_mfcc_frames,)
    assert f0_hz.dtype == np.float64 and voiced.dtype == bool


@pytest.mark.parametrize("sr, frame_length, hop_length", [(8000, 512, 80), (16000, 1024, 160), (48000, 3072, 480)])
def test_default_sizes_are_durations(sr, frame_length, hop_length):
    """yin's frame defaults to 64 ms and its hop to 10 ms at any rate (sample counts by hand): a 200 Hz tone reads
    200 Hz and the frames are 10 ms apart at 8, 16 and 48 kHz alike."""
    t = np.arange(sr // 2) / sr  # 0.5 s
    f0_hz, voiced = yin(0.5 * np.sin(2 * np.pi * 200.0 * t), sr)
    assert f0_hz.shape == (1 + len(t) // hop_length,)
    worst = np.abs(cents(f0_hz[voiced], 200.0)).max()
    assert voiced[10:-10].all() and worst < 10.0, f"{sr} Hz: {(~voiced).sum()} unvoiced, off by {worst:.1f} cents"
    explicit, _ = yin(0.5 * np.sin(2 * np.pi * 200.0 * t), sr, frame_length=frame_length, hop_length=hop_length)
    worst = np.abs(cents(f0_hz, explicit)).max()
    assert worst < 1e-6, f"{sr} Hz: the default sizes differ from {frame_length, hop_length} by {worst:.2e} cents"


def test_uncentred_frames():
    f0_hz, _ = yin(np.random.default_rng(0).standard_normal(5000), SR, center=False)
    assert f0_hz.shape == (1 + (5000 - 1024) // HOP,)


@pytest.mark.parametrize("kwargs, match", [
    (dict(fmin=500.0, fmax=500.0), "fmin < fmax"),
    (dict(fmin=300.0, fmax=200.0), "fmin < fmax"),
    (dict(fmin=0.0), "fmin < fmax"),
    (dict(fmax=9000.0), "sr/2"),
    (dict(fmin=10.0), "too short for fmin"),
    (dict(frame_length=256), "too short for fmin"),
    (dict(hop_length=0), "hop_length"),
])
def test_invalid_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        yin(np.zeros(SR), SR, **kwargs)


def test_empty_input():
    with pytest.raises(ValueError, match="non-empty"):
        yin(np.zeros(0), SR)
    with pytest.raises(ValueError, match="shorter than frame_length"):
        yin(np.zeros(100), SR, center=False)


# ---- each step against its literal definition ----

@pytest.mark.parametrize("librosa_compat", [False, True])
def test_difference_function_is_eq6(librosa_compat):
    """Eq. 6 as a loop over τ, per frame: Σ (x_j − x_{j+τ})² over the overlap (default), or over the whole
    frame with zeros past its end (librosa_compat)."""
    frames = np.random.default_rng(2).standard_normal((64, 3))  # (N, T)
    N, max_lag = 64, 40
    d = difference_function(frames, max_lag, librosa_compat)  # (max_lag + 1, T)
    assert d.shape == (max_lag + 1, 3)
    slow = np.zeros_like(d)
    for t in range(frames.shape[1]):
        x = frames[:, t]
        for tau in range(max_lag + 1):
            if librosa_compat:
                shifted = np.concatenate([x[tau:], np.zeros(tau)])  # x_{j+τ}, zeros past the end
                slow[tau, t] = np.sum((x - shifted) ** 2)
            else:
                slow[tau, t] = np.sum((x[: N - tau] - x[tau:]) ** 2)  # j = 0 .. N − 1 − τ
    worst = np.abs(d - slow).max()
    assert worst < 1e-9 * slow.max(), f"difference function differs from eq. 6 by up to {worst:.2e}"


def test_cmnd_is_eq8():
    d = np.abs(np.random.default_rng(3).standard_normal((30, 4)))  # (n_lags, T)
    d[0] = 0.0
    slow = np.ones_like(d)
    for tau in range(1, d.shape[0]):
        slow[tau] = d[tau] / d[1:tau + 1].mean(axis=0)  # d(τ) / [(1/τ) Σ_{j=1}^{τ} d(j)]
    worst = np.abs(cmnd(d) - slow).max()
    assert worst < 1e-12, f"cmnd differs from eq. 8 by up to {worst:.2e}"


def test_cmnd_of_silence_is_one():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert close(cmnd(np.zeros((10, 2))), np.ones((10, 2)))


def test_absolute_threshold_hand_made():
    columns = np.array([
        [1.0, 0.50, 0.05, 0.02, 0.30, 0.01, 0.50],  # first dip below 0.1 bottoms at row 3 (not the deeper row 5)
        [1.0, 0.60, 0.40, 0.50, 0.30, 0.70, 0.80],  # no dip below 0.1: unvoiced, global minimum at row 4
        [0.05, 0.2, 0.40, 0.50, 0.60, 0.70, 0.03],  # row 0 is a dip (lower than row 1); so is the last row
    ]).T  # (n_lags, T)
    lag, voiced = absolute_threshold(columns, threshold=0.1)
    assert lag.tolist() == [3, 4, 0] and voiced.tolist() == [True, False, True]


def test_absolute_threshold_matches_walk_downhill():
    """The paper's rule as a loop: first lag below threshold, then downhill to the bottom of that dip."""
    rng = np.random.default_rng(4)
    d_prime = np.cumsum(rng.standard_normal((80, 200)), axis=0) * 0.05 + 0.5  # (n_lags, T) wiggly columns
    lag, voiced = absolute_threshold(d_prime, threshold=0.1)
    for t in range(d_prime.shape[1]):
        col = d_prime[:, t]
        below = np.flatnonzero(col < 0.1)
        if below.size == 0:
            assert not voiced[t] and lag[t] == np.argmin(col)
            continue
        tau = below[0]
        while tau + 1 < len(col) and col[tau + 1] < col[tau]:
            tau += 1
        assert voiced[t] and lag[t] == tau, f"frame {t}: picked lag {lag[t]}, walking downhill gives {tau}"
    assert 0 < voiced.sum() < len(voiced)  # the random columns exercised both branches


def test_parabolic_interpolation_finds_vertex():
    rows = np.arange(8.0)[:, None]  # (n_lags, 1)
    vertices = np.array([3.3, 5.8, 0.2, 1.5])  # true minima in rows
    d_prime = (rows - vertices) ** 2 + 0.01  # (8, 4) parabolas, exact for the 3-point fit
    lag = np.array([3, 6, 0, 7])  # integer minima, incl. both edges
    refined = parabolic_interpolation(d_prime, lag)
    # interior rows land on the vertex; the edge rows (0 and 7) are not moved
    assert np.allclose(refined, [3.3, 5.8, 0.0, 7.0], atol=1e-12), refined
