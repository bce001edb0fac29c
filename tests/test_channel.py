"""extras/channel.py: each channel does what its name says, measured independently of how it was made.

A band-limited tone has no energy above the cut-off; an 8 kHz round trip leaves nothing above 4 kHz; an impulse
response's RT60, measured by Schroeder's backward integration (the standard's method), is the one asked for; noise
is added at the SNR asked for; a tilt of +6 dB per octave puts 6 dB between two tones an octave apart; an MP3 and
an Ogg Vorbis round trip keep the length and the level.

    python -m pytest tests/test_channel.py
"""
import numpy as np
import pytest

from extras import channel

SR = 16000


def tone(hz, seconds=1.0, amplitude=0.3):
    t = np.arange(int(seconds * SR)) / SR
    return (amplitude * np.sin(2 * np.pi * hz * t)).astype(np.float32)


def band_energy_db(y, low, high):
    """Energy of y between low and high Hz relative to all of it, in dB."""
    spectrum = np.abs(np.fft.rfft(y.astype(np.float64))) ** 2
    f = np.fft.rfftfreq(len(y), 1 / SR)
    return 10 * np.log10(spectrum[(f >= low) & (f < high)].sum() / spectrum.sum() + 1e-30)


def test_the_telephone_band_removes_what_lies_above_it():
    y = tone(1000) + tone(6000)
    out = channel.band_limit(y, SR)
    assert band_energy_db(out, 4500, 8000) < -40, band_energy_db(out, 4500, 8000)
    assert band_energy_db(out, 900, 1100) > -0.1  # the 1 kHz tone passes


def test_an_8_khz_round_trip_leaves_nothing_above_4_khz():
    y = tone(1000) + tone(5000) + tone(7000)
    out = channel.rate_round_trip(y, SR, 8000)
    assert out.shape == y.shape
    assert band_energy_db(out, 4100, 8000) < -40, band_energy_db(out, 4100, 8000)


@pytest.mark.parametrize("rt60", [0.25, 0.5, 0.9])
def test_an_impulse_responses_measured_rt60_is_the_one_asked_for(rt60):
    h = channel.room_impulse(SR, rt60, np.random.default_rng(0), direct_to_reverb_db=-10)
    measured = channel.rt60_of(h[int(0.0025 * SR):], SR)  # the tail (the direct path is a single sample)
    assert measured == pytest.approx(rt60, rel=0.1), measured


def test_noise_is_added_at_the_snr_asked_for():
    y = tone(440, 2.0)
    for colour in ("white", "pink", "brown"):
        out = channel.add_noise(y, np.random.default_rng(1), 10.0, colour)
        snr = 10 * np.log10(np.mean(y.astype(np.float64) ** 2) / np.mean((out - y).astype(np.float64) ** 2))
        assert snr == pytest.approx(10.0, abs=0.01), (colour, snr)


def test_a_tilt_of_6_db_per_octave_puts_6_db_between_two_tones_an_octave_apart():
    y = tone(1000) + tone(2000)
    out = channel.tilt_eq(y, SR, 6.0)
    spectrum = np.abs(np.fft.rfft(out.astype(np.float64)))
    f = np.fft.rfftfreq(len(out), 1 / SR)
    level = [20 * np.log10(spectrum[np.argmin(np.abs(f - hz))]) for hz in (1000, 2000)]
    assert level[1] - level[0] == pytest.approx(6.0, abs=0.05)


@pytest.mark.parametrize("codec", ["mp3", "ogg"])
def test_a_lossy_round_trip_keeps_the_length_and_the_level(codec):
    y = tone(440, 2.0) + tone(1200, 2.0, 0.1)
    out = channel.lossy(y, SR, codec)
    assert out.shape == y.shape
    level = 20 * np.log10(np.sqrt(np.mean(out.astype(np.float64) ** 2)) / np.sqrt(np.mean(y.astype(np.float64) ** 2)))
    assert abs(level) < 1.0, f"{codec}: level changed by {level:.2f} dB"


def test_a_random_channel_is_the_same_for_the_same_seed_and_never_clips():
    y = tone(200, 2.0, 0.9)
    a = channel.random_channel(y, SR, np.random.default_rng(7))
    b = channel.random_channel(y, SR, np.random.default_rng(7))
    assert a.shape == y.shape and np.allclose(a, b, rtol=0, atol=1e-7) and np.max(np.abs(a)) <= 0.99 + 1e-6
