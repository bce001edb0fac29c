"""A run's settings checked, each problem one line: every number in its range as it is parsed (number), the flags
against each other before any data is read (check), the splits against the tasks (check_splits); and what a run
says about its splits (split_notes).

    python -m pytest tests/test_train.py tests/test_resume.py tests/test_hostile_core.py
"""
import argparse
import math
import os
from pathlib import Path

import numpy as np
import torch

import data
import features
import mtl
from scale import runs


def number(kind, low, high, low_open=False):
    """An argparse type: a `kind` (int or float) number in [low, high] -- (low, high] with low_open -- so a flag's
    range stands on the flag and an infinite, NaN or absurd value is one line naming the flag, before any work."""
    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not {'a whole number' if kind is int else 'a number'}")
        if not (math.isfinite(value) and (low < value if low_open else low <= value) and value <= high):
            raise argparse.ArgumentTypeError(f"{text} is outside {'(' if low_open else '['}{low}, {high}]")
        return value
    parse.__name__ = kind.__name__  # argparse names the type in its messages
    return parse


def check(args, parser, augments):
    """train.py's flags (the recipe's filled in) against each other: a problem is parser.error's one line, exit 2."""
    unknown = ", ".join(a for a in args.augment.split(",") if a and a not in augments)
    for wrong, message in (
            (unknown, f"--augment {args.augment}: unknown {unknown}; expected some of {', '.join(augments)}"),
            (args.amp and not (args.device != "cpu" and torch.cuda.is_available()),
             "--amp needs CUDA (float16 autocast); drop --amp to train on the CPU"),
            (args.batch_size % int(os.environ.get("WORLD_SIZE", 1)),
             f"--batch-size {args.batch_size} is the global batch: it must divide by the processes"),
            (args.manifest and not Path(args.manifest).is_file() and not args.resume,
             f"--manifest {args.manifest}: file not found")):
        if wrong:
            parser.error(message)
    try:  # model, input and augmentation checked before any data is read (the tasks again once they are known)
        runs.choose_device(args.device)
        mtl.check(args.model, args.input, 2, False, "spec" in args.augment, args.cmn)
        if args.tasks is not None:
            check_tasks(args.tasks.split(","), args)
    except ValueError as err:
        parser.error(str(err))
    problem = "" if args.resume else runs.unfit_folder(args.out, started=True)  # again, under a lock, before writing
    if problem:
        parser.error(f"--out {problem}; continue a run with --resume {args.out}, or choose another folder")


def default_tasks(rows):
    """The tasks to train when none are named: those of data.TASKS and data.NUMERIC_TASKS that some training row
    and some validation row label (speechocean762: age, gender, age_years; the built-in corpus: age, gender,
    dialect)."""
    usual = (*data.TASKS, *data.NUMERIC_TASKS)
    if labelled := [t for t in usual if all(any(r.get(t) for r in rows if r["split"] == s) for s in ("train", "val"))]:
        return labelled
    raise ValueError(f"no clip of the train and val splits has a {', '.join(usual)} label; name the columns to "
                     "predict with --tasks")


def check_tasks(tasks, args):
    """Validate the task list against the other flags (ValueError)."""
    if not all(tasks) or len(set(tasks)) != len(tasks):
        raise ValueError(f"--tasks {','.join(tasks)}: expected distinct, non-empty column names")
    classes = [t for t in tasks if t not in data.NUMERIC_TASKS]
    if args.balance not in ("none", "joint", *classes):
        raise ValueError(f"--balance {args.balance}: not a trained class task; choose none, joint or one of "
                         f"{', '.join(classes)}")
    mtl.check(args.model, args.input, len(tasks), args.cascade, "spec" in args.augment, args.cmn)


def check_splits(rows, needed, tasks, source, adversary=False, after_reading=False):
    """ValueError naming `source` unless every task is a column, each split in `needed` has rows (readable clips,
    after reading), some validation row knows each task, and --adversary has two training corpora to tell apart."""
    by_split = rows if isinstance(rows, dict) else {s: [r for r in rows if r["split"] == s] for s in data.SPLITS}
    tasks, first = [t for t in tasks if t], next((r for part in by_split.values() for r in part), {})
    missing = [t for t in tasks if first and t not in first]
    if missing:
        raise ValueError(f"{source}: no column {', '.join(missing)} for --tasks {','.join(tasks)}")
    for s in needed:
        if not by_split[s]:
            raise ValueError(f"{source}: no readable {s} clips (every one was skipped as unreadable)" if after_reading
                             else f"{source}: no {s} rows (the split column must name train, val and test, or be "
                             "left empty for data.py to fill by speaker)")
    for t in tasks if "val" in needed else []:
        if not any(r.get(t) for r in by_split["val"]):
            raise ValueError(f"{source}: no validation clip has a known {t} label, so {t} cannot be validated; label "
                             f"some validation speakers or drop {t} from --tasks")
    if adversary and len({r.get("corpus", "") for r in by_split["train"]} - {""}) < 2:
        raise ValueError(f"{source}: --adversary needs training clips of two corpora or more (a corpus column: "
                         "python -m corpora merge)")


def check_memory(rows, kind, sample=200, share=0.5, seed=0):
    """Refuse, before extracting, a corpus whose features would not fit in memory: their size estimated from the
    headers of `sample` rows (seconds x steps per second x values per step x 4 bytes, times the rows), against
    `share` of the memory the system has available (MemAvailable). ValueError naming --store; unreadable rows and
    systems that do not say what is available are left to the extraction."""
    pick = np.random.default_rng(seed).permutation(len(rows))[:sample]
    seconds = []
    for i in pick:
        try:
            rate, frames, _ = data.audio_info(rows[i]["path"])
            start, end = data.segment(rows[i])
            seconds.append((end or frames / rate) - (start or 0.0))
        except ValueError:
            continue
    per_s = features.SR if kind == "raw" else features.SR // features.HOP_LENGTH  # steps per second
    need = np.mean(seconds or [0.0]) * len(rows) * per_s * np.prod(features.input_shape(kind)) * 4  # bytes
    try:
        with open("/proc/meminfo") as info:  # Linux: what can be had without swapping, in kB
            available = next(int(line.split()[1]) * 1024 for line in info if line.startswith("MemAvailable"))
    except (OSError, StopIteration, ValueError):
        return
    if need > share * available:
        raise ValueError(f"the features of {len(rows):,} clips would take about {need / 1e9:.1f} GB in memory, over "
                         f"half of the {available / 1e9:.1f} GB available: add --store (features on disk, "
                         "scale/store.py)")


def split_notes(by_split, tasks, vocabs, args):
    """What a run says about its splits, a line each: a refit's speakers and epochs, every task's classes, and the
    warnings -- few validation speakers (model selection is close to blind), no test clips, untrained classes."""
    n_val, notes = len({r["speaker"] for r in by_split["val"]}), []
    if args.refit:
        notes.append(f"refit of {args.refit}: its training and validation speakers together ("
                     f"{len({r['speaker'] for r in by_split['train']})}), {args.refit_epochs} epochs (its best.pt) of "
                     f"its {args.epochs}-epoch schedule; no validation, so best.pt is the last epoch")
    elif n_val < data.MIN_VAL_SPEAKERS:
        notes.append(f"warning: only {n_val} validation speakers: one speaker moves a validation accuracy by "
                     f"{1 / max(n_val, 1):.2f}, so model selection is close to blind")
    if not by_split["test"]:
        notes.append(f"warning: {args.manifest} has no test rows; the test scores in metrics.json will be null")
    for t in tasks:
        notes.append(f"  {t}: " + ("numeric (years), MAE" if vocabs[t] is None else
                                   f"{len(vocabs[t])} classes {vocabs[t]}"))
        lacking = [] if vocabs[t] is None else sorted(set(vocabs[t]) - {r[t] for r in by_split["train"]})
        if lacking:
            notes.append(f"warning: {t} class(es) {lacking} have no training clips; the model cannot learn them")
    return notes
