"""MFCC: MFCCs and their deltas, from scratch in NumPy (librosa's convention, number for number).

What: mfcc = DCT-II (orthonormal) of the mel power spectrogram in dB; delta = HTK regression over +-N frames.
Standards: Davis & Mermelstein (1980) for the MFCC idea; DCT-II with the orthonormal scaling of
scipy.fft.dct(norm="ortho"); the delta regression formula of The HTK Book (sec. 5.6, eq. 5.16).
With the same n_fft, hop_length, win_length, n_mels, htk and norm, `mfcc` equals librosa 0.11's
`librosa.feature.mfcc(..., mel_norm=norm, pad_mode="constant")`, and `delta(x, N)` equals
`librosa.feature.delta(x, width=2N+1, order=1, mode="nearest")`.
Why MFCCs differ between libraries -- log base, pre-emphasis, window, filter shapes, c0, lifter, frame padding,
deltas -- is docs/conventions.md: eight differences, each with the setting that undoes it.

Test: python -m pytest tests/test_mfcc.py
"""
import numpy as np

from mel import melspectrogram, power_to_db


def dct_matrix(n_out, n_in):
    """Orthonormal DCT-II as a matrix, c = D @ x: D[k, n] = s_k cos(π k (2n + 1) / (2 n_in)), s_0 = sqrt(1 / n_in),
    s_k = sqrt(2 / n_in) for k >= 1. Its rows are orthonormal (D Dᵀ = I), so a square D keeps energy: |D x| = |x|.
    Equals scipy.fft.dct(x, type=2, norm="ortho")[:n_out].

    n_out: coefficients kept (1 .. n_in).  n_in: values transformed.  Returns (n_out, n_in) float64.

    >>> dct_matrix(2, 4).round(3)  # row 0 a constant, row 1 half a cosine period
    array([[ 0.5  ,  0.5  ,  0.5  ,  0.5  ],
           [ 0.653,  0.271, -0.271, -0.653]])
    """
    if not 1 <= n_out <= n_in:
        raise ValueError(f"dct_matrix: need 1 <= n_out <= n_in, got n_out={n_out}, n_in={n_in}")
    k = np.arange(n_out)[:, None]  # (n_out, 1) coefficient index
    n = np.arange(n_in)[None, :]  # (1, n_in) input index
    D = np.sqrt(2.0 / n_in) * np.cos(np.pi * k * (2 * n + 1) / (2 * n_in))  # (n_out, n_in)
    D[0] /= np.sqrt(2.0)  # s_0 = sqrt(1 / n_in): the constant row needs its own scale to have unit length
    return D


def lifter_weights(n_mfcc, lifter):
    """librosa's sinusoidal lifter: w_k = 1 + (L / 2) sin(π (k + 1) / L), k = 0 .. n_mfcc − 1. Note the index k + 1:
    librosa lifts c0 by sin(π / L), whereas HTK lifts c_n by sin(π n / L) and leaves c0 alone.

    n_mfcc: coefficients.  lifter: L, in coefficients (> 0).  Returns (n_mfcc,) float64, dimensionless.

    >>> lifter_weights(4, 4)  # 1 + 2 sin(π/4), 1 + 2 sin(π/2), 1 + 2 sin(3π/4), 1 + 2 sin(π)
    array([2.41421356, 3.        , 2.41421356, 1.        ])
    """
    k = np.arange(1, n_mfcc + 1)  # (n_mfcc,) 1-based, as librosa
    return 1.0 + (lifter / 2.0) * np.sin(np.pi * k / lifter)


def mfcc(y, sr, n_mfcc=13, lifter=0, **mel_kwargs):
    """Mel-frequency cepstral coefficients: mfcc[:, t] = w · (D @ power_to_db(M)[:, t]), M = melspectrogram(y, sr,
    **mel_kwargs), D = dct_matrix(n_mfcc, n_mels), w = lifter_weights(n_mfcc, lifter) (or 1 when lifter = 0).

    y: (N,) samples.  sr: their sample rate in Hz.  n_mfcc: coefficients kept, c0 included (not replaced by energy).
    lifter: L of the sinusoidal lifter, in coefficients (0 = none).
    mel_kwargs: mel.melspectrogram's n_fft, hop_length, win_length (samples; default 25 ms windows every 10 ms),
    n_mels (40), fmin, fmax (Hz; 0 and sr / 2), htk (False), norm ("slaney"), center (True).
    Returns (n_mfcc, T) dB-scaled cepstra, float32 for float32 y, else float64; T = 1 + N // hop_length (center).

    >>> c = mfcc(np.zeros(1600), 16000)  # 0.1 s of silence: every mel band at the -100 dB floor
    >>> c.shape, round(float(c[0, 0]), 2)  # c0 = -100 dB · sqrt(40)
    ((13, 11), -632.46)
    """
    if lifter < 0:
        raise ValueError(f"mfcc: lifter must be >= 0 (0 = no lifter), got {lifter}")
    log_mel = power_to_db(melspectrogram(y, sr, **mel_kwargs))  # (n_mels, T) dB
    n_mels = log_mel.shape[0]
    if n_mfcc > n_mels:
        raise ValueError(f"mfcc: n_mfcc = {n_mfcc} cannot exceed n_mels = {n_mels}")
    D = dct_matrix(n_mfcc, n_mels).astype(log_mel.dtype)  # (n_mfcc, n_mels)
    coeffs = D @ log_mel  # (n_mfcc, n_mels) @ (n_mels, T) -> (n_mfcc, T)
    if lifter > 0:
        coeffs *= lifter_weights(n_mfcc, lifter).astype(coeffs.dtype)[:, None]  # (n_mfcc, 1) broadcast over frames
    return coeffs


def delta(x, N=2):
    """HTK regression deltas along the last axis: d_t = Σ_{n=1..N} n (x_{t+n} − x_{t−n}) / (2 Σ_{n=1..N} n²), edge
    frames replicated (x_t = x_0 for t < 0, x_{T−1} for t >= T). Delta-delta = delta(delta(x)), as in HTK; NOT
    librosa's order=2, a width-(2N+1) quadratic Savitzky-Golay second derivative.

    x: (..., T) features, frames last.  N: half-width in frames (window 2N + 1).
    Returns (..., T) in x's units per frame, float32 for float32 x, else float64.

    >>> delta(np.array([0.0, 1.0, 2.0, 3.0, 4.0]))  # slope 1; the replicated edges flatten it to 0.5 and 0.8
    array([0.5, 0.8, 1. , 0.8, 0.5])
    """
    x = np.asarray(x)
    x = x.astype(np.float32 if x.dtype == np.float32 else np.float64, copy=False)
    if N < 1:
        raise ValueError(f"delta: N must be >= 1 frame, got {N}")
    if x.ndim == 0 or x.shape[-1] == 0:
        raise ValueError(f"delta: expected at least one frame on the last axis, got shape {x.shape}")
    T = x.shape[-1]
    padded = np.pad(x, [(0, 0)] * (x.ndim - 1) + [(N, N)], mode="edge")  # (..., T + 2N), edges replicated
    numerator = np.zeros_like(x)  # (..., T)
    for n in range(1, N + 1):  # N is 2: a loop over the regression taps, not over frames
        numerator += n * (padded[..., N + n:N + n + T] - padded[..., N - n:N - n + T])
    return numerator / (2.0 * sum(n * n for n in range(1, N + 1)))
