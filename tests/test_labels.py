"""labels.py: the spellings of gender, age and dialect each source uses, against answers written by hand
(label values, age-bin edges, the province table and its legal-district codes)."""
import re

import pytest

from corpora.labels import (CHILD_TEEN_ADULT, DECADES, DIALECT_GROUPS, ELDER_EDUCATION, ELDER_HEALTH, age_group,
                    age_years, clean_value, coded_level, column_name, dialect_group, normalise_gender, parse_age_bins)


@pytest.mark.parametrize("raw, expected", [
    ("M", "male"), ("f", "female"), ("Male", "male"), ("female", "female"), ("남", "male"), ("여", "female"),
    ("남성", "male"), ("여성", "female"), ("male_masculine", "male"), ("female_feminine", "female"),
    ("", ""), (None, ""), ("  ", ""), ("other", ""), ("do_not_wish_to_say", ""),
    ("NotProvided", ""), ("Not Provided", ""), ("N/A", ""), ("-", ""), ("없음", ""), ("미상", ""), ("nan", "")])
def test_normalise_gender(raw, expected):
    assert normalise_gender(raw) == expected


def test_unknown_gender_names_the_value():
    with pytest.raises(ValueError, match="'robot'"):
        normalise_gender("robot")


@pytest.mark.parametrize("raw, expected", [
    (34, "30s"), ("34", "30s"), (20, "20s"), (29.9, "20s"), ("20대", "20s"), ("60대", "60s"),
    ("twenties", "20s"), ("fourties", "40s"), ("forties", "40s"), ("teens", "10s"), ("nineties", "90s"),
    ("30s", "30s"), ("", ""), (None, ""), (104, "100s"),
    ("60대 이상", "60s"), ("26세", "20s"), ("26 세", "20s"), ("만 26세", "20s"), ("만26세", "20s"), ("7살", "0s"),
    ("NotProvided", ""), ("미상", ""), ("N/A", "")])
def test_age_group_decades(raw, expected):
    assert age_group(raw) == expected


@pytest.mark.parametrize("raw, expected", [(5, "child"), (12.9, "child"), (13, "teen"), (19, "teen"),
                                           ("twenties", "adult"), ("60대 이상", "adult"), ("teen", "teen")])
def test_age_group_custom_bins(raw, expected):
    assert age_group(raw, bins=CHILD_TEEN_ADULT) == expected


@pytest.mark.parametrize("raw, bins", [("old", DECADES), ("-3", DECADES), ("inf", DECADES),
                                       ("10대", CHILD_TEEN_ADULT), ("5대 이상", CHILD_TEEN_ADULT[1:])])
def test_age_group_errors_name_the_value(raw, bins):
    with pytest.raises(ValueError, match=re.escape(repr(raw))):
        age_group(raw, bins=bins)


@pytest.mark.parametrize("raw, expected", [(34, "34"), ("34", "34"), ("26세", "26"), ("만 26세", "26"),
                                           (34.5, "34.5"), ("20대", ""), ("twenties", ""), ("", ""), ("미상", "")])
def test_age_years_keeps_only_plain_numbers(raw, expected):
    assert age_years(raw) == expected


def test_parse_age_bins():
    assert parse_age_bins("child:0-12,teen:13-17,adult:18-") == ((0, "child"), (13, "teen"), (18, "adult"))
    assert parse_age_bins(" young : 0 - 29 , old : 30 - ") == ((0, "young"), (30, "old"))
    assert parse_age_bins("decades") == DECADES == parse_age_bins("")
    bins = parse_age_bins("child:0-12,teen:13-17,adult:18-")
    assert [age_group(a, bins) for a in (12, 12.9, 13, 17, 18, 90, "60대 이상")] == [
        "child", "child", "teen", "teen", "adult", "adult", "adult"]


@pytest.mark.parametrize("text, problem", [
    ("child:0-12,teen:14-17,adult:18-", "starts at 14, expected 13"),
    ("child:0-12,teen:13-17", "the last bin must be open-ended"),
    ("child:0-,adult:18-", "only the last bin is open-ended"),
    ("a:0-9,a:10-", "used twice"), ("a:9-3,b:4-", "ends before it starts"),
    ("child=0-12", "cannot read 'child=0-12'"), ("a:x-3", "cannot read")])
def test_parse_age_bins_errors_are_one_line(text, problem):
    with pytest.raises(ValueError) as info:
        parse_age_bins(text)
    message = str(info.value)
    assert message.startswith(f"--age-bins {text!r}: ") and problem in message and "\n" not in message, message


def test_clean_value_and_column_name():
    assert [clean_value(v) for v in (" a \n b ", 34, 34.0, 2.5, True, None, "NotProvided", [1], {"a": 1})] == [
        "a b", "34", "34", "2.5", "true", "", "", None, None]
    assert [column_name(k) for k in ("Education", "EducationLevel", "recorderId", "학력", "noise-environ", "!!")] == [
        "education", "education_level", "recorder_id", "학력", "noise_environ", ""]


def test_dialect_table_covers_every_province():
    expected = {"수도권": "서울 경기 인천 서울특별시 경기도 인천광역시",
                "강원": "강원 강원도 강원특별자치도",
                "충청": "대전 세종 충북 충남 충청북도 충청남도 대전광역시 세종특별자치시",
                "전라": "광주 전북 전남 전라북도 전라남도 광주광역시 전북특별자치도",
                "경상": "부산 대구 울산 경북 경남 경상북도 경상남도 부산광역시 대구광역시 울산광역시",
                "제주": "제주 제주도 제주특별자치도"}
    for group, names in expected.items():
        for name in names.split():
            assert dialect_group(name) == group, name
    assert set(DIALECT_GROUPS.values()) == set(expected) | {""}  # "" for 기타 / 해외
    # 10-digit legal-district codes: Seoul Jongno-gu 1111000000, Busan Jung-gu 2611000000, Jeju 5011000000,
    # Gangwon after 2023 5111000000
    assert [dialect_group(c) for c in ("1111000000", "2611000000", "5011000000", "5111000000")] == [
        "수도권", "경상", "제주", "강원"]
    assert dialect_group("경상남도 창원시") == "경상" and dialect_group("") == "" and dialect_group("서울/경기") == "수도권"
    assert [dialect_group(v) for v in ("NotProvided", "없음", "기타", "해외")] == ["", "", "", ""]
    with pytest.raises(ValueError, match="'평양'"):
        dialect_group("평양")
    with pytest.raises(ValueError, match="'경상/전라'"):
        dialect_group("경상/전라")


# The two 2-digit systems, by hand: legal-district (행정표준코드) and KOSTAT (한국행정구역분류) province codes.
LEGAL = {"11": "서울", "26": "부산", "27": "대구", "28": "인천", "29": "광주", "30": "대전", "31": "울산", "36": "세종",
         "41": "경기", "42": "강원", "51": "강원", "43": "충북", "44": "충남", "45": "전북", "52": "전북", "46": "전남",
         "47": "경북", "48": "경남", "50": "제주"}
KOSTAT = {"11": "서울", "21": "부산", "22": "대구", "23": "인천", "24": "광주", "25": "대전", "26": "울산", "29": "세종",
          "31": "경기", "32": "강원", "33": "충북", "34": "충남", "35": "전북", "36": "전남", "37": "경북", "38": "경남",
          "39": "제주"}


@pytest.mark.parametrize("system, table", [("legal", LEGAL), ("kostat", KOSTAT)])
def test_two_digit_codes_need_a_declared_system(system, table):
    for code, name in table.items():
        assert dialect_group(code, system) == dialect_group(name), (system, code, name)
    assert (dialect_group("31", "legal"), dialect_group("31", "kostat")) == ("경상", "수도권")  # 울산 / 경기
    with pytest.raises(ValueError, match=r"region code '31' is ambiguous.*--region-codes legal\|kostat"):
        dialect_group("31")
    with pytest.raises(ValueError, match="'99' is not a province in the"):
        dialect_group("99", system)
    with pytest.raises(ValueError, match="'11110'"):  # a 5-digit district code: not accepted
        dialect_group("11110", system)


# AI Hub's two-letter province codes, by hand: 중·노년층 (its collection app: gw cc gs jl jj, un = not given) and
# 한국어 방언 발화 (kw jj jd gs cc); each must land in the group of the province's own name.
TWO_LETTER = {"gw": "강원도", "kw": "강원도", "cc": "충청도", "gs": "경상도", "jl": "전라도", "jd": "전라도", "jj": "제주도"}


def test_two_letter_province_codes():
    for code, name in TWO_LETTER.items():
        assert dialect_group(code) == dialect_group(name) == dialect_group(code.upper()), code
    assert dialect_group("un") == ""
    with pytest.raises(ValueError, match=r"region code 'gg' is not one of AI Hub's two-letter province codes "
                                         r"\(labels\.AIHUB_REGION_CODES: cc, gs, gw, jd, jj, jl, kw, un\)"):
        dialect_group("gg")


def test_coded_levels_keep_what_the_table_does_not_know():
    assert coded_level(4.0, ELDER_EDUCATION, "academicBackground") == ("post_secondary", "4")  # the JSON's float
    assert coded_level("01", ELDER_EDUCATION, "academicBackground") == ("elementary_or_less", "1")
    assert coded_level(3, ELDER_HEALTH, "healthCondition") == ("articulation_disorder", "3")
    assert [coded_level(v, ELDER_EDUCATION, "x") for v in (0.0, None, "", "N/A")] == [
        ("", "0"), ("", ""), ("", ""), ("", "")]
    assert coded_level(9.0, ELDER_EDUCATION, "x") == ("code 9", "9"), "kept as its own class, not guessed"
    for bad in (4.5, "대졸", [4]):
        with pytest.raises(ValueError, match="academicBackground value"):
            coded_level(bad, ELDER_EDUCATION, "academicBackground")
