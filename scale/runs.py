"""Run folders: what a training run leaves behind, and the machinery of the run that writes one.
A run folder (runs/<model>-<input>-<time>/) holds
    config.json   every argument of train.py, the tasks and their label vocabularies
    manifest.csv  the manifest as trained: every clip with its resolved split (the source's hash in config.json)
    history.csv   one row per epoch
    best.pt       the weights train.py keeps (the best validation score, or the last epoch of the schedule)
    last.pt       everything needed to resume (weights, optimiser, RNG states, epoch, step, ...)
    metrics.json  train/val/test scores per task, computed once at the end with best.pt
    calibration.json  a temperature per class task, fitted on the validation speakers (scale/calibration.py)
Every file is written atomically (scale/files.py), so a Ctrl-C or a crash never leaves half a file; tools read a
run back through scale/checkpoints.py, which runs no pickle. The machinery train.py's loop calls by name: the
processes (processes, agree, summed), where training stands (Progress, last_pt; --resume reads it back in
scale/resume.py), Ctrl-C (CtrlC) and a diverged loss.

    python -m pytest tests/test_runs.py tests/test_checkpoints.py
"""
import contextlib
import csv
import hashlib
import io
import json
import math
import os
import pickle
import signal
import sys
import time
from pathlib import Path

import torch

from scale.files import atomic_write, atomic_write_text, fcntl, write_manifest

LOCK = ".lock"  # the file a training process holds locked (flock) for its whole life, with its pid inside
_HELD = {}  # run folder -> the locked file descriptor this process holds (the system releases it at exit)


# ----------------------------------------------------------------------------- one run, one folder
def unfit_folder(out, started=False):
    """Why `out` cannot take a new run ("" if it can): it is a file, or a folder that holds anything (another
    run, a corpus, your own files) but a lock left by a run that stopped before writing -- or, `started` (train.py),
    a run that stopped before its first epoch ended: its lock, config.json and manifest.csv, no model."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        return f"{out} is a file, not a folder"
    held = sorted(p.name for p in out.iterdir() if p.name != LOCK) if out.is_dir() else []
    if started and (out / LOCK).is_file() and set(held) <= {"config.json", "manifest.csv"} and (
            "config.json" not in held or '"loss_weights"' in (out / "config.json").read_text(errors="replace")):
        return ""  # a lock and train.py's own config.json (its loss weights): the new run writes them anew
    if held:
        return f"{out} is not empty ({', '.join(held[:3])}{', ...' if len(held) > 3 else ''}): a new run needs a " \
               "new or empty folder"
    return ""


def claim(out, resume=False):
    """Make `out` this process's run folder: a lock on out/.lock (flock, this pid inside) held until the process
    ends, so a second train.py there stops at once, naming the holder; a new run needs it new or empty. ValueError."""
    out = Path(out)
    problem = "" if resume else unfit_folder(out, started=True)
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


def claim_run_folder(out, args, rows, ckpt=None):
    """train.py's run folder taken by the first process (claim) and, for a new run, its manifest as trained
    written there -> the source manifest's SHA-1 for config.json (a resumed run's own, from its checkpoint)."""
    if ckpt is not None:  # --resume: the folder is the run's own
        if first_process():
            claim(out, resume=True)
        return ckpt["config"].get("manifest_sha1")
    if not first_process():
        return None
    claim(out)
    return write_run_manifest(rows, args.manifest, out)["manifest_sha1"]


def release(out):
    """Let go of the run folder `out`, and give Ctrl-C back its meaning (the end of a run, or of a refused one)."""
    CtrlC.close()
    if (fd := _HELD.pop(str(Path(out)), None)) is not None:
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


def write_run_manifest(rows, source, out):
    """Keep the manifest as trained in the run folder: out/manifest.csv with every row's resolved split.
    Returns {"manifest": source path, "manifest_sha1": its hash} for config.json."""
    write_manifest(rows, Path(out) / "manifest.csv")
    return {"manifest": str(source), "manifest_sha1": hashlib.sha1(Path(source).read_bytes()).hexdigest()}


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

    def save_if_asked(self, last_pt, at, out, device):
        """After a step or an epoch: when Ctrl-C was pressed in any process, save last.pt (the first process) and
        exit -- every process at the same step."""
        if agree(self.asked, device):
            self.save_and_exit(last_pt() if first_process() else None, out, at.epoch, at.step)

    @staticmethod
    def close():
        signal.signal(signal.SIGINT, signal.default_int_handler)


def fail(message):
    """One line on stderr and exit code 2: how every bad input to train.py ends."""
    print(f"train.py: error: {message}", file=sys.stderr)
    sys.exit(2)


def interrupted(out, closed_pipe=False, refit=None):
    """Ctrl-C (or a closed output pipe) outside the loop: one line, how to go on -- --resume when there is a
    last.pt, else the same command again (the folder of a run that never finished an epoch is reused; a refit's
    command is --refit RUN)."""
    if closed_pipe:  # nothing more can be printed there: what is still buffered goes nowhere, quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    again = f"python train.py --refit {refit}" if refit else f"the same command with --out {out}"
    print("train.py: interrupted; " + (f"continue with: python train.py --resume {out}" if (Path(out) / "last.pt")
                                       .is_file() else f"no epoch had ended: {again} starts again in {out}"),
          file=sys.stderr)
    sys.exit(130)


def flush_quietly():
    """Flush stdout at the end of a run; a pipe closed meanwhile (train.py ... | head -1) takes the rest quietly."""
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


@contextlib.contextmanager
def one_line_failures(out, refit=None):
    """Around one run of train.py: Ctrl-C or a closed output pipe (`train.py ... | head -1`) ends as interrupted(),
    a full disk or a damaged checkpoint (OSError, ValueError: the file named, last.pt kept) as fail(); the run
    folder `out` is released whatever happens."""
    try:
        yield
    except (KeyboardInterrupt, BrokenPipeError) as err:
        interrupted(out, closed_pipe=isinstance(err, BrokenPipeError), refit=refit)
    except (OSError, ValueError) as err:
        fail(str(err).splitlines()[0])
    finally:
        release(out)


# ----------------------------------------------------------------------------- the device, processes (torchrun)
def choose_device(name="auto", local_rank=0):
    """torch.device for --device auto|cpu|cuda (auto: CUDA when present; torchrun: the GPU of LOCAL_RANK)."""
    if name == "cuda" and not torch.cuda.is_available():
        raise ValueError("--device cuda: torch.cuda.is_available() is False (CPU-only torch, or no GPU visible)")
    if name == "cpu" or not torch.cuda.is_available():
        return torch.device("cpu")
    return torch.device("cuda", local_rank % torch.cuda.device_count())


def processes(device_name):
    """(rank, world size, torch.device) of this process: torchrun sets RANK, WORLD_SIZE and LOCAL_RANK (one
    process: 0, 1); several processes join one process group (NCCL on GPUs, gloo on CPUs)."""
    rank, world = int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1))
    device = choose_device(device_name, int(os.environ.get("LOCAL_RANK", 0)))
    if world > 1 and not torch.distributed.is_initialized():
        if device.type == "cuda":
            torch.cuda.set_device(device)
        torch.distributed.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return rank, world, device


def first_process():
    """Whether this is the process that prints and writes the run folder (rank 0, or the only one)."""
    return int(os.environ.get("RANK", 0)) == 0


def agree(flag, device):
    """The flag OR-ed over every torchrun process, so all stop (or fail) after the same step."""
    if not torch.distributed.is_initialized():
        return flag
    t = torch.tensor([float(flag)], device=device)
    torch.distributed.all_reduce(t, op=torch.distributed.ReduceOp.MAX)
    return bool(t.item())


def summed(sums):
    """An epoch's running sums added over every process (all_gather); one process: a copy."""
    if not torch.distributed.is_initialized():
        return dict(sums)
    parts = [None] * torch.distributed.get_world_size()
    torch.distributed.all_gather_object(parts, sums)
    return {k: sum(p[k] for p in parts) for k in sums}


def stop_if_diverged(loss, at, args, out):
    """A NaN or inf loss in any process: one line (where, what to try, which best.pt survives) and exit 2."""
    if agree(not torch.isfinite(loss), loss.device):  # every process, the same step
        fail(f"the loss became {loss.item()} in epoch {at.epoch + 1}, step {at.step + 1}: training diverged; try a "
             f"smaller --lr (now {args.lr})" + (f". {Path(out) / 'best.pt'} holds the best model so far"
                                               if (Path(out) / "best.pt").exists() else ""))


# ----------------------------------------------------------------------------- where training stands
class Progress:
    """Where a run stands -- what last.pt keeps beside the weights: epochs done, optimiser steps done in this
    epoch, this epoch's running sums (the loss; per task correct answers or absolute errors, and known labels),
    the best validation score so far and the epochs since it, and the seconds trained before this process."""

    def __init__(self, tasks, epoch=0, step=0, seconds=0.0, sums=None, best_score=-math.inf, bad_epochs=0):
        self.epoch, self.step, self.best_score, self.bad_epochs = epoch, step, best_score, bad_epochs
        self.sums = sums or {"loss": 0.0, "n": 0, **{f"{t}_{k}": 0.0 for t in tasks for k in ("hits", "known")}}
        self.clock = time.perf_counter() - seconds  # seconds trained = time.perf_counter() - clock

    def seconds(self):
        return time.perf_counter() - self.clock

    def step_done(self, loss, outputs, y, tasks, vocabs):
        """An optimiser step ended: count it, and add its batch to the epoch's running sums -- the loss, and per task
        the correct answers (a numeric task: the absolute errors) and the known labels, on the batch as trained."""
        self.step += 1
        self.sums["loss"] += loss.item() * len(y)
        self.sums["n"] += len(y)
        for i, t in enumerate(tasks):
            known = ~torch.isnan(y[:, i])  # (b,)
            hit = (outputs[t].argmax(1) == y[:, i]) if vocabs[t] is not None else (outputs[t].float() - y[:, i]).abs()
            self.sums[f"{t}_hits"] += hit[known].float().sum().item()
            self.sums[f"{t}_known"] += known.sum().item()

    def next_epoch(self):
        """An epoch ended: count it, and start the next one's sums -> the ended epoch's sums over every process."""
        sums, self.sums = summed(self.sums), {k: 0.0 for k in self.sums}
        self.epoch, self.step = self.epoch + 1, 0
        return sums

    def better(self, score):
        """An epoch ended with this validation score: whether it is the best so far (best.pt is then saved)."""
        if score > self.best_score:
            self.best_score, self.bad_epochs = score, 0
            return True
        self.bad_epochs += 1
        return False

    def stopped(self, patience):
        """Early stopping: `patience` epochs without a better validation score (0 = never stop early)."""
        return patience > 0 and self.bad_epochs >= patience


def last_pt(model, optimizer, scaler, at, config):
    """Everything needed to continue a run exactly: weights, optimiser, position, RNG states, config."""
    return {"model": model.state_dict(), "optimizer": optimizer.state_dict(), "scaler": scaler.state_dict(),
            "epoch": at.epoch, "step": at.step, "seconds": at.seconds(), "sums": at.sums, "rng": rng_states(),
            "best_score": at.best_score, "bad_epochs": at.bad_epochs, "config": config, "vocabs": config["vocabs"]}


def finite_weights(weights, epoch):
    """Every weight of a state_dict finite, or one line and exit 2: a diverged model is never saved."""
    bad = sum(int((~torch.isfinite(w)).sum()) for w in weights.values() if w.is_floating_point())
    if bad:
        fail(f"{bad} weights became NaN or inf in epoch {epoch}: training diverged; try a smaller --lr")


def save_best(model, at, config, out):
    """best.pt: the weights of the epoch just ended, with its number and score (the first process writes it)."""
    finite_weights(model.state_dict(), at.epoch)
    if first_process():
        save_checkpoint({"model": model.state_dict(), "epoch": at.epoch, "score": at.best_score, "config": config,
                         "vocabs": config["vocabs"]}, Path(out) / "best.pt")


def end_epoch(last_pt, row, out):
    """After every epoch: last.pt (all that --resume needs) and the epoch's row of history.csv."""
    state = last_pt()
    finite_weights(state["model"], state["epoch"])
    if first_process():
        save_checkpoint(state, Path(out) / "last.pt")
        append_history(Path(out) / "history.csv", row)


def load_best(model, out):
    """best.pt's weights into `model` (every process, once all have finished training) -> the checkpoint, read
    weights-only (nothing in it can execute); a file that is not one is a ValueError naming it."""
    if torch.distributed.is_initialized():
        torch.distributed.barrier()
    try:
        best = torch.load(Path(out) / "best.pt", map_location="cpu", weights_only=True)
        model.load_state_dict(best["model"])
    except (pickle.UnpicklingError, RuntimeError, KeyError, TypeError, EOFError) as err:
        raise ValueError(f"{Path(out) / 'best.pt'}: not this run's checkpoint ({type(err).__name__})") from None
    return best


def rng_states():
    """torch's generators (the CPU's, every CUDA device's) as tensors: --resume repeats the same dropout and
    SpecAugment masks. Nothing else draws at random in training; batches come from (seed, epoch) alone."""
    return {"torch": torch.get_rng_state(), "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else []}
