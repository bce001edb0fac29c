"""Tests of data.py: manifests, splits, audio loading, labels, windows, the Dataset, the sampler, the synth corpus.

Expectations come from outside the code under test: numbers written into the files by hand, numpy's own mean
and FFT, counts of a known label mix. Run: python -m pytest tests/test_data.py
"""
import csv
import os
from collections import Counter

import numpy as np
import pytest
import soundfile as sf
import torch

import data
import synth_corpus
import audio
import manifest
from audio import AudioError

SR = 16000  # Hz


def write_csv(path, header, rows):
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def row(path, speaker, split="", gender="female", age="20s", dialect="경상"):
    return {"path": str(path), "speaker": speaker, "gender": gender, "age": age, "dialect": dialect,
            "split": split}


# ---------------------------------------------------------------- manifest
def test_manifest_round_trip_keeps_extras_and_resolves_relative_paths(tmp_path):
    rows = [row(tmp_path / "a" / "x.wav", "s1", "train", dialect="제주") | {"note": "한국어"},
            row("/elsewhere/y.wav", "s2", "test", age="")]
    path = tmp_path / "m.csv"
    manifest.write_manifest(rows, path)
    text = path.read_text(encoding="utf-8")
    assert "a/x.wav" in text and str(tmp_path / "a") not in text, "paths inside the folder become relative"
    back = manifest.read_manifest(path)
    assert back == [{**r, "note": r.get("note", "")} for r in rows]


def test_write_manifest_is_atomic(tmp_path):
    path = tmp_path / "m.csv"
    manifest.write_manifest([row(tmp_path / "x.wav", "s1")], path)
    before = path.read_bytes()
    with pytest.raises(KeyError):  # a row without "path" fails half-way through writing
        manifest.write_manifest([row(tmp_path / "y.wav", "s2"), {"speaker": "s3"}], path)
    assert path.read_bytes() == before, "a failed write must leave the old manifest untouched"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.csv"], "no temporary file left behind"


def test_read_manifest_errors_name_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.csv"):
        manifest.read_manifest(tmp_path / "nope.csv")
    bad = write_csv(tmp_path / "cols.csv", ["path", "speaker", "gender"], [["x.wav", "s1", "male"]])
    with pytest.raises(ValueError, match=r"cols\.csv: missing column\(s\) age, dialect, split"):
        manifest.read_manifest(bad)
    header = list(manifest.COLUMNS)
    bad = write_csv(tmp_path / "split.csv", header, [["x.wav", "s1", "", "", "", "train"],
                                                     ["y.wav", "s2", "", "", "", "training"]])
    with pytest.raises(ValueError, match=r"split\.csv: line 3: split 'training'"):
        manifest.read_manifest(bad)
    bad = write_csv(tmp_path / "overlap.csv", header, [["x.wav", "s1", "", "", "", "train"],
                                                       ["y.wav", "s1", "", "", "", "test"]])
    with pytest.raises(ValueError, match=r"overlap\.csv: speaker 's1' appears in splits test and train"):
        manifest.read_manifest(bad)
    bad = write_csv(tmp_path / "empty.csv", header, [])
    with pytest.raises(ValueError, match=r"empty\.csv: manifest has no rows"):
        manifest.read_manifest(bad)


# ---------------------------------------------------------------- splits
def grid_rows(n_speakers, clips=3):
    """Speakers over 4 label signatures (n_speakers/4 each), `clips` rows per speaker."""
    signatures = [("male", "20s"), ("female", "20s"), ("male", "60s"), ("female", "60s")]
    return [row(f"/d/{s}_{c}.wav", f"spk{s:03d}", gender=signatures[s % 4][0], age=signatures[s % 4][1])
            for s in range(n_speakers) for c in range(clips)]


def speakers_per_split(rows):
    return {s: {r["speaker"] for r in rows if r["split"] == s} for s in manifest.SPLITS}


def test_assign_splits_is_speaker_disjoint_stratified_and_seeded():
    rows = manifest.assign_splits(grid_rows(200), seed=1)
    per = speakers_per_split(rows)
    assert not (per["train"] & per["val"] or per["train"] & per["test"] or per["val"] & per["test"])
    assert [len(per[s]) for s in manifest.SPLITS] == [160, 20, 20], "80/10/10 of 200 speakers"
    for task in manifest.TASKS:  # each label value is split ~80/10/10 on its own
        for value in {r[task] for r in rows}:
            group = {r["speaker"]: r["split"] for r in rows if r[task] == value}
            counts = Counter(group.values())
            n = len(group)
            assert all(abs(counts[s] - f * n) <= 2 for s, f in zip(manifest.SPLITS, (0.8, 0.1, 0.1))), (task, value, counts)
    assert manifest.assign_splits(grid_rows(200), seed=1) == rows, "same seed, same splits"
    assert manifest.assign_splits(grid_rows(200), seed=2) != rows, "another seed, other splits"


def test_small_validation_split_still_holds_every_class():
    """120 synthetic-style speakers over 2 x 5 x 6 labels: 12 validation and 12 test speakers must still hold
    both genders about equally, every age group and every dialect (a combination-stratified split did not:
    it left whole dialects out of validation). Greedy stratification is within one speaker of ideal."""
    import synth
    plan = synth.plan_corpus(120, seed=0)
    rows = manifest.assign_splits([{"path": f"/{p['speaker']}.wav", "speaker": p["speaker"], "gender": p["gender"],
                                "age": p["age"], "dialect": p["dialect"], "split": ""} for p in plan], seed=0)
    for split in ("val", "test"):
        part = [r for r in rows if r["split"] == split]
        assert len(part) == 12
        genders, ages, dialects = (Counter(r[t] for r in part) for t in ("gender", "age", "dialect"))
        assert set(genders) == set(synth.GENDERS) and abs(genders["male"] - 6) <= 1, (split, genders)
        assert set(ages) == set(synth.AGES) and max(ages.values()) <= 4, (split, ages)  # ideal 2.4 each
        assert set(dialects) == set(synth.DIALECTS) and max(dialects.values()) <= 3, (split, dialects)  # ideal 2


def test_paths_outside_the_manifest_folder_are_written_absolute(tmp_path, monkeypatch):
    """A path relative to the working directory must still point at the same file when read back from a
    manifest written elsewhere (it used to be copied as written and then resolved against the wrong folder)."""
    (tmp_path / "audio").mkdir()
    (tmp_path / "audio" / "a.wav").write_bytes(b"")
    monkeypatch.chdir(tmp_path)
    manifest.write_manifest([row("audio/a.wav", "s1", split="train")], tmp_path / "out" / "m.csv")
    back = manifest.read_manifest(tmp_path / "out" / "m.csv")
    assert back[0]["path"] == str((tmp_path / "audio" / "a.wav").resolve()), back[0]["path"]


def test_empty_split_cells_are_filled_by_speaker_and_seed(tmp_path):
    rows = grid_rows(40)
    for r in rows[:6]:
        r["split"] = "test"  # two speakers come with a split; the other 38 do not
    manifest.write_manifest(rows, tmp_path / "m.csv")
    a, b = manifest.read_manifest(tmp_path / "m.csv", seed=3), manifest.read_manifest(tmp_path / "m.csv", seed=3)
    assert [r["split"] for r in a] == [r["split"] for r in b], "same seed, same splits"
    assert all(r["split"] in manifest.SPLITS for r in a), "no row is left without a split (none silently dropped)"
    assert [r["split"] for r in a[:6]] == ["test"] * 6, "given splits are kept"
    per = speakers_per_split(a)
    assert not (per["train"] & per["val"] or per["train"] & per["test"] or per["val"] & per["test"])


def test_assign_splits_keeps_preset_splits():
    rows = grid_rows(40)
    for r in rows[:30]:  # the first 10 speakers come with TIMIT-style train/test
        r["split"] = "test" if r["speaker"] < "spk005" else "train"
    out = manifest.assign_splits(rows, seed=0)
    assert [r["split"] for r in out[:30]] == [r["split"] for r in rows[:30]]
    assert all(r["split"] in manifest.SPLITS for r in out)
    assert rows[-1]["split"] == "", "the input rows are not modified"
    with pytest.raises(ValueError, match="fractions"):
        manifest.assign_splits(rows, fractions=(0.5, 0.1, 0.1))


# ---------------------------------------------------------------- audio
def test_stereo_is_mixed_to_the_mean(tmp_path):
    rng = np.random.default_rng(0)
    stereo = rng.uniform(-0.5, 0.5, (SR, 2)).astype(np.float32)  # (N, 2)
    sf.write(tmp_path / "st.wav", stereo, SR, subtype="FLOAT")
    y = audio.load_audio(tmp_path / "st.wav")
    diff = np.max(np.abs(y - stereo.mean(axis=1)))
    assert y.dtype == np.float32 and y.shape == (SR,) and diff < 1e-7, f"largest difference {diff}"


@pytest.mark.parametrize("file_sr", [8000, 44100])
def test_resampling_keeps_length_and_frequency(tmp_path, file_sr):
    f0_hz, seconds = 440.0, 1.0
    t = np.arange(int(file_sr * seconds)) / file_sr
    sf.write(tmp_path / "sine.wav", 0.5 * np.sin(2 * np.pi * f0_hz * t), file_sr, subtype="FLOAT")
    y = audio.load_audio(tmp_path / "sine.wav", sr=SR)
    assert len(y) == int(seconds * SR), f"{len(y)} samples, expected {int(seconds * SR)}"
    spectrum = np.abs(np.fft.rfft(y * np.hanning(len(y))))
    peak_hz = np.argmax(spectrum) * SR / len(y)
    bin_hz = SR / len(y)
    assert abs(peak_hz - f0_hz) <= bin_hz, f"peak at {peak_hz} Hz, expected {f0_hz} Hz (bin {bin_hz} Hz)"


def test_int16_is_scaled_to_unit_range(tmp_path):
    pcm = np.array([0, 16384, -16384, 32767, -32768] * 400, dtype=np.int16)  # 2000 samples = 0.125 s
    sf.write(tmp_path / "i16.wav", pcm, SR, subtype="PCM_16")
    y = audio.load_audio(tmp_path / "i16.wav")
    expected = pcm / 32768.0  # PCM_16 full scale
    assert np.max(np.abs(y - expected)) < 1e-7 and y.min() == -1.0


def bad_files(folder):
    """name -> path of one bad input each."""
    (folder / "corrupt.wav").write_bytes(b"RIFF\x00\x01garbage" * 10)
    sf.write(folder / "empty.wav", np.zeros(0, np.float32), SR)
    nan = np.full(SR, 0.1, np.float32)
    nan[100] = np.nan
    sf.write(folder / "nan.wav", nan, SR, subtype="FLOAT")
    sf.write(folder / "zero.wav", np.zeros(SR, np.float32), SR)
    sf.write(folder / "short.wav", np.full(800, 0.1, np.float32), SR)  # 0.05 s
    return {"missing": folder / "missing.wav", "corrupt": folder / "corrupt.wav",
            "empty": folder / "empty.wav", "nan": folder / "nan.wav", "zero": folder / "zero.wav",
            "short": folder / "short.wav"}


@pytest.mark.parametrize("case, problem", [("missing", "not found"), ("corrupt", "unreadable"),
                                           ("empty", "0 samples"), ("nan", "NaN"), ("zero", "all-silent"),
                                           ("short", "too short")])
def test_bad_audio_raises_one_line_naming_the_file(tmp_path, case, problem):
    path = bad_files(tmp_path)[case]
    with pytest.raises(AudioError) as info:
        audio.load_audio(path)
    message = str(info.value)
    assert message.startswith(f"{path}: ") and problem in message and "\n" not in message, message


# ---------------------------------------------------------------- labels
def test_vocabs_sort_naturally_and_unknowns_become_minus_one():
    rows = [row("/a.wav", "s1", age="100s"), row("/b.wav", "s2", age="5s", gender=""),
            row("/c.wav", "s3", age="20s", gender="male")]
    vocabs = manifest.build_vocabs(rows, manifest.TASKS)
    assert vocabs == {"age": ["5s", "20s", "100s"], "gender": ["female", "male"], "dialect": ["경상"]}
    assert manifest.encode_labels(rows[1], vocabs).tolist() == [0, -1, 0]
    assert manifest.encode_labels(rows[2], vocabs, ["gender", "age"]).dtype == np.int64
    with pytest.raises(ValueError, match=r"/d.wav: dialect label '제주'"):
        manifest.encode_labels(row("/d.wav", "s4", dialect="제주"), vocabs)


# ---------------------------------------------------------------- windows and the Dataset
def test_windows_cut_and_pad():
    x = np.arange(2 * 10, dtype=np.float32).reshape(2, 10) + 1  # (features, frames), no zeros inside
    w = data.windows(x, 4)
    assert w.shape == (3, 2, 4)
    assert np.array_equal(w[0], x[:, 0:4]) and np.array_equal(w[1], x[:, 4:8])
    assert np.array_equal(w[2], x[:, 6:10]), "the tail window is aligned with the clip's end, not padded"
    short = data.windows(x[:, :3], 4)
    assert short.shape == (1, 2, 4) and np.array_equal(short[0][:, :3], x[:, :3]) and not short[0][:, 3:].any(), \
        "a clip shorter than one window gives one zero-padded window"
    assert data.windows(x[:, :8], 4).shape == (2, 2, 4), "exact multiples need no extra window"
    assert data.windows(x[:, :4], 4).shape == (1, 2, 4)


def test_dataset_crops_and_pads():
    long = np.random.default_rng(0).standard_normal((3, 13, 1000)).astype(np.float32)  # 10 s of "mfcc"
    short = np.ones((3, 13, 150), np.float32)  # 1.5 s
    labels = [[0, 1, -1], [1, 0, 2]]
    train = data.ProfilingDataset([long, short], labels, "mfcc", train=True, seed=0)
    starts = set()
    for _ in range(20):
        x, y = train[0]
        assert x.shape == (3, 13, 400) and x.dtype == torch.float32 and y.tolist() == [0, 1, -1]
        start = int(np.argmin(np.abs(long[0, 0] - x[0, 0, 0].item())))  # locate the crop in the clip
        assert np.array_equal(x.numpy(), long[..., start:start + 400])
        starts.add(start)
    assert len(starts) > 1, "training crops are random"
    x, _ = train[1]
    assert x.shape == (3, 13, 400) and x[..., :150].eq(1).all() and not x[..., 150:].any()
    evaluation = data.ProfilingDataset([long, short], labels, "mfcc", train=False)
    assert np.array_equal(evaluation[0][0].numpy(), long[..., :400]), "evaluation takes the first window"
    with pytest.raises(ValueError, match="does not match input 'mel'"):
        data.ProfilingDataset([long], [[0, 0, 0]], "mel", train=True)


# ---------------------------------------------------------------- balanced sampling
def test_balanced_sampler_equalises_a_90_10_label():
    rows = [row(f"/{i}.wav", f"s{i}", gender="male" if i < 900 else "female") for i in range(1000)]
    vocabs = manifest.build_vocabs(rows, manifest.TASKS)
    sampler = data.balanced_sampler(rows, vocabs, "gender", num_samples=20000, seed=0)
    drawn = Counter(rows[i]["gender"] for i in sampler)
    frac = drawn["female"] / 20000
    assert abs(frac - 0.5) < 0.02, f"female drawn {frac:.3f} of the time, expected 0.5"
    assert data.balanced_sampler(rows, vocabs, "none") is None
    with pytest.raises(ValueError, match="none, gender, age, dialect, joint"):
        data.balanced_sampler(rows, vocabs, "speaker")


def test_unknown_labels_get_the_mean_weight_and_joint_has_a_floor():
    rows = ([row(f"/m{i}.wav", "s", gender="male") for i in range(60)]
            + [row(f"/f{i}.wav", "s", gender="female") for i in range(20)]
            + [row(f"/u{i}.wav", "s", gender="") for i in range(20)])
    weights = data.balanced_sampler(rows, manifest.build_vocabs(rows), "gender").weights.numpy()
    known_mean = (60 / 60 + 20 / 20) / 80  # mean of 1/count over the 80 known rows
    assert np.allclose(weights[80:], known_mean) and np.isclose(weights[0], 1 / 60)
    rows = ([row(f"/a{i}.wav", "s", age="20s") for i in range(50)]
            + [row(f"/b{i}.wav", "s", age="30s") for i in range(10)]
            + [row(f"/c{i}.wav", "s", age="40s") for i in range(1)])
    weights = data.balanced_sampler(rows, {}, "joint").weights.numpy()  # median combination: 10 clips
    assert np.isclose(weights[0], 1 / 50) and np.isclose(weights[50], 1 / 10) and np.isclose(weights[60], 1 / 10)


# ---------------------------------------------------------------- the synthetic corpus and the CLI
def test_synth_corpus_is_written_once_and_reused(tmp_path):
    manifest_csv = synth_corpus.make_synth_corpus(tmp_path / "c", n_speakers=10, n_utterances=1, seed=3)
    rows = manifest.read_manifest(manifest_csv)  # also checks speaker-disjointness
    assert len(rows) == 10 and len({r["speaker"] for r in rows}) == 10
    assert [len(s) for s in speakers_per_split(rows).values()] == [8, 1, 1]
    info = sf.info(rows[0]["path"])
    assert (info.samplerate, info.subtype, info.channels) == (SR, "PCM_16", 1)
    mtimes = {p: os.stat(p).st_mtime_ns for p in [manifest_csv] + [r["path"] for r in rows]}
    assert synth_corpus.make_synth_corpus(tmp_path / "c", n_speakers=10, n_utterances=1, seed=3) == manifest_csv
    assert {p: os.stat(p).st_mtime_ns for p in mtimes} == mtimes, "a finished corpus is not rewritten"
    synth_corpus.make_synth_corpus(tmp_path / "again", n_speakers=10, n_utterances=1, seed=3, workers=2)
    assert all(open(r["path"], "rb").read() == open(r["path"].replace("/c/", "/again/"), "rb").read()
               for r in rows), "the same seed gives byte-identical files"
    synth_corpus.make_synth_corpus(tmp_path / "c", n_speakers=2, n_utterances=1, seed=4)
    assert os.stat(manifest_csv).st_mtime_ns != mtimes[manifest_csv], "other settings regenerate"
    assert not list((tmp_path / "c").rglob("*.tmp"))


def test_cli_bad_input_is_one_line_and_exit_code_2(tmp_path, capsys):
    assert data.main(["describe", str(tmp_path / "missing.csv")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and "missing.csv" in err, err
    assert data.main(["synth", "--out", str(tmp_path / "s"), "--speakers", "0"]) == 2
    assert capsys.readouterr().err.startswith("error: ")
    assert data.main(["timit", "--root", str(tmp_path / "nowhere"), "--out", str(tmp_path / "m.csv")]) == 2
    assert "nowhere: corpus folder not found" in capsys.readouterr().err


def test_nearly_silent_clip_warns_but_loads(tmp_path):
    sf.write(tmp_path / "quiet.wav", np.full(SR, 1e-5, np.float32), SR, subtype="FLOAT")  # -100 dBFS
    with pytest.warns(UserWarning, match=r"quiet.wav: nearly silent \(peak -100 dBFS\)"):
        y = audio.load_audio(tmp_path / "quiet.wav")
    assert len(y) == SR
