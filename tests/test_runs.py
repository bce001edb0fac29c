"""scale/runs.py and scale/files.py: atomic run files, the learning-rate schedule at known steps, the manifest kept with a run.

    python -m pytest tests/test_runs.py
"""
import math

import pytest
import torch

import data
import evaluate
from extras.plots import read_history
from scale import files
from corpora.text import read_json
from scale import runs
import train


def test_save_checkpoint_and_json_are_atomic_and_leave_no_temporary_files(tmp_path):
    runs.save_checkpoint({"w": torch.arange(3)}, tmp_path / "last.pt")
    runs.save_json({"dialect": ["경상", "제주"]}, tmp_path / "config.json")
    assert torch.equal(torch.load(tmp_path / "last.pt", weights_only=True)["w"], torch.arange(3))
    assert read_json(tmp_path / "config.json") == {"dialect": ["경상", "제주"]}
    assert "경상" in (tmp_path / "config.json").read_text(encoding="utf-8")  # not \\uXXXX escapes

    def interrupted(f):
        f.write(b"half a checkpoint")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        files.atomic_write(tmp_path / "last.pt", interrupted)
    assert torch.equal(torch.load(tmp_path / "last.pt", weights_only=True)["w"], torch.arange(3)), "old file survives"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.json", "last.pt"]


def test_history_rows_round_trip_and_are_rewritten_atomically(tmp_path, monkeypatch):
    path = tmp_path / "history.csv"
    runs.append_history(path, {"epoch": 1, "loss": 0.5})
    runs.append_history(path, {"epoch": 2, "loss": 0.25})
    assert read_history(path) == [{"epoch": 1.0, "loss": 0.5}, {"epoch": 2.0, "loss": 0.25}]

    def broken_replace(*args):
        raise OSError("disk full")

    monkeypatch.setattr(files.os, "replace", broken_replace)
    with pytest.raises(OSError):
        runs.append_history(path, {"epoch": 3, "loss": 0.125})
    assert len(read_history(path)) == 2 and sorted(p.name for p in tmp_path.iterdir()) == ["history.csv"]


def test_load_run_names_an_unreadable_checkpoint(tmp_path):
    (tmp_path / "best.pt").write_bytes(b"garbage\n")
    with pytest.raises(ValueError, match="best.pt: not a moksori checkpoint"):
        evaluate.load_run(tmp_path)
    with pytest.raises(FileNotFoundError, match="no such run folder"):
        evaluate.load_run(tmp_path / "nope")


@pytest.mark.parametrize("epoch,step,expected", [
    (0, 0, 1e-3 * 1 / 20),  # warm-up: 2 epochs x 10 steps, first step
    (0, 9, 1e-3 * 10 / 20),
    (1, 9, 1e-3),  # last warm-up step reaches the peak
    (2, 0, 1e-3),  # cosine starts at the peak ...
    (6, 0, 1e-3 * 0.5),  # ... is at half way after half of the 80 post-warm-up steps ...
    (10, 0, 0.0),  # ... and ends at 0
])
def test_cosine_schedule_with_warm_up_at_known_steps(epoch, step, expected):
    lr = train.learning_rate(1e-3, "cosine", epoch, step, steps_per_epoch=10, epochs=10, warmup_epochs=2)
    assert lr == pytest.approx(expected, abs=1e-12)
    assert train.learning_rate(1e-3, "constant", epoch, step, 10, 10) == pytest.approx(1e-3, rel=1e-12)
    by_hand = 1e-3 * 0.5 * (1 + math.cos(math.pi * (3 * 10 + 5 - 20) / 80))  # epoch 3, step 5
    assert train.learning_rate(1e-3, "cosine", 3, 5, 10, 10, 2) == pytest.approx(by_hand)


def test_the_run_keeps_its_manifest_and_warns_when_the_source_changes(tmp_path):
    rows = [{"path": str(tmp_path / f"{s}.wav"), "speaker": s, "gender": "male", "age": "20s", "dialect": "",
             "split": ""} for s in ("a", "b", "c", "d", "e")]
    source = tmp_path / "m.csv"
    files.write_manifest(rows, source)
    trained = data.read_manifest(source, seed=0)
    config = runs.write_run_manifest(trained, source, tmp_path / "run")
    back = runs.read_run_manifest(tmp_path / "run", config)
    assert [r["split"] for r in back] == [r["split"] for r in trained]
    files.write_manifest(rows + [dict(rows[0], speaker="f", path=str(tmp_path / "f.wav"))], source)
    with pytest.warns(UserWarning, match="has changed since"):
        again = runs.read_run_manifest(tmp_path / "run", config)
    assert [r["split"] for r in again] == [r["split"] for r in trained], "the splits as trained, not recomputed"
