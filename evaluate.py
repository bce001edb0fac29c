"""Evaluate: what a trained model says about whole clips, and how good that is -- on a split of its corpus, on
another corpus, or on your own recordings.

Every prediction is utterance-level: the model reads every 4 s window of a clip and the windows' class
probabilities are averaged (`predict`). Scores stand beside the majority-class baseline (always answer the
training set's most frequent class), the number every model has to beat, and balanced accuracy stands beside
accuracy, so a model that only learnt the commonest class shows it.

    python evaluate.py RUN [--split val|all]                 # accuracy, balanced accuracy, macro-F1, confusions
    python evaluate.py RUN --manifest other.csv --split all  # cross-corpus: the same model on another corpus
    python evaluate.py RUN --wav my_voice.flac               # profile recordings (files or folders; --out CSV)
    python evaluate.py RUN1 RUN2 RUN3 [--save DIR]           # an ensemble, outputs averaged (scale/ensemble.py)
    python evaluate.py --compare runs/* [--mean]             # the results table (scale/tables.py)
    python evaluate.py RUN --plot                            # curves and confusion matrices (extras/plots.py)
"""
import argparse
import importlib.util
import math
import sys
import warnings
from pathlib import Path

import numpy as np
import torch

import data
import features
import metrics
import models
import mtl
import sampling
from scale import runs  # seam: the run folder (checkpoints read safely, the manifest as trained)

RELEASE = Path(__file__).resolve().parent / "release"  # the released model (release/MODEL_CARD.md), the --wav default


# ----------------------------------------------------------------------------- 0. a model from its run folder
def model_from_config(config, spec_augment=None):
    """Build the (untrained) model config.json describes: same name, input, heads and trunk options.
    spec_augment: SpecAugment's settings for training (extras/specaugment.py); not part of the weights."""
    vocabs = config["vocabs"]  # one head per task, then any auxiliary one: its classes, or 0 for a numeric task
    n_classes = {t: 0 if vocabs[t] is None else len(vocabs[t]) for t in config["tasks"] + config.get("aux_tasks", [])}
    return mtl.build_model(config["model"], config["input"], n_classes, features.input_shape(config["input"]),
                           cascade=config.get("cascade", False), spec_augment=spec_augment,
                           dropout=config.get("dropout", 0.0),
                           centre=features.cepstral_rows(config["input"]) if config.get("cmn") else None,
                           adversarial=config.get("adversarial", ()), pitch=config.get("pitch", False),
                           **config.get("trunk_options", {}))


def load_run(run_dir, checkpoint=None, device="cpu"):
    """(config, model in eval mode) from a run folder; weights from best.pt, else last.pt.

    Raises FileNotFoundError naming the folder or file that is missing, CheckpointError naming a file that is
    not a moksori checkpoint (scale/runs.load_checkpoint: nothing in it is executed).
    """
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise FileNotFoundError(f"{run_dir}: no such run folder")
    names = [checkpoint] if checkpoint else runs.CHECKPOINTS
    paths = [run_dir / name for name in names if (run_dir / name).is_file()]
    if not paths:
        raise FileNotFoundError(f"{run_dir}: no {' or '.join(names)} in the run folder (has training finished an epoch?)")
    ckpt = runs.load_checkpoint(paths[0])
    config = {**ckpt["config"], "vocabs": ckpt["vocabs"]}
    try:
        model = model_from_config(config)
        model.load_state_dict(ckpt["model"])
    except (KeyError, TypeError, ValueError, RuntimeError) as err:  # wrong shapes, a foreign or older config
        raise runs.CheckpointError(f"{paths[0]}: not a moksori checkpoint of this version ({type(err).__name__}: "
                                   f"{str(err).splitlines()[0][:120]})") from None
    return config, model.to(device).eval()


# ----------------------------------------------------------------------------- 1. predictions of whole clips
@torch.no_grad()
def predict(model, feats, kind, device="cpu", batch_size=64, clips=None):
    """Outputs of `model` for whole clips of `feats` (data.Features or a scale/store.py store), every clip or
    the indices in `clips` -> {task: float64 (n, n_classes) probabilities, or (n,) values}.

    Each clip is cut into evenly spaced windows of features.window_length(kind) (sampling.window_starts), and its
    output is the mean over its K windows: p = (1/K) sum_k softmax(logits_k), or the mean of the K values.
    """
    clips = np.arange(len(feats)) if clips is None else np.asarray(clips, dtype=np.int64)
    if len(clips) == 0:
        return {}
    model.eval()
    length = features.window_length(kind)
    windows = [(i, 0, s) for i in clips for s in sampling.window_starts(feats.length(i), length)]  # (clip, version, start)
    batches = sampling.Batches(feats, np.zeros((len(feats), 0)), length)
    outputs = {}  # task -> list of (b, n_classes) or (b,) arrays, one row per window
    for k in range(0, len(windows), batch_size):
        x, lengths, _ = batches[windows[k:k + batch_size]]  # (b, *shape, L), (b,)
        for task, z in model(torch.from_numpy(x).to(device), torch.from_numpy(lengths).to(device)).items():
            z = z.float()
            outputs.setdefault(task, []).append((z.softmax(dim=-1) if z.dim() == 2 else z).cpu().double().numpy())
    # A clip's windows are consecutive rows: its mean is a sum over its block of rows divided by their number.
    counts = np.array([len(sampling.window_starts(feats.length(i), length)) for i in clips])  # (n,) K per clip
    first = np.concatenate([[0], np.cumsum(counts)[:-1]])  # (n,) each clip's first window
    return {task: np.add.reduceat(np.concatenate(rows), first, axis=0) / counts.reshape(-1, *[1] * (rows[0].ndim - 1))
            for task, rows in outputs.items()}


def task_scores(outputs, labels, train_labels, tasks, vocabs):
    """Scores of utterance-level outputs against labels (float (n, n_tasks), NaN = unknown) -> {task: dict}.

    A classification task: acc, balanced_acc, macro_f1, and majority (the accuracy of always answering the
    training set's most frequent class). A numeric task: mae (mean absolute error, in its unit), baseline_mae
    (always answering the training median) and skill = max(0, 1 - mae / baseline_mae) -- 0 for a model no better
    than the constant, 1 for a perfect one, so it averages with balanced accuracies (selection_score).
    A split without known labels scores NaN.
    """
    scores = {}
    for i, task in enumerate(tasks):
        y, known = labels[:, i], ~np.isnan(labels[:, i])
        y_train = train_labels[:, i][~np.isnan(train_labels[:, i])]
        if vocabs[task] is None:
            pred = outputs[task][known] if task in outputs else np.zeros(0)
            mae = metrics.mean_absolute_error(y[known], pred)
            base = metrics.mean_absolute_error(y[known], np.full(known.sum(), np.median(y_train))) \
                if len(y_train) else math.nan
            scores[task] = {"mae": mae, "baseline_mae": base, "skill": max(0.0, 1.0 - mae / base) if base > 0 else math.nan}
        else:
            truth = y[known].astype(np.int64)
            pred = outputs[task][known].argmax(axis=1) if task in outputs else np.zeros(0, np.int64)
            scores[task] = {"acc": metrics.accuracy(truth, pred), "balanced_acc": metrics.balanced_accuracy(truth, pred),
                            "macro_f1": metrics.macro_f1(truth, pred),
                            "majority": metrics.majority_baseline(y_train.astype(np.int64), truth)}
    return scores


def scores_by_corpus(outputs, labels, train_labels, tasks, vocabs, corpus_of):
    """{corpus: task_scores of its clips alone} for a split of several corpora (data.py merge's `corpus` column,
    corpus_of (n,) str); {} for one corpus."""
    names = sorted({str(c) for c in corpus_of} - {""})
    return {} if len(names) < 2 else {c: task_scores({t: o[corpus_of == c] for t, o in outputs.items()},
                                                     labels[corpus_of == c], train_labels, tasks, vocabs)
                                      for c in names}


def rounded(scores):
    """Scores as JSON keeps them: 4 decimals, NaN (no clips) as null; nested dicts rounded all the way down."""
    if isinstance(scores, dict):
        return {k: rounded(v) for k, v in scores.items()}
    return None if math.isnan(scores) else round(float(scores), 4)


def selection_score(scores):
    """The one number model selection and early stopping maximise: the mean over tasks of the balanced accuracy
    (classification) or the skill (numeric task); tasks without a score (NaN) are left out."""
    values = [s["balanced_acc"] if "balanced_acc" in s else s["skill"] for s in scores.values()]
    values = [v for v in values if not math.isnan(v)]
    return float(np.mean(values)) if values else math.nan


def epoch_row(epoch, totals, val, tasks, vocabs, by_corpus=None):
    """One epoch -> (its history.csv row, its printed cells): per task the accuracy (numeric: MAE) on the training
    batches as they went by, then validation accuracy and balanced accuracy (MAE and skill); by corpus too."""
    row, cells = {"epoch": epoch, "loss": totals["loss"] / max(totals["n"], 1)}, ""
    for t in tasks:
        first, second = ("acc", "balanced_acc") if vocabs[t] is not None else ("mae", "skill")
        values = {f"{t}_train_{first}": totals[f"{t}_hits"] / max(totals[f"{t}_known"], 1),
                  f"{t}_val_{first}": val[t][first], f"{t}_val_{second}": val[t][second]}
        row.update(values)
        cells += f" | {'':>9} " + " ".join(f"{v:5.2f}" if k.endswith("mae") else f"{v:5.3f}" for k, v in values.items())
    row.update({f"val_score_{c}": selection_score(v) for c, v in (by_corpus or {}).items()})
    cells += " | " + " ".join(f"{c} {row[f'val_score_{c}']:.3f}" for c in by_corpus) if by_corpus else ""
    return row, cells


def run_table(scores, tasks, vocabs, say=print):
    """Print a run's final table, scores {split: task_scores} -> {task: its metrics.json entry}. A numeric task
    shows its MAE, its skill in the "bal" columns and the MAE of always the training median as the baseline."""
    say("baseline: always the training majority class (numeric tasks: MAE, skill, MAE of the training median)")
    say(f"{'task':10} {'train':>6} {'val':>6} {'val bal':>7} {'test':>6} {'test bal':>8} {'baseline':>8}")
    table = {}
    for t in tasks:
        first, second, base = ("acc", "balanced_acc", "majority") if vocabs[t] is not None else \
            ("mae", "skill", "baseline_mae")
        m = {f"{s}_{k}": scores[s][t][k] for s in ("train", "val", "test") for k in (first, second)}
        m["majority_baseline" if base == "majority" else base] = scores["test"][t][base]
        shown = [v for k, v in m.items() if k != f"train_{second}"]  # train, val, val bal, test, test bal, baseline
        say(f"{t:10} " + " ".join(f"{v:{w}.3f}" for v, w in zip(shown, (6, 6, 7, 6, 8, 8))))
        table[t] = m
    return table


def load_features(rows, kind, denoise=False, workers=1, skip_bad=False, store=False):
    """Features of rows -> (features, kept rows, skipped): in memory (data.load_features) or, --store, on disk."""
    if store:
        from scale import store as disk  # seam: features of corpora larger than memory
        return disk.build(rows, kind, denoise=denoise, workers=workers, skip_bad=skip_bad, progress=sys.stderr.isatty())
    return data.load_features(rows, kind, denoise=denoise, workers=workers, skip_bad=skip_bad)


# ----------------------------------------------------------------------------- 2. scores on a manifest
def split_report(run_dirs, split="test", device="cpu", batch_size=64, other=None, workers=1, skip_bad=False,
                 store=False, save=None, plot=False):
    """Print accuracy, balanced accuracy, macro-F1 and a confusion table per task on one split of the run's own
    manifest (as trained), or of `other`, another labelled manifest (cross-corpus). Several run folders (or a
    baseline.py folder) are an ensemble: scale/ensemble.py loads them, and their outputs are averaged clip by
    clip. `save` writes the scores as a run folder (scale/ensemble.py), `plot` draws them (extras/plots.py)."""
    if several := len(run_dirs) > 1 or (Path(run_dirs[0]) / "baseline.npz").is_file() or save:
        from scale import ensemble  # seam: ensembles, the classic baseline's run folders, --save
        config, members = ensemble.load_members(run_dirs, device, batch_size, split, save)
    else:
        config, model = load_run(run_dirs[0], device=device)
    tasks, kind, vocabs = config["tasks"], config["input"], config["vocabs"]
    run_rows = runs.read_run_manifest(run_dirs[0], config)
    rows = data.read_manifest(other, seed=config["seed"]) if other else run_rows
    rows = [r for r in rows if split == "all" or r["split"] == split]
    if not rows:
        raise ValueError(f"{other or Path(run_dirs[0]) / 'manifest.csv'}: no {split} rows")
    scored = [t for t in tasks if any(r.get(t) for r in rows)]
    where = f"{other} (cross-corpus: trained on {config['manifest']})" if other else config["manifest"]
    name = f"ensemble of {', '.join(map(str, run_dirs))}" if len(run_dirs) > 1 else run_dirs[0]
    print(f"{name}: {config['model']} on {kind}, {split} split of {where}, {len(rows)} clips")
    for t in tasks:
        if t not in scored:
            print(f"  {t}: skipped, the manifest has no {t} labels")
    # The run's classes, then any class the run never saw (it cannot answer those: each such clip is an error)
    unseen = {t: sorted({r[t] for r in rows if r.get(t)} - set(vocabs[t]), key=data.label_order)
              for t in scored if vocabs[t] is not None}
    extended = {t: None if vocabs[t] is None else vocabs[t] + unseen[t] for t in scored}
    for t, names in unseen.items():
        if names:
            counts = ", ".join(f"{n} ({sum(r[t] == n for r in rows)} clips)" for n in names)
            print(f"  {t}: classes the run never saw: {counts}; they count as errors")
    def read(rows, kind):
        return load_features(rows, kind, config.get("denoise", False), workers, skip_bad, store)
    if several:  # the mean of the members' outputs
        outputs, kept = ensemble.outputs(members, rows, read)
    else:
        feats, kept, _ = read(rows, kind)
        outputs = predict(model, feats, kind, device, batch_size)
    labels = data.encode_labels(kept, extended, scored)  # (n, n_scored), NaN = unknown
    train = data.encode_labels([r for r in run_rows if r["split"] == "train"], vocabs, scored)
    scores = task_scores(outputs, labels, train, scored, extended)
    print(f"{'task':10} {'clips':>5} {'acc':>6} {'bal acc':>7} {'macro-F1':>8} {'majority':>8}   (numeric: MAE)")
    matrices = {}
    for i, t in enumerate(scored):
        known, s = ~np.isnan(labels[:, i]), scores[t]
        if vocabs[t] is None:
            print(f"{t:10} {known.sum():5d} MAE {s['mae']:.2f} years; always the training median: {s['baseline_mae']:.2f}")
            continue
        print(f"{t:10} {known.sum():5d} {s['acc']:6.3f} {s['balanced_acc']:7.3f} {s['macro_f1']:8.3f} {s['majority']:8.3f}")
        matrices[t] = metrics.confusion_matrix(labels[known, i].astype(int), outputs[t][known].argmax(axis=1),
                                               len(extended[t]), len(vocabs[t]))
    for t, cm in matrices.items():
        print(f"\n{t}: confusion matrix (rows = true class, columns = predicted)")
        print(metrics.confusion_table(cm, extended[t], vocabs[t]))
    if save:
        ensemble.save(save, run_dirs, config, split, other, scores, vocabs)
    if plot:
        from extras.plots import plot_run  # seam: matplotlib, only when asked for
        plot_run(run_dirs[0], split, matrices, extended, vocabs)
    return scores


# ----------------------------------------------------------------------------- 3. command line
def main(argv=None):
    parser = argparse.ArgumentParser(description="Evaluate run folders written by train.py; see the docstring.")
    flag = parser.add_argument
    flag("run", nargs="*", help="run folder (config.json, best.pt, manifest.csv, ...); several runs with the same "
         "tasks (train.py's or baseline.py's): their ensemble; with --wav and no run folder: the model in release/")
    flag("--split", default="test", choices=("train", "val", "test", "all"),
         help="split to score (default test; all = every row)")
    flag("--manifest", help="score on this labelled manifest instead of the run's own (cross-corpus)")
    flag("--wav", nargs="+", metavar="PATH", help="profile recordings: files and/or folders (WAV/FLAC/MP3/OGG, any "
         "rate, mono or stereo)")
    flag("--out", help="--wav: write one CSV row per file here")
    flag("--skip-bad", action="store_true", help="leave unreadable clips (or --wav files) out")
    flag("--compare", nargs="+", metavar="RUN", help="print the results table of these runs")
    flag("--metric", default="both", choices=("acc", "balanced", "both"), help="--compare: accuracy, balanced "
         "accuracy, or both (default both)")
    flag("--mean", action="store_true", help="--compare: one row per recipe (runs that differ only in seed, folder "
         "or manifest), the mean +- standard deviation of its scores on --split")
    flag("--save", metavar="DIR", help="a split report: also write DIR/metrics.json and DIR/config.json, so "
         "--compare lists it (an ensemble, or a cross-corpus score)")
    flag("--plot", action="store_true", help="also write curves.png and confusion matrices (matplotlib)")
    flag("--device", default="auto", choices=("auto", "cpu", "cuda"), help="auto = cuda when available")
    flag("--batch-size", type=int, default=64, help="windows per forward pass (default 64)")
    flag("--workers", type=int, default=1, help="processes for feature extraction (default 1)")
    flag("--store", action="store_true", help="features from the on-disk store (scale/store.py)")
    args = parser.parse_args(argv)
    if args.wav and not args.run:  # a profile without a run folder: the released model
        if not (RELEASE / "config.json").is_file():
            parser.error(f"--wav without a run folder uses the released model, and {RELEASE} holds none; give a run "
                         "folder (python evaluate.py RUN --wav ...)")
        args.run = [str(RELEASE)]
    for wrong, message in (
            (bool(args.compare) == bool(args.run), "give one run folder, or --compare RUN1 RUN2 ..."),
            (args.batch_size <= 0 or args.workers < 0, f"--batch-size must be positive and --workers zero or more, "
                                                       f"got {args.batch_size}, {args.workers}"),
            (args.out and not args.wav, "--out goes with --wav"),
            (args.mean and not args.compare, "--mean goes with --compare"),
            (args.save and (args.compare or args.wav), "--save goes with a split report: RUN [RUN ...] [--split ...]"),
            (len(args.run) > 1 and (args.wav or args.plot), "--wav and --plot take one run folder; several runs are "
                                                            "scored as an ensemble on a split")):
        if wrong:
            parser.error(message)
    try:  # a recording, a run's own files, anything that is not a profiles CSV is never replaced
        if args.out:
            from corpora.text import check_output  # seam: files that are not ours to replace
            check_output(args.out, "path,duration_s", "profiles CSV")
    except ValueError as err:
        parser.error(str(err))
    if args.plot and importlib.util.find_spec("matplotlib") is None:  # a missing library, said before any work
        print("evaluate.py: error: --plot needs matplotlib: pip install matplotlib", file=sys.stderr)
        return 2
    try:
        device = models.choose_device(args.device)
        if args.compare:
            from scale import tables  # seam: the comparison tables, read from metrics.json alone
            tables.compare_mean(args.compare, args.split) if args.mean else tables.compare(args.compare, args.metric)
        elif args.wav:
            from extras import recording  # seam: many recordings, a folder of them, one CSV
            bad, total = recording.profile_files(args.run[0], args.wav, device, args.batch_size, args.out,
                                                 args.skip_bad)
            return 2 if bad == total else 0  # exit 2 only when no file at all could be profiled
        else:
            split_report(args.run, args.split, device, args.batch_size, args.manifest, args.workers, args.skip_bad,
                         args.store, args.save, args.plot)
    except (OSError, ValueError) as err:  # missing files, bad audio, a file that is not a checkpoint
        print(f"evaluate.py: error: {str(err).splitlines()[0] if str(err) else type(err).__name__}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    with warnings.catch_warnings():
        warnings.simplefilter("default")
        sys.exit(main())
