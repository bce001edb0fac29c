"""Features: the model inputs, and the constants every module shares (sample rate, frames, window length).

One function per input kind; `extract(y, kind=...)` picks one by name. Features are (n_features, n_frames),
frames last, with a leading channel axis for the models:

    "mfcc_f0"  (3, 14, T)  channel 0 = 13 MFCCs + 1 F0 row, channel 1 = their deltas, channel 2 = delta-deltas
                           (the original project's final input)
    "mfcc"     (3, 13, T)  the same without the F0 row
    "mel"      (1, 64, T)  log-mel spectrogram in dB
    "raw"      (1, N)      the waveform itself

T = 1 + N // HOP_LENGTH (centred frames, 10 ms apart); MFCC, delta and F0 frames line up one to one.
MFCC: librosa's convention (orthonormal DCT-II of the dB mel spectrogram, see mfcc.py); deltas: HTK regression
over ±2 frames, edge frames replicated (mfcc.delta); F0: YIN (f0.py); encodings below in `f0_row`.

Test: python -m pytest tests/test_features.py
"""
import numpy as np

import f0
import mel
import mfcc

# ---- pinned constants (other modules import these; change them here only) ----
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
#   which leaves most frames of real speech unvoiced (README, "Conventions"); f0.yin keeps 0.1 as its own default.
F0_REF = 50.0  # Hz: reference of the F0 row's semitone scale, below F0_FMIN so every voiced value is > 0
WINDOW_FRAMES = 400  # frames = 4 s: one model window along the time axis
WINDOW_SAMPLES = WINDOW_FRAMES * HOP_LENGTH  # samples = 64000 = 4 s: one window of the "raw" input

INPUTS = ("mfcc", "mfcc_f0", "mel", "raw")


def _deltas(x):
    """Stack x with its delta and delta-delta: (n, T) -> (3, n, T). Delta-delta = delta(delta(x))."""
    d1 = mfcc.delta(x)  # (n, T) HTK regression over ±2 frames
    d2 = mfcc.delta(d1)  # (n, T)
    return np.stack([x, d1, d2])  # (3, n, T)


def f0_track(y):
    """YIN with the pinned settings (F0_FMIN..F0_FMAX, YIN_FRAME_LENGTH, HOP_LENGTH, YIN_THRESHOLD).

    y: (N,) float waveform at SR Hz.  Returns (f0 in Hz (T,) float64, voiced (T,) bool), T = 1 + N // HOP_LENGTH.
    """
    return f0.yin(y, SR, fmin=F0_FMIN, fmax=F0_FMAX, frame_length=YIN_FRAME_LENGTH, hop_length=HOP_LENGTH,
                  threshold=YIN_THRESHOLD)


def f0_row(y):
    """The F0 row of "mfcc_f0": semitones above F0_REF on voiced frames, 0 on unvoiced frames.

    row_t = 12 · log2(f0_t / F0_REF)  if YIN calls frame t voiced,  else 0.      (T,) float64
    Why this encoding:
    - log scale: pitch is heard (and differs between speakers) in ratios, not in Hz; a semitone is the same
      step for a bass and a soprano.
    - F0_REF = 50 Hz lies below F0_FMIN = 60 Hz, so every voiced value is at least 12·log2(60/50) = 3.2 and
      0 is free to mean "no pitch" (unvoiced frames carry YIN's unreliable global-minimum guess otherwise).
    - no further scaling: voiced speech lands at 12..28 (about 100..250 Hz; the whole search range maps to
      3.2..39.9), the same order as the MFCC rows c1..c12, whose spread over TIMIT is 6..43 per row.
    The 0 <-> voiced jumps make the F0 deltas spike at voicing boundaries; that marks onsets, and is kept.
    y: (N,) float waveform at SR Hz.  Returns (T,) float64, T = 1 + N // HOP_LENGTH.
    """
    hz, voiced = f0_track(y)  # (T,), (T,)
    return np.where(voiced, 12.0 * np.log2(hz / F0_REF), 0.0)  # (T,) hz > 0 always: f0 = sr / period


def _mfcc(y):
    """13 MFCCs with the pinned settings: (N,) -> (N_MFCC, T) float64."""
    return mfcc.mfcc(y, SR, n_mfcc=N_MFCC, n_fft=N_FFT, hop_length=HOP_LENGTH, win_length=WIN_LENGTH,
                     n_mels=N_MELS_MFCC, fmin=FMIN, fmax=FMAX)


def mfcc_features(y):
    """The "mfcc" input: (N,) waveform at SR -> (3, N_MFCC, T) float32 = MFCCs, deltas, delta-deltas."""
    return _deltas(_mfcc(y)).astype(np.float32)  # (3, 13, T)


def mfcc_f0_features(y):
    """The "mfcc_f0" input: (N,) waveform at SR -> (3, N_MFCC + 1, T) float32.

    Channel 0 = 13 MFCCs with the F0 row (see f0_row) appended as row 13; channels 1 and 2 = the deltas and
    delta-deltas of all 14 rows.
    """
    static = np.vstack([_mfcc(y), f0_row(y)[None, :]])  # (14, T)
    return _deltas(static).astype(np.float32)  # (3, 14, T)


def mel_features(y):
    """The "mel" input: (N,) waveform at SR -> (1, N_MELS, T) float32 log-mel power in dB (ref 1.0, top_db 80)."""
    power = mel.melspectrogram(y, SR, n_fft=N_FFT, hop_length=HOP_LENGTH, win_length=WIN_LENGTH,
                               n_mels=N_MELS, fmin=FMIN, fmax=FMAX)  # (64, T)
    return mel.power_to_db(power)[None].astype(np.float32)  # (1, 64, T)


def raw_features(y):
    """The "raw" input: (N,) waveform -> (1, N) float32, unchanged otherwise."""
    return np.asarray(y, dtype=np.float32)[None, :]  # (1, N)


_EXTRACTORS = {"mfcc": mfcc_features, "mfcc_f0": mfcc_f0_features, "mel": mel_features, "raw": raw_features}
assert tuple(_EXTRACTORS) == INPUTS


def _check_kind(kind):
    if kind not in INPUTS:
        raise ValueError(f"unknown input kind {kind!r}; expected one of {', '.join(INPUTS)}")


def extract(y, sr=SR, kind="mfcc_f0"):
    """Model input of kind `kind` for one mono waveform.

    y: (N,) float waveform sampled at `sr` Hz, which must equal SR (resample first; data.load_audio does).
    Returns float32 of shape input_shape(kind) + (T,), T = 1 + N // HOP_LENGTH, or (1, N) for "raw".
    Raises ValueError for an unknown kind, a wrong sample rate, or an empty / non-1-D / non-finite signal.
    """
    _check_kind(kind)
    if sr != SR:
        raise ValueError(f"sample rate {sr} Hz, expected {SR} Hz: resample the audio to {SR} Hz first")
    y = mel.waveform(y, "extract")
    if not np.all(np.isfinite(y)):
        raise ValueError(f"waveform of {y.size} samples contains NaN or inf")
    return _EXTRACTORS[kind](y)


def input_shape(kind):
    """The non-time dimensions of `kind`'s input: mfcc_f0 (3, 14), mfcc (3, 13), mel (1, 64), raw (1,)."""
    _check_kind(kind)
    return {"mfcc_f0": (3, N_MFCC + 1), "mfcc": (3, N_MFCC), "mel": (1, N_MELS), "raw": (1,)}[kind]


def cepstral_rows(kind):
    """(C, F) bool, True on the rows that cepstral mean normalisation centres (train.py --cmn): the static
    cepstra of mfcc and mfcc_f0 (their deltas have no fixed offset to remove; the F0 row is kept, its level is
    the voice itself) and every log-mel band of mel. A fixed channel adds a constant to each of them."""
    _check_kind(kind)
    if kind == "raw":
        raise ValueError("cepstral mean normalisation works on feature rows; raw is the waveform")
    rows = np.zeros(input_shape(kind), dtype=bool)
    rows[0, :N_MFCC if kind != "mel" else N_MELS] = True
    return rows


def window_length(kind):
    """Length of one model window along the last axis, in that input's steps: WINDOW_FRAMES frames (400), or
    WINDOW_SAMPLES samples (64000) for "raw" -- 4 s either way."""
    _check_kind(kind)
    return WINDOW_SAMPLES if kind == "raw" else WINDOW_FRAMES
