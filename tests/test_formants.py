"""Tests for formants.py: each LPC step against an independent computation, synthetic vowels and tubes of known
resonances, and real speech against Praat (values saved by tests/make_formant_reference.py; parselmouth itself is
never imported here).

Tolerances are in the signal's own units: per cent of a formant frequency, Hz, centimetres.
Run: python -m pytest tests/test_formants.py
"""
import warnings
from pathlib import Path

import numpy as np
import pytest
import scipy.linalg
import scipy.signal
import soundfile as sf

import formants
from f0 import yin

SR = 16000  # Hz
HOP = 160  # samples = 10 ms
C = 35000.0  # cm/s, the speed of sound formants.py assumes
DATA = Path(__file__).resolve().parent / "data"


# ---- a source-filter voice with known formants (independent of formants.py) ----

def voice(formants_hz, bandwidths_hz, f0_hz, seconds=0.6, jitter=0.01, seed=0):
    """A steady vowel: glottal pulses every 1/f0 s (jittered by `jitter`, a fraction of the period; pulses at
    fractional positions are split between two samples), the source's −12 dB/octave (two poles at 0.97), one
    second-order resonator per formant (pole radius exp(−π B / sr), unity gain at 0 Hz), and the lips' radiation
    (a first difference). Peak 0.5. Returns (N,) float64."""
    rng = np.random.default_rng(seed)
    n = int(seconds * SR)
    source = np.zeros(n + 1)
    t = 0.0  # samples
    while t < n:
        i, frac = int(t), t - int(t)
        source[i] += 1.0 - frac
        source[i + 1] += frac
        t += SR / f0_hz * (1.0 + jitter * rng.standard_normal())
    x = scipy.signal.lfilter([1.0], np.convolve([1.0, -0.97], [1.0, -0.97]), source[:n])
    for f_hz, b_hz in zip(formants_hz, bandwidths_hz):
        r = np.exp(-np.pi * b_hz / SR)
        a = [1.0, -2.0 * r * np.cos(2.0 * np.pi * f_hz / SR), r * r]
        x = scipy.signal.lfilter([sum(a)], a, x)
    x = np.diff(x, prepend=0.0)
    return 0.5 * x / np.abs(x).max()


def interior_median(tracks, edge=10):
    """Median of each track over the frames away from the edges (the first and last 100 ms), ignoring NaN."""
    return np.nanmedian(tracks[:, edge:-edge], axis=1)


# ---- Levinson-Durbin, roots, frequency and bandwidth: each against an independent computation ----

def ar_autocorrelation(order, n_frames, seed):
    """(n_frames, order + 1) autocorrelations of random AR(4) signals, biased estimate (a valid autocorrelation)."""
    rng = np.random.default_rng(seed)
    rows = []
    for _ in range(n_frames):
        x = scipy.signal.lfilter([1.0], [1.0, -1.3, 0.8, -0.2, 0.05], rng.standard_normal(2000))
        rows.append([np.dot(x[: len(x) - k], x[k:]) for k in range(order + 1)])
    return np.array(rows)


@pytest.mark.parametrize("order", [1, 2, 10, 16])
def test_levinson_durbin_solves_the_normal_equations(order):
    r = ar_autocorrelation(order, 5, seed=order)  # (5, p + 1)
    a, k, E = formants.levinson_durbin(r)
    assert a.shape == (5, order + 1) and k.shape == (5, order) and E.shape == (5,)
    for t in range(5):
        ref = scipy.linalg.solve_toeplitz(r[t, :order], -r[t, 1:])  # R a = −r, R Toeplitz from r(0..p−1)
        worst = np.abs(a[t, 1:] - ref).max()
        assert worst < 1e-9, f"frame {t}: a differs from scipy.linalg.solve_toeplitz by {worst:.2e}"
        # the prediction error's energy is E = Σ_j a_j r(j) (the normal equations' residual)
        assert abs(E[t] - a[t] @ r[t]) < 1e-9 * r[t, 0], f"frame {t}: E = {E[t]}, Σ a_j r(j) = {a[t] @ r[t]}"
    assert (np.abs(k) < 1).all(), f"a reflection coefficient reached {np.abs(k).max()}"


def test_reflection_coefficients_are_each_orders_last_coefficient():
    """k_i is the last coefficient of the order-i solution: solve every order separately with scipy."""
    p = 8
    r = ar_autocorrelation(p, 3, seed=7)  # (3, 9)
    _, k, _ = formants.levinson_durbin(r)
    for t in range(3):
        ref = [scipy.linalg.solve_toeplitz(r[t, :i], -r[t, 1:i + 1])[-1] for i in range(1, p + 1)]
        worst = np.abs(k[t] - ref).max()
        assert worst < 1e-9, f"frame {t}: reflection coefficients differ from the order-by-order solves by {worst:.2e}"


def test_step_down_recursion_recovers_the_reflection_coefficients():
    """The step-down (backward Levinson) recursion takes the final a back to k_p, k_{p−1}, ..., k_1:
    k_i = a_i⁽ⁱ⁾, a_j⁽ⁱ⁻¹⁾ = (a_j⁽ⁱ⁾ − k_i a_{i−j}⁽ⁱ⁾) / (1 − k_i²)."""
    r = ar_autocorrelation(10, 1, seed=3)
    a, k, _ = formants.levinson_durbin(r)
    coeffs = a[0, 1:].copy()  # a_1..a_p of the final order
    recovered = []
    for i in range(10, 0, -1):
        k_i = coeffs[i - 1]
        recovered.append(k_i)
        coeffs = (coeffs[: i - 1] - k_i * coeffs[: i - 1][::-1]) / (1.0 - k_i ** 2)
    worst = np.abs(np.array(recovered[::-1]) - k[0]).max()
    assert worst < 1e-9, f"step-down recursion differs from the returned reflection coefficients by {worst:.2e}"


@pytest.mark.parametrize("rho", [0.9, -0.5, 0.3])
def test_ar1_known_answer(rho):
    """x[n] = ρ x[n−1] + e[n] has r(k) ∝ ρ^k: a = (1, −ρ, 0, ...), k = (−ρ, 0, ...), E = r(0) (1 − ρ²)."""
    r = rho ** np.arange(6.0)[None, :]  # (1, 6), r(0) = 1
    a, k, E = formants.levinson_durbin(r)
    assert np.abs(a[0] - [1.0, -rho, 0, 0, 0, 0]).max() < 1e-12, a
    assert np.abs(k[0] - [-rho, 0, 0, 0, 0]).max() < 1e-12, k
    assert abs(E[0] - (1.0 - rho ** 2)) < 1e-12, E


def test_silent_frame_gives_a_flat_predictor_without_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        a, k, E = formants.levinson_durbin(np.zeros((2, 11)))
        F, B = formants.root_frequency_bandwidth(formants.lpc_roots(a), 10000)
        picked = formants.pick_formants(F, B, 5000.0)
    assert np.abs(a - np.eye(1, 11)).max() < 1e-300 and np.abs(k).max() < 1e-300 and np.abs(E).max() < 1e-300
    assert np.isnan(picked).all() and picked.shape == (formants.N_FORMANTS, 2)


def test_lpc_roots_equal_np_roots():
    r = ar_autocorrelation(10, 4, seed=11)
    a, _, _ = formants.levinson_durbin(r)
    ours = formants.lpc_roots(a)  # (4, 10)
    for t in range(4):
        ref = np.roots(a[t])  # z^p + a_1 z^(p−1) + ... + a_p
        worst = np.abs(np.sort_complex(ours[t]) - np.sort_complex(ref)).max()
        assert worst < 1e-9, f"frame {t}: roots differ from np.roots by {worst:.2e}"


@pytest.mark.parametrize("f_hz, b_hz, sr", [(500.0, 60.0, 10000), (1500.0, 120.0, 11000), (3000.0, 250.0, 16000)])
def test_pole_of_known_frequency_and_bandwidth(f_hz, b_hz, sr):
    """A resonator built from (F, B) gives back (F, B); and B is its −3 dB width, measured on the response."""
    radius, theta = np.exp(-np.pi * b_hz / sr), 2.0 * np.pi * f_hz / sr
    a = np.array([[1.0, -2.0 * radius * np.cos(theta), radius ** 2]])  # (1, 3): A(z) of one pole pair
    F, B = formants.root_frequency_bandwidth(formants.lpc_roots(a), sr)
    upper = F[0] > 0
    assert abs(F[0][upper][0] - f_hz) < 1e-6 and abs(B[0][upper][0] - b_hz) < 1e-6, (F, B)

    freqs, h = scipy.signal.freqz([1.0], a[0], worN=2 ** 20, fs=sr)  # the resonance itself
    power = np.abs(h) ** 2
    above = freqs[power >= power.max() / 2]  # the band within 3 dB of the peak
    width = above.max() - above.min()  # Hz
    assert abs(width - b_hz) < 0.03 * b_hz, f"−3 dB width {width:.1f} Hz against B = {b_hz} Hz"


def test_autocorrelation_equals_np_correlate():
    frames = np.random.default_rng(5).standard_normal((3, 50))  # (T, L)
    r = formants.autocorrelation(frames, 12)
    for t in range(3):
        ref = np.correlate(frames[t], frames[t], mode="full")[49:49 + 13]  # lags 0..12
        assert np.abs(r[t] - ref).max() < 1e-12


def test_pre_emphasis_gain_on_sines():
    """Filtering a sine multiplies it by |1 − α e^{−iω}|, ω = 2π f / sr: from about 3 dB at 50 Hz (re 0 Hz) to a
    rise of nearly 6 dB per octave in the hundreds of Hz."""
    sr = 11000
    alpha = np.exp(-2 * np.pi * 50.0 / sr)
    t = np.arange(sr) / sr  # 1 s
    for f_hz in (50.0, 200.0, 400.0, 1000.0, 3000.0):
        out = formants.pre_emphasis(np.sin(2 * np.pi * f_hz * t), sr)[sr // 10:]  # 0.1 s in: past the start
        measured_db = 10 * np.log10(np.mean(out ** 2) / 0.5)  # re the input's power
        omega = 2 * np.pi * f_hz / sr
        expected_db = 10 * np.log10(1 + alpha ** 2 - 2 * alpha * np.cos(omega))
        assert abs(measured_db - expected_db) < 0.02, f"{f_hz} Hz: {measured_db:.3f} dB, expected {expected_db:.3f}"
    dc = formants.pre_emphasis(np.ones(10), sr)[5]
    assert abs(dc - (1 - alpha)) < 1e-12


def test_gaussian_window_is_praats():
    """Zero at both ends, 1 in the middle, symmetric; side lobes below −120 dB, as Praat's manual says (a Hann
    window's reach −31 dB)."""
    w = formants.gaussian_window(551)
    assert abs(w[275] - 1.0) < 1e-12 and abs(w[0]) < 1e-3 and abs(w[-1]) < 1e-3
    assert np.abs(w - w[::-1]).max() < 1e-12
    spectrum = np.abs(np.fft.rfft(w, 2 ** 16))
    spectrum_db = 20 * np.log10(spectrum / spectrum[0] + 1e-300)
    first_null = np.argmax(np.diff(spectrum) > 0)  # the main lobe ends where the magnitude first rises again
    assert spectrum_db[first_null:].max() < -120.0, f"side lobes reach {spectrum_db[first_null:].max():.1f} dB"


# ---- synthetic vowels and tubes of known resonances ----

# Hillenbrand, Getty, Clark & Wheeler (1995), J. Acoust. Soc. Am. 97: 3099-3111, Table V: mean F0, F1, F2, F3 of
# American English /i/, /ɑ/, /u/ (Hz). F4 and F5 are set; bandwidths typical of vowels (Hz).
VOWELS = {
    "man /i/": (138, [342, 2322, 3000, 3600, 4500]),
    "man /a/": (123, [768, 1333, 2522, 3600, 4500]),
    "man /u/": (143, [378, 997, 2343, 3600, 4500]),
    "woman /i/": (227, [437, 2761, 3372, 4200, 5000]),
    "woman /a/": (215, [936, 1551, 2815, 4200, 5000]),
    "woman /u/": (235, [459, 1105, 2735, 4200, 5000]),
}
BANDWIDTHS_HZ = [80, 100, 150, 200, 250]


@pytest.mark.parametrize("name", sorted(VOWELS))
def test_synthetic_vowel_formants(name):
    """F2 and F3 within 3 %. F1 within 3 % or a quarter of F0, whichever is larger: a voiced frame's spectrum
    exists only at the harmonics, and LPC pulls F1 toward the nearest strong one (formants.py, "Known limit";
    Praat's Burg at the same ceiling misses these F1s by the same amounts)."""
    f0_hz, true_hz = VOWELS[name]
    y = voice(true_hz, BANDWIDTHS_HZ, f0_hz)
    got = interior_median(formants.formants(y, SR), edge=10)[:3]  # Hz
    error = got - np.array(true_hz[:3])  # Hz
    relative = error / np.array(true_hz[:3])
    print(f"{name} (F0 {f0_hz} Hz): F1-F3 off by {np.round(100 * relative, 1)} %, F1 by {error[0] / f0_hz:+.2f} F0")
    assert np.abs(relative[1:]).max() < 0.03, f"{name}: F2/F3 off by up to {100 * np.abs(relative[1:]).max():.1f} %"
    assert abs(error[0]) < max(0.03 * true_hz[0], f0_hz / 4), \
        f"{name}: F1 off by {error[0]:+.0f} Hz ({100 * relative[0]:+.1f} %), more than 3 % and F0/4 = {f0_hz / 4} Hz"


def test_low_open_vowel_within_one_per_cent():
    """Where the harmonics are dense (F0 = 70 Hz) and F1 high (/a/), nothing pulls F1: all within 1 %."""
    true_hz = VOWELS["man /a/"][1]
    got = interior_median(formants.formants(voice(true_hz, BANDWIDTHS_HZ, 70.0), SR))[:3]
    worst = np.abs(got / np.array(true_hz[:3]) - 1).max()
    assert worst < 0.01, f"F1-F3 at F0 = 70 Hz off by up to {100 * worst:.2f} %"


def tube(length_cm, f0_hz):
    """A uniform tube closed at the glottis, open at the lips: resonances (2i − 1) c / 4L below 7.5 kHz, each
    60 Hz + 3 % wide. Returns (waveform, resonances in Hz)."""
    resonances = [(2 * i - 1) * C / (4 * length_cm) for i in range(1, 30) if (2 * i - 1) * C / (4 * length_cm) < 7500]
    return voice(resonances, [60.0 + 0.03 * f for f in resonances], f0_hz), resonances


@pytest.mark.parametrize("length_cm", [14.0, 17.0, 20.0])
def test_tube_length_with_the_tubes_ceiling(length_cm):
    """Ceiling 5 c / 2L (five resonances below it, formant_ceiling's docstring): the length within 5 %, per clip
    and on every frame."""
    y, _ = tube(length_cm, f0_hz=120.0)
    ceiling = 50.0 * round(5 * C / (2 * length_cm) / 50.0)  # Hz
    tracks = formants.formants(y, SR, ceiling_hz=ceiling)  # (4, T)
    clip = formants.median_vocal_tract_length(tracks)
    per_frame = formants.vocal_tract_length(tracks)[10:-10]  # (T − 20,) cm
    print(f"{length_cm} cm tube, ceiling {ceiling:.0f} Hz: {clip:.2f} cm; frames {np.nanmin(per_frame):.2f} to "
          f"{np.nanmax(per_frame):.2f} cm")
    assert abs(clip / length_cm - 1) < 0.05, f"{length_cm} cm tube measured as {clip:.2f} cm"
    assert np.isfinite(per_frame).all() and np.abs(per_frame / length_cm - 1).max() < 0.05, per_frame


@pytest.mark.parametrize("length_cm, f0_hz", [(14.0, 210.0), (17.0, 120.0)])
def test_tube_length_with_the_voices_own_ceiling(length_cm, f0_hz):
    """formants(y, sr) picks the ceiling from F0 alone: a woman's voice on a 14 cm tube, a man's on 17 cm."""
    y, resonances = tube(length_cm, f0_hz)
    tracks = formants.formants(y, SR)
    clip = formants.median_vocal_tract_length(tracks)
    F = interior_median(tracks)
    print(f"{length_cm} cm tube, F0 {f0_hz} Hz: {clip:.2f} cm; F1-F4 {np.round(F)} Hz, true {np.round(resonances[:4])}")
    assert abs(clip / length_cm - 1) < 0.05, f"{length_cm} cm tube measured as {clip:.2f} cm"


def test_vocal_tract_length_is_the_least_squares_fit():
    """The closed form against np.linalg.lstsq of F_i = (2i − 1) Δ / 2 (a line through the origin), L = c / 2Δ."""
    F = np.array([[480.0, 700.0], [1550.0, 1200.0], [2400.0, 2500.0], [3600.0, 3300.0]])  # (4, 2) Hz
    x = (2 * np.arange(1, 5) - 1)[:, None] / 2.0  # (4, 1)
    ref = [C / (2 * np.linalg.lstsq(x, F[:, t], rcond=None)[0][0]) for t in range(2)]
    assert np.abs(formants.vocal_tract_length(F) - ref).max() < 1e-9
    F[0, 1] = np.nan
    assert np.isnan(formants.vocal_tract_length(F)[1])
    assert np.isnan(formants.median_vocal_tract_length(np.full((4, 3), np.nan)))


# ---- real speech against Praat ----

REF = np.load(DATA / "ref_formants.npz")


@pytest.mark.parametrize("name", [str(n) for n in REF["names"]])
def test_agrees_with_praat_on_real_speech(name):
    """Median |ours − Praat| / Praat at most 5 % for F1 and F2, over the frames both call voiced (ours: a formant;
    Praat: a pitch). Praat's tracks are Burg LPC at the same ceiling, read at our frame times."""
    y, sr = sf.read(DATA / f"speechocean762_{name}.flac", dtype="float64")
    f0_hz, voiced = formants.voicing(y, sr)
    assert formants.formant_ceiling(f0_hz, voiced, sr) == pytest.approx(float(REF[f"{name}_ceiling"]), abs=1.0), \
        "formant_ceiling changed: run tests/make_formant_reference.py again"
    ours = formants.formants(y, sr)  # (4, T) Hz, the ceiling it picks itself
    praat, praat_voiced = REF[f"{name}_formants"][:4], REF[f"{name}_voiced"]  # (4, T), (T,)
    assert ours.shape == praat.shape, (ours.shape, praat.shape)
    both = np.isfinite(ours[0]) & praat_voiced  # (T,)
    assert both.sum() >= 0.5 * praat_voiced.sum(), f"{name}: only {both.sum()} of {praat_voiced.sum()} frames"
    errors, missing = [], []
    for i in range(3):
        frames = both & np.isfinite(ours[i]) & np.isfinite(praat[i])
        errors.append(np.median(np.abs(ours[i, frames] - praat[i, frames]) / praat[i, frames]))
        missing.append(1 - frames.sum() / both.sum())
    message = (f"{name}: median |ours − Praat| / Praat = F1 {100 * errors[0]:.1f} %, F2 {100 * errors[1]:.1f} %, "
               f"F3 {100 * errors[2]:.1f} % on {both.sum()} frames voiced by both (F3 missing on {missing[2]:.0%})")
    print(message)
    assert max(errors[:2]) <= 0.05 and max(missing[:2]) < 0.05, message


# ---- the grid, silence, bad input ----

@pytest.mark.parametrize("n", [1, 159, 160, 161, 1023, 16000, 16001])
def test_frames_line_up_with_yin(n):
    y = np.random.default_rng(n).standard_normal(n)
    tracks = formants.formants(y, SR)
    assert tracks.shape == (formants.N_FORMANTS, 1 + n // HOP) == (formants.N_FORMANTS, len(yin(y, SR)[0]))
    assert tracks.dtype == np.float64


@pytest.mark.parametrize("sr", [8000, 22050, 44100])
def test_other_sample_rates(sr):
    """The same vowel at another rate: same frame count as f0.yin, same formants within 3 %."""
    y16 = voice(VOWELS["man /a/"][1], BANDWIDTHS_HZ, 123.0)
    y = scipy.signal.resample_poly(y16, sr, SR)
    tracks = formants.formants(y, sr, ceiling_hz=min(5000.0, sr / 2))
    assert tracks.shape[1] == 1 + len(y) // round(0.01 * sr)
    got = interior_median(tracks)[:2]
    ref = interior_median(formants.formants(y16, SR, ceiling_hz=min(5000.0, sr / 2)))[:2]
    assert np.abs(got / ref - 1).max() < 0.03, (got, ref)


@pytest.mark.parametrize("n", [1, 800, 16000])
def test_silence_is_nan_without_warnings(n):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        tracks = formants.formants(np.zeros(n), SR)
    assert np.isnan(tracks).all()


def test_noise_and_pauses_are_nan():
    """White noise is unvoiced (YIN); a vowel with silence on both sides has formants only where it sounds."""
    noise = 0.1 * np.random.default_rng(0).standard_normal(SR)
    assert np.isnan(formants.formants(noise, SR)[0]).mean() > 0.95
    y = np.concatenate([np.zeros(4000), voice(VOWELS["man /a/"][1], BANDWIDTHS_HZ, 123.0), np.zeros(4000)])
    F1 = formants.formants(y, SR)[0]  # (T,)
    assert np.isnan(F1[:20]).all() and np.isnan(F1[-20:]).all(), "formants in the silent quarter-seconds"
    assert np.isfinite(F1[30:-30]).all(), "a voiced frame without F1"


def test_float32_and_int16_input():
    y = voice(VOWELS["man /a/"][1], BANDWIDTHS_HZ, 123.0)
    ref = formants.formants(y, SR)
    for other in (y.astype(np.float32), np.round(y * 32767).astype(np.int16)):
        got = formants.formants(other, SR)
        assert got.dtype == np.float64
        assert np.nanmax(np.abs(got[:, 10:-10] / ref[:, 10:-10] - 1)) < 0.01


@pytest.mark.parametrize("kwargs, match", [
    (dict(n_formants=0), "n_formants"),
    (dict(n_formants=6), "n_formants"),
    (dict(ceiling_hz=500.0), "ceiling_hz"),
    (dict(ceiling_hz=9000.0), "ceiling_hz"),
    (dict(hop_s=0.0), "hop_s"),
    (dict(window_s=0.0), "window_s"),
])
def test_invalid_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        formants.formants(np.zeros(SR), SR, **kwargs)


def test_empty_or_stereo_input():
    with pytest.raises(ValueError, match="mono"):
        formants.formants(np.zeros(0), SR)
    with pytest.raises(ValueError, match="mono"):
        formants.formants(np.zeros((2, 100)), SR)


def test_ceiling_follows_praats_recommendations():
    voiced = np.ones(3, dtype=bool)
    for f0_hz, ceiling in [(100.0, 5000.0), (120.0, 5000.0), (210.0, 5500.0), (350.0, 8000.0), (450.0, 8000.0)]:
        assert formants.formant_ceiling(np.full(3, f0_hz), voiced, SR) == pytest.approx(ceiling, abs=1.0)
    assert formants.formant_ceiling(np.full(3, 300.0), voiced, 11025) == pytest.approx(5512.5, abs=1e-6)  # sr / 2
    assert formants.formant_ceiling(np.full(3, 300.0), ~voiced, SR) == pytest.approx(5500.0, abs=1.0)
