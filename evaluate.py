"""Front door: look at trained runs -- scores on any labelled manifest, the comparison table, profiles, plots.

Every prediction is utterance-level: the model reads every 4 s window of a clip and the windows' class
probabilities are averaged (predict.predict). Scores stand beside the majority-class baseline (always answer
the training set's most frequent class), the number every model has to beat.

    python evaluate.py RUN                                   # the run's test split: accuracy, balanced accuracy,
                                                             # macro-F1, confusion tables (--split val|train|all)
    python evaluate.py RUN --manifest other.csv --split all  # cross-corpus: the same model on another corpus
    python evaluate.py RUN1 RUN2 RUN3                        # an ensemble: the runs' outputs averaged per clip
                                                             # (any run folders: train.py's and baseline.py's)
    python evaluate.py --compare runs/table/* --metric both  # the slides' results table
    python evaluate.py --compare runs/so762/* --mean         # one row per recipe: mean +- std over its seeds
    python evaluate.py R1 R2 R3 --save runs/ens              # an ensemble's scores as a run folder (metrics.json)
    python evaluate.py RUN --wav my_voice.flac               # profile a recording (or many, or a folder:
    python evaluate.py RUN --wav recordings/ --out profiles.csv          # one CSV row per file)
    python evaluate.py RUN --plot                            # training curves and confusion matrices as PNG
"""
import argparse
import csv
import importlib.util
import io
import sys
import warnings
from pathlib import Path

import numpy as np

import audio
import baseline
import features
import files
import manifest
import metrics
import plots
import predict
import runs
import store
import tables

AUDIO_SUFFIXES = (".wav", ".flac", ".mp3", ".ogg", ".sph")  # what --wav DIR collects


# ----------------------------------------------------------------------------- scores on a manifest
def load_any(run_dir, device, batch_size):
    """(config, predictor) of a run folder of train.py (a model) or of baseline.py (linear models on whole-clip
    statistics); predictor(store) -> {task: (n, K) probabilities or (n,) values} on every clip of the store."""
    if (Path(run_dir) / "baseline.npz").is_file():
        config, weights = baseline.load(run_dir)

        def linear(found):
            try:
                return baseline.predict_store(weights, found, config["tasks"], config["input"])
            except ValueError as err:
                raise ValueError(f"{run_dir}: {err}") from None
        return config, linear
    config, model = runs.load_run(run_dir, device=device)
    return config, lambda found: predict.predict(model, found, config["input"], device, batch_size)


def split_report(run_dir, split, device, batch_size, plot, other=None, workers=0, ensemble=(), save=None):
    """Print accuracy, balanced accuracy, macro-F1 and a confusion table per task on one split of the run's own
    manifest (as trained), or of `other`, another labelled manifest (cross-corpus). With `ensemble` (more run
    folders with the same tasks and classes: other seeds of one recipe, other models, the classic baseline of
    baseline.py), the runs' outputs are averaged clip by clip -- class probabilities, or years -- and scored as
    one model. With `save`, the scores also go to save/metrics.json (as a run's, `split` in place of "test"), so
    --compare lists an ensemble beside single runs."""
    if save and any((Path(save) / name).exists() for name in ("metrics.json", "config.json", "best.pt")):
        raise ValueError(f"--save {save}: that folder holds a run already; choose another")
    config, predictor = load_any(run_dir, device, batch_size)
    tasks, kind, vocabs, denoise = config["tasks"], config["input"], config["vocabs"], config.get("denoise", False)
    if split != "test" and any((Path(r) / "baseline.npz").is_file() and
                               files.read_json(Path(r) / "config.json").get("fit", "train+val") == "train+val"
                               for r in (run_dir, *ensemble)):
        print(f"warning: baseline.py fits on the training and validation speakers: its {split} scores are not "
              f"held out", file=sys.stderr)
    run_rows = runs.read_run_manifest(run_dir, config)
    rows = manifest.read_manifest(other, seed=config["seed"]) if other else run_rows
    rows = [r for r in rows if split == "all" or r["split"] == split]
    if not rows:
        raise ValueError(f"{other or Path(run_dir) / 'manifest.csv'}: no {split} rows")
    scored = [t for t in tasks if any(r.get(t) for r in rows)]
    where = f"{other} (cross-corpus: trained on {config['manifest']})" if other else config["manifest"]
    name = f"ensemble of {run_dir}, {', '.join(map(str, ensemble))}" if ensemble else run_dir
    print(f"{name}: {config['model']} on {kind}, {split} split of {where}, {len(rows)} clips")
    for t in tasks:
        if t not in scored:
            print(f"  {t}: skipped, the manifest has no {t} labels")
    # The run's classes, then any class the run never saw (it cannot answer those: each such clip is an error)
    unseen = {t: sorted({r[t] for r in rows if r.get(t)} - set(vocabs[t]), key=manifest.label_order)
              for t in scored if vocabs[t] is not None}
    extended = {t: None if vocabs[t] is None else vocabs[t] + unseen[t] for t in scored}
    for t, names in unseen.items():
        if names:
            counts = ", ".join(f"{n} ({sum(r[t] == n for r in rows)} clips)" for n in names)
            print(f"  {t}: classes the run never saw: {counts}; they count as errors")
    found, rows, _ = store.build(rows, kind, denoise=denoise, workers=workers, skip_bad=config.get("skip_bad", False),
                                 progress=sys.stderr.isatty())
    outputs = predictor(found)
    for member in ensemble:  # each run's outputs added, then the mean
        their_config, their_predictor = load_any(member, device, batch_size)
        differ = [k for k in ("tasks",) if their_config[k] != config[k]] + \
            (["denoise"] if their_config.get("denoise", False) != denoise else []) + \
            [f"{t} classes" for t in tasks if their_config["vocabs"].get(t) != vocabs[t]]
        if differ:
            raise ValueError(f"{member}: its {', '.join(differ)} differ from {run_dir}'s; an ensemble needs the same")
        their_kind = their_config["input"]
        their_store = found if their_kind == kind else store.build(rows, their_kind, denoise=denoise, workers=workers)[0]
        for t, value in their_predictor(their_store).items():
            outputs[t] = outputs[t] + value
    outputs = {t: value / (1 + len(ensemble)) for t, value in outputs.items()}
    labels = manifest.encode_labels(rows, extended, scored)  # (n, n_scored), NaN = unknown
    train = manifest.encode_labels([r for r in run_rows if r["split"] == "train"], vocabs, scored)
    scores = predict.task_scores(outputs, labels, train, scored, extended)
    print(f"{'task':10} {'clips':>5} {'acc':>6} {'bal acc':>7} {'macro-F1':>8} {'majority':>8}   (numeric: MAE)")
    matrices = {}
    for i, t in enumerate(scored):
        n = int((~np.isnan(labels[:, i])).sum())
        s = scores[t]
        if vocabs[t] is None:
            print(f"{t:10} {n:5d} MAE {s['mae']:.2f} years; always the training median: {s['baseline_mae']:.2f}")
            continue
        print(f"{t:10} {n:5d} {s['acc']:6.3f} {s['balanced_acc']:7.3f} {s['macro_f1']:8.3f} {s['majority']:8.3f}")
        known = ~np.isnan(labels[:, i])
        matrices[t] = metrics.confusion_matrix(labels[known, i].astype(int), outputs[t][known].argmax(axis=1),
                                               len(extended[t]), len(vocabs[t]))
    for t, cm in matrices.items():
        print(f"\n{t}: confusion matrix (rows = true class, columns = predicted)")
        print(metrics.confusion_table(cm, extended[t], vocabs[t]))
    if plot:
        plot_run(run_dir, split, matrices, extended, vocabs)
    if save:
        members = [str(r) for r in (run_dir, *ensemble)]

        def number(v):  # JSON has no NaN: a score without clips is null, as in train.py's metrics.json
            return None if np.isnan(v) else round(float(v), 4)
        tasks_out = {t: {f"{split}_mae": number(s["mae"]), "baseline_mae": number(s["baseline_mae"])}
                     if vocabs[t] is None else {f"{split}_acc": number(s["acc"]),
                                                f"{split}_balanced_acc": number(s["balanced_acc"]),
                                                "majority_baseline": number(s["majority"])}
                     for t, s in scores.items()}
        recipe = {"model": "ensemble" if ensemble else config["model"], "input": kind, "members": members,
                  "member_recipes": sorted(tables.recipe_of(files.read_json(Path(r) / "config.json")) for r in members),
                  "split": split, "manifest": other or config["manifest"]}
        runs.save_json({**recipe, "tasks": tasks_out}, Path(save) / "metrics.json")
        runs.save_json(recipe, Path(save) / "config.json")
        print(f"\nwrote {Path(save) / 'metrics.json'}")


# ----------------------------------------------------------------------------- profiles of recordings
def audio_paths(paths):
    """The files named, with every audio file under a named folder (sorted); a missing path stays in the list
    so that it gets its own error row."""
    found = []
    for p in map(Path, paths):
        found += sorted(q for q in p.rglob("*") if q.suffix.lower() in AUDIO_SUFFIXES) if p.is_dir() else [p]
    return found


def profile_wavs(run_dir, paths, device, batch_size, out_csv=None, skip_bad=False):
    """Profile recordings of any length: per file and task the predicted label, its probability and the
    runner-up (or the predicted value of a numeric task). Printed, and written as one CSV row per file to
    out_csv. An unreadable file becomes a row with its error (or is skipped with skip_bad); it never stops the
    rest. Returns (files that could not be read, files)."""
    config, model = runs.load_run(run_dir, device=device)
    kind, tasks, vocabs = config["input"], config["tasks"], config["vocabs"]
    paths = audio_paths(paths)
    if not paths:
        raise FileNotFoundError("no audio files found under the --wav paths")
    header = ["path", "duration_s"] + [c for t in tasks for c in ((t,) if vocabs[t] is None else
                                                                   (t, f"{t}_p", f"{t}_next", f"{t}_next_p"))] + ["error"]
    rows, bad = [], 0
    for k, path in enumerate(paths, 1):
        if sys.stderr.isatty():
            print(f"\rprofiling {k}/{len(paths)}", end="", file=sys.stderr, flush=True)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # a nearly silent clip still gets its profile
                y = audio.load_audio(path)  # (N,) float32 mono at 16 kHz, whatever the file's rate and channels
            if config["denoise"]:
                from denoise import denoise
                y = denoise(y, features.SR)
            x = features.extract(y, features.SR, kind)  # (*input_shape, T)
        except (audio.AudioError, ValueError) as err:
            bad += 1
            if not skip_bad:
                rows.append({"path": str(path), "error": str(err)})
            continue
        outputs = predict.predict(model, store.MemoryStore(kind, [x]), kind, device, batch_size)
        row = {"path": str(path), "duration_s": f"{len(y) / features.SR:.2f}"}
        for t in tasks:
            if vocabs[t] is None:
                row[t] = f"{outputs[t][0]:.1f}"
                continue
            p = outputs[t][0]  # (n_classes,)
            first, second = np.argsort(-p)[:2] if len(p) > 1 else (np.argmax(p), None)
            row.update({t: vocabs[t][first], f"{t}_p": f"{p[first]:.2f}",
                        f"{t}_next": "" if second is None else vocabs[t][second],
                        f"{t}_next_p": "" if second is None else f"{p[second]:.2f}"})
        rows.append(row)
    if sys.stderr.isatty():
        print(file=sys.stderr)
    for row in rows:
        if row.get("error"):
            print(f"evaluate.py: error: {row['error']}", file=sys.stderr)
            continue
        print(f"{row['path']}: {float(row['duration_s']):.1f} s; {config['model']} on {kind}")
        for t in tasks:
            print(f"  {t:10} {row[t]:>6} years" if vocabs[t] is None else
                  f"  {t:10} {files.pad(row[t], 8)} {row[f'{t}_p']}   (next: {row[f'{t}_next']} {row[f'{t}_next_p']})")
    if out_csv:
        text = io.StringIO(newline="")
        writer = csv.DictWriter(text, fieldnames=header, restval="")
        writer.writeheader()
        writer.writerows(rows)
        files.atomic_write_text(out_csv, text.getvalue())
        print(f"wrote {out_csv}: {len(rows)} rows" + (f", {bad} unreadable" if bad else ""))
    if bad and skip_bad:
        print(f"skipped {bad} unreadable file(s)", file=sys.stderr)
    return bad, len(paths)


# ----------------------------------------------------------------------------- plots
def plot_run(run_dir, split, matrices, true_names, predicted_names):
    """Training curves (curves.png) and one confusion matrix per task (confusion_<split>_<task>.png)."""
    plt = plots.pyplot()
    run_dir = Path(run_dir)
    history = runs.read_history(run_dir / "history.csv")
    epochs = [h["epoch"] for h in history]
    tasks = list(matrices)
    fig, axes = plt.subplots(1, 1 + len(tasks), figsize=(4 * (1 + len(tasks)), 3.5), squeeze=False)
    axes = axes[0]
    axes[0].plot(epochs, [h["loss"] for h in history])
    axes[0].set(title="training loss", xlabel="epoch")
    for ax, t in zip(axes[1:], tasks):
        for key, label in (("train_acc", "train (batches)"), ("val_acc", "val"), ("val_balanced_acc", "val bal")):
            ax.plot(epochs, [h[f"{t}_{key}"] for h in history], label=label)
        ax.set(title=t, xlabel="epoch", ylabel="accuracy", ylim=(0, 1))
        ax.legend()
    fig.tight_layout()
    plots.save(fig, run_dir / "curves.png")
    written = [run_dir / "curves.png"]
    for t, cm in matrices.items():
        fig, ax = plt.subplots(figsize=(1 + 0.6 * cm.shape[1], 1 + 0.6 * cm.shape[0]))
        ax.imshow(cm, cmap="Blues")
        for (i, j), c in np.ndenumerate(cm):
            ax.text(j, i, str(c), ha="center", va="center")
        ax.set(xticks=range(cm.shape[1]), yticks=range(cm.shape[0]), xlabel="predicted", ylabel="true",
               title=f"{t} ({split})")
        ax.set_xticklabels(plots.plot_labels(predicted_names[t], plt), rotation=45)
        ax.set_yticklabels(plots.plot_labels(true_names[t], plt))
        fig.tight_layout()
        plots.save(fig, run_dir / f"confusion_{split}_{t}.png")
        written.append(run_dir / f"confusion_{split}_{t}.png")
    print("wrote " + ", ".join(str(p) for p in written))


# ----------------------------------------------------------------------------- command line
def main(argv=None):
    parser = argparse.ArgumentParser(description="Evaluate run folders written by train.py; see the docstring.")
    parser.add_argument("run", nargs="*", help="run folder (config.json, best.pt, manifest.csv, ...); several "
                        "runs with the same tasks (train.py's, or baseline.py's): their ensemble (outputs averaged per "
                        "clip), scored on the first's manifest")
    parser.add_argument("--split", default="test", choices=("train", "val", "test", "all"),
                        help="split to score (default test; all = every row)")
    parser.add_argument("--manifest", help="score on this labelled manifest instead of the run's own (cross-corpus)")
    parser.add_argument("--compare", nargs="+", metavar="RUN", help="print the results table of these runs")
    parser.add_argument("--metric", default="both", choices=("acc", "balanced", "both"),
                        help="--compare: accuracy, balanced accuracy, or both (default both)")
    parser.add_argument("--mean", action="store_true", help="--compare: one row per recipe (runs that differ only in "
                        "seed, run folder or manifest, e.g. the folds of a cross-validation), the mean +- standard deviation of its scores on --split (default test)")
    parser.add_argument("--save", metavar="DIR", help="a split report (one run or an ensemble): also write "
                        "DIR/metrics.json and DIR/config.json, so --compare lists it")
    parser.add_argument("--wav", nargs="+", metavar="PATH", help="profile recordings: files and/or folders "
                        "(WAV/FLAC/MP3..., any rate, mono or stereo)")
    parser.add_argument("--out", help="--wav: write one CSV row per file here")
    parser.add_argument("--skip-bad", action="store_true", help="--wav: leave unreadable files out of the CSV")
    parser.add_argument("--plot", action="store_true", help="also write curves.png and confusion matrices (matplotlib)")
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"), help="auto = cuda when available")
    parser.add_argument("--batch-size", type=int, default=64, help="windows per forward pass (default 64)")
    parser.add_argument("--workers", type=int, default=0, help="processes for feature extraction (default 0 = none)")
    args = parser.parse_args(argv)
    if bool(args.compare) == bool(args.run):
        parser.error("give one run folder, or --compare RUN1 RUN2 ...")
    if args.batch_size <= 0:
        parser.error(f"--batch-size must be positive, got {args.batch_size}")
    if args.out and not args.wav:
        parser.error("--out goes with --wav")
    if args.mean and not args.compare:
        parser.error("--mean goes with --compare")
    if args.save and (args.compare or args.wav):
        parser.error("--save goes with a split report: RUN [RUN ...] [--split ...]")
    if len(args.run) > 1 and (args.wav or args.plot):
        parser.error("--wav and --plot take one run folder; several runs are scored as an ensemble on a split")
    if args.plot and importlib.util.find_spec("matplotlib") is None:  # say so before computing anything
        print("evaluate.py: error: --plot needs matplotlib: pip install matplotlib", file=sys.stderr)
        return 2
    try:
        device = runs.choose_device(args.device)
        if args.compare:
            tables.compare_mean(args.compare, args.split) if args.mean else tables.compare(args.compare, args.metric)
        elif args.wav:
            bad, total = profile_wavs(args.run[0], args.wav, device, args.batch_size, args.out, args.skip_bad)
            return 2 if bad == total else 0  # exit 2 only when no file at all could be profiled
        else:
            split_report(args.run[0], args.split, device, args.batch_size, args.plot, args.manifest, args.workers,
                         args.run[1:], args.save)
    except (OSError, ValueError) as err:  # missing files, bad audio, a file that is not a checkpoint
        print(f"evaluate.py: error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    with warnings.catch_warnings():
        warnings.simplefilter("default")
        sys.exit(main())
