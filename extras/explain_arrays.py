"""explain.py's numbers -- every array its figures draw from one recording, and the checks that they are the models'.

The arrays are computed by the project's own functions (mel.py, mfcc.py, f0.py, features.py; formants.py for the
vocal tract), never by a second implementation, and `analyse` checks that its pieces add up to them: frame t's
power spectrum is column t of the spectrogram, the DCT of the drawn log-mel is the MFCC channel, the YIN steps give
the F0 of frame t, and the LPC steps give formants.formants' F1..F4 of frame t. NumPy only: extras/explain.py draws
them (matplotlib), extras/explain_text.py holds the figures' words.

    a = analyse(y)                  # y: (N,) float at 16 kHz -> a dict of arrays, shapes in analyse's docstring
    python -m pytest tests/test_explain.py
"""
import tempfile
from pathlib import Path

import numpy as np

import data
import f0
import features
import formants
import mel
import mfcc
import sampling
from features import (F0_FMAX, F0_FMIN, FMIN, HOP_LENGTH, N_FFT, N_MELS_MFCC, N_MFCC, SR, WIN_LENGTH,
                      YIN_FRAME_LENGTH, YIN_THRESHOLD)
from extras.synth_corpus import make_synth_corpus

FIRST_FRAME_S = 0.5  # s: by default the frame shown is the first voiced one after this time
FMAX_HZ = features.FMAX or SR / 2  # Hz: top edge of the mel filterbank (FMAX None means sr / 2)
LPC_N_FFT = 2048  # points of the FFT of figure 8's frame: bins about 5 Hz apart at 2 × 5500 Hz (the frame: ~550)


def builtin_clip():
    """The first clip of the built-in corpus (speaker spk000, utterance 0, seed 0), written as 16-bit WAV and
    read back with data.load_audio exactly as training reads it. Returns ((N,) float32 at SR, a name)."""
    with tempfile.TemporaryDirectory() as tmp:
        row = data.read_manifest(make_synth_corpus(tmp, n_speakers=1, n_utterances=1, seed=0))[0]
        y = data.load_audio(row["path"])  # (N,) float32 at SR
    return y, f"{Path(row['path']).name} ({row['gender']}, {row['age']}, {row['dialect']})"


def pick_frame(voiced, frame_s):
    """The frame to show: round(frame_s / hop) if given, else the first voiced frame after FIRST_FRAME_S (the
    first voiced frame anywhere, or the middle one, where there is none). voiced: (T,) bool. Returns an int."""
    if frame_s is not None:
        return int(round(frame_s * SR / HOP_LENGTH))
    first = int(np.ceil(FIRST_FRAME_S * SR / HOP_LENGTH))  # frame index at FIRST_FRAME_S
    for candidates in (np.flatnonzero(voiced[first:]) + first, np.flatnonzero(voiced)):
        if candidates.size:
            return int(candidates[0])
    return len(voiced) // 2


def yin_steps(y, t):
    """f0.py's YIN steps on frame t alone, with the pinned settings: the numbers behind figure 5.

    The frame is cut as f0.yin cuts it (float32, frame_length // 2 zeros of centre padding). Returns a dict:
    d (max_lag + 1,) and d_prime (max_lag + 1,) over lags 0..max_lag in samples, min_lag and max_lag (the
    searched range), lag (the chosen period in samples, fractional), voiced (bool).
    """
    padded = np.pad(y.astype(np.float32), YIN_FRAME_LENGTH // 2)  # (N + YIN_FRAME_LENGTH,)
    frame = mel.frame(padded, YIN_FRAME_LENGTH, HOP_LENGTH)[:, t:t + 1]  # (1024, 1)
    min_lag, max_lag = f0.lag_range(SR, F0_FMIN, F0_FMAX, YIN_FRAME_LENGTH)  # samples
    d = f0.difference_function(frame, max_lag)  # (max_lag + 1, 1) eq. 6/7
    d_prime = f0.cmnd(d)  # (max_lag + 1, 1) eq. 8
    row, voiced = f0.absolute_threshold(d_prime[min_lag:], YIN_THRESHOLD)  # (1,), (1,) step 4
    lag = min_lag + f0.parabolic_interpolation(d_prime[min_lag:], row)  # (1,) samples, step 5
    return dict(d=d[:, 0], d_prime=d_prime[:, 0], min_lag=min_lag, max_lag=max_lag, lag=float(lag[0]),
                voiced=bool(voiced[0]))


def lpc_steps(y, t):
    """formants.py's steps on frame t alone, with its pinned settings: the numbers behind figure 8.

    The frame is cut as formants.formants cuts it: the clip resampled to 2 × ceiling (the ceiling from the median
    F0), pre-emphasised, 2 × WINDOW_S around t · hop under the Gaussian window. Returns a dict: hz (LPC_N_FFT // 2
    + 1,) frequencies in Hz, spectrum (same shape) the frame's power |X(f)|², envelope (same shape) the all-pole
    model E / |A(f)|² in the same units, formants_hz (N_FORMANTS,) the picked formants (NaN where fewer),
    sr_lpc and ceiling_hz in Hz, f0_median_hz (NaN where no frame is voiced).
    """
    f0_hz, voiced = formants.voicing(y, SR)  # (T,) Hz, (T,) bool
    ceiling_hz = formants.formant_ceiling(f0_hz, voiced, SR)  # Hz
    sr_lpc = int(round(2 * ceiling_hz))  # Hz, the LPC's sample rate
    x = formants.pre_emphasis(formants.resample(y, SR, sr_lpc), sr_lpc)  # (N · sr_lpc / SR,)
    half = int(round(formants.WINDOW_S * sr_lpc))  # samples
    L = 2 * half + 1  # samples in the frame
    centre = int(np.round(t * HOP_LENGTH * sr_lpc / SR))  # frame t's centre sample at sr_lpc
    x = np.pad(x, (half, half + L))  # zeros beyond both ends, as formants.formants pads
    frame = x[centre:centre + L] * formants.gaussian_window(L)  # (L,) x[centre − half .. centre + half]
    r = formants.autocorrelation(frame[None, :], formants.ORDER)  # (1, p + 1)
    a, _, E = formants.levinson_durbin(r)  # (1, p + 1), (1,)
    F, B = formants.root_frequency_bandwidth(formants.lpc_roots(a), sr_lpc)  # (1, p), (1, p) Hz
    spectrum = np.abs(np.fft.rfft(frame, LPC_N_FFT)) ** 2  # (LPC_N_FFT // 2 + 1,) |X(f)|²
    envelope = E[0] / np.abs(np.fft.rfft(a[0], LPC_N_FFT)) ** 2  # (LPC_N_FFT // 2 + 1,) E / |A(f)|²; |A| > 0 on |z| = 1
    return dict(hz=np.fft.rfftfreq(LPC_N_FFT, 1.0 / sr_lpc), spectrum=spectrum, envelope=envelope,
                formants_hz=formants.pick_formants(F, B, ceiling_hz)[:, 0], sr_lpc=sr_lpc, ceiling_hz=ceiling_hz,
                f0_median_hz=float(np.median(f0_hz[voiced])) if voiced.any() else float("nan"))


def analyse(y, frame_s=None):
    """Every array the figures draw, for one waveform y: (N,) float at SR Hz. Returns a dict (shapes below).

    The shown frame t comes from `pick_frame` (frame_s in s, at most the last frame's time). Internal checks tie the pieces to what the models use: the
    frame's power spectrum is column t of the spectrogram, the DCT of the drawn log-mel is the MFCC channel,
    the YIN steps give the F0 of frame t, and the LPC steps give formants.formants' F1..F4 of frame t.
    """
    T = 1 + len(y) // HOP_LENGTH  # frames
    power = mel.power_spectrogram(y, N_FFT, HOP_LENGTH, WIN_LENGTH)  # (F, T) |X|², F = 1 + N_FFT // 2
    filters = mel.mel_filterbank(SR, N_FFT, N_MELS_MFCC, FMIN, FMAX_HZ)  # (40, F) 1/Hz (area-normalised)
    log_mel = mel.power_to_db(mel.melspectrogram(y, SR, N_FFT, HOP_LENGTH, WIN_LENGTH, N_MELS_MFCC, FMIN,
                                                 FMAX_HZ))  # (40, T) dB, the log-mel under the MFCCs
    x = features.extract(y, SR, kind="mfcc_f0")  # (3, 14, T) the model input
    f0_hz, voiced = features.f0_track(y)  # (T,) Hz, (T,) bool
    t = pick_frame(voiced, frame_s)
    assert 0 <= t < T, f"frame {t} outside the clip's {T} frames"

    padded = np.pad(y, N_FFT // 2)  # (N + N_FFT,) the centre padding of power_spectrogram
    segment = mel.frame(padded, N_FFT, HOP_LENGTH)[:, t]  # (N_FFT,) samples of frame t
    window = mel.hann_window(WIN_LENGTH, N_FFT)  # (N_FFT,) periodic Hann, zero-padded
    yin = yin_steps(y, t)
    tracks = formants.formants(y, SR)  # (4, T) Hz: F1..F4, NaN on unvoiced and silent frames
    lpc = lpc_steps(y, t)

    # The pieces add up to what the models use (float32 rounding aside).
    spectrum = np.abs(np.fft.rfft(segment * window)) ** 2  # (F,)
    assert np.allclose(spectrum, power[:, t], rtol=1e-3, atol=1e-6 * power[:, t].max()), "frame t's spectrum"
    cepstrum = mfcc.dct_matrix(N_MFCC, N_MELS_MFCC) @ log_mel  # (13, 40) @ (40, T) -> (13, T)
    assert np.abs(cepstrum - x[0, :N_MFCC]).max() < 1e-2, "DCT of the drawn log-mel = the MFCC channel"
    assert abs(SR / yin["lag"] - f0_hz[t]) < 1e-3 * f0_hz[t] and yin["voiced"] == voiced[t], "YIN of frame t"
    unvoiced = np.isnan(tracks[:, t]).all()  # formants.formants leaves unvoiced and silent frames NaN
    assert unvoiced or np.allclose(lpc["formants_hz"], tracks[:, t], rtol=1e-6, equal_nan=True), "LPC of frame t"

    return dict(y=y, t=t, T=T, power=power, filters=filters, log_mel=log_mel, x=x, f0_hz=f0_hz, voiced=voiced,
                segment=segment, window=window, yin=yin,
                model_window=first_window(x),  # (3, 14, 400)
                formants_hz=tracks, lpc=lpc, vtl_cm=formants.vocal_tract_length(tracks),  # (4, T) Hz, (T,) cm
                vtl_clip_cm=formants.median_vocal_tract_length(tracks))  # cm, NaN if no frame has F1..F4


def first_window(x):
    """The first model window of a clip's mfcc_f0 features, cut (and padded) as training and evaluation cut it."""
    L = features.window_length("mfcc_f0")
    windows, _, _ = sampling.Batches(data.Features("mfcc_f0", [x]), np.zeros((1, 0)), L)[[(0, 0)]]
    return windows[0]  # (3, 14, L)
