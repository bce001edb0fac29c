"""The AI Hub adapter -- label JSON + audio, loose or inside zip archives -> manifest rows.

AI Hub (aihub.or.kr) ships a speech corpus as two parallel trees, 라벨 (labels, one JSON per utterance) and
원천 (source audio), usually as `[라벨]….zip` and `[원천]….zip` archives. Both are found under the root, as
loose files or as members of archives read in place (archive.py: "ARCHIVE.zip::MEMBER"), and each JSON is
paired with the .wav/.flac of the same file stem. Two label layouts are known:
  (a) 자유대화 음성: 발화정보 (fileNm, stt, recrdTime), 대화정보 (cityCode, ...), 녹음자정보 (recorderId, gender, age)
  (b) 명령어 음성 and others: 화자정보 (SpeakerName, Gender, Age, Dialect, Region), 파일정보, 전사정보
Region: a field of the speaker's own block (SPEAKER_REGION_KEYS) wins over 대화정보.cityCode, which belongs
to the conversation and may name where the session was recorded rather than where the speaker grew up.
Other scalar fields of the speaker block become extra columns (labels.column_name: "Education" -> education).
Labels are normalised by labels.py; sentinels ("NotProvided", "없음", ...) are unknown, and a sentinel
Dialect falls back to Region.

    python data.py aihub --root 자유대화음성/ --out aihub.csv --region-codes legal
    python -m pytest tests/test_aihub.py
"""
import warnings
from pathlib import Path, PureWindowsPath

from corpora.archive import join_member, member_names, split_member
from corpora.rows import labelled, make_row
from corpora.text import read_json
from corpora.labels import DECADES, clean_value, column_name, dialect_group, is_unknown

AUDIO_SUFFIXES = (".wav", ".flac")  # headerless .pcm (KsponSpeech) is not read: convert it to .wav first
SPEAKER_ID_KEYS = ("SpeakerId", "SpeakerID", "SpeakerName", "recorderId", "ID")
SPEAKER_REGION_KEYS = ("dialect", "region", "residence", "hometown", "birthplace", "방언", "출신지", "출신지역",
                       "거주지", "거주지역", "지역")  # preferred first; matched case-insensitively
ROW_COLUMNS = ("path", "speaker", "gender", "age", "dialect", "split", "source", "text", "duration_s", "age_years")


# ---------------------------------------------------------------- 1. finding files, loose and zipped
def _stem(path):
    """File stem of a path or a member name, whatever its separators ("a\\b/c.wav" -> "c")."""
    member = split_member(path)
    return PureWindowsPath(member[1] if member else str(path)).stem


def _by_stem(paths, kind):
    """{stem: path}, given loose files first and archive members after. A loose file wins over a member of
    the same stem (it was unzipped from it; counted in the second return value); two loose files, or two
    members, with one stem are ambiguous: ValueError naming both."""
    index, shadowed = {}, 0
    for path in paths:
        stem = _stem(path)
        if stem in index:
            if bool(split_member(index[stem])) == bool(split_member(path)):
                raise ValueError(f"two {kind} files share the stem {stem!r}: {index[stem]} and {path}")
            shadowed += 1
            continue
        index[stem] = path
    return index, shadowed


def find_files(root):
    """({stem: label JSON}, {stem: audio}) under root: loose files and members of every .zip (walked once)."""
    loose, zipped = {"label": [], "audio": []}, {"label": [], "audio": []}
    kind_of = {".json": "label", **{suffix: "audio" for suffix in AUDIO_SUFFIXES}}
    for path in sorted(Path(root).rglob("*")):
        if path.suffix.lower() == ".zip" and path.is_file():
            for name in member_names(path):
                kind = kind_of.get(PureWindowsPath(name).suffix.lower())
                if kind:
                    zipped[kind].append(join_member(path, name))
        elif path.suffix.lower() in kind_of and path.is_file():
            loose[kind_of[path.suffix.lower()]].append(str(path))
    labels, shadowed_labels = _by_stem(loose["label"] + zipped["label"], "label")
    audio, shadowed_audio = _by_stem(loose["audio"] + zipped["audio"], "audio")
    if shadowed_labels + shadowed_audio:
        warnings.warn(f"aihub: {shadowed_labels} label and {shadowed_audio} audio files are both unzipped and "
                      f"inside an archive under {root}; the unzipped copies are used")
    return labels, audio


# ---------------------------------------------------------------- 2. one label file
def _block(doc, key, path):
    """doc[key] as a dict ({} when absent or null); anything else is a ValueError naming the file."""
    value = doc.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ValueError(f"{path}: {key} is a {type(value).__name__}, expected an object")
    return value


def _first_known(block, keys):
    """(key, value) of the first of `keys` (case-insensitive) whose value is known, else (None, None)."""
    lower = {str(k).lower(): k for k in block}
    for key in keys:
        if key.lower() in lower and not is_unknown(clean_value(block[lower[key.lower()]])):
            return lower[key.lower()], block[lower[key.lower()]]
    return None, None


def _extras(block, used):
    """The speaker block's other scalar fields as {column: clean value}; names clashing with a manifest
    column get a "speaker_" prefix."""
    extras = {}
    for key, value in block.items():
        name, text = column_name(key), clean_value(value)
        if key in used or not name or text is None:
            continue
        extras["speaker_" + name if name in ROW_COLUMNS else name] = text
    return extras


def _seconds(value):
    """A duration field as text when it is a finite non-negative number of seconds, else ""."""
    text = clean_value(value) or ""
    try:
        return text if 0 <= float(text) < float("inf") else ""
    except ValueError:
        return ""


def label_fields(path, doc):
    """dict(file_name, speaker, gender, age, region, text, duration_s, extras) from either known layout."""
    if not isinstance(doc, dict):
        raise ValueError(f"{path}: unknown AI Hub layout; the file holds a {type(doc).__name__}, expected an object")
    if "발화정보" in doc and "녹음자정보" in doc:  # (a) 자유대화 음성
        utt, conv, who = (_block(doc, key, path) for key in ("발화정보", "대화정보", "녹음자정보"))
        region_key, region = _first_known(who, SPEAKER_REGION_KEYS)
        if region_key is None:
            region = conv.get("cityCode")  # the conversation's city: a fallback, see the module docstring
        return dict(file_name=utt.get("fileNm", ""), speaker=who.get("recorderId", ""), gender=who.get("gender"),
                    age=who.get("age"), region=region, text=utt.get("stt", ""), duration_s=utt.get("recrdTime"),
                    extras=_extras(who, {"recorderId", "gender", "age", region_key}))
    if "화자정보" in doc:  # (b) 명령어 음성 etc.: 화자정보 + 파일정보 + 전사정보
        who, info, script = (_block(doc, key, path) for key in ("화자정보", "파일정보", "전사정보"))
        id_key, speaker = _first_known(who, SPEAKER_ID_KEYS)
        _, region = _first_known(who, ("Dialect", "Region"))  # a sentinel Dialect falls back to Region
        used = {id_key, "Gender", "Age", "Dialect", "Region", *SPEAKER_ID_KEYS}
        return dict(file_name=info.get("FileName", ""), speaker=speaker or "", gender=who.get("Gender"),
                    age=who.get("Age"), region=region, text=script.get("LabelText", ""),
                    duration_s=info.get("FileLength"), extras=_extras(who, used))
    keys = [str(k)[:40] for k in list(doc)[:10]]
    raise ValueError(f"{path}: unknown AI Hub layout; top-level keys {keys}; expected 발화정보 + 녹음자정보 "
                     "(자유대화 음성) or 화자정보 (Gender, Age, Dialect/Region)")


# ---------------------------------------------------------------- 3. the corpus
def aihub_rows(root, bins=DECADES, skip_missing=False, region_codes=None):
    """One row per AI Hub label JSON under root (loose or zipped), paired with the .wav/.flac of the same stem
    anywhere under root (the JSON's own stem first, then the stem of its fileNm/FileName: some fileNm carry
    typos like ".wavp"). region_codes: None, "legal" or "kostat" (how to read 2-digit region codes, see
    labels.dialect_group). Splits are left empty for data.py to assign by speaker.

    Missing audio: FileNotFoundError naming the JSON; with skip_missing=True a counted one-line warning.
    """
    root = Path(root)
    label_files, audio = find_files(root)
    rows, missing = [], []
    for path in label_files.values():
        f = label_fields(path, read_json(path))
        gender, age, years, dialect = labelled(path, f["gender"], f["age"], f["region"], bins,
                                               lambda region: dialect_group(region, region_codes))
        speaker = clean_value(f["speaker"])
        if not speaker:
            raise ValueError(f"{path}: no speaker id (looked for {', '.join(SPEAKER_ID_KEYS)})")
        stems = [_stem(path), PureWindowsPath(clean_value(f["file_name"]) or "").stem]
        wav = next((audio[s] for s in stems if s in audio), None)
        if wav is None:
            if not skip_missing:
                raise FileNotFoundError(f"{path}: no audio file with stem {stems[0]!r} "
                                        f"({'/'.join(AUDIO_SUFFIXES)}) under {root}")
            missing.append(path)
            continue
        rows.append(make_row(wav, speaker, gender, age, dialect, "", "aihub", clean_value(f["text"]) or "",
                             _seconds(f["duration_s"]), age_years=years, **f["extras"]))
    if missing:
        warnings.warn(f"aihub: skipped {len(missing)} label files without audio, e.g. {missing[0]}")
    return rows
