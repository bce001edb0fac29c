"""Waveform augmentation -- speed perturbation and babble noise mixed at a chosen SNR.

Both make extra *versions* of a training clip that the feature store keeps beside the original (Kaldi's
recipes do the same: speed-perturbed and noise-augmented copies prepared once, not on the fly). The third
augmentation, SpecAugment's time and feature masks, works on the features inside the model
(extras/robust.spec_augment_mask). NumPy/SciPy only; arrays in, arrays out.

    speed_perturb(y, 1.1)               (N,) -> (round(N / 1.1),): 10 % faster AND 10 % higher, like sox `speed`
    babble(others, n)                   the sum of other talkers' clips, each looped or cut to n samples
    mix_at_snr(y, noise, snr_db)        y + g * noise with 10 log10(P_y / P_{g noise}) = snr_db
    python -m pytest tests/test_augment.py
"""
from fractions import Fraction

import numpy as np
from scipy.signal import firwin, resample_poly

VERSION = 1  # bump by hand when a change here or in extras/channel.py changes any augmented copy (scale/cache.py)
VERSIONS = ("orig", "speed0.9", "speed1.1", "babble", "chan1", "chan2", "voice1", "voice2")  # --augment's copies
VOICE_EFFORT = (-1.5, 1.5)  # units of extras/psola.vocal_effort (±9 dB, tilt, ±3.6 semitones), drawn uniformly
VOICE_SHIFT_ST = (-2.0, 2.0)  # semitones of a further formant-preserving pitch shift, drawn uniformly
BABBLE_TALKERS = 3  # other training clips summed into one babble track
BABBLE_SNR_DB = (5.0, 20.0)  # dB, the range the mixing SNR is drawn from, uniformly


def speed_perturb(y, factor):
    """Play y `factor` times faster: (N,) -> (round(N / factor),), every frequency (F0, formants) times factor.

    Resample by the rational p/q = 1/factor and keep the sample rate, as Kaldi's speed perturbation (sox
    `speed`) does. factor 1.1 shortens a clip by 1/1.1 and raises a 200 Hz voice to 220 Hz. Speeding up moves
    the top of the band above Nyquist, so the polyphase low-pass must remove it, not fold it back: scipy's
    default filter (Kaiser beta 5, 10 taps per phase) lets a 7.5 kHz tone alias at -10 dB; ours cuts at 95 % of
    the narrower Nyquist with Kaiser beta 8.6 and 40 taps per phase (about -70 dB, tests/test_augment.py).
    """
    if not factor > 0:
        raise ValueError(f"speed factor must be positive, got {factor}")
    ratio = Fraction(1 / factor).limit_denominator(100)  # 1/1.1 = 10/11
    up, down = ratio.numerator, ratio.denominator
    low_pass = firwin(2 * 40 * max(up, down) + 1, 0.95 / max(up, down), window=("kaiser", 8.6))  # at the up-rate
    return resample_poly(y, up, down, window=low_pass).astype(y.dtype)  # (N * 10/11,)


def babble(others, n):
    """Sum of other talkers' waveforms, each looped (or cut) to n samples and scaled to unit power -> (n,)."""
    track = np.zeros(n, dtype=np.float64)
    for other in others:
        looped = np.resize(np.asarray(other, dtype=np.float64), n)  # repeats a short clip, cuts a long one
        track += looped / np.sqrt(np.mean(looped ** 2) + 1e-12)
    return track


def mix_at_snr(y, noise, snr_db):
    """y + g * noise, with g chosen so that the signal-to-noise ratio 10 log10(P_y / P_{g noise}) is snr_db.

    P is the mean square over the whole clip. noise must have y's length. The result is scaled down only if it
    would clip (peak > 1), which leaves the SNR unchanged.
    """
    y, noise = np.asarray(y, dtype=np.float64), np.asarray(noise, dtype=np.float64)
    assert y.shape == noise.shape, "noise must be as long as the signal"
    p_y, p_n = np.mean(y ** 2), np.mean(noise ** 2)
    if p_n == 0.0:
        return y.astype(np.float32)
    gain = np.sqrt(p_y / (p_n * 10.0 ** (snr_db / 10.0)))  # P_y / (g^2 P_n) = 10^(snr/10)
    mixed = y + gain * noise
    peak = np.max(np.abs(mixed))
    return (mixed / peak if peak > 1.0 else mixed).astype(np.float32)


def version_of(y, version, others=(), rng=None):
    """Waveform y (N,) turned into one of VERSIONS: "orig" (unchanged), "speed0.9", "speed1.1", "babble"
    (BABBLE_TALKERS other clips `others` at an SNR drawn from BABBLE_SNR_DB with rng), "chan*" (a phone, a room, a
    codec), or "voice*": the same speaker in another state -- louder or softer, brighter or duller, higher or
    lower (extras/psola.py: vocal effort, then a formant-preserving pitch shift), the vocal tract unchanged."""
    if version == "orig":
        return y
    if version.startswith("speed"):
        return speed_perturb(y, float(version[len("speed"):]))
    if version.startswith("chan"):  # a random channel: a phone, a room, a codec (extras/channel.py)
        from extras import channel
        return channel.random_channel(y, 16000, rng or np.random.default_rng(0))
    if version.startswith("voice"):  # the speaker's state, not the speaker: labels stay true
        from extras import psola
        rng = rng or np.random.default_rng(0)
        effort, shift = rng.uniform(*VOICE_EFFORT), rng.uniform(*VOICE_SHIFT_ST)
        return psola.pitch_shift(psola.vocal_effort(y, 16000, effort), 16000, shift)
    if version == "babble":
        if not others:
            return y  # a corpus of one clip has no other talkers
        snr_db = (rng or np.random.default_rng(0)).uniform(*BABBLE_SNR_DB)
        return mix_at_snr(y, babble(others, len(y)), snr_db)
    raise ValueError(f"unknown augmentation version {version!r}; expected one of {', '.join(VERSIONS)}")
