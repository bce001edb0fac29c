"""Data: from audio files and a manifest to every clip's features -- NumPy only, no torch. Three steps, in the
order train.py takes them (then sampling.py cuts windows and draws balanced batches):
  1. audio      load_audio: one file -> float32 mono at 16 kHz, or one line saying what is wrong with it
  2. manifest   read_manifest: one CSV row per clip, speaker-disjoint splits, labels as numbers (NaN = unknown)
  3. features   load_features: every clip's model input (features.py), computed once and held in memory
What a student can skip is one named call each: zip archives and text encodings (corpora/), one set of labels per
speaker and the dealing of speakers to splits (corpora/speakers.py), worker processes, long recordings (scale/).
Corpus adapters: `python -m corpora`.

    python -m pytest tests/test_data.py tests/test_manifest.py tests/test_audio.py
"""
import csv
import io
import math
import os
import re
import warnings
from collections import defaultdict
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy.signal import resample_poly

import features

MIN_CLIP_S = 0.1  # seconds; shorter clips carry no usable voice (10 frames at a 10 ms hop)
SILENT_PEAK = 1e-4  # full scale = 1.0; a peak below this (-80 dBFS) is "nearly silent" and gets a warning
SR_RANGE = (4000, 384000)  # Hz: a header outside this range is damaged, not a recording; refused before decoding
MAX_DECODE_RATE = 768_000  # samples per second of audio (channels x rate, from the header) a file may cost to decode:
#   16 channels at 48 kHz, or stereo at 384 kHz; a 200-channel Ogg would take gigabytes, so it is refused unread
DECODE_BLOCK = 1 << 20  # samples (channels x frames) decoded at a time, each block mixed to mono at once: 4 MB
LONG_S = 32.0  # seconds: a longer span is featurised a block at a time (scale/blocks.py: 30 s and two 1 s margins)
TASKS = ("age", "gender", "dialect")  # the usual tasks, in the order tables print them
NUMERIC_TASKS = {"age_years": (0, 130)}  # columns predicted as numbers (regression, by MAE) and their ranges
COLUMNS = ("path", "speaker", "gender", "age", "dialect", "split")  # a written manifest's first columns
REQUIRED = ("path", "speaker")  # what a manifest must have; a missing label or split column reads as all empty
SPLITS = ("train", "val", "test")
PER_CLIP_COLUMNS = ("path", "speaker", "split", "source", "text", "duration_s", "age_years", "start_s", "end_s",
                    "corpus", "language", "language_family", "emotion", "intensity", "statement", "repetition",
                    "room", "device", "distance", "noise")  # they describe a clip, not its speaker: never voted on
MIN_VAL_SPEAKERS = 25  # validation speakers wanted: with 12, one speaker moves validation accuracy by 0.08


# ---------------------------------------------------------------- 1. audio
class AudioError(ValueError):
    """A clip that cannot be used; the message is one line, "PATH: problem"."""


class CostlyAudio(AudioError):
    """A file whose header promises more than MAX_DECODE_RATE samples a second: refused before decoding."""


def _open(path):
    """What soundfile opens: the path as bytes (so any file name works, whatever the locale's encoding), or the
    bytes of a zip member "ARCHIVE.zip::MEMBER". AudioError when missing."""
    if ".zip::" in str(path).lower():
        from corpora.archive import open_member  # seam: AI Hub ships its audio zipped; members are read in place
        try:
            return open_member(path)  # io.BytesIO
        except (OSError, ValueError) as err:
            raise AudioError(str(err).splitlines()[0]) from None
    if not os.path.isfile(path):  # False also for a NUL byte, a name too long, a symlink loop
        raise AudioError(f"{path}: file not found")
    return os.fsencode(path)  # libsndfile takes the name's bytes as they are


def _reason(err):  # libsndfile's own words for a failed read, one line
    return getattr(err, "error_string", None) or (str(err).splitlines() or [type(err).__name__])[0]


def audio_info(path):
    """(sample rate in Hz, frames, channels) from the file's header; AudioError for a missing or unreadable file,
    a rate outside SR_RANGE (a damaged header) or more than MAX_DECODE_RATE samples a second, before decoding."""
    try:
        info = sf.info(_open(path))
    except (sf.SoundFileError, RuntimeError, TypeError, OSError) as err:
        raise AudioError(f"{path}: unreadable audio ({_reason(err)})") from None
    if not SR_RANGE[0] <= info.samplerate <= SR_RANGE[1]:
        raise AudioError(f"{path}: sample rate {info.samplerate} Hz in the header is outside "
                         f"{SR_RANGE[0]}-{SR_RANGE[1]} Hz (a damaged file?)")
    if info.channels * info.samplerate > MAX_DECODE_RATE:
        raise CostlyAudio(f"{path}: {info.channels} channels at {info.samplerate} Hz are "
                         f"{info.channels * info.samplerate:,} samples to decode per second; the limit is "
                         f"{MAX_DECODE_RATE:,} (16 channels at 48 kHz, or 2 at 384 kHz)")
    return info.samplerate, info.frames, info.channels


def load_audio(path, sr=features.SR, start_s=None, end_s=None):
    """An audio file (or its span start_s..end_s, in seconds) as float32 mono at `sr` Hz -> (N,).

    soundfile decodes (WAV, FLAC, OGG, MP3, SPHERE; a span by seeking) DECODE_BLOCK samples at a time, each block
    averaged over its channels at once; resample_poly(up, down), up/down = sr/file_sr in lowest terms, converts
    the rate (a polyphase low-pass: no aliasing).
    AudioError naming the file: missing, unreadable, rate outside SR_RANGE, empty, NaN/inf, all zeros, under
    MIN_CLIP_S, a span outside it (10 ms of slack past its end); a nearly silent clip (peak < -80 dBFS) only warns."""
    file_sr, frames, channels = audio_info(path)
    first = 0 if start_s is None else int(round(start_s * file_sr))
    last = frames if end_s is None else int(round(end_s * file_sr))
    if (start_s, end_s) != (None, None) and not (0 <= first < frames and last <= frames + file_sr // 100):
        raise AudioError(f"{path}: span {start_s}-{end_s} s lies outside the file (0-{frames / file_sr:.2f} s)")
    if (start_s, end_s) != (None, None) and last - first < MIN_CLIP_S * file_sr:
        raise AudioError(f"{path}: span {start_s}-{end_s} s is too short ({(last - first) / file_sr:.3f} s < "
                         f"{MIN_CLIP_S} s)")
    want, parts = min(last, frames) - first, []  # frames: the header's count, which an MP3's may overstate
    try:
        with sf.SoundFile(_open(path)) as f:
            f.seek(first)
            while (n := sum(map(len, parts))) < want and (parts == [] or len(parts[-1])):  # what it really gives
                block = f.read(min(max(DECODE_BLOCK // channels, 1), want - n), dtype="float32", always_2d=True)
                parts.append(block.mean(axis=1))  # (b, channels) -> (b,) mono; b = 0 at the end of the data
    except (sf.SoundFileError, RuntimeError, TypeError, OSError, ValueError) as err:
        raise AudioError(f"{path}: unreadable audio ({_reason(err)})") from None
    y = np.concatenate(parts or [np.zeros(0, np.float32)])  # (N,) mono at the file's rate
    n = len(y)
    if n == 0:
        raise AudioError(f"{path}: empty audio (0 samples)")
    if bad := int(np.count_nonzero(~np.isfinite(y))):
        raise AudioError(f"{path}: {bad} NaN/inf samples")
    if n / file_sr < MIN_CLIP_S:
        raise AudioError(f"{path}: too short ({n / file_sr:.3f} s < {MIN_CLIP_S} s)")
    peak = float(np.max(np.abs(y)))
    if peak == 0.0:
        raise AudioError(f"{path}: all-silent (every sample is 0)")
    if peak < SILENT_PEAK:
        warnings.warn(f"{path}: nearly silent (peak {20 * np.log10(peak):.0f} dBFS)", stacklevel=2)
    if file_sr != sr:
        g = math.gcd(int(sr), int(file_sr))
        y = resample_poly(y, sr // g, file_sr // g)  # (N * sr / file_sr,)
    return y.astype(np.float32)


# ---------------------------------------------------------------- 2. the manifest
def read_manifest(path, seed=0):
    """A manifest CSV -> a list of row dicts (values str; `path` made absolute against the manifest's folder).

    It needs `path` and `speaker`; an absent label or split column reads as all empty; an empty cell is unknown;
    `start_s`, `end_s` (seconds) make a row a segment of its file. A speaker whose clips disagree is settled by
    majority vote (corpora/speakers.py); empty split cells are filled by assign_splits(rows, seed). ValueError
    naming the file and line: a missing or doubled column, no rows, an empty cell, a bad split or segment."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: manifest not found")
    try:
        text = path.read_bytes().decode("utf-8-sig")  # UTF-8, with or without the byte-order mark Excel writes
    except UnicodeDecodeError:
        text = "\x00"
    if "\x00" in text:  # not UTF-8: UTF-16 (NUL bytes beside ASCII), CP949 from Korean Excel, a binary file
        from corpora.text import read_text  # seam: other encodings, or one line naming the byte and the fix
        text = read_text(path)
    reader = csv.DictReader(io.StringIO(text, newline=""))
    try:
        rows = _read_rows(reader, path)
    except csv.Error as err:  # a NUL byte, a cell longer than csv.field_size_limit()
        raise ValueError(f"{path}: line {reader.line_num + 1}: unreadable CSV ({err})") from None
    if not rows:
        raise ValueError(f"{path}: manifest has no rows")
    check_speaker_disjoint(rows, path)
    labelled = {(r["speaker"], tuple(v for k, v in r.items() if k not in PER_CLIP_COLUMNS)) for r in rows}
    if len(labelled) > len({r["speaker"] for r in rows}):  # some speaker's clips disagree (or leave cells empty)
        from corpora.speakers import resolve_speaker_conflicts  # seam: one set of labels per speaker, by vote
        rows = resolve_speaker_conflicts(rows, path, PER_CLIP_COLUMNS, TASKS)
    return assign_splits(rows, seed=seed) if any(not r["split"] for r in rows) else rows


def _read_rows(reader, path):
    """The checked rows of a csv.DictReader over a manifest (see read_manifest)."""
    names = reader.fieldnames or []
    if doubled := sorted({n for n in names if names.count(n) > 1}):
        raise ValueError(f"{path}: column(s) {', '.join(map(repr, doubled))} appear more than once in the header")
    if missing := [c for c in REQUIRED if c not in names]:
        raise ValueError(f"{path}: missing column(s) {', '.join(missing)}; expected at least {', '.join(REQUIRED)} "
                         f"(usually {', '.join(COLUMNS)})")
    absent = {c: "" for c in COLUMNS if c not in names}  # e.g. no dialect column: all unknown
    rows = []
    for row in reader:
        row = {**absent, **{k: (v or "").strip() for k, v in row.items() if k is not None}}
        where = f"{path}: line {reader.line_num}"
        if row["split"] not in SPLITS + ("",):
            raise ValueError(f"{where}: split {row['split'][:40]!r} is not one of train, val, test or empty")
        if not row["path"] or not row["speaker"]:
            raise ValueError(f"{where}: empty {'path' if not row['path'] else 'speaker'} cell")
        if "\x00" in row["path"] or len(row["path"]) > 4096:  # 4096: the longest path Linux accepts (PATH_MAX)
            problem = "a NUL character" if "\x00" in row["path"] else f"{len(row['path'])} characters (> 4096)"
            raise ValueError(f"{where}: the path cell holds {problem}; it cannot name a file")
        start, end = _number(row.get("start_s") or "0"), _number(row.get("end_s") or "1e9")  # no segment: 0, 1e9
        if not 0 <= start < end <= 1e9:  # 1e9 s: 30 years; also refuses inf and nan
            raise ValueError(f"{where}: segment start_s {row.get('start_s')!r}, end_s {row.get('end_s')!r}: "
                             "expected 0 <= start_s < end_s (seconds)")
        cut = row["path"].lower().find(".zip::") + 4  # a zip member "ARCHIVE.zip::MEMBER": only ARCHIVE is a path
        archive, member = (row["path"][:cut], row["path"][cut:]) if cut > 3 else (row["path"], "")
        row["path"] = os.path.abspath(path.parent / archive) + member.replace("\\", "/")  # abspath: not resolved
        rows.append(row)
    return rows


def _number(text):
    try:
        return float(text)
    except ValueError:
        return math.nan


def segment(row):
    """(start_s, end_s) of a row that is an utterance segment of its file, or (None, None) for a whole file."""
    return tuple(float(row[k]) if row.get(k) else None for k in ("start_s", "end_s"))


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


def validation_fraction(n_speakers):
    """Share of speakers to hold out for validation: 10 %, raised towards MIN_VAL_SPEAKERS speakers on small
    corpora, but never above 20 % (model selection needs voices; training needs them more)."""
    return max(0.1, min(MIN_VAL_SPEAKERS / max(n_speakers, 1), 0.2))


def assign_splits(rows, fractions=None, seed=0):
    """Fill empty `split` cells by speaker -> new row dicts (pre-set splits, e.g. TIMIT's, are kept), stratified on
    each task's labels: every split gets about its fraction of each label (iterative stratification, dealt in
    corpora/speakers.py). `fractions` = (train, val, test), default (0.9 - val, val, 0.1), val = validation_fraction."""
    if fractions is None:
        val = validation_fraction(len({row["speaker"] for row in rows if not row.get("split")}))
        fractions = (0.9 - val, val, 0.1)
    if len(fractions) != 3 or min(fractions) < 0 or not math.isclose(sum(fractions), 1.0, abs_tol=1e-6):
        raise ValueError(f"split fractions {fractions} must be three non-negative numbers summing to 1")
    check_speaker_disjoint(rows, "assign_splits")
    split_of = {row["speaker"]: row["split"] for row in rows if row.get("split")}  # pre-set splits stay
    from corpora.speakers import stratified_splits  # seam: the other speakers dealt in a seeded, stratified order
    split_of.update(stratified_splits(rows, fractions, seed, TASKS, SPLITS))
    return [dict(row, split=split_of[row["speaker"]]) for row in rows]


def label_order(label):
    """Sort key for class names: numbers inside a label by value ("5s" < "20s" < "100s"), unknown ("") last."""
    return (label == "", [(0, int(part), "") if "0" <= part[0] <= "9" else (1, 0, part)  # ASCII digits only:
                          for part in re.split(r"([0-9]+)", label) if part])  # "²" is a name, not a number


def build_vocabs(rows, tasks=TASKS):
    """{task: sorted class names seen in rows} (an empty cell is unknown, not a class); None for a numeric task."""
    return {t: None if t in NUMERIC_TASKS else sorted({row[t] for row in rows if row.get(t)}, key=label_order)
            for t in tasks}


def encode_labels(rows, vocabs, tasks=None):
    """Labels of many rows -> float32 (n_rows, n_tasks): a class index, or the number itself for a numeric task
    (vocab None); NaN where the label is unknown (empty cell). A class missing from its vocabulary or a numeric
    cell that is not a finite number raises ValueError naming the file, the task and the value."""
    tasks = list(vocabs) if tasks is None else list(tasks)
    index = {t: None if vocabs[t] is None else {name: k for k, name in enumerate(vocabs[t])} for t in tasks}
    codes = np.full((len(rows), len(tasks)), np.nan, dtype=np.float32)
    for r, row in enumerate(rows):
        for i, task in enumerate(tasks):
            value = row.get(task, "")
            if not value:
                continue
            if index[task] is None:
                low, high = NUMERIC_TASKS.get(task, (-1e6, 1e6))  # outside: a typo, which would wreck the head
                if not low <= _number(value) <= high:  # also refuses nan and inf
                    raise ValueError(f"{row['path']}: {task} value {value[:40]!r} is not a number in {low}-{high}")
                codes[r, i] = _number(value)
            elif value in index[task]:
                codes[r, i] = index[task][value]
            else:
                raise ValueError(f"{row['path']}: {task} label {value[:40]!r} is not in the vocabulary "
                                 f"{vocabs[task]} (the run's label vocabulary)")
    return codes


# ---------------------------------------------------------------- 3. features, held in memory
def clip_features(row, kind, denoise=False, featurise=None):
    """One manifest row's model input: load_audio (its segment, if any) -> [denoise] -> features.extract, or
    featurise(y) -> (*shape, T) in place of those last two. Returns float32 (*features.input_shape(kind), T).
    A span longer than LONG_S goes a block at a time (scale/blocks.py): memory holds one block of audio."""
    def extract(y):  # (N,) float32 at 16 kHz -> (*input_shape, T)
        if denoise:
            from extras.denoise import denoise as remove_noise  # seam: the course's Wiener filter (--denoise)
            y = remove_noise(y, features.SR)
        return features.extract(y, features.SR, kind)
    (start, end), (rate, frames, _) = segment(row), audio_info(row["path"])
    stop = frames / rate if end is None else end  # seconds
    if stop - (start or 0.0) <= LONG_S:  # the usual clip: read whole
        return (featurise or extract)(load_audio(row["path"], features.SR, start, end))
    from scale.blocks import features_in_blocks  # seam: a long span featurised 30 s at a time
    return features_in_blocks(lambda lo, hi: load_audio(row["path"], features.SR, lo, hi), start or 0.0, stop, kind,
                              featurise or extract)


class Features:
    """The model inputs of a list of clips, in memory: read(i, start, stop) -> float32 (*shape, stop - start).
    scale/store.py's Store serves the same four methods from disk."""

    def __init__(self, kind, arrays):
        self.kind, self.arrays = kind, list(arrays)
        self.shape = features.input_shape(kind)  # non-time dims, e.g. (3, 14)
        assert all(x.shape[:-1] == self.shape for x in self.arrays), f"arrays must be {self.shape} + (frames,)"

    def __len__(self):
        return len(self.arrays)

    def lengths(self):
        """(n,) frames (samples for raw) of every clip."""
        return np.array([x.shape[-1] for x in self.arrays], dtype=np.int64)

    def read(self, i, start=0, stop=None):
        return np.asarray(self.arrays[i][..., start:stop], dtype=np.float32)  # (*shape, n)

    def statistics(self):
        """Mean and standard deviation of every feature row over all real frames, each (*shape,): what
        models.InputNorm standardises with (fixed CMVN, from the training clips)."""
        rows = [x.reshape(-1, x.shape[-1]).astype(np.float64) for x in self.arrays]  # (R, T) each
        count = max(sum(r.shape[1] for r in rows), 1)
        mean = sum(r.sum(axis=1) for r in rows) / count  # (R,)
        var = sum(np.square(r - mean[:, None]).sum(axis=1) for r in rows) / count
        return mean.reshape(self.shape), np.sqrt(var).reshape(self.shape)


def features_job(job):
    """(row, kind, denoise) -> (features, None), or (None, the one-line problem) for a clip that cannot be used."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a nearly silent clip still trains
            return clip_features(*job), None
    except (AudioError, ValueError, MemoryError) as err:
        return None, str(err).splitlines()[0] if str(err) else type(err).__name__


def load_features(rows, kind, denoise=False, workers=1, skip_bad=False):
    """Every row's features, in memory -> (Features, kept rows, skipped [(path, reason)]).

    workers > 1 extracts in that many processes. An unreadable clip raises AudioError naming it, unless
    skip_bad: then it is left out, listed, and counted on stderr ("skipped 3 of 1200 clips: ...")."""
    from scale.workers import map_jobs, report_skipped  # seam: the jobs in `workers` processes if > 1; the count
    results = map_jobs(features_job, [(row, kind, denoise) for row in rows], workers)
    skipped = [(row["path"], problem) for row, (_, problem) in zip(rows, results) if problem is not None]
    if skipped and not skip_bad:
        raise AudioError(skipped[0][1])  # the first unusable clip
    arrays, kept = [x for x, p in results if p is None], [row for row, (_, p) in zip(rows, results) if p is None]
    report_skipped(skipped, len(rows))
    return Features(kind, arrays), kept, skipped
