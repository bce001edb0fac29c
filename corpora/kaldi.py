"""The Kaldi adapter -- one or more Kaldi data directories -> manifest rows.

A Kaldi data directory (kaldi-asr.org/doc/data_prep.html) is a folder of small text tables, one "KEY VALUE"
line each (the value is the rest of the line):
    wav.scp      utterance  audio path              required; a command pipe ("... |") is refused
    utt2spk      utterance  speaker                 required
    spk2gender   speaker    m | f                   optional (missing: gender unknown)
    spk2age      speaker    years                   optional (not in Kaldi's standard; speechocean762 has it)
    spk2accent   speaker    accent                  optional -> dialect, as written
    utt2lang     utterance  language                optional -> dialect when there is no spk2accent
    text         utterance  transcript              optional -> text
    segments     refused: utterances cut out of longer recordings are not read (extract them first)
Speaker ids are matched exactly as written (speechocean762's "0001" is not "1"). A directory named train,
test, dev (-> val), valid or val -- or whose name starts with one, like dev_clean -- keeps that split; with
no validation directory, validation speakers are drawn from train as for TIMIT (seeded, stratified by sex).
A speaker found in two directories is refused. Relative audio paths are resolved as recipes mean them: against
the corpus root (the data directory's parent, where speechocean762's WAVE/ is), then the grandparent (a
recipe's s5/ holding data/train/), then the data directory itself; --audio-root replaces all three.

    python data.py kaldi --root speechocean762/train speechocean762/test --out so762.csv
    python -m pytest tests/test_kaldi.py
"""
import re
from pathlib import Path

from corpora.labels import DECADES, age_group, age_years, clean_value, normalise_gender, shown
from corpora.rows import draw_validation, make_row
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


def _read_dir(folder, bins, audio_root):
    """The rows of one data directory (split from its name, see split_of)."""
    folder = Path(folder)
    segments = folder / "segments"
    lines = read_text(segments).splitlines() if segments.is_file() else []
    if any(text.strip() for text in lines):
        line = next(i for i, text in enumerate(lines, 1) if text.strip())
        raise ValueError(f"{segments} line {line}: segments (utterances cut from longer recordings) are not "
                         "supported; extract them to files first (e.g. extract-segments)")
    for required in ("wav.scp", "utt2spk"):
        if not (folder / required).is_file():
            raise FileNotFoundError(f"{folder / required}: not found (is {folder} a Kaldi data directory?)")
    wavs, utt2spk = read_table(folder / "wav.scp"), read_table(folder / "utt2spk")
    accents, langs, texts = (read_table(folder / name) for name in ("spk2accent", "utt2lang", "text"))
    speaker_labels, split = _speaker_labels(folder, bins), split_of(folder)
    rows = []
    for utt, (wav_text, number) in wavs.items():  # in file order, so an error names the first bad line
        where = f"{folder / 'wav.scp'} line {number}"
        if utt not in utt2spk:
            raise ValueError(f"{where}: utterance {shown(utt)} has no line in {folder / 'utt2spk'}")
        speaker = utt2spk[utt][0]
        path = _audio_path(wav_text, where, folder, audio_root)
        gender, age, years = speaker_labels.get(speaker, ("", "", ""))
        accent = accents[speaker][0] if speaker in accents else langs.get(utt, ("", 0))[0]
        rows.append(make_row(path, speaker, gender, age, clean_value(accent) or "", split, "kaldi",
                             clean_value(texts.get(utt, ("", 0))[0]) or "", age_years=years))
    return rows


def kaldi_rows(dirs, bins=DECADES, audio_root=None, seed=0, val_fraction=None):
    """Rows of one or more Kaldi data directories (module docstring). Directories named train/test/dev...
    keep that split; others are left "" for data.py to assign. Validation speakers are drawn from train
    (corpora.draw_validation, seeded) unless a directory is already the validation split. A speaker in two
    directories raises ValueError naming both."""
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
    return rows if any(row["split"] == "val" for row in rows) else draw_validation(rows, seed, val_fraction)
