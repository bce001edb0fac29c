"""Data floor: reading one audio file as float32 mono at 16 kHz, with a one-line error for every bad file.

    from audio import load_audio
    y = load_audio("my_voice.flac")    # (N,) float32 in [-1, 1] at features.SR
    python -m pytest tests/test_audio.py
"""
import math
import warnings
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy.signal import resample_poly

from features import SR

MIN_CLIP_S = 0.1  # seconds; shorter clips carry no usable voice (10 frames at a 10 ms hop)
SILENT_PEAK = 1e-4  # full scale = 1.0; a peak below this (-80 dBFS) is "nearly silent" and gets a warning


def file_identity(path):
    """What identifies one audio file's contents cheaply: {"path": absolute path, "size": bytes, "mtime_ns"}.

    The feature cache keys entries by it, so a touched or replaced file is read again. Raises AudioError
    naming a missing file.
    """
    path = Path(path).resolve()
    try:
        stat = path.stat()
    except OSError:
        raise AudioError(f"{path}: file not found") from None
    return {"path": str(path), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}


class AudioError(ValueError):
    """A clip that cannot be used; the message is one line, "PATH: problem"."""


def load_audio(path, sr=SR):
    """Read an audio file as float32 mono at `sr` Hz -> (N,) in [-1, 1].

    soundfile decodes (WAV, FLAC, OGG, MP3, NIST SPHERE); integer formats are scaled to [-1, 1]; channels are
    averaged; the rate is converted with scipy.signal.resample_poly(up, down), up/down = sr/file_sr reduced by
    their gcd (a polyphase FIR low-pass, so no aliasing). Raises AudioError naming the file when it is missing,
    unreadable, empty, holds NaN/inf samples, is all zeros, or is shorter than MIN_CLIP_S. A nearly silent
    clip (peak below -80 dBFS) only warns. Clips shorter than the 4 s model window are fine (padded later).
    """
    path = Path(path)
    if not path.is_file():
        raise AudioError(f"{path}: file not found")
    try:
        y, file_sr = sf.read(path, dtype="float32", always_2d=True)  # (N, channels)
    except (sf.SoundFileError, RuntimeError) as err:
        reason = getattr(err, "error_string", None) or str(err).splitlines()[0]
        raise AudioError(f"{path}: unreadable audio ({reason})") from None
    if y.shape[0] == 0:
        raise AudioError(f"{path}: empty audio (0 samples)")
    bad = int(np.count_nonzero(~np.isfinite(y)))
    if bad:
        raise AudioError(f"{path}: {bad} NaN/inf samples")
    if y.shape[0] / file_sr < MIN_CLIP_S:
        raise AudioError(f"{path}: too short ({y.shape[0] / file_sr:.3f} s < {MIN_CLIP_S} s)")
    y = y.mean(axis=1)  # (N,) mono
    peak = float(np.max(np.abs(y)))
    if peak == 0.0:
        raise AudioError(f"{path}: all-silent (every sample is 0)")
    if peak < SILENT_PEAK:
        warnings.warn(f"{path}: nearly silent (peak {20 * np.log10(peak):.0f} dBFS)", stacklevel=2)
    if file_sr != sr:
        g = math.gcd(int(sr), int(file_sr))
        y = resample_poly(y, sr // g, file_sr // g)  # (N * sr / file_sr,)
    return y.astype(np.float32)
