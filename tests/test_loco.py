"""scale/loco.py: the profiler's scores worked out by hand on six clips, and which age groups count as adult.

    python -m pytest tests/test_loco.py
"""
import numpy as np
import pytest

from scale import loco


def test_adult_groups_are_those_starting_at_18_or_later():
    assert loco.adult_groups(["child", "teen", "adult", "senior"]) == ["adult", "senior"]
    assert loco.adult_groups(["0s", "10s", "20s", "60s"]) == ["20s", "60s"]


def test_profiler_scores_by_hand():
    """Six clips of three speakers: a child (8), a woman (30) recorded four times in other rooms, a man (70).
      gender(adults): the woman's four clips (female, female, female, male) and the man's one (male) -> 4 / 5
      adults as adults: predicted adult, adult, teen, senior, senior (the child's clip does not count) -> 4 / 5
      age MAE: |10-8| + |30-30| + |28-30| + |34-30| + |31-30| + |60-70| = 2+0+2+4+1+10 = 19 / 6
      median MAE (the training median 30): 22+0+0+0+0+40 = 62 / 6
      same gender: the child 1/1, the woman 3/4 (female thrice), the man 1/1 -> the least consistent, 0.75"""
    rows = [dict(speaker="c", gender="male", age_years="8"), *[dict(speaker="w", gender="female", age_years="30")] * 4,
            dict(speaker="m", gender="male", age_years="70")]
    vocabs = {"gender": ["female", "male"], "age": ["child", "teen", "adult", "senior"], "age_years": None}
    one_hot = lambda names, vocab: np.eye(len(vocab))[[vocab.index(n) for n in names]]  # noqa: E731
    outputs = {"gender": one_hot(["male", "female", "female", "female", "male", "male"], vocabs["gender"]),
               "age": one_hot(["child", "adult", "adult", "teen", "senior", "senior"], vocabs["age"]),
               "age_years": np.array([10.0, 30.0, 28.0, 34.0, 31.0, 60.0])}
    s = loco.profiler_scores(outputs, rows, vocabs, train_median=30.0)
    assert (s["clips"], s["adult_clips"]) == (6, 5)
    assert s["gender_adults"] == pytest.approx(4 / 5, abs=1e-12)
    assert s["adults_as_adults"] == pytest.approx(4 / 5, abs=1e-12)
    assert s["age_mae"] == pytest.approx(19 / 6, abs=1e-12) and s["median_mae"] == pytest.approx(62 / 6, abs=1e-12)
    assert s["same_gender"] == pytest.approx(0.75, abs=1e-12)


def test_a_table_with_nan_survives_being_written_read_and_written_again(tmp_path):
    """A corpus without ages in years scores NaN: written as null, read back as NaN (a second --only merges the
    first's rows), written again, and shown as '-'."""
    table = {"model | without-x | x": {"clips": 3, "age_mae": np.nan, "gender_adults": 0.5}}
    loco.write_table(table, tmp_path / "loco.json")
    again = loco.read_table(tmp_path / "loco.json")
    assert np.isnan(again["model | without-x | x"]["age_mae"]) and again["model | without-x | x"]["gender_adults"] == 0.5
    loco.write_table(again, tmp_path / "loco.json")
    assert "| x | the other corpora | a | 3 | 0.500 |" in loco.markdown([tmp_path / "loco.json"], ["a"])
    assert "age MAE   -  " in loco.fmt(again["model | without-x | x"])


def test_a_score_is_rounded_once_on_its_way_to_the_table(tmp_path):
    """172 of 213 adults right is 0.80751: kept at 4 decimals (0.8075, stored as 0.80749999...) the table showed
    0.807; the file keeps enough digits for the table's 3 to be the score's own."""
    table = {"model | without-x | x": {"clips": 213, "gender_adults": 172 / 213}}
    loco.write_table(table, tmp_path / "loco.json")
    assert "| 213 | 0.808 |" in loco.markdown([tmp_path / "loco.json"], ["a"])
