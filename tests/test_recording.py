"""extras/recording.py: each check fires on a signal made to have that problem, and on nothing else.

The clean signal is a voiced, vowel-like source with pauses (a 150 Hz pulse train through a few formant-like
resonances, 300 ms on, 200 ms off, plus a quiet noise floor), full band to 8 kHz. Each test damages it in one way
whose answer is known: low-passed at 3.4 kHz, scaled into clipping, drowned in noise, cut short, attenuated.

    python -m pytest tests/test_recording.py
"""
import numpy as np
import pytest
import scipy.signal
import soundfile as sf

from extras import recording

SR = 16000


def voice(seconds=4.0, seed=0):
    """(N,) float32: a 150 Hz glottal-like pulse train through resonances at 500, 1500, 2500, 3500 Hz and a
    broad 6 kHz one, in 300 ms bursts with 200 ms pauses, peak 0.5, over a noise floor 50 dB down."""
    rng = np.random.default_rng(seed)
    n = int(seconds * SR)
    pulses = np.zeros(n)
    pulses[::SR // 150] = 1.0
    y = np.zeros(n)
    for f, bw in ((500, 80), (1500, 120), (2500, 160), (3500, 250), (6000, 1500)):
        b, a = scipy.signal.iirpeak(f, f / bw, fs=SR)
        y += scipy.signal.lfilter(b, a, pulses)
    y *= (np.arange(n) % int(0.5 * SR)) < int(0.3 * SR)  # 300 ms on, 200 ms off
    y = 0.5 * y / np.max(np.abs(y))
    return (y + 10 ** (-50 / 20) * 0.5 * rng.standard_normal(n)).astype(np.float32)


def kinds(found):
    return sorted(w.split(":")[0] for w in found)


def test_a_clean_full_band_voice_raises_nothing():
    y = voice()
    assert recording.band_drop_db(y) < recording.BAND_DROP_DB
    assert kinds(recording.warnings_of(y)) == []


@pytest.mark.parametrize("damage, expected", [
    ("telephone", ["band-limited"]),
    ("8 kHz", ["band-limited"]),
    ("clipped", ["clipped"]),
    ("short", ["short"]),
    ("quiet", ["quiet"]),
])
def test_each_damage_is_named(damage, expected):
    y = voice()
    if damage == "telephone":
        y = scipy.signal.sosfilt(scipy.signal.butter(8, [300, 3400], "bandpass", fs=SR, output="sos"), y)
    elif damage == "8 kHz":
        y = scipy.signal.resample_poly(scipy.signal.resample_poly(y, 1, 2), 2, 1)  # an 8 kHz file, played at 16
    elif damage == "clipped":
        y = np.clip(4 * y, -1, 1)
    elif damage == "short":
        y = y[:SR]  # 1 s
    elif damage == "quiet":
        y = y * 10 ** (-40 / 20)  # peak -46 dBFS
    assert kinds(recording.warnings_of(np.asarray(y, dtype=np.float32))) == expected


def test_noise_that_fills_the_pauses_is_noisy_and_white_noise_has_no_voice():
    y = voice()
    noisy = y + 0.05 * np.random.default_rng(1).standard_normal(len(y)).astype(np.float32)  # pauses filled
    assert "noisy" in kinds(recording.warnings_of(noisy))
    noise = (0.3 * np.random.default_rng(2).standard_normal(4 * SR)).astype(np.float32)
    assert kinds(recording.warnings_of(noise)) == ["no voice"], "no voiced frame: nothing to profile"


def test_the_frame_energy_range_of_a_known_signal():
    """Frames alternating between amplitude 1 and 0.01 (40 dB apart): the 95th - 10th percentile is 40 dB."""
    frames = np.repeat(np.tile([1.0, 0.01], 50), 400)  # 100 frames of 400 samples
    assert recording.frame_energy_range_db(frames) == pytest.approx(40.0, abs=0.01)


def test_unfamiliarity_is_the_mean_z_of_the_static_cepstra():
    """Features whose static cepstral rows sit exactly 2 standard deviations above the training mean: z = 2; the
    F0 row and the deltas, moved too, do not count."""
    mean, std = np.zeros((3, 14)), np.full((3, 14), 0.5)
    x = np.ones((3, 14, 50))  # every row's mean is 1 = 2 standard deviations
    x[0, 13] = 100.0  # the F0 row: not a cepstral row
    x[1:] = 50.0  # deltas: not counted
    assert recording.unfamiliarity(x, mean, std) == pytest.approx(2.0, abs=1e-9)


# ---------------------------------------------------------------- issue 30, case 11: no voice, and ages out of range
def test_a_recording_of_dither_alone_gets_no_answer_only_its_warning(tiny, tmp_path):
    """10 s of 16-bit dither (triangular, +-1 LSB) was profiled as a person (an age of -191 years on the issue's
    2-hour file), with only a 'quiet' warning. YIN, even at its lenient 0.4, finds no voiced frame: no answer."""
    import csv
    from conftest import evaluate_cli
    rng = np.random.default_rng(0)
    lsb = np.round(rng.uniform(-0.5, 0.5, 10 * SR) + rng.uniform(-0.5, 0.5, 10 * SR))  # (N,) in {-1, 0, 1}
    path = tmp_path / "dither.wav"
    sf.write(path, lsb.astype(np.int16), SR, subtype="PCM_16")
    code, out, err = evaluate_cli(tiny, tiny["run"], "--wav", path, "--out", tmp_path / "p.csv")
    assert code == 0, err
    assert out.splitlines()[0].startswith(f"{path}: 10.0 s"), out
    assert "  warning: no voice: 0.0 % of the frames voiced" in out, out
    assert not any(line.split()[0] in ("age", "gender", "dialect") for line in out.splitlines()[1:]), out
    row = next(csv.DictReader(open(tmp_path / "p.csv", encoding="utf-8", newline="")))
    assert (row["age"], row["gender"], row["dialect"]) == ("", "", ""), row
    assert "no voice: 0.0 % of the frames voiced, so no profile" in row["warnings"], row


def test_an_age_outside_the_trained_range_is_shown_at_its_edge_and_said(tiny, tmp_path, monkeypatch, capsys):
    """A run trained on ages in years (the tiny corpus's age groups as years: 25-65), whose model is made to say
    -191.2 years (mtl.predict monkeypatched): the profile shows the youngest age it learnt, and says why."""
    import csv
    import data
    import mtl
    from conftest import TINY, evaluate_cli, with_rows
    from test_train import train_here
    manifest = with_rows(tiny, tmp_path, lambda rows: [r.update(age_years=str(int(r["age"][:2]) + 5)) for r in rows])
    run = tmp_path / "run"
    code, out, err = train_here(monkeypatch, capsys, tiny, "--manifest", str(manifest), *TINY, "--epochs", "1",
                                "--tasks", "gender,age_years", "--out", str(run))
    assert code == 0, err
    trained = [float(r["age_years"]) for r in data.read_manifest(manifest) if r["split"] == "train"]
    low, high = min(trained), max(trained)
    real_predict = mtl.predict
    monkeypatch.setattr(mtl, "predict", lambda *a, **k: {**real_predict(*a, **k), "age_years": np.array([-191.2])})
    voice = data.read_manifest(manifest)[0]["path"]
    code, out, err = evaluate_cli(tiny, run, "--wav", voice, "--out", tmp_path / "p.csv")
    assert code == 0, err
    row = next(csv.DictReader(open(tmp_path / "p.csv", encoding="utf-8", newline="")))
    assert row["age_years"] == f"{low:.1f}" and f"  age_years  {low:>6.1f} years" in out, (row, out)
    said = f"outside: age_years -191.2 lies outside what the model learnt ({low:g} to {high:g})"
    assert said in row["warnings"] and f"warning: {said}" in out, (row, out)


def test_a_run_without_ranges_keeps_ages_in_0_to_130():
    """An older run's config has no 'ranges': data.NUMERIC_TASKS' 0-130 years bound the answer instead; an answer
    inside the range is shown as it is, without a warning."""
    config = {"tasks": ["age_years"], "vocabs": {"age_years": None}}
    outputs, said = recording.in_range(config, {"age_years": 150.0}, [])
    assert outputs["age_years"] == 130.0 and said == ["outside: age_years 150.0 lies outside what the model learnt "
                                                      "(0 to 130)"], said
    row = recording.profile_row("a.wav", config, outputs, said, 3.0)
    assert row["age_years"] == "130.0" and row["warnings"] == said[0], row
    assert recording.in_range(config, {"age_years": 42.04}, ["quiet: x"]) == ({"age_years": 42.04}, ["quiet: x"])


def test_a_long_recording_is_said_to_have_no_voice_only_when_no_block_has_one(tmp_path):
    """70 s in three blocks: 40 s of a voiced vowel then 30 s of faint noise is profiled (no "no voice"); 70 s of
    faint noise is not, and says so for all three blocks."""
    import soundfile as sf
    rng, t = np.random.default_rng(0), np.arange(40 * 16000) / 16000
    vowel = sum(0.3 / k * np.sin(2 * np.pi * 140 * k * t) for k in range(1, 8))  # 140 Hz and its harmonics
    noise = lambda seconds: 0.01 * rng.standard_normal(int(seconds * 16000))  # noqa: E731
    sf.write(tmp_path / "half.wav", np.concatenate([vowel, noise(30)]), 16000, subtype="PCM_16")
    sf.write(tmp_path / "none.wav", noise(70), 16000, subtype="PCM_16")
    _, found, seconds = recording.read(tmp_path / "half.wav", {"input": "mfcc_f0"})
    assert seconds == pytest.approx(70.0) and not any(w.startswith("no voice") for w in found), found
    _, found, _ = recording.read(tmp_path / "none.wav", {"input": "mfcc_f0"})
    assert any(w.startswith("no voice") and "(in 3 of 3 blocks" in w for w in found), found


def test_a_vocal_tract_run_profiles_a_wav(tiny, tmp_path, monkeypatch, capsys):
    """A run on mfcc_f0_vt (3, 19): --wav answers, and the unfamiliar-channel check reads its cepstral rows (a
    clip against its own statistics sits 0 standard deviations away)."""
    import data
    import features
    from conftest import TINY, evaluate_cli
    from test_train import train_here
    run = tmp_path / "vt"
    code, out, err = train_here(monkeypatch, capsys, tiny, "--manifest", tiny["manifest"], *TINY, "--epochs", "1",
                                "--input", "mfcc_f0_vt", "--out", str(run))
    assert code == 0, err
    voice = data.read_manifest(tiny["manifest"])[0]["path"]
    code, out, err = evaluate_cli(tiny, run, "--wav", voice)
    assert code == 0 and "mfcc_f0_vt" in out and "gender" in out, err
    x = features.extract(data.load_audio(voice), features.SR, "mfcc_f0_vt")  # (3, 19, T)
    assert recording.unfamiliarity(x, x.mean(axis=-1), x.std(axis=-1), "mfcc_f0_vt") == pytest.approx(0.0, abs=1e-6)
