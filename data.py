"""The data floor: manifests, speaker-disjoint splits, audio loading, labels, the Dataset and the sampler.

Every corpus becomes one CSV manifest with the columns `path, speaker, gender, age, dialect, split` (extra
columns are kept). An empty label cell means "unknown": it is encoded as -1 and masked out of that task's loss,
never guessed and never dropped. Splits are assigned by speaker, so no voice is heard in training and in test.
The feature cache lives in cache.py; this module knows nothing of models.

    python data.py synth --out /tmp/synth            # the built-in synthetic corpus (synth.py)
    python data.py timit --root ../shared/data/timit_sample --out timit.csv
    python data.py describe timit.csv                # label tables per split (corpora.describe)
    python -m pytest tests/test_data.py
"""
import argparse
import csv
import hashlib
import json
import math
import os
import re
import sys
import tempfile
import time
import warnings
from collections import Counter, defaultdict
from multiprocessing import Pool
from pathlib import Path

import numpy as np
import soundfile as sf
import torch
from scipy.signal import resample_poly

import corpora
import synth
from features import SR, frames_per_window, input_shape

TASKS = ("age", "gender", "dialect")
COLUMNS = ("path", "speaker", "gender", "age", "dialect", "split")
SPLITS = ("train", "val", "test")
MIN_DURATION_S = 0.1  # seconds; shorter clips carry no usable voice (10 frames at a 10 ms hop)
SILENT_PEAK = 1e-4  # full scale = 1.0; a peak below this (-80 dBFS) is "nearly silent" and gets a warning
BALANCE_OPTIONS = ("none", "gender", "age", "dialect", "joint")
# The built-in corpus: 240 speakers x 5 clips x 4 s = 80 min of audio. Speaker traits are learnt across
# speakers, not clips, so many speakers with few clips each beat the reverse at the same cost: 120 x 10 left
# 12 validation speakers (2 per dialect) and a validation score that jumped by +-0.1 from epoch to epoch.
SYNTH_SPEAKERS = 240  # speakers (4 per gender x age x dialect cell); split 192 / 24 / 24
SYNTH_UTTERANCES = 5  # 4 s clips per speaker


# ---------------------------------------------------------------- 1. the manifest
def read_manifest(path, seed=0):
    """Read a manifest CSV into a list of row dicts (all values str; `path` made absolute).

    Relative audio paths are resolved against the manifest's folder. Empty split cells are filled by
    assign_splits(rows, seed=seed): speaker-disjoint and the same for the same seed (train.py and evaluate.py
    pass the run's --seed, so both see the same splits). Raises FileNotFoundError if the file is
    missing and ValueError, naming the file, for missing columns, an empty manifest, an empty path/speaker
    cell, a split value other than train/val/test/empty (with the line number), or a speaker in two splits.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: manifest not found")
    with open(path, newline="", encoding="utf-8-sig") as f:  # -sig: tolerate the BOM that Excel writes
        reader = csv.DictReader(f)
        missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise ValueError(f"{path}: missing column(s) {', '.join(missing)}; expected {', '.join(COLUMNS)}")
        rows = []
        for row in reader:
            row = {k: (v or "").strip() for k, v in row.items() if k is not None}
            where = f"{path}: line {reader.line_num}"
            if row["split"] not in SPLITS + ("",):
                raise ValueError(f"{where}: split {row['split']!r} is not one of train, val, test or empty")
            if not row["path"] or not row["speaker"]:
                raise ValueError(f"{where}: empty {'path' if not row['path'] else 'speaker'} cell")
            row["path"] = str((path.parent / row["path"]).resolve())
            rows.append(row)
    if not rows:
        raise ValueError(f"{path}: manifest has no rows")
    check_speaker_disjoint(rows, path)
    if any(not row["split"] for row in rows):  # empty split cells: assigned by speaker, the same for a seed
        rows = assign_splits(rows, seed=seed)
    return rows


def check_speaker_disjoint(rows, source="manifest"):
    """Raise ValueError (naming `source`, the speaker and the splits) if a speaker has rows in two splits."""
    splits_of = defaultdict(set)
    for row in rows:
        if row.get("split"):
            splits_of[row["speaker"]].add(row["split"])
    for speaker, splits in splits_of.items():
        if len(splits) > 1:
            raise ValueError(f"{source}: speaker {speaker!r} appears in splits {' and '.join(sorted(splits))}; "
                             "splits must be speaker-disjoint")


def write_manifest(rows, path):
    """Write rows to a manifest CSV atomically (a temporary file in the same folder, then os.replace).

    Audio paths inside the manifest's folder are written relative to it, so a corpus folder can be moved;
    any other path is written absolute (read_manifest resolves relative paths against the manifest's folder).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    extras = [k for k in dict.fromkeys(k for row in rows for k in row) if k not in COLUMNS]
    folder = path.parent.resolve()
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", newline="", encoding="utf-8") as f:
            writer = csv.DictWriter(f, fieldnames=list(COLUMNS) + extras, restval="")
            writer.writeheader()
            for row in rows:
                audio = Path(row["path"]).resolve()
                inside = audio.is_relative_to(folder)
                writer.writerow({**row, "path": str(audio.relative_to(folder)) if inside else str(audio)})
        os.replace(tmp, path)  # atomic on POSIX and Windows: readers see the old file or the new one
    except BaseException:
        os.unlink(tmp)
        raise


# ---------------------------------------------------------------- 2. speaker-disjoint splits
def assign_splits(rows, fractions=(0.8, 0.1, 0.1), seed=0):
    """Fill empty `split` cells by speaker; return new row dicts (pre-set splits, e.g. TIMIT's, are kept).

    Stratified on each task's own labels, not on their (gender, age, dialect) combination: the built-in
    corpus has 60 combinations and only 24 validation speakers, and dealing out whole combinations dropped
    entire dialects from validation. Instead (a simplified "iterative stratification", Sechidis et al. 2011) the speakers are
    taken in a seeded random order and each goes to the split that is furthest behind its quota,
        need(s) = sum over the speaker's known labels (t, v) of  [f_s * n(t, v) - have_s(t, v)]
                  + [f_s * n - have_s],
    where n(t, v) counts the speakers with label v for task t and f_s is split s's fraction. A split that
    already holds ceil(f_s * n) speakers takes no more, so the split sizes are exact to one speaker.
    `fractions` = (train, val, test).
    """
    if len(fractions) != 3 or min(fractions) < 0 or not math.isclose(sum(fractions), 1.0, abs_tol=1e-6):
        raise ValueError(f"split fractions {fractions} must be three non-negative numbers summing to 1")
    rows = [dict(row) for row in rows]
    check_speaker_disjoint(rows, "assign_splits")
    split_of = {row["speaker"]: row["split"] for row in rows if row.get("split")}  # pre-set splits stay
    labels = {row["speaker"]: [(t, row.get(t, "")) for t in TASKS if row.get(t, "")] for row in rows}  # last row wins
    todo = sorted(s for s in labels if s not in split_of)
    todo = [todo[i] for i in np.random.default_rng(seed).permutation(len(todo))]
    f = np.asarray(fractions, dtype=np.float64)  # (3,)
    target = {key: f * n for key, n in Counter(key for s in todo for key in labels[s]).items()}  # (t, v) -> (3,)
    have = defaultdict(lambda: np.zeros(3))  # (t, v) -> speakers per split so far
    cap, count = np.ceil(f * len(todo) - 1e-9), np.zeros(3)  # most speakers each split may take; taken so far
    for k, speaker in enumerate(todo):
        need = f * (k + 1) - count  # (3,) how far each split is behind on speakers
        for key in labels[speaker]:
            need = need + target[key] - have[key]  # ... and on this speaker's labels
        need[(count >= cap) | (f == 0)] = -np.inf  # full splits, and splits nobody asked for, take no one
        choice = int(np.argmax(need))
        count[choice] += 1
        for key in labels[speaker]:
            have[key][choice] += 1
        split_of[speaker] = SPLITS[choice]
    for row in rows:
        row["split"] = split_of[row["speaker"]]
    return rows


# ---------------------------------------------------------------- 3. audio
class AudioError(ValueError):
    """A clip that cannot be used; the message is one line, "PATH: problem"."""


def load_audio(path, sr=SR):
    """Read an audio file as float32 mono at `sr` Hz -> (N,) in [-1, 1].

    soundfile decodes (WAV, FLAC, OGG, MP3, NIST SPHERE); integer formats are scaled to [-1, 1]; channels are
    averaged; the rate is converted with scipy.signal.resample_poly(up, down), up/down = sr/file_sr reduced by
    their gcd (a polyphase FIR low-pass, so no aliasing). Raises AudioError naming the file when it is missing,
    unreadable, empty, holds NaN/inf samples, is all zeros, or is shorter than MIN_DURATION_S. A nearly silent
    clip (peak below -80 dBFS) only warns. Clips shorter than the 4 s model window are fine (padded later).
    """
    path = Path(path)
    if not path.is_file():
        raise AudioError(f"{path}: file not found")
    try:
        y, file_sr = sf.read(path, dtype="float32", always_2d=True)  # (N, channels)
    except (sf.SoundFileError, RuntimeError) as err:
        reason = getattr(err, "error_string", None) or str(err).splitlines()[0]
        raise AudioError(f"{path}: unreadable audio ({reason})") from None
    if y.shape[0] == 0:
        raise AudioError(f"{path}: empty audio (0 samples)")
    bad = int(np.count_nonzero(~np.isfinite(y)))
    if bad:
        raise AudioError(f"{path}: {bad} NaN/inf samples")
    if y.shape[0] / file_sr < MIN_DURATION_S:
        raise AudioError(f"{path}: too short ({y.shape[0] / file_sr:.3f} s < {MIN_DURATION_S} s)")
    y = y.mean(axis=1)  # (N,) mono
    peak = float(np.max(np.abs(y)))
    if peak == 0.0:
        raise AudioError(f"{path}: all-silent (every sample is 0)")
    if peak < SILENT_PEAK:
        warnings.warn(f"{path}: nearly silent (peak {20 * np.log10(peak):.0f} dBFS)", stacklevel=2)
    if file_sr != sr:
        g = math.gcd(int(sr), int(file_sr))
        y = resample_poly(y, sr // g, file_sr // g)  # (N * sr / file_sr,)
    return y.astype(np.float32)


# ---------------------------------------------------------------- 4. labels
def natural_key(label):
    """Sort key that orders numbers inside labels by value: "5s" < "20s" < "100s"."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", label)]


def build_vocabs(rows, tasks=TASKS):
    """{task: sorted list of the class names seen in rows} (empty cells = unknown, not a class)."""
    return {t: sorted({row[t] for row in rows if row.get(t)}, key=natural_key) for t in tasks}


def encode_labels(row, vocabs, tasks=None):
    """Class indices of one row -> np.int64 (n_tasks,), -1 where the label is unknown (empty cell).

    `tasks` defaults to the vocabs' order. A label missing from its vocab (e.g. a test label never seen in
    training) raises ValueError naming the value, the task and the file.
    """
    tasks = list(vocabs) if tasks is None else tasks
    codes = np.full(len(tasks), -1, dtype=np.int64)
    for i, task in enumerate(tasks):
        value = row.get(task, "")
        if value:
            if value not in vocabs[task]:
                raise ValueError(f"{row['path']}: {task} label {value!r} is not in the vocabulary "
                                 f"{vocabs[task]} (the run's label vocabulary)")
            codes[i] = vocabs[task].index(value)
    return codes


# ---------------------------------------------------------------- 5. windows and the Dataset
def fit_length(x, length, start=0):
    """x[..., start:start + length], zero-padded at the end to exactly `length` along the last axis."""
    x = x[..., start:start + length]
    pad = length - x.shape[-1]
    return np.pad(x, [(0, 0)] * (x.ndim - 1) + [(0, pad)]) if pad > 0 else x


def windows(x, length):
    """Cut a whole clip into model windows -> (n_windows, *x.shape[:-1], length), n_windows = ceil(T / length).

    Windows start every `length` frames; when T is not a multiple of `length`, the last window is aligned with
    the clip's end instead (it overlaps the one before), so every window is real signal and none is mostly
    zero padding. Only a clip shorter than one window is zero-padded (one window). Utterance-level prediction
    (train.py validation, evaluate.py) runs the model on every window and averages the windows' class
    probabilities, so a 12 s clip is judged on all 12 s, not on its first 4.
    """
    T = x.shape[-1]
    if T <= length:
        return fit_length(x, length)[None]  # (1, ..., length)
    starts = list(range(0, T - length + 1, length))  # full windows from the start
    if starts[-1] + length < T:
        starts.append(T - length)  # the tail, aligned to the end
    return np.stack([x[..., s:s + length] for s in starts])  # (n, ..., length)


class ProfilingDataset(torch.utils.data.Dataset):
    """In-memory features and labels -> (x float32 (*input_shape(kind), L), y int64 (n_tasks,)) tensors.

    L = frames_per_window(kind). Training: a random crop of L frames (a clip shorter than L is zero-padded at
    the end), drawn from a generator seeded with `seed` -- use it with DataLoader(num_workers=0), the data is
    already in memory. Evaluation: the first window, fixed; for utterance-level scores use `windows()`.
    """

    def __init__(self, features, labels, kind, train, seed=0):
        self.features, self.labels = list(features), np.asarray(labels, dtype=np.int64)  # labels (N, n_tasks)
        self.length, self.train = frames_per_window(kind), train
        self.rng = np.random.default_rng(seed)
        for x in self.features:
            if x.shape[:-1] != tuple(input_shape(kind)):
                raise ValueError(f"feature shape {x.shape} does not match input {kind!r} "
                                 f"(expected {input_shape(kind)} + (frames,))")
        assert len(self.features) == len(self.labels), "one label row per clip"

    def __len__(self):
        return len(self.features)

    def __getitem__(self, i):
        x = self.features[i]  # (*input_shape, T)
        spare = x.shape[-1] - self.length  # frames beyond one window
        start = int(self.rng.integers(0, spare + 1)) if self.train and spare > 0 else 0
        return torch.from_numpy(np.ascontiguousarray(fit_length(x, self.length, start))), \
            torch.from_numpy(self.labels[i])


# ---------------------------------------------------------------- 6. balanced sampling
def balanced_sampler(rows, vocabs, by, num_samples=None, seed=0):
    """A WeightedRandomSampler that draws each class of label `by` equally often (None for by="none").

    by in {"none", "gender", "age", "dialect", "joint"}. Each row's weight is 1 / (clips of its class).
    Rows whose `by` label is unknown get the mean weight of the known rows: they still train the other tasks,
    at the rate of an average clip. "joint" balances the (age, gender, dialect) combination (unknown is a value
    of its own), but a combination smaller than the median combination is weighted as if it had the median
    count: otherwise a combination with one clip would be replayed hundreds of times per epoch.

    Default for multi-task training: "joint". Balancing one label leaves the other two as skewed as before
    (or worse: equal genders can mean even fewer 60s speakers); joint balancing flattens all three marginals
    at once, as far as the combinations exist, and the median floor keeps the rare ones from being memorised.
    For a single-task model balance that task's own label. num_samples defaults to len(rows) (one epoch).
    """
    if by not in BALANCE_OPTIONS:
        raise ValueError(f"balance {by!r} is not one of {', '.join(BALANCE_OPTIONS)}")
    if by == "none":
        return None
    if by == "joint":
        keys = [tuple(row.get(t, "") for t in TASKS) for row in rows]
        counts = Counter(keys)
        floor = float(np.median(list(counts.values())))  # clips in the median combination
        weights = np.array([1.0 / max(counts[k], floor) for k in keys])
    else:
        keys = [row.get(by, "") for row in rows]
        known = np.array([k in vocabs[by] for k in keys])  # empty cells (and labels outside the vocab)
        if not known.any():
            raise ValueError(f"cannot balance by {by!r}: no row has a known {by} label")
        counts = Counter(k for k, ok in zip(keys, known) if ok)
        weights = np.array([1.0 / counts[k] if ok else 0.0 for k, ok in zip(keys, known)])
        weights[~known] = weights[known].mean()
    generator = torch.Generator().manual_seed(seed)
    return torch.utils.data.WeightedRandomSampler(torch.as_tensor(weights, dtype=torch.double),
                                                  num_samples or len(rows), replacement=True,
                                                  generator=generator)


# ---------------------------------------------------------------- 7. the built-in synthetic corpus
UTTERANCE_S = 4.0  # seconds per synthetic utterance = one model window


def cache_root():
    """The folder for everything generated once and reused: $MOKSORI_CACHE, or <repo>/.cache."""
    return Path(os.environ.get("MOKSORI_CACHE") or Path(__file__).resolve().parent / ".cache")


def default_corpus_dir(n_speakers=SYNTH_SPEAKERS, n_utterances=SYNTH_UTTERANCES, seed=0):
    """Where train.py keeps the built-in corpus: cache_root() / synth-s240-u5-seed0 (for the defaults)."""
    return cache_root() / f"synth-s{n_speakers}-u{n_utterances}-seed{seed}"


def _synth_settings(n_speakers, n_utterances, seed):
    """Everything that changes the corpus, incl. synth.py's source (an edited synthesiser regenerates)."""
    source = hashlib.sha1(Path(synth.__file__).read_bytes()).hexdigest()
    return {"speakers": n_speakers, "utterances": n_utterances, "seed": seed, "sr": SR,
            "duration_s": UTTERANCE_S, "synth_sha1": source}


def _write_utterance(job):
    """Synthesise one utterance and write it as 16-bit PCM WAV atomically (job = (path, params, seed))."""
    path, params, seed = job
    y = synth.synthesize_utterance(params, seed=seed, sr=SR, duration_s=UTTERANCE_S)  # (N,) in [-1, 1]
    tmp = path.with_name(path.name + ".tmp")
    sf.write(tmp, y, SR, subtype="PCM_16", format="WAV")
    os.replace(tmp, path)


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
    manifest.unlink(missing_ok=True)  # from here until the end the folder is "incomplete"
    rows, jobs = [], []
    for i, spk in enumerate(synth.plan_corpus(n_speakers, seed)):
        (out_dir / "wav" / spk["speaker"]).mkdir(parents=True, exist_ok=True)
        for j in range(n_utterances):
            path = out_dir / "wav" / spk["speaker"] / f"{spk['speaker']}_{j:02d}.wav"
            utt_seed = int(np.random.SeedSequence([seed, i, j]).generate_state(1)[0])
            jobs.append((path, spk["params"], utt_seed))
            rows.append({"path": str(path), "speaker": spk["speaker"], "gender": spk["gender"],
                         "age": spk["age"], "dialect": spk["dialect"], "split": ""})
    if workers > 1:
        with Pool(workers) as pool:
            pool.map(_write_utterance, jobs, chunksize=8)
    else:
        for job in jobs:
            _write_utterance(job)
    settings_file.write_text(json.dumps(settings, indent=1))
    write_manifest(assign_splits(rows, seed=seed), manifest)
    return manifest


# ---------------------------------------------------------------- 8. command line
def split_summary(rows):
    """One line: clips and speakers per split, e.g. "1200 clips, 240 speakers (train 192 / val 24 / test 24)"."""
    speakers = {s: {r["speaker"] for r in rows if r["split"] == s} for s in SPLITS}
    per_split = " / ".join(f"{s} {len(speakers[s])}" for s in SPLITS)
    return f"{len(rows)} clips, {len({r['speaker'] for r in rows})} speakers ({per_split} speakers)"


def _import_corpus(args):
    """Run one corpora.py adapter, assign splits, write the manifest, print a summary."""
    if not Path(args.root).is_dir():
        raise FileNotFoundError(f"{args.root}: corpus folder not found")
    adapters = {"aihub": corpora.aihub_rows, "commonvoice": corpora.commonvoice_rows,
                "timit": lambda root: corpora.timit_rows(root, seed=args.seed)}
    rows = adapters[args.command](args.root)
    if not rows:
        raise ValueError(f"{args.root}: no labelled audio found for the {args.command} layout")
    rows = assign_splits(rows, seed=args.seed)
    write_manifest(rows, args.out)
    print(f"wrote {args.out}: {split_summary(rows)}")


def main(argv=None):
    """`python data.py {synth,aihub,commonvoice,timit,describe} ...`; returns the exit code (2 on bad input)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    p = commands.add_parser("synth", help="write the built-in synthetic corpus (synth.py) and its manifest")
    p.add_argument("--out", required=True, help="output folder (WAVs under wav/, then manifest.csv)")
    p.add_argument("--speakers", type=int, default=SYNTH_SPEAKERS, help=f"number of speakers (default {SYNTH_SPEAKERS})")
    p.add_argument("--utterances", type=int, default=SYNTH_UTTERANCES,
                   help=f"utterances per speaker, 4 s each (default {SYNTH_UTTERANCES})")
    p.add_argument("--seed", type=int, default=0, help="random seed for voices and splits (default 0)")
    p.add_argument("--workers", type=int, default=1, help="parallel processes (default 1)")
    for name, what in [("aihub", "AI Hub speech data (JSON labels + audio)"),
                       ("commonvoice", "a Common Voice release folder (TSV + clips/)"),
                       ("timit", "TIMIT (LDC or NLTK layout, with spkrinfo.txt)")]:
        p = commands.add_parser(name, help=f"build a manifest from {what}")
        p.add_argument("--root", required=True, help="the corpus folder")
        p.add_argument("--out", required=True, help="manifest CSV to write")
        p.add_argument("--seed", type=int, default=0, help="seed of the speaker-disjoint split (default 0)")
    p = commands.add_parser("describe", help="print label tables per split for a manifest")
    p.add_argument("manifest", help="manifest CSV")
    args = parser.parse_args(argv)
    try:
        if args.command == "synth":
            start = time.perf_counter()
            path = make_synth_corpus(args.out, args.speakers, args.utterances, args.seed, args.workers)
            print(f"{path}: {split_summary(read_manifest(path))} [{time.perf_counter() - start:.1f} s]")
        elif args.command == "describe":
            print(corpora.describe(read_manifest(args.manifest)))
        else:
            _import_corpus(args)
    except (ValueError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
