"""Front-door helpers: run folders, checkpoints, devices and processes -- what train.py and evaluate.py share.

A run folder (runs/<model>-<input>-<time>/) holds
    config.json   every argument of train.py, the tasks and their label vocabularies
    manifest.csv  the manifest as trained: every clip with its resolved split (the source's hash in config.json)
    history.csv   one row per epoch
    best.pt       the weights with the best validation score (the mean over tasks, selection_score)
    last.pt       everything needed to resume (weights, optimiser, RNG states, epoch, step, ...)
    metrics.json  train/val/test scores per task, computed once at the end with best.pt
Every file is written atomically (files.atomic_write), so a Ctrl-C or a crash never leaves half a file, and
every checkpoint is read with torch.load(weights_only=True), so nothing in a shared run folder can execute.

    python -m pytest tests/test_runs.py tests/test_checkpoints.py
"""
import csv
import hashlib
import io
import json
import math
import os
import pickle
import random
import warnings
from pathlib import Path

import numpy as np
import torch

import features
import mtl
from files import atomic_write, atomic_write_text
from manifest import read_manifest, write_manifest

CHECKPOINTS = ("best.pt", "last.pt")  # load_run's order of preference
# What a run saved before these settings existed did, where that differs from today's recipes: a config.json
# without them reads as these (train.py --resume/--refit, evaluate.py --compare --mean).
LEGACY_SETTINGS = {"select": "best", "auto_refit": False, "cmn": False}


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


def read_history(path):
    """history.csv as a list of dicts with float values."""
    with open(path, newline="", encoding="utf-8") as f:
        return [{k: float(v) for k, v in row.items()} for row in csv.DictReader(f)]


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


# ----------------------------------------------------------------------------- random number generators
def rng_states():
    """Every global random number generator, as plain values a weights-only load accepts.

    Python's, numpy's, torch's CPU and every CUDA device's: saving them all is what lets --resume repeat the same
    dropout and SpecAugment masks (the batches themselves come from (seed, epoch) alone, data.epoch_plan).
    Python's state is a tuple of ints, numpy's MT19937 key a list of ints, torch's and CUDA's uint8 tensors.
    """
    kind, key, pos, has_gauss, cached = np.random.get_state()
    return {"python": random.getstate(), "numpy": (kind, key.tolist(), pos, has_gauss, cached),
            "torch": torch.get_rng_state(),
            "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else []}


def set_rng_states(states):
    """Restore what rng_states() saved (CUDA states only where CUDA is present)."""
    version, internal, gauss = states["python"]
    random.setstate((version, tuple(internal), gauss))
    kind, key, pos, has_gauss, cached = states["numpy"]
    np.random.set_state((kind, np.asarray(key, dtype=np.uint32), pos, has_gauss, cached))
    torch.set_rng_state(states["torch"])
    if states["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states["cuda"])


# ----------------------------------------------------------------------------- checkpoints
class CheckpointError(ValueError):
    """A file that is not a moksori checkpoint; the message is one line, "PATH: not a moksori checkpoint (...)"."""


CHECKPOINT_KEYS = ("model", "config", "vocabs")  # every moksori checkpoint has these
# numpy's array reconstruction: checkpoints written before format 2 kept numpy's RNG key as an ndarray. These
# globals only rebuild arrays of plain numbers; everything else stays refused by the weights-only unpickler.
LEGACY_NUMPY = [np.ndarray, np.dtype, np.dtypes.UInt32DType, getattr(np, "_core", np.core).multiarray._reconstruct]


def _unpickling_reason(err):
    """The informative line of torch's long weights-only error ("unsupported GLOBAL posix.system ...")."""
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    hits = [line for line in lines if "nsupported" in line or "GLOBAL" in line]
    return (hits or lines or [type(err).__name__])[0][:160]


def load_checkpoint(path):
    """The dict in a checkpoint file, read with torch.load(weights_only=True): no code in it can run.

    A weights-only load accepts tensors, plain containers and str/int/float/bool/None (plus the numpy arrays of
    the format-1 RNG state, see LEGACY_NUMPY). A pickle that names any other global -- os.system, a class of
    its own -- is refused before anything in it executes. Raises FileNotFoundError for a missing file and
    CheckpointError ("PATH: not a moksori checkpoint (reason)") for anything that is not a dict holding
    CHECKPOINT_KEYS with a dict config.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: checkpoint not found")
    try:
        with warnings.catch_warnings(), torch.serialization.safe_globals(LEGACY_NUMPY):
            warnings.simplefilter("ignore")  # torch warns about pickle protocols before it refuses
            ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # UnpicklingError, a truncated zip (RuntimeError), EOFError, ...
        reason = _unpickling_reason(err) if isinstance(err, pickle.UnpicklingError) else \
            f"{type(err).__name__}: {str(err).splitlines()[0] if str(err) else 'unreadable'}"[:160]
        raise CheckpointError(f"{path}: not a moksori checkpoint ({reason})") from None
    if not isinstance(ckpt, dict):
        raise CheckpointError(f"{path}: not a moksori checkpoint (holds a {type(ckpt).__name__}, not a dict)")
    missing = [k for k in CHECKPOINT_KEYS if k not in ckpt]
    if missing:
        raise CheckpointError(f"{path}: not a moksori checkpoint (no {', '.join(missing)})")
    if not isinstance(ckpt["config"], dict) or not isinstance(ckpt["vocabs"], dict):
        raise CheckpointError(f"{path}: not a moksori checkpoint (config or vocabs is not a dict)")
    return ckpt


# ----------------------------------------------------------------------------- models from configs
def n_classes(config):
    """{task: number of classes, 0 for a numeric task} of every head (the tasks, then any auxiliary ones)."""
    vocabs = config["vocabs"]
    return {t: 0 if vocabs[t] is None else len(vocabs[t]) for t in config["tasks"] + config.get("aux_tasks", [])}


def model_from_config(config, spec_augment=None):
    """Build the (untrained) model config.json describes: same name, input, heads and trunk options.
    spec_augment: SpecAugment's settings for training (models.spec_augment_mask); not part of the weights."""
    return mtl.build_model(config["model"], config["input"], n_classes(config), features.input_shape(config["input"]),
                           cascade=config.get("cascade", False), spec_augment=spec_augment,
                           dropout=config.get("dropout", 0.0),
                           centre=features.cepstral_rows(config["input"]) if config.get("cmn") else None,
                           **config.get("trunk_options", {}))


def load_run(run_dir, checkpoint=None, device="cpu"):
    """(config, model in eval mode) from a run folder; weights from best.pt, else last.pt.

    Raises FileNotFoundError naming the folder or file that is missing, CheckpointError naming a file that is
    not a moksori checkpoint (load_checkpoint: nothing in it is executed).
    """
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise FileNotFoundError(f"{run_dir}: no such run folder")
    names = [checkpoint] if checkpoint else CHECKPOINTS
    paths = [run_dir / name for name in names if (run_dir / name).is_file()]
    if not paths:
        raise FileNotFoundError(f"{run_dir}: no {' or '.join(names)} in the run folder (has training finished an epoch?)")
    ckpt = load_checkpoint(paths[0])
    config = {**ckpt["config"], "vocabs": ckpt["vocabs"]}
    try:
        model = model_from_config(config)
        model.load_state_dict(ckpt["model"])
    except (KeyError, TypeError, ValueError, RuntimeError) as err:  # wrong shapes, a foreign or older config
        raise CheckpointError(f"{paths[0]}: not a moksori checkpoint of this version ({type(err).__name__}: "
                              f"{str(err).splitlines()[0][:120]})") from None
    return config, model.to(device).eval()


# ----------------------------------------------------------------------------- devices and processes
def choose_device(name="auto", local_rank=0):
    """torch.device for --device auto|cpu|cuda: auto = CUDA when torch.cuda.is_available(); under torchrun each
    process takes the GPU of its LOCAL_RANK. Raises ValueError for cuda without a visible GPU."""
    if name == "cuda" and not torch.cuda.is_available():
        raise ValueError("--device cuda: torch.cuda.is_available() is False (CPU-only torch, or no GPU visible)")
    if name == "cpu" or not torch.cuda.is_available():
        return torch.device("cpu")
    return torch.device("cuda", local_rank % torch.cuda.device_count())


def distributed():
    """(rank, world size, local rank) from torchrun's environment; (0, 1, 0) in a plain process."""
    return int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1)), int(os.environ.get("LOCAL_RANK", 0))


def start_processes(device):
    """Join torchrun's process group (nccl on CUDA, gloo on CPU) when there is more than one process."""
    rank, world, _ = distributed()
    if world > 1 and not torch.distributed.is_initialized():
        if device.type == "cuda":
            torch.cuda.set_device(device)
        torch.distributed.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return rank, world


def barrier():
    """Wait for every process (nothing to wait for in a single process)."""
    if torch.distributed.is_initialized():
        torch.distributed.barrier()


def gather(obj):
    """The list of every process's `obj`, in rank order ([obj] in a single process)."""
    if not torch.distributed.is_initialized():
        return [obj]
    objects = [None] * torch.distributed.get_world_size()
    torch.distributed.all_gather_object(objects, obj)
    return objects


# ----------------------------------------------------------------------------- the learning rate
def learning_rate(base, schedule, epoch, step, steps_per_epoch, epochs, warmup_epochs=0.0):
    """The learning rate of optimiser step `step` of epoch `epoch` (both from 0), from those numbers alone --
    so a resumed run repeats the uninterrupted one exactly.

    g = epoch * steps_per_epoch + step, G = epochs * steps_per_epoch, W = warmup_epochs * steps_per_epoch:
        warm-up     lr = base * (g + 1) / W                       while g < W (linear, Goyal et al. 2017)
        constant    lr = base
        cosine      lr = base * (1 + cos(pi * (g - W) / (G - W))) / 2    (Loshchilov & Hutter 2017, no restarts)
    """
    g, G, W = epoch * steps_per_epoch + step, epochs * steps_per_epoch, warmup_epochs * steps_per_epoch
    if g < W:
        return base * (g + 1) / W
    if schedule == "constant":
        return base
    if schedule == "cosine":
        return base * 0.5 * (1.0 + math.cos(math.pi * min(g - W, G - W) / max(G - W, 1)))
    raise ValueError(f"unknown schedule {schedule!r}; expected constant or cosine")
