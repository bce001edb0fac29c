"""The feature cache: each clip's full-length features computed once, stored as .npy, reused across runs.

An entry's file name is a hash of everything that could change its contents: the audio file (absolute path,
size in bytes, modification time in ns: audio.file_identity), the feature kind, every setting in features.py
(SR, N_FFT, HOP_LENGTH, N_MFCC, ...), the denoise flag, the source code of the loader and the signal floor
(audio, features, mel, mfcc, f0, denoise), the versions of numpy, scipy, soundfile and libsndfile, and
FEATURE_VERSION. Touch the file or change a setting and the key changes, so stale features are
never reused (old entries are simply left behind; delete the folder to reclaim the space). Entries are written
to a temporary file and renamed, so a crash never leaves half an entry.

    from cache import precompute
    feats, rows, skipped = precompute(rows, "mfcc_f0", ".cache/features", workers=2)
    python -m pytest tests/test_cache.py
"""
import hashlib
import json
import os
import sys
import tempfile
from multiprocessing import Pool
from pathlib import Path

import numpy as np
import scipy
import soundfile as sf

import features
from audio import AudioError, file_identity, load_audio
from files import cache_root

FEATURE_VERSION = 1  # bump by hand when the meaning of a cached array changes in a way no setting shows
SOURCE_MODULES = ("audio", "features", "mel", "mfcc", "f0", "denoise")  # the loader and the signal floor


def _source_hashes():
    """{module: SHA-1 of its .py file} for the loader and the signal floor, read once, at import."""
    folder = Path(features.__file__).resolve().parent
    return {name: hashlib.sha1((folder / f"{name}.py").read_bytes()).hexdigest()
            for name in SOURCE_MODULES if (folder / f"{name}.py").is_file()}


CODE_SHA1 = _source_hashes()  # the code that this process actually runs (a later edit needs a new process)
LIBRARIES = {"numpy": np.__version__, "scipy": scipy.__version__, "soundfile": sf.__version__,
             "libsndfile": sf.__libsndfile_version__}  # decoders and resamplers change numbers between versions


def default_cache_dir():
    """Where train.py and evaluate.py keep features: data.cache_root() / features."""
    return cache_root() / "features"


def feature_settings(kind, denoise=False):
    """Every input to feature extraction except the audio: kind, flags, features.py constants, code hashes."""
    constants = {name: value for name, value in vars(features).items()
                 if name.isupper() and isinstance(value, (int, float, str, tuple, type(None)))}
    return {"kind": kind, "denoise": bool(denoise), "version": FEATURE_VERSION, "constants": constants,
            "code": CODE_SHA1, "libraries": LIBRARIES}


def cache_key(path, kind, denoise=False):
    """Hex SHA-1 of (audio.file_identity(path), feature_settings(kind, denoise))."""
    blob = json.dumps({"audio": file_identity(path), "settings": feature_settings(kind, denoise)},
                      sort_keys=True, default=str)
    return hashlib.sha1(blob.encode()).hexdigest()


def compute_features(path, kind, denoise=False):
    """load_audio -> (denoise.denoise if asked) -> features.extract: float32 (*input_shape(kind), T)."""
    y = load_audio(path)  # (N,) float32 at features.SR
    if denoise:
        from denoise import denoise as remove_noise
        y = remove_noise(y, features.SR)  # (N,) same length
    return features.extract(y, features.SR, kind)


def cached_features(path, kind, cache_dir, denoise=False):
    """The features of one clip from the cache, computing and storing them (atomically) on a miss."""
    entry = Path(cache_dir) / kind / f"{cache_key(path, kind, denoise)}.npy"
    if entry.is_file():
        try:
            return np.load(entry)
        except (ValueError, OSError):
            pass  # unreadable entry (e.g. a disk that filled up): compute it again
    x = compute_features(path, kind, denoise)
    entry.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=entry.parent, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            np.save(f, x)
        os.replace(tmp, entry)  # atomic: other processes see no entry or the whole entry
    except BaseException:  # a full disk or Ctrl-C: leave no half-written temporary file behind
        os.unlink(tmp)
        raise
    return x


def _job(args):
    """Worker: (i, path, kind, cache_dir, denoise) -> (i, features or None, problem or None)."""
    i, path, kind, cache_dir, denoise = args
    try:
        return i, cached_features(path, kind, cache_dir, denoise), None
    except AudioError as err:
        return i, None, str(err)


def precompute(rows, kind, cache_dir, workers=1, denoise=False, skip_bad=False, progress=True):
    """Features of every row's clip -> (features list, kept rows, skipped list of (path, reason)).

    With workers > 1 a multiprocessing Pool computes the misses in parallel. A one-line progress indicator is
    redrawn on stderr. A bad clip raises AudioError naming it, unless skip_bad: then it is left out of the
    returned features and rows, and "skipped 3 of 1200 clips: ..." is printed at the end.
    """
    jobs = [(i, row["path"], kind, str(cache_dir), denoise) for i, row in enumerate(rows)]
    results = [None] * len(rows)
    skipped = []
    pool = Pool(workers) if workers > 1 else None
    try:
        stream = pool.imap_unordered(_job, jobs, chunksize=4) if pool else map(_job, jobs)
        for done, (i, x, problem) in enumerate(stream, 1):
            if problem is not None:
                if not skip_bad:
                    raise AudioError(problem)
                skipped.append((rows[i]["path"], problem.removeprefix(f"{rows[i]['path']}: ")))
            results[i] = x
            if progress and (done == len(jobs) or done % max(1, len(jobs) // 100) == 0):
                print(f"\rfeatures ({kind}): {done}/{len(jobs)} clips", end="", file=sys.stderr, flush=True)
    finally:
        if pool:
            pool.terminate()
    if progress and jobs:
        print(file=sys.stderr)
    if skipped:
        shown = "; ".join(f"{Path(p).name} ({why})" for p, why in skipped[:3]) + ("; ..." if len(skipped) > 3 else "")
        print(f"skipped {len(skipped)} of {len(rows)} clips: {shown}", file=sys.stderr)
    kept = [i for i, x in enumerate(results) if x is not None]
    return [results[i] for i in kept], [rows[i] for i in kept], skipped
