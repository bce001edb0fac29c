"""Data floor: reading one audio file as float32 mono at 16 kHz, with a one-line error for every bad file.

A path may also name a member of a zip archive, "ARCHIVE.zip::MEMBER" (archive.py): it is read in place.

    from audio import load_audio
    y = load_audio("my_voice.flac")    # (N,) float32 in [-1, 1] at features.SR
    y = load_audio("/data/[원천]x.zip::a/clip.wav")
    python -m pytest tests/test_audio.py
"""
import io
import math
import warnings
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy.signal import resample_poly

import archive
from features import SR
from files import is_file

MIN_CLIP_S = 0.1  # seconds; shorter clips carry no usable voice (10 frames at a 10 ms hop)
SILENT_PEAK = 1e-4  # full scale = 1.0; a peak below this (-80 dBFS) is "nearly silent" and gets a warning


class AudioError(ValueError):
    """A clip that cannot be used; the message is one line, "PATH: problem"."""


def file_identity(path):
    """What identifies one audio file's contents cheaply: {"path": absolute path, "size": bytes, "mtime_ns"}.

    A zip member adds {"member": its name, "crc": its CRC-32, "member_size": bytes} to the archive's own
    path, size and mtime. The feature cache keys entries by it, so a touched or replaced file is read again.
    Raises AudioError naming a missing file, archive or member.
    """
    member = archive.split_member(path)
    where = Path(member[0] if member else path).resolve()
    try:
        stat = where.stat()
    except (OSError, ValueError):
        raise AudioError(f"{where}: file not found") from None
    identity = {"path": str(where), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}
    if member:
        info = _member(path, archive.member_info)
        identity.update(path=archive.join_member(where, member[1]), member=member[1], crc=info.CRC,
                        member_size=info.file_size)
    return identity


def _member(path, read):
    """read(path) for a zip member, its problems (missing archive or member, damage) as one AudioError."""
    try:
        return read(path)
    except (FileNotFoundError, archive.ArchiveError) as err:
        raise AudioError(str(err)) from None


def _source(path):
    """What soundfile opens: the file's path, or a zip member's bytes as a file object."""
    if archive.split_member(path):
        return io.BytesIO(_member(path, archive.read_member))
    if not is_file(path):
        raise AudioError(f"{path}: file not found")
    return path


def duration_s(path):
    """A clip's length in seconds from its header (soundfile.info), without decoding the samples.
    Raises AudioError naming an unreadable file or member."""
    source = _source(path)
    try:
        return sf.info(source).duration
    except (sf.SoundFileError, RuntimeError, TypeError) as err:
        raise AudioError(f"{path}: unreadable audio ({_reason(err)})") from None


def _reason(err):
    """libsndfile's own words for a failed read, one line."""
    return getattr(err, "error_string", None) or (str(err).splitlines() or [type(err).__name__])[0]


def load_audio(path, sr=SR):
    """Read an audio file as float32 mono at `sr` Hz -> (N,) in [-1, 1].

    soundfile decodes (WAV, FLAC, OGG, MP3, NIST SPHERE); integer formats are scaled to [-1, 1]; channels are
    averaged; the rate is converted with scipy.signal.resample_poly(up, down), up/down = sr/file_sr reduced by
    their gcd (a polyphase FIR low-pass, so no aliasing). Raises AudioError naming the file when it is missing,
    unreadable, empty, holds NaN/inf samples, is all zeros, or is shorter than MIN_CLIP_S. A nearly silent
    clip (peak below -80 dBFS) only warns. Clips shorter than the 4 s model window are fine (padded later).
    """
    path = path if archive.split_member(path) else Path(path)
    source = _source(path)
    try:
        y, file_sr = sf.read(source, dtype="float32", always_2d=True)  # (N, channels)
    except (sf.SoundFileError, RuntimeError, TypeError) as err:  # TypeError: a file object of unknown format
        raise AudioError(f"{path}: unreadable audio ({_reason(err)})") from None
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
