"""The feature store (scale/store.py; its shards on disk: scale/shards.py): what it returns is what extraction
gives, it is built once, it never serves a truncated or stale shard, it keeps finished shards after a kill, and two
writers at once do not break it.

    python -m pytest tests/test_store.py
"""
import multiprocessing
import os

import numpy as np
import pytest
import soundfile as sf

import sampling
from scale import cache
from scale import files, shards, store
from data import AudioError
from conftest import close

SR = 16000  # Hz


@pytest.fixture
def rows(tmp_path):
    """Five clips of 0.5-2.5 s (sines plus a little noise) by five speakers, as manifest rows."""
    rng = np.random.default_rng(0)
    rows = []
    for i, seconds in enumerate((1.0, 2.5, 0.5, 1.7, 2.0)):
        t = np.arange(int(seconds * SR)) / SR
        y = 0.4 * np.sin(2 * np.pi * (120 + 40 * i) * t) + 0.01 * rng.standard_normal(len(t))
        sf.write(tmp_path / f"c{i}.wav", y, SR, subtype="PCM_16")
        rows.append({"path": str(tmp_path / f"c{i}.wav"), "speaker": f"s{i}"})
    return rows


@pytest.fixture
def counted(monkeypatch):
    """Count the calls of cache.compute_features (in this process: workers=1)."""
    calls = []
    real = cache.compute_features

    def compute(*args, **kwargs):
        calls.append(args[0]["path"] if isinstance(args[0], dict) else str(args[0]))  # a row, or a path
        return real(*args, **kwargs)

    monkeypatch.setattr(cache, "compute_features", compute)
    return calls


def test_windows_read_back_exactly_what_extraction_gives(rows, tmp_path):
    found, kept, skipped = store.build(rows, "mfcc_f0", root=tmp_path / "s")
    assert kept == rows and skipped == [] and len(found) == 5
    for i, row in enumerate(rows):
        x = cache.compute_features(row["path"], "mfcc_f0")  # (3, 14, T)
        assert found.lengths()[i] == x.shape[-1]
        assert close(found.read(i), x)
        assert close(found.read(i, 10, 60), x[..., 10:60])
    raw, _, _ = store.build(rows[:2], "raw", root=tmp_path / "s")
    assert close(raw.read(1, 100, 200)[0], sf.read(rows[1]["path"], dtype="float32")[0][100:200])


def test_statistics_are_the_row_mean_and_std_over_every_frame(rows, tmp_path):
    found, _, _ = store.build(rows, "mfcc", root=tmp_path / "s")
    frames = np.concatenate([cache.compute_features(r["path"], "mfcc").astype(np.float64) for r in rows], axis=-1)
    mean, std = found.statistics()
    assert np.allclose(mean, frames.mean(axis=-1), atol=1e-4) and np.allclose(std, frames.std(axis=-1), atol=1e-4)


def test_a_store_of_some_clips_normalises_with_those_clips_only(rows, tmp_path):
    """A fold's training split reuses shards that also hold other splits' clips; its input normalisation must
    still come from its own clips (a repeated row counts twice, as it is drawn twice)."""
    store.build(rows, "mfcc", root=tmp_path / "s")  # every clip in one shard
    subset = [rows[3], rows[1], rows[3]]
    found, _, _ = store.build(subset, "mfcc", root=tmp_path / "s")
    frames = np.concatenate([cache.compute_features(r["path"], "mfcc").astype(np.float64) for r in subset], axis=-1)
    mean, std = found.statistics()
    assert np.allclose(mean, frames.mean(axis=-1), atol=1e-4) and np.allclose(std, frames.std(axis=-1), atol=1e-4)
    n = found.lengths()
    assert close(found.read(0), found.read(2)) and n[1] == frames.shape[-1] - 2 * n[0]


def test_built_once_then_reused_by_any_manifest_of_the_same_clips(rows, tmp_path, counted, monkeypatch):
    monkeypatch.setattr(store, "SHARD_CLIPS", 2)  # 5 clips -> shards of 2, 2, 1
    first, _, _ = store.build(rows, "mfcc", root=tmp_path / "s")
    assert len(counted) == 5 and len(list((tmp_path / "s" / "mfcc").glob("*.bin"))) == 3
    store.build(rows, "mfcc", root=tmp_path / "s")
    assert len(counted) == 5, "a finished store is opened, not recomputed"
    fold, _, _ = store.build([rows[4], rows[0], rows[2]], "mfcc", root=tmp_path / "s")  # another split's clips
    assert len(counted) == 5, "clips of other shards, in another order: nothing is extracted"
    assert all(close(fold.read(k), first.read(i)) for k, i in enumerate((4, 0, 2)))
    part, _, _ = store.build([rows[4], rows[1]], "mfcc", root=tmp_path / "s")  # the middle shard is not used
    assert len(part.shards) == 2 and close(part.read(0), first.read(4)) and \
        close(part.read(1), first.read(1))
    sf.write(tmp_path / "new.wav", 0.3 * np.sin(2 * np.pi * 200 * np.arange(SR) / SR), SR)
    grown = rows + [dict(rows[0], speaker="x"), {"path": str(tmp_path / "new.wav"), "speaker": "n"}]
    store.build(grown, "mfcc", root=tmp_path / "s")
    assert counted[5:] == [str(tmp_path / "new.wav")], "a repeated clip is not extracted again; a new one once"
    store.build(rows, "mfcc", versions=("orig", "speed1.1"), root=tmp_path / "s")
    assert len(counted) == 6 + 5, "a new version: only it is extracted, the original clips are reused"


def test_a_truncated_or_foreign_shard_is_detected_and_rebuilt(rows, tmp_path, counted, monkeypatch):
    monkeypatch.setattr(store, "SHARD_CLIPS", 2)  # three shards: 2, 2 and 1 clips
    first, _, _ = store.build(rows, "mfcc", root=tmp_path / "s")
    expected = [first.read(i) for i in range(5)]
    shards = sorted((tmp_path / "s" / "mfcc").glob("*.npz"), key=lambda p: len(np.load(p)["keys"]))
    c, a, b = shards  # c holds one clip, a and b two each
    with open(a.with_suffix(".bin"), "r+b") as f:  # a disk that filled up: the data file is cut short
        f.truncate(os.path.getsize(a.with_suffix(".bin")) // 2)
    b.write_bytes(c.read_bytes())  # a foreign index under b's name: its keys are c's clip
    with pytest.warns(UserWarning, match="stale or truncated shard") as caught:
        again, _, _ = store.build(rows, "mfcc", root=tmp_path / "s")
    assert len(caught) == 2, "both damaged shards are reported (then removed and written again)"
    assert len(counted) == 5 + 4, "the two damaged shards (2 clips each) were extracted again, and only they"
    assert all(close(again.read(i), expected[i]) for i in range(5))
    store.build(rows, "mfcc", root=tmp_path / "s")  # the rebuilt shards are whole: no warning, no extraction
    assert len(counted) == 9


def test_a_touched_audio_file_is_never_served_stale(rows, tmp_path, counted):
    store.build(rows, "mfcc", root=tmp_path / "s")
    y = 0.3 * np.sin(2 * np.pi * 300 * np.arange(SR) / SR)
    sf.write(rows[2]["path"], y, SR, subtype="PCM_16")  # new content (and size, and time)
    again, _, _ = store.build(rows, "mfcc", root=tmp_path / "s")
    assert close(again.read(2), cache.compute_features(rows[2]["path"], "mfcc"))


def test_bad_clips_raise_or_are_skipped_and_remembered(rows, tmp_path, capsys):
    (tmp_path / "bad.wav").write_bytes(b"not audio at all")
    sf.write(tmp_path / "zero.wav", np.zeros(SR), SR)
    both = rows[:2] + [{"path": str(tmp_path / "bad.wav"), "speaker": "b"}, rows[2],
                       {"path": str(tmp_path / "zero.wav"), "speaker": "z"}]
    with pytest.raises(AudioError, match="bad.wav: unreadable"):
        store.build(both, "mfcc", root=tmp_path / "s")
    assert not list((tmp_path / "s").rglob("*.tmp")), "an aborted shard leaves no temporary file"
    found, kept, skipped = store.build(both, "mfcc", root=tmp_path / "s", skip_bad=True)
    assert [r["speaker"] for r in kept] == ["s0", "s1", "s2"] and len(found) == 3
    assert [os.path.basename(p) for p, _ in skipped] == ["bad.wav", "zero.wav"] and "all-silent" in skipped[1][1]
    err = capsys.readouterr().err
    assert err.startswith("skipped 2 of 5 clips: ") and "bad.wav: unreadable" in err and err.count("\n") == 1, err
    with pytest.raises(AudioError, match="bad.wav: unreadable"):  # the shard remembers, and still refuses
        store.build(both, "mfcc", root=tmp_path / "s")


def test_a_kill_keeps_every_finished_shard(rows, tmp_path, counted, monkeypatch):
    """Ctrl-C in the middle of the second shard: the first shard stays and is not extracted again."""
    monkeypatch.setattr(store, "SHARD_CLIPS", 2)
    real = cache.compute_features

    def interrupted(*args, **kwargs):
        if len(counted) == 3:  # three clips extracted: the fourth, in the second shard, is interrupted
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(cache, "compute_features", interrupted)
    with pytest.raises(KeyboardInterrupt):
        store.build(rows, "mfcc", root=tmp_path / "s")
    assert len(list((tmp_path / "s" / "mfcc").glob("*.npz"))) == 1 and not list((tmp_path / "s").rglob("*.tmp"))
    monkeypatch.setattr(cache, "compute_features", real)
    found, _, _ = store.build(rows, "mfcc", root=tmp_path / "s", workers=2)
    assert len(found) == 5


@pytest.mark.skipif(files.fcntl is None, reason="needs flock (POSIX)")
def test_what_a_hard_kill_leaves_is_removed_once_old_and_only_then(rows, tmp_path):
    """kill -9 runs no clean-up: a half-written temporary file, or a data file whose index never came, stays.
    The next build removes such files once untouched for LEFTOVER_S seconds, and leaves alone fresh ones, the
    temporary file a live (stopped, hung) writer still holds however old, and every finished shard."""
    store.build(rows[:2], "mfcc", root=tmp_path / "s")
    root = tmp_path / "s" / "mfcc"
    finished = sorted(root.iterdir())
    old = [root / "shard-dead.bin.x1.tmp", root / "shard-dead.bin"]  # a dead writer's temp; a bin without index
    fresh = [root / "shard-live.bin.x2.tmp", root / "shard-live.bin"]
    held = root / "shard-stopped.bin.x3.tmp"  # a writer stopped for hours (Ctrl-Z) still holds its lock
    for path in old + fresh + [held]:
        path.write_bytes(b"\0" * 500_000)
    long_ago = os.stat(finished[0]).st_mtime - shards.LEFTOVER_S - 10
    for path in old + finished + [held]:  # the finished shard is as old as the leftovers: age alone removes nothing
        os.utime(path, (long_ago, long_ago))
    with open(held, "rb") as writer:
        files.fcntl.flock(writer, files.fcntl.LOCK_EX)
        with pytest.warns(UserWarning, match=r"removed 2 file\(s\) \(1.0 MB\) left by an interrupted extraction"):
            found, _, _ = store.build(rows, "mfcc", root=tmp_path / "s")
        assert not any(p.exists() for p in old) and all(p.exists() for p in fresh + finished + [held])
        assert len(found) == 5
    with pytest.warns(UserWarning, match="removed 3 file"):  # later, and once the stopped writer has died
        assert shards._sweep(root, now=os.stat(fresh[0]).st_mtime + shards.LEFTOVER_S + 1) == 3


def test_atomic_write_holds_its_temporary_file_locked_until_the_rename(tmp_path):
    """While write() runs, a cleaner cannot take the temporary file (remove_if_abandoned says no); after the
    rename the target holds the bytes and no temporary file is left."""
    seen = []

    def write(f):
        f.write(b"frames")
        tmp = next(tmp_path.glob("shard.bin.*.tmp"))
        seen.append(shards.remove_if_abandoned(tmp))
        seen.append(tmp.exists())

    files.atomic_write(tmp_path / "shard.bin", write)
    assert seen == [False, True]
    assert (tmp_path / "shard.bin").read_bytes() == b"frames" and not list(tmp_path.glob("*.tmp"))


def test_float16_is_within_float16_rounding_of_float32(rows, tmp_path):
    full, _, _ = store.build(rows, "mfcc_f0", root=tmp_path / "s")
    half, _, _ = store.build(rows, "mfcc_f0", root=tmp_path / "s", dtype="float16")
    for i in range(5):
        a, b = full.read(i), half.read(i)
        assert b.dtype == np.float32 and np.all(np.abs(a - b) <= np.abs(a) * 2 ** -11 + 1e-7)  # half an ulp
    assert [s.dtype for s in full.shards + half.shards] == ["float32", "float16"]
    assert full.shards[0].data_path.stat().st_size == 2 * half.shards[0].data_path.stat().st_size
    with pytest.raises(ValueError, match="float64"):
        store.build(rows, "mfcc", root=tmp_path / "s", dtype="float64")


def test_augmented_versions_sit_beside_the_original(rows, tmp_path):
    found, _, _ = store.build(rows, "mfcc", versions=("orig", "speed0.9", "speed1.1", "babble"), root=tmp_path / "s")
    for i in range(5):
        n = found.lengths()[i]
        assert abs(found.lengths(1)[i] - n / 0.9) <= 2 and abs(found.lengths(2)[i] - n / 1.1) <= 2
        assert found.lengths(3)[i] == n and not close(found.read(i, v=3), found.read(i))
    assert close(found.read(0, v=2), cache.compute_features(rows[0]["path"], "mfcc", version="speed1.1"))
    # training draws a version for every draw of a clip (store.versioned_plan): item k of Versions is clip k // 4,
    # version k % 4; a crop starts inside the copy drawn; one clip drawn twice in an epoch may read two copies
    plan = sampling.epoch_plan(0, 0, found.lengths(), 100, 2, np.array([1.0, 1e-9, 1e-9, 1e-9, 1e-9]))  # clip 0 only
    spec = np.concatenate(store.versioned_plan(found, plan, 0, 0, 100))  # (5, 2) of (k, start)
    clip, version = spec[:, 0] // 4, spec[:, 0] % 4
    assert (clip == 0).all() and len(set(version)) > 1, version
    assert all(0 <= s <= max(found.lengths(v)[0] - 100, 0) for s, v in zip(spec[:, 1], version))
    view = store.Versions(found)
    assert all(close(view.read(k, s, s + 100), found.read(k // 4, s, s + 100, v=k % 4)) for k, s in spec)
    later = np.concatenate([np.concatenate(store.versioned_plan(
        found, sampling.epoch_plan(0, e, found.lengths(), 100, 5), 0, e, 100)) for e in range(10)])
    assert set(later[:, 0] % 4) == {0, 1, 2, 3}, "every version is drawn"
    again = np.concatenate(store.versioned_plan(found, plan, 0, 0, 100))
    assert np.array_equal(spec, again), "a resumed run draws the same copies"


def _build_in_a_process(args):
    rows, root = args
    found, _, _ = store.build(rows, "mfcc", root=root)
    return [found.read(i).sum() for i in range(len(found))]


def test_two_writers_at_once_on_one_store(rows, tmp_path):
    """Two processes building the same store at the same moment (two train.py runs, torchrun ranks) both
    succeed and read the same features; no temporary file is left."""
    with multiprocessing.get_context("spawn").Pool(2) as pool:
        a, b = pool.map(_build_in_a_process, [(rows, str(tmp_path / "s"))] * 2)
    assert np.allclose(a, b)
    assert not list((tmp_path / "s").rglob("*.tmp"))
    assert len(list((tmp_path / "s" / "mfcc").glob("*.npz"))) == 1


def test_a_row_dropped_for_another_version_leaves_the_normalisation(rows, tmp_path, monkeypatch):
    """The originals are in the store already; the speed1.1 copy of clip 2 cannot be made. With skip_bad the
    row is left out, and the input normalisation is that of the four rows kept, not of all five originals."""
    store.build(rows, "mfcc", root=tmp_path / "s")
    real = cache.compute_features

    def failing(row, kind, denoise=False, version="orig", others=()):
        if row["path"] == rows[2]["path"] and version == "speed1.1":
            raise AudioError(f"{row['path']}: made-up failure")
        return real(row, kind, denoise, version, others)

    monkeypatch.setattr(cache, "compute_features", failing)
    found, kept, skipped = store.build(rows, "mfcc", versions=("orig", "speed1.1"), root=tmp_path / "s",
                                       skip_bad=True)
    assert [r["speaker"] for r in kept] == ["s0", "s1", "s3", "s4"] and "made-up failure" in skipped[0][1]
    frames = np.concatenate([real(r["path"], "mfcc").astype(np.float64) for r in kept], axis=-1)
    mean, std = found.statistics()
    assert np.allclose(mean, frames.mean(axis=-1), atol=1e-4) and np.allclose(std, frames.std(axis=-1), atol=1e-4)


def test_a_damaged_index_file_is_reported_and_rebuilt(rows, tmp_path, counted):
    store.build(rows, "mfcc", root=tmp_path / "s")
    index = next((tmp_path / "s" / "mfcc").glob("*.npz"))
    index.write_bytes(index.read_bytes()[:100])  # not a zip archive any more
    with pytest.warns(UserWarning, match="stale or truncated shard .*unreadable index"):
        again, _, _ = store.build(rows, "mfcc", root=tmp_path / "s")
    assert len(counted) == 10 and close(again.read(3), cache.compute_features(rows[3]["path"], "mfcc"))


def test_a_long_row_is_featurised_a_block_at_a_time_as_in_memory(tmp_path, monkeypatch):
    """A 70 s clip on the --store path goes through data.clip_features (blocks of 30 s, scale/blocks.py): the
    features equal the in-memory path's, and a babble partner that long is read for its first LONG_S seconds."""
    import data
    t = np.arange(70 * SR) / SR
    y = 0.3 * np.sin(2 * np.pi * (150 + 30 * np.sin(2 * np.pi * 0.2 * t)) * t)
    sf.write(tmp_path / "long.wav", y, SR, subtype="PCM_16")
    row = {"path": str(tmp_path / "long.wav")}
    read = []
    real = data.load_audio
    monkeypatch.setattr(data, "load_audio", lambda *a, **k: read.append(real(*a, **k)) or read[-1])
    x = cache.compute_features(row, "mfcc")
    assert read and max(map(len, read)) <= (data.LONG_S + 2) * SR, "one block of audio at a time"
    assert x.shape[-1] == data.clip_features(row, "mfcc").shape[-1] and close(x, data.clip_features(row, "mfcc"))
    assert len(cache._readable(row["path"])) == int(data.LONG_S * SR)


def test_dataloader_workers_never_outnumber_the_cores(rows, tmp_path):
    """--workers 64 on a small machine: the DataLoader gets at most one worker per core (scale/workers.processes)."""
    from types import SimpleNamespace
    import torch
    found, _, _ = store.build(rows, "mfcc", root=tmp_path / "s")
    args = SimpleNamespace(seed=0, batch_size=2, workers=64)
    loader = store.epoch_batches(found, np.zeros((5, 1)), 50, args, 0, 0, None, torch.device("cpu"))
    assert 1 <= loader.num_workers <= (os.cpu_count() or 1)
    plan = sampling.epoch_plan(0, 0, found.lengths(), 50, 2, None)
    assert sum(len(y) for _, _, y in loader) == sum(map(len, plan)), "every draw of the plan, once"
