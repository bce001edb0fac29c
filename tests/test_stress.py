"""scale/stress.py: each condition does what its name says, measured from the signal it returns (the SNR of a mix
measured back, the spectrum's slope of coloured noise, what a telephone line leaves above 3.4 kHz, an MP3's bit
rate from its bytes and its alignment by cross-correlation, a cut clip's length); the draw keeps each stratum's
share; the worst cell ignores small cells; the command end to end on the tiny run, twice, with the same numbers;
and every bad input is one line and exit code 2.

    python -m pytest tests/test_stress.py
"""
import io
import json

import numpy as np
import pytest
import scipy.signal

from conftest import cli_in_process, close, one_line_error, with_rows
from extras import channel
from scale import loco, stress

SR = 16000


def tone(hz, seconds=1.0, amplitude=0.3):
    t = np.arange(int(seconds * SR)) / SR
    return (amplitude * np.sin(2 * np.pi * hz * t)).astype(np.float32)


def voice(seconds=2.0, seed=0):
    """A harmonic 'voice' at 150 Hz with a slow level contour and a little breath noise: (N,) float32."""
    t = np.arange(int(seconds * SR)) / SR
    y = sum(np.sin(2 * np.pi * 150 * k * t) / k for k in range(1, 20)) * (0.6 + 0.4 * np.sin(2 * np.pi * 2 * t))
    return (0.1 * y + 0.003 * np.random.default_rng(seed).standard_normal(len(t))).astype(np.float32)


def snr_db(clean, mixed):
    """10 log10(P_clean / P_(mixed - clean)), measured from the two signals."""
    clean, mixed = np.asarray(clean, np.float64), np.asarray(mixed, np.float64)
    return 10 * np.log10(np.mean(clean ** 2) / np.mean((mixed - clean) ** 2))


def band_energy(y, low, high):
    spectrum = np.abs(np.fft.rfft(np.asarray(y, np.float64))) ** 2
    f = np.fft.rfftfreq(len(y), 1 / SR)
    return spectrum[(f >= low) & (f < high)].sum()


# ------------------------------------------------------------------ each condition, measured
@pytest.mark.parametrize("snr", stress.SNRS_DB)
def test_babble_is_the_other_talkers_mixed_at_the_snr_asked_for(snr):
    y, talkers = voice(2.0, 0), [voice(1.3, 1) * 0.5, tone(310, 3.0), voice(0.7, 2) * 2]
    out = stress.degrade(y, f"babble{snr}", np.random.default_rng(0), talkers)
    assert out.shape == y.shape
    assert abs(snr_db(y, out) - snr) < 0.5, snr_db(y, out)
    looped = sum(np.resize(t, len(y)) / np.sqrt(np.mean(np.resize(t, len(y)) ** 2)) for t in talkers)
    assert np.corrcoef(out - y, looped)[0, 1] > 0.999  # what was added is those talkers, each at unit power
    assert stress.degrade(y, f"babble{snr}", np.random.default_rng(0), []) is None  # no other talker: left out


@pytest.mark.parametrize("colour, slope", [("pink", -1.0), ("brown", -2.0)])
def test_coloured_noise_has_its_slope_and_the_snr_asked_for(colour, slope):
    y = voice(4.0)
    for snr in stress.SNRS_DB:
        out = stress.degrade(y, f"{colour}{snr}", np.random.default_rng(snr), [])
        assert abs(snr_db(y, out) - snr) < 0.5, (colour, snr, snr_db(y, out))
    f, power = scipy.signal.welch(out - y, SR, nperseg=4096)  # the noise alone, (F,)
    fit = (f >= 100) & (f <= 4000)
    measured = np.polyfit(np.log10(f[fit]), np.log10(power[fit]), 1)[0]  # power ~ f^slope
    assert abs(measured - slope) < 0.2, (colour, measured)


def test_the_telephone_line_leaves_almost_nothing_above_3_4_khz():
    """White noise in, the energy left above a frequency against the input's there. The band edges are Butterworth
    skirts (zero phase: -6 dB at 3.4 kHz itself), so the first few hundred Hz above 3.4 kHz keep some: above 3.4 kHz
    as a whole 20 dB down, above 3.7 kHz 30 dB, above 4 kHz (the 8 kHz line's Nyquist) 50 dB. A 1 kHz tone passes
    within 0.5 dB; a 100 Hz hum loses 30 dB or more."""
    white = np.random.default_rng(0).standard_normal(4 * SR).astype(np.float32) * 0.1
    out = stress.degrade(white, "telephone", None, [])
    for low, down_db in ((3400, 20), (3700, 30), (4000, 50)):
        left_db = 10 * np.log10(band_energy(out, low, SR / 2) / band_energy(white, low, SR / 2))
        assert left_db < -down_db, (low, left_db)
    def gain_db(hz):  # a tone's level through the line, away from the filter's edges in time
        return 20 * np.log10(np.std(channel.telephone(tone(hz), SR)[2000:-2000]) / np.std(tone(hz)))
    assert abs(gain_db(1000)) < 0.5 and gain_db(100) < -30, (gain_db(1000), gain_db(100))


@pytest.mark.skipif(stress.CODEC != "mp3", reason="this libsndfile has no MP3 encoder (stress falls back to Vorbis)")
def test_mp3_at_32_kbit_s_changes_the_signal_and_keeps_its_length_and_timing():
    y = voice(3.0)
    kbit_s = 8 * len(channel.encode(y, SR, "mp3", 32)) / 3.0 / 1000  # measured from the file's bytes
    assert abs(kbit_s - 32) < 3, kbit_s
    out = stress.degrade(y, "mp3", None, [])
    assert out.shape == y.shape and out.dtype == np.float32
    assert 3 < snr_db(y, out) < 40, snr_db(y, out)  # the same voice, audibly coded
    lag = np.argmax(scipy.signal.correlate(out, y, mode="full")) - (len(y) - 1)
    assert abs(lag) <= 1, lag  # lined up with the original
    import soundfile as sf  # the decoder's own stream: its delay (found here independently) and a padded frame
    decoded, _ = sf.read(io.BytesIO(channel.encode(y, SR, "mp3", 32)), dtype="float64")
    delay = np.argmax(scipy.signal.correlate(decoded, y, mode="full")) - (len(y) - 1)
    extra_ms = 1000 * (len(decoded) - delay - len(y)) / SR
    assert 0 <= delay <= channel.MAX_CODER_DELAY and -1 <= extra_ms <= 36 + 1, (delay, extra_ms)  # a frame: 36 ms


def test_the_fallback_ogg_vorbis_at_its_lowest_quality_is_near_32_kbit_s_and_lined_up():
    """Where libsndfile has no MP3, stress codes with Vorbis at its lowest quality: about the same bit rate."""
    y = voice(3.0)
    kbit_s = 8 * len(channel.encode(y, SR, "ogg", 32)) / 3.0 / 1000
    assert 20 < kbit_s < 48, kbit_s
    out = channel.codec_round_trip(y, SR, "ogg", 32)
    lag = np.argmax(scipy.signal.correlate(out, y, mode="full")) - (len(y) - 1)
    assert out.shape == y.shape and abs(lag) <= 1 and 3 < snr_db(y, out) < 40, (lag, snr_db(y, out))


def test_a_cut_clip_is_its_first_seconds_and_a_shorter_clip_is_left_out():
    y = voice(3.0)
    for seconds in (1, 2):
        out = stress.degrade(y, f"cut{seconds}s", None, [])
        assert len(out) == seconds * SR and close(out, y[: seconds * SR], atol=0.0)
    assert stress.degrade(y, "cut4s", None, []) is None and stress.degrade(y, "cut8s", None, []) is None


def test_every_condition_is_handled_and_seeded_the_same_on_a_rerun():
    y, pool = voice(2.5), [("b", voice(1.0, 1)), ("c", voice(1.5, 2)), ("d", tone(220, 2.0)), ("a", voice(2.0, 3))]
    config = {"input": "mfcc_f0"}
    first = stress.versions(y, 7, "a", list(stress.CONDITIONS), 0, pool, config)
    again = stress.versions(y, 7, "a", ["pink10", "babble5"], 0, pool, config)  # fewer conditions, same seeds
    assert set(first) == set(stress.CONDITIONS) - {"cut4s", "cut8s"}  # 2.5 s: too short for those two
    assert all(close(first[n], again[n], atol=1e-5) for n in again)
    assert not close(first["pink10"], first["pink20"], atol=1e-3)


# ------------------------------------------------------------------ the draw and the headline
def test_the_draw_keeps_each_strata_share_and_is_seeded():
    rows = [{"path": f"{i}", "gender": "male" if i % 4 else "female", "emotion": "angry" if i < 50 else "calm"}
            for i in range(100)]  # 75 male, 25 female; half angry
    picked = stress.sample(rows, 40, seed=3)
    assert len(picked) == 40 and sum(r["gender"] == "female" for r in picked) == 10
    assert sum(r["emotion"] == "angry" for r in picked) == 20
    assert picked == stress.sample(rows, 40, seed=3) and picked != stress.sample(rows, 40, seed=4)
    assert stress.sample(rows, 500, seed=0) == rows


def test_adults_known_only_by_their_age_group_count_among_the_adults_by_hand():
    """Four clips: a woman of 30 (age_years), a man known only as "adult" (RAVDESS: no age in years), a boy of 8, a
    girl known only as "teen". Adults are the first two:
      gender (adults): female right, male called female -> 1 / 2 (loco alone, by age_years: 1 / 1)
      adults as adults: predicted adult, child -> 1 / 2
      age MAE over the clips with age_years: |28 - 30| + |10 - 8| = 4 / 2; the median 20: 10 + 12 = 22 / 2"""
    rows = [dict(speaker="w", gender="female", age="adult", age_years="30"), dict(speaker="m", gender="male",
            age="adult", age_years=""), dict(speaker="b", gender="male", age="child", age_years="8"),
            dict(speaker="g", gender="female", age="teen", age_years="")]
    vocabs = {"gender": ["female", "male"], "age": ["child", "teen", "adult", "senior"], "age_years": None}
    genders, ages, years = ["female", "female", "male", "female"], ["adult", "child", "child", "teen"], [28, 40, 10, 15]
    pairs = [(row, {"gender": np.eye(2)[vocabs["gender"].index(g)], "age": np.eye(4)[vocabs["age"].index(a)],
                    "age_years": float(y)}) for row, g, a, y in zip(rows, genders, ages, years)]
    s = stress.scored(pairs, vocabs, median=20.0)
    assert (s["clips"], s["adult_clips"]) == (4, 2)
    assert s["gender_adults"] == pytest.approx(1 / 2, abs=1e-12)
    assert s["adults_as_adults"] == pytest.approx(1 / 2, abs=1e-12)
    assert s["age_mae"] == pytest.approx(4 / 2, abs=1e-12) and s["median_mae"] == pytest.approx(22 / 2, abs=1e-12)
    assert [loco.is_adult(r) for r in rows] == [True, True, False, False]


def test_the_worst_cell_leaves_out_cells_with_too_few_adults():
    cells = {"clean": {"adult_clips": 300, "gender_adults": 0.95, "adults_as_adults": 0.97},
             "babble5": {"adult_clips": 300, "gender_adults": 0.81, "adults_as_adults": float("nan")},
             "emotion: sad, female": {"adult_clips": 12, "gender_adults": 0.20, "adults_as_adults": 0.5}}
    assert stress.worst(cells, "gender_adults") == {"cell": "babble5", "value": pytest.approx(0.81, abs=1e-12)}
    assert stress.worst(cells, "adults_as_adults")["cell"] == "clean"  # NaN is no score
    assert stress.worst({"x": cells["emotion: sad, female"]}, "gender_adults") is None


# ------------------------------------------------------------------ the command
def aged(rows):
    """The tiny corpus (every speaker in an adult decade, "20s".."60s") with an emotion per clip, so there are cells
    to group, and ages in years (the decade + 5) for half its speakers: the others are adults by their group."""
    for i, row in enumerate(rows):
        row["emotion"] = ("neutral", "angry", "sad")[i % 3]
        row["age_years"] = str(int(row["age"][:2]) + 5) if int(row["speaker"][-3:]) % 2 else ""


@pytest.mark.slow
def test_the_command_on_the_tiny_run_scores_every_condition_and_names_the_worst_cell(tiny, tmp_path,
                                                                                     one_torch_thread):
    manifest = with_rows(tiny, tmp_path, aged)
    code, out, err = cli_in_process(stress.main, tiny, tiny["run"], "--manifest", manifest, "--split", "all",
                                    "--clips", 24, "--out", tmp_path / "stress.json")
    assert code == 0, err
    table = json.loads((tmp_path / "stress.json").read_text(encoding="utf-8"))
    assert (table["sampled"], table["of"], table["scored"]) == (24, 36, 24)
    assert set(stress.CONDITIONS) <= set(table["cells"]), sorted(table["cells"])
    assert any(name.startswith("emotion: ") for name in table["cells"])  # the groups of the clean clips
    assert table["cells"]["cut8s"]["clips"] == 0 and table["cells"]["cut8s"]["left_out"] == 24  # 4 s clips
    assert table["cells"]["cut2s"]["clips"] == 24
    for score in stress.SCORES:
        worst = table["worst"][score]
        assert worst["cell"] in table["cells"] and table["cells"][worst["cell"]]["adult_clips"] >= 20
        assert f"worst {stress.SCORES[score]}: " in out and worst["cell"] in out
    code, _, err = cli_in_process(stress.main, tiny, tiny["run"], "--manifest", manifest, "--split", "all",
                                  "--clips", 24, "--conditions", "babble5,mp3,pink10", "--out", tmp_path / "again.json")
    again = json.loads((tmp_path / "again.json").read_text(encoding="utf-8"))
    for name in ("babble5", "mp3", "pink10"):  # a rerun, with other conditions beside: the same numbers
        assert all(close(again["cells"][name][k], table["cells"][name][k], atol=1e-9)
                   for k in ("gender_adults", "adults_as_adults")), name
    code, md, err = cli_in_process(stress.main, tiny, "--table", f"tiny={tmp_path / 'stress.json'}")
    assert code == 0, err
    lines = md.splitlines()
    assert lines[0].startswith("| condition | clips | gender (adults) | adults as adults | age MAE (median) |")
    assert all(any(line.startswith(f"| {cell['what']} |") for line in lines) for cell in table["cells"].values())
    assert "**" in md and "(few)" in md and "Worst cell: gender (adults)" in md


def test_bad_input_is_one_line_and_exit_code_2(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    rows = "path,speaker,gender,age_years,split\n" + "".join(
        f"a{i}.wav,s{i},{'male' if i % 2 else 'female'},{30 if i < 4 else 10},{'test' if i >= 4 else 'train'}\n"
        for i in range(8))
    (tmp_path / "m.csv").write_text(rows, encoding="utf-8")
    (tmp_path / "noages.csv").write_text("path,speaker,gender,split\na.wav,s1,male,test\n", encoding="utf-8")
    (tmp_path / "nogender.csv").write_text("path,speaker,age_years,split\na.wav,s1,40,test\n", encoding="utf-8")
    (tmp_path / "other.json").write_text('{"model": "x"}', encoding="utf-8")
    for argv, words in (
            ([tmp_path / "missing", "--manifest", tmp_path / "m.csv", "--split", "all"], ["missing", "no such run"]),
            ([run, "--manifest", tmp_path / "nothere.csv"], ["nothere.csv", "manifest not found"]),
            ([run, "--manifest", tmp_path / "noages.csv"], ["noages.csv", "no clip of the test split has an adult"]),
            ([run, "--manifest", tmp_path / "nogender.csv"], ["nogender.csv", "has a gender"]),
            ([run, "--manifest", tmp_path / "m.csv"], ["no clip of the test split has an adult", "--split all"]),
            ([run, "--manifest", tmp_path / "m.csv", "--conditions", "clean,thunder"], ["unknown condition 'thunder'"]),
            ([run, "--manifest", tmp_path / "m.csv", "--clips", "0"], ["--clips must be 1 or more", "got 0"]),
            ([run, "--manifest", tmp_path / "m.csv", "--seed", "-1"], ["--seed 0 or more", "and -1"]),
            ([run, "--manifest", tmp_path / "m.csv", "--out", tmp_path / "other.json"], ["other.json", "not a stress"]),
            ([run, "--manifest", tmp_path / "m.csv", "--split", "all"], ["run", "no best.pt or last.pt"]),
            (["--table", f"x={tmp_path / 'other.json'}"], ["other.json", "not a stress JSON"]),
            (["--table", f"x={tmp_path / 'gone.json'}"], ["gone.json"])):
        code, out, err = cli_in_process(stress.main, None, *argv)
        assert code == 2, (argv, out, err)
        one_line_error(err, *words)
