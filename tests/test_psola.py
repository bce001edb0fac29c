"""Tests for extras/psola.py: the pitch shift moves F0 by the semitones asked (measured by f0.yin, in cents) and
leaves the formants (measured by formants.py) and the level where they were; vocal effort moves level, F0 and
spectral tilt together (band levels from scipy's Welch spectrum); and every kind of awkward input comes back whole.

Run: python -m pytest tests/test_psola.py
"""
import warnings

import numpy as np
import pytest
import scipy.signal

import formants
from extras import psola
from test_formants import BANDWIDTHS_HZ, VOWELS, voice

SR = 16000  # Hz


def vowel32(name, seconds=1.0, peak=0.3):
    """One of test_formants' synthetic vowels as float32 (what the data loader hands out), at the given peak."""
    f0_hz, formants_hz = VOWELS[name]
    y = voice(formants_hz, BANDWIDTHS_HZ, f0_hz, seconds=seconds)
    return (peak * y / np.abs(y).max()).astype(np.float32)


def median_f0(y):
    f0_hz, voiced = formants.voicing(y, SR)
    return np.median(f0_hz[voiced])


def interior_formants(y, ceiling_hz):
    """Median F1, F2 (Hz) away from the first and last 100 ms, at a fixed ceiling (formants.formant_ceiling
    would follow the new F0; the tract has not changed, so neither does the ceiling)."""
    return np.nanmedian(formants.formants(y, SR, ceiling_hz=ceiling_hz)[:2, 10:-10], axis=1)


def level_db(y):
    return 10 * np.log10(np.mean(np.asarray(y, dtype=np.float64) ** 2))


# ---- pitch shift ----

@pytest.mark.parametrize("semitones", [-6.0, -2.0, 2.0, 6.0])
@pytest.mark.parametrize("name", ["man /a/", "woman /a/"])
def test_pitch_shift_moves_f0_and_keeps_formants_and_level(name, semitones):
    y = vowel32(name)
    ceiling = formants.formant_ceiling(*formants.voicing(y, SR), SR)
    shifted = psola.pitch_shift(y, SR, semitones)
    assert shifted.shape == y.shape and shifted.dtype == np.float32 and np.isfinite(shifted).all()

    cents = 1200 * np.log2(median_f0(shifted) / median_f0(y)) - 100 * semitones
    before, after = interior_formants(y, ceiling), interior_formants(shifted, ceiling)
    drift = after / before - 1
    level = level_db(shifted) - level_db(y)
    print(f"{name} {semitones:+.0f} st: F0 off by {cents:+.1f} cents; F1 {100 * drift[0]:+.1f} %, "
          f"F2 {100 * drift[1]:+.1f} %; level {level:+.2f} dB")
    assert abs(cents) < 20, f"{name}: F0 moved {cents:+.1f} cents away from {semitones:+.0f} semitones"
    assert np.abs(drift).max() < 0.05, f"{name}: F1, F2 moved by {np.round(100 * drift, 1)} %"
    assert abs(level) < 0.5, f"{name}: level changed by {level:+.2f} dB"


@pytest.mark.parametrize("semitones", [-6.0, -2.0, 2.0, 6.0])
@pytest.mark.parametrize("name", ["man /i/", "man /u/", "woman /i/", "woman /u/"])
def test_close_vowels_keep_their_formants_within_the_lpc_error(name, semitones):
    """For a low F1 the measurement itself moves with F0: LPC pulls F1 toward the nearest harmonic by up to a
    quarter of F0 (formants.py, "Known limit"; tests/test_formants.py). So F2 within 5 %, and F1 within 5 % or a
    quarter of the new F0, whichever is larger."""
    y = vowel32(name)
    ceiling = formants.formant_ceiling(*formants.voicing(y, SR), SR)
    shifted = psola.pitch_shift(y, SR, semitones)
    before, after = interior_formants(y, ceiling), interior_formants(shifted, ceiling)
    new_f0 = median_f0(shifted)
    print(f"{name} {semitones:+.0f} st: F1 {after[0] - before[0]:+.0f} Hz ({100 * (after[0] / before[0] - 1):+.1f} %, "
          f"F0/4 = {new_f0 / 4:.0f} Hz), F2 {100 * (after[1] / before[1] - 1):+.1f} %")
    assert abs(after[1] / before[1] - 1) < 0.05, f"{name}: F2 moved from {before[1]:.0f} to {after[1]:.0f} Hz"
    assert abs(after[0] - before[0]) < max(0.05 * before[0], new_f0 / 4), \
        f"{name}: F1 moved from {before[0]:.0f} to {after[0]:.0f} Hz"


def test_unvoiced_stretches_pass_through_unchanged():
    """Noise, a vowel, noise: the noise more than 50 ms from the vowel is the input's, sample for sample."""
    rng = np.random.default_rng(0)
    noise = (0.02 * rng.standard_normal(4800)).astype(np.float32)  # 0.3 s
    y = np.concatenate([noise, vowel32("man /a/", seconds=0.5), noise[::-1]])
    shifted = psola.pitch_shift(y, SR, 4.0)
    margin = 800  # samples = 50 ms: the vowel's grains (two periods) and YIN's frames reach this far
    for part in (slice(0, 4800 - margin), slice(len(y) - 4800 + margin, len(y))):
        worst = np.abs(shifted[part] - y[part]).max()
        assert worst < 1e-6, f"noise changed by up to {worst:.2e} (full scale)"
    cents = 1200 * np.log2(median_f0(shifted[4800:-4800]) / median_f0(y[4800:-4800])) - 400
    assert abs(cents) < 20, f"the vowel's F0 moved {cents:+.1f} cents away from +4 semitones"


def test_pitch_marks_sit_on_the_pulses():
    y = np.zeros(SR)
    y[37::100] = 1.0  # 160 Hz pulses, the first at sample 37
    y = scipy.signal.lfilter([1.0], [1.0, -0.9], y)  # each pulse decays a little: a peak, then a tail
    marks, periods, voiced = psola.pitch_marks(y, SR)
    on = marks[voiced]
    assert voiced.mean() > 0.9 and np.abs(periods[voiced] - 100).max() < 0.5, periods[voiced]
    assert ((on - 37) % 100 == 0).all(), f"marks off the pulses: {on[(on - 37) % 100 != 0][:5]}"


# ---- vocal effort ----

def tilt_db(y):
    """Level of 0-1 kHz minus level of 2-4 kHz (dB), from Welch's power spectrum: larger = steeper tilt."""
    f, power = scipy.signal.welch(np.asarray(y, dtype=np.float64), SR, nperseg=1024)
    return 10 * np.log10(power[(f > 0) & (f <= 1000)].sum() / power[(f >= 2000) & (f <= 4000)].sum())


@pytest.mark.parametrize("name", ["man /a/", "woman /i/"])
@pytest.mark.parametrize("amount", [-1.0, 1.0])
def test_vocal_effort_moves_level_f0_and_tilt_together(name, amount):
    y = vowel32(name)
    out = psola.vocal_effort(y, SR, amount)
    assert out.shape == y.shape and out.dtype == np.float32
    level = level_db(out) - level_db(y)
    semitones = 12 * np.log2(median_f0(out) / median_f0(y))
    tilt = tilt_db(out) - tilt_db(y)
    print(f"{name}, amount {amount:+.0f}: level {level:+.2f} dB, F0 {semitones:+.2f} semitones, "
          f"0-1 kHz vs 2-4 kHz {tilt:+.2f} dB")
    expected_st = amount * psola.SEMITONES_PER_DB * psola.LEVEL_DB_PER_UNIT  # 2.4 semitones per unit
    assert abs(semitones - expected_st) < 0.2, f"F0 moved {semitones:+.2f} semitones, expected {expected_st:+.2f}"
    assert amount * level > 5.0, f"level moved {level:+.2f} dB for amount {amount}"
    assert amount * tilt < -1.0, f"the tilt moved {tilt:+.2f} dB (flatter is negative) for amount {amount}"


def test_high_shelf_gains_on_sines():
    """0 dB far below the corner, half the gain at the corner, nearly all of it far above (first order)."""
    t = np.arange(SR) / SR
    for f_hz, expected_db in [(30.0, 0.0), (1000.0, 3.0), (7000.0, 5.9)]:
        out = psola.high_shelf(np.sin(2 * np.pi * f_hz * t), SR, 6.0)[SR // 10:]
        gain = 10 * np.log10(np.mean(out ** 2) / 0.5)
        assert abs(gain - expected_db) < 0.15, f"{f_hz} Hz: {gain:.2f} dB, expected about {expected_db}"


def test_loud_input_is_not_clipped():
    """Peaks are brought under 0.99 full scale by a gain: the waveform's shape is kept (no flattened tops)."""
    y = vowel32("man /a/", peak=0.95)
    for out in (psola.vocal_effort(y, SR, 2.0), psola.pitch_shift(y, SR, -6.0)):
        assert np.abs(out).max() <= 0.99 + 1e-6, f"peak {np.abs(out).max():.3f}"
        assert np.isfinite(out).all()
    louder = psola.vocal_effort(y, SR, 2.0)
    top = np.sort(np.abs(louder))[-5:]
    assert top[0] < top[-1] - 1e-4, f"the five largest samples are all {top[-1]:.4f}: clipped"
    hot = y * 1.5  # an unnormalised float clip: its own peak is the limit
    assert np.abs(psola.pitch_shift(hot, SR, 3.0)).max() <= np.abs(hot).max() + 1e-6


# ---- awkward input ----

AWKWARD = {
    "silence": np.zeros(SR, dtype=np.float32),
    "50 ms vowel": vowel32("woman /a/", seconds=0.05),
    "one sample": np.array([0.1], dtype=np.float32),
    "empty": np.zeros(0, dtype=np.float32),
    "white noise": (0.1 * np.random.default_rng(1).standard_normal(SR)).astype(np.float32),
    "a click": np.eye(1, SR, SR // 2, dtype=np.float32)[0],
    "DC": np.full(SR, 0.5, dtype=np.float32),
    "float64 vowel": vowel32("man /u/").astype(np.float64),
}


@pytest.mark.parametrize("name", sorted(AWKWARD))
def test_awkward_input_comes_back_whole(name):
    y = AWKWARD[name]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no RuntimeWarning (0/0, log of 0) either
        outs = [psola.pitch_shift(y, SR, 5.0), psola.pitch_shift(y, SR, -5.0), psola.vocal_effort(y, SR, 1.5),
                psola.vocal_effort(y, SR, -1.5)]
    for out in outs:
        assert out.shape == y.shape and out.dtype == y.dtype and np.isfinite(out).all(), name
        assert y.size == 0 or np.abs(out).max() <= max(0.99, np.abs(y).max()) + 1e-6, name


@pytest.mark.parametrize("name", ["silence", "white noise", "one sample", "DC"])
def test_nothing_voiced_comes_back_unchanged(name):
    """No voiced stretch: pitch_shift returns the input; vocal_effort only changes level and tilt."""
    y = AWKWARD[name]
    assert np.abs(psola.pitch_shift(y, SR, 3.0) - y).max(initial=0.0) < 1e-7
    expected = psola.limit_peak(psola.high_shelf(y, SR, 3.0) * 10 ** (6.0 / 20), y)  # amount 1: 3 dB shelf, +6 dB
    assert np.abs(psola.vocal_effort(y, SR, 1.0) - expected).max(initial=0.0) < 1e-5


def test_zero_shift_is_the_identity():
    y = vowel32("woman /i/")
    assert np.abs(psola.pitch_shift(y, SR, 0.0) - y).max() < 1e-9
    assert np.abs(psola.vocal_effort(y, SR, 0.0) - y).max() < 1e-9


@pytest.mark.parametrize("call, match", [
    (lambda: psola.pitch_shift(np.zeros(100, dtype=np.int16), SR, 2.0), "float mono"),
    (lambda: psola.pitch_shift(np.zeros((2, 100)), SR, 2.0), "float mono"),
    (lambda: psola.pitch_shift(np.array([0.0, np.nan]), SR, 2.0), "NaN"),
    (lambda: psola.pitch_shift(np.zeros(100), SR, np.inf), "finite"),
    (lambda: psola.vocal_effort(np.zeros(100), SR, 2.5), "amount"),
    (lambda: psola.vocal_effort(np.zeros(100), SR, np.nan), "amount"),
])
def test_bad_input_is_refused(call, match):
    with pytest.raises(ValueError, match=match):
        call()
