"""--resume: a run continued from last.pt ends exactly where an uninterrupted one ends -- after a finished epoch,
and after Ctrl-C in the middle of one -- keeps the splits and vocabularies it trained with, refuses settings
that may not change, and says in one line what is wrong with a damaged last.pt or a missing best.pt.

    python -m pytest tests/test_resume.py
"""
import json
import shutil
import signal
from pathlib import Path

import pytest
import torch

import data
import mtl
from scale import checkpoints, files, runs
from conftest import TINY, one_line_error
from test_train import train_here


def weights(run_dir, name="last.pt"):
    return torch.load(Path(run_dir) / name, weights_only=True)["model"]


def same_metrics(a, b):
    """metrics.json of two runs, without the wall time."""
    ma, mb = (json.loads((Path(d) / "metrics.json").read_text(encoding="utf-8")) for d in (a, b))
    ma.pop("seconds"), mb.pop("seconds")
    assert ma == mb, f"\n{ma}\n!=\n{mb}"


def assert_same_weights(a, b):
    wa, wb = weights(a), weights(b)
    assert wa.keys() == wb.keys()
    worst = max((wa[k].double() - wb[k].double()).abs().max().item() for k in wa if wa[k].numel())
    assert worst < 1e-7, f"largest weight difference {worst:.3g}"


def uninterrupted(tiny, tmp_path, monkeypatch, capsys):
    """A 2-epoch reference run made in this process: the same torch thread count as the runs it is compared
    with (float sums come out bit-identical only with the same number of threads; other test modules call
    torch.set_num_threads(1) in a module fixture)."""
    run = tmp_path / "uninterrupted"
    code, out, err = train_here(monkeypatch, capsys, tiny, "--manifest", tiny["manifest"], *TINY, "--out", str(run))
    assert code == 0, err
    return run


def test_resume_after_a_finished_epoch_equals_an_uninterrupted_run(tiny, tmp_path, monkeypatch, capsys):
    """--epochs 1, then --resume with --epochs 2 == an uninterrupted 2-epoch run (same seed)."""
    reference = uninterrupted(tiny, tmp_path, monkeypatch, capsys)
    run = tmp_path / "split"
    first = [a if a != "2" else "1" for a in TINY]  # --epochs 1
    code, out, err = train_here(monkeypatch, capsys, tiny, "--manifest", tiny["manifest"], *first, "--out", str(run))
    assert code == 0, err
    code, out, err = train_here(monkeypatch, capsys, tiny, "--resume", str(run), "--epochs", "2")
    assert code == 0, err
    assert "resumed" in out
    same_metrics(run, reference)
    assert_same_weights(run, reference)
    assert len((run / "history.csv").read_text().splitlines()) == 3


@pytest.mark.parametrize("at, said, step", [(5, "1 epochs and 2 steps", 2), (3, "0 epochs and 3 steps", 3)])
def test_ctrl_c_mid_epoch_saves_last_pt_and_resume_equals_an_uninterrupted_run(tiny, tmp_path, monkeypatch, capsys,
                                                                                at, said, step):
    """Ctrl-C (a real SIGINT, sent during the 5th loss computation = epoch 2, step 2 of 3; or the 3rd = the last
    step of epoch 1, before its validation) finishes that step, writes last.pt and says how to resume; the resumed
    run ends exactly where the uninterrupted one did."""
    reference = uninterrupted(tiny, tmp_path, monkeypatch, capsys)
    run, calls = tmp_path / "interrupted", []
    real_loss = mtl.multitask_loss

    def loss_then_ctrl_c(*args, **kwargs):
        calls.append(1)
        if len(calls) == at:
            signal.raise_signal(signal.SIGINT)
        return real_loss(*args, **kwargs)

    monkeypatch.setattr(mtl, "multitask_loss", loss_then_ctrl_c)
    handler = signal.getsignal(signal.SIGINT)
    try:
        code, out, err = train_here(monkeypatch, capsys, tiny, "--manifest", tiny["manifest"], *TINY, "--out", str(run))
    finally:
        signal.signal(signal.SIGINT, handler)
    assert code == 130, err
    assert f"stopped after {said}" in err and f"--resume {run}" in err, err
    assert torch.load(run / "last.pt", weights_only=True)["step"] == step
    assert not (run / "metrics.json").exists()

    monkeypatch.setattr(mtl, "multitask_loss", real_loss)
    code, out, err = train_here(monkeypatch, capsys, tiny, "--resume", str(run))
    assert code == 0, err
    same_metrics(run, reference)
    assert_same_weights(run, reference)


def test_resume_refuses_changed_settings(tiny, monkeypatch, capsys):
    code, out, err = train_here(monkeypatch, capsys, tiny, "--resume", str(tiny["run"]), "--lr", "0.1")
    assert code == 2 and "may change (got --lr)" in err, err


def test_resume_keeps_the_splits_and_vocabularies_it_trained_with(tiny, tmp_path, monkeypatch, capsys):
    """The source manifest changes between the first epoch and --resume (a new speaker with a new dialect, empty
    split cells recomputed): the resumed run still trains on the run's own manifest.csv and the checkpoint's
    vocabularies, says so, and ends where an uninterrupted run ends."""
    rows = data.read_manifest(tiny["manifest"])
    source = tmp_path / "source.csv"
    files.write_manifest([dict(r, split="") for r in rows], source)  # splits assigned by speaker, seeded
    reference = tmp_path / "reference"
    code, _, err = train_here(monkeypatch, capsys, tiny, "--manifest", str(source), *TINY, "--out", str(reference))
    assert code == 0, err
    run = tmp_path / "run"
    first = [a if a != "2" else "1" for a in TINY]  # --epochs 1
    code, _, err = train_here(monkeypatch, capsys, tiny, "--manifest", str(source), *first, "--out", str(run))
    assert code == 0, err
    newcomer = dict(rows[0], speaker="newcomer", dialect="평안", split="")
    files.write_manifest([dict(r, split="") for r in rows] + [newcomer], source)  # moves speakers between splits
    code, out, err = train_here(monkeypatch, capsys, tiny, "--resume", str(run), "--epochs", "2")
    assert code == 0, err
    assert "warning:" in err and "has changed since" in err, err  # one line (scale/console.py), not a traceback
    config = json.loads((run / "config.json").read_text(encoding="utf-8"))
    assert "평안" not in config["vocabs"]["dialect"] and len(data.read_manifest(run / "manifest.csv")) == len(rows)
    same_metrics(run, reference)
    assert_same_weights(run, reference)


def test_resume_with_bad_saved_settings_or_no_best_pt_is_one_line_before_any_work(tiny, tmp_path, monkeypatch,
                                                                                  capsys):
    run = tmp_path / "run"
    shutil.copytree(tiny["run"], run)
    last = checkpoints.load_checkpoint(run / "last.pt")
    for key, value, word in (("lr", "fast", "not a number"), ("epochs", 2.5, "not a whole number"),
                             ("input", "video", "not one of")):
        broken = dict(last, config={**last["config"], key: value})
        runs.save_checkpoint(broken, run / "last.pt")
        code, out, err = train_here(monkeypatch, capsys, tiny, "--resume", str(run))
        assert code == 2 and "epoch" not in out, out
        one_line_error(err, "last.pt", key, word)
    runs.save_checkpoint(dict(last, config={**last["config"], "workers": 40}), run / "last.pt")
    (run / "best.pt").unlink()
    code, out, err = train_here(monkeypatch, capsys, tiny, "--resume", str(run), "--workers", "0", "--epochs", "3")
    assert code == 2 and "epoch" not in out, out  # --workers may override a saved 40; best.pt is missing
    one_line_error(err, "best.pt is missing")


def test_resume_of_a_run_stopped_before_its_first_epoch_says_to_start_it_again(tiny, tmp_path, monkeypatch, capsys):
    """Issue 30, case 13: a folder left by a run stopped before epoch 1 (its lock, config.json, manifest.csv, no
    last.pt): --resume said only "no last.pt there", while a new run said "not empty ... continue with --resume".
    Now --resume says the run never finished an epoch and to start it again with --out, which reuses the folder."""
    run = tmp_path / "stopped"
    run.mkdir()
    (run / runs.LOCK).write_text("4242\n", encoding="ascii")
    for name in ("config.json", "manifest.csv"):
        shutil.copy(tiny["run"] / name, run / name)
    code, out, err = train_here(monkeypatch, capsys, tiny, "--resume", str(run))
    assert code == 2 and "epoch" not in out, out
    one_line_error(err, f"--resume {run}: no last.pt there to continue from",
                   "stopped before its first epoch ended: start it again with --out")


def damaged(last, how):
    """A copy of a last.pt checkpoint (dict) damaged the way `how` says."""
    config = dict(last["config"])
    if how.startswith("no "):
        config.pop(how[3:])
    elif how == "refit_epochs '3'":
        config["refit_epochs"] = "3"
    elif how == "lr inf":
        config["lr"] = float("inf")
    return dict(last, config=config)


@pytest.mark.parametrize("how, words", [
    ("best.pt copied over last.pt", ["not a last.pt this run can go on from (no optimizer, scaler, step"]),
    ("no epochs", ["not a last.pt this run can go on from (no epochs)"]),
    ("no manifest", ["not a last.pt this run can go on from (no manifest)"]),
    ("refit_epochs '3'", ["saved setting refit_epochs='3' is not a whole number"]),
    ("lr inf", ["saved setting lr=inf", "inf is outside (0, 1]"])])
def test_a_damaged_last_pt_is_one_line_before_any_work(tiny, tmp_path, monkeypatch, capsys, how, words):
    """Issue 30, case 16: `cp best.pt last.pt; --resume` was KeyError 'optimizer'; a config without epochs or
    manifest a KeyError; refit_epochs "3" a TypeError; a saved lr of inf trained a NaN model. Each is now one line
    naming last.pt, exit code 2, before any data is read."""
    run = tmp_path / "run"
    shutil.copytree(tiny["run"], run)
    if how == "best.pt copied over last.pt":
        shutil.copy(run / "best.pt", run / "last.pt")  # weights, but not where training stood
    else:
        torch.save(damaged(checkpoints.load_checkpoint(run / "last.pt"), how), run / "last.pt")
    code, out, err = train_here(monkeypatch, capsys, tiny, "--resume", str(run))
    assert code == 2 and "epoch" not in out and "data " not in out, out
    one_line_error(err, f"train.py: error: {run / 'last.pt'}: ", *words)
