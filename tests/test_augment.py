"""augment.py against signals with a known answer: a pure tone sped up by 1.1 is 1/1.1 as long and 1.1 times
higher (measured by YIN and by the FFT peak); a mix has exactly the SNR it was asked for; babble is unit power
per talker; every version name is handled and an unknown one is refused.

    python -m pytest tests/test_augment.py
"""
import numpy as np
import pytest

from extras import augment
import f0
from conftest import close

SR = 16000


def tone(hz, seconds=1.0):
    t = np.arange(int(SR * seconds)) / SR
    return (0.5 * np.sin(2 * np.pi * hz * t)).astype(np.float32)


def median_yin(y):
    track, voiced = f0.yin(y, SR, fmin=60, fmax=500, frame_length=1024, hop_length=160)
    return np.median(track[voiced][5:-5])  # away from the edges


@pytest.mark.parametrize("factor", [1.1, 0.9])
def test_speed_changes_length_by_one_over_the_factor_and_pitch_by_the_factor(factor):
    y = tone(200.0)
    fast = augment.speed_perturb(y, factor)
    assert fast.dtype == np.float32
    assert abs(len(fast) - len(y) / factor) <= 1  # 16000 / 1.1 = 14545.45...
    assert median_yin(fast) == pytest.approx(200.0 * factor, rel=0.002)  # 220 Hz (1.1) or 180 Hz (0.9)
    spectrum = np.abs(np.fft.rfft(fast * np.hanning(len(fast))))
    peak_hz = np.argmax(spectrum) * SR / len(fast)
    assert peak_hz == pytest.approx(200.0 * factor, abs=SR / len(fast))  # within one FFT bin


def test_speeding_up_does_not_alias_a_tone_near_nyquist():
    # 7.5 kHz sped up by 1.1 would be 8.25 kHz, above Nyquist: the low-pass removes it (at least 60 dB down)
    # instead of folding it back to 7.75 kHz; a 3 kHz tone passes unchanged in level (3.3 kHz after)
    for hz, low, high in ((7500.0, -np.inf, -60.0), (3000.0, -0.1, 0.1)):
        fast = augment.speed_perturb(tone(hz), 1.1)[400:-400]
        assert low < 10 * np.log10(np.mean(fast.astype(np.float64) ** 2) / 0.125) < high  # 0.125: the tone's power


def test_speed_refuses_a_non_positive_factor():
    with pytest.raises(ValueError, match="positive"):
        augment.speed_perturb(tone(200.0), 0.0)


@pytest.mark.parametrize("snr_db", [5.0, 12.5, 20.0])
def test_mix_has_the_requested_snr(snr_db):
    rng = np.random.default_rng(0)
    y = tone(200.0) * 0.5
    noise = rng.normal(size=len(y))
    mixed = augment.mix_at_snr(y, noise, snr_db).astype(np.float64)
    added = mixed - y  # peak < 1, so no rescaling: what was added is g * noise
    assert 10 * np.log10(np.mean(y.astype(np.float64) ** 2) / np.mean(added ** 2)) == pytest.approx(snr_db, abs=1e-3)


def test_a_mix_that_would_clip_is_scaled_down_and_keeps_its_snr():
    y = tone(200.0) * 1.8  # peak 0.9
    noise = np.random.default_rng(1).normal(size=len(y))
    mixed = augment.mix_at_snr(y, noise, 0.0).astype(np.float64)
    assert np.max(np.abs(mixed)) == pytest.approx(1.0, abs=1e-6)
    (a, b), *_ = np.linalg.lstsq(np.stack([y, noise], axis=1).astype(np.float64), mixed, rcond=None)  # mixed = a y + b n
    assert a < 1.0  # scaled down
    snr = 10 * np.log10(a ** 2 * np.mean(y.astype(np.float64) ** 2) / (b ** 2 * np.mean(noise ** 2)))
    assert snr == pytest.approx(0.0, abs=1e-3)


def test_babble_is_unit_power_per_talker_and_loops_short_clips():
    a, b = tone(150.0, 0.25), tone(230.0, 2.0)
    track = augment.babble([a, b], SR)  # a is looped 4 times, b cut to 1 s
    np.testing.assert_allclose(track, np.resize(a, SR) / np.sqrt(np.mean(np.resize(a, SR).astype(np.float64) ** 2))
                               + b[:SR] / np.sqrt(np.mean(b[:SR].astype(np.float64) ** 2)), rtol=1e-5, atol=1e-5)
    assert np.mean(track ** 2) == pytest.approx(2.0, rel=0.01)  # two unrelated unit-power talkers


def test_every_version_name_and_an_unknown_one():
    y = tone(200.0)
    assert augment.version_of(y, "orig") is y
    assert len(augment.version_of(y, "speed0.9")) == round(len(y) / 0.9)
    mixed = augment.version_of(y, "babble", others=[tone(300.0)], rng=np.random.default_rng(0))
    assert mixed.shape == y.shape and not close(mixed, y, atol=1e-3)
    assert augment.version_of(y, "babble", others=[]) is y  # no other talker to mix in
    with pytest.raises(ValueError, match="unknown augmentation version 'reverb'"):
        augment.version_of(y, "reverb")
