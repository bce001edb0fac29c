"""Formants: the resonances of the vocal tract by linear prediction (LPC), and the tract's length from them.

The source-filter model (Fant 1960): a vowel is a glottal source shaped by the tract's resonances. Linear
prediction fits an all-pole filter 1/A(z) to each short frame; the roots of A(z) near the unit circle are the
resonances. Each step is one function (Rabiner & Schafer 1978, ch. 8; Markel & Gray 1976, Linear Prediction of
Speech), with Praat's conventions (Boersma & Weenink, "Sound: To Formant (burg)...") wherever they choose:

    voicing                 F0 and voiced frames: f0.yin on the same 10 ms grid
    formant_ceiling         the highest formant frequency searched, from the voice's median F0 (f0.yin)
    resample                to 2 × ceiling Hz, so the LPC spends its poles on 0..ceiling (as Praat does)
    pre_emphasis            y[n] = x[n] − α x[n−1], α = exp(−2π · 50 Hz / sr): about +6 dB/octave above 50 Hz
    gaussian_window         Praat's Gaussian, 2 × 25 ms long (25 ms effective)
    autocorrelation         r(k) = Σ_n x[n] x[n+k],  k = 0..p
    levinson_durbin         solves Σ_j a_j r(|i−j|) = −r(i) in O(p²); the reflection coefficients on the way
    lpc_roots               the roots of A(z) = 1 + Σ a_j z^−j: eigenvalues of its companion matrix
    root_frequency_bandwidth  F = θ · sr / 2π,  B = −ln|z| · sr / π
    pick_formants           keep 90 Hz < F < ceiling − 50 Hz and B < 1500 Hz; the lowest n are F1, F2, ...
    formants                the whole chain, on f0.yin's 10 ms grid, NaN on silent and unvoiced frames
    vocal_tract_length      L from F1..F4 by least squares on the uniform tube F_i = (2i − 1) c / 4L

Conventions pinned here: frames on f0.yin's grid with center=True -- frame t is centred on sample t · hop of the
input, hop = hop_s · sr (10 ms), T = 1 + N // hop; output (n_formants, T) in Hz, features first and frames last
as everywhere in moksori. LPC order p = 2 · 4 + 2 = 10 at the resampled rate: two poles for each of F1..F4 and
two more for the fifth resonance near the ceiling (a tract of about 17 cm has five below 5 kHz) or for the slope
that pre-emphasis leaves -- the 10 poles of Praat's "max number of formants = 5" (the textbook rule sr / 1 kHz + 2
= 12 poles moves F1 far from Praat's on real speech). Autocorrelation LPC, not Praat's Burg: it is
the textbooks' method and its filter is always stable; tests/test_formants.py measures the gap to Praat on real
speech (tests/data/ref_formants.npz, made by tests/make_formant_reference.py).

Known limit, shared by every frame-based LPC (Praat's too): a voiced frame has energy only at the harmonics k · F0,
so F1 is pulled toward the nearest strong one, by up to about F0 / 4 when F0 is high and F1 low (Vallabha & Tuller
2002, "Systematic errors in the formant analysis of steady-state vowels", Speech Communication 38: 141-160).

    python -m pytest tests/test_formants.py
"""
from fractions import Fraction

import numpy as np
import scipy.signal

import f0
from mel import waveform

HOP_S = 0.010  # s: frame step, f0.yin's and the MFCCs' 10 ms grid
WINDOW_S = 0.025  # s: Praat's "window length", the Gaussian's effective duration; it spans 2 × 25 ms = 50 ms
PRE_EMPHASIS_HZ = 50.0  # Hz: Praat's "pre-emphasis from"; the filter lifts the spectrum about 6 dB/octave above it
N_FORMANTS = 4  # F1..F4 returned by default (F5 sits at the ceiling, where the resampler's filter cuts it)
MAX_FORMANTS = 5  # the most formants one can ask for: the 10 poles make at most 5 resonances
ORDER = 2 * N_FORMANTS + 2  # LPC order p = 10 poles at the resampled rate (see the module docstring)
FORMANT_MIN_HZ = 90.0  # Hz: lower poles model the glottal source's slope, not the tract (F1 >= ~200 Hz)
CEILING_MARGIN_HZ = 50.0  # Hz: poles within 50 Hz of the ceiling (the resampler's edge) are dropped, as Praat
MAX_BANDWIDTH_HZ = 1500.0  # Hz: formants are 40-400 Hz wide, LPC's up to ~1 kHz; wider poles only shape the slope
SILENCE_DB = 60.0  # dB: frames this far below the clip's loudest frame are silent (NaN)
SPEED_OF_SOUND_CM_S = 35000.0  # cm/s: warm, humid air in the vocal tract (about 35 °C)

# The formant ceiling from the median F0 (Hz -> Hz), linear in between and flat beyond the ends. Praat's manual
# recommends 5000 Hz for a man, 5500 Hz for a woman and up to 8000 Hz for a young child; they sit here at typical
# speaking F0s: 120 Hz for men and 210 Hz for women (Traunmüller & Eriksson 1995, "The frequency range of the
# voice fundamental in the speech of male and female adults", manuscript), 350 Hz for a young child.
CEILING_F0_HZ = (120.0, 210.0, 350.0)
CEILING_HZ = (5000.0, 5500.0, 8000.0)
DEFAULT_CEILING_HZ = 5500.0  # Hz: Praat's default, for a clip without a voiced frame
YIN = dict(fmin=60.0, fmax=500.0, threshold=0.2)  # Hz, Hz, CMND depth: features.py's, restated (it may import us)
YIN_FRAME_S = 0.064  # s: YIN's frame, features.py's 1024 samples at 16 kHz


def voicing(y, sr, hop_s=HOP_S):
    """F0 and the voiced/unvoiced decision on the 10 ms grid: f0.yin with the settings YIN and YIN_FRAME_S.

    y: (N,) waveform.  sr: sample rate in Hz.  hop_s: frame step in seconds.
    Returns (f0 in Hz (T,) float64, voiced (T,) bool), T = 1 + N // round(hop_s · sr), as f0.yin with center=True.

    >>> t = np.arange(16000) / 16000.0
    >>> f0_hz, voiced = voicing(np.sin(2 * np.pi * 150.0 * t), 16000)  # 1 s of a 150 Hz tone
    >>> f0_hz.shape, round(float(np.median(f0_hz[voiced])), 1), bool(voiced[10:-10].all())
    ((101,), 150.0, True)
    """
    return f0.yin(y, sr, frame_length=int(round(YIN_FRAME_S * sr)), hop_length=int(round(hop_s * sr)), **YIN)


def formant_ceiling(f0_hz, voiced, sr):
    """The highest formant frequency searched, in Hz, chosen from the voice's median F0.

    A shorter vocal tract has higher formants and, by and large, a higher voice: men, women and children differ
    in both (Fitch & Giedd 1999, J. Acoust. Soc. Am. 106: 1511-1522; Traunmüller & Eriksson 2000). So the median
    F0 over voiced frames picks a point between Praat's recommended ceilings (CEILING_F0_HZ -> CEILING_HZ, linear
    in between, flat beyond), rounded to 50 Hz so that 2 × ceiling and the 10 ms hop are whole samples, and capped
    at sr / 2. Praat's ceilings are those of a uniform tube with five resonances below the ceiling (the five that
    the 10 poles model): ceiling = 5 c / 2L, so 5000 Hz suits a 17.5 cm tract, 5500 Hz 15.9 cm, 8000 Hz 10.9 cm;
    for a tract of known length L, pass formants(..., ceiling_hz=5 c / 2L). Why F0: formants() runs YIN for
    voicing anyway, so it costs nothing, whereas Escudero et al.'s (2009) best ceiling (the one of many that makes
    each vowel's tokens least variable) needs vowel labels and an LPC pass per candidate. Within one sex F0
    predicts the tract's length only weakly, so this is a coarse choice, made once per clip.

    f0_hz: (T,) F0 in Hz (f0.yin's).  voiced: (T,) bool.  sr: the signal's sample rate in Hz.
    Returns the ceiling in Hz (float); DEFAULT_CEILING_HZ (or sr / 2 if lower) when no frame is voiced.

    >>> [formant_ceiling(np.array([f, 500.0]), np.array([True, False]), 16000) for f in (118.0, 210.0, 280.0, 400.0)]
    [5000.0, 5500.0, 6750.0, 8000.0]
    """
    if not np.any(voiced):
        return min(DEFAULT_CEILING_HZ, sr / 2)
    ceiling = np.interp(np.median(f0_hz[voiced]), CEILING_F0_HZ, CEILING_HZ)  # Hz
    return float(min(50.0 * np.round(ceiling / 50.0), sr / 2))


def resample(y, sr, sr_new):
    """y at sr Hz -> y at sr_new Hz by polyphase filtering (scipy.signal.resample_poly, Kaiser-windowed low-pass).

    y: (N,) samples.  sr, sr_new: sample rates in Hz (whole numbers).  Returns (ceil(N · sr_new / sr),) float64.

    >>> resample(np.ones(160), 16000, 11000).shape
    (110,)
    """
    ratio = Fraction(int(sr_new), int(sr))  # 11000 / 16000 = 11 / 16
    return scipy.signal.resample_poly(np.asarray(y, dtype=np.float64), ratio.numerator, ratio.denominator)


def pre_emphasis(y, sr, from_hz=PRE_EMPHASIS_HZ):
    """First-order pre-emphasis y'[n] = y[n] − α y[n−1] with α = exp(−2π · from_hz / sr) (Praat's), y'[0] = y[0].

    The glottal source falls about 12 dB/octave and the lips' radiation adds 6; the gain |1 − α e^−iω|, 3 dB up at
    from_hz and nearly doubling per octave from a few hundred Hz, leaves LPC a flatter spectrum to fit.
    y: (N,) samples.  sr: sample rate in Hz.  from_hz: the corner frequency in Hz.  Returns (N,) float64.

    >>> np.round(pre_emphasis(np.array([1.0, 1.0, 1.0]), 11000), 4)
    array([1.    , 0.0282, 0.0282])
    """
    alpha = np.exp(-2.0 * np.pi * from_hz / sr)  # 0.972 at 11 kHz
    y = np.asarray(y, dtype=np.float64)
    out = y.copy()  # (N,)
    out[1:] -= alpha * y[:-1]
    return out


def gaussian_window(n):
    """Praat's Gaussian analysis window of n samples: w[i] = (exp(−48 (i − m)² / (n + 1)²) − e^−12) / (1 − e^−12),
    i = 1..n, m = (n + 1) / 2. It reaches 0 at both ends and its side lobes stay below −120 dB; its effective
    duration is half its length, so a "25 ms" window is 50 ms long.

    n: length in samples.  Returns (n,) float64.

    >>> np.round(gaussian_window(5), 3)
    array([0.005, 0.264, 1.   , 0.264, 0.005])
    """
    i = np.arange(1, n + 1)  # (n,) 1-based, as Praat counts
    edge = np.exp(-12.0)  # the Gaussian's value at the ends, subtracted so the window starts and ends at 0
    return (np.exp(-48.0 * (i - 0.5 * (n + 1)) ** 2 / (n + 1) ** 2) - edge) / (1.0 - edge)


def autocorrelation(frames, order):
    """Autocorrelation of each frame at lags 0..order: r(k) = Σ_{n=0}^{L−1−k} x[n] x[n+k] (the windowed frame is
    taken as zero outside itself, which makes the Toeplitz matrix positive definite and A(z) minimum phase).

    frames: (T, L) windowed frames.  order: the LPC order p.  Returns r: (T, p + 1).

    >>> autocorrelation(np.array([[1.0, 2.0, 3.0]]), 2)
    array([[14.,  8.,  3.]])
    """
    L = frames.shape[1]  # samples per frame
    return np.stack([np.einsum("tn,tn->t", frames[:, : L - k], frames[:, k:]) for k in range(order + 1)], axis=1)


def levinson_durbin(r):
    """Solve the normal equations Σ_{j=1..p} a_j r(|i − j|) = −r(i), i = 1..p, for every frame at once.

    Durbin's recursion over the order i = 1..p, E⁽⁰⁾ = r(0) (Makhoul 1975, "Linear prediction: a tutorial
    review", Proc. IEEE 63: 561-580, whose sign convention A(z) = 1 + Σ a_j z^−j this is):
        k_i = −(r(i) + Σ_{j=1}^{i−1} a_j⁽ⁱ⁻¹⁾ r(i − j)) / E⁽ⁱ⁻¹⁾         the i-th reflection coefficient
        a_j⁽ⁱ⁾ = a_j⁽ⁱ⁻¹⁾ + k_i a_{i−j}⁽ⁱ⁻¹⁾ (j < i),   a_i⁽ⁱ⁾ = k_i
        E⁽ⁱ⁾ = (1 − k_i²) E⁽ⁱ⁻¹⁾                                          the prediction error's energy
    |k_i| < 1 whenever r is an autocorrelation, so A(z) has all its roots inside the unit circle.
    A silent frame (r(0) = 0) gets A(z) = 1, k = 0, E = 0, and the recursion stops for a frame once E falls below
    1e-12 r(0) (predicted exactly): no division by zero, no warning.

    r: (T, p + 1) autocorrelation, lags 0..p.
    Returns a (T, p + 1) with a[:, 0] = 1 (A(z) = Σ_j a_j z^−j), k (T, p) reflection coefficients, E (T,).

    >>> a, k, E = levinson_durbin(np.array([[1.0, 0.5, 0.25]]))  # AR(1) with ρ = 0.5: x[n] = 0.5 x[n-1] + e[n]
    >>> np.round(a, 6) + 0.0, np.round(k, 6) + 0.0, np.round(E, 6)  # + 0.0 turns a -0.0 into 0.0
    (array([[ 1. , -0.5,  0. ]]), array([[-0.5,  0. ]]), array([0.75]))
    """
    T, p = r.shape[0], r.shape[1] - 1  # frames, order
    a = np.zeros((T, p + 1))  # (T, p + 1)
    a[:, 0] = 1.0
    k = np.zeros((T, p))  # (T, p)
    E = r[:, 0].astype(np.float64)  # (T,)
    for i in range(1, p + 1):
        live = E > 1e-12 * r[:, 0]  # (T,) silent frames, and frames already predicted exactly, keep their A(z)
        acc = np.einsum("tj,tj->t", a[:, :i], r[:, i:0:-1])  # (T,) r(i) + Σ_{j=1}^{i−1} a_j r(i − j)
        k_i = np.zeros(T)  # (T,)
        np.divide(-acc, E, out=k_i, where=live)
        a[:, 1:i + 1] += k_i[:, None] * a[:, i - 1::-1]  # (T, i): a_j + k_i a_{i−j}, j = 1..i (a_0 = 1 gives a_i = k_i)
        k[:, i - 1] = k_i
        E = E * (1.0 - k_i ** 2)  # (T,)
    return a, k, E


def lpc_roots(a):
    """The p roots of A(z) = 1 + a_1 z^−1 + ... + a_p z^−p (i.e. of z^p + a_1 z^(p−1) + ... + a_p), for every frame:
    the eigenvalues of the polynomial's companion matrix C (first row −a_1 .. −a_p, ones below the diagonal), as
    np.roots computes them, but for a stack of frames in one np.linalg.eigvals call.

    a: (T, p + 1) with a[:, 0] = 1.  Returns (T, p) complex roots, in no particular order.

    >>> np.round(np.sort_complex(lpc_roots(np.array([[1.0, -1.0, 0.5]]))[0]), 6)  # z² − z + 0.5
    array([0.5-0.5j, 0.5+0.5j])
    """
    T, p = a.shape[0], a.shape[1] - 1
    companion = np.zeros((T, p, p))  # (T, p, p)
    companion[:, 0, :] = -a[:, 1:]
    companion[:, np.arange(1, p), np.arange(p - 1)] = 1.0  # the subdiagonal
    return np.linalg.eigvals(companion)  # (T, p)


def root_frequency_bandwidth(roots, sr):
    """Frequency and bandwidth in Hz of each root z = |z| e^{iθ}: F = θ · sr / 2π and B = −ln|z| · sr / π.

    A pole at radius |z| decays by |z| per sample, e^{−π B / sr}: its resonance is about B Hz wide at −3 dB
    (exactly so as B -> 0; tests/test_formants.py measures it on resonators up to 250 Hz wide). Roots below
    the real axis (θ < 0) mirror those above and come out with negative F; a root at z = 0 has B = inf.
    roots: complex array, any shape.  sr: sample rate in Hz.  Returns (F, B), each the shape of roots, in Hz.

    >>> F, B = root_frequency_bandwidth(np.array([0.9 * np.exp(2j * np.pi * 1000 / 10000)]), 10000)
    >>> np.round(F, 1), np.round(B, 1)
    (array([1000.]), array([335.4]))
    """
    F = np.angle(roots) * sr / (2.0 * np.pi)  # Hz, in (−sr/2, sr/2]
    with np.errstate(divide="ignore"):  # |z| = 0 (a silent frame's A(z) = 1) gives B = inf, which is then rejected
        B = -np.log(np.abs(roots)) * sr / np.pi  # Hz
    return F, B


def pick_formants(F, B, ceiling_hz, n_formants=N_FORMANTS):
    """The formants among the roots: FORMANT_MIN_HZ < F < ceiling − CEILING_MARGIN_HZ and B < MAX_BANDWIDTH_HZ,
    sorted by frequency; the lowest n_formants are F1, F2, ..., NaN where a frame has fewer.

    F, B: (T, p) frequencies and bandwidths in Hz.  ceiling_hz: in Hz.  n_formants: how many to return.
    Returns (n_formants, T) in Hz, frames last.

    >>> F = np.array([[-500.0, 500.0, 50.0, 1500.0, 2500.0]])  # one frame: a mirror root, a root below 90 Hz,
    >>> B = np.array([[80.0, 80.0, 60.0, 2000.0, 100.0]])  # a root 2 kHz wide
    >>> pick_formants(F, B, ceiling_hz=5000, n_formants=3)
    array([[ 500.],
           [2500.],
           [  nan]])
    """
    ok = (F > FORMANT_MIN_HZ) & (F < ceiling_hz - CEILING_MARGIN_HZ) & (B < MAX_BANDWIDTH_HZ)  # (T, p)
    assert n_formants <= F.shape[1], f"{F.shape[1]} roots cannot hold {n_formants} formants"
    picked = np.sort(np.where(ok, F, np.inf), axis=1)[:, :n_formants]  # (T, n_formants) kept frequencies, rising
    return np.where(np.isfinite(picked), picked, np.nan).T  # (n_formants, T)


def formants(y, sr, n_formants=N_FORMANTS, ceiling_hz=None, hop_s=HOP_S, window_s=WINDOW_S):
    """Formant tracks F1..F_n of a mono signal, in Hz, on f0.yin's 10 ms grid; NaN where there is no formant.

    The chain: voicing -> formant_ceiling (unless given) -> resample to 2 × ceiling -> pre-emphasis from 50 Hz ->
    frames of 2 × window_s centred on t · hop_s, Gaussian-windowed -> autocorrelation -> Levinson-Durbin (order
    ORDER = 10) -> roots of A(z) -> frequency and bandwidth -> pick_formants. A frame is NaN when YIN calls it
    unvoiced (no CMND dip below 0.2: noise, fricatives, silence) or when its windowed energy lies more than
    SILENCE_DB = 60 dB below the clip's loudest frame.

    y: (N,) float waveform.  sr: its sample rate in Hz.  n_formants: how many formants (1..5).
    ceiling_hz: the highest formant frequency searched, in Hz (None = formant_ceiling from the median F0).
    hop_s: frame step in seconds (hop_s · sr should be whole samples).  window_s: Praat's window length in seconds.
    Returns (n_formants, T) float64 in Hz, T = 1 + N // round(hop_s · sr): frame t is centred on sample t · hop.

    >>> sr = 16000  # 1 s of a 100 Hz voice: pulses, the glottal source's -12 dB/octave, a 17.5 cm tube's F1..F4
    >>> y = scipy.signal.lfilter([1.0], [1.0, -1.9, 0.9025], (np.arange(sr) % 160 == 0).astype(float))
    >>> for f_hz, b_hz in [(500, 60), (1500, 90), (2500, 120), (3500, 180)]:
    ...     r = np.exp(-np.pi * b_hz / sr)  # pole radius for a bandwidth of b_hz
    ...     y = scipy.signal.lfilter([1.0], [1.0, -2 * r * np.cos(2 * np.pi * f_hz / sr), r * r], y)
    >>> F = formants(y, sr)
    >>> F.shape, np.round(np.nanmedian(F, axis=1), -2)
    ((4, 101), array([ 500., 1500., 2500., 3500.]))
    """
    y = waveform(y, "formants")  # (N,), the check every signal function's entry shares
    if not 1 <= n_formants <= MAX_FORMANTS:
        raise ValueError(f"formants: n_formants must be 1..{MAX_FORMANTS}, got {n_formants}")
    if ceiling_hz is not None and not 1000.0 <= ceiling_hz <= sr / 2:
        raise ValueError(f"formants: ceiling_hz must lie in 1000..sr/2 = {sr / 2} Hz, got {ceiling_hz}")
    if not (round(hop_s * sr) >= 1 and window_s > 0):
        raise ValueError(f"formants: need hop_s >= 1 sample and window_s > 0, got {hop_s} s, {window_s} s")

    # 1. Voicing and F0 on the 10 ms grid; the ceiling from the median F0.
    hop = int(round(hop_s * sr))  # samples at sr
    f0_hz, voiced = voicing(y, sr, hop_s)  # (T,), (T,)
    T = len(voiced)  # frames, 1 + N // hop
    ceiling_hz = formant_ceiling(f0_hz, voiced, sr) if ceiling_hz is None else float(ceiling_hz)

    # 2. Resample to 2 × ceiling and pre-emphasise.
    sr_lpc = int(round(2 * ceiling_hz))  # Hz, the LPC's sample rate
    x = pre_emphasis(resample(y, sr, sr_lpc), sr_lpc)  # (N · sr_lpc / sr,)

    # 3. Frames of 2 × window_s centred on t · hop_s (zeros beyond the signal), Gaussian-windowed.
    half = int(round(window_s * sr_lpc))  # samples: 275 at 11 kHz
    L = 2 * half + 1  # samples per frame, odd so the window's peak sits on the frame's centre sample
    centres = np.round(np.arange(T) * hop * sr_lpc / sr).astype(int)  # (T,) centre samples at sr_lpc
    x = np.pad(x, (half, half + max(0, centres[-1] + 1 - len(x))))  # every frame's samples now exist
    frames = x[centres[:, None] + np.arange(L)] * gaussian_window(L)  # (T, L): frame t = x[c_t − half .. c_t + half]

    # 4. LPC: autocorrelation, Levinson-Durbin; roots and formants only where they will be kept.
    r = autocorrelation(frames, ORDER)  # (T, p + 1)
    loud = r[:, 0] > r[:, 0].max() * 10.0 ** (-SILENCE_DB / 10.0)  # (T,) not silent; all False for all-zero input
    keep = voiced & loud  # (T,) the frames that get formants; the rest stay NaN
    a, _, _ = levinson_durbin(r[keep])  # (K, p + 1), K = keep.sum()
    F, B = root_frequency_bandwidth(lpc_roots(a), sr_lpc)  # (K, p), (K, p) Hz
    tracks = np.full((n_formants, T), np.nan)  # (n_formants, T) Hz
    tracks[:, keep] = pick_formants(F, B, ceiling_hz, n_formants)  # (n_formants, K)
    return tracks


def vocal_tract_length(formants_hz, c=SPEED_OF_SOUND_CM_S):
    """Vocal-tract length in cm per frame, from F1..F4 and the uniform tube closed at the glottis, open at the lips.

    Such a tube of length L resonates at F_i = (2i − 1) c / 4L (the quarter-wavelength resonances), i.e. at odd
    multiples of half the formant spacing Δ = c / 2L (Fitch 1997, J. Acoust. Soc. Am. 102: 1213-1222: "formant
    dispersion"). Least squares of F_i ≈ (2i − 1) Δ / 2 over i = 1..n (a line through the origin) in closed form:
        Δ = 2 Σ_i (2i − 1) F_i / Σ_i (2i − 1)²,   so   L = c / 2Δ = c Σ_i (2i − 1)² / (4 Σ_i (2i − 1) F_i).
    It weighs the higher formants most, which depend least on the vowel and most on the length (Lammert &
    Narayanan 2015, "On short-time estimation of vocal tract length from formant frequencies", PLoS ONE 10(7):
    e0132193). c = 35,000 cm/s (SPEED_OF_SOUND_CM_S, air at body temperature).

    formants_hz: (n, T) F1..Fn in Hz (n >= 2; formants() gives n = 4).  c: speed of sound in cm/s.
    Returns (T,) in cm, NaN on frames where any of the n formants is NaN.

    >>> F = np.array([[500.0], [1500.0], [2500.0], [3500.0]])  # a 17.5 cm tube
    >>> np.round(vocal_tract_length(F), 2)
    array([17.5])
    """
    formants_hz = np.asarray(formants_hz, dtype=np.float64)
    odd = 2.0 * np.arange(1, formants_hz.shape[0] + 1) - 1.0  # (n,) 1, 3, 5, 7
    weighted = odd @ formants_hz  # (T,) Σ_i (2i − 1) F_i, NaN if any F_i is
    return c * np.sum(odd ** 2) / (4.0 * weighted)


def median_vocal_tract_length(formants_hz, c=SPEED_OF_SOUND_CM_S):
    """One length per clip, in cm: the median of vocal_tract_length over frames where F1..Fn all exist.

    formants_hz: (n, T) in Hz.  c: speed of sound in cm/s.  Returns a float in cm, NaN if no frame has them all.

    >>> F = np.array([[500.0, 450.0, np.nan], [1500.0, 1350.0, 1400.0],
    ...               [2500.0, 2250.0, 2600.0], [3500.0, 3150.0, 3600.0]])  # (4, 3): F1..F4 in 3 frames
    >>> round(median_vocal_tract_length(F), 2)  # frames of 17.5 and 19.44 cm; the third lacks F1
    18.47
    """
    per_frame = vocal_tract_length(formants_hz, c)  # (T,) cm
    per_frame = per_frame[np.isfinite(per_frame)]
    return float(np.median(per_frame)) if per_frame.size else float("nan")
