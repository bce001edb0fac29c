"""Data floor: what identifies a clip's features, and computing them -- the keys and the jobs of the feature store.

A clip's key is a hash of everything that could change its features: the audio file (audio.file_identity:
absolute path, size, modification time), the input kind, every setting in features.py (SR, N_FFT, HOP_LENGTH,
...), the denoise flag, the augmentation version (and, for babble, the other clips mixed in), the source code
of the loader and the signal floor (audio, features, mel, mfcc, f0, denoise, augment), the versions of numpy,
scipy, soundfile and libsndfile, and FEATURE_VERSION. Touch a file or change a setting and the key changes,
so stale features are never reused. store.py keeps the features under these keys.

    python -m pytest tests/test_cache.py
"""
import hashlib
import json
from pathlib import Path

import numpy as np
import scipy
import soundfile as sf

import augment
import features
from audio import AudioError, file_identity, load_audio
from files import cache_root

FEATURE_VERSION = 2  # bump by hand when the meaning of stored features changes in a way no setting shows
SOURCE_MODULES = ("audio", "features", "mel", "mfcc", "f0", "denoise", "augment")  # the loader, the signal floor


def _source_hashes():
    """{module: SHA-1 of its .py file} for the loader and the signal floor, read once, at import."""
    folder = Path(features.__file__).resolve().parent
    return {name: hashlib.sha1((folder / f"{name}.py").read_bytes()).hexdigest()
            for name in SOURCE_MODULES if (folder / f"{name}.py").is_file()}


CODE_SHA1 = _source_hashes()  # the code that this process actually runs (a later edit needs a new process)
LIBRARIES = {"numpy": np.__version__, "scipy": scipy.__version__, "soundfile": sf.__version__,
             "libsndfile": sf.__libsndfile_version__}  # decoders and resamplers change numbers between versions


def default_store_dir():
    """Where train.py and evaluate.py keep features: files.cache_root() / store."""
    return cache_root() / "store"


def feature_settings(kind, denoise=False):
    """Every input to feature extraction except the audio: kind, flags, features.py constants, code, libraries."""
    constants = {name: value for name, value in vars(features).items()
                 if name.isupper() and isinstance(value, (int, float, str, tuple, type(None)))}
    return {"kind": kind, "denoise": bool(denoise), "version": FEATURE_VERSION, "constants": constants,
            "code": CODE_SHA1, "libraries": LIBRARIES}


def cache_key(path, kind, denoise=False, version="orig", others=(), settings=None):
    """Hex SHA-1 of (audio.file_identity(path), feature_settings(kind, denoise), version, the babble clips).

    settings: feature_settings(kind, denoise) computed once by a caller that keys many clips."""
    blob = json.dumps({"audio": file_identity(path), "settings": settings or feature_settings(kind, denoise),
                       "augment": version, "others": [file_identity(p) for p in others]},
                      sort_keys=True, default=str)
    return hashlib.sha1(blob.encode()).hexdigest()


def compute_features(path, kind, denoise=False, version="orig", others=()):
    """load_audio -> (denoise) -> augment.version_of -> features.extract: float32 (*input_shape(kind), T).

    The babble version mixes the clips `others` (paths) in at an SNR drawn from a generator seeded by the
    clip's own key, so the same clip always gets the same mixture.
    """
    y = load_audio(path)  # (N,) float32 at features.SR
    if denoise:
        from denoise import denoise as remove_noise
        y = remove_noise(y, features.SR)  # (N,) same length
    if version != "orig":
        rng = np.random.default_rng(int(cache_key(path, kind, denoise, version, others)[:15], 16))
        y = augment.version_of(y, version, [x for x in map(_readable, others) if x is not None], rng)
    return features.extract(y, features.SR, kind)


def _readable(path):
    """load_audio(path), or None for a clip that cannot be read (a babble partner is simply left out)."""
    try:
        return load_audio(path)
    except AudioError:
        return None


def extraction_job(job):
    """Worker: (i, path, kind, denoise, versions, others) -> (i, [features per version] or None, problem or None)."""
    i, path, kind, denoise, versions, others = job
    try:
        return i, [compute_features(path, kind, denoise, v, others if v == "babble" else ()) for v in versions], None
    except AudioError as err:
        return i, None, str(err)
