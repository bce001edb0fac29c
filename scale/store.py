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
read. How shards are written, found, checked and cleaned up is scale/shards.py's: a killed extraction keeps every
finished shard, and a truncated or foreign one is reported and rebuilt. This module is what a run sees of them: the
Store (and one epoch's EpochView of it), build() and its torchrun variant, and the batches of an epoch.

    store, rows, skipped = build(rows, "mfcc_f0", workers=2)
    x = store.read(0, start=0, stop=400)        # (3, 14, 400) float32
    python -m pytest tests/test_store.py
"""
import os
import sys
import time
from pathlib import Path

import numpy as np

import data
import features
import sampling
from data import AudioError
from scale.workers import report_skipped
from scale import shards
from scale import workers as processes
from scale.cache import cache_key, default_store_dir, feature_settings

SHARD_CLIPS = 4096  # clips per shard: ~280 MB of 4 s mfcc_f0 clips in float32, a few seconds of work to redo
DTYPES = ("float32", "float16")  # float16 halves the disk and the reads; tests/test_store.py bounds its error
BABBLE_TALKERS = 3  # other speakers' clips mixed into a clip's babble version (augment.version_of)


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

    def statistics(self):
        """Mean and standard deviation of every feature row over all real frames of the original clips,
        each (*shape,) -- what models.InputNorm standardises with."""
        mean = self.sums / max(self.count, 1)
        std = np.sqrt(np.maximum(self.squares / max(self.count, 1) - mean ** 2, 0.0))
        return mean.reshape(self.shape), std.reshape(self.shape)


class Versions:
    """A store's clips and their stored versions as one list, for sampling.Batches: item k is version k % V of clip
    k // V (V = len(store.versions)), so a batch spec (k, start) names the version a draw reads."""

    def __init__(self, store):
        self.store, self.V, self.shape = store, len(store.versions), store.shape

    def __len__(self):
        return len(self.store) * self.V

    def read(self, k, start=0, stop=None):
        return self.store.read(k // self.V, start, stop, k % self.V)


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
    found = shards.Found(keys, width)
    shards.scan(root, found, dtype)
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
            shard, index = shards.write(root, jobs[c:c + SHARD_CLIPS], pool, width, dtype, skip_bad, tick)
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


def versioned_plan(store, plan, seed, epoch, crop):
    """An epoch's plan (sampling.epoch_plan: (clip, start) per draw) with one stored version for every draw: the
    original or an augmented copy, uniformly, and a crop start drawn inside that version, from a generator seeded
    with (seed, epoch, 1) alone -> the same batches as (k, start) specs of Versions(store); one version: as it was."""
    V = len(store.versions)
    if V == 1:
        return plan
    rng, spec = np.random.default_rng([seed, epoch, 1]), np.concatenate(plan)  # (n, 2)
    version = rng.integers(0, V, len(spec))  # (n,)
    T = store.frames_of[spec[:, 0], version]  # (n,) frames of each drawn copy
    start = (rng.random(len(spec)) * np.maximum(T - crop + 1, 1)).astype(np.int64)  # (n,) in [0, max(T - L, 0)]
    return np.split(np.stack([spec[:, 0] * V + version, start], axis=1), np.cumsum([len(s) for s in plan])[:-1])


def epoch_batches(store, labels, crop, args, epoch, step, weights, device):
    """train.py's batches of one epoch from the store, from optimiser step `step` on: the epoch's plan
    (sampling.epoch_plan) with a stored version for every draw (versioned_plan), this process's share of every batch
    under torchrun, cut by DataLoader workers (never more than workers.processes allows) while the process trains
    -> an iterable of (x, lengths, y) arrays."""
    rank, world = int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1))
    plan = sampling.epoch_plan(args.seed, epoch, store.lengths(), crop, args.batch_size, weights)
    plan = versioned_plan(store, plan, args.seed, epoch, crop)[step:]
    batches = sampling.Batches(Versions(store), np.repeat(labels, len(store.versions), axis=0), crop)
    mine = [np.array_split(spec, world)[rank] for spec in plan]
    if args.workers == 0 or not mine:
        return (batches[spec] for spec in mine)
    import torch  # the DataLoader: workers read the store's files while this process trains
    return torch.utils.data.DataLoader(batches, sampler=mine, batch_size=None, pin_memory=device.type == "cuda",
                                       num_workers=processes.processes(args.workers, len(mine)),
                                       generator=torch.Generator())
