"""evaluate.py on the tiny run that tests/test_train.py trains: split report, ensembles, --wav, --plot, errors
(the --compare tables: tests/test_tables.py).

Every case calls evaluate.main(argv) in this process (conftest.evaluate_cli, or evaluate_here with pytest's own
capture): torch is imported once.

    python -m pytest tests/test_evaluate.py
"""
import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from scipy.signal import resample_poly

import evaluate
import data
from scale import checkpoints, files
from conftest import evaluate_cli


def evaluate_here(monkeypatch, capsys, tiny, *argv):
    monkeypatch.setenv("MOKSORI_CACHE", tiny["env"]["MOKSORI_CACHE"])
    code = evaluate.main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_split_report_prints_scores_baseline_and_confusion_tables(tiny):
    code, out, err = evaluate_cli(tiny, str(tiny["run"]))
    assert code == 0, err
    assert "acc" in out and "bal acc" in out and "macro-F1" in out and "majority" in out
    assert out.count("confusion matrix") == 3, out
    config = json.loads((tiny["run"] / "config.json").read_text(encoding="utf-8"))
    header = next(line for line in out.splitlines() if line.startswith("true \\ pred") and "강원" in line)
    assert header.split()[3:] == config["vocabs"]["dialect"]


def test_split_report_agrees_with_metrics_json(tiny, monkeypatch, capsys):
    """The test accuracy evaluate.py prints is the one train.py stored (both use best.pt, all windows)."""
    metrics = json.loads((tiny["run"] / "metrics.json").read_text(encoding="utf-8"))
    for split, key in (("test", "test_acc"), ("val", "val_acc"), ("train", "train_acc")):
        code, out, err = evaluate_here(monkeypatch, capsys, tiny, str(tiny["run"]), "--split", split)
        assert code == 0, err
        for task, m in metrics["tasks"].items():
            row = next(line.split() for line in out.splitlines() if line.startswith(task + " "))
            assert float(row[2]) == pytest.approx(m[key], abs=5e-4), (split, task, row, m[key])


def test_an_ensemble_scores_the_mean_of_its_runs_probabilities(tiny, tmp_path, monkeypatch, capsys):
    """The tiny run and a copy with other head weights, scored together: the accuracy evaluate.py prints is that
    of the two runs' averaged probabilities, computed here from mtl.predict; a run trained on other inputs
    is refused with one line."""
    import mtl
    from scale import runs
    from scale import store
    import torch
    other = tmp_path / "other"
    shutil.copytree(tiny["run"], other)
    best = checkpoints.load_checkpoint(other / "best.pt")
    generator = torch.Generator().manual_seed(1)
    best["model"] = {k: v + torch.randn(v.shape, generator=generator) if k.startswith("heads.") else v
                     for k, v in best["model"].items()}
    runs.save_checkpoint(best, other / "best.pt")
    code, out, err = evaluate_here(monkeypatch, capsys, tiny, str(tiny["run"]), str(other))
    assert code == 0 and out.startswith(f"ensemble of {tiny['run']}, {other}"), out + err

    config = json.loads((tiny["run"] / "config.json").read_text(encoding="utf-8"))
    found, rows, _ = store.build([r for r in data.read_manifest(tiny["run"] / "manifest.csv")
                                  if r["split"] == "test"], "mfcc_f0")
    single, mean = mtl.predict(checkpoints.load_run(tiny["run"])[1], found, "mfcc_f0"), {}
    for run in (tiny["run"], other):
        for task, p in mtl.predict(checkpoints.load_run(run)[1], found, "mfcc_f0").items():
            mean[task] = mean.get(task, 0.0) + p / 2
    labels = data.encode_labels(rows, config["vocabs"], config["tasks"])
    for i, task in enumerate(config["tasks"]):
        assert not np.allclose(mean[task], single[task]), "the copy must answer differently"
        row = next(line.split() for line in out.splitlines() if line.startswith(task + " "))
        assert float(row[2]) == pytest.approx(np.mean(mean[task].argmax(1) == labels[:, i]), abs=5e-4), (task, row)

    best["config"]["denoise"] = True  # trained on other inputs: averaging it in would mix two pipelines
    runs.save_checkpoint(best, other / "best.pt")
    code, out, err = evaluate_here(monkeypatch, capsys, tiny, str(tiny["run"]), str(other))
    assert code == 2 and err.strip().endswith("its denoise differ from " + f"{tiny['run']}'s; an ensemble needs the "
                                              "same"), err


def test_wav_profiles_a_stereo_44k_recording(tiny, tmp_path):
    """A training clip resampled to 44.1 kHz and made stereo: a label and a probability for each task."""

    row = next(r for r in data.read_manifest(tiny["manifest"]) if r["split"] == "test")
    y16, sr = sf.read(row["path"], dtype="float32")
    y44 = resample_poly(y16, 441, 160)  # 16 kHz -> 44.1 kHz
    wav = tmp_path / "voice.wav"
    sf.write(wav, np.stack([y44, 0.5 * y44], axis=1), 44100)  # (N, 2) stereo
    code, out, err = evaluate_cli(tiny, str(tiny["run"]), "--wav", str(wav))
    assert code == 0, err
    vocabs = json.loads((tiny["run"] / "config.json").read_text(encoding="utf-8"))["vocabs"]
    for task in ("age", "gender", "dialect"):
        line = next(line.split() for line in out.splitlines() if line.strip().startswith(task + " "))
        assert line[1] in vocabs[task] and 0.0 < float(line[2]) <= 1.0, line
    assert "4.0 s" in out


def test_plot_writes_pngs_or_says_matplotlib_is_missing(tiny, tmp_path, monkeypatch, capsys):
    run = tmp_path / "run"
    shutil.copytree(tiny["run"], run)
    code, out, err = evaluate_here(monkeypatch, capsys, tiny, str(run), "--plot")
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        assert code == 2 and "pip install matplotlib" in err, err
        return
    assert code == 0, err
    assert (run / "curves.png").is_file() and (run / "confusion_test_gender.png").is_file()


@pytest.mark.parametrize("case", ["no folder", "no checkpoint", "bad wav", "missing wav", "compare unfinished"])
def test_errors_are_one_line_with_exit_code_2(case, tiny, tmp_path, monkeypatch, capsys):
    empty = tmp_path / "empty_run"
    empty.mkdir()
    text = tmp_path / "notes.wav"
    text.write_text("not audio")
    argv = {"no folder": [str(tmp_path / "nope")], "no checkpoint": [str(empty)],
            "bad wav": [str(tiny["run"]), "--wav", str(text)],
            "missing wav": [str(tiny["run"]), "--wav", str(tmp_path / "absent.flac")],
            "compare unfinished": ["--compare", str(tiny["run"]), str(empty)]}[case]
    code, out, err = evaluate_here(monkeypatch, capsys, tiny, *argv)
    assert code == 2
    assert len(err.strip().splitlines()) == 1 and err.startswith("evaluate.py: error:"), err


def test_run_and_compare_together_is_a_usage_error(tiny, monkeypatch, capsys):
    with pytest.raises(SystemExit) as exit_:
        evaluate_here(monkeypatch, capsys, tiny, str(tiny["run"]), "--compare", str(tiny["run"]))
    assert exit_.value.code == 2


# ----------------------------------------------------------------------------- cross-corpus, folders, --compare
def fixed_predictions(monkeypatch, tables):
    """Make mtl.predict return known outputs: tables[task] (n_clips, n_classes), the clips in store order."""
    import mtl

    def known(model, found, kind, device="cpu", batch_size=64):
        return {t: np.asarray(p, dtype=np.float64)[:len(found)] for t, p in tables.items()}

    monkeypatch.setattr(mtl, "predict", known)


def test_cross_corpus_report_names_unseen_classes_and_missing_tasks(tiny, tmp_path, monkeypatch, capsys):
    """Another corpus of 4 clips: no age labels (skipped), one dialect the run never saw (counted as an error).
    Predictions are fixed, so every number is worked out by hand:
      gender truth  female female male male  predicted female male male male -> acc 3/4, balanced (1/2 + 1) / 2
      dialect truth 강원 강원 경상 평안(unseen)  predicted 강원 경상 경상 경상 -> acc 2/4,
              balanced over the 3 true classes (1/2 + 1 + 0) / 3 = 0.5"""
    config = json.loads((tiny["run"] / "config.json").read_text(encoding="utf-8"))
    vocab_g, vocab_d = config["vocabs"]["gender"], config["vocabs"]["dialect"]
    clips = [r for r in data.read_manifest(tiny["manifest"]) if r["split"] == "test"][:1] * 4
    other = [dict(clips[k], speaker=f"o{k}", split="test", age="", gender=g, dialect=d)
             for k, (g, d) in enumerate([("female", "강원"), ("female", "강원"), ("male", "경상"), ("male", "평안")])]
    files.write_manifest(other, tmp_path / "other.csv")
    one_hot = lambda names, vocab: np.eye(len(vocab))[[vocab.index(n) for n in names]]  # noqa: E731
    fixed_predictions(monkeypatch, {"gender": one_hot(["female", "male", "male", "male"], vocab_g),
                                    "dialect": one_hot(["강원", "경상", "경상", "경상"], vocab_d),
                                    "age": np.full((4, len(config["vocabs"]["age"])), 0.2)})
    code, out, err = evaluate_here(monkeypatch, capsys, tiny, str(tiny["run"]), "--manifest", str(tmp_path / "other.csv"))
    assert code == 0, err
    assert "cross-corpus" in out and str(tmp_path / "other.csv") in out and tiny["manifest"] in out
    assert "age: skipped, the manifest has no age labels" in out
    assert "dialect: classes the run never saw: 평안 (1 clips); they count as errors" in out
    gender = next(line.split() for line in out.splitlines() if line.startswith("gender "))
    dialect = next(line.split() for line in out.splitlines() if line.startswith("dialect "))
    assert gender[1:4] == ["4", "0.750", "0.750"], gender
    assert dialect[1:4] == ["4", "0.500", "0.500"], dialect
    table = out[out.index("dialect: confusion matrix"):].splitlines()
    assert table[-1].split()[0] == "평안" and sum(map(int, table[-1].split()[1:])) == 1, "an extra row, no column"


def test_a_folder_of_recordings_becomes_one_csv_row_per_file(tiny, tmp_path, monkeypatch, capsys):
    folder = tmp_path / "recordings"
    folder.mkdir()
    for name, seconds in (("a.wav", 1.0), ("b.flac", 2.5), ("c.wav", 4.0)):
        n = int(seconds * 16000)
        sf.write(folder / name, 0.3 * np.sin(2 * np.pi * 150 * np.arange(n) / 16000), 16000)
    (folder / "broken.wav").write_bytes(b"RIFF not really")
    config = json.loads((tiny["run"] / "config.json").read_text(encoding="utf-8"))
    probs = {t: np.tile(np.linspace(1, 2, len(v)) / np.linspace(1, 2, len(v)).sum(), (1, 1))
             for t, v in config["vocabs"].items() if t in config["tasks"]}
    fixed_predictions(monkeypatch, probs)
    code, out, err = evaluate_here(monkeypatch, capsys, tiny, str(tiny["run"]), "--wav", str(folder),
                                   "--out", str(tmp_path / "profiles.csv"))
    assert code == 0, err
    assert "broken.wav: unreadable audio" in err
    with open(tmp_path / "profiles.csv", encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [Path(r["path"]).name for r in rows] == ["a.wav", "b.flac", "broken.wav", "c.wav"]
    assert [r["duration_s"] for r in rows] == ["1.00", "2.50", "", "4.00"]
    assert rows[2]["error"].endswith("unreadable audio (Format not recognised.)") or "unreadable" in rows[2]["error"]
    gender = config["vocabs"]["gender"]  # 2 classes: p = (1/3, 2/3) -> the second class, runner-up the first
    assert (rows[0]["gender"], rows[0]["gender_p"], rows[0]["gender_next"], rows[0]["gender_next_p"]) == \
        (gender[1], "0.67", gender[0], "0.33")
    code, out, err = evaluate_here(monkeypatch, capsys, tiny, str(tiny["run"]), "--wav", str(folder), "--skip-bad",
                                   "--out", str(tmp_path / "good.csv"))
    assert code == 0 and len((tmp_path / "good.csv").read_text(encoding="utf-8").splitlines()) == 1 + 3


def test_save_writes_an_ensemble_as_a_run_folder_that_compare_lists(tiny, tmp_path):
    """The tiny run and a copy with other head weights: --save writes the scores the report prints (those of the
    averaged probabilities, test_an_ensemble_...), refuses a folder that holds anything, and --compare lists it."""
    from scale import runs
    import torch
    other = tmp_path / "other"
    shutil.copytree(tiny["run"], other)
    best = checkpoints.load_checkpoint(other / "best.pt")
    generator = torch.Generator().manual_seed(2)
    best["model"] = {k: v + 3 * torch.randn(v.shape, generator=generator) if k.startswith("heads.") else v
                     for k, v in best["model"].items()}
    runs.save_checkpoint(best, other / "best.pt")
    code, out, err = evaluate_cli(tiny, str(tiny["run"]), str(other), "--save", str(tmp_path / "ens"))
    assert code == 0, err
    saved = json.loads((tmp_path / "ens" / "metrics.json").read_text(encoding="utf-8"))
    assert saved["model"] == "ensemble" and saved["members"] == [str(tiny["run"]), str(other)]
    for task, m in saved["tasks"].items():
        row = next(line.split() for line in out.splitlines() if line.startswith(task + " "))
        assert (f"{m['test_acc']:.3f}", f"{m['test_balanced_acc']:.3f}") == (row[2], row[3]), (task, row, m)
    code, out, err = evaluate_cli(tiny, "--compare", str(tmp_path / "ens"), "--mean")
    assert code == 0 and out.splitlines()[1].startswith("ensemble mfcc_f0"), out + err
    code, out, err = evaluate_cli(tiny, str(tiny["run"]), "--save", str(other))
    assert code == 2 and "is not empty" in err and err.count("\n") == 1, err  # train.py's rule (scale/runs.py)


def test_a_damaged_baseline_run_folder_is_one_line(tiny, tmp_path):
    folder = tmp_path / "linear"
    folder.mkdir()
    shutil.copy(tiny["run"] / "config.json", folder / "config.json")
    (folder / "baseline.npz").write_bytes(b"PK\x03\x04 not really a zip archive")
    code, out, err = evaluate_cli(tiny, str(folder))
    assert code == 2 and err.startswith(f"evaluate.py: error: {folder / 'baseline.npz'}: unreadable"), err
    assert err.count("\n") == 1, err
