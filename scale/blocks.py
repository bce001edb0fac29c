"""Long recordings a block at a time: the features of an hour of audio while memory holds 32 s of it.

data.clip_features reads a span up to data.LONG_S seconds whole; a longer one (a lecture, a podcast, an
evaluate.py --wav file) comes here. It is cut into BLOCK_S-second blocks, each read with MARGIN_S seconds of
context on either side, featurised, and only its central frames kept, so a frame near a block's edge still sees
its whole analysis window. The features of the whole stay in memory (60 MB an hour for mfcc_f0); the audio does
not. This module imports no data.py (data.py reaches it): the audio comes through a loader callback.

    python -m pytest tests/test_hostile.py tests/test_hostile_core.py -k blocks
"""
import numpy as np

import features

BLOCK_S, MARGIN_S = 30.0, 1.0  # seconds of a long span featurised at a time, and of context on each side


def features_in_blocks(load, start, end, kind, featurise):
    """The features of the span start..end of a recording (seconds), BLOCK_S seconds of audio at a time with
    MARGIN_S of context on each side, each block's central frames kept: memory holds one block of audio.

    load(lo, hi) -> (N,) float32 at features.SR: the recording from lo to hi seconds (data.load_audio);
    featurise(y) -> (*shape, T): one block's features (features.extract, or a run's own chain).
    A frame inside a block is the whole span's, but for power_to_db's 80 dB floor (the block's loudest, not the
    span's) and, for mfcc_f0_vt, the formant ceiling (formants.formant_ceiling: from the block's median F0, not
    the span's). The span is longer than one block (data.clip_features reads shorter ones whole) and every later
    block starts MARGIN_S early, so none is shorter than what load_audio reads (data.MIN_CLIP_S).
    -> float32 (*shape, T)."""
    per_s = features.SR if kind == "raw" else features.SR // features.HOP_LENGTH  # steps per second
    pieces = []
    for a in np.arange(start, end, BLOCK_S):  # block [a, a + BLOCK_S) read with its margins
        lo, hi = max(a - MARGIN_S, start), min(a + BLOCK_S + MARGIN_S, end)
        x = featurise(load(lo, hi))  # (*shape, T_block)
        skip = int(round((a - lo) * per_s))  # steps of the left margin
        last = a + BLOCK_S >= end  # the last block keeps every step to the end: T = 1 + N // HOP_LENGTH, as whole
        pieces.append(x[..., skip:] if last else x[..., skip:skip + int(round(BLOCK_S * per_s))])
    return np.concatenate(pieces, axis=-1)
