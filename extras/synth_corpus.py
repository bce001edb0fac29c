"""The built-in corpus -- synth.py's voices written as 16-bit WAV files plus a manifest.

Real corpora can be neither shipped nor downloaded at run time, so train.py without --manifest builds this one,
once, into scale/files.cache_root(); the same seed gives byte-identical files. Every file is written atomically,
so two processes building it at once (two train.py runs, torchrun ranks) never break each other's files.

    python -m corpora synth --out /tmp/synth      # the same by hand
    python -m pytest tests/test_synth.py
"""
import io
import json
from pathlib import Path

import numpy as np
import soundfile as sf

from data import assign_splits
from scale.files import atomic_write, atomic_write_text, cache_root, write_manifest
from scale.workers import map_jobs
from features import SR

# The built-in corpus: 240 speakers x 5 clips x 4 s = 80 min of audio. Speaker traits are learnt across
# speakers, not clips, so many speakers with few clips each beat the reverse at the same cost.
SYNTH_SPEAKERS = 240  # speakers (4 per gender x age x dialect cell); split 191 / 25 / 24 (data.assign_splits)
SYNTH_UTTERANCES = 5  # 4 s clips per speaker
UTTERANCE_S = 4.0  # seconds per synthetic utterance = one model window
SYNTH_VERSION = 1  # bump by hand when a change to synth.py or this file changes any clip: the corpus is redone


def default_corpus_dir(n_speakers=SYNTH_SPEAKERS, n_utterances=SYNTH_UTTERANCES, seed=0):
    """Where train.py keeps the built-in corpus: cache_root() / synth-s240-u5-seed0 (for the defaults)."""
    return cache_root() / f"synth-s{n_speakers}-u{n_utterances}-seed{seed}"


def _synth_settings(n_speakers, n_utterances, seed):
    """Everything that makes the corpus what it is -- never the source text: a comment in synth.py costs nothing."""
    return {"speakers": n_speakers, "utterances": n_utterances, "seed": seed, "sr": SR,
            "duration_s": UTTERANCE_S, "version": SYNTH_VERSION}


def _write_utterance(job):
    """Synthesise one utterance and write it as 16-bit PCM WAV atomically (job = (path, params, seed))."""
    from extras import synth  # the synthesiser itself, only where a clip is made
    path, params, seed = job
    y = synth.synthesize_utterance(params, seed=seed, sr=SR, duration_s=UTTERANCE_S)  # (N,) in [-1, 1]
    sf.write(wav := io.BytesIO(), y, SR, subtype="PCM_16", format="WAV")  # in memory: soundfile writing to a file
    atomic_write(path, lambda f: f.write(wav.getvalue()))  # hides a full disk (AssertionError); f.write names it


def make_synth_corpus(out_dir, n_speakers=SYNTH_SPEAKERS, n_utterances=SYNTH_UTTERANCES, seed=0, workers=1):
    """Write the synthetic corpus (WAVs + manifest.csv with speaker-disjoint splits) -> manifest path.

    The manifest is written last and is the completion marker; synth_settings.json beside it records the
    settings, so a finished corpus with the same settings is reused untouched and any other one regenerated.
    Utterance j of speaker i uses the seed SeedSequence([seed, i, j]): the same seed gives identical files.
    """
    if n_speakers < 1 or n_utterances < 1:
        raise ValueError(f"need at least one speaker and one utterance (got {n_speakers}, {n_utterances})")
    out_dir = Path(out_dir)
    manifest, settings_file = out_dir / "manifest.csv", out_dir / "synth_settings.json"
    settings = _synth_settings(n_speakers, n_utterances, seed)
    if manifest.is_file() and settings_file.is_file() and json.loads(settings_file.read_text()) == settings:
        return manifest
    if manifest.is_file() and not settings_file.is_file():  # someone else's manifest: never ours to replace
        raise ValueError(f"{manifest} exists and was not written by the synthesiser (no {settings_file.name} beside "
                         "it); choose another --out folder")
    manifest.unlink(missing_ok=True)  # from here until the end the folder is "incomplete"
    from extras import synth  # only a corpus still to be made needs the synthesiser
    rows, jobs = [], []
    for i, spk in enumerate(synth.plan_corpus(n_speakers, seed)):
        (out_dir / "wav" / spk["speaker"]).mkdir(parents=True, exist_ok=True)
        for j in range(n_utterances):
            path = out_dir / "wav" / spk["speaker"] / f"{spk['speaker']}_{j:02d}.wav"
            utt_seed = int(np.random.SeedSequence([seed, i, j]).generate_state(1)[0])
            jobs.append((path, spk["params"], utt_seed))
            rows.append({"path": str(path), "speaker": spk["speaker"], "gender": spk["gender"],
                         "age": spk["age"], "dialect": spk["dialect"], "split": "", "source": "synthetic"})
    map_jobs(_write_utterance, jobs, workers)
    atomic_write_text(settings_file, json.dumps(settings, indent=1))
    write_manifest(assign_splits(rows, seed=seed), manifest)
    return manifest
