"""Run folders and metrics: what train.py writes and evaluate.py reads, in one place.

A run folder (runs/<model>-<input>-<time>/) holds
    config.json   every argument of train.py and the label vocabularies
    history.csv   one row per epoch
    best.pt       the weights with the best mean validation balanced accuracy
    last.pt       everything needed to resume (weights, optimiser, RNG states, epoch, ...)
    metrics.json  train/val/test accuracy per task, computed once at the end with best.pt

Metrics are pure NumPy functions of integer label arrays (class indices, unknown labels already removed);
they follow scikit-learn's definitions, written out in each docstring.
Every file is written atomically (a temporary file in the same folder, then os.replace), so a Ctrl-C or a
crash never leaves a half-written checkpoint behind.

    python -m pytest tests/test_metrics.py
"""
import csv
import io
import json
import pickle
import random
import warnings
from pathlib import Path

import numpy as np
import torch

import data
import features
import mtl
from files import atomic_write, atomic_write_text

CHECKPOINTS = ("best.pt", "last.pt")  # load_run's order of preference


# ----------------------------------------------------------------------------- files

def save_checkpoint(obj, path):
    """torch.save(obj) to `path` atomically."""
    atomic_write(path, lambda f: torch.save(obj, f))


def save_json(obj, path):
    """Write obj as indented UTF-8 JSON (Korean labels stay readable) to `path` atomically."""
    atomic_write_text(path, json.dumps(obj, indent=2, ensure_ascii=False) + "\n")


def load_json(path):
    """The object stored in a UTF-8 JSON file."""
    with open(path, encoding="utf-8") as f:
        return json.load(f)


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


def rng_states(crops):
    """Every random number generator a training loop draws from, as plain values a weights-only load accepts.

    crops: the numpy Generator of the Dataset's random crops. Python, numpy's global, torch's CPU and every
    CUDA device's generator are global; saving them all is what lets --resume repeat the same dropout masks.
    Only tensors, tuples, lists, dicts, str, int, float and None: Python's state is a tuple of ints, numpy's
    MT19937 key becomes a list of ints, torch's and CUDA's states stay uint8 tensors.
    """
    kind, key, pos, has_gauss, cached = np.random.get_state()
    return {"python": random.getstate(), "numpy": (kind, key.tolist(), pos, has_gauss, cached),
            "torch": torch.get_rng_state(),
            "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
            "crops": crops.bit_generator.state}


def set_rng_states(states, crops):
    """Restore what rng_states() saved (CUDA states only where CUDA is present)."""
    version, internal, gauss = states["python"]
    random.setstate((version, tuple(internal), gauss))
    kind, key, pos, has_gauss, cached = states["numpy"]
    np.random.set_state((kind, np.asarray(key, dtype=np.uint32), pos, has_gauss, cached))
    torch.set_rng_state(states["torch"])
    if states["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states["cuda"])
    crops.bit_generator.state = states["crops"]


# ----------------------------------------------------------------------------- models from run folders

def model_from_config(config, vocabs):
    """Build the (untrained) model that config.json describes: same name, input kind and class counts."""
    n_classes = {task: len(vocabs[task]) for task in config["tasks"]}
    return mtl.build_model(config["model"], config["input"], n_classes)


class CheckpointError(ValueError):
    """A file that is not a moksori checkpoint; the message is one line, "PATH: not a moksori checkpoint (...)"."""


CHECKPOINT_KEYS = ("model", "config", "vocabs")  # every moksori checkpoint has these
# numpy's array reconstruction: checkpoints written before format 2 kept numpy's RNG key as an ndarray. These
# globals only rebuild arrays of plain numbers; everything else stays refused by the weights-only unpickler.
LEGACY_NUMPY = [np.ndarray, np.dtype, np.dtypes.UInt32DType,
                getattr(np, "_core", np.core).multiarray._reconstruct]


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
    CheckpointError ("PATH: not a moksori checkpoint (reason)") for anything else that is not a dict holding
    CHECKPOINT_KEYS.
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
    return ckpt


def load_run(run_dir, checkpoint=None, device="cpu"):
    """(config, vocabs, model in eval mode) from a run folder; weights from best.pt, else last.pt.

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
    config, vocabs = ckpt["config"], ckpt["vocabs"]
    try:
        model = model_from_config(config, vocabs)
        model.load_state_dict(ckpt["model"])
    except (KeyError, TypeError, ValueError, RuntimeError) as err:  # wrong shapes, a foreign config
        raise CheckpointError(f"{paths[0]}: not a moksori checkpoint ({type(err).__name__}: "
                              f"{str(err).splitlines()[0][:120]})") from None
    return config, vocabs, model.to(device).eval()


# ----------------------------------------------------------------------------- utterance-level prediction

@torch.no_grad()
def predict_clips(model, features_list, kind, device="cpu", batch_size=64):
    """Class probabilities of each clip: the softmax of every window, averaged over the clip's windows.

    features_list: list of float32 arrays, each input_shape(kind) + (T,) (T frames, or samples for "raw").
    Each clip is cut into windows of L = frames_per_window(kind) by data.windows (the last one aligned with
    the clip's end, so no window is mostly padding) and  p = (1/K) sum_k softmax(logits_k)  over its K windows.
    Windows of consecutive clips share batches of `batch_size`.
    Returns {task: float64 (n_clips, n_classes)}, rows summing to 1 ({} for no clips).
    """
    if not features_list:
        return {}
    model.eval()
    length = features.frames_per_window(kind)
    sums, counts = {}, np.zeros(len(features_list))  # probability sums and window counts per clip
    pending, owners = [], []  # windows waiting for a forward pass, and the clip each belongs to

    def flush():
        x = torch.from_numpy(np.stack(pending)).to(device)  # (B, *input_shape, L)
        for task, z in model(x).items():  # z: (B, n_classes) logits
            p = torch.softmax(z.float(), dim=-1).cpu().numpy().astype(np.float64)  # (B, n_classes)
            if task not in sums:
                sums[task] = np.zeros((len(features_list), p.shape[1]))
            np.add.at(sums[task], owners, p)  # add each window's probabilities to its clip
        np.add.at(counts, owners, 1.0)
        pending.clear(), owners.clear()

    for i, feats in enumerate(features_list):
        for window in data.windows(feats, length):  # (*input_shape, L), one window at a time
            pending.append(np.asarray(window, dtype=np.float32))
            owners.append(i)
            if len(pending) == batch_size:
                flush()
    if pending:
        flush()
    assert counts.min() > 0, "every clip gives at least one window"
    return {task: s / counts[:, None] for task, s in sums.items()}
