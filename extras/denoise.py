"""Noise removal, a decision-directed Wiener filter in the STFT domain (NumPy/SciPy only).

Stands in for RNNoise. Steps, one function each:
  1. stft                   Y[k, l]: Hann window, 75 % overlap (scipy.signal.stft; istft inverts it exactly)
  2. estimate_noise_psd     lambda_d[k]: mean |Y|^2 over the quietest frames (speech has pauses)
  3. decision_directed_gain G[k, l]: a priori SNR xi by the decision-directed rule of Ephraim & Malah (1984,
                            eq. 51), Wiener gain G = xi / (1 + xi) (Scalart & Filho 1996), floored
  4. istft                  S_hat = G * Y back to a waveform of the input's length
The gain floor and the lower bound on xi keep "musical noise" (isolated surviving bins) down (Cappe 1994).

Test: python -m pytest tests/test_denoise.py
"""
import numpy as np
import scipy.signal

VERSION = 1  # bump by hand when a change here changes any denoised sample (scale/cache.py keys features on it)
N_FFT = 512  # samples per STFT frame = 32 ms at 16 kHz
HOP_LENGTH = 128  # samples between frames = 8 ms at 16 kHz (75 % overlap: Hann sums to a constant)
NOISE_FRACTION = 0.1  # fraction of frames (the quietest) that estimate the noise spectrum
ALPHA = 0.95  # decision-directed smoothing, dimensionless. Ephraim & Malah (1984) use 0.98; the README's "Noise
#              removal" gives the measurement that chose 0.95 (at the price of a little musical noise)
XI_MIN_DB = -25.0  # dB, lower bound on the a priori SNR xi (Cappe 1994)
GAIN_FLOOR_DB = -20.0  # dB, the most any bin is attenuated
EPS = 1e-12  # power floor, guards the divisions when a recording holds exact digital silence


def stft(y, n_fft=N_FFT, hop_length=HOP_LENGTH):
    """Complex STFT, shape (1 + n_fft // 2, n_frames); Hann window, zero-padded at both ends."""
    _, _, Y = scipy.signal.stft(y, window="hann", nperseg=n_fft, noverlap=n_fft - hop_length,
                                boundary="zeros", padded=True)
    return Y  # (K, L): bins, frames


def istft(Y, length, n_fft=N_FFT, hop_length=HOP_LENGTH):
    """Inverse of stft, trimmed or zero-padded to `length` samples."""
    _, y = scipy.signal.istft(Y, window="hann", nperseg=n_fft, noverlap=n_fft - hop_length,
                              boundary=True)
    y = y[:length]
    return np.pad(y, (0, length - len(y)))  # (length,)


def estimate_noise_psd(power, noise_fraction=NOISE_FRACTION):
    """Noise power per bin, shape (K,): the mean of `power` (K, L) over the quietest noise_fraction of
    frames (at least one), ranked by total frame energy. Assumes the noise is stationary and the
    recording has pauses; a slight underestimate (the quietest frames are chosen) errs on the gentle side."""
    energy = power.sum(axis=0)  # (L,)
    n_quiet = max(1, int(round(noise_fraction * power.shape[1])))
    quiet = np.argsort(energy)[:n_quiet]  # indices of the quietest frames
    return np.maximum(power[:, quiet].mean(axis=1), EPS)  # (K,)


def decision_directed_gain(power, noise_psd, alpha=ALPHA, xi_min_db=XI_MIN_DB, gain_floor_db=GAIN_FLOOR_DB):
    """Wiener gain G (K, L) from the a posteriori SNR gamma = |Y|^2 / lambda_d and the a priori SNR
      xi[l] = alpha * G[l-1]^2 * gamma[l-1] + (1 - alpha) * max(gamma[l] - 1, 0),   xi >= xi_min
    (Ephraim & Malah 1984 eq. 51; G^2 gamma = |S_hat|^2 / lambda_d of the previous frame), G = xi / (1 + xi).
    The recursion needs the previous frame's gain, so this is the one loop over frames in the module;
    each step is vectorised over the K bins."""
    gamma = power / noise_psd[:, None]  # (K, L) a posteriori SNR
    xi_min = 10.0 ** (xi_min_db / 10.0)  # power ratio
    gain = np.empty_like(gamma)  # (K, L)
    previous = np.zeros(gamma.shape[0])  # |S_hat|^2 / lambda_d of frame l-1 (nothing before frame 0)
    for frame in range(gamma.shape[1]):
        ml = np.maximum(gamma[:, frame] - 1.0, 0.0)  # maximum-likelihood SNR of this frame
        xi = np.maximum(alpha * previous + (1.0 - alpha) * ml, xi_min)
        gain[:, frame] = xi / (1.0 + xi)
        previous = gain[:, frame] ** 2 * gamma[:, frame]
    return np.maximum(gain, 10.0 ** (gain_floor_db / 20.0))  # amplitude floor


def denoise(y, sr, n_fft=N_FFT, hop_length=HOP_LENGTH, noise_fraction=NOISE_FRACTION, alpha=ALPHA,
            xi_min_db=XI_MIN_DB, gain_floor_db=GAIN_FLOOR_DB):
    """Remove stationary background noise from a mono signal.

    y: (N,) float waveform; sr: sample rate in Hz (checked, and used for nothing else: frame sizes are in
    samples, 32 ms / 8 ms at 16 kHz); n_fft, hop_length: STFT frame and hop in samples; noise_fraction: share
    of frames used for the noise estimate; alpha: decision-directed smoothing in [0, 1); xi_min_db: floor on
    the a priori SNR in dB; gain_floor_db: floor on the gain in dB (0 dB = no denoising).
    Returns (N,) float32, the same length as y. Raises ValueError for empty, non-1-D or non-finite input.
    """
    y = np.asarray(y, dtype=np.float64)
    if y.ndim != 1 or y.size == 0:
        raise ValueError(f"denoise expects a non-empty 1-D signal, got shape {y.shape}")
    if not np.all(np.isfinite(y)):
        raise ValueError("denoise: the signal contains NaN or infinite samples")
    if sr <= 0 or not 0 < hop_length <= n_fft // 2:
        raise ValueError(f"denoise: need sr > 0 and 0 < hop_length <= n_fft / 2, got {sr}, {hop_length}, {n_fft}")
    padded = np.pad(y, (0, max(0, n_fft - len(y))))  # a clip shorter than one frame gets one frame
    Y = stft(padded, n_fft, hop_length)  # (K, L)
    power = np.abs(Y) ** 2  # (K, L)
    noise_psd = estimate_noise_psd(power, noise_fraction)  # (K,)
    gain = decision_directed_gain(power, noise_psd, alpha, xi_min_db, gain_floor_db)  # (K, L)
    return istft(gain * Y, len(y), n_fft, hop_length).astype(np.float32)  # (N,)
