"""Tests for features.py (the model inputs): shapes and dtypes, the "mfcc" channels against saved librosa values,
the delta channels against a plain loop over the HTK formula, the F0 row's encoding on tones of known pitch and
on noise, and the errors.

Run: python -m pytest tests/test_features.py
"""
from pathlib import Path

import numpy as np
import scipy.signal
import pytest

import features
from features import HOP_LENGTH, INPUTS, SR, extract, window_length, input_shape
from conftest import close

REF = np.load(Path(__file__).resolve().parent / "data" / "ref_features.npz")
SHAPES = {"mfcc": (3, 13), "mfcc_f0": (3, 14), "mel": (1, 64), "raw": (1,), "mfcc_f0_vt": (3, 19)}  # by hand


def htk_delta(x, N=2):
    """The HTK delta as a plain loop over frames, edge frames replicated (The HTK Book, eq. 5.16):
    d_t = Σ_{n=1..N} n (x_{t+n} − x_{t−n}) / (2 Σ_{n=1..N} n²). x: (rows, T) -> (rows, T)."""
    T = x.shape[-1]
    d = np.zeros_like(x, dtype=np.float64)
    for t in range(T):
        for n in range(1, N + 1):
            d[:, t] += n * (x[:, min(t + n, T - 1)] - x[:, max(t - n, 0)])
    return d / (2 * sum(n * n for n in range(1, N + 1)))


def tone_then_silence(f0_hz=200.0, seconds=0.5):
    """A pure tone of f0_hz for `seconds`, then the same length of digital silence. (N,) float64."""
    t = np.arange(int(seconds * SR)) / SR  # (n,) seconds
    return np.concatenate([0.5 * np.sin(2 * np.pi * f0_hz * t), np.zeros_like(t)])


@pytest.mark.parametrize("kind", INPUTS)
def test_shapes_and_dtype(kind):
    y = np.random.default_rng(0).standard_normal(12345) * 0.1  # (N,)
    x = extract(y, kind=kind)
    n_frames = 1 + len(y) // HOP_LENGTH
    expected = SHAPES[kind] + ((len(y),) if kind == "raw" else (n_frames,))
    assert x.shape == expected and x.dtype == np.float32
    assert np.isfinite(x).all()


def test_window_sizes():
    assert {k: window_length(k) for k in INPUTS} == {"mfcc": 400, "mfcc_f0": 400, "mel": 400, "raw": 64000,
                                                     "mfcc_f0_vt": 400}
    assert {k: input_shape(k) for k in INPUTS} == SHAPES


def test_a_4_s_clip_is_one_window_of_every_input():
    """4 s of audio gives exactly one "raw" window of samples, and one window of frames plus the extra frame
    that centred framing adds (T = 1 + N // hop): a window is the same 4 s whatever the input."""
    y = np.random.default_rng(3).standard_normal(4 * SR) * 0.1  # (64000,) = 4 s
    assert extract(y, kind="raw").shape[-1] == window_length("raw")
    for kind in ("mfcc", "mfcc_f0", "mel"):
        assert extract(y, kind=kind).shape[-1] == window_length(kind) + 1, kind


def test_mfcc_channels_match_librosa():
    """The pinned settings reproduce librosa.feature.mfcc and librosa.feature.delta (saved values)."""
    x = extract(REF["speech"].astype(np.float64), kind="mfcc")  # (3, 13, T)
    for channel, key in enumerate(["speech_mfcc_slaney_slaney_l0", "speech_delta1", "speech_delta_delta"]):
        worst = np.abs(x[channel] - REF[key]).max()
        print(f"channel {channel} vs librosa {key}: largest difference {worst:.2e}")
        assert worst < 0.01, f"channel {channel} differs from librosa {key} by up to {worst:.4f}"


def test_mfcc_f0_channels_are_deltas():
    """Channels 1 and 2 equal the HTK delta and delta of the delta of channel 0, written out as a loop."""
    x = extract(tone_then_silence() + 0.01 * np.random.default_rng(1).standard_normal(16000), kind="mfcc_f0")
    d1 = htk_delta(x[0].astype(np.float64))  # (14, T)
    d2 = htk_delta(d1)  # (14, T)
    for channel, expected in [(1, d1), (2, d2)]:
        worst = np.abs(x[channel] - expected).max()  # float32 rounding of channel 0 is ~1e-5 here
        assert worst < 1e-3, f"channel {channel} is not the delta of the channel before: off by {worst:.2e}"


def test_mfcc_f0_extends_mfcc():
    y = tone_then_silence()
    with_f0, without = extract(y, kind="mfcc_f0"), extract(y, kind="mfcc")
    # rows 0..12 of channels 1 and 2 are deltas of the same MFCCs: the F0 row does not leak into them
    assert close(with_f0[:, :13], without)


def test_f0_row_encoding():
    """200 Hz on voiced frames: 12·log2(200 / F0_REF) = 24 semitones; exactly 0 on the silent half."""
    x = extract(tone_then_silence(200.0), kind="mfcc_f0")
    row = x[0, 13]  # (T,)
    expected = 12 * np.log2(200.0 / features.F0_REF)
    tone, silence = row[5:45], row[56:]  # frames well inside each half (YIN frames span ±512 samples)
    worst = np.abs(tone - expected).max()
    assert worst < 0.1, f"F0 row on a 200 Hz tone off by up to {worst:.3f} semitones (= {100 * worst:.1f} cents)"
    assert np.all(np.abs(silence) < 1e-9)


def test_f0_row_of_the_lowest_pitch_stays_above_zero():
    """A 60 Hz tone (F0_FMIN, the lowest pitch searched) encodes as 12·log2(60/50) = 3.16 semitones, well above
    the 0 that means unvoiced."""
    t = np.arange(SR) / SR  # (16000,) s
    row = features.f0_row(0.5 * np.sin(2 * np.pi * 60.0 * t))  # (T,)
    inside = row[7:-7]  # frames whose 1024-sample YIN window lies inside the tone
    semitones = 12 * np.log2(60.0 / 50.0)  # 3.156
    worst = np.abs(100 * (inside - semitones)).max()  # cents: 100 per semitone
    assert worst < 10.0, f"F0 row on a 60 Hz tone off by up to {worst:.1f} cents"


def test_f0_row_is_zero_on_noise():
    """White noise has no pitch: YIN calls every frame unvoiced, and every value of the row is exactly 0."""
    noise = 0.3 * np.random.default_rng(4).standard_normal(SR)  # (16000,) 1 s
    row = features.f0_row(noise)
    assert row.shape == (1 + SR // HOP_LENGTH,)
    assert np.all(np.abs(row) < 1e-9), f"{np.count_nonzero(row)} of {row.size} noise frames have a pitch"


def test_mel_is_log_power_in_db():
    x = extract(tone_then_silence(), kind="mel")[0]  # (64, T)
    assert x.max() - x.min() <= 80.0 + 1e-3  # top_db = 80 dB clamps the range
    assert x.max() > -10.0  # a 0.5-amplitude tone is loud on a ref = 1.0 dB scale


def test_raw_is_the_waveform():
    y = np.random.default_rng(2).standard_normal(1000)
    assert close(extract(y, kind="raw")[0], y.astype(np.float32))


def test_silence_gives_finite_features():
    for kind in INPUTS:
        assert np.isfinite(extract(np.zeros(SR), kind=kind)).all()
    assert np.all(np.abs(extract(np.zeros(SR))[0, 13]) < 1e-9)  # no pitch in silence


@pytest.mark.parametrize("args, kwargs, match", [
    ((np.zeros(100),), dict(kind="mfcc_f1"), "mfcc, mfcc_f0, mel, raw"),
    ((np.zeros(100), 8000), {}, "resample"),
    ((np.zeros(0),), {}, "non-empty"),
    ((np.zeros((2, 100)),), {}, "mono"),
    ((np.full(100, np.nan),), {}, "NaN"),
])
def test_errors(args, kwargs, match):
    with pytest.raises(ValueError, match=match):
        extract(*args, **kwargs)


def test_unknown_kind_in_shape_helpers():
    with pytest.raises(ValueError, match="expected one of"):
        input_shape("spectrogram")
    with pytest.raises(ValueError, match="expected one of"):
        window_length("spectrogram")


def test_the_vocal_tract_rows_are_the_formants_and_the_tube_length():
    """mfcc_f0_vt = mfcc_f0 and five rows more: F1..F4 as 12 log2(F / 50 Hz) and the uniform tube's length in cm,
    formants.py's own numbers where a frame has all four formants, 0 where it has none."""
    import formants
    sr = SR  # 1 s of a 100 Hz voice (pulses and the source's -12 dB/octave) through a 17.5 cm tube's F1..F4
    y = scipy.signal.lfilter([1.0], [1.0, -1.9, 0.9025], (np.arange(sr) % 160 == 0).astype(float))
    for f_hz, b_hz in [(500, 60), (1500, 90), (2500, 120), (3500, 180)]:
        r = np.exp(-np.pi * b_hz / sr)
        y = scipy.signal.lfilter([1.0], [1.0, -2 * r * np.cos(2 * np.pi * f_hz / sr), r * r], y)
    y = (0.5 * y / np.abs(y).max()).astype(np.float32)
    x, plain = extract(y, sr, "mfcc_f0_vt"), extract(y, sr, "mfcc_f0")
    assert np.abs(x[:, :14] - plain).max() < 1e-4, "the first 14 rows are mfcc_f0's"
    F = formants.formants(y, sr)  # (4, T) Hz
    have = np.isfinite(F).all(axis=0)  # frames with four formants
    assert have.mean() > 0.5, have.mean()
    assert np.abs(x[0, 14:18, have] - 12 * np.log2(F[:, have].T / 50.0)).max() < 1e-3
    assert np.abs(x[0, 18, have] - formants.vocal_tract_length(F[:, have])).max() < 1e-3
    assert abs(np.median(x[0, 18, have]) - 17.5) < 0.9, np.median(x[0, 18, have])  # within 5 %
