"""Tests for synth.py: determinism, balanced labels, output format, and two known answers from the signal
itself — the F0 we asked for is the F0 an independent autocorrelation pitch estimate hears, and gender can
be told apart from mean spectra by a nearest-centroid classifier on unseen speakers.

Run:  python -m pytest tests/test_synth.py
"""
from collections import Counter

import numpy as np
import pytest
from scipy.fft import dct

from extras import synth
from conftest import close

SR = 16000  # Hz


# ---------------------------------------------------------------- helpers (independent of synth.py)
def frames(y, frame_length, hop_length):
    """Frames (n_frames, frame_length) of y without padding."""
    return np.lib.stride_tricks.sliding_window_view(y, frame_length)[::hop_length]


def autocorrelation_f0(y, sr, fmin=60.0, fmax=500.0, frame_length=800, hop_length=160):
    """Median F0 in Hz of the loudest frames: the lag of the largest normalised autocorrelation peak."""
    x = frames(y.astype(np.float64), frame_length, hop_length)       # (T, frame_length)
    rms = np.sqrt(np.mean(x ** 2, axis=1))                            # (T,)
    x = x[rms > 0.3 * rms.max()]                                      # voiced (loud) frames only
    x = x - x.mean(axis=1, keepdims=True)
    spectrum = np.fft.rfft(x, n=2 * frame_length, axis=1)
    r = np.fft.irfft(np.abs(spectrum) ** 2, axis=1)[:, :frame_length]  # (T', lags) autocorrelation
    r /= r[:, :1]
    lo, hi = int(sr / fmax), int(sr / fmin)                           # lag range in samples
    lag = lo + np.argmax(r[:, lo:hi], axis=1)                         # (T',)
    rows = np.arange(len(lag))
    a, b, c = r[rows, lag - 1], r[rows, lag], r[rows, lag + 1]        # parabolic refinement of the peak
    lag = lag + 0.5 * (a - c) / (a - 2 * b + c)
    return float(np.median(sr / lag))


def mean_spectrum_cepstrum(y, n_fft=512, hop_length=160, n_coefficients=20):
    """Cepstrum of the mean log power spectrum (below 4 kHz) of the louder half of the frames -> (20,).

    An MFCC-like summary without the mel warping: the DCT of the log spectrum keeps its smooth shape
    (formants, spectral tilt) and drops the noise-only frames between syllables.
    """
    x = frames(y.astype(np.float64), n_fft, hop_length) * np.hanning(n_fft)  # (T, n_fft)
    power = np.abs(np.fft.rfft(x, axis=1)[:, : n_fft // 4]) ** 2            # (T, 128) bins up to 4 kHz
    energy = power.sum(axis=1)                                              # (T,)
    log_spectrum = np.log(power[energy > np.median(energy)].mean(axis=0) + 1e-10)  # guard: log(0)
    return dct(log_spectrum, norm="ortho")[:n_coefficients]                # (20,)


def flat_speaker(f0_hz, gender="male"):
    """A speaker with a monotone voice (no contour, declination or tremor) at mean F0 f0_hz."""
    params = synth.speaker_params(gender, "30s", "수도권", np.random.default_rng(0))
    params.update(f0_hz=f0_hz, ap_rise=0.0, accent=0.0, final=0.0, risefall=0.0, declination_st=0.0,
                  tremor_st=0.0, jitter=0.005)
    return params


# ---------------------------------------------------------------- determinism and format
def test_same_seed_gives_identical_bytes():
    params = synth.plan_corpus(3, seed=7)[2]["params"]
    a = synth.synthesize_utterance(params, seed=11, duration_s=1.5)
    b = synth.synthesize_utterance(params, seed=11, duration_s=1.5)
    assert close(a, b, atol=1e-7)


def test_different_seed_or_speaker_differs():
    plan = synth.plan_corpus(2, seed=7)
    a = synth.synthesize_utterance(plan[0]["params"], seed=11, duration_s=1.5)
    b = synth.synthesize_utterance(plan[0]["params"], seed=12, duration_s=1.5)
    c = synth.synthesize_utterance(plan[1]["params"], seed=11, duration_s=1.5)
    assert not close(a, b), "a new seed must give a new utterance"
    assert not close(a, c), "a new speaker must give a new utterance"


def test_plan_corpus_is_deterministic_and_prefix_stable():
    assert synth.plan_corpus(25, seed=3) == synth.plan_corpus(25, seed=3)
    assert synth.plan_corpus(10, seed=3) == synth.plan_corpus(25, seed=3)[:10]
    assert synth.plan_corpus(10, seed=3) != synth.plan_corpus(10, seed=4)
    speaker = synth.plan_corpus(1, seed=0)[0]
    assert speaker["speaker"] == "spk000"
    assert all(type(v) is float for v in speaker["params"].values()), "params must be plain floats"


@pytest.mark.parametrize("n_speakers", [1, 2, 7, 13, 30, 59, 60, 97, 120])
def test_plan_corpus_labels_are_balanced(n_speakers):
    """Guarantee: every gender, age and dialect count differs by at most 1 from every other."""
    plan = synth.plan_corpus(n_speakers, seed=5)
    for task, names in (("gender", synth.GENDERS), ("age", synth.AGES), ("dialect", synth.DIALECTS)):
        counts = Counter(s[task] for s in plan)
        assert set(counts) <= set(names)
        per_label = [counts[name] for name in names]
        assert max(per_label) - min(per_label) <= 1, f"{task} counts {per_label} for n={n_speakers}"


def test_plan_corpus_covers_the_full_grid():
    """Guarantee: for n a multiple of 60 every (gender, age, dialect) cell holds n / 60 speakers."""
    cells = Counter((s["gender"], s["age"], s["dialect"]) for s in synth.plan_corpus(120, seed=0))
    assert len(cells) == 60 and set(cells.values()) == {2}


@pytest.mark.parametrize("duration_s, sr", [(0.5, 16000), (1.37, 16000), (4.0, 16000), (2.0, 8000)])
def test_output_format(duration_s, sr):
    params = synth.plan_corpus(4, seed=1)[3]["params"]
    y = synth.synthesize_utterance(params, seed=2, sr=sr, duration_s=duration_s)
    assert y.dtype == np.float32 and y.shape == (int(round(duration_s * sr)),)
    assert np.all(np.isfinite(y))
    assert np.max(np.abs(y)) == pytest.approx(synth.PEAK, abs=1e-6)
    assert np.max(np.abs(y)) < 1.0  # written as 16-bit PCM without clipping


def test_bad_arguments_raise():
    params = synth.plan_corpus(1, seed=0)[0]["params"]
    with pytest.raises(ValueError, match="duration_s"):
        synth.synthesize_utterance(params, seed=0, duration_s=0.1)
    with pytest.raises(ValueError, match="n_speakers"):
        synth.plan_corpus(0, seed=0)
    with pytest.raises(ValueError, match="unknown label"):
        synth.speaker_params("female", "90s", "경상", np.random.default_rng(0))


# ---------------------------------------------------------------- known answers
@pytest.mark.parametrize("f0_hz, gender", [(110.0, "male"), (220.0, "female")])
def test_synthesised_f0_is_recovered(f0_hz, gender):
    """The median autocorrelation F0 over 5 utterances is within 50 cents of the requested mean F0
    (each utterance's own mean varies by F0_UTTERANCE_SD = 2 % ~ 35 cents, so 5 average to ~15 cents)."""
    params = flat_speaker(f0_hz, gender)
    estimates = [autocorrelation_f0(synth.synthesize_utterance(params, seed, snr_db=40.0), SR)
                 for seed in range(5)]
    cents = 1200 * np.log2(np.median(estimates) / f0_hz)
    assert abs(cents) < 50, f"estimated {np.median(estimates):.1f} Hz for {f0_hz} Hz: {cents:+.1f} cents"


def test_gender_separable_from_mean_spectrum_on_unseen_speakers():
    """Nearest centroid on mean-spectrum cepstra, trained on 12 speakers, tested on 12 others."""
    plan = synth.plan_corpus(24, seed=11)
    X = np.array([mean_spectrum_cepstrum(synth.synthesize_utterance(s["params"], seed=u, duration_s=2.0))
                  for s in plan for u in range(2)])                   # (48, 20)
    is_female = np.repeat([s["gender"] == "female" for s in plan], 2)  # (48,)
    train = np.repeat(np.arange(24) < 12, 2)                          # speaker-disjoint split
    mu, sd = X[train].mean(axis=0), X[train].std(axis=0) + 1e-9
    Z = (X - mu) / sd
    centroids = np.stack([Z[train & ~is_female].mean(axis=0), Z[train & is_female].mean(axis=0)])  # (2, 20)
    distances = ((Z[~train, None, :] - centroids[None]) ** 2).sum(axis=2)  # (24, 2)
    accuracy = np.mean((distances.argmin(axis=1) == 1) == is_female[~train])
    assert accuracy >= 0.9, f"gender accuracy {accuracy:.3f} on unseen speakers (chance 0.5)"
