"""The feature store -- many clips' features in a few large files on disk, read window by window.

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
import os
import sys
import time
import warnings
import zipfile
from pathlib import Path

import numpy as np

import data
import features
import sampling
from data import AudioError, report_skipped
from scale.files import atomic_write, fcntl
from scale import workers as processes
from scale.cache import cache_key, default_store_dir, extraction_job, feature_settings

SHARD_CLIPS = 4096  # clips per shard: ~280 MB of 4 s mfcc_f0 clips in float32, a few seconds of work to redo
DTYPES = ("float32", "float16")  # float16 halves the disk and the reads; tests/test_store.py bounds its error
INDEX_FORMAT = 2  # a shard index's layout: one entry per (clip, version); shards of another format are not read
BABBLE_TALKERS = 3  # other speakers' clips mixed into a clip's babble version (augment.version_of)
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


class Store:
    """The features of a list of clips: store.read(i, start, stop, v) -> float32 (*input_shape, stop - start).

    Clip i is the i-th row given to build() that could be read; v indexes the versions it was built with
    ("orig" first, then augmented copies such as "speed1.1"). Each (clip, version) may live in any shard:
    shard_of[i, v], offset_of[i, v] and frames_of[i, v] say where. sums, squares (R,) float64 and count are the
    per-row sums over the real frames of this store's original clips -- its own clips only, whichever shards
    hold them.
    """

    def __init__(self, kind, versions, shards, where, sums, squares, count):
        self.kind, self.versions, self.shards = kind, tuple(versions), shards
        self.shape = features.input_shape(kind)  # non-time dims, e.g. (3, 14)
        self.shard_of, self.offset_of, self.frames_of = where  # each (n, V) int64
        self.sums, self.squares, self.count = sums, squares, count

    def __len__(self):
        return len(self.shard_of)

    def lengths(self, v=0):
        """(n,) frames of every clip, version v."""
        return self.frames_of[:, v].copy()

    def read(self, i, start=0, stop=None, v=0):
        """Frames [start, stop) of clip i, version v (stop clipped to the clip's end) -> (*shape, n) float32."""
        offset, n = self.offset_of[i, v], self.frames_of[i, v]
        stop = n if stop is None else min(stop, n)
        x = np.array(self.shards[self.shard_of[i, v]].data[offset + start:offset + stop], dtype=np.float32)  # (n, R)
        return x.T.reshape(*self.shape, len(x))  # (*shape, n): a copy of one slice of the file

    def for_epoch(self, seed, epoch):
        """The clips as one epoch of training sees them: one version of each (the original or an augmented copy),
        drawn uniformly from a generator seeded with (seed, epoch, 1) alone, so a resumed run draws the same."""
        if len(self.versions) == 1:
            return self
        return EpochView(self, np.random.default_rng([seed, epoch, 1]).integers(0, len(self.versions), len(self)))

    def statistics(self):
        """Mean and standard deviation of every feature row over all real frames of the original clips,
        each (*shape,) -- what models.InputNorm standardises with."""
        mean = self.sums / max(self.count, 1)
        std = np.sqrt(np.maximum(self.squares / max(self.count, 1) - mean ** 2, 0.0))
        return mean.reshape(self.shape), std.reshape(self.shape)


class EpochView:
    """A store seen through one version per clip (Store.for_epoch): the four methods of data.Features."""

    def __init__(self, store, versions):
        self.store, self.versions, self.shape = store, versions, store.shape  # versions: (n,) int, one per clip

    def __len__(self):
        return len(self.store)

    def lengths(self):
        return self.store.frames_of[np.arange(len(self.store)), self.versions]  # (n,)

    def read(self, i, start=0, stop=None):
        return self.store.read(i, start, stop, self.versions[i])

    def statistics(self):
        return self.store.statistics()


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


class _Found:
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
        the next build reports it and extracts it again (_scan)."""
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


def _scan(root, found, dtype):
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


def _write(root, jobs, pool, width, dtype, skip_bad, progress):
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


def build(rows, kind, versions=("orig",), denoise=False, workers=1, skip_bad=False, dtype="float32", root=None,
          progress=False):
    """Open (building what is missing) the store of these rows' clips -> (Store, kept rows, skipped).

    rows: manifest rows (their "path" and "speaker"); versions: augment.VERSIONS to keep per clip, "orig" first;
    workers > 1 extracts in that many processes. Every (clip, version) already in any finished shard under the
    store's folder is reused, whichever manifest, split or fold it was extracted for, so a new split, a k-fold
    or a refit of the same clips extracts nothing; only missing entries are extracted, into new shards of up to
    SHARD_CLIPS clips. An unreadable clip raises AudioError naming it, unless skip_bad: then it is left out and
    listed in skipped as (path, reason), and "skipped 3 of 1200 clips: ..." goes to stderr. progress: a one-line
    progress indicator with the rate and the time left, on stderr.
    """
    if dtype not in DTYPES:
        raise ValueError(f"store dtype {dtype!r}: expected one of {', '.join(DTYPES)}")
    assert versions and versions[0] == "orig", "the original clip is version 0"
    root = Path(root or default_store_dir()) / kind
    root.mkdir(parents=True, exist_ok=True)
    settings = feature_settings(kind, denoise)
    orig, unkeyed = [], []
    for r in rows:  # a file that is missing (or a dangling link) has no identity, so no key: skipped or refused
        try:
            orig.append(cache_key(r, kind, denoise, settings=settings))
        except AudioError as err:
            if not skip_bad:
                raise
            unkeyed.append((r["path"], str(err)))
    n_rows = len(rows)
    if unkeyed:
        missing = {p for p, _ in unkeyed}
        rows = [r for r in rows if r["path"] not in missing]
    partners = _babble_partners(rows, orig) if "babble" in versions else [()] * len(rows)
    keys = np.array([[k if v == "orig" else cache_key(r, kind, denoise, v, p if v == "babble" else (),
                                                      settings=settings) for v in versions]
                     for r, k, p in zip(rows, orig, partners)], dtype="U40").reshape(len(rows), len(versions))
    width = int(np.prod(features.input_shape(kind)))
    found = _Found(keys, width)
    _scan(root, found, dtype)
    jobs, queued = [], set()  # one job per distinct clip that lacks a version: (i, path, ..., its missing keys)
    for i, r in enumerate(rows):
        lacking = [v for v, key in enumerate(keys[i]) if key not in found.where and key not in queued]
        if lacking:
            queued.update(keys[i, lacking].tolist())
            jobs.append((i, r, kind, denoise, tuple(versions[v] for v in lacking), partners[i],
                         keys[i, lacking].tolist()))
    total, done, start = len(jobs), [0], time.perf_counter()

    def tick():
        done[0] += 1
        if progress and (done[0] == total or done[0] % 50 == 0):
            rate = done[0] / max(time.perf_counter() - start, 1e-9)
            left = (total - done[0]) / rate
            print(f"\rfeatures ({kind}): {done[0]}/{total} clips, {rate:.0f} clips/s, {left / 60:.1f} min left  ",
                  end="" if done[0] < total else "\n", file=sys.stderr, flush=True)

    pool = processes.pool(workers, total)
    try:
        for c in range(0, total, SHARD_CLIPS):
            shard, index = _write(root, jobs[c:c + SHARD_CLIPS], pool, width, dtype, skip_bad, tick)
            found.add(shard, index)
    finally:
        if pool:
            pool.terminate()
    n, V = keys.shape
    where = np.array([found.where[key][:3] for key in keys.ravel()], dtype=np.int64).reshape(n, V, 3)
    readable = (where[:, :, 2] > 0).all(axis=1)  # (n,) every version of the clip has frames
    kept, skipped = [], list(unkeyed)
    for i in np.flatnonzero(~readable):
        reason = next(found.where[key][3] for key in keys[i] if found.where[key][2] == 0)
        if not skip_bad:
            raise AudioError(reason)
        skipped.append((rows[i]["path"], reason))
        if where[i, 0, 2] > 0:  # the original was readable, another version was not: its frames leave the sums
            found.drop(*where[i, 0])
    kept = [r for r, ok in zip(rows, readable) if ok]
    report_skipped(skipped, n_rows)
    used = np.unique(where[readable][:, :, 0])  # the shards this store reads, renumbered 0, 1, ...
    renumber = np.zeros(len(found.shards), np.int64)
    renumber[used] = np.arange(len(used))
    where = where[readable]  # (n_kept, V, 3)
    count = int(where[:, 0, 2].sum())  # frames of the original clips; unreadable clips added no sums
    return Store(kind, versions, [found.shards[s] for s in used], (renumber[where[..., 0]], where[..., 1],
                                                                   where[..., 2]),
                 found.sums, found.squares, count), kept, skipped


def build_shared(rows, kind, versions=("orig",), denoise=False, workers=1, skip_bad=False, dtype="float32"):
    """build() under torchrun: the first process extracts what the store lacks while the others wait, then they
    open what it wrote (every process sees the same store on a shared disk) -> (Store, kept rows, skipped)."""
    import torch.distributed as dist
    first = not dist.is_initialized() or dist.get_rank() == 0
    if not first:
        dist.barrier()
    found = build(rows, kind, versions, denoise, workers if first else 1, skip_bad, dtype,
                  progress=first and sys.stderr.isatty())
    if first and dist.is_initialized():
        dist.barrier()
    return found


def features_of(rows, kind, denoise=False, workers=1, skip_bad=False, on_disk=False):
    """Features of rows -> (features, kept rows, skipped): in memory (data.load_features) or, on_disk, the store."""
    if on_disk:
        return build(rows, kind, denoise=denoise, workers=workers, skip_bad=skip_bad, progress=sys.stderr.isatty())
    return data.load_features(rows, kind, denoise=denoise, workers=workers, skip_bad=skip_bad)


def epoch_batches(store, labels, crop, args, epoch, step, weights, device):
    """train.py's batches of one epoch from the store, from optimiser step `step` on: one version of each clip
    (Store.for_epoch), the epoch's plan (sampling.epoch_plan), this process's share of every batch under torchrun,
    cut by `args.workers` DataLoader workers while the process trains -> an iterable of (x, lengths, y) arrays."""
    rank, world = int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1))
    view = store.for_epoch(args.seed, epoch)
    plan = sampling.epoch_plan(args.seed, epoch, view.lengths(), crop, args.batch_size, weights)[step:]
    batches, mine = sampling.Batches(view, labels, crop), [np.array_split(spec, world)[rank] for spec in plan]
    if args.workers == 0:
        return (batches[spec] for spec in mine)
    import torch  # the DataLoader: workers read the store's files while this process trains
    return torch.utils.data.DataLoader(batches, sampler=mine, batch_size=None, num_workers=args.workers,
                                       pin_memory=device.type == "cuda", generator=torch.Generator())
