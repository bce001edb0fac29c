"""Data floor: the feature store -- many clips' features in a few large files on disk, read window by window.

Training reads windows of every clip, epoch after epoch. Holding all features in RAM caps a corpus at a few
hundred hours (65 KB per 4 s clip of mfcc_f0); the store keeps them on disk instead, per input kind:

    <root>/<kind>/shard-<sha1>.bin   the frames of up to SHARD_CLIPS clips back to back, (n_frames, R) float32 or
                                     float16, R = the input's non-time size (3 * 14 = 42 for mfcc_f0, 1 for raw)
    <root>/<kind>/shard-<sha1>.npz   its index: the clips' keys, each (clip, version)'s offset and length in frames,
                                     unreadable clips and why, per-row sums for the input normalisation

It is Kaldi's ark/scp pair (one big file plus an offset per utterance) in NumPy, and Lhotse's chunked feature
archives in spirit: np.memmap maps a shard and a window is one slice of it, so the process's own memory does
not grow with the corpus -- the operating system's page cache does the caching. A shard's name is the hash of
its clips' keys (cache.cache_key), so a changed file or setting makes a new shard and a stale one is never
read. Shards are written to unique temporary files and renamed, the index last, so a killed extraction keeps
every finished shard and two processes building the same shard never break each other's files. An index whose
keys or byte count disagree with what is expected (a truncated or foreign file) is reported and rebuilt.

    store, rows, skipped = build(rows, "mfcc_f0", workers=2)
    x = store.read(0, start=0, stop=400)        # (3, 14, 400) float32
    python -m pytest tests/test_store.py
"""
import hashlib
import sys
import time
import warnings
from multiprocessing import Pool
from pathlib import Path

import numpy as np

import features
from audio import AudioError
from cache import cache_key, default_store_dir, extraction_job, feature_settings
from files import atomic_write

SHARD_CLIPS = 4096  # clips per shard: ~280 MB of 4 s mfcc_f0 clips in float32, a few seconds of work to redo
DTYPES = ("float32", "float16")  # float16 halves the disk and the reads; tests/test_store.py bounds its error
BABBLE_TALKERS = 3  # other speakers' clips mixed into a clip's babble version (augment.version_of)


class Shard:
    """One shard: its index arrays in memory, its frames mapped from disk on first use (per process)."""

    def __init__(self, data_path, index):
        self.data_path = data_path
        self.offsets, self.lengths = index["offsets"], index["lengths"]  # (n, V) int64 frames; length 0 = unreadable
        self.reasons = index["reasons"]  # (n,) why a clip could not be read ("" if it could)
        self.sums, self.squares, self.count = index["sums"], index["squares"], int(index["count"])
        self.dtype, self.n_frames, self.width = str(index["dtype"]), int(index["n_frames"]), int(index["width"])
        self._data = None

    @property
    def data(self):
        """(n_frames, width) memmap of the shard's frames (mode "r"), opened lazily in each process."""
        if self._data is None:
            self._data = np.memmap(self.data_path, dtype=self.dtype, mode="r", shape=(self.n_frames, self.width)) \
                if self.n_frames else np.zeros((0, self.width), dtype=self.dtype)
        return self._data

    def __getstate__(self):  # DataLoader workers receive the index, and map the file themselves
        return {**self.__dict__, "_data": None}


class Store:
    """The features of a list of clips: store.read(i, v, start, stop) -> float32 (*input_shape, stop - start).

    Clip i is the i-th row given to build() that could be read; v indexes the versions it was built with
    ("orig" first, then augmented copies such as "speed1.1").
    """

    def __init__(self, kind, versions, shards, clips):
        self.kind, self.versions, self.shards = kind, tuple(versions), shards
        self.shape = features.input_shape(kind)  # non-time dims, e.g. (3, 14)
        self.clips = clips  # (n, 2) int64: shard number, slot inside the shard

    def __len__(self):
        return len(self.clips)

    def length(self, i, v=0):
        """Frames (samples for raw) of clip i, version v."""
        shard, slot = self.clips[i]
        return int(self.shards[shard].lengths[slot, v])

    def lengths(self, v=0):
        """(n,) frames of every clip, version v."""
        return np.array([self.shards[s].lengths[k, v] for s, k in self.clips], dtype=np.int64)

    def read(self, i, v=0, start=0, stop=None):
        """Frames [start, stop) of clip i, version v (stop clipped to the clip's end) -> (*shape, n) float32."""
        shard, slot = self.clips[i]
        s = self.shards[shard]
        offset, n = s.offsets[slot, v], s.lengths[slot, v]
        stop = n if stop is None else min(stop, n)
        x = np.array(s.data[offset + start:offset + stop], dtype=np.float32)  # (n, R): a copy of one slice of the file
        return x.T.reshape(*self.shape, len(x))  # (*shape, n)

    def statistics(self):
        """Mean and standard deviation of every feature row over all real frames of the original clips,
        each (*shape,) -- what models.InputNorm standardises with."""
        count = sum(s.count for s in self.shards)
        sums = sum(s.sums for s in self.shards)  # (R,) float64
        squares = sum(s.squares for s in self.shards)  # (R,)
        mean = sums / max(count, 1)
        std = np.sqrt(np.maximum(squares / max(count, 1) - mean ** 2, 0.0))
        return mean.reshape(self.shape), std.reshape(self.shape)


class MemoryStore:
    """A Store's read/length interface over feature arrays already in memory (one recording to profile, tests)."""

    def __init__(self, kind, arrays):
        self.kind, self.versions, self.arrays = kind, ("orig",), list(arrays)
        self.shape = features.input_shape(kind)
        assert all(x.shape[:-1] == self.shape for x in self.arrays), f"arrays must be {self.shape} + (frames,)"

    def __len__(self):
        return len(self.arrays)

    def length(self, i, v=0):
        return self.arrays[i].shape[-1]

    def lengths(self, v=0):
        return np.array([x.shape[-1] for x in self.arrays], dtype=np.int64)

    def read(self, i, v=0, start=0, stop=None):
        return np.asarray(self.arrays[i][..., start:stop], dtype=np.float32)


def _babble_partners(rows, keys):
    """For each row, BABBLE_TALKERS other rows of other speakers (paths), chosen by a generator seeded with the
    row's own key: deterministic, whatever the order of processing."""
    speakers = np.array([r["speaker"] for r in rows])
    partners = []
    for i, key in enumerate(keys):
        rng = np.random.default_rng(int(key[:15], 16))
        others = [j for j in rng.integers(0, len(rows), 4 * BABBLE_TALKERS) if speakers[j] != speakers[i]]
        partners.append(tuple(rows[j]["path"] for j in others[:BABBLE_TALKERS]))
    return partners


def _open(root, name, keys):
    """The finished shard `name` if its index matches `keys` and its data file is whole; else None (with a
    warning when something is there but wrong)."""
    index_path, data_path = root / f"{name}.npz", root / f"{name}.bin"
    if not index_path.is_file():
        return None
    try:
        with np.load(index_path, allow_pickle=False) as npz:
            index = {k: npz[k] for k in npz.files}
        shard = Shard(data_path, index)
        expected = shard.n_frames * shard.width * np.dtype(shard.dtype).itemsize  # bytes
        size = data_path.stat().st_size if data_path.is_file() else 0
        problem = ("its keys differ from the clips asked for" if not np.array_equal(index["keys"], keys) else
                   f"data file has {size} bytes, expected {expected}" if size != expected else "")
    except (OSError, ValueError, KeyError) as err:
        problem = f"unreadable index ({type(err).__name__}: {err})"
    if problem:
        warnings.warn(f"{index_path}: stale or truncated shard ({problem}); rebuilding it")
        return None
    return shard


def _write(root, name, keys, jobs, pool, width, dtype, skip_bad, progress):
    """Extract the clips of `jobs` in order, append their frames to a new shard, write its index -> Shard."""
    n, V = keys.shape
    index = dict(keys=keys, offsets=np.zeros((n, V), np.int64), lengths=np.zeros((n, V), np.int64),
                 reasons=np.full(n, "", dtype=object), sums=np.zeros(width), squares=np.zeros(width),
                 count=np.int64(0), dtype=np.array(dtype), n_frames=np.int64(0), width=np.int64(width))

    def append_frames(f):  # every clip's versions, one after the other, frames-major: a window is contiguous
        results = pool.imap(extraction_job, jobs, chunksize=4) if pool else map(extraction_job, jobs)
        for local, (_, arrays, problem) in enumerate(results):
            progress()
            if problem is not None:
                if not skip_bad:
                    raise AudioError(problem)
                index["reasons"][local] = problem
                continue
            for v, x in enumerate(arrays):
                frames = x.reshape(width, x.shape[-1]).T  # (T, R)
                f.write(np.ascontiguousarray(frames, dtype=dtype).tobytes())
                index["offsets"][local, v], index["lengths"][local, v] = index["n_frames"], len(frames)
                index["n_frames"] += len(frames)
                if v == 0:  # normalisation statistics from the original clips only
                    index["sums"] += frames.sum(axis=0, dtype=np.float64)
                    index["squares"] += np.square(frames, dtype=np.float64).sum(axis=0)
                    index["count"] += len(frames)

    atomic_write(root / f"{name}.bin", append_frames)
    index["reasons"] = index["reasons"].astype(str)
    atomic_write(root / f"{name}.npz", lambda f: np.savez(f, **index))  # the index last: the shard is finished
    return Shard(root / f"{name}.bin", index)


def build(rows, kind, versions=("orig",), denoise=False, workers=1, skip_bad=False, dtype="float32", root=None,
          progress=False):
    """Open (building what is missing) the store of these rows' clips -> (Store, kept rows, skipped).

    rows: manifest rows (their "path" and "speaker"); versions: augment.VERSIONS to keep per clip, "orig" first;
    workers > 1 extracts in that many processes. An unreadable clip raises AudioError naming it, unless
    skip_bad: then it is left out and listed in skipped as (path, reason), and "skipped 3 of 1200 clips: ..."
    goes to stderr. progress: a one-line progress indicator with the rate and the time left, on stderr.
    """
    if dtype not in DTYPES:
        raise ValueError(f"store dtype {dtype!r}: expected one of {', '.join(DTYPES)}")
    assert versions and versions[0] == "orig", "the original clip is version 0"
    root = Path(root or default_store_dir()) / kind
    root.mkdir(parents=True, exist_ok=True)
    settings = feature_settings(kind, denoise)
    orig = [cache_key(r["path"], kind, denoise, settings=settings) for r in rows]
    partners = _babble_partners(rows, orig) if "babble" in versions else [()] * len(rows)
    keys = np.array([[k if v == "orig" else cache_key(r["path"], kind, denoise, v, p if v == "babble" else (),
                                                      settings=settings) for v in versions]
                     for r, k, p in zip(rows, orig, partners)], dtype="U40").reshape(len(rows), len(versions))
    width = int(np.prod(features.input_shape(kind)))
    chunks = [slice(c, c + SHARD_CLIPS) for c in range(0, len(rows), SHARD_CLIPS)]
    names = ["shard-" + hashlib.sha1(("\n".join(keys[c].ravel()) + dtype).encode()).hexdigest() for c in chunks]
    shards = [_open(root, name, keys[c]) for name, c in zip(names, chunks)]
    todo = [k for k, shard in enumerate(shards) if shard is None]
    total, done, start = sum(len(keys[chunks[k]]) for k in todo), [0], time.perf_counter()

    def tick():
        done[0] += 1
        if progress and (done[0] == total or done[0] % 50 == 0):
            rate = done[0] / max(time.perf_counter() - start, 1e-9)
            left = (total - done[0]) / rate
            print(f"\rfeatures ({kind}): {done[0]}/{total} clips, {rate:.0f} clips/s, {left / 60:.1f} min left  ",
                  end="" if done[0] < total else "\n", file=sys.stderr, flush=True)

    pool = Pool(workers) if workers > 1 and total > 1 else None
    try:
        for k in todo:
            c = chunks[k]
            jobs = [(i, rows[i]["path"], kind, denoise, tuple(versions), partners[i]) for i in range(c.start, min(c.stop, len(rows)))]
            shards[k] = _write(root, names[k], keys[c], jobs, pool, width, dtype, skip_bad, tick)
    finally:
        if pool:
            pool.terminate()
    clips, kept, skipped = [], [], []
    for k, (shard, c) in enumerate(zip(shards, chunks)):
        for slot, i in enumerate(range(c.start, min(c.stop, len(rows)))):
            if shard.lengths[slot, 0] > 0:
                clips.append((k, slot))
                kept.append(rows[i])
            elif not skip_bad:
                raise AudioError(str(shard.reasons[slot]))
            else:
                skipped.append((rows[i]["path"], str(shard.reasons[slot]).removeprefix(f"{rows[i]['path']}: ")))
    if skipped:
        shown = "; ".join(f"{Path(p).name} ({why})" for p, why in skipped[:3]) + ("; ..." if len(skipped) > 3 else "")
        print(f"skipped {len(skipped)} of {len(rows)} clips: {shown}", file=sys.stderr)
    return Store(kind, versions, shards, np.array(clips, dtype=np.int64).reshape(-1, 2)), kept, skipped
