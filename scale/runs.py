"""Run folders: what a training run leaves behind, and how any tool reads it back safely.

A run folder (runs/<model>-<input>-<time>/) holds
    config.json   every argument of train.py, the tasks and their label vocabularies
    manifest.csv  the manifest as trained: every clip with its resolved split (the source's hash in config.json)
    history.csv   one row per epoch
    best.pt       the weights train.py keeps (the best validation score, or the last epoch of the schedule)
    last.pt       everything needed to resume (weights, optimiser, RNG states, epoch, step, ...)
    metrics.json  train/val/test scores per task, computed once at the end with best.pt
Every file is written atomically (scale/files.py), so a Ctrl-C or a crash never leaves half a file, and
every checkpoint is read with torch.load(weights_only=True), so nothing in a shared run folder can execute.
Also what train.py leans on: one run per folder (claim), Ctrl-C (CtrlC), --resume (restore), torchrun (agree).

    python -m pytest tests/test_runs.py tests/test_checkpoints.py
"""
import csv
import hashlib
import io
import json
import os
import signal
import sys
import warnings
from pathlib import Path

import torch

from data import read_manifest
from scale.files import atomic_write, atomic_write_text, fcntl, write_manifest

CHECKPOINTS = ("best.pt", "last.pt")  # evaluate.load_run's order of preference
LOCK = ".lock"  # the file a training process holds locked (flock) for its whole life, with its pid inside
_HELD = {}  # run folder -> the locked file descriptor this process holds (the system releases it at exit)


# ----------------------------------------------------------------------------- one run, one folder
def unfit_folder(out):
    """Why `out` cannot take a new run ("" if it can): it is a file, or a folder that holds anything (another
    run, a corpus, your own files) but a lock left by a run that stopped before writing."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        return f"{out} is a file, not a folder"
    held = sorted(p.name for p in out.iterdir() if p.name != LOCK) if out.is_dir() else []
    if held:
        return f"{out} is not empty ({', '.join(held[:3])}{', ...' if len(held) > 3 else ''}): a new run needs a " \
               "new or empty folder"
    return ""


def claim(out, resume=False):
    """Make `out` this process's run folder: a lock on out/.lock (flock, this pid inside) held until the process
    ends, so a second train.py there stops at once, naming the holder; a new run needs it new or empty. ValueError."""
    out = Path(out)
    problem = "" if resume else unfit_folder(out)
    if problem:
        raise ValueError(f"--out {problem}; continue a run with --resume, or choose another folder")
    try:
        out.mkdir(parents=True, exist_ok=True)
        fd = os.open(out / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as err:
        raise OSError(f"{out / LOCK}: could not write ({err.strerror or err})") from None
    if fcntl:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:  # BlockingIOError: a live process holds it
            holder = os.read(fd, 32).decode("ascii", "replace").strip() or "unknown"
            os.close(fd)
            raise ValueError(f"--out {out}: another run is writing there (process {holder}); wait for it to end, "
                             "or choose another folder") from None
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()}\n".encode())
    _HELD[str(out)] = fd


def release(out):
    """Let go of the run folder `out`, and give Ctrl-C back its meaning (the end of a run, or of a refused one)."""
    CtrlC.close()
    fd = _HELD.pop(str(Path(out)), None)
    if fd is not None:
        os.close(fd)


# ----------------------------------------------------------------------------- files of a run
def save_checkpoint(obj, path):
    """torch.save(obj) to `path` atomically."""
    atomic_write(path, lambda f: torch.save(obj, f))


def save_json(obj, path):
    """Write obj as indented UTF-8 JSON (Korean labels stay readable) to `path` atomically."""
    atomic_write_text(path, json.dumps(obj, indent=2, ensure_ascii=False) + "\n")


def append_history(path, row):
    """Add one epoch's dict as a CSV row to `path` (header with the first row), rewriting the file atomically."""
    path = Path(path)
    old = path.read_bytes() if path.exists() else b""
    line = io.StringIO()
    writer = csv.DictWriter(line, fieldnames=list(row), lineterminator="\n")
    if not old:
        writer.writeheader()
    writer.writerow(row)
    atomic_write(path, lambda f: f.write(old + line.getvalue().encode("utf-8")))


def file_sha1(path):
    """Hex SHA-1 of a file's bytes (the manifest a run was trained from is recorded by it)."""
    return hashlib.sha1(Path(path).read_bytes()).hexdigest()


def write_run_manifest(rows, source, out):
    """Keep the manifest as trained in the run folder: out/manifest.csv with every row's resolved split.
    Returns {"manifest": source path, "manifest_sha1": its hash} for config.json."""
    write_manifest(rows, Path(out) / "manifest.csv")
    return {"manifest": str(source), "manifest_sha1": file_sha1(source)}


def read_run_manifest(run_dir, config):
    """The rows a run was trained on, splits as trained (run_dir/manifest.csv), warning once when the source
    manifest has changed since: a recomputed split could put training speakers in "test"."""
    source = Path(config["manifest"])
    if source.is_file() and config.get("manifest_sha1") and file_sha1(source) != config["manifest_sha1"]:
        warnings.warn(f"{source} has changed since {run_dir} was trained; using the run's own copy "
                      f"{Path(run_dir) / 'manifest.csv'} (the splits as trained)", stacklevel=2)
    return read_manifest(Path(run_dir) / "manifest.csv")


class CtrlC:
    """Ctrl-C while training (SIGINT): the first asks to stop after the current step -- train.py then calls
    save_and_exit, so last.pt holds a whole step -- and a second stops at once. close() gives Ctrl-C back."""

    def __init__(self, say=print):
        self.asked, self.say = False, say
        signal.signal(signal.SIGINT, self._first)

    def _first(self, signum, frame):
        self.asked = True
        self.close()  # a second Ctrl-C stops at once
        self.say("\nCtrl-C: saving last.pt after this step (press again to quit without saving)", file=sys.stderr)

    def save_and_exit(self, checkpoint, out, epoch, step):
        """Write out/last.pt (checkpoint None: another process writes it), say how to continue, exit 130."""
        if checkpoint is not None:
            save_checkpoint(checkpoint, Path(out) / "last.pt")
        self.say(f"stopped after {epoch} epochs and {step} steps; saved {Path(out) / 'last.pt'}\n"
                 f"continue with: python train.py --resume {out}", file=sys.stderr)
        sys.exit(130)  # the shell's code for "stopped by Ctrl-C"

    @staticmethod
    def close():
        signal.signal(signal.SIGINT, signal.default_int_handler)


def interrupted(out):
    """Ctrl-C outside the loop (reading, extracting, testing): one line, how to continue when there is a last.pt."""
    print("train.py: interrupted" + (f"; continue with: python train.py --resume {out}"
                                     if (Path(out) / "last.pt").is_file() else ""), file=sys.stderr)
    sys.exit(130)


def agree(flag, device):
    """The flag OR-ed over every torchrun process, so all stop (or fail) after the same step."""
    if not torch.distributed.is_initialized():
        return flag
    t = torch.tensor([float(flag)], device=device)
    torch.distributed.all_reduce(t, op=torch.distributed.ReduceOp.MAX)
    return bool(t.item())


# ----------------------------------------------------------------------------- random number generators
def rng_states():
    """torch's generators (the CPU's, every CUDA device's) as tensors: --resume repeats the same dropout and
    SpecAugment masks. Nothing else draws at random in training; batches come from (seed, epoch) alone."""
    return {"torch": torch.get_rng_state(), "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else []}


def restore(ckpt, model, optimizer, scaler):
    """--resume: last.pt's weights, optimiser, scaler and RNG states loaded -> (epochs done, steps done in this
    epoch, seconds trained, this epoch's running sums, best score, epochs without a better one)."""
    for part, state in ((model, "model"), (optimizer, "optimizer"), (scaler, "scaler")):
        part.load_state_dict(ckpt[state])
    set_rng_states(ckpt["rng"])
    return ckpt["epoch"], ckpt["step"], ckpt["seconds"], ckpt["sums"], ckpt["best_score"], ckpt["bad_epochs"]


def set_rng_states(states):
    """Restore what rng_states() saved (CUDA states only where CUDA is present)."""
    torch.set_rng_state(states["torch"])
    if states["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states["cuda"])


# ----------------------------------------------------------------------------- checkpoints
class CheckpointError(ValueError):
    """A file that is not a moksori checkpoint; the message is one line, "PATH: not a moksori checkpoint (...)"."""


CHECKPOINT_KEYS = ("model", "config", "vocabs")  # every moksori checkpoint has these


def load_checkpoint(path):
    """The dict in a checkpoint file, read with torch.load(weights_only=True): tensors, plain containers, numbers
    and text; a pickle naming any other global (os.system, a class of its own) is refused before it runs. A first-
    format last.pt goes to scale/legacy.py. FileNotFoundError, or CheckpointError naming the file and the reason."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: checkpoint not found")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch warns about pickle protocols before it refuses
            ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # UnpicklingError, a truncated zip (RuntimeError), EOFError, ...
        from scale.legacy import old_or_refused  # seam: a first-format last.pt, or why the file is refused
        ckpt = old_or_refused(path, err)
    if not isinstance(ckpt, dict):
        raise CheckpointError(f"{path}: not a moksori checkpoint (holds a {type(ckpt).__name__}, not a dict)")
    missing = [k for k in CHECKPOINT_KEYS if k not in ckpt]
    if missing:
        raise CheckpointError(f"{path}: not a moksori checkpoint (no {', '.join(missing)})")
    if not isinstance(ckpt["config"], dict) or not isinstance(ckpt["vocabs"], dict):
        raise CheckpointError(f"{path}: not a moksori checkpoint (config or vocabs is not a dict)")
    return ckpt
