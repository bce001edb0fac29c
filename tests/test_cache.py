"""Tests of cache.py: features are computed once, reused, recomputed when anything they depend on changes.

Run: python -m pytest tests/test_cache.py
"""
import os
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

import cache
import features
from audio import AudioError

SR = 16000  # Hz


@pytest.fixture
def clips(tmp_path):
    """Three 1 s sines (200, 300, 400 Hz) as 16-bit WAVs."""
    t = np.arange(SR) / SR
    paths = []
    for f0_hz in (200, 300, 400):
        paths.append(tmp_path / f"sine{f0_hz}.wav")
        sf.write(paths[-1], 0.5 * np.sin(2 * np.pi * f0_hz * t), SR, subtype="PCM_16")
    return paths


@pytest.fixture
def counted_extract(monkeypatch):
    """Replace features.extract by a cheap stand-in that counts its calls: (1, 1, N) = the waveform."""
    calls = []

    def extract(y, sr=SR, kind="mfcc"):
        calls.append(kind)
        return y[None, None, :].astype(np.float32)

    monkeypatch.setattr(features, "extract", extract)
    return calls


def test_second_call_loads_from_the_cache(clips, tmp_path, counted_extract):
    first = [cache.cached_features(p, "mfcc", tmp_path / "c") for p in clips]
    second = [cache.cached_features(p, "mfcc", tmp_path / "c") for p in clips]
    assert len(counted_extract) == 3, f"{len(counted_extract)} extractions for 3 clips read twice"
    assert all(np.array_equal(a, b) for a, b in zip(first, second))
    expected = sf.read(clips[0], dtype="float32")[0]  # the stand-in's output is the waveform itself
    assert np.array_equal(first[0][0, 0], expected)


def test_a_changed_setting_or_file_recomputes(clips, tmp_path, counted_extract, monkeypatch):
    cache.cached_features(clips[0], "mfcc", tmp_path / "c")
    cache.cached_features(clips[0], "mel", tmp_path / "c")  # another kind
    cache.cached_features(clips[0], "mfcc", tmp_path / "c", denoise=True)  # denoising on
    assert len(counted_extract) == 3
    monkeypatch.setattr(features, "HOP_LENGTH", 161, raising=False)  # any features.py setting
    cache.cached_features(clips[0], "mfcc", tmp_path / "c")
    assert len(counted_extract) == 4, "a changed feature setting must not reuse the old entry"
    stat = os.stat(clips[1])
    cache.cached_features(clips[1], "mfcc", tmp_path / "c")
    os.utime(clips[1], ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))  # touch: one second newer
    cache.cached_features(clips[1], "mfcc", tmp_path / "c")
    assert len(counted_extract) == 6, "a touched audio file must be read again"
    monkeypatch.setattr(cache, "FEATURE_VERSION", cache.FEATURE_VERSION + 1)
    cache.cached_features(clips[1], "mfcc", tmp_path / "c")
    assert len(counted_extract) == 7, "a new FEATURE_VERSION must not reuse old entries"


def test_entries_are_written_atomically(clips, tmp_path, counted_extract, monkeypatch):
    renames = []
    real_replace = os.replace

    def replace(src, dst):
        renames.append((str(src), str(dst)))
        real_replace(src, dst)

    monkeypatch.setattr(cache.os, "replace", replace)
    cache.cached_features(clips[0], "mfcc", tmp_path / "c")
    (src, dst), = renames
    assert os.path.dirname(src) == os.path.dirname(dst) and src.endswith(".tmp") and dst.endswith(".npy")
    assert not list((tmp_path / "c").rglob("*.tmp")) and os.path.isfile(dst)


def test_precompute_skips_and_counts_bad_clips(clips, tmp_path, counted_extract, capsys):
    (tmp_path / "bad.wav").write_bytes(b"not audio at all")
    sf.write(tmp_path / "zero.wav", np.zeros(SR), SR)
    paths = [clips[0], tmp_path / "bad.wav", clips[1], tmp_path / "zero.wav", clips[2]]
    rows = [{"path": str(p), "speaker": f"s{i}"} for i, p in enumerate(paths)]
    with pytest.raises(AudioError, match="bad.wav: unreadable"):
        cache.precompute(rows, "mfcc", tmp_path / "c")
    feats, kept, skipped = cache.precompute(rows, "mfcc", tmp_path / "c", skip_bad=True)
    assert [r["speaker"] for r in kept] == ["s0", "s2", "s4"] and len(feats) == 3
    assert [os.path.basename(p) for p, _ in skipped] == ["bad.wav", "zero.wav"]
    assert "all-silent" in skipped[1][1]
    err = capsys.readouterr().err
    assert "skipped 2 of 5 clips: bad.wav (unreadable" in err and "\r" in err


def test_two_workers_give_the_same_features(clips, tmp_path):
    rows = [{"path": str(p)} for p in clips]
    one, _, _ = cache.precompute(rows, "mfcc", tmp_path / "one", workers=1, progress=False)
    two, kept, _ = cache.precompute(rows, "mfcc", tmp_path / "two", workers=2, progress=False)
    assert kept == rows and all(np.array_equal(a, b) for a, b in zip(one, two))
    assert one[0].shape[:-1] == tuple(features.input_shape("mfcc")) and one[0].dtype == np.float32


def key_in_a_copy_of_the_tree(tmp_path, clip, edit=None):
    """cache_key(clip) computed by a fresh Python in a copy of the project's modules, one file edited."""
    import shutil
    import subprocess
    import sys
    root = Path(__file__).resolve().parents[1]
    tree = tmp_path / ("edited" if edit else "plain")
    tree.mkdir()
    for module in root.glob("*.py"):
        shutil.copy(module, tree / module.name)
    if edit:
        name, old, new = edit
        text = (tree / name).read_text(encoding="utf-8")
        assert old in text, f"{old!r} not in {name}"
        (tree / name).write_text(text.replace(old, new, 1), encoding="utf-8")
    result = subprocess.run([sys.executable, "-c", f"import cache; print(cache.cache_key({str(clip)!r}, 'mfcc'))"],
                            cwd=tree, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_an_edit_to_the_audio_loader_changes_the_key(clips, tmp_path):
    """data.load_audio's resampling call used to be outside the key: an edit there reused stale features."""
    plain = key_in_a_copy_of_the_tree(tmp_path, clips[0])
    edited = key_in_a_copy_of_the_tree(tmp_path, clips[0], ("audio.py", "resample_poly(y, sr // g, file_sr // g)",
                                                            "resample_poly(y, sr // g, file_sr // g, window=('kaiser', 5.0))"))
    assert plain != edited


def test_library_versions_are_part_of_the_key(clips, monkeypatch):
    before = cache.cache_key(clips[0], "mfcc")
    monkeypatch.setitem(cache.LIBRARIES, "scipy", "0.0.1")
    assert cache.cache_key(clips[0], "mfcc") != before
