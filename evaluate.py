"""Evaluate: what a trained model says about whole clips, and how good that is -- on a split of its corpus, on
another corpus, or on your own recordings.

Every prediction is utterance-level: the model reads every 4 s window of a clip and the windows' class
probabilities are averaged (`mtl.predict`). Scores stand beside the majority-class baseline (always answer the
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
import sys
import warnings
from pathlib import Path

import numpy as np

import data
import metrics
import mtl
from scale import checkpoints  # seam: a run folder read back: its model (no pickle runs), its manifest as trained

RELEASE = Path(__file__).resolve().parent / "release"  # the released model (release/MODEL_CARD.md), the --wav default


# ----------------------------------------------------------------------------- 1. scores on a manifest
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
        config, model = checkpoints.load_run(run_dirs[0], device=device)
    tasks, kind, vocabs = config["tasks"], config["input"], config["vocabs"]
    run_rows = checkpoints.read_run_manifest(run_dirs[0], config)
    rows = data.read_manifest(other, seed=config["seed"]) if other else run_rows
    rows = [r for r in rows if split == "all" or r["split"] == split]
    if not rows:
        raise ValueError(f"{other or Path(run_dirs[0]) / 'manifest.csv'}: no {split} rows")
    scored = [t for t in tasks if any(r.get(t) for r in rows)]
    where = f"{other} (cross-corpus: trained on {config['manifest']})" if other else config["manifest"]
    name = f"ensemble of {', '.join(map(str, run_dirs))}" if len(run_dirs) > 1 else run_dirs[0]
    print(f"{name}: {config['model']} on {kind}, {split} split of {where}, {len(rows)} clips")
    for t in [t for t in tasks if t not in scored]:
        print(f"  {t}: skipped, the manifest has no {t} labels")
    # The run's classes, then any class the run never saw (it cannot answer those: each such clip is an error)
    unseen = {t: sorted({r[t] for r in rows if r.get(t)} - set(vocabs[t]), key=data.label_order)
              for t in scored if vocabs[t] is not None}
    extended = {t: None if vocabs[t] is None else vocabs[t] + unseen[t] for t in scored}
    for t, names in unseen.items():
        if names:
            counts = ", ".join(f"{n} ({sum(r[t] == n for r in rows)} clips)" for n in names)
            print(f"  {t}: classes the run never saw: {counts}; they count as errors")
    def read(rows, kind):  # features in memory, or --store: on disk
        from scale.store import features_of  # seam: features in memory or from the on-disk store
        return features_of(rows, kind, config.get("denoise", False), workers, skip_bad, store)
    if several:  # the mean of the members' outputs
        outputs, kept = ensemble.outputs(members, rows, read)
    else:
        feats, kept, _ = read(rows, kind)
        outputs = mtl.predict(model, feats, kind, device, batch_size)
    labels = data.encode_labels(kept, extended, scored)  # (n, n_scored), NaN = unknown
    train = data.encode_labels([r for r in run_rows if r["split"] == "train"], vocabs, scored)
    scores = metrics.task_scores(outputs, labels, train, scored, extended)
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
    from scale.tables import confusion_table  # seam: tables as aligned text
    for t, cm in matrices.items():
        print(f"\n{t}: confusion matrix (rows = true class, columns = predicted)")
        print(confusion_table(cm, extended[t], vocabs[t]))
    if save:
        ensemble.save(save, run_dirs, config, split, other, scores, vocabs)
    if plot:
        from extras.plots import plot_run  # seam: matplotlib, only when asked for
        plot_run(run_dirs[0], split, matrices, extended, vocabs)
    return scores


# ----------------------------------------------------------------------------- 2. command line
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
    from scale.evaluate_flags import check  # seam: the flags against each other; --wav's default; --out's target
    check(args, parser, RELEASE)
    if args.plot and importlib.util.find_spec("matplotlib") is None:  # a missing library, said before any work
        print("evaluate.py: error: --plot needs matplotlib: pip install matplotlib", file=sys.stderr)
        return 2
    try:
        from scale.runs import choose_device  # seam: --device, chosen as train.py chooses it
        device = choose_device(args.device)
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
    from scale import console  # seam: what a command prints -- on any terminal, each warning one line
    console.any_terminal()
    with console.one_line_warnings():
        warnings.simplefilter("default")
        try:
            sys.exit(main())
        except KeyboardInterrupt:  # Ctrl-C while reading or profiling: one line, nothing half-written (atomic files)
            print("evaluate.py: interrupted", file=sys.stderr)
            sys.exit(130)
