"""Continuing a run: --resume RUN takes RUN's saved settings and its last.pt; --refit RUN takes them from RUN's
best.pt, with RUN's manifest (its validation speakers join training) and the epoch count validation chose; and
the x-vector recipe's auto-refit, which runs the refit right after the run (refit_argv).

    python train.py --resume runs/hps-mfcc_f0-20250101-120000 --epochs 40
    python train.py --refit runs/so762/xvector-s0            # into runs/so762/xvector-s0/refit
    python -m pytest tests/test_resume.py tests/test_refit.py
"""
import argparse
import os
from pathlib import Path

import torch

from scale import checkpoints, runs
from scale.legacy import LEGACY_SETTINGS

ALLOWED = {"resume": ("epochs", "auto_refit", "workers", "device", "amp"),  # what may change: not what is learnt
           "refit": ("out", "workers", "device", "amp")}
CHECKPOINT = {"resume": "last.pt", "refit": "best.pt"}
LAST_PT = ("optimizer", "scaler", "epoch", "step", "seconds", "sums", "rng", "best_score", "bad_epochs")  # runs.last_pt


def _bad_type(parser, key, value):
    """Why a saved setting cannot be what train.py's flag `key` takes ("" if it can): a wrong type or choice, or a
    number outside the flag's range (its type, scale/settings.number, says which)."""
    action = next((a for a in parser._actions if a.dest == key), None)
    if action is None or value is None:
        return ""
    if action.choices is not None and value not in action.choices:
        return f"is not one of {', '.join(map(str, action.choices))}"
    kind = action.type or (bool if action.nargs == 0 else None)
    if kind is not None and getattr(kind, "__name__", "") in ("int", "float"):  # int, float, or a settings.number
        whole = kind.__name__ == "int"
        if not isinstance(value, int if whole else (int, float)) or isinstance(value, bool):
            return "is not a whole number" if whole else "is not a number"
        try:
            kind(repr(value))
        except (argparse.ArgumentTypeError, ValueError) as err:
            return str(err)
    if kind is bool and not isinstance(value, bool):
        return "is not true or false"
    if kind is None and action.nargs is None and not isinstance(value, str):
        return "is not text"
    return ""


def given_flags(parser, argv):
    """{setting: value} of the flags the command line gives itself (parser's defaults left out)."""
    defaults, saved = {action: action.default for action in parser._actions}, parser._defaults
    for action in defaults:
        action.default = argparse.SUPPRESS
    parser._defaults = {}  # set_defaults' values (the recipe) are defaults too
    try:
        return vars(parser.parse_args(argv))
    finally:
        parser._defaults = saved
        for action, default in defaults.items():
            action.default = default


def settings(args, parser, argv):
    """(args with the saved settings of the run --resume or --refit names, the checkpoint read); a flag given
    beside them that may not change is refused, as is a refit of a refit (parser.error: one line, exit 2)."""
    flag = "resume" if args.resume else "refit"
    run, name, allowed = Path(getattr(args, flag)), CHECKPOINT[flag], ALLOWED[flag]
    given = given_flags(parser, argv)
    refused = set(given) - {flag, *allowed}
    if refused:
        parser.error(f"--{flag} uses {run}'s saved settings; only --{', --'.join(a.replace('_', '-') for a in allowed)}"
                     f" may change (got --{', --'.join(sorted(g.replace('_', '-') for g in refused))})")
    if not (run / name).is_file():
        stopped = flag == "resume" and run.is_dir() and not runs.unfit_folder(run, started=True)
        parser.error(f"--{flag} {run}: no {name} there to {'continue' if flag == 'resume' else 'start'} from" +
                     ("; that run stopped before its first epoch ended: start it again with --out (the folder is "
                      "reused)" if stopped else ""))
    try:
        ckpt = checkpoints.load_checkpoint(run / name)  # weights only: nothing in it can execute
        saved = {k: v for k, v in {**LEGACY_SETTINGS, **ckpt["config"]}.items()  # older runs: what they did
                 if k in vars(args) and k not in given and k not in (flag, "resume")}  # a resumed run's own
        saved = {k: v for k, v in saved.items() if k not in allowed or k in ("epochs", "auto_refit")}
        tasks, config = ckpt["config"]["tasks"], ckpt["config"]
        if not isinstance(tasks, list) or not tasks or not all(isinstance(t, str) and t for t in tasks):
            raise ValueError(f"{run / name}: saved setting tasks={tasks!r:.40} is not a list of column names")
        lacking = [k for k in ("model", "input", "manifest", "epochs") if k not in config] + \
            [k for k in LAST_PT if flag == "resume" and k not in ckpt]
        if lacking:  # e.g. a best.pt copied over last.pt: weights, but not where training stood
            raise ValueError(f"{run / name}: not a {name} this run can go on from (no {', '.join(lacking)})")
        if not (config.get("refit_epochs") is None or type(config["refit_epochs"]) is int):
            raise ValueError(f"{run / name}: saved setting refit_epochs={config['refit_epochs']!r:.40} is not a "
                             "whole number")
        for key, value in ckpt["config"].items():  # every saved setting, also those a flag may override
            problem = "" if key == "tasks" else _bad_type(parser, key, value)
            if problem:
                raise ValueError(f"{run / name}: saved setting {key}={value!r:.40} {problem}")
        args = argparse.Namespace(**{**vars(args), **saved, "tasks": ",".join(ckpt["config"]["tasks"])})
    except (checkpoints.CheckpointError, ValueError, KeyError, TypeError) as err:
        problem = err if isinstance(err, (checkpoints.CheckpointError, ValueError)) else \
            f"{run / name}: not a moksori checkpoint (no {err})"
        parser.exit(2, f"train.py: error: {problem}\n")
    if flag == "resume" and ckpt.get("epoch", 0) >= 1 and not (run / "best.pt").is_file():
        parser.exit(2, f"train.py: error: {run}: last.pt is past epoch 1 but best.pt is missing, so the run could "
                       "not be tested at its end; restore best.pt or start a new run\n")
    if flag == "resume":
        args.out = str(run)
        return args, ckpt
    if config.get("refit"):
        parser.error(f"--refit {run}: that run is itself a refit (of {config['refit']}); refit {config['refit']} "
                     "instead")
    args.manifest, args.refit_epochs = str(run / "manifest.csv"), ckpt["epoch"]  # RUN's splits, its chosen epochs
    args.out = args.out or str(run / "refit")
    return args, None


def refit_argv(args, out, n_test):
    """The command line of a run's refit (the x-vector recipe's auto_refit), or None with one line saying why not:
    validation chose the epoch count, and the final model also learns from the validation speakers
    (scikit-learn's refit=True) -- on a small corpus, a quarter more voices."""
    refit = ["--refit", str(out), "--out", str(out / "refit"), "--workers", str(args.workers), "--device",
             args.device] + (["--amp"] if args.amp else [])
    first = int(os.environ.get("RANK", 0)) == 0
    if not n_test:
        print(f"no test rows (a cross-validation fold?): no refit; to make one: python train.py {' '.join(refit)}")
        return None
    if (out / "refit" / "last.pt").exists():
        print(f"{out / 'refit'} holds a refit already; to continue it: python train.py --resume {out / 'refit'}")
        return None
    if first:
        print(f"\nrefit on the training and validation speakers: python train.py {' '.join(refit)}", flush=True)
    return refit


def restore(ckpt, model, optimizer, scaler, out, say=print):
    """--resume: last.pt's weights, optimiser, scaler and RNG states loaded -> runs.Progress where it stopped."""
    for part, state in ((model, "model"), (optimizer, "optimizer"), (scaler, "scaler")):
        part.load_state_dict(ckpt[state])
    set_rng_states(ckpt["rng"])
    at = runs.Progress(ckpt["config"]["tasks"], ckpt["epoch"], ckpt["step"], ckpt["seconds"], ckpt["sums"],
                       ckpt["best_score"], ckpt["bad_epochs"])
    say(f"resumed {out} in epoch {at.epoch + 1} after step {at.step} (best validation score "
        f"{at.best_score:.3f})")
    return at


def set_rng_states(states):
    """Restore what runs.rng_states() saved (CUDA states only where CUDA is present)."""
    torch.set_rng_state(states["torch"])
    if states["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states["cuda"])
