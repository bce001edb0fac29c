"""Calibrated confidence (scale/calibration.py): temperature scaling recovers a known temperature, the expected
calibration error of a calibrated source is near 0 and is worked out by hand on a small case, and a run writes its
temperatures, which --wav applies.

    python -m pytest tests/test_calibration.py
"""
import csv
import json

import numpy as np
import pytest

from scale import calibration
from conftest import evaluate_cli


def test_scaling_keeps_the_answer_and_a_temperature_of_one_changes_nothing():
    p = np.array([[0.7, 0.2, 0.1], [0.1, 0.5, 0.4]])
    assert np.allclose(calibration.scaled(p, 1.0), p, atol=1e-12)
    for T in (0.3, 3.0):
        q = calibration.scaled(p, T)
        assert np.allclose(q.sum(axis=1), 1.0) and (q.argmax(axis=1) == p.argmax(axis=1)).all()
    assert np.allclose(calibration.scaled(p, 1e6), 1 / 3, atol=1e-4), "a very high temperature: uniform"
    # By hand: p = (0.8, 0.2) at T = 2 is (sqrt .8, sqrt .2) / (sqrt .8 + sqrt .2) = (2/3, 1/3)
    assert np.allclose(calibration.scaled(np.array([[0.8, 0.2]]), 2.0), [[2 / 3, 1 / 3]], atol=1e-12)


def test_fitting_recovers_the_temperature_that_made_a_source_over_confident():
    """Labels drawn from calibrated probabilities q; the model says p = q sharpened at T = 1/2.5. The fit must
    find T close to 2.5 (scaled(p, 2.5) = q), and scaling must bring the ECE down."""
    rng = np.random.default_rng(0)
    q = rng.dirichlet([1.0, 1.0, 1.0], size=6000)  # (n, 3) the truth's own probabilities
    y = np.array([rng.choice(3, p=row) for row in q])
    p = calibration.scaled(q, 1 / 2.5)  # over-confident
    T = calibration.fit_temperature(p, y)
    assert abs(T - 2.5) < 0.25, T
    before, after = calibration.expected_calibration_error(p, y), calibration.expected_calibration_error(
        calibration.scaled(p, T), y)
    assert after < 0.03 < before, (before, after)


def test_the_expected_calibration_error_by_hand():
    """Four clips, two bins used: top p 0.95, 0.95 (right, wrong) -> |0.5 - 0.95| weighted 2/4; top p 0.55, 0.55
    (both right) -> |1 - 0.55| weighted 2/4: ECE = 0.5 * 0.45 + 0.5 * 0.45 = 0.45."""
    p = np.array([[0.95, 0.05], [0.95, 0.05], [0.45, 0.55], [0.45, 0.55]])
    y = np.array([0, 1, 1, 1])
    assert calibration.expected_calibration_error(p, y) == pytest.approx(0.45, abs=1e-12)
    table = calibration.coverage(p, y, thresholds=(0.5, 0.9))
    assert table[0][1:] == pytest.approx((1.0, 0.75)) and table[1][1:] == pytest.approx((0.5, 0.5))


def test_too_few_clips_keep_the_temperature_at_one_and_a_damaged_file_is_ignored(tmp_path):
    assert calibration.fit_temperature(np.full((5, 2), 0.5), np.zeros(5, int)) == 1.0
    (tmp_path / "calibration.json").write_text('{"gender": 1.7, "age": "x", "dialect": 1e9}', encoding="utf-8")
    assert calibration.of_run(tmp_path) == {"gender": 1.7}
    (tmp_path / "calibration.json").write_text("[1, 2", encoding="utf-8")
    assert calibration.of_run(tmp_path) == {} and calibration.of_run(tmp_path / "none") == {}


@pytest.mark.slow
def test_a_run_writes_its_temperatures_and_wav_profiles_are_calibrated(tiny, tmp_path):
    """The tiny run fitted one temperature per class task on its validation clips; --wav reports the calibrated
    top probability, marks it unsure below UNSURE_P, and the CSV says so."""
    temperature = json.loads((tiny["run"] / "calibration.json").read_text(encoding="utf-8"))
    config = json.loads((tiny["run"] / "config.json").read_text(encoding="utf-8"))
    assert set(temperature) == {t for t in config["tasks"] if config["vocabs"][t] is not None}
    assert all(calibration.T_RANGE[0] <= T <= calibration.T_RANGE[1] for T in temperature.values())
    wav = next((tiny["root"]).rglob("*.wav"))
    code, out, err = evaluate_cli(tiny, tiny["run"], "--wav", wav, "--out", tmp_path / "p.csv")
    assert code == 0, err
    row = next(csv.DictReader(open(tmp_path / "p.csv", encoding="utf-8")))
    for t in temperature:
        assert (row[f"{t}_unsure"] == "unsure") == (float(row[f"{t}_p"]) < calibration.UNSURE_P), row


def test_a_temperature_written_into_a_run_changes_the_probability_and_not_the_answer(tiny, tmp_path):
    """A copy of the tiny run with gender at T = 1 and another at T = 3: the second's gender probabilities are the
    first's through scaled() (two classes: the top and the runner-up are all of them), the answers the same."""
    import shutil
    wav, rows = next((tiny["root"]).rglob("*.wav")), {}
    for T in (1.0, 3.0):
        run = tmp_path / f"T{T:g}"
        shutil.copytree(tiny["run"], run)
        (run / "calibration.json").write_text(json.dumps({"gender": T}), encoding="utf-8")
        code, out, err = evaluate_cli(tiny, run, "--wav", wav, "--out", tmp_path / f"{T:g}.csv")
        assert code == 0, err
        rows[T] = next(csv.DictReader(open(tmp_path / f"{T:g}.csv", encoding="utf-8")))
    one, three = rows[1.0], rows[3.0]
    assert (one["gender"], one["gender_next"]) == (three["gender"], three["gender_next"])
    expected = calibration.scaled(np.array([[float(one["gender_p"]), float(one["gender_next_p"])]]), 3.0)[0]
    assert float(three["gender_p"]) == pytest.approx(expected[0], abs=0.011), (one, three)
    assert float(three["gender_p"]) <= float(one["gender_p"]), "T > 1 softens"


@pytest.mark.slow
def test_accuracy_against_coverage_of_a_run(tiny, capsys):
    """python -m scale.coverage RUN M.csv: a row per threshold, the share of clips falling as the threshold rises."""
    from scale import coverage
    assert coverage.main([str(tiny["run"]), tiny["manifest"], "--task", "gender"]) == 0
    out = capsys.readouterr().out
    shares = [float(line.split("|")[2]) for line in out.splitlines() if line.startswith("| 0.")]
    assert len(shares) == 6 and shares == sorted(shares, reverse=True) and shares[0] == pytest.approx(1.0), out
    assert coverage.main([str(tiny["run"]), tiny["manifest"], "--task", "nope"]) == 2
