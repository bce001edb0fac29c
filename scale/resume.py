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

from scale import runs
from scale.legacy import LEGACY_SETTINGS

ALLOWED = {"resume": ("epochs", "auto_refit", "workers", "device", "amp"),  # what may change: not what is learnt
           "refit": ("out", "workers", "device", "amp")}
CHECKPOINT = {"resume": "last.pt", "refit": "best.pt"}


def _bad_type(parser, key, value):
    """Why a saved setting cannot be what train.py's flag `key` takes ("" if it can): a wrong type or choice."""
    action = next((a for a in parser._actions if a.dest == key), None)
    if action is None or value is None:
        return ""
    if action.choices is not None and value not in action.choices:
        return f"is not one of {', '.join(map(str, action.choices))}"
    kind = action.type or (bool if action.nargs == 0 else None)
    if kind is int and (not isinstance(value, int) or isinstance(value, bool)):
        return "is not a whole number"
    if kind is float and (not isinstance(value, (int, float)) or isinstance(value, bool)):
        return "is not a number"
    if kind is bool and not isinstance(value, bool):
        return "is not true or false"
    if kind is None and action.nargs is None and not isinstance(value, str):
        return "is not text"
    return ""


def settings(args, parser):
    """(args with the saved settings of the run --resume or --refit names, the checkpoint read); a flag given
    beside them that may not change is refused, as is a refit of a refit (parser.error: one line, exit 2)."""
    flag = "resume" if args.resume else "refit"
    run, name, allowed = Path(getattr(args, flag)), CHECKPOINT[flag], ALLOWED[flag]
    given = {k for k, v in vars(args).items() if v != parser.get_default(k)} - {flag, *allowed}
    if given:
        parser.error(f"--{flag} uses {run}'s saved settings; only --{', --'.join(a.replace('_', '-') for a in allowed)}"
                     f" may change (got --{', --'.join(sorted(g.replace('_', '-') for g in given))})")
    if not (run / name).is_file():
        parser.error(f"--{flag} {run}: no {name} there to {'continue' if flag == 'resume' else 'start'} from")
    try:
        ckpt = runs.load_checkpoint(run / name)  # weights only: nothing in it can execute
        saved = {k: v for k, v in {**LEGACY_SETTINGS, **ckpt["config"]}.items()  # older runs: what they did
                 if k in vars(args) and k not in allowed and k not in (flag, "resume")}  # a resumed run's own
        tasks = ckpt["config"]["tasks"]
        if not isinstance(tasks, list) or not tasks or not all(isinstance(t, str) and t for t in tasks):
            raise ValueError(f"{run / name}: saved setting tasks={tasks!r:.40} is not a list of column names")
        for key, value in ckpt["config"].items():  # every saved setting, also those a flag may override
            problem = "" if key == "tasks" else _bad_type(parser, key, value)
            if problem:
                raise ValueError(f"{run / name}: saved setting {key}={value!r:.40} {problem}")
        args = argparse.Namespace(**{**vars(args), **saved, "tasks": ",".join(ckpt["config"]["tasks"])})
        config = ckpt["config"]
    except (runs.CheckpointError, ValueError, KeyError, TypeError) as err:
        problem = err if isinstance(err, (runs.CheckpointError, ValueError)) else \
            f"{run / name}: not a moksori checkpoint (no {err})"
        parser.exit(2, f"train.py: error: {problem}\n")
    if flag == "resume" and ckpt.get("epoch", 0) >= 1 and not (run / "best.pt").is_file():
        parser.exit(2, f"train.py: error: {run}: last.pt is past epoch 1 but best.pt is missing, so the run could "
                       "not be tested at its end; restore best.pt or start a new run\n")
    if flag == "resume":
        args.out, args.epochs = str(run), config["epochs"] if args.epochs is None else args.epochs
        args.auto_refit = config.get("auto_refit", False) if args.auto_refit is None else args.auto_refit
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
