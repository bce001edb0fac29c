"""Data floor: model windows cut from cached features, the training Dataset, balanced sampling, and the data CLI.

The manifest and its splits live in manifest.py, audio loading in audio.py, corpus adapters in corpora.py,
aihub.py and kaldi.py, the feature cache in cache.py; this module knows nothing of models.

    python data.py synth --out /tmp/synth            # the built-in synthetic corpus (synth_corpus.py)
    python data.py timit --root ../shared/data/timit_sample --out timit.csv
    python data.py kaldi --root so762/train so762/test --out so762.csv   # Kaldi data directories (kaldi.py)
    python data.py describe timit.csv --plot figs/   # label tables per split, figures (describe.py)
    python -m pytest tests/test_data.py
"""
import argparse
import importlib.util
import sys
import time
import warnings
from collections import Counter
from pathlib import Path

import numpy as np
import torch

import aihub
import corpora
import kaldi
from describe import check_tasks, describe, plot_describe
from features import frames_per_window, input_shape
from labels import AGE_BINS_HELP, parse_age_bins
from manifest import TASKS, assign_splits, read_manifest, resolve_speaker_conflicts, split_summary, write_manifest
from synth_corpus import SYNTH_SPEAKERS, SYNTH_UTTERANCES, make_synth_corpus

BALANCE_OPTIONS = ("none", "gender", "age", "dialect", "joint")


# ---------------------------------------------------------------- 1. windows and the Dataset
def fit_length(x, length, start=0):
    """x[..., start:start + length], zero-padded at the end to exactly `length` along the last axis."""
    x = x[..., start:start + length]
    pad = length - x.shape[-1]
    return np.pad(x, [(0, 0)] * (x.ndim - 1) + [(0, pad)]) if pad > 0 else x


def windows(x, length):
    """Cut a whole clip into model windows -> (n_windows, *x.shape[:-1], length), n_windows = ceil(T / length).

    Windows start every `length` frames; when T is not a multiple of `length`, the last window is aligned with
    the clip's end instead (it overlaps the one before), so every window is real signal and none is mostly
    zero padding. Only a clip shorter than one window is zero-padded (one window). Utterance-level prediction
    (train.py validation, evaluate.py) runs the model on every window and averages the windows' class
    probabilities, so a 12 s clip is judged on all 12 s, not on its first 4.
    """
    T = x.shape[-1]
    if T <= length:
        return fit_length(x, length)[None]  # (1, ..., length)
    starts = list(range(0, T - length + 1, length))  # full windows from the start
    if starts[-1] + length < T:
        starts.append(T - length)  # the tail, aligned to the end
    return np.stack([x[..., s:s + length] for s in starts])  # (n, ..., length)


class ProfilingDataset(torch.utils.data.Dataset):
    """In-memory features and labels -> (x float32 (*input_shape(kind), L), y int64 (n_tasks,)) tensors.

    L = frames_per_window(kind). Training: a random crop of L frames (a clip shorter than L is zero-padded at
    the end), drawn from a generator seeded with `seed` -- use it with DataLoader(num_workers=0), the data is
    already in memory. Evaluation: the first window, fixed; for utterance-level scores use `windows()`.
    """

    def __init__(self, features, labels, kind, train, seed=0):
        self.features, self.labels = list(features), np.asarray(labels, dtype=np.int64)  # labels (N, n_tasks)
        self.length, self.train = frames_per_window(kind), train
        self.rng = np.random.default_rng(seed)
        for x in self.features:
            if x.shape[:-1] != tuple(input_shape(kind)):
                raise ValueError(f"feature shape {x.shape} does not match input {kind!r} "
                                 f"(expected {input_shape(kind)} + (frames,))")
        assert len(self.features) == len(self.labels), "one label row per clip"

    def __len__(self):
        return len(self.features)

    def __getitem__(self, i):
        x = self.features[i]  # (*input_shape, T)
        spare = x.shape[-1] - self.length  # frames beyond one window
        start = int(self.rng.integers(0, spare + 1)) if self.train and spare > 0 else 0
        return torch.from_numpy(np.ascontiguousarray(fit_length(x, self.length, start))), \
            torch.from_numpy(self.labels[i])


# ---------------------------------------------------------------- 2. balanced sampling
def balanced_sampler(rows, vocabs, by, num_samples=None, seed=0):
    """A WeightedRandomSampler that draws each class of label `by` equally often (None for by="none").

    by in {"none", "gender", "age", "dialect", "joint"}. Each row's weight is 1 / (clips of its class).
    Rows whose `by` label is unknown get the mean weight of the known rows: they still train the other tasks,
    at the rate of an average clip. "joint" balances the (age, gender, dialect) combination (unknown is a value
    of its own), but a combination smaller than the median combination is weighted as if it had the median
    count: otherwise a combination with one clip would be replayed hundreds of times per epoch.

    Default for multi-task training: "joint". Balancing one label leaves the other two as skewed as before
    (or worse: equal genders can mean even fewer 60s speakers); joint balancing flattens all three marginals
    at once, as far as the combinations exist, and the median floor keeps the rare ones from being memorised.
    For a single-task model balance that task's own label. num_samples defaults to len(rows) (one epoch).
    """
    if by not in BALANCE_OPTIONS:
        raise ValueError(f"balance {by!r} is not one of {', '.join(BALANCE_OPTIONS)}")
    if by == "none":
        return None
    if by == "joint":
        keys = [tuple(row.get(t, "") for t in TASKS) for row in rows]
        counts = Counter(keys)
        floor = float(np.median(list(counts.values())))  # clips in the median combination
        weights = np.array([1.0 / max(counts[k], floor) for k in keys])
    else:
        keys = [row.get(by, "") for row in rows]
        known = np.array([k in vocabs[by] for k in keys])  # empty cells (and labels outside the vocab)
        if not known.any():
            raise ValueError(f"cannot balance by {by!r}: no row has a known {by} label")
        counts = Counter(k for k, ok in zip(keys, known) if ok)
        weights = np.array([1.0 / counts[k] if ok else 0.0 for k, ok in zip(keys, known)])
        weights[~known] = weights[known].mean()
    generator = torch.Generator().manual_seed(seed)
    return torch.utils.data.WeightedRandomSampler(torch.as_tensor(weights, dtype=torch.double),
                                                  num_samples or len(rows), replacement=True,
                                                  generator=generator)


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
            else:
                _import_corpus(args)
        except (ValueError, OSError) as err:
            print(f"error: {err}", file=sys.stderr)
            return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
