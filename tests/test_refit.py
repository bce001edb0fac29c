"""train.py --refit RUN: the last step of model selection (refit on training + validation speakers).

RUN's validation score chose an epoch count (its best.pt); the refit trains a new model with RUN's settings,
seed and learning-rate schedule on RUN's training and validation speakers together, stops after that many
epochs and tests once. RUN here is the session's tiny 2-epoch run (conftest.tiny), with its best.pt's epoch
rewritten where a test needs a known answer.

    python -m pytest tests/test_refit.py
"""
import json

import pytest
import shutil

from scale import checkpoints, runs
import data
from conftest import TINY
from test_train import train_here


def refit_of(tiny, tmp_path, best_epoch, schedule_epochs=2):
    """A copy of the tiny run whose best.pt says it was chosen at `best_epoch` of a `schedule_epochs` run."""
    run = tmp_path / "run"
    shutil.copytree(tiny["run"], run)
    best = checkpoints.load_checkpoint(run / "best.pt")
    best["epoch"], best["config"]["epochs"] = best_epoch, schedule_epochs
    runs.save_checkpoint(best, run / "best.pt")
    return run


def test_refit_trains_on_training_and_validation_speakers_for_the_chosen_epochs(tiny, tmp_path, monkeypatch, capsys):
    run = refit_of(tiny, tmp_path, best_epoch=1, schedule_epochs=4)
    seen = []  # (epoch, total epochs of the schedule) at every optimiser step
    import train
    learning_rate = train.learning_rate
    monkeypatch.setattr(train, "learning_rate", lambda base, schedule, epoch, step, n, epochs, warm=0.0:
                        seen.append((epoch, epochs)) or learning_rate(base, schedule, epoch, step, n, epochs, warm))
    out_dir = tmp_path / "refit"
    code, out, err = train_here(monkeypatch, capsys, tiny, "--refit", str(run), "--out", str(out_dir), "--workers", "0")
    assert code == 0, err
    assert "refit of" in out and "1 epochs (its best.pt) of its 4-epoch schedule" in out, out

    before, after = data.read_manifest(run / "manifest.csv"), data.read_manifest(out_dir / "manifest.csv")
    speakers = {s: {r["speaker"] for r in rows if r["split"] == s} for rows in (before,) for s in ("train", "val", "test")}
    assert {r["speaker"] for r in after if r["split"] == "train"} == speakers["train"] | speakers["val"]
    assert [r["path"] for r in after if r["split"] == "test"] == [r["path"] for r in before if r["split"] == "test"]
    assert not any(r["split"] == "val" for r in after)

    assert {e for e, _ in seen} == {0} and {n for _, n in seen} == {4}, "one epoch of RUN's 4-epoch schedule"
    assert len((out_dir / "history.csv").read_text(encoding="utf-8").splitlines()) == 1 + 1
    config = json.loads((out_dir / "config.json").read_text(encoding="utf-8"))
    source = json.loads((run / "config.json").read_text(encoding="utf-8"))
    assert (config["refit"], config["refit_epochs"]) == (str(run), 1)
    for key in ("model", "input", "tasks", "lr", "seed", "batch_size", "augment", "vocabs", "balance"):
        assert config[key] == source[key], key
    metrics = json.loads((out_dir / "metrics.json").read_text(encoding="utf-8"))
    for task, m in metrics["tasks"].items():
        assert m["val_acc"] is None and 0.0 <= m["test_acc"] <= 1.0, (task, m)
    assert checkpoints.load_checkpoint(out_dir / "best.pt")["epoch"] == 1
    assert json.loads((out_dir / "calibration.json").read_text(encoding="utf-8")) == \
        json.loads((run / "calibration.json").read_text(encoding="utf-8")), "no validation speakers: RUN's temperatures"


def test_refit_of_a_refit_and_changed_settings_are_refused(tiny, tmp_path, monkeypatch, capsys):
    run = refit_of(tiny, tmp_path, best_epoch=1)
    code, out, err = train_here(monkeypatch, capsys, tiny, "--refit", str(run), "--lr", "0.1")
    assert code == 2 and "only --out, --workers, --device, --amp may change (got --lr)" in err, err
    code, out, err = train_here(monkeypatch, capsys, tiny, "--refit", str(tmp_path / "nothing"))
    assert code == 2 and "no best.pt there" in err.strip().splitlines()[-1], err
    first = tmp_path / "first"
    code, out, err = train_here(monkeypatch, capsys, tiny, "--refit", str(run), "--out", str(first), "--workers", "0")
    assert code == 0, err
    code, out, err = train_here(monkeypatch, capsys, tiny, "--refit", str(first))
    assert code == 2 and "itself a refit" in err.strip().splitlines()[-1], err


def test_a_refused_model_input_pair_leaves_no_run_folder(tiny, tmp_path, monkeypatch, capsys):
    """--model cnn --input mel without --tasks is refused when the tasks are settled from the manifest: before
    the run folder (and its manifest.csv) is written, not after."""
    monkeypatch.chdir(tmp_path)
    code, out, err = train_here(monkeypatch, capsys, tiny, "--manifest", tiny["manifest"], *TINY, "--model", "cnn",
                                "--input", "mel")
    assert code == 2 and "valid inputs are mfcc, mfcc_f0" in err, err
    assert not (tmp_path / "runs").exists()


@pytest.mark.slow
def test_the_x_vector_recipe_refits_on_its_own_and_the_original_recipe_does_not(tiny, tmp_path, monkeypatch, capsys):
    """Without --no-auto-refit the default trunk (xvector) tests its run, then refits it (train.py --refit RUN)
    into RUN/refit: the final model, trained on the training and validation speakers for the epochs of RUN's
    best.pt. The original project's hps keeps its best validation epoch and makes no refit."""
    flags = [f for f in TINY if f != "--no-auto-refit"]
    run = tmp_path / "xv"
    code, out, err = train_here(monkeypatch, capsys, tiny, "--manifest", tiny["manifest"], *flags, "--out", str(run))
    assert code == 0, out + err
    assert f"python train.py --refit {run} --out {run / 'refit'}" in out, out
    config = json.loads((run / "refit" / "config.json").read_text(encoding="utf-8"))
    assert config["refit"] == str(run) and config["refit_epochs"] == checkpoints.load_checkpoint(run / "best.pt")["epoch"]
    speakers = {r["speaker"] for r in data.read_manifest(run / "manifest.csv") if r["split"] in ("train", "val")}
    assert {r["speaker"] for r in data.read_manifest(run / "refit" / "manifest.csv") if r["split"] == "train"} \
        == speakers
    assert (run / "refit" / "metrics.json").is_file() and (run / "metrics.json").is_file()

    hps = tmp_path / "hps"
    code, out, err = train_here(monkeypatch, capsys, tiny, "--manifest", tiny["manifest"], *flags, "--model", "hps",
                                "--out", str(hps))
    assert code == 0 and not (hps / "refit").exists(), out + err


def test_the_refit_of_a_resumed_run_is_a_refit_not_a_resume(tiny, tmp_path):
    """A run continued with --resume saves resume=RUN in its settings; its auto-refit must not inherit that (it once
    did, and crashed reading a checkpoint it never loaded)."""
    run = refit_of(tiny, tmp_path, best_epoch=2)
    best = checkpoints.load_checkpoint(run / "best.pt")
    best["config"]["resume"] = str(run)
    runs.save_checkpoint(best, run / "best.pt")
    import train
    args, ckpt = train.parse(["--refit", str(run), "--out", str(tmp_path / "refit")])
    assert args.resume is None and ckpt is None and args.refit == str(run)
    assert args.manifest == str(run / "manifest.csv") and args.refit_epochs == 2
