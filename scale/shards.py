"""A store's shards on disk -- writing them, finding what they hold, and what to do with damaged or leftover files.

A shard is two files under <root>/<kind>/ (scale/store.py describes the layout): shard-<sha1>.bin, its frames, and
shard-<sha1>.npz, its index, one entry per (clip, version). This module is the bookkeeping under store.build, in
the order of the file:

    Shard         one data file, mapped with np.memmap on first use, in each process
    Found         where each wanted (clip, version) lives, and the input normalisation's sums of its clips
    _sweep        what a kill -9 left (a temporary file no live writer holds: remove_if_abandoned; a data file
                  without its index), removed once LEFTOVER_S old
    scan          read every finished index under a folder into a Found; an index whose keys or byte count
                  disagree with its name or its data file (a truncated or foreign file) is reported and removed
    write         extract clips into a new shard: the data file under a unique temporary name, renamed, then the
                  index, renamed last -- a killed extraction keeps every finished shard, and two processes writing
                  the same shard (its name is the hash of its keys) never break each other's files

    python -m pytest tests/test_store.py
"""
import hashlib
import os
import time
import warnings
import zipfile

import numpy as np

from data import AudioError
from scale.files import atomic_write, fcntl
from scale.cache import extraction_job

INDEX_FORMAT = 2  # a shard index's layout: one entry per (clip, version); shards of another format are not read
LEFTOVER_S = 3600  # seconds (1 h) a temporary or index-less shard file must be untouched before _sweep removes it


class Shard:
    """One shard's data file, mapped from disk on first use (per process): (n_frames, width) frames."""

    def __init__(self, data_path, dtype, n_frames, width):
        self.data_path, self.dtype, self.n_frames, self.width = data_path, dtype, int(n_frames), int(width)
        self._data = None

    @property
    def data(self):
        """(n_frames, width) memmap of the shard's frames (mode "r"), opened lazily in each process."""
        if self._data is None:
            self._data = np.memmap(self.data_path, dtype=self.dtype, mode="r", shape=(self.n_frames, self.width)) \
                if self.n_frames else np.zeros((0, self.width), dtype=self.dtype)
        return self._data

    def __getstate__(self):  # DataLoader workers receive the paths, and map the files themselves
        return {**self.__dict__, "_data": None}


def _shard_name(keys, dtype):
    """A shard's file name (no suffix): the hash of its entries' keys and its dtype, so two processes that build
    the same missing entries write the same files, and an index under another shard's name is caught."""
    return "shard-" + hashlib.sha1(("\n".join(keys) + dtype).encode()).hexdigest()


def _index_problem(index_path, npz, dtype):
    """Why a finished shard's index cannot be trusted ("" if it can), or None for a shard that is simply not of
    this dtype or index format (left alone)."""
    if "format" not in npz.files or int(npz["format"]) != INDEX_FORMAT:
        return None
    if str(npz["dtype"]) != dtype:
        return None
    if _shard_name(npz["keys"].tolist(), dtype) != index_path.stem:
        return "its keys are not the ones its name was made from"
    data_path = index_path.with_suffix(".bin")
    expected = int(npz["n_frames"]) * int(npz["width"]) * np.dtype(dtype).itemsize  # bytes
    size = data_path.stat().st_size if data_path.is_file() else 0
    return f"data file has {size} bytes, expected {expected}" if size != expected else ""


class Found:
    """Where each wanted (clip, version) key lives, gathered from shard indexes: key -> (shard, offset, length,
    reason), the shards used, and the per-row sums of the wanted original clips (each counted as many times as
    rows ask for it), accumulated as the entries are found -- no per-clip arrays are kept."""

    def __init__(self, keys, width):
        self.wanted = np.unique(keys)  # (m,) every distinct key asked for
        orig, counts = np.unique(keys[:, 0], return_counts=True)
        self.weight = dict(zip(orig.tolist(), counts.tolist()))  # orig key -> rows that use it
        self.where, self.shards = {}, []
        self.sums, self.squares = np.zeros(width), np.zeros(width)

    def add(self, shard, index):
        """Record the entries of a shard's index (a dict or a lazily read npz) whose keys are wanted and not found
        yet -- or found only as unreadable, when this shard holds them readable. A shard without such an entry
        costs one look at its keys."""
        keys = index["keys"]  # (m,)
        hits = np.flatnonzero(np.isin(keys, self.wanted))
        if not len(hits):
            return
        offsets, lengths, reasons, sums, squares = (index[k] for k in ("offsets", "lengths", "reasons", "sums",
                                                                       "squares"))
        hits = [k for k in hits if keys[k] not in self.where or (self.where[keys[k]][2] == 0 and lengths[k] > 0)]
        if not hits:
            return
        number = len(self.shards)
        self.shards.append(shard)
        for k in hits:
            key = str(keys[k])
            self.where[key] = (number, int(offsets[k]), int(lengths[k]), str(reasons[k]))
            if key in self.weight:  # an original clip: its frames count in the input normalisation
                self.sums += self.weight[key] * sums[k]  # (an unreadable entry's sums are zeros)
                self.squares += self.weight[key] * squares[k]

    def drop(self, number, offset, length):
        """Take one row's original frames back out of the sums (a row left out because another version of it
        could not be read)."""
        frames = np.asarray(self.shards[number].data[offset:offset + length], dtype=np.float64)  # (T, R)
        self.sums -= frames.sum(axis=0)
        self.squares -= np.square(frames).sum(axis=0)


def remove_if_abandoned(path):
    """Remove the temporary file `path` of scale/files.atomic_write if no live writer holds it (its lock is free) -> True
    if removed. Without flock (Windows) nothing is removed: a live writer cannot be told from a dead one."""
    if not fcntl:
        return False
    try:
        with open(path, "rb") as f:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)  # fails at once while its writer lives
            os.unlink(path)  # a writer renames while it holds the lock, so this one never will
            return True
    except OSError:  # BlockingIOError: a live writer's; FileNotFoundError: renamed or removed meanwhile
        return False


def _sweep(root, now=None):
    """Remove what a killed extraction (kill -9, a power cut: no clean-up ran) left under root, once untouched
    for LEFTOVER_S seconds -> number of files removed:
      - temporary files (*.tmp) that no live writer holds: a writer keeps its temporary file locked until it is
        renamed (scale/files.atomic_write), so a stopped or hung writer's file stays, however old;
      - data files without an index: the process died in the milliseconds between the two renames. Should a
        new writer of the same shard replace one just as it is removed, that shard has an index and no data:
        the next build reports it and extracts it again (scan)."""
    now = time.time() if now is None else now
    removed, size = 0, 0
    for path in [*root.glob("shard-*.tmp"), *root.glob("shard-*.bin")]:
        try:
            stat = path.stat()
            if now - stat.st_mtime <= LEFTOVER_S:
                continue
            if path.suffix == ".tmp":
                gone = remove_if_abandoned(path)
            elif not path.with_suffix(".npz").exists():
                path.unlink()
                gone = True
            else:
                gone = False
            removed, size = removed + gone, size + stat.st_size * gone
        except OSError:  # removed meanwhile by another builder, or not ours to remove: leave it
            continue
    if removed:
        warnings.warn(f"{root}: removed {removed} file(s) ({size / 1e6:.1f} MB) left by an interrupted extraction")
    return removed


def scan(root, found, dtype):
    """Read every finished shard index under root into `found`. A shard whose index does not match its name or
    its data file (a foreign index, a truncated file) is reported and removed, so its clips are extracted again.
    Files that a killed extraction left behind are removed first (_sweep)."""
    _sweep(root)
    old = 0
    for index_path in sorted(root.glob("shard-*.npz")):
        try:
            with open(index_path, "rb") as f, np.load(f, allow_pickle=False) as npz:  # closed on errors too
                problem = _index_problem(index_path, npz, dtype)
                if problem is None:
                    old += "format" not in npz.files
                    continue
                if not problem:
                    found.add(Shard(index_path.with_suffix(".bin"), dtype, npz["n_frames"], npz["width"]), npz)
                    continue
        except (ValueError, KeyError, EOFError, zipfile.BadZipFile) as err:  # a damaged index
            problem = f"unreadable index ({type(err).__name__}: {err})"
        except OSError as err:  # the file system, not the shard (permissions, a file removed meanwhile): keep it
            warnings.warn(f"{index_path}: could not be read ({err}); its clips are extracted again elsewhere")
            continue
        warnings.warn(f"{index_path}: stale or truncated shard ({problem}); removed, its clips are extracted again")
        for path in (index_path, index_path.with_suffix(".bin")):
            path.unlink(missing_ok=True)
    if old:
        warnings.warn(f"{root}: {old} shard(s) of an older store format are not read; delete them to free the disk")


def write(root, jobs, pool, width, dtype, skip_bad, progress):
    """Extract `jobs` (one per clip: the versions it lacks) in order into a new shard -> (Shard, index arrays).

    One entry per (clip, version): its key, offset and length in frames (0 = unreadable, with the reason), and
    the per-row sum and sum of squares of its frames (for the input normalisation of any store that uses it).
    """
    keys = [key for job in jobs for key in job[-1]]
    n = len(keys)
    index = dict(format=np.int64(INDEX_FORMAT), keys=np.array(keys, dtype="U40"), offsets=np.zeros(n, np.int64),
                 lengths=np.zeros(n, np.int64), reasons=np.full(n, "", dtype=object), sums=np.zeros((n, width)),
                 squares=np.zeros((n, width)), dtype=np.array(dtype), n_frames=np.int64(0), width=np.int64(width))
    first = np.cumsum([0] + [len(job[-1]) for job in jobs])  # (n_jobs + 1,) each job's first entry

    def append_frames(f):  # every clip's versions, one after the other, frames-major: a window is contiguous
        results = pool.imap(extraction_job, [job[:-1] for job in jobs], chunksize=4) if pool else \
            map(extraction_job, [job[:-1] for job in jobs])
        for j, (_, arrays, problem) in enumerate(results):
            progress()
            if problem is not None:
                if not skip_bad:
                    raise AudioError(problem)
                index["reasons"][first[j]:first[j + 1]] = problem
                continue
            for e, x in zip(range(first[j], first[j + 1]), arrays):
                frames = x.reshape(width, x.shape[-1]).T  # (T, R)
                f.write(np.ascontiguousarray(frames, dtype=dtype).tobytes())
                index["offsets"][e], index["lengths"][e] = index["n_frames"], len(frames)
                index["n_frames"] += len(frames)
                index["sums"][e] = frames.sum(axis=0, dtype=np.float64)
                index["squares"][e] = np.square(frames, dtype=np.float64).sum(axis=0)

    name = _shard_name(keys, dtype)
    atomic_write(root / f"{name}.bin", append_frames)
    index["reasons"] = index["reasons"].astype(str)
    atomic_write(root / f"{name}.npz", lambda f: np.savez(f, **index))  # the index last: the shard is finished
    return Shard(root / f"{name}.bin", dtype, index["n_frames"], width), index
