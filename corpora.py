"""Corpus adapters: AI Hub, Common Voice and TIMIT folders -> manifest rows; label normalisation; describe.

Every adapter returns a list of row dicts with the manifest columns `path, speaker, gender, age, dialect,
split` (strings; "" = unknown label / split not yet assigned) plus the extras `source`, `text`, `duration_s`.
All label spellings are normalised here and nowhere else:
  gender  -> "male" / "female"                      (normalise_gender)
  age     -> an age group, decades by default ("30s") (age_group, configurable `bins`)
  dialect -> AI Hub: six groups (DIALECT_GROUPS); TIMIT: eight regions (TIMIT_DIALECTS);
             Common Voice: the free-text `accents` cell as written.
Bad input raises ValueError / FileNotFoundError naming the file, the value and what was expected.
data.py writes the manifest and assigns the missing splits; this module never imports data.py.

Test: python -m pytest tests/test_corpora.py
"""
import csv
import json
import re
import unicodedata
import warnings
from collections import Counter
from pathlib import Path

import numpy as np
import soundfile as sf

# ---------------------------------------------------------------- 1. label normalisation
GENDER_WORDS = {  # lower-cased spelling -> label; "" = a recognised answer outside the two-class task
    "m": "male", "male": "male", "man": "male", "남": "male", "남성": "male", "남자": "male",
    "male_masculine": "male",  # Common Voice >= 17
    "f": "female", "female": "female", "woman": "female", "여": "female", "여성": "female",
    "여자": "female", "female_feminine": "female",
    # Common Voice answers that the two-class task has no class for: kept as rows, label unknown (masked)
    "other": "", "intersex": "", "transgender": "", "non-binary": "", "do_not_wish_to_say": "",
}

# Age bins: a tuple of (lower edge in years, name), ascending; a value belongs to the last bin whose edge
# is <= the value; the last bin is open-ended. Write your own, e.g. CHILD_TEEN_ADULT below.
DECADES = tuple((lo, f"{lo}s") for lo in range(0, 101, 10))  # (0,"0s"), (10,"10s"), ... (100,"100s")
CHILD_TEEN_ADULT = ((0, "child"), (13, "teen"), (20, "adult"))  # an example of custom bins

DECADE_WORDS = {  # Common Voice age words -> first year of the decade
    "teens": 10, "twenties": 20, "thirties": 30, "fourties": 40, "forties": 40, "fifties": 50,
    "sixties": 60, "seventies": 70, "eighties": 80, "nineties": 90,
}


def normalise_gender(value):
    """Map any spelling of gender ("M", "여", "male_masculine", ...) to "male"/"female"; blank -> ""."""
    text = "" if value is None else str(value).strip()
    if text.lower() not in GENDER_WORDS and text != "":
        raise ValueError(f"unknown gender value {text!r}; expected one of {sorted(GENDER_WORDS)}")
    return GENDER_WORDS.get(text.lower(), "")


def _bin_of(years, bins):
    """Name of the bin holding `years` (a number), or None below the first edge."""
    names = [name for lo, name in bins if years >= lo]
    return names[-1] if names else None


def age_group(value, bins=DECADES):
    """Age group of a number (34 -> "30s"), a Korean decade ("20대", "60대 이상"), a Common Voice word
    ("twenties") or an already-normalised bin name ("30s"); blank -> "".

    A decade (20대, twenties, 20s) is the range [20, 29] years; it must fall inside one bin, otherwise the
    answer would be a guess and ValueError is raised (e.g. "teens" with CHILD_TEEN_ADULT). "N대 이상" is
    the range [N, inf). bins: ((lower edge in years, name), ...) ascending.
    """
    text = "" if value is None else str(value).strip()
    if text == "":
        return ""
    if text in {name for _, name in bins}:
        return text
    lo = hi = None
    if re.fullmatch(r"\d+(\.\d+)?", text):  # a number of years
        lo = hi = float(text)
    elif m := re.fullmatch(r"(\d+)\s*(대|s)", text):  # "20대", "30s"
        lo, hi = int(m[1]), int(m[1]) + 9
    elif m := re.fullmatch(r"(\d+)\s*대\s*이상", text):  # "60대 이상" = 60 and older
        lo, hi = int(m[1]), float("inf")
    elif text.lower() in DECADE_WORDS:
        lo = DECADE_WORDS[text.lower()]
        hi = lo + 9
    if lo is None:
        raise ValueError(f"unknown age value {text!r}; expected years (34), '20대', 'twenties' or '30s'")
    first, last = _bin_of(lo, bins), _bin_of(hi, bins)
    if first is None or first != last:
        raise ValueError(f"age value {text!r} does not fall inside one bin of {bins}")
    return first


# AI Hub region field -> dialect group, one row per province: (group, legal-district codes, spellings).
# Codes: the 2-digit province prefix of the Korean legal-district code (법정동코드 / 행정표준코드; 강원 became
# 51 in 2023 and 전북 52 in 2024). The KOSTAT statistical codes (21 부산, 31 경기, ...) clash with these
# and are NOT accepted.
PROVINCES = (
    ("수도권", "11", "서울 서울특별시 서울시"),
    ("수도권", "28", "인천 인천광역시"),
    ("수도권", "41", "경기 경기도"),
    ("강원", "42 51", "강원 강원도 강원특별자치도"),
    ("충청", "30", "대전 대전광역시"),
    ("충청", "36", "세종 세종시 세종특별자치시"),
    ("충청", "43", "충북 충청북도"),
    ("충청", "44", "충남 충청남도"),
    ("전라", "29", "광주 광주광역시"),
    ("전라", "45 52", "전북 전라북도 전북특별자치도"),
    ("전라", "46", "전남 전라남도"),
    ("경상", "26", "부산 부산광역시"),
    ("경상", "27", "대구 대구광역시"),
    ("경상", "31", "울산 울산광역시"),
    ("경상", "47", "경북 경상북도"),
    ("경상", "48", "경남 경상남도"),
    ("제주", "50", "제주 제주도 제주특별자치도"),
)
DIALECT_GROUPS = {key: group for group, codes, names in PROVINCES for key in f"{codes} {names}".split()}
DIALECT_GROUPS.update({group: group for group, _, _ in PROVINCES})  # already grouped: 수도권 -> 수도권
DIALECT_GROUPS.update({"충청도": "충청", "전라도": "전라", "경상도": "경상"})  # dialect names (강원도, 제주도 above)

# TIMIT spkrinfo.txt `DR` column -> dialect region label (snake_case, safe in CSV cells and file names)
TIMIT_DIALECTS = {
    "1": "new_england", "2": "northern", "3": "north_midland", "4": "south_midland",
    "5": "southern", "6": "new_york_city", "7": "western", "8": "army_brat",  # army_brat = moved around
}


def timit_dialect(dr):
    """TIMIT dialect region number ("1".."8") -> region label."""
    if str(dr) not in TIMIT_DIALECTS:
        raise ValueError(f"unknown TIMIT dialect region {dr!r}; expected 1..8")
    return TIMIT_DIALECTS[str(dr)]


def dialect_group(value):
    """AI Hub region field -> one of 수도권 강원 충청 전라 경상 제주; blank -> "".
    A 10-digit legal-district code or "경상남도 창원시" is looked up by its province part."""
    text = "" if value is None else str(value).strip()
    if text == "":
        return ""
    for key in (text, text.split()[0], text[:2] if text.isdigit() else text):
        if key in DIALECT_GROUPS:
            return DIALECT_GROUPS[key]
    raise ValueError(f"unknown region value {text!r}; expected a key of corpora.DIALECT_GROUPS")


def _row(path, speaker, gender, age, dialect, split="", source="", text="", duration_s=""):
    return dict(path=str(path), speaker=str(speaker), gender=gender, age=age, dialect=dialect,
                split=split, source=source, text=text, duration_s=str(duration_s))


def _labelled(where, gender, age, region, bins, region_fn):
    """Normalise one file's three labels; errors name `where` (the label file)."""
    try:
        return normalise_gender(gender), age_group(age, bins), region_fn(region)
    except ValueError as e:
        raise ValueError(f"{where}: {e}") from None


# ---------------------------------------------------------------- 2. AI Hub
AUDIO_SUFFIXES = (".wav", ".flac")  # headerless .pcm (KsponSpeech) is not read: convert it to .wav first
SPEAKER_ID_KEYS = ("SpeakerId", "SpeakerID", "SpeakerName", "recorderId", "ID")


def _index_audio(root):
    """{file stem: path} of every .wav/.flac under root (walked once). Duplicate stems are ambiguous."""
    index = {}
    for path in sorted(root.rglob("*")):
        if path.suffix.lower() in AUDIO_SUFFIXES and path.is_file():
            if path.stem in index:
                raise ValueError(f"two audio files share the stem {path.stem!r}: {index[path.stem]} and {path}")
            index[path.stem] = path
    return index


def _read_json(path):
    try:
        return json.loads(path.read_text(encoding="utf-8-sig"))  # -sig: AI Hub files may start with a BOM
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ValueError(f"{path}: malformed JSON ({e})") from None


def _aihub_fields(path, doc):
    """(audio file name, speaker, gender, age, region, text, duration_s) from either known layout."""
    keys = list(doc) if isinstance(doc, dict) else f"a top-level {type(doc).__name__}"
    if isinstance(doc, dict) and "발화정보" in doc and "녹음자정보" in doc:  # (a) 자유대화 음성
        utt, who, conv = doc["발화정보"], doc["녹음자정보"], doc.get("대화정보", {})
        return (utt.get("fileNm", ""), who.get("recorderId", ""), who.get("gender"), who.get("age"),
                conv.get("cityCode"), utt.get("stt", ""), utt.get("recrdTime", ""))
    if isinstance(doc, dict) and "화자정보" in doc:  # (b) 명령어 음성 etc.: 화자정보 + 파일정보 + 전사정보
        who, info = doc["화자정보"], doc.get("파일정보", {})
        speaker = next((who[k] for k in SPEAKER_ID_KEYS if who.get(k)), "")
        region = who.get("Dialect") or who.get("Region")
        return (info.get("FileName", ""), speaker, who.get("Gender"), who.get("Age"), region,
                doc.get("전사정보", {}).get("LabelText", ""), info.get("FileLength", ""))
    raise ValueError(f"{path}: unknown AI Hub layout; top-level keys {keys}; expected 발화정보 + 녹음자정보 "
                     "(자유대화 음성) or 화자정보 (Gender, Age, Dialect/Region)")


def aihub_rows(root, bins=DECADES, skip_missing=False):
    """One row per AI Hub label JSON under root, paired with the .wav/.flac of the same stem anywhere under
    root (the JSON's own stem first, then the stem of its fileNm/FileName: some fileNm carry typos like
    ".wavp"). Splits are left empty for data.py to assign by speaker.

    Missing audio: FileNotFoundError naming the JSON; with skip_missing=True a counted one-line warning.
    """
    root = Path(root)
    audio = _index_audio(root)
    rows, missing = [], []
    for path in sorted(root.rglob("*.json")):
        file_name, speaker, gender, age, region, text, duration_s = _aihub_fields(path, _read_json(path))
        gender, age, dialect = _labelled(path, gender, age, region, bins, dialect_group)
        if not str(speaker).strip():
            raise ValueError(f"{path}: no speaker id (looked for {SPEAKER_ID_KEYS} / recorderId)")
        stems = [path.stem, Path(str(file_name)).stem]
        wav = next((audio[s] for s in stems if s in audio), None)
        if wav is None:
            if not skip_missing:
                raise FileNotFoundError(f"{path}: no audio file with stem {stems[0]!r} "
                                        f"({'/'.join(AUDIO_SUFFIXES)}) under {root}")
            missing.append(path)
            continue
        rows.append(_row(wav, speaker, gender, age, dialect, "", "aihub", str(text).strip(), duration_s))
    if missing:
        warnings.warn(f"aihub: skipped {len(missing)} label files without audio, e.g. {missing[0]}")
    return rows


# ---------------------------------------------------------------- 3. Common Voice
CV_TABLES = {"train.tsv": "train", "dev.tsv": "val", "test.tsv": "test"}  # official split -> our split


def _read_tsv(path):
    with open(path, encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE)  # sentences contain quotes
        table, columns = list(reader), reader.fieldnames or []
    accent = "accents" if "accents" in columns else "accent"  # renamed in Common Voice 8
    for column in ("client_id", "path", "age", "gender", accent):
        if column not in columns:
            raise ValueError(f"{path}: missing column {column!r} (found {list(columns)})")
    return table, accent


def commonvoice_rows(root, bins=DECADES, use_official_splits=True, skip_missing=False):
    """Rows of a Common Voice language folder: train/dev/test.tsv (splits train/val/test) when present and
    use_official_splits, else validated.tsv (splits left empty). Audio: clips/<path> (MP3; soundfile reads
    it). Blank age/gender/accents cells -> unknown labels. dialect = the accents cell as written."""
    root = Path(root)
    tables = [(root / name, split) for name, split in CV_TABLES.items() if (root / name).is_file()]
    if not (use_official_splits and tables):
        tables = [(root / "validated.tsv", "")]
    if not tables[0][0].is_file():
        raise FileNotFoundError(f"{root}: no validated.tsv or train/dev/test.tsv (is this a Common Voice folder?)")
    rows, missing = [], []
    for tsv, split in tables:
        table, accent = _read_tsv(tsv)
        for line, rec in enumerate(table, start=2):  # line 1 is the header
            gender, age, dialect = _labelled(f"{tsv} line {line}", rec["gender"], rec["age"],
                                             rec[accent], bins, lambda s: (s or "").strip())
            clip = root / "clips" / rec["path"]
            if not clip.is_file():
                if not skip_missing:
                    raise FileNotFoundError(f"{tsv} line {line}: audio {clip} not found")
                missing.append(clip)
                continue
            rows.append(_row(clip, rec["client_id"], gender, age, dialect, split, "commonvoice",
                             rec.get("sentence", "")))
    if missing:
        warnings.warn(f"commonvoice: skipped {len(missing)} rows without audio, e.g. {missing[0]}")
    return rows


# ---------------------------------------------------------------- 4. TIMIT
SPEAKER_DIR = re.compile(r"(?:dr\d-)?([fm])([a-z]{3}\d)", re.IGNORECASE)  # FVMH0 (LDC) or dr1-fvmh0 (NLTK)


def _timit_age(rec_date, birth_date):
    """Whole years between two MM/DD/YY dates of the 1900s ("??" anywhere -> None)."""
    try:
        rm, rd, ry = (int(x) for x in rec_date.split("/"))
        bm, bd, by = (int(x) for x in birth_date.split("/"))
    except ValueError:
        return None
    return (ry - by) - ((rm, rd) < (bm, bd))  # one year less if the birthday was not yet reached


def read_spkrinfo(path):
    """{speaker "FVMH0" (sex letter + ID): dict(sex, dr, use, age)} from TIMIT's spkrinfo.txt."""
    speakers = {}
    for line in Path(path).read_text(encoding="latin-1").splitlines():
        if line.startswith(";") or not line.strip():  # ';' lines are comments
            continue
        spk_id, sex, dr, use, rec_date, birth_date = line.split()[:6]
        speakers[sex.upper() + spk_id.upper()] = dict(
            sex=sex.upper(), dr=dr, use=use.upper(), age=_timit_age(rec_date, birth_date))
    return speakers


def _timit_val_speakers(train_speakers, sexes, seed, val_fraction):
    """Seeded choice of round(val_fraction * n) training speakers per sex (>= 1 when a sex has >= 2)."""
    rng = np.random.default_rng(seed)
    chosen = set()
    for sex in sorted(set(sexes.values())):
        group = sorted(s for s in train_speakers if sexes[s] == sex)
        n_val = int(round(val_fraction * len(group)))
        n_val = max(n_val, 1) if val_fraction > 0 and len(group) >= 2 else n_val
        chosen.update(rng.permutation(group)[:n_val].tolist())
    return chosen


def timit_rows(root, seed=0, val_fraction=0.1, bins=DECADES):
    """Rows of TIMIT in the LDC layout (TRAIN|TEST/DR1/FVMH0/SA1.WAV, NIST SPHERE) or the NLTK sample layout
    (dr1-fvmh0/sa1.wav). Labels from spkrinfo.txt: gender <- Sex, age <- RecDate - BirthDate then
    age_group, dialect <- DR via TIMIT_DIALECTS, split <- Use (TRN -> train, TST -> test), and
    val_fraction of the training speakers of each sex -> val (seeded). Audio files found twice under one
    utterance name (SA1.WAV and a converted SA1.WAV.wav) count once: the first in sorted order."""
    root = Path(root)
    info_files = sorted(p for p in root.rglob("*") if p.name.lower() == "spkrinfo.txt")
    if not info_files:
        raise FileNotFoundError(f"{root}: no spkrinfo.txt (TIMIT keeps it in DOC/ or at the top)")
    speakers = read_spkrinfo(info_files[0])
    clips = {}  # (speaker, utterance) -> path
    for path in sorted(root.rglob("*")):
        m = SPEAKER_DIR.fullmatch(path.parent.name)
        if m and path.name.lower().endswith(".wav") and path.is_file():
            clips.setdefault((m[1].upper() + m[2].upper(), path.name.split(".")[0].lower()), path)
    if not clips:
        raise FileNotFoundError(f"{root}: no speaker folders with .wav files (e.g. dr1-fvmh0/ or DR1/FVMH0/)")
    unknown = sorted({spk for spk, _ in clips} - set(speakers))
    if unknown:
        raise ValueError(f"{info_files[0]}: speakers {unknown} have audio but no spkrinfo line")
    used = {spk for spk, _ in clips}
    train = [s for s in used if speakers[s]["use"] == "TRN"]
    val = _timit_val_speakers(train, {s: speakers[s]["sex"] for s in used}, seed, val_fraction)
    rows = []
    for (spk, utt), path in sorted(clips.items()):
        info = speakers[spk]
        age = "" if info["age"] is None else info["age"]
        gender, age, dialect = _labelled(info_files[0], info["sex"], age, info["dr"], bins, timit_dialect)
        split = "val" if spk in val else {"TRN": "train", "TST": "test"}.get(info["use"], "")
        txt = path.with_name(path.name.split(".")[0] + ".txt")  # "0 46797 She had your dark suit..."
        text = " ".join(txt.read_text().split()[2:]) if txt.is_file() else ""
        rows.append(_row(path, spk, gender, age, dialect, split, "timit", text))
    return rows


# ---------------------------------------------------------------- 5. describe (the EDA)
TASKS = ("gender", "age", "dialect")
SPLITS = ("train", "val", "test", "")  # "" = not yet assigned


def _duration_lines(rows):
    durations = []
    for row in rows:
        try:
            durations.append(sf.info(row["path"]).duration)
        except (RuntimeError, OSError, sf.LibsndfileError):  # missing or unreadable file
            pass
    if not durations:
        return [f"duration: n/a (none of the {len(rows)} files could be read)"]
    d = np.array(durations)  # (n_readable,) seconds
    return [f"duration: total {d.sum() / 3600:.2f} h ({d.sum():.1f} s) over {len(d)} of {len(rows)} clips; "
            f"per clip mean {d.mean():.2f} s, min {d.min():.2f} s, max {d.max():.2f} s"]


def _label_order(value):
    """Sort key: numbers first by value ("20s" < "100s"), then text, unknown ("") last."""
    number = re.match(r"\d+", value)
    return (value == "", int(number[0]) if number else float("inf"), value)


def _width(text):
    """Terminal columns of text: Hangul and other East Asian wide characters take two."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def describe(rows):
    """The EDA as text: per task, clips / speakers per label value per split, unknown labels, the imbalance
    ratio (largest / smallest class, in clips); then the total and per-clip duration."""
    splits = [s for s in SPLITS if any(r["split"] == s for r in rows)]
    head = ["label"] + [f"{s or '(none)'} clips/spk" for s in splits] + ["all clips/spk"]
    lines = [f"{len(rows)} clips, {len({r['speaker'] for r in rows})} speakers", ""]
    for task in TASKS:
        table = [head]
        for value in sorted({r[task] for r in rows}, key=_label_order):
            cells = [value or "(unknown)"]
            for split in splits + [None]:
                hit = [r for r in rows if r[task] == value and split in (None, r["split"])]
                cells.append(f"{len(hit)}/{len({r['speaker'] for r in hit})}")
            table.append(cells)
        widths = [max(_width(row[i]) for row in table) for i in range(len(head))]
        lines.append(f"== {task} ==")
        lines += ["  ".join(c + " " * (w - _width(c)) for c, w in zip(row, widths)).rstrip() for row in table]
        counts = Counter(r[task] for r in rows if r[task])
        ratio = f"{max(counts.values()) / min(counts.values()):.2f}" if counts else "n/a"
        n_unknown = sum(1 for r in rows if not r[task])
        lines += [f"unknown {task}: {n_unknown} clips; imbalance ratio (largest/smallest class): {ratio}", ""]
    return "\n".join(lines + _duration_lines(rows))
