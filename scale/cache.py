"""What identifies a clip's features, and computing them -- the keys and the jobs of the feature store.

A clip's key is a hash of what its features ARE: the audio file (file_identity: absolute path, size,
modification time; a zip member's name and CRC), its segment (start_s, end_s), the input kind, every setting in
features.py (SR, N_FFT, HOP_LENGTH, ... and FEATURE_VERSION, bumped by hand when the feature code changes any
number), the denoise flag with extras/denoise.py's VERSION, the augmentation version with extras/augment.py's
VERSION (and, for babble, the other clips mixed in), and the versions of numpy, scipy, soundfile and
libsndfile. Touch a file or change a setting and the key changes, so stale features are never reused; edit a
comment or add a print() and nothing is extracted again. An augmented copy's random draws are seeded from the
clip's identity (draw_seed: absolute path, size, segment), never from code, so they stay the same on every run
of a machine whose corpus stays where it is, and from one edit of the code to the next.
store.py keeps the features under these keys.

    python -m pytest tests/test_cache.py
"""
import hashlib
import json
import warnings
from pathlib import Path

import numpy as np
import scipy
import soundfile as sf

import features
from corpora import archive
from data import LONG_S, AudioError, audio_info, clip_features, load_audio, segment
from scale.files import cache_root
from extras import augment, denoise as wiener

LIBRARIES = {"numpy": np.__version__, "scipy": scipy.__version__, "soundfile": sf.__version__,
             "libsndfile": sf.__libsndfile_version__}  # decoders and resamplers change numbers between versions


def default_store_dir():
    """Where train.py and evaluate.py keep features: files.cache_root() / store."""
    return cache_root() / "store"


def feature_settings(kind, denoise=False):
    """Every input to feature extraction except the audio: kind, flags, features.py's constants (FEATURE_VERSION
    among them), the versions of the denoiser and the augmentations, the libraries."""
    constants = {name: value for name, value in vars(features).items()
                 if name.isupper() and isinstance(value, (int, float, str, tuple, type(None)))}
    return {"kind": kind, "denoise": wiener.VERSION if denoise else False, "augment": augment.VERSION,
            "constants": constants, "libraries": LIBRARIES}


def file_identity(path):
    """What identifies one audio file's contents cheaply: {"path": absolute path, "size": bytes, "mtime_ns"}.

    A zip member adds {"member": its name, "crc": its CRC-32, "member_size": bytes} to the archive's own
    path, size and mtime. Raises AudioError naming a missing file, archive or member.
    """
    member = archive.split_member(path)
    where = Path(member[0] if member else path)
    try:
        where = where.resolve()
        stat = where.stat()
    except (OSError, ValueError, RuntimeError):  # missing, a NUL byte, a symlink loop
        raise AudioError(f"{where}: file not found") from None
    identity = {"path": str(where), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}
    if member:
        try:
            info = archive.member_info(path)
        except (FileNotFoundError, archive.ArchiveError) as err:
            raise AudioError(str(err)) from None
        identity.update(path=archive.join_member(where, member[1]), member=member[1], crc=info.CRC,
                        member_size=info.file_size)
    return identity


def cache_key(row, kind, denoise=False, version="orig", others=(), settings=None):
    """Hex SHA-1 of (file_identity of the row's audio, its segment, feature_settings(kind, denoise), version,
    the babble clips). row: a manifest row (its path, start_s, end_s) or a path. settings: feature_settings(kind,
    denoise) computed once by a caller that keys many clips."""
    row = row if isinstance(row, dict) else {"path": str(row)}
    blob = json.dumps({"audio": file_identity(row["path"]), "segment": segment(row),
                       "settings": settings or feature_settings(kind, denoise),
                       "augment": version, "others": [file_identity(p) for p in others]},
                      sort_keys=True, default=str)
    return hashlib.sha1(blob.encode()).hexdigest()


def draw_seed(row, version, others=()):
    """The seed of an augmented copy's random draws: a hash of the clip's identity alone (its file's path and
    size, its segment), the version and the clips mixed in -- no code, no settings, no modification time."""
    identity = [{k: v for k, v in file_identity(p).items() if k != "mtime_ns"} for p in (row["path"], *others)]
    blob = json.dumps({"clips": identity, "segment": segment(row), "version": version}, sort_keys=True, default=str)
    return int(hashlib.sha1(blob.encode()).hexdigest()[:15], 16)


def compute_features(row, kind, denoise=False, version="orig", others=()):
    """load_audio -> (denoise) -> augment.version_of -> features.extract: float32 (*input_shape(kind), T); a row
    longer than data.LONG_S goes a block at a time (data.clip_features), each block heard the same way.

    An augmented version draws from a generator seeded by draw_seed: the same clip always gets the same copy
    (babble mixes the clips `others` (paths), their first LONG_S seconds, in at an SNR drawn from it).
    """
    row = row if isinstance(row, dict) else {"path": str(row)}  # a manifest row, or a path
    partners = [x for x in map(_readable, others) if x is not None]

    def featurise(y):  # (N,) float32 at features.SR -> (*input_shape(kind), T)
        if denoise:
            y = wiener.denoise(y, features.SR)  # (N,) same length
        if version != "orig":
            y = augment.version_of(y, version, partners, np.random.default_rng(draw_seed(row, version, others)))
        return features.extract(y, features.SR, kind)
    return clip_features(row, kind, featurise=featurise)


def _readable(path):
    """load_audio(path) up to LONG_S seconds, or None for a clip that cannot be read (a babble partner is simply
    left out)."""
    try:
        rate, frames, _ = audio_info(path)
        return load_audio(path, features.SR, None, None if frames / rate <= LONG_S else LONG_S)
    except AudioError:
        return None


def extraction_job(job):
    """Worker: (i, row, kind, denoise, versions, others) -> (i, [features per version] or None, problem or None)."""
    i, row, kind, denoise, versions, others = job
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a nearly silent clip still trains
            return i, [compute_features(row, kind, denoise, v, others if v == "babble" else ()) for v in versions], None
    except (AudioError, ValueError, MemoryError) as err:
        return i, None, str(err).splitlines()[0] if str(err) else type(err).__name__
