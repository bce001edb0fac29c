"""Data floor: the four AI Hub label layouts -> utterances, one per clip (docs/aihub.md shows each).

A label file is recognised by its top-level keys; each parser returns the file's utterances as dicts
    speaker, gender, age, region  the raw label fields (labels.py normalises them; age may be years already)
    text, duration_s              the transcript and the file's length in seconds (whole files; "" if not given)
    start_s, end_s                the utterance's span inside its audio file in seconds, None = the whole file
    file_name, extras             the audio file's name as the label writes it; {column: value} of other fields
and a Counter of what was left out or guessed, for one warning line per kind over the corpus:
  (a) 자유대화 음성        발화정보 + 녹음자정보 (+ 대화정보)    one speaker, the whole file
  (b) 명령어 음성 etc.     화자정보 + 파일정보 + 전사정보         one speaker, the whole file
  (c) 중·노년층 한국어 방언  speaker[] + audio + transcription   one clip per transcription.sentences[] span,
                                                              its speaker by speakerId (the collector's own
                                                              lines are left out: collectors are not profiled)
  (d) 한국어 방언 발화 (2020) speaker[] + utterance[]             one clip per utterance (start, end in seconds)
                                                              with its own speaker_id: a dialogue of two
                                                              speakers in one WAV yields both speakers' clips
(c) gives the age in years as audio.recordDate's year minus birthYear (the label file's own year when there is
no recordDate), the region as a two-letter code (labels.AIHUB_REGION_CODES), education and health as numbered
codes (labels.ELDER_EDUCATION, ELDER_HEALTH; the raw codes kept in education_code, health_condition_code).
(d) gives ages as "20대", the region as principal_residence (where the speaker lived longest), else birthplace.
Its speaker ids are numbers within one dialogue in some releases ("1", "2"): a short all-digit id is made
unique with the file's stem ("DJES20000123_1"), so the same person in two dialogues counts as two speakers.

    python -m pytest tests/test_aihub_layouts.py
"""
import re
from collections import Counter
from datetime import datetime
from pathlib import Path

from corpora.archive import member_info, split_member
from corpora.labels import ELDER_EDUCATION, ELDER_HEALTH, clean_value, coded_level, column_name, is_unknown, shown

SPEAKER_ID_KEYS = ("SpeakerId", "SpeakerID", "SpeakerName", "recorderId", "ID")
SPEAKER_REGION_KEYS = ("dialect", "region", "residence", "hometown", "birthplace", "방언", "출신지", "출신지역",
                       "거주지", "거주지역", "지역")  # preferred first; matched case-insensitively
ROW_COLUMNS = ("path", "speaker", "gender", "age", "dialect", "split", "source", "text", "duration_s", "age_years",
               "start_s", "end_s")
CLOCK = re.compile(r"(\d+):([0-5]?\d):([0-5]?\d(?:\.\d+)?)")  # "HH:MM:SS.mmm", as layout (c) writes its times
LOCAL_ID = re.compile(r"\d{1,3}")  # a speaker id numbered within one dialogue (layout d)


# ---------------------------------------------------------------- small readers
def _block(doc, key, path):
    """doc[key] as a dict ({} when absent or null); anything else is a ValueError naming the file."""
    value = doc.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ValueError(f"{path}: {key} is a {type(value).__name__}, expected an object")
    return value


def _list(doc, key, path):
    """doc[key] as a list of objects ([] when absent or null); anything else is a ValueError naming the file."""
    value = doc.get(key)
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise ValueError(f"{path}: {key} is not a list of objects")
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


def seconds(value, where):
    """A time as seconds (float): 12.5, "12.5" or "00:00:12.500" (HH:MM:SS.mmm). ValueError naming `where`.
    A number is taken as it is: clean_value would round it to 6 digits (1234.567 -> 1234.57)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        s = float(value)
    else:
        text = clean_value(value) or ""
        m = CLOCK.fullmatch(text)
        try:
            s = int(m[1]) * 3600 + int(m[2]) * 60 + float(m[3]) if m else float(text)
        except ValueError:
            s = float("nan")
    if not 0 <= s < float("inf"):
        raise ValueError(f"{where}: time {shown(value)} is not seconds or HH:MM:SS.mmm")
    return s


def _file_year(path):
    """The year the label file was written: a zip member's date in the archive, else the file's mtime."""
    if split_member(path):
        return member_info(path).date_time[0]
    return datetime.fromtimestamp(Path(path).stat().st_mtime).year


def _utterance(speaker, gender, age, region, text="", duration_s="", start_s=None, end_s=None, file_name="",
               extras=None):
    return dict(speaker=speaker, gender=gender, age=age, region=region, text=clean_value(text) or "",
                duration_s=duration_s, start_s=start_s, end_s=end_s, file_name=clean_value(file_name) or "",
                extras=extras or {})


# ---------------------------------------------------------------- (a), (b): one speaker, the whole file
def _freetalk(path, doc):
    utt, conv, who = (_block(doc, key, path) for key in ("발화정보", "대화정보", "녹음자정보"))
    region_key, region = _first_known(who, SPEAKER_REGION_KEYS)
    if region_key is None:
        region = conv.get("cityCode")  # the conversation's city: it may name where the session was recorded
    return [_utterance(who.get("recorderId", ""), who.get("gender"), who.get("age"), region, utt.get("stt", ""),
                       utt.get("recrdTime"), file_name=utt.get("fileNm", ""),
                       extras=_extras(who, {"recorderId", "gender", "age", region_key}))], Counter()


def _command(path, doc):
    who, info, script = (_block(doc, key, path) for key in ("화자정보", "파일정보", "전사정보"))
    id_key, speaker = _first_known(who, SPEAKER_ID_KEYS)
    _, region = _first_known(who, ("Dialect", "Region"))  # a sentinel Dialect falls back to Region
    used = {id_key, "Gender", "Age", "Dialect", "Region", *SPEAKER_ID_KEYS}
    found = _utterance(speaker or "", who.get("Gender"), who.get("Age"), region, script.get("LabelText", ""),
                       info.get("FileLength"), file_name=info.get("FileName", ""), extras=_extras(who, used))
    return [found], Counter()


# ---------------------------------------------------------------- (c) 중·노년층 한국어 방언
def _elder_speaker(path, who, record_year):
    """(speaker id, gender, age in years or "", province code, extras) of one speaker[] entry."""
    speaker = clean_value(who.get("speakerId")) or ""
    where = f"{path}: speaker {shown(speaker)}"
    birth, age = clean_value(who.get("birthYear")) or "", ""
    if birth:
        try:
            age = record_year - int(float(birth))
        except ValueError:
            age = None
        if age is None or not 0 <= age <= 120:
            raise ValueError(f"{where}: birthYear {shown(who.get('birthYear'))} is not a year before {record_year}")
    try:
        education, education_code = coded_level(who.get("academicBackground"), ELDER_EDUCATION, "academicBackground")
        health, health_code = coded_level(who.get("healthCondition"), ELDER_HEALTH, "healthCondition")
    except ValueError as err:
        raise ValueError(f"{where}: {err}") from None
    extras = dict(education=education, education_code=education_code, health_condition=health,
                  health_condition_code=health_code, job=clean_value(who.get("job")) or "",
                  residence_city=clean_value(who.get("residenceCity")) or "",
                  residence_period=clean_value(who.get("residencePeriod")) or "")
    return speaker, who.get("gender"), age, who.get("residenceProvince"), extras


def _elderly(path, doc):
    audio, script = _block(doc, "audio", path), _block(doc, "transcription", path)
    notes = Counter()
    date = clean_value(audio.get("recordDate")) or ""
    if re.match(r"(19|20)\d\d", date):
        record_year = int(date[:4])
    else:
        record_year = _file_year(path)
        notes["without audio.recordDate: ages from the label file's own year (its date)"] += 1
    speakers = {}
    for who in _list(doc, "speaker", path):
        speaker, gender, age, region, extras = _elder_speaker(path, who, record_year)
        speakers[speaker] = (gender, age, region, extras)
    if not speakers:
        raise ValueError(f"{path}: speaker[] names nobody (expected speakerId, gender, birthYear, ...)")
    collector = clean_value(_block(doc, "collector", path).get("collectorId")) or ""
    found, sentences = [], _list(script, "sentences", path)
    timed = sum(1 for s in sentences if s.get("startTime") is not None)
    for i, sentence in enumerate(sentences):
        if sentence.get("startTime") is None:  # left out when others are timed; all untimed: see below
            notes.update(["sentences without a startTime"] if timed else [])
            continue
        where = f"{path}: transcription.sentences[{i}]"
        speaker = clean_value(sentence.get("speakerId")) or ""
        if speaker not in speakers:
            if speaker and speaker == collector:
                notes["sentences spoken by the collector (not profiled)"] += 1
                continue
            raise ValueError(f"{where}: speakerId {shown(speaker)} is not in speaker[] ({', '.join(speakers)})")
        start, end = seconds(sentence.get("startTime"), where), seconds(sentence.get("endTime"), where)
        gender, age, region, extras = speakers[speaker]
        found.append(_utterance(speaker, gender, age, region, sentence.get("dialect", ""), "", start, end,
                                doc.get("fileName", ""), extras))
    if not timed:  # no timed sentences: the file's speech, when one speaker says all of it
        if len(speakers) > 1:
            raise ValueError(f"{path}: {len(speakers)} speakers and no transcription.sentences[] with startTime, "
                             "so no clip can be given to a speaker")
        speaker, (gender, age, region, extras) = next(iter(speakers.items()))
        start = seconds(audio["speechStartTime"], f"{path}: audio") if audio.get("speechStartTime") else None
        end = seconds(audio["speechEndTime"], f"{path}: audio") if audio.get("speechEndTime") else None
        found.append(_utterance(speaker, gender, age, region, script.get("dialect", ""), "", start, end,
                                doc.get("fileName", ""), extras))
    return found, notes


# ---------------------------------------------------------------- (d) 한국어 방언 발화 (2020)
def _dialect(path, doc):
    stem = Path(split_member(path)[1] if split_member(path) else path).stem
    speakers, notes, found = {}, Counter(), []
    for who in _list(doc, "speaker", path):
        local = clean_value(who.get("id")) or ""
        speaker = f"{stem}_{local}" if LOCAL_ID.fullmatch(local) else local
        region_key, region = _first_known(who, ("principal_residence", "birthplace"))
        speakers[local] = (speaker, who.get("sex"), who.get("age"), region,
                           _extras(who, {"id", "sex", "age", region_key}))
    for i, utt in enumerate(_list(doc, "utterance", path)):
        local = clean_value(utt.get("speaker_id")) or ""
        if local not in speakers:
            raise ValueError(f"{path}: utterance[{i}]: speaker_id {shown(local)} is not in speaker[] "
                             f"({', '.join(speakers)})")
        try:
            start, end = (seconds(utt.get(key), f"{path}: utterance[{i}].{key}") for key in ("start", "end"))
        except ValueError:  # null or text in a real release: that utterance is left out, counted
            notes["utterances without a readable start and end time"] += 1
            continue
        speaker, gender, age, region, extras = speakers[local]
        text = utt.get("dialect_form") or utt.get("form") or ""
        found.append(_utterance(speaker, gender, age, region, text, "", start, end, "", extras))
    return found, notes


# ---------------------------------------------------------------- which layout
def utterances(path, doc):
    """(utterances, notes Counter) of one label file in any of the four layouts (module docstring)."""
    if not isinstance(doc, dict):
        raise ValueError(f"{path}: unknown AI Hub layout; the file holds a {type(doc).__name__}, expected an object")
    if "발화정보" in doc and "녹음자정보" in doc:
        return _freetalk(path, doc)
    if "화자정보" in doc:
        return _command(path, doc)
    if "speaker" in doc and "transcription" in doc:
        return _elderly(path, doc)
    if "speaker" in doc and "utterance" in doc:
        return _dialect(path, doc)
    keys = [str(k)[:40] for k in list(doc)[:10]]
    raise ValueError(f"{path}: unknown AI Hub layout; top-level keys {keys}; expected 발화정보 + 녹음자정보 "
                     "(자유대화 음성), 화자정보 (명령어 음성), speaker + transcription (중·노년층 방언) or "
                     "speaker + utterance (한국어 방언 발화)")
