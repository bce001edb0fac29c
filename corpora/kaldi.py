"""The Kaldi adapter -- one or more Kaldi data directories -> manifest rows.

A Kaldi data directory (kaldi-asr.org/doc/data_prep.html) is a folder of small text tables, one "KEY VALUE"
line each (the value is the rest of the line):
    wav.scp      utterance  audio path              required; a command pipe ("... |") is refused
                 (recording                          with a segments file: keyed by recording)
    segments     utterance  recording start end     optional: utterances cut from longer recordings, in
                                                    seconds; end -1 = to the recording's end (Kaldi's rule)
    utt2spk      utterance  speaker                 required
    spk2gender   speaker    m | f                   optional (missing: gender unknown)
    spk2age      speaker    years                   optional (not in Kaldi's standard; speechocean762 has it)
    spk2accent   speaker    accent                  optional -> dialect, as written
    utt2lang     utterance  language                optional -> dialect when there is no spk2accent
    text         utterance  transcript              optional -> text
Speaker ids are matched exactly as written (speechocean762's "0001" is not "1"). A directory named train,
test, dev (-> val), valid or val -- or whose name starts with one, like dev_clean -- keeps that split; with
no validation directory, validation speakers are drawn from train as for TIMIT (seeded, stratified by sex).
A speaker found in two directories is refused. Relative audio paths are resolved as recipes mean them: against
the corpus root (the data directory's parent, where speechocean762's WAVE/ is), then the grandparent (a
recipe's s5/ holding data/train/), then the data directory itself; --audio-root replaces all three.
Segments become rows with start_s, end_s (read in place, nothing is extracted); those shorter than
--min-segment-s or past their recording's end are left out, counted (rows.check_segments).

    python -m corpora kaldi --root speechocean762/train speechocean762/test --out so762.csv
    python -m pytest tests/test_kaldi.py
"""
import re
from pathlib import Path

from corpora.labels import DECADES, age_group, age_years, clean_value, normalise_gender, shown
from corpora.rows import MIN_SEGMENT_S, check_segments, draw_validation, make_row, seconds_cell
from corpora.text import read_text

SPLIT_NAMES = {"train": "train", "test": "test", "dev": "val", "valid": "val", "val": "val"}


def read_table(path):
    """{key: (value, line number)} of one Kaldi table; {} when the file does not exist.

    Lines are "KEY VALUE" (any whitespace between; CRLF endings and blank lines are fine). A line without a
    value or a key given twice raises ValueError naming the file and the line.
    """
    path = Path(path)
    if not path.is_file():
        return {}
    table = {}
    for number, line in enumerate(read_text(path).splitlines(), start=1):
        if not line.strip():
            continue
        parts = line.strip().split(maxsplit=1)
        if len(parts) < 2:
            raise ValueError(f"{path} line {number}: expected 'KEY VALUE', got {shown(line)}")
        key, value = parts
        if key in table:
            raise ValueError(f"{path} line {number}: key {shown(key)} appears twice (first on line {table[key][1]})")
        table[key] = (value.strip(), number)
    return table


def split_of(folder):
    """The split a data directory's name implies: train, test, dev/valid/val -> val; "" for any other name."""
    first = re.split(r"[_\-.]", Path(folder).resolve().name.lower())[0]
    return SPLIT_NAMES.get(first, "")


def _audio_path(text, where, folder, audio_root):
    """The file a wav.scp value names. Refuses command pipes; resolves a relative path (module docstring)."""
    if text.endswith("|"):
        raise ValueError(f"{where}: a command pipe ({shown(text)}); only audio files are read: write the audio "
                         "out first (e.g. wav-copy scp:wav.scp ark,scp:...)")
    path = Path(text)
    if path.is_absolute():
        bases = [Path("/")]
    elif audio_root is not None:
        bases = [Path(audio_root)]
    else:
        folder = folder.resolve()
        bases = [folder.parent, folder.parent.parent, folder]
    for base in bases:
        try:
            if (base / path).is_file():
                return base / path
        except (OSError, ValueError):  # a name too long, a NUL byte
            break
    tried = ", ".join(str(b) for b in bases)
    raise FileNotFoundError(f"{where}: audio {shown(text)} not found (tried relative to {tried}); "
                            "pass --audio-root DIR")


def _speaker_labels(folder, bins):
    """{speaker: (gender, age group, age_years)} from spk2gender and spk2age; errors name file and line."""
    labels = {}
    for name, normalise in (("spk2gender", normalise_gender), ("spk2age", lambda v: age_group(v, bins))):
        for speaker, (value, number) in read_table(folder / name).items():
            try:
                labels.setdefault(speaker, {})[name] = normalise(value)
            except ValueError as e:
                raise ValueError(f"{folder / name} line {number}: {e}") from None
            if name == "spk2age":
                labels[speaker]["age_years"] = age_years(value)
    return {s: (d.get("spk2gender", ""), d.get("spk2age", ""), d.get("age_years", "")) for s, d in labels.items()}


def read_segments(path):
    """{utterance: (recording, start in seconds, end in seconds or None, line number)} of a Kaldi segments file
    ("utt recording start end"; end -1 = to the recording's end); {} when there is none. A line of another
    shape, or times that are not 0 <= start < end, raise ValueError naming the file and the line."""
    segments = {}
    for utt, (value, number) in read_table(path).items():
        parts = value.split()
        try:
            recording, start, end = parts[0], float(parts[1]), float(parts[2])
            ok = len(parts) == 3 and 0 <= start and (end == -1 or start < end < float("inf"))
        except (IndexError, ValueError):
            ok = False
        if not ok:
            raise ValueError(f"{path} line {number}: expected 'UTTERANCE RECORDING START END' in seconds with "
                             f"0 <= START < END (END -1 = to the end), got {shown(utt + ' ' + value)}")
        segments[utt] = (recording, start, None if end == -1 else end, number)
    return segments


def _read_dir(folder, bins, audio_root):
    """The rows of one data directory (split from its name, see split_of)."""
    folder = Path(folder)
    for required in ("wav.scp", "utt2spk"):
        if not (folder / required).is_file():
            raise FileNotFoundError(f"{folder / required}: not found (is {folder} a Kaldi data directory?)")
    wavs, utt2spk = read_table(folder / "wav.scp"), read_table(folder / "utt2spk")
    accents, langs, texts = (read_table(folder / name) for name in ("spk2accent", "utt2lang", "text"))
    speaker_labels, split = _speaker_labels(folder, bins), split_of(folder)
    segments = read_segments(folder / "segments")  # utterance -> (recording, start, end, line); {} = none
    if segments:
        clips = [(utt, rec, start, end, f"{folder / 'segments'} line {number}")
                 for utt, (rec, start, end, number) in segments.items()]
    else:
        clips = [(utt, utt, None, None, f"{folder / 'wav.scp'} line {number}") for utt, (_, number) in wavs.items()]
    rows, paths = [], {}  # paths: recording -> its audio file, resolved once
    for utt, recording, start, end, where in clips:  # in file order, so an error names the first bad line
        if recording not in wavs:
            raise ValueError(f"{where}: recording {shown(recording)} has no line in {folder / 'wav.scp'}")
        if utt not in utt2spk:
            raise ValueError(f"{where}: utterance {shown(utt)} has no line in {folder / 'utt2spk'}")
        if recording not in paths:
            wav_text, number = wavs[recording]
            paths[recording] = _audio_path(wav_text, f"{folder / 'wav.scp'} line {number}", folder, audio_root)
        speaker = utt2spk[utt][0]
        gender, age, years = speaker_labels.get(speaker, ("", "", ""))
        accent = accents[speaker][0] if speaker in accents else langs.get(utt, ("", 0))[0]
        duration = "" if end is None else seconds_cell(end - start)
        rows.append(make_row(paths[recording], speaker, gender, age, clean_value(accent) or "", split, "kaldi",
                             clean_value(texts.get(utt, ("", 0))[0]) or "", duration, start, end, age_years=years))
    return rows


def kaldi_rows(dirs, bins=DECADES, audio_root=None, seed=0, val_fraction=None, min_segment_s=MIN_SEGMENT_S):
    """Rows of one or more Kaldi data directories (module docstring). Directories named train/test/dev...
    keep that split; others are left "" for data.py to assign. Validation speakers are drawn from train
    (corpora.draw_validation, seeded) unless a directory is already the validation split. A speaker in two
    directories raises ValueError naming both. Segments shorter than min_segment_s seconds or past their
    recording's end are left out, counted (rows.check_segments)."""
    rows, home, seen = [], {}, []  # home: speaker -> the directory it was first found in
    for folder in dirs:
        if not Path(folder).is_dir():
            raise FileNotFoundError(f"{folder}: Kaldi data directory not found")
        if Path(folder).resolve() in seen:
            raise ValueError(f"{folder}: the same Kaldi data directory is given twice")
        seen.append(Path(folder).resolve())
        for row in _read_dir(folder, bins, audio_root):
            first = home.setdefault(row["speaker"], folder)
            if first != folder:
                raise ValueError(f"speaker {shown(row['speaker'])} is in both {Path(first) / 'utt2spk'} and "
                                 f"{Path(folder) / 'utt2spk'}; the directories must not share speakers")
            rows.append(row)
    rows = check_segments(rows, f"kaldi {' '.join(map(str, dirs))}", min_segment_s)
    return rows if any(row["split"] == "val" for row in rows) else draw_validation(rows, seed, val_fraction)
