"""Tests of cache.py: features are computed once, reused, recomputed when anything they depend on changes.

Run: python -m pytest tests/test_cache.py
"""
import os
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from scale import cache
import features
from data import AudioError
from conftest import close

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


def test_a_changed_setting_or_file_changes_the_key(clips, monkeypatch):
    key = cache.cache_key(clips[0], "mfcc")
    assert cache.cache_key(clips[0], "mfcc") == key, "the same file and settings: the same key"
    others = {cache.cache_key(clips[0], "mel"), cache.cache_key(clips[0], "mfcc", denoise=True),
              cache.cache_key(clips[0], "mfcc", version="speed1.1"), cache.cache_key(clips[1], "mfcc"),
              cache.cache_key(clips[0], "mfcc", version="babble", others=[clips[1]])}
    assert key not in others and len(others) == 5
    monkeypatch.setattr(features, "HOP_LENGTH", 161, raising=False)  # any features.py setting
    assert cache.cache_key(clips[0], "mfcc") != key, "a changed feature setting must not reuse old features"
    monkeypatch.undo()
    stat = os.stat(clips[0])
    os.utime(clips[0], ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))  # touch: one second newer
    assert cache.cache_key(clips[0], "mfcc") != key, "a touched audio file must be read again"
    os.utime(clips[0], ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert cache.cache_key(clips[0], "mfcc") == key
    monkeypatch.setattr(features, "FEATURE_VERSION", features.FEATURE_VERSION + 1)
    assert cache.cache_key(clips[0], "mfcc") != key, "a new FEATURE_VERSION must not reuse old features"
    monkeypatch.undo()
    speed = cache.cache_key(clips[0], "mfcc", version="speed1.1")
    monkeypatch.setattr(cache.augment, "VERSION", cache.augment.VERSION + 1)
    assert cache.cache_key(clips[0], "mfcc", version="speed1.1") != speed, "a new augment.VERSION redraws copies"
    monkeypatch.undo()
    denoised = cache.cache_key(clips[0], "mfcc", denoise=True)
    monkeypatch.setattr(cache.wiener, "VERSION", cache.wiener.VERSION + 1)
    assert cache.cache_key(clips[0], "mfcc", denoise=True) != denoised, "a new denoise.VERSION: denoised again"


def test_compute_features_is_load_then_extract(clips):
    x = cache.compute_features(clips[1], "mfcc")
    y = sf.read(clips[1], dtype="float32")[0]
    assert close(x, features.extract(y, SR, "mfcc"))
    faster = cache.compute_features(clips[1], "mfcc", version="speed1.1")
    assert faster.shape[-1] == 1 + round(len(y) / 1.1) // features.HOP_LENGTH, "1.1 x speed: 1/1.1 x frames"
    with pytest.raises(AudioError, match="nope.wav: file not found"):
        cache.compute_features(clips[0].with_name("nope.wav"), "mfcc")


def key_in_a_copy_of_the_tree(tmp_path, clip, edit=None):
    """cache_key(clip) computed by a fresh Python in a copy of the project's modules, one file edited."""
    import shutil
    import subprocess
    import sys
    root = Path(__file__).resolve().parents[1]
    tree = tmp_path / (f"edited-{len(list(tmp_path.glob('edited-*')))}" if edit else "plain")
    tree.mkdir()
    for module in root.glob("*.py"):
        shutil.copy(module, tree / module.name)
    for room in ("corpora", "scale", "extras"):
        shutil.copytree(root / room, tree / room, ignore=shutil.ignore_patterns("__pycache__"))
    if edit:
        name, old, new = edit
        text = (tree / name).read_text(encoding="utf-8")
        assert old in text, f"{old!r} not in {name}"
        (tree / name).write_text(text.replace(old, new, 1), encoding="utf-8")
    result = subprocess.run([sys.executable, "-c", f"from scale import cache; print(cache.cache_key({str(clip)!r}, 'mfcc'))"],
                            cwd=tree, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_an_edited_comment_keeps_the_key_and_a_new_version_changes_it(clips, tmp_path):
    """The key says what the features are, never what the code looks like: a student's comment or print() in the
    loader or the signal code re-extracts nothing; FEATURE_VERSION, bumped by hand, does."""
    plain = key_in_a_copy_of_the_tree(tmp_path, clips[0])
    commented = key_in_a_copy_of_the_tree(tmp_path, clips[0], ("data.py", "def load_audio(",
                                                               "# a student's comment\ndef load_audio("))
    assert plain == commented
    bumped = key_in_a_copy_of_the_tree(tmp_path, clips[0], ("features.py", "FEATURE_VERSION = ",
                                                            "FEATURE_VERSION = 1 + "))
    assert plain != bumped


def test_an_augmented_copy_draws_from_the_clip_alone(clips, monkeypatch):
    """The random draws of an augmented copy are seeded from the clip's identity (path, size, segment, version),
    not from settings, versions of the code or the file's modification time: the same copy on every run."""
    seed = cache.draw_seed({"path": str(clips[0])}, "chan1")
    monkeypatch.setattr(features, "FEATURE_VERSION", features.FEATURE_VERSION + 1)
    monkeypatch.setattr(features, "HOP_LENGTH", 161)
    stat = os.stat(clips[0])
    os.utime(clips[0], ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    assert cache.draw_seed({"path": str(clips[0])}, "chan1") == seed
    assert len({seed, cache.draw_seed({"path": str(clips[0])}, "chan2"), cache.draw_seed({"path": str(clips[1])}, "chan1"),
                cache.draw_seed({"path": str(clips[0]), "start_s": "0.2", "end_s": "0.8"}, "chan1")}) == 4


def test_library_versions_are_part_of_the_key(clips, monkeypatch):
    before = cache.cache_key(clips[0], "mfcc")
    monkeypatch.setitem(cache.LIBRARIES, "scipy", "0.0.1")
    assert cache.cache_key(clips[0], "mfcc") != before
