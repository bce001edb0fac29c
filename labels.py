"""Label normalisation in one place: every corpus's spellings of gender, age and dialect -> one vocabulary.

Every source's vocabularies map here, and nowhere else (corpora.py's adapters call these functions):
  gender  -> "male" / "female"                        (normalise_gender; GENDER_WORDS lists the spellings:
             M/F, male/female, 남/여, Common Voice's "male_masculine"...; "other" etc. -> "" = unknown)
  age     -> an age group, decades by default ("30s")  (age_group; bins DECADES or your own, e.g.
             CHILD_TEEN_ADULT; input as years, "20대", "60대 이상", "twenties" or a bin name)
  dialect -> AI Hub region fields: six groups           (dialect_group via PROVINCES / DIALECT_GROUPS)
             TIMIT's DR column: eight regions           (timit_dialect via TIMIT_DIALECTS)
             (Common Voice keeps its free-text `accents` cell as written: no table.)
Blank input -> "" (an unknown label). An unrecognised value raises ValueError naming it and what was expected.
Plain Python and the standard library only: no torch, no file formats, never imports data.py.

Test: python -m pytest tests/test_labels.py
"""
import re

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
    raise ValueError(f"unknown region value {text!r}; expected a key of labels.DIALECT_GROUPS")
