"""A run folder read back safely -- its best.pt or last.pt, the model it holds, and its manifest as trained -- for
every tool that reads a run (evaluate.py, --resume, ensembles, the page, a release).

Every checkpoint is read with torch.load(weights_only=True): tensors, plain containers, numbers and text; a
pickle naming any other global (os.system, a class of its own) is refused before it runs, with one line.

    python -m pytest tests/test_checkpoints.py tests/test_runs.py
"""
import hashlib
import warnings
from pathlib import Path

import torch

import mtl
from data import read_manifest

CHECKPOINTS = ("best.pt", "last.pt")  # load_run's order of preference
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
        from scale.legacy import old_or_refused  # a first-format last.pt, or why the file is refused
        ckpt = old_or_refused(path, err)
        if isinstance(ckpt, str):
            raise CheckpointError(f"{path}: not a moksori checkpoint ({ckpt})") from None
    if not isinstance(ckpt, dict):
        raise CheckpointError(f"{path}: not a moksori checkpoint (holds a {type(ckpt).__name__}, not a dict)")
    missing = [k for k in CHECKPOINT_KEYS if k not in ckpt]
    if missing:
        raise CheckpointError(f"{path}: not a moksori checkpoint (no {', '.join(missing)})")
    if not isinstance(ckpt["config"], dict) or not isinstance(ckpt["vocabs"], dict):
        raise CheckpointError(f"{path}: not a moksori checkpoint (config or vocabs is not a dict)")
    return ckpt


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
    from scale.calibration import of_run  # the run's temperatures (calibration.json), {} for an older run
    config = {**ckpt["config"], "vocabs": ckpt["vocabs"], "temperature": of_run(run_dir)}
    try:
        model = mtl.from_config(config)
        model.load_state_dict(ckpt["model"])
    except (KeyError, TypeError, ValueError, RuntimeError) as err:  # wrong shapes, a foreign or older config
        raise CheckpointError(f"{paths[0]}: not a moksori checkpoint of this version ({type(err).__name__}: "
                              f"{str(err).splitlines()[0][:120]})") from None
    return config, model.to(device).eval()


def file_sha1(path):
    """Hex SHA-1 of a file's bytes (the manifest a run was trained from is recorded by it)."""
    return hashlib.sha1(Path(path).read_bytes()).hexdigest()


def read_run_manifest(run_dir, config):
    """The rows a run was trained on, splits as trained (run_dir/manifest.csv), warning once when the source
    manifest has changed since: a recomputed split could put training speakers in "test"."""
    source = Path(config["manifest"])
    if source.is_file() and config.get("manifest_sha1") and file_sha1(source) != config["manifest_sha1"]:
        warnings.warn(f"{source} has changed since {run_dir} was trained; using the run's own copy "
                      f"{Path(run_dir) / 'manifest.csv'} (the splits as trained)", stacklevel=2)
    return read_manifest(Path(run_dir) / "manifest.csv")
