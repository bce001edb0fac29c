"""scale/runs.py and scale/files.py: atomic run files, the learning-rate schedule at known steps, the manifest kept
with a run, and a run folder that belongs to one run (two trainings on one folder, --out over a corpus or a
recording, a data command over a file that is not a manifest).

    python -m pytest tests/test_runs.py
"""
import json
import math
import os
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf
import torch

import data
from corpora import cli as corpora_cli
from scale import checkpoints
import train
from corpora.text import read_json
from extras.plots import read_history
from scale import files, runs
from conftest import ROOT, TINY, evaluate_cli, one_line_error, with_rows
from test_train import train_here

SR = 16000


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
        checkpoints.load_run(tmp_path)
    with pytest.raises(FileNotFoundError, match="no such run folder"):
        checkpoints.load_run(tmp_path / "nope")


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
    back = checkpoints.read_run_manifest(tmp_path / "run", config)
    assert [r["split"] for r in back] == [r["split"] for r in trained]
    files.write_manifest(rows + [dict(rows[0], speaker="f", path=str(tmp_path / "f.wav"))], source)
    with pytest.warns(UserWarning, match="has changed since"):
        again = checkpoints.read_run_manifest(tmp_path / "run", config)
    assert [r["split"] for r in again] == [r["split"] for r in trained], "the splits as trained, not recomputed"


# ----------------------------------------------------------------------------- 1-3: a run folder belongs to one run
def test_a_folder_locked_by_a_live_run_refuses_a_second_one(tiny, tmp_path, monkeypatch, capsys):
    """This process holds the folder (as a training run does); a second train.py on it stops with one line
    naming the holder, and writes nothing there."""
    out = tmp_path / "shared"
    runs.claim(out)
    try:
        result = subprocess.run([sys.executable, str(ROOT / "train.py"), "--manifest", tiny["manifest"], *TINY,
                                 "--out", str(out)], cwd=tiny["root"], env=tiny["env"], capture_output=True,
                                text=True, timeout=300)
    finally:
        runs.release(out)
    assert result.returncode == 2, result.stdout + result.stderr
    one_line_error(result.stderr, "another run is writing there", f"process {os.getpid()}")
    assert sorted(p.name for p in out.iterdir()) == [runs.LOCK]


@pytest.mark.slow
def test_two_runs_started_on_one_folder_at_once_leave_one_whole_run(tiny, tmp_path):
    """Seeds 0 and 1 started together on one --out: one finishes, the other is refused with one line, and the
    folder holds the winner's config, manifest, checkpoints and history, nothing of the loser's."""
    out = tmp_path / "same"
    procs = [subprocess.Popen([sys.executable, str(ROOT / "train.py"), "--manifest", tiny["manifest"],
                               *TINY[:TINY.index("--seed")], *TINY[TINY.index("--seed") + 2:], "--seed", str(seed),
                               "--model", "hps",
                               "--out", str(out)], cwd=tiny["root"], env=tiny["env"], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for seed in (0, 1)]
    results = [(p.wait(timeout=300), *p.communicate()) for p in procs]
    codes = sorted(code for code, _, _ in results)
    assert codes == [0, 2], results
    winner = [seed for seed, (code, _, _) in zip((0, 1), results) if code == 0][0]
    loser_err = next(err for code, _, err in results if code == 2)
    one_line_error(loser_err, str(out))
    assert "another run is writing there" in loser_err or "is not empty" in loser_err, loser_err
    config = json.loads((out / "config.json").read_text(encoding="utf-8"))
    assert config["seed"] == winner
    for name in ("best.pt", "last.pt"):
        assert checkpoints.load_checkpoint(out / name)["config"]["seed"] == winner
    assert len((out / "history.csv").read_text(encoding="utf-8").splitlines()) == 1 + 2


def test_out_over_a_corpus_folder_is_refused_before_anything_is_written(tiny, tmp_path, monkeypatch, capsys):
    corpus = tmp_path / "corpusA"
    corpus.mkdir()
    manifest = with_rows(tiny, corpus, lambda rows: None, "manifest.csv")
    before = manifest.read_bytes()
    code, out, err = train_here(monkeypatch, capsys, tiny, "--manifest", str(manifest), *TINY, "--out", str(corpus))
    assert code == 2
    one_line_error(err, "is not empty", "manifest.csv")
    assert manifest.read_bytes() == before and sorted(p.name for p in corpus.iterdir()) == ["manifest.csv"]


def test_evaluate_out_never_replaces_a_recording_or_a_runs_file(tiny, tmp_path):
    recording = tmp_path / "rec.wav"
    sf.write(recording, (0.3 * np.sin(2 * np.pi * 150 * np.arange(2 * SR) / SR)).astype(np.float32), SR)
    before = recording.read_bytes()
    for target in (recording, tiny["run"] / "manifest.csv", tiny["run"] / "config.json"):
        saved = target.read_bytes()
        code, out, err = evaluate_cli(tiny, tiny["run"], "--wav", recording, "--out", target)
        assert code == 2 and "is not replaced" in err and target.read_bytes() == saved, err
    assert recording.read_bytes() == before
    code, out, err = evaluate_cli(tiny, tiny["run"], "--wav", recording, "--out", tmp_path / "profiles.csv")
    assert code == 0, err
    code, out, err = evaluate_cli(tiny, tiny["run"], "--wav", recording, "--out", tmp_path / "profiles.csv")
    assert code == 0, "its own profiles CSV may be written again"


def test_data_commands_never_replace_a_file_that_is_not_a_manifest(tmp_path):
    label = tmp_path / "labels.json"
    label.write_text('{"speaker": "x"}', encoding="utf-8")
    code = corpora_cli.main(["timit", "--root", str(tmp_path), "--out", str(label)])
    assert code == 2 and label.read_text(encoding="utf-8") == '{"speaker": "x"}'
    other = tmp_path / "corpus"
    other.mkdir()
    (other / "manifest.csv").write_text("path,speaker\nmine.wav,me\n", encoding="utf-8")
    assert corpora_cli.main(["synth", "--out", str(other), "--speakers", "2", "--utterances", "1"]) == 2
    assert (other / "manifest.csv").read_text(encoding="utf-8") == "path,speaker\nmine.wav,me\n"
