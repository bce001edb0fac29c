"""Mel: the mel scale, mel filterbank and (mel) power spectrogram, from scratch in NumPy.

samples -> frames -> windowed FFT power -> triangular mel filters -> dB. Every number equals librosa 0.11's
(`filters.mel`, `feature.melspectrogram`, `power_to_db`) given the same arguments; references saved in tests/.
Standards: the HTK mel scale (Young et al., The HTK Book, sec. 5.4); the Slaney mel scale and "slaney" filter
normalisation, equal area per band (M. Slaney, Auditory Toolbox, 1998) -- librosa's defaults, and ours.
Conventions pinned here (all librosa's): power |X|², not magnitude; a periodic Hann window of win_length samples
centred in n_fft; center=True pads n_fft // 2 zeros at both ends, so frame t is centred on sample t · hop_length;
dtype follows the input (float32 in, float32 out: what the models eat; anything else -> float64); shapes
(n_features, n_frames), frames last; sizes in samples, HOP_S and WIN_S long by default where sr is known.

Test: python -m pytest tests/test_mel.py
"""
import warnings

import numpy as np
import scipy.fft

SLANEY_HZ_PER_MEL = 200.0 / 3  # Hz per mel on the Slaney scale's linear part, below 1 kHz (Auditory Toolbox)
SLANEY_BREAK_HZ = 1000.0  # Hz where the linear part turns logarithmic
SLANEY_BREAK_MEL = SLANEY_BREAK_HZ / SLANEY_HZ_PER_MEL  # = 15 mel
SLANEY_LOGSTEP = np.log(6.4) / 27.0  # natural-log step per mel above 1 kHz: 27 mels per factor 6.4
HOP_S = 0.010  # s: default frame step where sr is known (160 samples at 16 kHz)
WIN_S = 0.025  # s: default analysis window where sr is known (400 samples at 16 kHz, in an n_fft of 512)


def hz_to_mel(f, htk=False):
    """Hz -> mel. Slaney: mel = f / (200/3) below 1 kHz, 15 + ln(f / 1000) / (ln(6.4) / 27) above (the default);
    HTK: mel = 2595 log10(1 + f / 700).

    f: frequency in Hz, scalar or array.  htk: the HTK scale instead of Slaney's.  Returns mel, f's shape, float64.

    >>> round(float(hz_to_mel(1000.0)), 6), round(float(hz_to_mel(1000.0, htk=True)), 2)
    (15.0, 999.99)
    """
    f = np.asarray(f, dtype=np.float64)
    if htk:
        return 2595.0 * np.log10(1.0 + f / 700.0)
    # np.maximum keeps the log's argument >= 1 below the break, so no warning for f = 0
    log_part = SLANEY_BREAK_MEL + np.log(np.maximum(f, SLANEY_BREAK_HZ) / SLANEY_BREAK_HZ) / SLANEY_LOGSTEP
    return np.where(f >= SLANEY_BREAK_HZ, log_part, f / SLANEY_HZ_PER_MEL)  # logarithmic above 1 kHz, linear below


def mel_to_hz(m, htk=False):
    """Mel -> Hz, the inverse of hz_to_mel. Slaney: f = (200/3) mel below 15 mel, 1000 exp((ln(6.4) / 27) (mel − 15))
    above; HTK: f = 700 (10^(mel / 2595) − 1).

    m: mel, scalar or array.  htk: the HTK scale instead of Slaney's.  Returns Hz, m's shape, float64.

    >>> round(float(mel_to_hz(15.0)), 6), round(float(mel_to_hz(42.0)), 6)  # the break; 27 mels on: 6.4 × 1 kHz
    (1000.0, 6400.0)
    """
    m = np.asarray(m, dtype=np.float64)
    if htk:
        return 700.0 * (10.0 ** (m / 2595.0) - 1.0)
    log_part = SLANEY_BREAK_HZ * np.exp(SLANEY_LOGSTEP * (np.maximum(m, SLANEY_BREAK_MEL) - SLANEY_BREAK_MEL))
    return np.where(m >= SLANEY_BREAK_MEL, log_part, SLANEY_HZ_PER_MEL * m)


def mel_frequencies(n_mels, fmin, fmax, htk=False):
    """n_mels frequencies equally spaced on the mel scale from fmin to fmax, both included.

    n_mels: how many.  fmin, fmax: the ends in Hz.  htk: the HTK scale instead of Slaney's.  Returns (n_mels,) Hz.

    >>> mel_frequencies(4, 0.0, 1500.0).round(1)  # linear up to 1 kHz on Slaney's scale, then logarithmic
    array([   0. ,  464.4,  928.8, 1500. ])
    """
    mels = np.linspace(hz_to_mel(fmin, htk), hz_to_mel(fmax, htk), n_mels)  # (n_mels,) in mel
    return mel_to_hz(mels, htk)


def fft_frequencies(sr, n_fft):
    """Centre frequency of each rfft bin: f_k = k · sr / n_fft, k = 0 .. n_fft // 2.

    sr: sample rate in Hz.  n_fft: FFT size in samples.  Returns (1 + n_fft // 2,) float64 in Hz.

    >>> fft_frequencies(16000, 8)
    array([   0., 2000., 4000., 6000., 8000.])
    """
    return np.fft.rfftfreq(n_fft, d=1.0 / sr)


def mel_filterbank(sr, n_fft, n_mels=40, fmin=0.0, fmax=None, htk=False, norm="slaney"):
    """Triangular mel filters as a matrix (mel power = filterbank @ power spectrum): filter i rises from f[i] to 1 at
    f[i+1] and falls to 0 at f[i+2], f = mel_frequencies(n_mels + 2, fmin, fmax, htk), sampled at the FFT bins.

    sr: sample rate in Hz.  n_fft: FFT size in samples.  n_mels: number of filters.  htk: HTK scale, not Slaney's.
    fmin, fmax: the lowest and highest edges in Hz (fmax None = sr / 2).
    norm: "slaney" scales filter i by 2 / (f[i+2] − f[i]) in 1/Hz (equal areas); None keeps peak height 1.
    Returns (n_mels, 1 + n_fft // 2) float64; equals librosa.filters.mel(..., dtype=np.float64).

    >>> fb = mel_filterbank(16000, 4096)  # 40 Slaney filters over bins 3.9 Hz apart
    >>> fb.shape, np.round(fb.sum(axis=1)[[0, 39]] * 16000 / 4096, 3)  # area = Σ weights × bin width in Hz: 1
    ((40, 2049), array([1., 1.]))
    """
    fmax = sr / 2.0 if fmax is None else fmax  # Hz
    if not 0.0 <= fmin < fmax <= sr / 2.0:
        raise ValueError(f"mel_filterbank: need 0 <= fmin < fmax <= sr/2 = {sr / 2} Hz, got fmin={fmin}, fmax={fmax}")
    if norm not in ("slaney", None):
        raise ValueError(f"mel_filterbank: norm must be 'slaney' or None, got {norm!r}")

    bin_hz = fft_frequencies(sr, n_fft)  # (F,) Hz, F = 1 + n_fft // 2
    edges_hz = mel_frequencies(n_mels + 2, fmin, fmax, htk)  # (n_mels + 2,) Hz: left edge, centre, right edge
    widths_hz = np.diff(edges_hz)  # (n_mels + 1,) Hz between neighbouring edges
    offsets = edges_hz[:, None] - bin_hz[None, :]  # (n_mels + 2, F) Hz from each edge down to each bin

    rising = -offsets[:-2] / widths_hz[:-1, None]  # (n_mels, F): 0 at the left edge, 1 at the centre
    falling = offsets[2:] / widths_hz[1:, None]  # (n_mels, F): 1 at the centre, 0 at the right edge
    weights = np.maximum(0.0, np.minimum(rising, falling))  # (n_mels, F) triangles

    if norm == "slaney":
        weights *= (2.0 / (edges_hz[2:] - edges_hz[:-2]))[:, None]  # area normalisation, 1/Hz

    empty = weights.max(axis=1) == 0
    if np.any(empty & (edges_hz[:-2] > 0)):  # a band narrower than one FFT bin catches no bin at all
        warnings.warn(f"mel_filterbank: {int(empty.sum())} empty mel band(s); use fewer mels or a larger n_fft")
    return weights


def waveform(y, who):
    """y as an array, checked once at every signal function's entry: non-empty and mono, else ValueError naming who.

    y: (N,) samples, any dtype.  who: the caller's name, for the message.  Returns y as an (N,) array (no copy).

    >>> waveform([0.0, 0.5, 1.0], "demo").shape
    (3,)
    """
    y = np.asarray(y)
    if y.ndim != 1 or y.size == 0:
        raise ValueError(f"{who}: expected a non-empty mono signal of shape (N,), got shape {y.shape}")
    return y


def frame(y, frame_length, hop_length):
    """Overlapping frames of a 1-D signal, no copy: frame t = y[t · hop_length : t · hop_length + frame_length].

    y: (N,) samples, N >= frame_length (else ValueError).  frame_length, hop_length: in samples.
    Returns a read-only view (frame_length, T), T = 1 + (N − frame_length) // hop_length: frames last.

    >>> frame(np.arange(5), 2, 1)  # frames of 2 samples, 1 apart
    array([[0, 1, 2, 3],
           [1, 2, 3, 4]])
    """
    y = np.asarray(y)
    if y.ndim != 1 or frame_length < 1 or hop_length < 1:
        raise ValueError(f"frame: need a 1-D signal and sizes >= 1, got shape {y.shape}, {frame_length}, {hop_length}")
    if len(y) < frame_length:
        raise ValueError(f"frame: signal of {len(y)} samples is shorter than one frame ({frame_length} samples)")
    windows = np.lib.stride_tricks.sliding_window_view(y, frame_length)  # (N - frame_length + 1, frame_length)
    return windows[::hop_length].T  # (frame_length, T), still a view of y


def hann_window(win_length, n_fft):
    """Periodic Hann window w[n] = 0.5 − 0.5 cos(2π n / win_length), n = 0 .. win_length − 1 (scipy's and librosa's
    for spectra: denominator win_length, not win_length − 1), zero-padded on both sides (extra zero right) to n_fft.

    win_length: window length in samples.  n_fft: padded length in samples (>= win_length).  Returns (n_fft,) float64.

    >>> hann_window(4, 6)
    array([0. , 0. , 0.5, 1. , 0.5, 0. ])
    """
    w = 0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(win_length) / win_length)  # (win_length,)
    left = (n_fft - win_length) // 2
    return np.pad(w, (left, n_fft - win_length - left))  # (n_fft,)


def power_spectrogram(y, n_fft=512, hop_length=160, win_length=400, center=True):
    """Short-time power spectrum |X[k, t]|², X[k, t] = Σ_n w[n] y_pad[t · hop_length + n] e^(−2πi k n / n_fft),
    w = hann_window(win_length, n_fft); equals np.abs(librosa.stft(y, ..., pad_mode="constant")) ** 2.

    y: (N,) samples, float, any scale.  n_fft: FFT size in samples (512 = 32 ms at 16 kHz; no sr here, so no seconds).
    hop_length: samples between frames (160 = 10 ms at 16 kHz).  win_length: samples, 400 = 25 ms (None = n_fft).
    center: pad n_fft // 2 zeros at both ends, T = 1 + N // hop_length (False: T = 1 + (N − n_fft) // hop_length).
    Returns (1 + n_fft // 2, T) power in y's units squared, float32 for float32 y, else float64.

    >>> S = power_spectrogram(np.cos(2 * np.pi * 1000.0 * np.arange(1600) / 16000))  # 0.1 s of 1 kHz at 16 kHz
    >>> S.shape, int(S[:, 5].argmax())  # 1 kHz is bin 1000 · 512 / 16000 = 32
    ((257, 11), 32)
    """
    y = waveform(y, "power_spectrogram")
    y = y.astype(np.float32 if y.dtype == np.float32 else np.float64, copy=False)  # float32 stays, all else float64
    win_length = n_fft if win_length is None else win_length
    if not 1 <= win_length <= n_fft:
        raise ValueError(f"power_spectrogram: need 1 <= win_length <= n_fft = {n_fft}, got win_length={win_length}")
    if center:
        y = np.pad(y, (n_fft // 2, n_fft // 2))  # (N + 2 * (n_fft // 2),) zeros at both ends
    elif len(y) < n_fft:
        raise ValueError(f"power_spectrogram: {len(y)} samples are shorter than n_fft = {n_fft}; pad, or center=True")

    frames = frame(y, n_fft, hop_length).T  # (T, n_fft) view: one frame per row
    window = hann_window(win_length, n_fft).astype(y.dtype)  # (n_fft,)
    spectrum = scipy.fft.rfft(frames * window, axis=-1)  # (T, F), F = 1 + n_fft // 2; complex64 stays (np.fft upcasts)
    power = np.abs(spectrum)  # (T, F) magnitude |X|
    power *= power  # (T, F) power |X|^2, squared in place
    return power.T  # (F, T)


def melspectrogram(y, sr, n_fft=None, hop_length=None, win_length=None, n_mels=40, fmin=0.0, fmax=None, htk=False,
                   norm="slaney", center=True):
    """Mel power spectrogram: mel_filterbank(sr, n_fft, n_mels, fmin, fmax, htk, norm) @ power_spectrogram(y, ...).

    y: (N,) samples.  sr: their sample rate in Hz.  n_mels, fmin, fmax, htk, norm: as mel_filterbank.
    n_fft: FFT size in samples; default the next power of two >= win_length (512 at 16 kHz).
    hop_length: samples between frames; default round(0.010 · sr) (10 ms, HOP_S).
    win_length: Hann window in samples; default round(0.025 · sr) (25 ms, WIN_S).
    center: as power_spectrogram.
    Returns (n_mels, T) power, float32 for float32 y, else float64; T = 1 + N // hop_length when center=True.

    >>> melspectrogram(np.zeros(800), 8000).shape  # 0.1 s at 8 kHz: hops of 80 samples, windows of 200 in 256
    (40, 11)
    """
    win_length = int(round(WIN_S * sr)) if win_length is None else win_length  # samples: 400 at 16 kHz
    hop_length = int(round(HOP_S * sr)) if hop_length is None else hop_length  # samples: 160 at 16 kHz
    n_fft = 1 << (int(win_length) - 1).bit_length() if n_fft is None else n_fft  # samples: 512 at 16 kHz
    power = power_spectrogram(y, n_fft, hop_length, win_length, center)  # (F, T)
    return mel_filterbank(sr, n_fft, n_mels, fmin, fmax, htk, norm).astype(power.dtype) @ power  # (n_mels, F) @ (F, T)


def power_to_db(S, ref=1.0, amin=1e-10, top_db=80.0):
    """Power -> dB: 10 log10(max(S, amin)) − 10 log10(max(ref, amin)), floored at its maximum − top_db (librosa's).

    S: power, any shape.  ref: the power that maps to 0 dB, a number or a function of S (np.max: the loudest cell).
    amin: the smallest power, in S's units (1e-10 = −100 dB re 1).  top_db: dB kept below the maximum (None: all).
    Returns dB, S's shape, float32 for float32 S, else float64.

    >>> power_to_db(np.array([10.0, 0.1, 0.0]), ref=np.max)  # 0 dB at the loudest; -110 dB floored to -80
    array([  0., -20., -80.])
    """
    S = np.asarray(S)
    S = S.astype(np.float32 if S.dtype == np.float32 else np.float64, copy=False)  # as power_spectrogram
    if amin <= 0 or (top_db is not None and top_db < 0):
        raise ValueError(f"power_to_db: need amin > 0 and top_db >= 0 (or None), got amin={amin}, top_db={top_db}")
    ref_power = ref(S) if callable(ref) else np.abs(ref)
    # Guard before the log: silence (S = 0) would give log10(0) = -inf; amin clips it to -100 dB instead.
    db = 10.0 * np.log10(np.maximum(amin, S)) - 10.0 * np.log10(np.maximum(amin, ref_power))
    if top_db is not None:
        db = np.maximum(db, db.max() - top_db)  # keep the loudest top_db dB of the whole array
    return db
