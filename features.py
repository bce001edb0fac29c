"""Features: the model inputs, and the constants every module shares (sample rate, frames, window length).

`extract(y, kind=...)` computes one input kind, top to bottom. Features are (n_features, n_frames),
frames last, with a leading channel axis for the models:

    "mfcc_f0"  (3, 14, T)  channel 0 = 13 MFCCs + 1 F0 row, channel 1 = their deltas, channel 2 = delta-deltas
                           (the original project's final input)
    "mfcc"     (3, 13, T)  the same without the F0 row
    "mfcc_f0_vt" (3, 19, T) mfcc_f0 + the vocal tract: F1..F4 in semitones re F0_REF, its length in cm (formants.py)
    "mel"      (1, 64, T)  log-mel spectrogram in dB
    "raw"      (1, N)      the waveform itself

T = 1 + N // HOP_LENGTH (centred frames, 10 ms apart); MFCC, delta and F0 frames line up one to one. MFCCs: mfcc.py
(librosa's convention); deltas: mfcc.delta; F0: f0.yin, encoded by `f0_row`; every convention: docs/conventions.md.

Test: python -m pytest tests/test_features.py
"""
import numpy as np

import f0
import mel
import mfcc

# ---- pinned constants (other modules import these; change them here only) ----
FEATURE_VERSION = 4  # bump by hand when a change to the feature code (here, mel, mfcc, f0, formants, data.load_audio)
#                      changes any number: scale/cache.py keys stored features on it, never on source text
SR = 16000  # Hz: every input is resampled to this rate before feature extraction
N_FFT = 512  # samples = 32 ms: FFT size (window zero-padded to it)
WIN_LENGTH = 400  # samples = 25 ms: Hann analysis window
HOP_LENGTH = 160  # samples = 10 ms: frame step, so 100 frames per second
N_MELS_MFCC = 40  # mel bands under the MFCCs
N_MFCC = 13  # cepstral coefficients kept (c0..c12)
N_MELS = 64  # mel bands of the "mel" (log-mel) input
FMIN = 0.0  # Hz: lowest mel band edge
FMAX = None  # Hz: highest mel band edge; None = sr / 2 (8 kHz)
F0_FMIN = 60.0  # Hz: lowest F0 searched (deep male voice)
F0_FMAX = 500.0  # Hz: highest F0 searched (child / high female voice)
YIN_FRAME_LENGTH = 1024  # samples = 64 ms: YIN frame, holds > 2 periods of F0_FMIN (2 * 16000/60 = 533)
YIN_THRESHOLD = 0.2  # CMND dip depth (dimensionless) below which a frame is voiced. The paper and librosa use 0.1,
#   which leaves most frames of real speech unvoiced (docs/conventions.md); f0.yin keeps 0.1 as its own default.
F0_REF = 50.0  # Hz: reference of the F0 row's semitone scale, below F0_FMIN so every voiced value is > 0
WINDOW_FRAMES = 400  # frames = 4 s: one model window along the time axis
WINDOW_SAMPLES = WINDOW_FRAMES * HOP_LENGTH  # samples = 64000 = 4 s: one window of the "raw" input
INPUTS = ("mfcc", "mfcc_f0", "mel", "raw", "mfcc_f0_vt")  # the input kinds, by name


def f0_track(y):
    """F0 by f0.yin with the pinned settings (F0_FMIN..F0_FMAX Hz, YIN_FRAME_LENGTH, HOP_LENGTH, YIN_THRESHOLD).

    y: (N,) float waveform at SR Hz.  Returns (f0 in Hz (T,) float64, voiced (T,) bool), T = 1 + N // HOP_LENGTH.

    >>> hz, voiced = f0_track(np.sin(2 * np.pi * 200.0 * np.arange(SR) / SR))  # 1 s of a 200 Hz tone
    >>> hz.shape, round(float(np.median(hz[voiced])), 1)
    ((101,), 200.0)
    """
    return f0.yin(y, SR, fmin=F0_FMIN, fmax=F0_FMAX, frame_length=YIN_FRAME_LENGTH, hop_length=HOP_LENGTH,
                  threshold=YIN_THRESHOLD)


def f0_row(y):
    """The F0 row of "mfcc_f0": row_t = 12 · log2(f0_t / F0_REF) semitones if YIN calls frame t voiced, else 0.

    Semitones, as pitch is heard in ratios; F0_REF = 50 Hz < F0_FMIN, so a voiced frame is >= 3.2 and 0 is free to
    mean "unvoiced"; speech lands at 12..28, the MFCCs' order, so no further scaling (docs/conventions.md).
    y: (N,) float waveform at SR Hz.  Returns (T,) float64 in semitones, T = 1 + N // HOP_LENGTH.

    >>> row = f0_row(np.concatenate([np.sin(2 * np.pi * 200.0 * np.arange(8000) / SR), np.zeros(8000)]))
    >>> row.shape, round(float(row[20]), 2), round(float(row[-20]), 2)  # 200 Hz: 24 semitones above 50 Hz; silence
    ((101,), 24.0, 0.0)
    """
    hz, voiced = f0_track(y)  # (T,), (T,)
    return np.where(voiced, 12.0 * np.log2(hz / F0_REF), 0.0)  # (T,) hz > 0 always: f0 = sr / period


def _check_kind(kind):
    if kind not in INPUTS:
        raise ValueError(f"unknown input kind {kind!r}; expected one of {', '.join(INPUTS)}")


def extract(y, sr=SR, kind="mfcc_f0"):
    """Model input of kind `kind` for one mono waveform; ValueError for a bad kind, rate or signal.

    y: (N,) float waveform, finite.  sr: its sample rate in Hz, which must equal SR (data.load_audio resamples).
    kind: one of INPUTS.  Returns float32 of shape input_shape(kind) + (T,), T = 1 + N // HOP_LENGTH; (1, N) for raw.

    >>> extract(np.zeros(16000)).shape  # 1 s of silence, kind "mfcc_f0"
    (3, 14, 101)
    """
    _check_kind(kind)
    if sr != SR:
        raise ValueError(f"sample rate {sr} Hz, expected {SR} Hz: resample the audio to {SR} Hz first")
    y = mel.waveform(y, "extract")
    if not np.all(np.isfinite(y)):
        raise ValueError(f"waveform of {y.size} samples contains NaN or inf")
    if kind == "raw":
        return y.astype(np.float32)[None, :]  # (1, N), the waveform unchanged
    if kind == "mel":
        power = mel.melspectrogram(y, SR, n_fft=N_FFT, hop_length=HOP_LENGTH, win_length=WIN_LENGTH,
                                   n_mels=N_MELS, fmin=FMIN, fmax=FMAX)  # (64, T)
        return mel.power_to_db(power)[None].astype(np.float32)  # (1, 64, T) dB re 1.0, top_db 80
    static = mfcc.mfcc(y, SR, n_mfcc=N_MFCC, n_fft=N_FFT, hop_length=HOP_LENGTH, win_length=WIN_LENGTH,
                       n_mels=N_MELS_MFCC, fmin=FMIN, fmax=FMAX)  # (13, T)
    if kind in ("mfcc_f0", "mfcc_f0_vt"):
        static = np.vstack([static, f0_row(y)[None, :]])  # (14, T): the F0 row appended as row 13
    if kind == "mfcc_f0_vt":  # rows 14-17 F1..F4, row 18 the tube's length: 0 on frames without formants
        import formants  # LPC: only this input needs it
        F = formants.formants(y, SR)  # (4, T) Hz, NaN where no formant
        static = np.vstack([static, np.nan_to_num(12 * np.log2(F / F0_REF)), np.nan_to_num(  # (19, T)
            formants.vocal_tract_length(F))[None]])
    d1 = mfcc.delta(static)  # (n, T) HTK regression over ±2 frames
    return np.stack([static, d1, mfcc.delta(d1)]).astype(np.float32)  # (3, n, T): statics, deltas, delta-deltas


def input_shape(kind):
    """The non-time dimensions of `kind`'s input (the shapes in the table above).

    >>> [input_shape(kind) for kind in INPUTS]
    [(3, 13), (3, 14), (1, 64), (1,), (3, 19)]
    """
    _check_kind(kind)
    return {"mfcc_f0": (3, N_MFCC + 1), "mfcc": (3, N_MFCC), "mel": (1, N_MELS), "raw": (1,),
            "mfcc_f0_vt": (3, N_MFCC + 6)}[kind]


def window_length(kind):
    """Length of one model window along the last axis, in that input's steps: 4 s either way.

    >>> window_length("mfcc_f0"), window_length("raw")  # WINDOW_FRAMES frames, WINDOW_SAMPLES samples
    (400, 64000)
    """
    _check_kind(kind)
    return WINDOW_SAMPLES if kind == "raw" else WINDOW_FRAMES
