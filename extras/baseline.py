"""The classic baseline every deep model must beat -- whole-clip statistics + a linear model.

For each clip (all of it, not one 4 s window) the statistics of the same feature arrays the models read:
    every static row (13 MFCCs, the F0 row): mean, std, 10th / 50th / 90th percentile over the frames
    every delta and delta-delta row: std (how fast the spectrum moves)
    F0 on voiced frames (semitones): voiced fraction, mean, std, 10th / 50th / 90th percentile; duration (s)
then, per task, multinomial logistic regression with class-balanced weights (each class weighs as much as the
others in the loss) and an L2 penalty, objective 0.5 ||W||^2 + C sum_i w_i CE_i (scikit-learn's convention),
minimised with L-BFGS; a numeric task (age_years) gets ridge regression instead. A linear model needs no
validation split for early stopping, so it learns from the training AND validation speakers -- every labelled
voice outside the test split, as the deep models' refit sees them (--fit train: the training split only, so the
validation split is scored as held out) -- and C is chosen by 5-fold cross-validation over those speakers (speaker-grouped, so no voice is in a fold's train and test), by balanced accuracy (MAE for a
numeric task). The test split is only scored, once. The run folder holds
config.json, metrics.json (as train.py's, so `evaluate.py --compare` lists it beside the deep models) and
baseline.npz (the weights and the standardisation, no pickle).

    python -m extras.baseline --manifest so762.csv --out runs/so762/baseline
    python -m pytest tests/test_baseline.py
"""
import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # as train.py: --workers are the parallelism

import argparse  # noqa: E402 -- after the environment line above, on purpose
import math
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
from scipy.optimize import minimize

import data
import features
import metrics
from scale import console, files, runs, settings
from scale.store import features_of
from corpora.text import read_json
from extras import synth_corpus

C_GRID = tuple(10.0 ** np.arange(-4, 2.01, 0.5))  # inverse L2 strengths tried by cross-validation: 1e-4 .. 1e2
FOLDS = 5  # speaker-grouped cross-validation folds
PERCENTILES = (10, 50, 90)


# ----------------------------------------------------------------------------- 1. clip statistics
def clip_statistics(x, kind="mfcc_f0"):
    """Statistics of one clip's features x (C, F, T) over all its frames -> float64 (D,), see the docstring.

    mfcc_f0: D = 14 * 5 (static rows) + 28 (delta, delta-delta std) + 6 (voiced F0) + 1 (duration) = 105.
    """
    static = x[0].astype(np.float64)  # (F, T)
    stats = [static.mean(axis=1), static.std(axis=1), *np.percentile(static, PERCENTILES, axis=1)]  # 5 x (F,)
    stats += [x[c].astype(np.float64).std(axis=1) for c in range(1, x.shape[0])]  # delta spread: (F,) each
    if kind == "mfcc_f0":
        f0 = static[-1][static[-1] > 0]  # (n_voiced,) semitones above 50 Hz, voiced frames only
        voiced = [len(f0) / static.shape[1]] + ([f0.mean(), f0.std(), *np.percentile(f0, PERCENTILES)]
                                                if len(f0) else [0.0] * 5)
        stats.append(np.array(voiced))
    stats.append(np.array([x.shape[-1] * features.HOP_LENGTH / features.SR]))  # duration in seconds
    return np.concatenate(stats)


# ----------------------------------------------------------------------------- 2. the linear models
def fit_logistic(X, y, n_classes, C):
    """Class-balanced multinomial logistic regression -> W (D + 1, K), last row the bias (not penalised).

    minimise 0.5 ||W[:-1]||^2 + C sum_i w_i (-log softmax(x_i W)_{y_i}), w_i = n / (K_present n_{y_i}).
    """
    n, D = X.shape
    Xb = np.hstack([X, np.ones((n, 1))])  # (n, D + 1)
    counts = np.bincount(y, minlength=n_classes)
    w = n / (np.count_nonzero(counts) * counts[y])  # (n,) class-balanced sample weights
    Y = np.eye(n_classes)[y]  # (n, K) one-hot

    def objective(flat):
        W = flat.reshape(D + 1, n_classes)
        Z = Xb @ W  # (n, K)
        Z = Z - Z.max(axis=1, keepdims=True)
        P = np.exp(Z)
        P /= P.sum(axis=1, keepdims=True)  # (n, K) softmax
        ce = -np.log(np.maximum((P * Y).sum(axis=1), 1e-300))  # (n,)
        grad = C * Xb.T @ ((P - Y) * w[:, None])  # (D + 1, K)
        grad[:-1] += W[:-1]
        return 0.5 * np.sum(W[:-1] ** 2) + C * np.sum(w * ce), grad.ravel()

    result = minimize(objective, np.zeros((D + 1) * n_classes), jac=True, method="L-BFGS-B",
                      options={"maxiter": 2000})
    return result.x.reshape(D + 1, n_classes)


def fit_ridge(X, y, C):
    """Ridge regression with alpha = 1 / C: W (D + 1,), last entry the (unpenalised) intercept.

    minimise ||y - X w - b||^2 + ||w||^2 / C; centring X and y takes the intercept out of the penalty.
    """
    x_mean, y_mean = X.mean(axis=0), y.mean()
    Xc = X - x_mean  # (n, D)
    W = np.linalg.solve(Xc.T @ Xc + np.eye(X.shape[1]) / C, Xc.T @ (y - y_mean))  # (D,)
    return np.append(W, y_mean - x_mean @ W)


def predict(W, X):
    """Class probabilities (n, K) of a logistic model, or values (n,) of a ridge model (W 1-D)."""
    Xb = np.hstack([X, np.ones((len(X), 1))])
    if W.ndim == 1:
        return Xb @ W
    Z = Xb @ W
    P = np.exp(Z - Z.max(axis=1, keepdims=True))
    return P / P.sum(axis=1, keepdims=True)


def load(run_dir):
    """(config, weights) of a baseline run folder: config.json and baseline.npz (plain arrays, no pickle)."""
    run_dir = Path(run_dir)
    for name in ("config.json", "baseline.npz"):
        if not (run_dir / name).is_file():
            raise FileNotFoundError(f"{run_dir}: no {name} in the baseline run folder")
    try:
        with open(run_dir / "baseline.npz", "rb") as f, np.load(f, allow_pickle=False) as npz:  # closed on errors too
            weights = {k: npz[k] for k in npz.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as err:
        raise ValueError(f"{run_dir / 'baseline.npz'}: unreadable ({type(err).__name__}: {err})") from None
    config = read_json(run_dir / "config.json")
    lacking = [k for k in ("tasks", "vocabs", "input", "manifest") if not isinstance(config, dict) or k not in config]
    lacking += [k for k in ("mean", "std", *config.get("tasks", ())) if k not in weights] if not lacking else []
    if lacking:
        raise ValueError(f"{run_dir}: not a baseline.py run folder (no {', '.join(lacking)})")
    return config, weights


def predict_features(weights, found, tasks, kind="mfcc_f0"):
    """A fitted baseline's outputs on every clip of a feature store (whole clips) -> {task: (n, K) class
    probabilities, or (n,) values for a numeric task}: what evaluate.py averages into an ensemble."""
    X = np.array([clip_statistics(found.read(i), kind) for i in range(len(found))]).reshape(len(found), -1)
    if X.shape[1] != len(weights["mean"]):
        raise ValueError(f"the linear models read {len(weights['mean'])} statistics, {kind} clips give {X.shape[1]}")
    Z = (X - weights["mean"]) / weights["std"]  # (n, D) standardised as in fitting
    return {t: predict(weights[t], Z) for t in tasks}


def cross_validate(X, y, speakers, numeric, n_classes, seed=0):
    """The C of C_GRID with the best speaker-grouped 5-fold score (balanced accuracy, or -MAE) -> (C, score)."""
    unique = np.unique(speakers)
    fold_of = dict(zip(unique, np.random.default_rng(seed).permutation(len(unique)) % FOLDS))
    folds = np.array([fold_of[s] for s in speakers])  # (n,)
    best = (None, -math.inf)
    for C in C_GRID:
        scores = []
        for k in range(FOLDS):
            fit, held = folds != k, folds == k
            if numeric:
                W = fit_ridge(X[fit], y[fit], C)
                scores.append(-metrics.mean_absolute_error(y[held], predict(W, X[held])))
            else:
                W = fit_logistic(X[fit], y[fit].astype(int), n_classes, C)
                scores.append(metrics.balanced_accuracy(y[held].astype(int), predict(W, X[held]).argmax(axis=1)))
        if np.mean(scores) > best[1]:
            best = (C, float(np.mean(scores)))
    return best


# ----------------------------------------------------------------------------- 3. the command line
def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--manifest", help="manifest CSV (default: the built-in synthetic corpus)")
    parser.add_argument("--tasks", help="comma-separated columns (default: those the manifest labels, as train.py)")
    parser.add_argument("--input", default="mfcc_f0", choices=("mfcc_f0", "mfcc", "mel"), help="features (default mfcc_f0)")
    parser.add_argument("--workers", type=int, default=2, help="processes for feature extraction (default 2)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the split (empty split cells) and the folds")
    parser.add_argument("--out", required=True, help="run folder to write")
    parser.add_argument("--skip-bad", action="store_true", help="skip unreadable clips with a warning")
    parser.add_argument("--store", action="store_true", help="features from the on-disk store (scale/store.py)")
    parser.add_argument("--fit", default="train+val", choices=("train+val", "train"), help="speakers the linear models "
                        "learn from: every non-test voice (default), or the training split only, so that the validation "
                        "split is scored as held out (the folds of a cross-validation, python -m corpora folds)")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    try:
        problem = runs.unfit_folder(args.out)  # train.py's rule: a new or empty folder, nothing in it replaced
        if problem:
            raise ValueError(f"--out {problem}; choose another folder")
        runs.claim(args.out, resume=False)
    except (ValueError, OSError) as err:
        print(f"baseline.py: error: {err}", file=sys.stderr)
        return 2
    try:
        with console.one_line_warnings():  # a speaker's conflicting labels, a quiet clip: one line each
            return fit_and_write(args, start)
    finally:
        runs.release(args.out)


def fit_and_write(args, start):
    """The baseline of main's arguments: features, the cross-validated linear models, the scores; the run folder's
    files are written at the end (manifest.csv, config.json, baseline.npz, then metrics.json, which marks it done),
    so a baseline stopped before then leaves its folder empty for the next try."""
    try:
        if args.manifest is None:
            args.manifest = str(synth_corpus.make_synth_corpus(synth_corpus.default_corpus_dir(), workers=args.workers))
        rows = data.read_manifest(args.manifest, seed=args.seed)
        tasks = args.tasks.split(",") if args.tasks else settings.default_tasks(rows)
        missing = [t for t in tasks if t not in rows[0]]
        if missing:
            raise ValueError(f"{args.manifest}: no column {', '.join(missing)} for --tasks {args.tasks}")
        config = {**vars(args), "model": "baseline", "tasks": tasks}
        vocabs = data.build_vocabs(rows, tasks)
        X, y, speakers = {}, {}, {}
        for s in ("train", "val", "test"):
            found, kept, _ = features_of([r for r in rows if r["split"] == s], args.input, workers=args.workers,
                                         skip_bad=args.skip_bad, on_disk=args.store)
            X[s] = np.array([clip_statistics(found.read(i), args.input) for i in range(len(found))])  # (n, D)
            y[s], speakers[s] = data.encode_labels(kept, vocabs, tasks), np.array([r["speaker"] for r in kept])
        X = {s: x if len(x) else np.zeros((0, X["train"].shape[1])) for s, x in X.items()}  # a split without rows
    except (ValueError, OSError) as err:
        print(f"baseline.py: error: {err}", file=sys.stderr)
        return 2
    fitted = ("train", "val") if args.fit == "train+val" else ("train",)  # every non-test voice, or train only
    X["fit"], y["fit"] = np.vstack([X[s] for s in fitted]), np.vstack([y[s] for s in fitted])
    speakers["fit"] = np.concatenate([speakers[s] for s in fitted])
    scored = ("fit", "test") if args.fit == "train+val" else ("fit", "val", "test")
    mean, std = X["fit"].mean(axis=0), X["fit"].std(axis=0) + 1e-9  # standardise with the fitting statistics
    Z = {s: (X[s] - mean) / std for s in X}
    results, weights = {"model": "baseline", "input": args.input, "tasks": {}}, {"mean": mean, "std": std}
    print(f"{'task':10} {'C':>7} {'cv':>6} {'train':>6} {'val':>6} {'val bal':>7} {'test':>6} {'test bal':>8}   "
          f"(train = {args.fit})")
    for i, t in enumerate(tasks):
        numeric = vocabs[t] is None
        known = {s: ~np.isnan(y[s][:, i]) for s in y}
        yt = y["fit"][known["fit"], i]
        C, cv = cross_validate(Z["fit"][known["fit"]], yt, speakers["fit"][known["fit"]], numeric,
                               0 if numeric else len(vocabs[t]), args.seed)
        W = fit_ridge(Z["fit"][known["fit"]], yt, C) if numeric else \
            fit_logistic(Z["fit"][known["fit"]], yt.astype(int), len(vocabs[t]), C)
        weights[t] = W
        m = {"cv_mae" if numeric else "cv_balanced_acc": -cv if numeric else cv}
        for s in scored:
            truth, out = y[s][known[s], i], predict(W, Z[s][known[s]])
            name = "train" if s == "fit" else s
            if numeric:
                m[f"{name}_mae"] = metrics.mean_absolute_error(truth, out)
            else:
                m[f"{name}_acc"] = metrics.accuracy(truth.astype(int), out.argmax(axis=1))
                m[f"{name}_balanced_acc"] = metrics.balanced_accuracy(truth.astype(int), out.argmax(axis=1))
        if not numeric:
            m["majority_baseline"] = metrics.majority_baseline(yt.astype(int), y["test"][known["test"], i].astype(int))
            print(f"{t:10} {C:7.3g} {cv:6.3f} {m['train_acc']:6.3f} {m.get('val_acc', math.nan):6.3f} "
                  f"{m.get('val_balanced_acc', math.nan):7.3f} {m['test_acc']:6.3f} {m['test_balanced_acc']:8.3f}")
        else:
            print(f"{t:10} {C:7.3g} {-cv:6.2f} MAE train {m['train_mae']:.2f} val {m.get('val_mae', math.nan):.2f} "
                  f"test {m['test_mae']:.2f}")
        results["tasks"][t] = {k: None if math.isnan(v) else round(v, 4) for k, v in m.items()}
    results.update({"seconds": round(time.perf_counter() - start, 1), "device": "cpu"})
    try:
        config.update(runs.write_run_manifest(rows, args.manifest, args.out))
        runs.save_json({**config, "vocabs": vocabs}, Path(args.out) / "config.json")
        files.atomic_write(Path(args.out) / "baseline.npz", lambda f: np.savez(f, **weights))
        runs.save_json(results, Path(args.out) / "metrics.json")
    except OSError as err:  # a full disk
        print(f"baseline.py: error: {err}", file=sys.stderr)
        return 2
    print(f"baseline in {results['seconds']:.0f} s; run folder {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
