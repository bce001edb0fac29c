"""extras/recording.py: each check fires on a signal made to have that problem, and on nothing else.

The clean signal is a voiced, vowel-like source with pauses (a 150 Hz pulse train through a few formant-like
resonances, 300 ms on, 200 ms off, plus a quiet noise floor), full band to 8 kHz. Each test damages it in one way
whose answer is known: low-passed at 3.4 kHz, scaled into clipping, drowned in noise, cut short, attenuated.

    python -m pytest tests/test_recording.py
"""
import numpy as np
import pytest
import scipy.signal

from extras import recording

SR = 16000


def voice(seconds=4.0, seed=0):
    """(N,) float32: a 150 Hz glottal-like pulse train through resonances at 500, 1500, 2500, 3500 Hz and a
    broad 6 kHz one, in 300 ms bursts with 200 ms pauses, peak 0.5, over a noise floor 50 dB down."""
    rng = np.random.default_rng(seed)
    n = int(seconds * SR)
    pulses = np.zeros(n)
    pulses[::SR // 150] = 1.0
    y = np.zeros(n)
    for f, bw in ((500, 80), (1500, 120), (2500, 160), (3500, 250), (6000, 1500)):
        b, a = scipy.signal.iirpeak(f, f / bw, fs=SR)
        y += scipy.signal.lfilter(b, a, pulses)
    y *= (np.arange(n) % int(0.5 * SR)) < int(0.3 * SR)  # 300 ms on, 200 ms off
    y = 0.5 * y / np.max(np.abs(y))
    return (y + 10 ** (-50 / 20) * 0.5 * rng.standard_normal(n)).astype(np.float32)


def kinds(found):
    return sorted(w.split(":")[0] for w in found)


def test_a_clean_full_band_voice_raises_nothing():
    y = voice()
    assert recording.band_drop_db(y) < recording.BAND_DROP_DB
    assert kinds(recording.warnings_of(y)) == []


@pytest.mark.parametrize("damage, expected", [
    ("telephone", ["band-limited"]),
    ("8 kHz", ["band-limited"]),
    ("clipped", ["clipped"]),
    ("short", ["short"]),
    ("quiet", ["quiet"]),
])
def test_each_damage_is_named(damage, expected):
    y = voice()
    if damage == "telephone":
        y = scipy.signal.sosfilt(scipy.signal.butter(8, [300, 3400], "bandpass", fs=SR, output="sos"), y)
    elif damage == "8 kHz":
        y = scipy.signal.resample_poly(scipy.signal.resample_poly(y, 1, 2), 2, 1)  # an 8 kHz file, played at 16
    elif damage == "clipped":
        y = np.clip(4 * y, -1, 1)
    elif damage == "short":
        y = y[:SR]  # 1 s
    elif damage == "quiet":
        y = y * 10 ** (-40 / 20)  # peak -46 dBFS
    assert kinds(recording.warnings_of(np.asarray(y, dtype=np.float32))) == expected


def test_noise_that_fills_the_pauses_is_noisy_and_white_noise_has_no_voice():
    y = voice()
    noisy = y + 0.05 * np.random.default_rng(1).standard_normal(len(y)).astype(np.float32)  # pauses filled
    assert "noisy" in kinds(recording.warnings_of(noisy))
    noise = (0.3 * np.random.default_rng(2).standard_normal(4 * SR)).astype(np.float32)
    assert kinds(recording.warnings_of(noise)) == ["no voice"], "no voiced frame: nothing to profile"


def test_the_frame_energy_range_of_a_known_signal():
    """Frames alternating between amplitude 1 and 0.01 (40 dB apart): the 95th - 10th percentile is 40 dB."""
    frames = np.repeat(np.tile([1.0, 0.01], 50), 400)  # 100 frames of 400 samples
    assert recording.frame_energy_range_db(frames) == pytest.approx(40.0, abs=0.01)


def test_unfamiliarity_is_the_mean_z_of_the_static_cepstra():
    """Features whose static cepstral rows sit exactly 2 standard deviations above the training mean: z = 2; the
    F0 row and the deltas, moved too, do not count."""
    mean, std = np.zeros((3, 14)), np.full((3, 14), 0.5)
    x = np.ones((3, 14, 50))  # every row's mean is 1 = 2 standard deviations
    x[0, 13] = 100.0  # the F0 row: not a cepstral row
    x[1:] = 50.0  # deltas: not counted
    assert recording.unfamiliarity(x, mean, std) == pytest.approx(2.0, abs=1e-9)
