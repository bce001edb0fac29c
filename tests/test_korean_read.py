"""Real Korean speech end to end: Deeply's Korean Read Speech Corpus (where $MOKSORI_KOREAN_READ points: its
dataset folder) turned into AI Hub 한국어 방언 발화 dialogues by tests/korean_read_to_aihub.py, read back by the
AI Hub adapter as utterance segments, trained on for two epochs and profiled with `evaluate.py --wav`.
Skipped without the corpus. The sample holds one pair of speakers (a woman of 20, a woman of 49), so the run
trains on one speaker and validates on the other: it proves the plumbing, not accuracy."""
import csv
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

import data
from scale import files
from conftest import ROOT, TINY
from corpora.aihub import aihub_rows
from korean_read_to_aihub import convert

TURNS = 4  # clips per recording place: 3 places x 4 turns = 12 clips of ~5 s, seconds of features


@pytest.fixture
def korean_read():
    root = os.environ.get("MOKSORI_KOREAN_READ")
    if not root or not list(Path(root).glob("Korean_Read_Speech_Corpus*.json")):
        pytest.skip("Korean Read Speech Corpus not found ($MOKSORI_KOREAN_READ: its dataset folder)")
    return Path(root)


@pytest.mark.slow
def test_korean_read_speech_through_the_aihub_adapter_training_and_evaluate(korean_read, tmp_path):
    where = convert(korean_read, tmp_path / "aihub", TURNS)
    rows = aihub_rows(tmp_path / "aihub")
    assert len(rows) == len(where) == 3 * TURNS
    assert {(r["speaker"], r["gender"], r["age"]) for r in rows} == {("sub1001a", "female", "20s"),
                                                                     ("sub1001b", "female", "40s")}
    for row in rows[:TURNS]:  # each segment is exactly its original clip, read back out of the dialogue
        clip = next(c for c, (place, start, _) in where.items()
                    if Path(row["path"]).stem == place and abs(start - float(row["start_s"])) < 1e-5)
        original, _ = sf.read(korean_read / Path(row["path"]).stem / f"{clip}.wav", dtype="float32")
        y = data.load_audio(row["path"], 16000, *data.segment(row))  # (N,) the span only
        assert len(y) == len(original), (clip, len(y), len(original))
        assert np.max(np.abs(y - original)) < 1e-4, f"{clip}: largest difference {np.max(np.abs(y - original))}"

    for row in rows:  # two speakers: one to train on, one to validate on; no test speaker is left
        row["split"] = "train" if row["speaker"] == "sub1001a" else "val"
    manifest = tmp_path / "aihub" / "manifest.csv"
    files.write_manifest(rows, manifest)
    env = {**os.environ, "MOKSORI_CACHE": str(tmp_path / "cache"), "PYTHONIOENCODING": "utf-8"}
    run = tmp_path / "run"
    train = subprocess.run([sys.executable, str(ROOT / "train.py"), "--manifest", str(manifest), "--tasks",
                            "age,gender", *TINY, "--out", str(run)], cwd=tmp_path, env=env, capture_output=True,
                           text=True, encoding="utf-8", timeout=300)
    assert train.returncode == 0, train.stdout + train.stderr
    half = 3 * TURNS // 2  # the turns alternate, so each speaker has half the clips
    assert f"train {half}, val {half}, test 0 clips" in train.stdout, train.stdout

    clip = korean_read / "AnechoicChamber" / sorted(c for c, (p, _, _) in where.items() if p == "AnechoicChamber")[1]
    out = tmp_path / "profile.csv"
    result = subprocess.run([sys.executable, str(ROOT / "evaluate.py"), str(run), "--wav", f"{clip}.wav", "--out",
                             str(out)], cwd=tmp_path, env=env, capture_output=True, text=True, encoding="utf-8",
                            timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    (profile,) = list(csv.DictReader(out.open(encoding="utf-8")))
    assert profile["age"] in ("20s", "40s") and profile["gender"] == "female", profile
    assert 0.5 <= float(profile["age_p"]) <= 1.0 and float(profile["duration_s"]) > 1.0, profile
