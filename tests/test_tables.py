"""tables.py through `python evaluate.py --compare [--mean]`: one row per run or per recipe, accuracy beside
balanced accuracy, means and spreads worked out by hand, settings saved before they existed, ensembles.

    python -m pytest tests/test_tables.py
"""
import json
import shutil

from scale import tables
from conftest import evaluate_cli


def test_compare_prints_one_row_per_run(tiny, tmp_path):
    other = tmp_path / "other"
    shutil.copytree(tiny["run"], other)
    metrics = json.loads((other / "metrics.json").read_text(encoding="utf-8"))
    metrics["input"] = "mfcc"
    (other / "metrics.json").write_text(json.dumps(metrics), encoding="utf-8")
    code, out, err = evaluate_cli(tiny, "--compare", str(tiny["run"]), str(other))
    assert code == 0, err
    rows = [line for line in out.splitlines() if line.startswith("xvector")]
    assert len(rows) == 2 and "mfcc_f0" in rows[0] and " mfcc " in rows[1], out
    gender_train = json.loads((tiny["run"] / "metrics.json").read_text())["tasks"]["gender"]["train_acc"]
    assert f"{gender_train:5.3f}" in rows[0]


def test_compare_merges_single_task_runs_of_one_model(tiny, tmp_path):
    """Two single-task runs of cnn/mfcc_f0 (gender, then dialect) share one row; a second gender run gets its own."""
    base = json.loads((tiny["run"] / "metrics.json").read_text(encoding="utf-8"))
    folders = []
    for name, task, acc in [("g", "gender", 0.111), ("d", "dialect", 0.222), ("g2", "gender", 0.333)]:
        folder = tmp_path / name
        folder.mkdir()
        m = {**base, "model": "cnn", "tasks": {task: {**base["tasks"][task], "test_acc": acc}}}
        (folder / "metrics.json").write_text(json.dumps(m), encoding="utf-8")
        folders.append(str(folder))
    code, out, err = evaluate_cli(tiny, "--compare", *folders)
    assert code == 0, err
    rows = [line for line in out.splitlines() if line.startswith("cnn")]
    assert len(rows) == 2, out
    assert "0.111" in rows[0] and "0.222" in rows[0] and "0.333" in rows[1], out


def test_compare_shows_balanced_accuracy_beside_accuracy(tiny, tmp_path):
    folder = tmp_path / "run"
    folder.mkdir()
    scores = {"train_acc": 0.9, "train_balanced_acc": 0.8, "val_acc": 0.7, "val_balanced_acc": 0.6,
              "test_acc": 0.5, "test_balanced_acc": 0.4, "majority_baseline": 0.3}
    (folder / "metrics.json").write_text(json.dumps({"model": "xvector", "input": "mel", "tasks": {"age": scores}}))
    code, out, err = evaluate_cli(tiny, "--compare", str(folder))
    row = next(line for line in out.splitlines() if line.startswith("xvector"))
    assert code == 0 and "0.900 0.700 0.500 | 0.800 0.600 0.400" in row, out
    code, out, err = evaluate_cli(tiny, "--compare", str(folder), "--metric", "balanced")
    row = next(line for line in out.splitlines() if line.startswith("xvector"))
    assert "0.800 0.600 0.400" in row and "0.900" not in row, out


def test_compare_mean_makes_one_row_per_recipe_with_mean_and_spread(tiny, tmp_path):
    """Three seeds of one recipe and one run with another learning rate: two rows; the first shows the mean and
    the sample standard deviation of the three test (or validation) accuracies, worked out by hand."""
    config = json.loads((tiny["run"] / "config.json").read_text(encoding="utf-8"))
    base = json.loads((tiny["run"] / "metrics.json").read_text(encoding="utf-8"))
    folders = []
    for name, seed, lr, acc in [("s0", 0, 1e-3, 0.70), ("s1", 1, 1e-3, 0.74), ("s2", 2, 1e-3, 0.81), ("lr", 0, 0.1, 0.5)]:
        folder = tmp_path / name
        folder.mkdir()
        (folder / "config.json").write_text(json.dumps({**config, "seed": seed, "lr": lr, "out": str(folder)}),
                                            encoding="utf-8")
        m = {**base, "tasks": {**base["tasks"], "gender": {**base["tasks"]["gender"], "test_acc": acc,
                                                            "val_acc": acc - 0.1}}}
        (folder / "metrics.json").write_text(json.dumps(m), encoding="utf-8")
        folders.append(str(folder))
    code, out, err = evaluate_cli(tiny, "--compare", *folders, "--mean")
    assert code == 0, err
    rows = [line for line in out.splitlines() if line.startswith("xvector")]
    assert len(rows) == 2 and rows[0].split()[2:4] == ["lr=0.001", "3"] and rows[1].split()[2:4] == ["lr=0.1", "1"], out
    # mean 0.75; deviations -0.05, -0.01, 0.06: sqrt((0.0025 + 0.0001 + 0.0036) / 2) = 0.0557
    assert "0.750 ± 0.056" in rows[0] and "0.500 ± 0.000" in rows[1], out
    code, out, err = evaluate_cli(tiny, "--compare", *folders, "--mean", "--split", "val")  # e.g. a k-fold's folds
    assert code == 0 and "0.650 ± 0.056" in out.splitlines()[1], out + err


def test_compare_mean_reads_a_missing_setting_as_its_old_default_and_names_what_differs(tiny, tmp_path):
    """A run saved before --cmn existed (no "cmn" key) is the same recipe as one with cmn=False; a run with
    cmn=True is another row, and rows of the same model and input say which setting tells them apart."""
    config = json.loads((tiny["run"] / "config.json").read_text(encoding="utf-8"))
    metrics = (tiny["run"] / "metrics.json").read_text(encoding="utf-8")
    old = {k: v for k, v in config.items() if k != "cmn"}
    folders = []
    for name, c in [("old", old), ("new", {**config, "cmn": False}), ("cmn", {**config, "cmn": True})]:
        (tmp_path / name).mkdir()
        (tmp_path / name / "config.json").write_text(json.dumps({**c, "seed": len(folders)}), encoding="utf-8")
        (tmp_path / name / "metrics.json").write_text(metrics, encoding="utf-8")
        folders.append(str(tmp_path / name))
    code, out, err = evaluate_cli(tiny, "--compare", *folders, "--mean")
    assert code == 0, err
    rows = [line.split() for line in out.splitlines() if line.startswith(config["model"])]
    assert [(r[2], r[3]) for r in rows] == [("cmn=False", "2"), ("cmn=True", "1")], out
    # ensembles (evaluate.py --save) keep their members' recipes: saved before and after --cmn, one recipe

    ensembles = []
    for name, members in [("e-old", ["old"]), ("e-new", ["new"]), ("e-cmn", ["cmn"])]:
        recipes = [json.dumps({k: v for k, v in json.loads((tmp_path / f / "config.json").read_text()).items()
                               if k not in tables.VOLATILE} | {"refit": False}, sort_keys=True) for f in members]
        (tmp_path / name).mkdir()
        (tmp_path / name / "config.json").write_text(json.dumps(
            {"model": "ensemble", "input": config["input"], "members": members, "member_recipes": recipes,
             "split": "test", "manifest": "m.csv"}), encoding="utf-8")
        (tmp_path / name / "metrics.json").write_text(json.dumps({**json.loads(metrics), "model": "ensemble"}),
                                                      encoding="utf-8")
        ensembles.append(str(tmp_path / name))
    code, out, err = evaluate_cli(tiny, "--compare", *ensembles, "--mean")
    rows = [line.split() for line in out.splitlines() if line.startswith("ensemble")]
    assert code == 0 and [(r[2], r[3]) for r in rows] == [("cmn=False", "2"), ("cmn=True", "1")], out + err
