"""Mel: the mel scale, mel filterbank and (mel) power spectrogram, from scratch in NumPy.

What: samples -> frames -> windowed FFT power -> triangular mel filters -> dB. Every number equals librosa 0.11
(`librosa.filters.mel`, `librosa.feature.melspectrogram`, `librosa.power_to_db`) given the same arguments; the
saved references and the script that made them are in tests/.

Standards followed:
  * HTK mel scale (Young et al., The HTK Book, sec. 5.4): mel = 2595 log10(1 + f / 700).
  * Slaney mel scale (M. Slaney, Auditory Toolbox, 1998): linear below 1 kHz (mel = f / (200/3)),
    logarithmic above (27 mels per factor 6.4 in frequency). librosa's default, and ours.
  * Filter normalisation "slaney": each triangle is scaled by 2 / (its width in Hz), so every band integrates to
    the same area (roughly constant energy per band). norm=None keeps peak height 1 (HTK, Kaldi).

Conventions pinned here (all librosa's defaults):
  * power (|X|^2), not magnitude; periodic Hann window of `win_length` zero-padded (centred) to `n_fft`;
  * center=True pads `n_fft // 2` zeros at both ends (librosa >= 0.10 "constant" pad), so frame t is centred on
    sample t * hop_length and T = 1 + len(y) // hop_length;
  * dtype follows the input: float32 in -> float32 spectra (what the models eat, and fast), anything else -> float64
    (filterbanks and DCT matrices are built in float64); shapes are (n_features, n_frames), frames last.

Test: python -m pytest tests/test_mel.py
"""
import warnings

import numpy as np
import scipy.fft

# Slaney scale constants (Auditory Toolbox; librosa.hz_to_mel)
SLANEY_HZ_PER_MEL = 200.0 / 3  # Hz per mel on the linear part (below 1 kHz)
SLANEY_BREAK_HZ = 1000.0  # Hz where the linear part turns logarithmic
SLANEY_BREAK_MEL = SLANEY_BREAK_HZ / SLANEY_HZ_PER_MEL  # = 15 mel
SLANEY_LOGSTEP = np.log(6.4) / 27.0  # natural-log step per mel above 1 kHz: 27 mels per factor 6.4


def hz_to_mel(f, htk=False):
    """Frequency in Hz -> mel. Scalar or array, same shape out (float64).

    htk=True:  mel = 2595 log10(1 + f / 700)                         (so 1000 Hz -> 1000.0 mel)
    htk=False: mel = f / (200/3) below 1 kHz; 15 + ln(f / 1000) / (ln(6.4) / 27) above (Slaney, the default)
    """
    f = np.asarray(f, dtype=np.float64)
    if htk:
        return 2595.0 * np.log10(1.0 + f / 700.0)
    mel = f / SLANEY_HZ_PER_MEL
    above = f >= SLANEY_BREAK_HZ
    # np.maximum keeps the log's argument >= 1 where `above` is False, so no warning for f = 0
    log_part = SLANEY_BREAK_MEL + np.log(np.maximum(f, SLANEY_BREAK_HZ) / SLANEY_BREAK_HZ) / SLANEY_LOGSTEP
    return np.where(above, log_part, mel)


def mel_to_hz(m, htk=False):
    """Mel -> frequency in Hz, the exact inverse of `hz_to_mel` with the same `htk`. Scalar or array (float64).

    htk=True:  f = 700 (10^(mel / 2595) - 1)
    htk=False: f = (200/3) mel below 15 mel; 1000 exp((ln(6.4) / 27) (mel - 15)) above
    """
    m = np.asarray(m, dtype=np.float64)
    if htk:
        return 700.0 * (10.0 ** (m / 2595.0) - 1.0)
    hz = SLANEY_HZ_PER_MEL * m
    log_part = SLANEY_BREAK_HZ * np.exp(SLANEY_LOGSTEP * (np.maximum(m, SLANEY_BREAK_MEL) - SLANEY_BREAK_MEL))
    return np.where(m >= SLANEY_BREAK_MEL, log_part, hz)


def mel_frequencies(n_mels, fmin, fmax, htk=False):
    """`n_mels` frequencies in Hz, equally spaced on the mel scale from `fmin` to `fmax` (both included).

    Returns (n_mels,) float64 in Hz. The filterbank uses n_mels + 2 of them: the edges and centres of its triangles.
    """
    mels = np.linspace(hz_to_mel(fmin, htk), hz_to_mel(fmax, htk), n_mels)  # (n_mels,) in mel
    return mel_to_hz(mels, htk)


def fft_frequencies(sr, n_fft):
    """Centre frequency in Hz of each rfft bin: k * sr / n_fft for k = 0 .. n_fft // 2. Returns (1 + n_fft // 2,)."""
    return np.fft.rfftfreq(n_fft, d=1.0 / sr)


def mel_filterbank(sr, n_fft, n_mels=40, fmin=0.0, fmax=None, htk=False, norm="slaney"):
    """Triangular mel filters as a matrix: mel power = filterbank @ power spectrum.

    sr: sample rate in Hz; n_fft: FFT size in samples; fmin, fmax: band edges in Hz (fmax=None means sr / 2);
    htk: mel scale (False = Slaney); norm: "slaney" (area-normalised: filter i scaled by 2 / (f[i+2] - f[i]) with f
    in Hz) or None (peak height 1).
    Filter i rises linearly from f[i] to 1 at its centre f[i+1] and falls to 0 at f[i+2], where
    f = mel_frequencies(n_mels + 2, fmin, fmax, htk); evaluated at the FFT bin frequencies.
    Returns (n_mels, 1 + n_fft // 2) float64. Equals librosa.filters.mel(..., dtype=np.float64).
    """
    if fmax is None:
        fmax = sr / 2.0
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
    """y as a NumPy array, checked once: a non-empty mono signal of shape (N,). ValueError naming `who`
    otherwise -- the one check of a waveform that every signal function entry (power_spectrogram, f0.yin,
    features.extract) shares."""
    y = np.asarray(y)
    if y.ndim != 1 or y.size == 0:
        raise ValueError(f"{who}: expected a non-empty mono signal of shape (N,), got shape {y.shape}")
    return y


def frame(y, frame_length, hop_length):
    """Slice a 1-D signal into overlapping frames, without copying.

    y: (N,) samples; frame_length, hop_length: in samples. Frame t is y[t * hop_length : t * hop_length +
    frame_length]. Returns a read-only strided view of shape (frame_length, T), T = 1 + (N - frame_length) //
    hop_length (frames last, like every feature here). Raises ValueError if y is shorter than one frame.
    """
    y = np.asarray(y)
    if y.ndim != 1:
        raise ValueError(f"frame: expected a 1-D signal, got shape {y.shape}")
    if frame_length < 1 or hop_length < 1:
        raise ValueError(f"frame: frame_length and hop_length must be >= 1, got {frame_length}, {hop_length}")
    if len(y) < frame_length:
        raise ValueError(f"frame: signal of {len(y)} samples is shorter than one frame ({frame_length} samples)")
    windows = np.lib.stride_tricks.sliding_window_view(y, frame_length)  # (N - frame_length + 1, frame_length)
    return windows[::hop_length].T  # (frame_length, T), still a view of y


def compute_dtype(y):
    """The float type features are computed in: float32 for float32 input (half the memory, faster FFTs, what the
    models eat), float64 for anything else (float64, integer PCM, lists). librosa keeps float32 as float32 too."""
    return np.float32 if np.asarray(y).dtype == np.float32 else np.float64


def hann_window(win_length, n_fft):
    """Periodic Hann window w[n] = 0.5 - 0.5 cos(2 pi n / win_length), n = 0 .. win_length - 1, zero-padded
    equally on both sides (extra zero on the right) to n_fft samples. Returns (n_fft,) float64.

    "Periodic" (denominator win_length, not win_length - 1) is what scipy.signal.get_window("hann", ...) and
    librosa use for spectral analysis.
    """
    n = np.arange(win_length)
    w = 0.5 - 0.5 * np.cos(2.0 * np.pi * n / win_length)  # (win_length,)
    left = (n_fft - win_length) // 2
    return np.pad(w, (left, n_fft - win_length - left))  # (n_fft,)


def power_spectrogram(y, n_fft=512, hop_length=160, win_length=400, center=True):
    """Short-time power spectrum |X[k, t]|^2 of a mono signal.

    y: (N,) samples (float, any scale); n_fft, hop_length, win_length in samples (win_length=None means n_fft).
    X[k, t] = sum_n w[n] y_pad[t * hop_length + n] exp(-2 pi i k n / n_fft), w = `hann_window(win_length, n_fft)`.
    center=True: y is zero-padded by n_fft // 2 on both sides, so T = 1 + N // hop_length;
    center=False: no padding, T = 1 + (N - n_fft) // hop_length (ValueError if N < n_fft).
    Returns (1 + n_fft // 2, T) power (units of y squared), float32 for float32 y, else float64. Equals
    np.abs(librosa.stft(y, n_fft=n_fft, hop_length=hop_length, win_length=win_length, pad_mode="constant"))**2.
    """
    y = waveform(y, "power_spectrogram")
    y = y.astype(compute_dtype(y), copy=False)  # float32 stays float32; everything else becomes float64
    win_length = n_fft if win_length is None else win_length
    if not 1 <= win_length <= n_fft:
        raise ValueError(f"power_spectrogram: need 1 <= win_length <= n_fft = {n_fft}, got win_length={win_length}")
    if center:
        y = np.pad(y, (n_fft // 2, n_fft // 2))  # (N + 2 * (n_fft // 2),) zeros at both ends
    elif len(y) < n_fft:
        raise ValueError(f"power_spectrogram: signal of {len(y)} samples is shorter than n_fft = {n_fft} "
                         f"with center=False; pad it or use center=True")

    frames = frame(y, n_fft, hop_length).T  # (T, n_fft) view: one frame per row
    window = hann_window(win_length, n_fft).astype(y.dtype)  # (n_fft,)
    # scipy.fft.rfft: the same pocketfft algorithm as np.fft.rfft; ~3x faster on float32 frames (kept complex64)
    spectrum = scipy.fft.rfft(frames * window, axis=-1)  # (T, F) complex, F = 1 + n_fft // 2
    power = np.abs(spectrum)  # (T, F) magnitude |X|
    power *= power  # (T, F) power |X|^2, squared in place
    return power.T  # (F, T)


def melspectrogram(y, sr, n_fft=512, hop_length=160, win_length=400, n_mels=40, fmin=0.0, fmax=None, htk=False,
                   norm="slaney", center=True):
    """Mel power spectrogram: mel_filterbank(sr, n_fft, n_mels, fmin, fmax, htk, norm) @ power_spectrogram(y, ...).

    y: (N,) samples at `sr` Hz; other arguments as in `power_spectrogram` and `mel_filterbank`.
    Returns (n_mels, T) power (dtype as `power_spectrogram`), T = 1 + N // hop_length when center=True.
    Equals librosa.feature.melspectrogram(y=y, sr=sr, n_fft=..., hop_length=..., win_length=..., n_mels=...,
    pad_mode="constant") up to ~1e-7 relative (librosa builds its filterbank in float32; ours is float64).
    """
    power = power_spectrogram(y, n_fft, hop_length, win_length, center)  # (F, T)
    filters = mel_filterbank(sr, n_fft, n_mels, fmin, fmax, htk, norm)  # (n_mels, F)
    return filters.astype(power.dtype) @ power  # (n_mels, T)


def power_to_db(S, ref=1.0, amin=1e-10, top_db=80.0):
    """Power -> decibels: 10 log10(max(S, amin)) - 10 log10(max(ref, amin)), then floored at (max - top_db).

    S: power array, any shape; ref: reference power (a number, or a function of S such as np.max) that maps
    to 0 dB; amin: smallest power in S's units (1e-10 = -100 dB re 1); top_db: dynamic range kept in dB, the
    floor is relative to the largest value of the whole array (None = no floor).
    Returns dB, same shape (float32 for float32 S, else float64).
    Equals librosa.power_to_db(S, ref=ref, amin=amin, top_db=top_db).
    """
    S = np.asarray(S)
    S = S.astype(compute_dtype(S), copy=False)
    if amin <= 0:
        raise ValueError(f"power_to_db: amin must be > 0, got {amin}")
    if top_db is not None and top_db < 0:
        raise ValueError(f"power_to_db: top_db must be >= 0 or None, got {top_db}")
    ref_power = ref(S) if callable(ref) else np.abs(ref)
    # Guard before the log: silence (S = 0) would give log10(0) = -inf; amin clips it to -100 dB instead.
    db = 10.0 * np.log10(np.maximum(amin, S)) - 10.0 * np.log10(np.maximum(amin, ref_power))
    if top_db is not None:
        db = np.maximum(db, db.max() - top_db)  # keep the loudest top_db dB of the whole array
    return db
