"""The AI Hub adapter -- label JSON + audio, loose or inside zip archives -> manifest rows.

AI Hub (aihub.or.kr) ships a speech corpus as two parallel trees, 라벨 (labels, one JSON per utterance) and
원천 (source audio), usually as `[라벨]….zip` and `[원천]….zip` archives. Both are found under the root, as
loose files or as members of archives read in place (archive.py: "ARCHIVE.zip::MEMBER"), and each JSON is
paired with the .wav/.flac of the same file stem. Four label layouts are read (aihub_layouts.py; docs/aihub.md):
  (a) 자유대화 음성: 발화정보 (fileNm, stt, recrdTime), 대화정보 (cityCode, ...), 녹음자정보 (recorderId, gender, age)
  (b) 명령어 음성 and others: 화자정보 (SpeakerName, Gender, Age, Dialect, Region), 파일정보, 전사정보
  (c) 중·노년층 한국어 방언: speaker[] (speakerId, birthYear, residenceProvince, academicBackground...), audio,
      transcription.sentences[] (speakerId, startTime, endTime): one clip per sentence
  (d) 한국어 방언 발화: speaker[] (id, age, sex, principal_residence...), utterance[] (speaker_id, start, end)
(a) and (b) give one clip per file; (c) and (d) give utterance segments of longer recordings (start_s, end_s),
each with its own speaker. Region: a field of the speaker's own block wins over 대화정보.cityCode, which belongs
to the conversation and may name where the session was recorded rather than where the speaker grew up.
Other scalar fields of the speaker block become extra columns (labels.column_name: "Education" -> education),
so any of them can be a task (--tasks education). Labels are normalised by labels.py; sentinels ("NotProvided",
"없음", ...) are unknown, and a sentinel Dialect falls back to Region. Segments shorter than --min-segment-s or
past the end of their file are left out, counted (rows.check_segments).

    python -m corpora aihub --root 자유대화음성/ --out aihub.csv --region-codes legal
    python -m pytest tests/test_aihub.py
"""
import warnings
from collections import Counter
from pathlib import Path, PureWindowsPath

from corpora.aihub_layouts import SPEAKER_ID_KEYS, utterances
from corpora.archive import join_member, member_names, split_member
from corpora.labels import DECADES, clean_value, dialect_group
from corpora.rows import MIN_SEGMENT_S, check_segments, labelled, make_row, seconds_cell
from corpora.text import read_json

AUDIO_SUFFIXES = (".wav", ".flac")  # headerless .pcm (KsponSpeech) is not read: convert it to .wav first


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
def _seconds(value):
    """A duration field as text when it is a finite non-negative number of seconds, else ""."""
    text = clean_value(value) or ""
    try:
        return text if 0 <= float(text) < float("inf") else ""
    except ValueError:
        return ""


# ---------------------------------------------------------------- 3. the corpus
def aihub_rows(root, bins=DECADES, skip_missing=False, region_codes=None, min_segment_s=MIN_SEGMENT_S):
    """Rows of every AI Hub label JSON under root (loose or zipped): one per file in layouts (a), (b), one per
    utterance segment in (c), (d). Each JSON is paired with the .wav/.flac of the same stem anywhere under
    root (the JSON's own stem first, then the stem of its fileNm/FileName: some fileNm carry typos like
    ".wavp"). region_codes: None, "legal" or "kostat" (how to read 2-digit region codes, see
    labels.dialect_group). Segments shorter than min_segment_s seconds or past their file's end are left out,
    counted (rows.check_segments). Splits are left empty for data.py to assign by speaker.

    Missing audio: FileNotFoundError naming the JSON; with skip_missing=True a counted one-line warning.
    """
    root = Path(root)
    label_files, audio = find_files(root)
    rows, missing, notes = [], [], Counter()
    for path in label_files.values():
        found, file_notes = utterances(path, read_json(path))
        notes.update(file_notes)
        stems = [_stem(path)] + [PureWindowsPath(u["file_name"]).stem for u in found[:1]]
        wav = next((audio[s] for s in stems if s in audio), None)
        if wav is None and found:
            if not skip_missing:
                raise FileNotFoundError(f"{path}: no audio file with stem {stems[0]!r} "
                                        f"({'/'.join(AUDIO_SUFFIXES)}) under {root}")
            missing.append(path)
            continue
        for u in found:
            gender, age, years, dialect = labelled(path, u["gender"], u["age"], u["region"], bins,
                                                   lambda region: dialect_group(region, region_codes))
            speaker = clean_value(u["speaker"])
            if not speaker:
                raise ValueError(f"{path}: no speaker id (looked for {', '.join(SPEAKER_ID_KEYS)}, speakerId, id)")
            whole = u["start_s"] is None and u["end_s"] is None
            duration = _seconds(u["duration_s"]) if whole or u["end_s"] is None else \
                seconds_cell(u["end_s"] - (u["start_s"] or 0.0))
            rows.append(make_row(wav, speaker, gender, age, dialect, "", "aihub", u["text"], duration,
                                 u["start_s"], u["end_s"], age_years=years, **u["extras"]))
    if missing:
        warnings.warn(f"aihub: skipped {len(missing)} label files without audio, e.g. {missing[0]}")
    for note, n in notes.items():
        warnings.warn(f"aihub: {n} {note}")
    unsure = Counter(r["education"] for r in rows if r.get("education", "").startswith("code "))
    if unsure:
        warnings.warn(f"aihub: academicBackground {', '.join(unsure)} not in labels.ELDER_EDUCATION, kept as "
                      f"classes of their own ({sum(unsure.values())} clips); education_code keeps every raw code")
    return check_segments(rows, f"aihub {root}", min_segment_s)
