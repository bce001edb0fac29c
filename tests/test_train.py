"""train.py on a tiny synthetic corpus: the run folder, model selection, and clean failures (resume:
tests/test_resume.py).

The corpus (12 speakers x 3 clips of 4 s, synth_corpus.make_synth_corpus) and one 2-epoch run through the command line
are made once per test session in a temporary folder; $MOKSORI_CACHE points there, so nothing is written into
the checkout. Other runs call train.main in this process, which skips re-importing torch.

    python -m pytest tests/test_train.py
"""
import json
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import data
from scale import checkpoints
import mtl
import sampling
from scale import files
from conftest import ROOT, TINY

METRIC_KEYS = {"train_acc", "train_balanced_acc", "val_acc", "val_balanced_acc", "test_acc", "test_balanced_acc",
               "majority_baseline"}


def train_here(monkeypatch, capsys, tiny, *argv):
    """Run train.main(argv) in this process -> (exit code, stdout, stderr); sys.exit("message") counts as stderr."""
    import train
    monkeypatch.setenv("MOKSORI_CACHE", tiny["env"]["MOKSORI_CACHE"])
    code, message = 0, ""
    try:
        train.main(list(argv))
    except SystemExit as exit_:
        code, message = exit_.code, exit_.code if isinstance(exit_.code, str) else ""
    captured = capsys.readouterr()
    return code, captured.out, captured.err + message


def test_the_run_folder_holds_config_manifest_history_checkpoints_and_metrics(tiny):
    run = tiny["run"]
    metrics = json.loads((run / "metrics.json").read_text(encoding="utf-8"))
    assert set(metrics) == {"model", "input", "tasks", "epochs", "seconds", "device", "val_speakers"}
    assert (metrics["model"], metrics["input"], metrics["epochs"], metrics["device"]) == ("xvector", "mfcc_f0", 2, "cpu")
    assert set(metrics["tasks"]) == {"age", "gender", "dialect"}
    for task, m in metrics["tasks"].items():
        assert set(m) == METRIC_KEYS, task
        assert all(0.0 <= v <= 1.0 for v in m.values()), m

    config = json.loads((run / "config.json").read_text(encoding="utf-8"))
    for flag in ("manifest", "manifest_sha1", "model", "input", "tasks", "balance", "epochs", "batch_size", "lr",
                 "schedule", "warmup_epochs", "augment", "speaker_weight", "weight_decay", "device", "amp", "workers",
                 "seed", "out", "resume", "patience", "denoise", "skip_bad", "store_dtype"):
        assert flag in config, flag
    assert config["vocabs"]["gender"] == ["female", "male"] and len(config["vocabs"]["dialect"]) == 6

    history = (run / "history.csv").read_text(encoding="utf-8").splitlines()
    assert len(history) == 1 + 2, "header + one row per epoch"
    assert history[0].startswith("epoch,loss,age_train_acc")
    for name in ("best.pt", "last.pt", "manifest.csv"):
        assert (run / name).is_file()
    trained = data.read_manifest(run / "manifest.csv")
    assert [r["split"] for r in trained] == [r["split"] for r in data.read_manifest(tiny["manifest"])]
    assert not list(run.glob("*.tmp")), "atomic writes leave no temporary files"
    stdout = (tiny["root"] / "train_stdout.txt").read_text(encoding="utf-8")
    assert "parameters" in stdout and "majority" in stdout
    assert sum(line.strip()[:1].isdigit() for line in stdout.splitlines() if " | " in line) == 2, "one row per epoch"


def test_select_best_keeps_the_best_validation_epoch_and_select_last_the_final_one(tiny, tmp_path, monkeypatch,
                                                                                   capsys):
    """--select best: best.pt is the epoch whose mean validation score (balanced accuracies, history.csv) is the
    highest; --select last: best.pt is the last epoch, whatever validation says."""
    import csv
    for select in ("best", "last"):
        run = tmp_path / select
        flags = [f if f != "2" else "4" for f in TINY]  # 4 epochs
        code, out, err = train_here(monkeypatch, capsys, tiny, "--manifest", tiny["manifest"], *flags, "--lr", "0.01",
                                    "--select", select, "--out", str(run))
        assert code == 0, err
        history = list(csv.DictReader((run / "history.csv").open(encoding="utf-8")))
        scores = [np.mean([float(h[f"{t}_val_balanced_acc"]) for t in ("age", "gender", "dialect")]) for h in history]
        chosen = 1 + int(np.argmax(scores)) if select == "best" else len(history)
        assert len(history) == 4 and torch.load(run / "best.pt", weights_only=True)["epoch"] == chosen, (select, scores)


def test_cmn_is_saved_with_the_run_and_evaluation_applies_it(tiny, tmp_path, monkeypatch, capsys):
    """--cmn travels in config.json: the model that evaluation rebuilds centres the same cepstral rows (and
    predicts otherwise than the same weights without the centring)."""
    import features
    from extras import robust
    run = tmp_path / "cmn"
    code, out, err = train_here(monkeypatch, capsys, tiny, "--manifest", tiny["manifest"], *TINY, "--cmn",
                                "--out", str(run))
    assert code == 0, err
    config, model = checkpoints.load_run(run)
    assert config["cmn"] is True
    assert torch.equal(model.trunk.norm.options.centre, torch.from_numpy(robust.cepstral_rows(config["input"])))
    _, plain = checkpoints.load_run(run)
    plain.trunk.norm.options = None
    x = torch.randn(2, *features.input_shape(config["input"]), 300)
    with torch.no_grad():
        a, b = model(x), plain(x)
    assert any((a[t] - b[t]).abs().max() > 1e-4 for t in a)


def test_non_finite_loss_stops_with_a_clear_message(tiny, tmp_path, monkeypatch, capsys):
    real_loss = mtl.multitask_loss

    def nan_loss(*args, **kwargs):
        total, per_task = real_loss(*args, **kwargs)
        return total * float("nan"), per_task

    monkeypatch.setattr(mtl, "multitask_loss", nan_loss)
    code, out, err = train_here(monkeypatch, capsys, tiny, "--manifest", tiny["manifest"], *TINY,
                                "--out", str(tmp_path / "nan"))
    assert code not in (0, None)
    assert "loss became nan in epoch 1, step 1" in err and "--lr" in err, err
    assert not (tmp_path / "nan" / "metrics.json").exists()
    # a run that stopped inside its loop leaves Ctrl-C as it found it, not caught by its last.pt handler
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


BAD_FLAGS = [
    (["--model", "resnet"], "invalid choice"),
    (["--model", "cnn", "--input", "mel"], "valid inputs are mfcc, mfcc_f0"),
    (["--model", "cnn", "--tasks", "age", "--cascade"], "cascade needs two or more tasks"),
    (["--tasks", "age,age"], "distinct"),
    (["--augment", "spec,reverb"], "unknown reverb"),
    (["--model", "rawcnn", "--input", "raw", "--augment", "spec"], "raw waveform"),
    (["--model", "rawcnn", "--input", "raw", "--cmn"], "raw is the waveform"),
    (["--model", "logreg", "--cmn"], "centring sets the means"),
    (["--epochs", "0"], "argument --epochs: 0 is outside [1, 1000000]"),
    (["--batch-size", "-4"], "argument --batch-size: -4 is outside [1, 100000]"),
    (["--lr", "0"], "argument --lr: 0 is outside (0, 1]"),
    (["--lr", "nan"], "argument --lr: nan is outside (0, 1]"),
    (["--lr", "inf"], "argument --lr: inf is outside (0, 1]"),  # a diverged model would be the result
    (["--lr", "1e300"], "argument --lr: 1e300 is outside (0, 1]"),
    (["--weight-decay", "inf"], "argument --weight-decay: inf is outside [0, 1]"),
    (["--crop-s", "1e308"], "argument --crop-s: 1e308 is outside [0, 3600]"),
    (["--label-smoothing", "5"], "argument --label-smoothing: 5 is outside [0, 0.99]"),
    (["--seed", "-1"], "argument --seed: -1 is outside [0, 4294967295]"),
    (["--seed", str(2 ** 70)], f"argument --seed: {2 ** 70} is outside [0, 4294967295]"),
    (["--epochs", "2.5"], "argument --epochs: '2.5' is not a whole number"),
    (["--model", "cnn", "--tasks", "age", "--balance", "gender"], "--balance gender: not a trained class task"),
    (["--manifest", "no/such.csv"], "file not found"),
    (["--resume", "no/such/run"], "no last.pt"),
]
if not torch.cuda.is_available():
    BAD_FLAGS += [(["--device", "cuda"], "torch.cuda.is_available() is False"), (["--amp"], "--amp needs CUDA")]


@pytest.mark.parametrize("argv,reason", BAD_FLAGS, ids=[" ".join(a) for a, _ in BAD_FLAGS])
def test_bad_flags_fail_at_start_up_with_one_line(argv, reason, tiny, monkeypatch, capsys):
    code, out, err = train_here(monkeypatch, capsys, tiny, *argv)
    assert code == 2
    assert reason in err.strip().splitlines()[-1], err
    assert "Traceback" not in err


def test_bad_flag_through_the_command_line_has_no_traceback(tiny):
    result = subprocess.run([sys.executable, str(ROOT / "train.py"), "--model", "rawcnn", "--input", "mfcc"],
                            cwd=tiny["root"], env=tiny["env"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1].startswith("usage: train.py") is False
    assert "valid inputs are raw" in result.stderr and "Traceback" not in result.stderr, result.stderr


def test_bad_audio_is_one_line_error_or_skipped_with_skip_bad(tiny, tmp_path, monkeypatch, capsys):

    rows = data.read_manifest(tiny["manifest"])
    broken = tmp_path / "broken.wav"
    broken.write_text("not audio")
    rows[0] = {**rows[0], "path": str(broken)}  # a training clip that cannot be read
    manifest_csv = tmp_path / "manifest.csv"
    files.write_manifest(rows, manifest_csv)
    argv = ["--manifest", str(manifest_csv), *TINY, "--epochs", "1"]
    code, out, err = train_here(monkeypatch, capsys, tiny, *argv, "--out", str(tmp_path / "a"))
    assert code not in (0, None) and "Traceback" not in err
    assert err.strip().splitlines()[-1].startswith(f"train.py: error: {broken}"), err
    code, out, err = train_here(monkeypatch, capsys, tiny, *argv, "--skip-bad", "--out", str(tmp_path / "b"))
    assert code == 0, err
    assert "skipped 1 of" in err and "train 26" in out, (out, err)


def test_hps_overfits_eight_training_windows(tiny):
    """STYLE rule 15: on 8 real feature windows (1 s crops from the store) the multi-task loss falls to near zero."""
    from scale import store
    torch.manual_seed(0)
    rows = [r for r in data.read_manifest(tiny["manifest"]) if r["split"] == "train"][::3][:8]
    vocabs = data.build_vocabs(rows, data.TASKS)
    found, rows, _ = store.build(rows, "mfcc_f0", root=Path(tiny["env"]["MOKSORI_CACHE"]) / "store")
    x, lengths, y = sampling.Batches(found, data.encode_labels(rows, vocabs), 100)[[(i, 0) for i in range(8)]]
    x, lengths, y = torch.from_numpy(x), torch.from_numpy(lengths), torch.from_numpy(y)  # (8, 3, 14, 100), (8,), (8, 3)
    model = mtl.build_model("hps", "mfcc_f0", {t: len(vocabs[t]) for t in data.TASKS}, (3, 14))
    model.trunk.norm.set_statistics(*found.statistics())
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    for _ in range(60):
        loss, _ = mtl.multitask_loss(model(x, lengths), y, list(data.TASKS))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert loss.item() < 0.05, f"loss {loss.item():.3f} after 60 steps on 8 windows"


def test_a_manifest_without_test_rows_trains_and_writes_null_test_scores(tiny, tmp_path, monkeypatch, capsys):
    """The TIMIT sample has no test speakers: training must still finish, saying so, with null test scores."""

    rows = data.read_manifest(tiny["manifest"])
    for row in rows:
        row["split"] = "val" if row["split"] == "test" else row["split"]
    manifest_csv = tmp_path / "no_test.csv"
    files.write_manifest(rows, manifest_csv)
    code, out, err = train_here(monkeypatch, capsys, tiny, "--manifest", str(manifest_csv), *TINY[:2], "--batch-size",
                                "8", "--workers", "0", "--out", str(tmp_path / "run"))
    assert code == 0, err
    assert "no test rows" in out
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text(encoding="utf-8"))
    for task, scores in metrics["tasks"].items():
        assert scores["test_acc"] is None and scores["test_balanced_acc"] is None, (task, scores)
        assert scores["val_acc"] is not None, (task, scores)


def test_bad_manifest_and_unvalidatable_task_exit_2_with_one_line(tiny, tmp_path, monkeypatch, capsys):
    """A manifest missing a column, and one whose validation clips all lack an age label: exit code 2, one
    line naming the file."""

    broken = tmp_path / "broken.csv"
    broken.write_text("path,gender,age,split\na.wav,male,20s,train\n", encoding="utf-8")
    code, out, err = train_here(monkeypatch, capsys, tiny, "--manifest", str(broken), *TINY)
    assert code == 2 and "missing column(s) speaker" in err.strip().splitlines()[-1] and "Traceback" not in err, err

    rows = data.read_manifest(tiny["manifest"])
    for row in rows:
        row["age"] = "" if row["split"] == "val" else row["age"]
    blank = tmp_path / "blank_val_age.csv"
    files.write_manifest(rows, blank)
    code, out, err = train_here(monkeypatch, capsys, tiny, "--manifest", str(blank), *TINY, "--tasks",
                                "age,gender", "--out", str(tmp_path / "run"))
    assert code == 2 and "no validation clip has a known age label" in err.strip().splitlines()[-1], err
    code, out, err = train_here(monkeypatch, capsys, tiny, "--manifest", str(blank), *TINY,
                                "--out", str(tmp_path / "default"))  # the default tasks leave age out
    assert code == 0 and "heads ['gender', 'dialect']" in out, err


# ----------------------------------------------------------------------------- any column, years: the TIMIT sample
@pytest.fixture(scope="module")
def timit_manifest(tmp_path_factory, timit_dir):
    """The 16-speaker TIMIT sample as a manifest (education and age_years columns included)."""
    from corpora import timit
    path = tmp_path_factory.mktemp("timit") / "timit.csv"
    files.write_manifest(timit.timit_rows(timit_dir), path)
    return path


@pytest.fixture(scope="module")
def timit_dir():  # a module-scoped twin of conftest's timit_dir, for the module-scoped manifest
    from conftest import timit_sample_dir
    found = timit_sample_dir()
    if found is None:
        pytest.skip("TIMIT sample not found (../shared/data/timit_sample or $MOKSORI_TIMIT)")
    return found


@pytest.mark.slow
def test_timit_trains_and_evaluates_any_column_and_years(timit_manifest, tiny, tmp_path, monkeypatch, capsys):
    """End to end on real speech: education (HS/AS/BS/MS/PHD) as a task beside gender, and age in years as a
    regression head scored by its mean absolute error; then evaluate.py reads the run and profiles a clip."""
    from conftest import evaluate_cli
    run = tmp_path / "run"
    code, out, err = train_here(monkeypatch, capsys, tiny, "--manifest", str(timit_manifest), "--tasks",
                                "gender,education,age_years", "--epochs", "1", "--batch-size", "8", "--workers", "0",
                                "--out", str(run))
    assert code == 0, out + err
    metrics = json.loads((run / "metrics.json").read_text(encoding="utf-8"))
    m = metrics["tasks"]["age_years"]
    assert m["train_mae"] > 0 and m["val_mae"] > 0 and m["test_mae"] is None, m  # no TIMIT test speakers here
    assert "MAE" in out
    vocab = json.loads((run / "config.json").read_text(encoding="utf-8"))["vocabs"]["education"]
    assert set(vocab) <= {"HS", "AS", "BS", "MS", "PHD"} and len(vocab) >= 2
    code, report, err = evaluate_cli(tiny, run, "--split", "val")
    assert code == 0 and "education" in report and "age_years" in report, report + err
    wav = data.read_manifest(timit_manifest)[0]["path"]
    code, profile, err = evaluate_cli(tiny, run, "--wav", wav)
    assert code == 0 and "education" in profile and "years" in profile, profile + err
