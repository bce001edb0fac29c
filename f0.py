"""F0: YIN fundamental-frequency (F0) estimation, one function per step of the paper.

A. de Cheveigné and H. Kawahara (2002), "YIN, a fundamental frequency estimator for speech and music",
J. Acoust. Soc. Am. 111(4), 1917-1930. Each step of the paper is one function below:

    difference_function      eq. 6/7   d(τ)  = Σ_j (x_j − x_{j+τ})²           how unlike itself a frame is at lag τ
    cmnd                     eq. 8     d′(τ) = d(τ) / [(1/τ) Σ_{j=1..τ} d(j)]  normalised so that d′(0) = 1
    absolute_threshold       step 4    the smallest τ at a minimum of d′ deeper than the threshold
    parabolic_interpolation  step 5    refine that integer lag to a fraction of a sample

`yin` chains the steps. Step 6 ("best local estimate") is omitted, as in librosa.yin: frames stay independent.
One convention differs from librosa.yin (see difference_function): eq. 6 over the overlapping samples, unbiased
for low voices; `librosa_compat=True` gives librosa's numbers (tests/test_f0.py checks both against librosa's).

Conventions pinned here (framing and lag range as librosa 0.11): frames of frame_length samples (64 ms by default,
FRAME_S) every hop_length samples (10 ms, mel.HOP_S); center=True zero-pads frame_length // 2 at both ends, so frame
t is centred on sample t · hop_length and T = 1 + len(y) // hop_length (the MFCC frame count); lags searched from
floor(sr / fmax) to ceil(sr / fmin) samples.

Test: python -m pytest tests/test_f0.py
"""
import numpy as np
import scipy.fft

from mel import HOP_S, frame, waveform

FRAME_S = 0.064  # s: default YIN frame, 1024 samples at 16 kHz; holds 3.8 periods of 60 Hz


def difference_function(frames, max_lag, librosa_compat=False):
    """YIN difference function d(τ) = Σ_{j=0}^{N−1−τ} (x_j − x_{j+τ})² over the overlap, τ = 0..max_lag (eq. 6).

    Computed through eq. 7, d(τ) = r_t(0) + r_{t+τ}(0) − 2 r_t(τ), where
        r_t(τ)   = Σ_{j=0}^{N−1−τ} x_j x_{j+τ}   the autocorrelation (the paper's eq. 2: window shrinks with τ),
        r_t(0)   = Σ_{j=0}^{N−1−τ} x_j²          energy of the first N − τ samples,
        r_{t+τ}(0) = Σ_{j=τ}^{N−1} x_j²          energy of the last N − τ samples:
    r_t(τ) for every lag from one FFT (Wiener-Khinchin), the energies from cumulative sums of x², so the cost is
    O(N log N) per frame instead of O(N · max_lag).
    librosa_compat=True is librosa.yin's d(τ) = Σ_{j=0}^{N−1} (x_j − x_{j+τ})², x_j = 0 for j >= N: the extra
    Σ_{j=N−τ}^{N−1} x_j² grows with τ, so long periods look less periodic (with N = 1024 at 16 kHz, tones below
    about 85 Hz are called unvoiced and low pitches read up to ~20 cents sharp).

    frames: (N, T) float array, N samples per frame, T frames.  max_lag: largest lag in samples (< N).
    librosa_compat: librosa.yin's convention instead of eq. 6.  Returns d: (max_lag + 1, T), d[0] = 0, frames' dtype.

    >>> x = np.array([[1.0], [0.0], [1.0], [0.0], [1.0]])  # (N, T) = (5, 1): one frame of period 2 samples
    >>> difference_function(x, 3)[:, 0].round(6) + 0.0  # zero at lags 0 and 2 (+ 0.0 turns a -0.0 into 0.0)
    array([0., 4., 0., 2.])
    """
    N, T = frames.shape  # samples per frame, frames
    assert 0 < max_lag < N, f"max_lag={max_lag} must lie in 1..{N - 1}"
    x = frames.T  # (T, N): each frame's samples contiguous in memory, so the FFTs run along the fast axis
    # The FFT computes a *circular* autocorrelation; padding to n >= N + max_lag keeps lag τ <= max_lag from
    # wrapping around onto the frame's start. next_fast_len picks a size with small prime factors (fast FFT).
    n_fft = scipy.fft.next_fast_len(N + max_lag, real=True)
    spectrum = scipy.fft.rfft(x, n=n_fft, axis=-1)  # (T, n_fft // 2 + 1) complex
    power = spectrum.real ** 2 + spectrum.imag ** 2  # (T, n_fft // 2 + 1) |X|²
    r = scipy.fft.irfft(power, n=n_fft, axis=-1)[:, : max_lag + 1]  # (T, max_lag + 1) r_t(τ)
    energy = r[:, :1]  # (T, 1) Σ_j x_j², the whole frame's energy

    # r_t(0) + r_{t+τ}(0) = 2 · energy − (energy of the samples that have no partner at lag τ): the first τ
    # samples (missing from r_{t+τ}(0)) and the last τ (missing from r_t(0)). A cumulative sum gives every τ.
    edges = x[:, :max_lag] ** 2  # (T, max_lag) x_j² for the first max_lag samples
    if not librosa_compat:  # librosa keeps the last τ samples in r_t(0)
        edges += x[:, : N - max_lag - 1 : -1] ** 2  # (T, max_lag) + x_j² for the last ones, read backwards
    unpaired = np.cumsum(edges, axis=-1)  # (T, max_lag) column τ − 1: energy of the unpaired samples at lag τ

    d = np.empty_like(r)  # (T, max_lag + 1)
    d[:, 0] = 0.0  # a frame equals itself at lag 0
    np.multiply(r[:, 1:], -2.0, out=d[:, 1:])  # − 2 r_t(τ), τ = 1..max_lag; in place: these arrays are large
    d[:, 1:] += 2.0 * energy
    d[:, 1:] -= unpaired
    return d.T  # (max_lag + 1, T), lags first like every feature here


def cmnd(d):
    """Cumulative mean normalised difference (eq. 8): d′(0) = 1, d′(τ) = d(τ) / [(1/τ) Σ_{j=1}^{τ} d(j)] for τ >= 1.

    Dividing by the running mean removes the dip at τ = 0 and makes d′ independent of loudness: a perfectly
    periodic frame reaches d′ = 0 at its period, an aperiodic one hovers around 1.
    d: (n_lags, T) difference function from lag 0 (d[0] = 0).  Returns d′: (n_lags, T), same dtype, dimensionless.

    >>> cmnd(np.array([[0.0], [4.0], [0.0], [2.0]]))[:, 0]  # d of the period-2 frame: d′(3) = 2 / ((4 + 0 + 2) / 3)
    array([1., 1., 0., 1.])
    """
    n_lags = d.shape[0]
    tau = np.arange(1, n_lags, dtype=d.dtype)[:, None]  # (n_lags − 1, 1) lags 1..n_lags−1
    running_mean = np.cumsum(d[1:], axis=0) / tau  # (n_lags − 1, T)
    d_prime = np.ones_like(d)  # (n_lags, T); d′(0) = 1 by definition
    # Guard: a silent frame has d ≡ 0, so the running mean is 0 and eq. 8 is 0/0. We leave d′ = 1 there
    # ("no evidence of a period"), which the threshold step reads as unvoiced; no division by zero, no warning.
    np.divide(d[1:], running_mean, out=d_prime[1:], where=running_mean > 0)
    return d_prime


def absolute_threshold(d_prime, threshold=0.1):
    """Each frame's period lag (step 4): "the smallest value of τ that gives a minimum of d′ deeper than that
    threshold. If none is found, the global minimum is chosen instead" -- the first lag below the threshold, then
    downhill to the bottom of its dip; voiced if that dip is below the threshold. A minimum, as librosa.util.localmin:
    d′[i] < d′[i−1] and d′[i] <= d′[i+1]; the first row counts if d′[0] < d′[1], the last if d′[−1] < d′[−2].

    d_prime: (n_lags, T) CMND over the searched lags (row 0 = the smallest lag searched).
    threshold: dip depth on the d′ scale (dimensionless; 0.1 in the paper and in librosa).
    Returns (lag index (T,) int into the rows of d_prime, voiced (T,) bool).

    >>> absolute_threshold(np.array([[1.0], [0.5], [0.05], [0.02], [0.3], [0.01]]))  # row 3, not the deeper 5
    (array([3]), array([ True]))
    """
    is_min = np.empty(d_prime.shape, dtype=bool)  # (n_lags, T)
    is_min[1:-1] = (d_prime[1:-1] < d_prime[:-2]) & (d_prime[1:-1] <= d_prime[2:])
    is_min[0] = d_prime[0] < d_prime[1]
    is_min[-1] = d_prime[-1] < d_prime[-2]
    deep_min = is_min & (d_prime < threshold)  # (n_lags, T)

    voiced = deep_min.any(axis=0)  # (T,)
    first_deep = np.argmax(deep_min, axis=0)  # (T,) first True row (0 where there is none)
    global_min = np.argmin(d_prime, axis=0)  # (T,)
    return np.where(voiced, first_deep, global_min), voiced


def parabolic_interpolation(d_prime, lag):
    """Fractional lags (step 5): the vertex i + (a − c) / (2 (a − 2b + c)) of the parabola through a = d′[i−1],
    b = d′[i], c = d′[i+1]. No shift at the first and last row, nor where it would leave [i−1, i+1] (as librosa).
    The paper takes the abscissa from the raw d(τ) to avoid a small bias; librosa and we interpolate d′(τ).

    d_prime: (n_lags, T) CMND over the searched lags.  lag: (T,) int row index per frame.
    Returns (T,) float row position (add the smallest searched lag to get samples).

    >>> parabolic_interpolation((np.arange(5.0)[:, None] - 2.3) ** 2, np.array([2]))  # a parabola's vertex: exact
    array([2.3])
    """
    n_lags, T = d_prime.shape
    cols = np.arange(T)
    inner = np.clip(lag, 1, n_lags - 2)  # (T,) keeps the 3-point stencil inside the array at the edges
    a = d_prime[inner - 1, cols]  # (T,)
    b = d_prime[inner, cols]  # (T,)
    c = d_prime[inner + 1, cols]  # (T,)
    curvature = a - 2.0 * b + c  # (T,) twice the parabola's x² coefficient
    slope = 0.5 * (c - a)  # (T,) its x coefficient
    # |slope| < |curvature| is exactly "the vertex lies within one lag"; it is also false when curvature = 0,
    # so the division below only runs where it is safe (np.divide with `where`, no warning).
    ok = (np.abs(slope) < np.abs(curvature)) & (lag > 0) & (lag < n_lags - 1)  # (T,)
    shift = np.zeros(T, dtype=d_prime.dtype)  # (T,)
    np.divide(-slope, curvature, out=shift, where=ok)
    return lag + shift


def lag_range(sr, fmin, fmax, frame_length):
    """The lags YIN searches, in samples: (floor(sr / fmax), min(ceil(sr / fmin), frame_length − 1)): the periods
    of fmax and fmin, capped so a lag still leaves one sample of overlap inside the frame.

    sr, fmin, fmax: in Hz.  frame_length: in samples.  Returns (min_lag, max_lag), ints in samples.

    >>> lag_range(16000, 60.0, 500.0, 1024)
    (32, 267)
    """
    return int(np.floor(sr / fmax)), min(int(np.ceil(sr / fmin)), frame_length - 1)


def yin(y, sr, fmin=60.0, fmax=500.0, frame_length=None, hop_length=None, threshold=0.1, center=True,
        librosa_compat=False):
    """F0 track of a mono signal by YIN (steps 2-5 of the paper; step 6 omitted), in float32 arithmetic.

    y: (N,) float waveform.  sr: sample rate in Hz.  fmin, fmax: search range in Hz (0 < fmin < fmax <= sr/2).
    frame_length: samples per frame, > sr / fmin + 1; default round(0.064 · sr) (64 ms, FRAME_S).
    hop_length: samples between frames; default round(0.010 · sr) (10 ms, mel.HOP_S).
    threshold: CMND dip depth for "voiced" (absolute_threshold).  librosa_compat: librosa.yin's d(τ), not eq. 6.
    center: zero-pad frame_length // 2 samples at both ends so frame t is centred on sample t · hop_length.
    Returns (f0 (T,) float64 in Hz, voiced (T,) bool), T = 1 + N // hop_length with center; unvoiced frames
    still carry the global-minimum estimate, as librosa.yin's do.

    >>> f0_hz, voiced = yin(np.sin(2 * np.pi * 200.0 * np.arange(8000) / 8000), 8000)  # 1 s of 200 Hz at 8 kHz
    >>> f0_hz.shape, round(float(np.median(f0_hz[voiced])))  # 10 ms frames: 1 + 8000 // 80
    ((101,), 200)
    """
    y = waveform(y, "yin")
    frame_length = int(round(FRAME_S * sr)) if frame_length is None else frame_length  # samples: 1024 at 16 kHz
    hop_length = int(round(HOP_S * sr)) if hop_length is None else hop_length  # samples: 160 at 16 kHz
    if not 0 < fmin < fmax <= sr / 2:
        raise ValueError(f"need 0 < fmin < fmax <= sr/2, got fmin={fmin} Hz, fmax={fmax} Hz, sr={sr} Hz")
    if sr / fmin >= frame_length - 1:
        raise ValueError(
            f"frame_length={frame_length} samples is too short for fmin={fmin} Hz at sr={sr} Hz: one period is "
            f"{sr / fmin:.1f} samples; use frame_length >= {int(np.ceil(sr / fmin)) + 2} or a higher fmin")
    if hop_length < 1:
        raise ValueError(f"hop_length must be a positive number of samples, got {hop_length}")

    y = y.astype(np.float32)  # (N,)
    if center:
        y = np.pad(y, frame_length // 2)  # (N + 2 * (frame_length // 2),) zeros at both ends
    if len(y) < frame_length:
        raise ValueError(f"signal of {len(y)} samples is shorter than frame_length={frame_length} (center=False)")
    frames = frame(y, frame_length, hop_length)  # (frame_length, T) view, no copy

    min_lag, max_lag = lag_range(sr, fmin, fmax, frame_length)  # samples: shortest and longest period searched
    d = difference_function(frames, max_lag, librosa_compat)  # (max_lag + 1, T)
    d_prime = cmnd(d)[min_lag:]  # (max_lag − min_lag + 1, T) only the searched lags
    lag, voiced = absolute_threshold(d_prime, threshold)  # (T,), (T,)
    period = min_lag + parabolic_interpolation(d_prime, lag).astype(np.float64)  # (T,) samples
    return sr / period, voiced
