"""labels.py: the spellings of gender, age and dialect each source uses, against answers written by hand
(label values, age-bin edges, the province table and its legal-district codes)."""
import re

import pytest

from labels import CHILD_TEEN_ADULT, DECADES, DIALECT_GROUPS, age_group, dialect_group, normalise_gender


@pytest.mark.parametrize("raw, expected", [
    ("M", "male"), ("f", "female"), ("Male", "male"), ("female", "female"), ("남", "male"), ("여", "female"),
    ("남성", "male"), ("여성", "female"), ("male_masculine", "male"), ("female_feminine", "female"),
    ("", ""), (None, ""), ("  ", ""), ("other", ""), ("do_not_wish_to_say", "")])
def test_normalise_gender(raw, expected):
    assert normalise_gender(raw) == expected


def test_unknown_gender_names_the_value():
    with pytest.raises(ValueError, match="'robot'"):
        normalise_gender("robot")


@pytest.mark.parametrize("raw, expected", [
    (34, "30s"), ("34", "30s"), (20, "20s"), (29.9, "20s"), ("20대", "20s"), ("60대", "60s"),
    ("twenties", "20s"), ("fourties", "40s"), ("forties", "40s"), ("teens", "10s"), ("nineties", "90s"),
    ("30s", "30s"), ("", ""), (None, ""), (104, "100s")])
def test_age_group_decades(raw, expected):
    assert age_group(raw) == expected


@pytest.mark.parametrize("raw, expected", [(5, "child"), (12.9, "child"), (13, "teen"), (19, "teen"),
                                           ("twenties", "adult"), ("60대 이상", "adult"), ("teen", "teen")])
def test_age_group_custom_bins(raw, expected):
    assert age_group(raw, bins=CHILD_TEEN_ADULT) == expected


@pytest.mark.parametrize("raw, bins", [("old", DECADES), ("-3", DECADES),
                                       ("teens", CHILD_TEEN_ADULT), ("60대 이상", DECADES)])
def test_age_group_errors_name_the_value(raw, bins):
    with pytest.raises(ValueError, match=re.escape(repr(raw))):
        age_group(raw, bins=bins)


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
    assert set(DIALECT_GROUPS.values()) == set(expected)
    # legal-district codes: Seoul Jongno-gu 1111000000, Busan 26, Jeju 50, Gangwon after 2023 51
    assert [dialect_group(c) for c in ("1111000000", "26", "50", "51")] == ["수도권", "경상", "제주", "강원"]
    assert dialect_group("경상남도 창원시") == "경상" and dialect_group("") == ""
    with pytest.raises(ValueError, match="'평양'"):
        dialect_group("평양")
