"""Label normalisation in one place -- every corpus's spellings of gender, age and dialect -> one vocabulary.

Every source's vocabularies map here, and nowhere else (the adapters in corpora.py, aihub.py, kaldi.py call these):
  unknown -> ""  blank cells and sentinels ("NotProvided", "N/A", "-", "없음", "미상", ...: UNKNOWN_WORDS)
  gender  -> "male" / "female"                        (normalise_gender; GENDER_WORDS lists the spellings:
             M/F, male/female, 남/여, Common Voice's "male_masculine"...; "other" etc. -> "" = unknown)
  age     -> an age group, decades by default ("30s")  (age_group; bins DECADES or parse_age_bins("child:0-12,
             teen:13-17,adult:18-"); input as years, "26세", "만 26세", "20대", "60대 이상", "twenties", a bin name)
             and the number itself, when there is one   (age_years: "26"; cv_age_years: the midpoint of a Common
                                                         Voice band, "twenties" -> "24.5")
  dialect -> AI Hub region fields: six groups           (dialect_group via PROVINCES: names, 10-digit legal-district
             codes, 2-digit codes only with a declared system, legal or KOSTAT, and
             the two-letter province codes of the dialect corpora: AIHUB_REGION_CODES)
             TIMIT's DR column: eight regions           (timit_dialect via TIMIT_DIALECTS)
             (Common Voice's `accents` and Kaldi's spk2accent are kept as written: no table.)
  coded   -> AI Hub 중·노년층's numbered speaker fields  (coded_level: ELDER_EDUCATION, ELDER_HEALTH; a code the
             table lacks is kept as "code N", never guessed)
  other   -> clean one-line strings                     (clean_value, column_name for extra manifest columns)
An unrecognised value raises ValueError naming it (cut to 60 characters) and what was expected.
Plain Python and the standard library only: no torch, no file formats, never imports data.py.

Test: python -m pytest tests/test_labels.py
"""
import math
import re

# Cells that mean "nobody told us": compared after lower-casing and removing spaces and underscores.
UNKNOWN_WORDS = {"", "notprovided", "n/a", "na", "-", "--", "?", "??", "???", "none", "null", "nan", "unknown",
                 "없음", "미상", "모름", "무응답", "해당없음", "알수없음"}

GENDER_WORDS = {  # lower-cased spelling -> label; "" = a recognised answer outside the two-class task
    "m": "male", "male": "male", "man": "male", "남": "male", "남성": "male", "남자": "male",
    "male_masculine": "male",  # Common Voice >= 17
    "f": "female", "female": "female", "woman": "female", "여": "female", "여성": "female",
    "여자": "female", "female_feminine": "female",
    # answers that the two-class task has no class for: kept as rows, label unknown (masked)
    "u": "",  # AI Hub 중·노년층's "u" = not given
    "other": "", "intersex": "", "transgender": "", "non-binary": "", "do_not_wish_to_say": "", "기타": "",
}

# Age bins: a tuple of (lower edge in years, name), ascending; a value belongs to the last bin whose edge
# is <= the value; the last bin is open-ended. Write your own with parse_age_bins, e.g. CHILD_TEEN_ADULT.
DECADES = tuple((lo, f"{lo}s") for lo in range(0, 101, 10))  # (0,"0s"), (10,"10s"), ... (100,"100s")
CHILD_TEEN_ADULT = ((0, "child"), (13, "teen"), (20, "adult"))  # an example of custom bins
AGE_BINS_HELP = "NAME:LO-HI,...,NAME:LO- in whole years, e.g. child:0-12,teen:13-17,adult:18- (default: decades)"

# Common Voice's age answers as ages in years [lo, hi): the options of its web form (voice-web's AGES table, in
# web/src/stores/user.ts, and the dataset README of 2017): teens "< 19", twenties "19 - 29", thirties "30 - 39", ...
# eighties "80 - 89", nineties "> 89". The bands are not decades (twenties starts at 19), and two edges are open:
# teens is read from 13 (the word; the form gives no lower edge, and children do record, common-voice issue #3283),
# nineties up to 100. age_group puts a band in the bin holding most of its years; cv_age_years gives its midpoint.
CV_AGES = {"teens": (13, 19), "twenties": (19, 30), "thirties": (30, 40), "fourties": (40, 50), "forties": (40, 50),
           "fifties": (50, 60), "sixties": (60, 70), "seventies": (70, 80), "eighties": (80, 90), "nineties": (90, 100)}
YEARS = re.compile(r"(?:만\s*)?(\d+(?:\.\d+)?)\s*(?:세|살)?")  # "34", "26세", "26 세", "만 26세" (Korean age words)


def shown(value, width=60):
    """repr of a value for an error message, cut to `width` characters (a 1 MB cell stays one short line)."""
    text = repr(value)
    return text if len(text) <= width else text[:width - 4] + "...'"


def clean_value(value):
    """A label cell as one clean string: stripped, inner runs of whitespace (newlines too) as one space,
    UNKNOWN_WORDS -> "". Numbers become their shortest text (34, 2.5); True/False -> "true"/"false";
    a non-finite float -> "". Lists and objects are not labels: None."""
    if isinstance(value, (dict, list, tuple)):
        return None
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        value = (f"{value:g}" if value != int(value) else str(int(value))) if math.isfinite(value) else ""
    text = " ".join(str("" if value is None else value).split())
    return "" if is_unknown(text) else text


def is_unknown(value):
    """True for a blank cell or one of UNKNOWN_WORDS (any case, spaces and underscores ignored)."""
    text = "" if value is None else str(value)
    return re.sub(r"[\s_]+", "", text).lower() in UNKNOWN_WORDS


def _text(value, what):
    """clean_value(value) for a label that must be text; a list or object raises ValueError naming `what`."""
    text = clean_value(value)
    if text is None:
        raise ValueError(f"{what} value {shown(value)} is a {type(value).__name__}, expected text or a number")
    return text


def column_name(key):
    """A speaker field's name as a manifest column: "EducationLevel" -> "education_level", "학력" -> "학력";
    "" when nothing usable is left."""
    text = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", str(key))  # camelCase -> camel_Case
    return re.sub(r"\W+", "_", text).strip("_").lower()[:64]


def normalise_gender(value):
    """Map any spelling of gender ("M", "여", "male_masculine", ...) to "male"/"female"; blank/sentinel -> ""."""
    text = _text(value, "gender")
    if text.lower() not in GENDER_WORDS and text != "":
        raise ValueError(f"unknown gender value {shown(text)}; expected one of {sorted(GENDER_WORDS)}")
    return GENDER_WORDS.get(text.lower(), "")


def parse_age_bins(text):
    """Age bins from the --age-bins syntax, "child:0-12,teen:13-17,adult:18-" -> ((0,"child"), (13,"teen"),
    (18,"adult")); "decades" or "" -> DECADES. Ranges are whole years, inclusive, contiguous (each starts
    one year after the previous ends); only the last is open ("18-"). Bad syntax: one-line ValueError."""
    text = (text or "").strip()
    if text in ("", "decades"):
        return DECADES
    bins, expect = [], None  # expect: the first year the next bin must start at

    def bad(problem):
        return ValueError(f"--age-bins {shown(text)}: {problem}; expected {AGE_BINS_HELP}")
    items = text.split(",")
    for i, item in enumerate(items):
        m = re.fullmatch(r"\s*([^:\s][^:]*?)\s*:\s*(\d+)\s*-\s*(\d*)\s*", item)
        if not m:
            raise bad(f"cannot read {shown(item)}")
        name, lo, hi = m[1], int(m[2]), m[3]
        if expect is not None and lo != expect:
            raise bad(f"{name!r} starts at {lo}, expected {expect} (bins must be contiguous)")
        if name in (n for _, n in bins):
            raise bad(f"the name {name!r} is used twice")
        if (hi == "") != (i == len(items) - 1):
            raise bad("only the last bin is open-ended (LO-)" if hi == "" else "the last bin must be open-ended (LO-)")
        if hi != "" and int(hi) < lo:
            raise bad(f"{name!r} ends before it starts")
        bins.append((lo, name))
        expect = int(hi) + 1 if hi != "" else None
    return tuple(bins)


def _bin_of(years, bins):
    """Name of the bin holding `years` (a number), or None below the first edge."""
    names = [name for lo, name in bins if years >= lo]
    return names[-1] if names else None


def years_per_bin(lo, hi, bins):
    """{bin name: how many whole years of [lo, hi) it holds}, e.g. (13, 19) with child:0-12,teen:13-17,adult:18-
    -> {"teen": 5, "adult": 1}; years below the first bin's edge are not counted."""
    counts = {}
    for year in range(lo, hi):
        name = _bin_of(year, bins)
        if name is not None:
            counts[name] = counts.get(name, 0) + 1
    return counts


def cv_age_years(value):
    """The midpoint in years of a Common Voice age band (CV_AGES), as text: "teens" -> "16", "twenties" ->
    "24.5", "nineties" -> "95"; "" for anything else. A midpoint stands for a band: against a uniform spread
    over a 10-year band it is off by 2.5 years on average (width / 4; sd width / sqrt(12) = 2.9 years)."""
    band = CV_AGES.get((clean_value(value) or "").lower())
    return "" if band is None else f"{(band[0] + band[1]) / 2:g}"


def age_years(value):
    """The age in years when the value is one number ("34", "26세", "만 26세", 34.5) as text ("34", "34.5");
    "" for decades, words and unknowns."""
    text = clean_value(value) or ""  # a list or an object has no years
    m = YEARS.fullmatch(text)
    if not m:
        return ""
    years = float(m[1])
    return str(int(years)) if years == int(years) else f"{years:g}"


def age_group(value, bins=DECADES):
    """Age group of a number (34, "26세", "만 26세" -> "20s"), a Korean decade ("20대"), the open top decade of
    AI Hub forms ("60대 이상"), a Common Voice word ("twenties") or a bin name ("30s"); blank/sentinel -> "".

    A decade (20대, 20s) is the range [20, 29] years; it must fall inside one bin, otherwise the answer would be
    a guess and ValueError is raised (e.g. "10대" with CHILD_TEEN_ADULT). A Common Voice band (CV_AGES: teens =
    13-18, twenties = 19-29, ...) goes to the bin holding most of its years, a tie to the upper bin: "teens" with
    child:0-12,teen:13-17,adult:18- -> "teen" (5 of its 6 years), "twenties" with decades -> "20s" (10 of 11); for
    a band across one edge that is the bin holding its midpoint (cv_age_years), so `merge` agrees. "N대 이상"
    ("N and older") is a form's open top category: it goes to the bin holding N, so with decades "60대 이상" ->
    "60s" and that corpus's 60s class holds everyone from 60 up. bins: ((lower edge in years, name), ...) ascending.
    """
    text = _text(value, "age")
    if text == "":
        return ""
    if text in {name for _, name in bins}:
        return text
    lo = hi = None
    if m := YEARS.fullmatch(text):  # a number of years
        lo = hi = float(m[1])
    elif m := re.fullmatch(r"(\d+)\s*(대|s)", text):  # "20대", "30s"
        lo, hi = int(m[1]), int(m[1]) + 9
    elif m := re.fullmatch(r"(\d+)\s*대\s*이상", text):  # "60대 이상" = 60 and older: the bin where it starts
        lo = hi = int(m[1])
    elif text.lower() in CV_AGES:  # the bin holding most of the band's years; on a tie the upper one
        counts = years_per_bin(*CV_AGES[text.lower()], bins)  # {bin: years}, bins in ascending order
        if not counts:
            raise ValueError(f"age value {shown(text)} lies below the first bin of {bins}")
        return [name for name in counts if counts[name] == max(counts.values())][-1]
    if lo is None:
        raise ValueError(f"unknown age value {shown(text)}; expected years (34, 26세), '20대', 'twenties' or '30s'")
    first, last = _bin_of(lo, bins), _bin_of(hi, bins)
    if first is None or first != last:
        raise ValueError(f"age value {shown(text)} does not fall inside one bin of {bins}")
    return first


STAGE_YEARS = {"child": 0, "teen": 13, "adult": 18, "senior": 60}  # first years of the life-stage group names of
# --age-bins child:0-12,teen:13-17,adult:18-59,senior:60- (the release's): what orders them where no number does


def first_year(name):
    """The first year of an age group's name, to put groups in age order: the number it starts with ("20s",
    "20대", "60-" -> 20, 20, 60) or a life stage (STAGE_YEARS: child 0, teen 13, adult 18, senior 60); None for
    anything else ("female", "경상")."""
    m = re.match(r"\s*([0-9]+)", str(name))
    return int(m[1]) if m else STAGE_YEARS.get(str(name).strip().lower())


# AI Hub region field -> dialect group, one row per province:
#   (group, legal-district code prefixes, KOSTAT statistical code, spellings)
# Legal: the 2-digit province prefix of the 10-digit legal-district code (법정동코드; 강원 became 51 in 2023,
# 전북 52 in 2024). KOSTAT: the province code of Statistics Korea's administrative-district classification
# (한국행정구역분류; unchanged by the 2023/2024 renamings). The two systems clash (26 = 부산 in one, 울산 in the
# other), so a bare 2-digit code is read only with a declared system (--region-codes legal|kostat).
PROVINCES = (
    ("수도권", "11", "11", "서울 서울특별시 서울시"),
    ("수도권", "28", "23", "인천 인천광역시"),
    ("수도권", "41", "31", "경기 경기도"),
    ("강원", "42 51", "32", "강원 강원도 강원특별자치도"),
    ("충청", "30", "25", "대전 대전광역시"),
    ("충청", "36", "29", "세종 세종시 세종특별자치시"),
    ("충청", "43", "33", "충북 충청북도"),
    ("충청", "44", "34", "충남 충청남도"),
    ("전라", "29", "24", "광주 광주광역시"),
    ("전라", "45 52", "35", "전북 전라북도 전북특별자치도"),
    ("전라", "46", "36", "전남 전라남도"),
    ("경상", "26", "21", "부산 부산광역시"),
    ("경상", "27", "22", "대구 대구광역시"),
    ("경상", "31", "26", "울산 울산광역시"),
    ("경상", "47", "37", "경북 경상북도"),
    ("경상", "48", "38", "경남 경상남도"),
    ("제주", "50", "39", "제주 제주도 제주특별자치도"),
)
DIALECT_GROUPS = {name: group for group, _, _, names in PROVINCES for name in names.split()}  # names only
DIALECT_GROUPS.update({group: group for group, _, _, _ in PROVINCES})  # already grouped: 수도권 -> 수도권
DIALECT_GROUPS.update({"충청도": "충청", "전라도": "전라", "경상도": "경상"})  # dialect names (강원도, 제주도 above)
DIALECT_GROUPS.update({"기타": "", "해외": "", "외국": ""})  # other / abroad: no Korean dialect group, unknown
# AI Hub's two-letter province codes -> dialect group (docs/aihub.md). Two spellings of two provinces: the
# 중·노년층 한국어 방언 corpus writes gw 강원 and jl 전라 (its collection app's table, where "un" = not given); the
# 한국어 방언 발화 corpora (2020) write kw 강원 and jd 전라 (their file names and metadata). No code for 수도권 was
# found in either corpus; any other two letters are refused, naming this table.
AIHUB_REGION_CODES = {"gw": "강원", "kw": "강원", "cc": "충청", "gs": "경상", "jl": "전라", "jd": "전라", "jj": "제주",
                      "un": ""}
REGION_CODES = {  # code system -> {2-digit province code: group}
    "legal": {code: group for group, codes, _, _ in PROVINCES for code in codes.split()},
    "kostat": {code: group for group, _, code, _ in PROVINCES},
}

# TIMIT spkrinfo.txt `DR` column -> dialect region label (snake_case, safe in CSV cells and file names)
TIMIT_DIALECTS = {
    "1": "new_england", "2": "northern", "3": "north_midland", "4": "south_midland",
    "5": "southern", "6": "new_york_city", "7": "western", "8": "army_brat",  # army_brat = moved around
}
TIMIT_EDUCATION = ("HS", "AS", "BS", "MS", "PHD")  # spkrinfo.txt `Edu`: high school ... doctorate; ?? = unknown

# AI Hub 중·노년층 한국어 방언: speaker fields written as numbers. The tables are those of the corpus's collection app
# (its dropdowns 초졸이하 / 중졸이하 / 고졸이하 / 대학원이하 and 무 / 치아손실 / 조음장애 / both; 0 = not given), not
# of an official AI Hub guideline: docs/aihub.md says which codes are certain.
ELDER_EDUCATION = {"1": "elementary_or_less", "2": "middle_school", "3": "high_school",
                   "4": "post_secondary"}  # academicBackground: 4 = college, university or graduate school
ELDER_HEALTH = {"1": "none", "2": "tooth_loss", "3": "articulation_disorder",
                "4": "tooth_loss_and_articulation_disorder"}  # healthCondition: what may change the voice


def timit_dialect(dr):
    """TIMIT dialect region number ("1".."8") -> region label."""
    if str(dr) not in TIMIT_DIALECTS:
        raise ValueError(f"unknown TIMIT dialect region {shown(dr)}; expected 1..8")
    return TIMIT_DIALECTS[str(dr)]


def timit_education(edu):
    """TIMIT's Edu column -> "HS", "AS", "BS", "MS" or "PHD"; "??" -> ""."""
    text = _text(edu, "education")
    if text and text.upper() not in TIMIT_EDUCATION:
        raise ValueError(f"unknown TIMIT education {shown(text)}; expected one of {', '.join(TIMIT_EDUCATION)} or ??")
    return text.upper()


def coded_level(value, table, what):
    """(level, code) of a numbered speaker field: 4.0 -> ("post_secondary", "4") with ELDER_EDUCATION; 0, blank
    or a sentinel -> ("", code); a whole number the table lacks -> ("code 7", "7"): kept as its own class, not
    guessed. Anything but a whole number raises ValueError naming `what`."""
    code = _text(value, what)
    if code == "" or code == "0":
        return "", code
    if not re.fullmatch(r"[0-9]+", code):  # not str.isdigit(): it takes "²", which int() refuses
        raise ValueError(f"{what} value {shown(code)} is not a whole-number code; expected one of {sorted(table)}")
    code = str(int(code))  # "04" -> "4"
    return table.get(code, f"code {code}"), code


def dialect_group(value, codes=None):
    """AI Hub region field -> one of 수도권 강원 충청 전라 경상 제주; blank/sentinel/기타 -> "".

    Accepted: a name ("경상남도", "경상남도 창원시", "서울/경기" when all parts agree), a 10-digit legal-district
    code (its first two digits), a 2-digit province code when `codes` says whose ("legal" or "kostat"), or
    one of AI Hub's two-letter province codes ("jj", "gs": AIHUB_REGION_CODES; "un" = not given).
    A 2-digit code without `codes` is refused: 26 is 부산 in one system and 울산 in the other.
    """
    text = _text(value, "region")
    if text == "":
        return ""
    if re.fullmatch(r"[A-Za-z]{2}", text):
        if text.lower() not in AIHUB_REGION_CODES:
            raise ValueError(f"region code {shown(text)} is not one of AI Hub's two-letter province codes "
                             f"(labels.AIHUB_REGION_CODES: {', '.join(sorted(AIHUB_REGION_CODES))})")
        return AIHUB_REGION_CODES[text.lower()]
    if re.fullmatch(r"[0-9]+", text):  # ASCII digits: str.isdigit() takes "²²" too
        if len(text) == 10:
            prefix, system = text[:2], "legal"
        elif len(text) == 2 and codes in REGION_CODES:
            prefix, system = text, codes
        elif len(text) == 2:
            raise ValueError(f"region code {shown(text)} is ambiguous: 2-digit province codes differ between the "
                             "legal-district and KOSTAT systems; declare one with --region-codes legal|kostat")
        else:
            raise ValueError(f"region code {shown(text)}: expected a 10-digit legal-district code or a "
                             "2-digit province code (with --region-codes legal|kostat)")
        if prefix not in REGION_CODES[system]:
            raise ValueError(f"region code {shown(text)} is not a province in the {system} code system")
        return REGION_CODES[system][prefix]
    groups = {DIALECT_GROUPS.get(part.split()[0] if part.split() else "") for part in re.split(r"[/,·]", text)}
    if text in DIALECT_GROUPS:
        return DIALECT_GROUPS[text]
    if len(groups) == 1 and None not in groups:
        return groups.pop()
    raise ValueError(f"unknown region value {shown(text)}; expected a province name (labels.PROVINCES), "
                     "a 10-digit legal-district code, or a 2-digit code with --region-codes legal|kostat")
