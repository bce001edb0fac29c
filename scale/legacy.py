"""Old run folders: what runs saved before today's formats, read without giving pickle any more power.

    load_format1(path)   a last.pt of the first checkpoint format: numpy's RNG key stored as an ndarray.
                         Loaded weights-only, with numpy's array reconstruction (which rebuilds arrays of plain
                         numbers, nothing else) added to what the unpickler accepts. checkpoints.load_checkpoint calls
                         it only when the plain weights-only load refuses exactly that.
    old_or_refused(path, err)   what checkpoints.load_checkpoint does when torch.load refuses a file: a format-1
                         checkpoint's dict, or the informative line of torch's error (runs raises it).
    LEGACY_SETTINGS      what a config.json saved before a setting existed did (scale/tables.py --mean,
                         train.py --resume of an old run).

    python -m pytest tests/test_checkpoints.py
"""
import pickle
import warnings

import numpy as np
import torch


# What a run saved before these settings existed did, where that differs from today's recipes.
LEGACY_SETTINGS = {"select": "best", "auto_refit": False, "cmn": False, "pitch": False, "vocal_tract": False,
                   "adversary": 0.0,
                   "store": False, "adversarial": [], "corpora": []}
# numpy's array reconstruction: the only globals a format-1 checkpoint needs beyond the weights-only defaults
LEGACY_NUMPY = [np.ndarray, np.dtype, np.dtypes.UInt32DType, getattr(np, "_core", np.core).multiarray._reconstruct]


def load_format1(path):
    """The dict of a format-1 checkpoint (numpy RNG arrays), read with torch.load(weights_only=True) and the
    numpy globals above; any other global is still refused (pickle.UnpicklingError)."""
    with warnings.catch_warnings(), torch.serialization.safe_globals(LEGACY_NUMPY):
        warnings.simplefilter("ignore")
        return torch.load(path, map_location="cpu", weights_only=True)


def old_or_refused(path, err):
    """The dict of a format-1 checkpoint when the weights-only load `err` refused only numpy's array
    reconstruction; else the reason it is refused, one line (checkpoints.CheckpointError says it)."""
    if isinstance(err, pickle.UnpicklingError) and "_reconstruct" in str(err):
        try:
            return load_format1(path)
        except Exception as again:
            err = again
    if isinstance(err, pickle.UnpicklingError):  # torch's long message: keep "Unsupported GLOBAL posix.system"
        lines = [line.strip() for line in str(err).splitlines() if line.strip()]
        reason = ([line for line in lines if "nsupported" in line or "GLOBAL" in line] or lines or ["unpickling"])[0]
    else:
        reason = f"{type(err).__name__}: {str(err).splitlines()[0] if str(err) else 'unreadable'}"
    return reason[:160]
