"""baseline.py: the linear models against their optimality conditions, the statistics on arrays with a known
answer, and one run end to end on the tiny built-in corpus."""
import json

import numpy as np
import pytest

from extras import baseline
import features
from conftest import evaluate_cli


def test_ridge_is_the_least_squares_solution_of_the_augmented_system():
    # ||y - X w - b||^2 + ||w||^2 / C == ||[y; 0] - [X 1; I/sqrt(C) 0] [w; b]||^2: solve that with lstsq
    rng = np.random.default_rng(0)
    X, y, C = rng.normal(2.0, 1.0, (40, 5)), rng.normal(size=40) + 7.0, 0.3
    A = np.vstack([np.hstack([X, np.ones((40, 1))]), np.hstack([np.eye(5) / np.sqrt(C), np.zeros((5, 1))])])
    reference = np.linalg.lstsq(A, np.concatenate([y, np.zeros(5)]), rcond=None)[0]
    np.testing.assert_allclose(baseline.fit_ridge(X, y, C), reference, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(baseline.predict(reference, X), np.hstack([X, np.ones((40, 1))]) @ reference)


def test_logistic_weights_satisfy_the_stationarity_condition():
    # at the minimum of 0.5 ||W||^2 + C sum_i w_i CE_i the gradient is zero:
    #   W[:-1] = -C X^T ((P - Y) w)   and   sum_i w_i (P - Y)_i = 0 (the bias row, not penalised)
    rng = np.random.default_rng(1)
    y = np.repeat([0, 1, 2], [30, 10, 5])  # unbalanced on purpose
    X = rng.normal(size=(45, 4)) + y[:, None] * 0.7
    C = 0.5
    W = baseline.fit_logistic(X, y, 3, C)
    P, Y = baseline.predict(W, X), np.eye(3)[y]
    w = 45 / (3 * np.bincount(y)[y])  # class-balanced: each class weighs n / K in total
    np.testing.assert_allclose(w.sum(), 45)
    residual = (P - Y) * w[:, None]
    np.testing.assert_allclose(W[:-1], -C * X.T @ residual, atol=1e-4)
    np.testing.assert_allclose(residual.sum(axis=0), 0, atol=1e-4)


def test_logistic_separates_separable_classes_and_balances_a_rare_one():
    rng = np.random.default_rng(2)
    y = np.repeat([0, 1], [95, 5])
    X = rng.normal(size=(100, 2)) + np.where(y[:, None] == 1, 1.5, 0.0)
    balanced = baseline.predict(baseline.fit_logistic(X, y, 2, 1.0), X).argmax(axis=1)
    assert balanced[y == 1].mean() >= 0.8  # unweighted, the 5 rare clips would mostly be called class 0


def test_clip_statistics_of_an_array_with_known_statistics():
    T = 200
    ramp = np.linspace(0, 1, T)
    x = np.zeros((3, 14, T), np.float32)
    x[0, :13] = ramp  # every MFCC row: a ramp from 0 to 1
    x[0, 13, :T // 4] = 12.0  # F0 row: voiced (12 semitones) in the first quarter, unvoiced (0) after
    x[1] = 2.0 * (np.arange(T) % 2)  # delta rows alternate 0, 2: std 1
    s = baseline.clip_statistics(x, "mfcc_f0")
    assert s.shape == (105,)
    mean, std, p10, p50, p90 = s[0:14], s[14:28], s[28:42], s[42:56], s[56:70]
    np.testing.assert_allclose(mean[:13], 0.5, atol=1e-6)
    np.testing.assert_allclose(std[:13], ramp.std(), rtol=1e-6)
    np.testing.assert_allclose([p10[0], p50[0], p90[0]], np.percentile(ramp, [10, 50, 90]), atol=1e-6)
    np.testing.assert_allclose(s[70:84], 1.0, rtol=1e-6)  # delta spread
    np.testing.assert_allclose(s[84:98], 0.0)  # delta-delta rows are all zero
    np.testing.assert_allclose(s[98:104], [0.25, 12, 0, 12, 12, 12])  # voiced fraction, mean, std, percentiles
    np.testing.assert_allclose(s[104], T * features.HOP_LENGTH / features.SR)


def test_baseline_runs_on_the_tiny_corpus_and_writes_train_py_metrics(tiny, tmp_path, monkeypatch):
    out = tmp_path / "linear"  # not "baseline": the comparison below must find the model's name, not the folder's
    monkeypatch.setenv("MOKSORI_CACHE", tiny["env"]["MOKSORI_CACHE"])
    assert baseline.main(["--manifest", tiny["manifest"], "--workers", "0", "--out", str(out)]) == 0
    m = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    assert set(m["tasks"]) == {"age", "gender", "dialect"}  # the labelled tasks, as train.py picks them
    for task in m["tasks"].values():
        assert 0.0 <= task["test_balanced_acc"] <= 1.0 and 0.0 <= task["test_acc"] <= 1.0
    weights = np.load(out / "baseline.npz")  # no pickle needed
    assert weights["mean"].shape == (105,)
    code, stdout, stderr = evaluate_cli(tiny, "--compare", out, tiny["run"])
    assert code == 0, stdout + stderr
    row = next(line for line in stdout.splitlines() if line.startswith("baseline "))
    assert f"{m['tasks']['gender']['test_acc']:.3f}" in row  # its own test accuracy, in the original project's table

    # evaluate.py reads a baseline run folder like train.py's: alone, its test accuracy is the one in
    # metrics.json; its probabilities are softmax([z, 1] W) on the standardised clip statistics (recomputed here
    # with NumPy from baseline.npz); beside the tiny run, the ensemble scores the mean of the two runs'
    import mtl
    from scale import checkpoints
    import data
    from scale import store
    code, stdout, stderr = evaluate_cli(tiny, out)
    assert code == 0, stderr
    row = next(line.split() for line in stdout.splitlines() if line.startswith("gender "))
    assert row[2] == f"{m['tasks']['gender']['test_acc']:.3f}", (row, m["tasks"]["gender"])
    rows = [r for r in data.read_manifest(out / "manifest.csv") if r["split"] == "test"]
    found, rows, _ = store.build(rows, "mfcc_f0")
    from scale import ensemble
    linear = ensemble.load_member(out, "cpu", 64)[1](found)
    config, model = checkpoints.load_run(tiny["run"])
    deep = mtl.predict(model, found, "mfcc_f0")
    labels = data.encode_labels(rows, config["vocabs"], config["tasks"])
    Z = np.array([(baseline.clip_statistics(found.read(k)) - weights["mean"]) / weights["std"]
                  for k in range(len(found))])  # (n, 105)
    code, stdout, stderr = evaluate_cli(tiny, out, tiny["run"])
    assert code == 0 and stdout.startswith(f"ensemble of {out}"), stderr
    for i, task in enumerate(config["tasks"]):
        logits = np.hstack([Z, np.ones((len(Z), 1))]) @ weights[task]  # (n, K)
        p = np.exp(logits - logits.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        np.testing.assert_allclose(linear[task], p, rtol=1e-6, atol=1e-9)
        mean = (deep[task] + p) / 2
        row = next(line.split() for line in stdout.splitlines() if line.startswith(task + " "))
        assert float(row[2]) == pytest.approx(np.mean(mean.argmax(1) == labels[:, i]), abs=5e-4), (task, row)


def test_fit_train_leaves_the_validation_speakers_out_and_scores_them(tiny, tmp_path, monkeypatch):
    """--fit train: the standardisation is that of the training clips alone (so validation clips took no part),
    and the validation split gets held-out scores; the default learns from train + val and scores no val."""
    import data
    from scale import store
    monkeypatch.setenv("MOKSORI_CACHE", tiny["env"]["MOKSORI_CACHE"])
    for fit in ("train", "train+val"):
        assert baseline.main(["--manifest", tiny["manifest"], "--workers", "0", "--fit", fit,
                              "--out", str(tmp_path / fit)]) == 0
    rows = data.read_manifest(tmp_path / "train" / "manifest.csv")
    for fit, splits in (("train", ("train",)), ("train+val", ("train", "val"))):
        found, _, _ = store.build([r for r in rows if r["split"] in splits], "mfcc_f0")
        X = np.array([baseline.clip_statistics(found.read(i)) for i in range(len(found))])
        np.testing.assert_allclose(np.load(tmp_path / fit / "baseline.npz")["mean"], X.mean(axis=0), rtol=1e-9)
    held = json.loads((tmp_path / "train" / "metrics.json").read_text(encoding="utf-8"))["tasks"]["gender"]
    default = json.loads((tmp_path / "train+val" / "metrics.json").read_text(encoding="utf-8"))["tasks"]["gender"]
    assert 0.0 <= held["val_acc"] <= 1.0 and "val_acc" not in default
