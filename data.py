"""Data floor: model windows cut from the feature store, the epoch plan, balanced sampling, and the data CLI.

The manifest and its splits live in manifest.py, audio loading in audio.py, corpus adapters in corpora.py,
aihub.py and kaldi.py, the features on disk in store.py. This module knows nothing of models and imports no torch: a DataLoader accepts
any object with __getitem__, and `Batches` is one -- its items are whole batches, cut in worker processes.

    python data.py synth --out /tmp/synth            # the built-in synthetic corpus (synth_corpus.py)
    python data.py timit --root ../shared/data/timit_sample --out timit.csv
    python data.py describe timit.csv                # label tables per split (describe.py)
    python data.py folds timit.csv --k 5 --out folds # cross-validation manifests (manifest.speaker_folds)
    python -m pytest tests/test_data.py
"""
import argparse
import importlib.util
import math
import sys
import time
import warnings
from pathlib import Path

import numpy as np

import aihub
import corpora
import kaldi
from describe import check_tasks, describe, plot_describe
from labels import AGE_BINS_HELP, parse_age_bins
from manifest import (TASKS, assign_splits, read_manifest, resolve_speaker_conflicts, speaker_folds, split_summary,
                      write_manifest)
from synth_corpus import SYNTH_SPEAKERS, SYNTH_UTTERANCES, make_synth_corpus

WINDOW_SLACK = 40  # an evaluated clip may leave 1/40 of a window (0.1 s of 4 s) unjudged rather than add a window
MAX_REPLAY = 5.0  # balanced sampling draws no class more than this many times as often as it occurs


# ---------------------------------------------------------------- 1. windows and batches
def window_starts(T, length):
    """Where the evaluation windows of a clip of T frames start: evenly spaced, together covering the clip.

    n = max(1, ceil((T - length/WINDOW_SLACK) / length)) windows from 0 to T - length, so a 4.00 s clip (401
    frames) is one window, not two windows one frame apart; a clip shorter than one window is one (padded)
    window. Utterance-level prediction averages the windows' class probabilities, so a 12 s clip is judged on
    all 12 s, not on its first 4.
    """
    n = max(1, math.ceil((T - length // WINDOW_SLACK) / length))
    return [0] if n == 1 else np.round(np.linspace(0, T - length, n)).astype(np.int64).tolist()


def evaluation_windows(store, length, clips=None):
    """(n_windows, 3) int64 rows (clip, version 0, start) covering every clip (or the given clips)."""
    clips = range(len(store)) if clips is None else clips
    return np.array([(i, 0, s) for i in clips for s in window_starts(store.length(i), length)],
                    dtype=np.int64).reshape(-1, 3)


class Batches:
    """Batches cut from a Store: batches[spec] -> (x, lengths, y), all NumPy.

    spec: (B, 3) int64 rows of (clip, version, start frame). x: float32 (B, *input_shape, length), each window
    frames [start, start + length) of that clip's version, zero-padded where the clip ends; lengths: int64 (B,)
    real frames of each window (the models ignore the padding); y: float32 (B, n_tasks) labels, NaN = unknown.
    Picklable (the store maps its files anew in each worker process).
    """

    def __init__(self, store, labels, length):
        self.store, self.labels, self.length = store, np.asarray(labels, dtype=np.float32), length
        assert len(self.labels) == len(store), "one label row per clip"

    def __getitem__(self, spec):
        spec = np.asarray(spec, dtype=np.int64).reshape(-1, 3)
        x = np.zeros((len(spec), *self.store.shape, self.length), dtype=np.float32)  # (B, *shape, L)
        lengths = np.zeros(len(spec), dtype=np.int64)
        for b, (i, v, start) in enumerate(spec):
            window = self.store.read(i, v, start, start + self.length)  # (*shape, <= L)
            x[b, ..., :window.shape[-1]] = window
            lengths[b] = window.shape[-1]
        return x, lengths, self.labels[spec[:, 0]]


# ---------------------------------------------------------------- 2. the epoch plan and balanced sampling
def epoch_plan(seed, epoch, lengths, length, batch_size, weights=None):
    """Every training batch of one epoch, drawn from a generator seeded with (seed, epoch) alone.

    lengths: (n_clips, n_versions) frames of each clip's versions; weights: (n_clips,) sampling weights
    (balance_weights) or None for a plain shuffle. Each draw is a clip (by weight, with replacement; or a
    permutation), one of its versions (uniformly) and a crop start (uniform in [0, T - length]). Returns a list
    of (B, 3) int64 specs for Batches; the last partial batch is dropped when there are at least batch_size clips.
    Whatever the number of workers or processes, a resumed run sees exactly these batches.
    """
    rng = np.random.default_rng([seed, epoch])
    n, V = lengths.shape
    order = rng.permutation(n) if weights is None else rng.choice(n, size=n, p=weights / weights.sum())
    versions = rng.integers(0, V, size=n)  # (n,)
    T = lengths[order, versions]  # (n,) frames of each chosen version
    starts = (rng.random(n) * np.maximum(T - length + 1, 1)).astype(np.int64)  # (n,) in [0, max(T - L, 0)]
    spec = np.stack([order, versions, starts], axis=1)  # (n, 3)
    n_batches = n // batch_size if n >= batch_size else 1
    return [spec[k * batch_size:(k + 1) * batch_size] for k in range(n_batches)]


def class_targets(counts, cap=None):
    """Equal shares for classes of `counts` clips, except that no class gets more than `cap` times its natural
    share counts / sum(counts) -> shares (K,) summing to 1. Water-filling: a class that cannot take an equal
    share without breaking the cap gets exactly the cap, and the rest is shared equally among the others."""
    cap = MAX_REPLAY if cap is None else cap
    natural = np.asarray(counts, dtype=np.float64) / np.sum(counts)  # (K,)
    limit = np.minimum(cap * natural, 1.0)  # (K,) the largest share each class may get
    share, fixed = np.zeros(len(natural)), np.zeros(len(natural), dtype=bool)
    while True:
        share[~fixed] = (1.0 - share[fixed].sum()) / (~fixed).sum()  # split what is left equally
        over = ~fixed & (share > limit)
        if not over.any():
            return share
        share[over], fixed[over] = limit[over], True


def balance_weights(labels, columns, iterations=500):
    """Sampling weights (n,), mean 1, that flatten the class shares of every label column in `columns` at once.

    labels: float (n, n_tasks), NaN = unknown; columns: the indices of the classification tasks to balance (one
    for a single task, all trained ones for "joint"). Each class's target share of its column is equal, except
    that no class is drawn more than MAX_REPLAY times as often as it occurs (class_targets): so a class of one
    clip in 100 is drawn 5 times per epoch, not 50. Iterative proportional fitting (raking, Deming & Stephan 1940)
    then finds weights that meet every column's targets at once: for each column in turn, scale the weights of
    each class's known rows to its target share of the known weight. Rows whose label is unknown keep their
    weight, so they still train the other tasks. With one column this is exactly target_k / (clips of class k).
    """
    labels = np.asarray(labels, dtype=np.float64)
    w = np.ones(len(labels))
    plans = []  # per column: (known rows, [(rows of class k, target share k)])
    for c in columns:
        y, known = labels[:, c], ~np.isnan(labels[:, c])
        classes, counts = np.unique(y[known], return_counts=True)
        plans.append((known, [(known & (y == k), t) for k, t in zip(classes, class_targets(counts))]))
    for _ in range(iterations):
        before = w.copy()
        for known, targets in plans:
            total = w[known].sum()
            for rows, share in targets:
                w[rows] *= share * total / w[rows].sum()
        if np.abs(w - before).max() < 1e-10 * w.max():
            break
    return w / w.mean()


# ---------------------------------------------------------------- 3. command line
def _import_corpus(args):
    """Run one adapter (corpora.py, aihub.py, kaldi.py), make each speaker's labels consistent, assign the
    missing splits by speaker, write the manifest atomically, print a summary."""
    roots = args.root if isinstance(args.root, list) else [args.root]
    for root in roots:
        if not Path(root).is_dir():
            raise FileNotFoundError(f"{root}: corpus folder not found")
    bins = parse_age_bins(args.age_bins)
    if args.command == "aihub":
        rows = aihub.aihub_rows(args.root, bins=bins, region_codes=args.region_codes)
    elif args.command == "commonvoice":
        rows = corpora.commonvoice_rows(args.root, bins=bins)
    elif args.command == "timit":
        rows = corpora.timit_rows(args.root, seed=args.seed, bins=bins)
    else:
        rows = kaldi.kaldi_rows(args.root, bins=bins, audio_root=args.audio_root, seed=args.seed)
    if not rows:
        raise ValueError(f"{', '.join(map(str, roots))}: no labelled audio found for the {args.command} layout")
    rows = resolve_speaker_conflicts(rows, f"{args.command} {' '.join(map(str, roots))}")
    rows = assign_splits(rows, seed=args.seed)
    write_manifest(rows, args.out)
    print(f"wrote {args.out}: {split_summary(rows)}")


def _describe(args):
    """Print the label tables of a manifest for --tasks; with --plot, write the figures too."""
    tasks = [t.strip() for t in args.tasks.split(",") if t.strip()]
    if not tasks:
        raise ValueError(f"--tasks {args.tasks!r}: expected column names separated by commas")
    if args.plot and importlib.util.find_spec("matplotlib") is None:  # say so before reading anything
        raise ValueError("--plot needs matplotlib: pip install matplotlib")
    rows = read_manifest(args.manifest)
    check_tasks(rows, tasks, args.manifest)
    print(describe(rows, tasks))
    if args.plot:
        written = plot_describe(rows, tasks, args.plot, seed=args.seed)
        print(f"wrote {len(written)} figures to {args.plot}: {', '.join(p.name for p in written)}")


def _folds(args):
    """Write k cross-validation manifests (fold0.csv ...) of a manifest's training and validation speakers."""
    if args.k < 2:
        raise ValueError(f"--k {args.k}: cross-validation needs at least 2 folds")
    for i, rows in enumerate(speaker_folds(read_manifest(args.manifest), args.k, args.seed)):
        path = Path(args.out) / f"fold{i}.csv"
        write_manifest(rows, path)
        print(f"wrote {path}: {split_summary(rows)}")


def _one_line_warning(message, category, filename, lineno, file=None, line=None):
    """warnings.showwarning for the command line: "warning: MESSAGE" on stderr, no source line."""
    print(f"warning: {message}", file=sys.stderr)


def main(argv=None):
    """`python data.py {synth,aihub,commonvoice,timit,kaldi,describe} ...`; returns the exit code (2 on bad input)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    p = commands.add_parser("synth", help="write the built-in synthetic corpus (synth.py) and its manifest")
    p.add_argument("--out", required=True, help="output folder (WAVs under wav/, then manifest.csv)")
    p.add_argument("--speakers", type=int, default=SYNTH_SPEAKERS, help=f"number of speakers (default {SYNTH_SPEAKERS})")
    p.add_argument("--utterances", type=int, default=SYNTH_UTTERANCES,
                   help=f"utterances per speaker, 4 s each (default {SYNTH_UTTERANCES})")
    p.add_argument("--seed", type=int, default=0, help="random seed for voices and splits (default 0)")
    p.add_argument("--workers", type=int, default=1, help="parallel processes (default 1)")
    for name, what in [("aihub", "AI Hub speech data (JSON labels + audio, loose or in .zip archives)"),
                       ("commonvoice", "a Common Voice release folder (TSV + clips/)"),
                       ("timit", "TIMIT (LDC or NLTK layout, with spkrinfo.txt)"),
                       ("kaldi", "Kaldi data directories (wav.scp, utt2spk, spk2gender, spk2age, ...)")]:
        p = commands.add_parser(name, help=f"build a manifest from {what}")
        if name == "kaldi":
            p.add_argument("--root", required=True, nargs="+", metavar="DIR",
                           help="data directories; train/test/dev(val) keep their split")
            p.add_argument("--audio-root", help="folder that relative wav.scp paths are relative to "
                                                "(default: the data directory's parent, grandparent, itself)")
        else:
            p.add_argument("--root", required=True, help="the corpus folder")
        if name == "aihub":
            p.add_argument("--region-codes", choices=("legal", "kostat"),
                           help="how to read 2-digit region codes: legal-district (26 = 부산) or KOSTAT "
                                "(21 = 부산); without it a 2-digit code is an error")
        p.add_argument("--out", required=True, help="manifest CSV to write")
        p.add_argument("--age-bins", default="decades", help=f"age groups: {AGE_BINS_HELP}")
        p.add_argument("--seed", type=int, default=0, help="seed of the speaker-disjoint split (default 0)")
    p = commands.add_parser("describe", help="print label tables per split for a manifest (and figures)")
    p.add_argument("manifest", help="manifest CSV")
    p.add_argument("--tasks", default=",".join(TASKS),
                   help=f"columns to tabulate, comma-separated (default {','.join(TASKS)}); any column works")
    p.add_argument("--plot", metavar="DIR", help="also write PNG figures into DIR (needs matplotlib)")
    p.add_argument("--seed", type=int, default=0, help="seed of the split fill-in and the F0 sample (default 0)")
    p = commands.add_parser("folds", help="write k speaker-disjoint cross-validation manifests of the training and "
                            "validation speakers (test rows left out)")
    p.add_argument("manifest", help="manifest CSV")
    p.add_argument("--k", type=int, default=5, help="number of folds (default 5)")
    p.add_argument("--out", required=True, help="folder for fold0.csv ... fold{k-1}.csv")
    p.add_argument("--seed", type=int, default=0, help="seed of the dealing (default 0)")
    args = parser.parse_args(argv)
    with warnings.catch_warnings():
        warnings.showwarning = _one_line_warning
        try:
            if args.command == "synth":
                start = time.perf_counter()
                path = make_synth_corpus(args.out, args.speakers, args.utterances, args.seed, args.workers)
                print(f"{path}: {split_summary(read_manifest(path))} [{time.perf_counter() - start:.1f} s]")
            elif args.command == "describe":
                _describe(args)
            elif args.command == "folds":
                _folds(args)
            else:
                _import_corpus(args)
        except (ValueError, OSError) as err:
            print(f"error: {err}", file=sys.stderr)
            return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
