"""The data commands: corpus adapters that write manifests, the built-in corpus, label tables, folds.

`python -m corpora COMMAND ...` runs this (corpora/__main__.py):
    synth        the built-in synthetic corpus (extras/synth_corpus.py)
    aihub        AI Hub label JSON + audio, loose or in zip archives, four layouts (corpora/aihub.py)
    commonvoice  a Common Voice language folder, or a release's folder of them (corpora/commonvoice.py)
    timit        TIMIT, LDC or NLTK layout (corpora/timit.py)
    saa          the Speech Accent Archive (corpora/saa.py)
    deeply       Deeply Inc.'s Korean read speech and parent-child corpora (corpora/deeply.py)
    ravdess      RAVDESS speech, emotion and intensity per clip (corpora/ravdess.py)
    merge        several manifests as one, each corpus named and keeping its splits, ages binned alike
    kaldi        Kaldi data directories, segments too (corpora/kaldi.py)
    describe     label tables per split for any column, and figures (corpora/describe.py)
    folds        k speaker-disjoint cross-validation manifests (corpora/speakers.py)
Every adapter's rows get one set of labels per speaker and speaker-disjoint splits, and the manifest is
written atomically.

    python -m corpora kaldi --root speechocean762/train speechocean762/test --out so762.csv
    python -m pytest tests/test_corpora.py
"""
import argparse
import importlib.util
import sys
import time
from pathlib import Path

from corpora import aihub, commonvoice, deeply, kaldi, ravdess, saa, timit
from corpora.describe import check_tasks, describe, plot_describe
from corpora.labels import AGE_BINS_HELP, age_group, parse_age_bins
from corpora.rows import MIN_SEGMENT_S, check_min_segment
from corpora.speakers import resolve_speaker_conflicts, speaker_folds
from corpora.text import check_output
from data import MIN_CLIP_S, PER_CLIP_COLUMNS, SPLITS, TASKS, assign_splits, read_manifest
from scale import console
from scale.files import write_manifest
from extras.synth_corpus import SYNTH_SPEAKERS, SYNTH_UTTERANCES, make_synth_corpus


def split_summary(rows):
    """One line: clips and speakers per split, e.g. "1200 clips, 240 speakers (train 191 / val 25 / test 24 speakers)"."""
    speakers = {s: {r["speaker"] for r in rows if r["split"] == s} for s in SPLITS}
    per_split = " / ".join(f"{s} {len(speakers[s])}" for s in SPLITS)
    return f"{len(rows)} clips, {len({r['speaker'] for r in rows})} speakers ({per_split} speakers)"


def _import_corpus(args):
    """Run one adapter (corpora/aihub.py, commonvoice.py, timit.py, saa.py, deeply.py, ravdess.py, kaldi.py), make
    each speaker's labels consistent, assign the missing splits by speaker, write the manifest atomically, print a
    summary."""
    check_output(args.out, "path,speaker", "manifest")  # never replace a file that is not a manifest
    roots = args.root if isinstance(args.root, list) else [args.root]
    for root in roots:
        if not Path(root).is_dir():
            raise FileNotFoundError(f"{root}: corpus folder not found")
    bins = parse_age_bins(args.age_bins)
    if args.command in ("aihub", "kaldi"):
        check_min_segment(args.min_segment_s)  # before the corpus is read
    if args.command == "aihub":
        rows = aihub.aihub_rows(args.root, bins=bins, region_codes=args.region_codes,
                                min_segment_s=args.min_segment_s)
    elif args.command == "commonvoice":
        rows = commonvoice.commonvoice_rows(args.root, bins=bins)
    elif args.command == "timit":
        rows = timit.timit_rows(args.root, seed=args.seed, bins=bins)
    elif args.command == "saa":
        rows = saa.saa_rows(args.root, bins=bins)
    elif args.command == "deeply":
        rows = deeply.deeply_rows(args.root, bins=bins)
    elif args.command == "ravdess":
        rows = ravdess.ravdess_rows(args.root, bins=bins)
    else:
        rows = kaldi.kaldi_rows(args.root, bins=bins, audio_root=args.audio_root, seed=args.seed,
                                min_segment_s=args.min_segment_s)
    if not rows:
        raise ValueError(f"{', '.join(map(str, roots))}: no labelled audio found for the {args.command} layout")
    rows = resolve_speaker_conflicts(rows, f"{args.command} {' '.join(map(str, roots))}", PER_CLIP_COLUMNS, TASKS)
    rows = assign_splits(rows, seed=args.seed)
    write_manifest(rows, args.out)
    print(f"wrote {args.out}: {split_summary(rows)}")


def _merge(args):
    """Several manifests as one (the `corpus` column names each; speakers prefixed with it so that two corpora's
    "0001" stay apart), each keeping its own splits; the age groups of every corpus derived anew from age_years
    with one --age-bins, so a class means the same everywhere (a row without age_years keeps its group only if
    the group is one of the new bins)."""
    check_output(args.out, "path,speaker", "manifest")
    names = args.names.split(",") if args.names else [Path(m).stem for m in args.manifests]
    if len(names) != len(args.manifests) or len(set(names)) != len(names):
        raise ValueError(f"--names {args.names}: expected {len(args.manifests)} distinct names, one per manifest")
    bins = parse_age_bins(args.age_bins)
    new_groups, rows, regrouped = {name for _, name in bins}, [], 0
    for manifest, name in zip(args.manifests, names):
        for row in read_manifest(manifest, seed=args.seed):
            group = age_group(row["age_years"], bins) if row.get("age_years") else \
                (row["age"] if row.get("age") in new_groups else "")
            regrouped += group != row.get("age", "")
            rows.append(dict(row, corpus=name, speaker=f"{name}/{row['speaker']}", age=group))
    write_manifest(rows, args.out)
    print(f"wrote {args.out}: {split_summary(rows)}; corpora " +
          ", ".join(f"{n} {sum(r['corpus'] == n for r in rows)} clips" for n in names) +
          f"; {regrouped} age groups derived anew")


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
    for i in range(args.k):
        check_output(Path(args.out) / f"fold{i}.csv", "path,speaker", "manifest")
    for i, rows in enumerate(speaker_folds(read_manifest(args.manifest), TASKS, args.k, args.seed)):
        path = Path(args.out) / f"fold{i}.csv"
        write_manifest(rows, path)
        print(f"wrote {path}: {split_summary(rows)}")


def main(argv=None):
    """`python -m corpora {synth,aihub,commonvoice,timit,kaldi,describe} ...`; returns the exit code (2 on bad input)."""
    parser = argparse.ArgumentParser(prog="python -m corpora", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    p = commands.add_parser("synth", help="write the built-in synthetic corpus (synth.py) and its manifest")
    p.add_argument("--out", required=True, help="output folder (WAVs under wav/, then manifest.csv)")
    p.add_argument("--speakers", type=int, default=SYNTH_SPEAKERS, help=f"number of speakers (default {SYNTH_SPEAKERS})")
    p.add_argument("--utterances", type=int, default=SYNTH_UTTERANCES,
                   help=f"utterances per speaker, 4 s each (default {SYNTH_UTTERANCES})")
    p.add_argument("--seed", type=int, default=0, help="random seed for voices and splits (default 0)")
    p.add_argument("--workers", type=int, default=1, help="parallel processes (default 1)")
    for name, what in [("aihub", "AI Hub speech data (JSON labels + audio, loose or in .zip archives)"),
                       ("commonvoice", "a Common Voice language folder (TSV + clips/) or a folder of them"),
                       ("timit", "TIMIT (LDC or NLTK layout, with spkrinfo.txt)"),
                       ("saa", "the Speech Accent Archive (speakers_all.csv + one MP3 per speaker)"),
                       ("deeply", "a Deeply Inc. dataset folder (one JSON + room folders of WAVs)"),
                       ("ravdess", "RAVDESS speech (Actor_NN/ folders of WAVs; labels in the file names)"),
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
        if name in ("aihub", "kaldi"):
            p.add_argument("--min-segment-s", type=float, default=MIN_SEGMENT_S,
                           help=f"leave out utterance segments shorter than this, in seconds (default "
                                f"{MIN_SEGMENT_S}; at least data.MIN_CLIP_S = {MIN_CLIP_S})")
        p.add_argument("--out", required=True, help="manifest CSV to write")
        p.add_argument("--age-bins", default="decades", help=f"age groups: {AGE_BINS_HELP}")
        p.add_argument("--seed", type=int, default=0, help="seed of the speaker-disjoint split (default 0)")
    p = commands.add_parser("merge", help="several manifests as one, for training on several corpora")
    p.add_argument("manifests", nargs="+", help="manifest CSVs, one per corpus")
    p.add_argument("--names", help="comma-separated corpus names (default: the manifests' file names)")
    p.add_argument("--age-bins", required=True, help=f"age groups for every corpus: {AGE_BINS_HELP}")
    p.add_argument("--out", required=True, help="manifest CSV to write")
    p.add_argument("--seed", type=int, default=0, help="seed of any split left empty (default 0)")
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
    with console.one_line_warnings():
        try:
            if args.command == "synth":
                start = time.perf_counter()
                path = make_synth_corpus(args.out, args.speakers, args.utterances, args.seed, args.workers)
                print(f"{path}: {split_summary(read_manifest(path))} [{time.perf_counter() - start:.1f} s]")
            elif args.command == "describe":
                _describe(args)
            elif args.command == "folds":
                _folds(args)
            elif args.command == "merge":
                _merge(args)
            else:
                _import_corpus(args)
        except (ValueError, OSError) as err:
            print(f"error: {err}", file=sys.stderr)
            return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
