"""Tests of data.py: manifests, splits, labels, windows, batches, the epoch plan, the sampler, the synth corpus, the CLI.

Expectations come from outside the code under test: numbers written into the files by hand, counts of a known
label mix. Run: python -m pytest tests/test_data.py
"""
import csv
import os
from collections import Counter

import numpy as np
import pytest
import soundfile as sf

import data
from corpora import cli as corpora_cli
import sampling
from extras import synth_corpus
from scale import files
from conftest import close

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
    files.write_manifest(rows, path)
    text = path.read_text(encoding="utf-8")
    assert "a/x.wav" in text and str(tmp_path / "a") not in text, "paths inside the folder become relative"
    back = data.read_manifest(path)
    assert back == [{**r, "note": r.get("note", "")} for r in rows]


def test_write_manifest_is_atomic(tmp_path):
    path = tmp_path / "m.csv"
    files.write_manifest([row(tmp_path / "x.wav", "s1")], path)
    before = path.read_bytes()
    with pytest.raises(KeyError):  # a row without "path" fails half-way through writing
        files.write_manifest([row(tmp_path / "y.wav", "s2"), {"speaker": "s3"}], path)
    assert path.read_bytes() == before, "a failed write must leave the old manifest untouched"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.csv"], "no temporary file left behind"


def test_read_manifest_errors_name_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.csv"):
        data.read_manifest(tmp_path / "nope.csv")
    bad = write_csv(tmp_path / "cols.csv", ["path", "gender"], [["x.wav", "male"]])
    with pytest.raises(ValueError, match=r"cols\.csv: missing column\(s\) speaker; expected at least path, speaker"):
        data.read_manifest(bad)
    few = write_csv(tmp_path / "few.csv", ["path", "speaker", "gender"], [["x.wav", "s1", "male"]])
    row, = data.read_manifest(few)  # absent label and split columns read as empty; the split is assigned
    assert (row["gender"], row["age"], row["dialect"], row["split"]) == ("male", "", "", "train")
    header = list(data.COLUMNS)
    bad = write_csv(tmp_path / "split.csv", header, [["x.wav", "s1", "", "", "", "train"],
                                                     ["y.wav", "s2", "", "", "", "training"]])
    with pytest.raises(ValueError, match=r"split\.csv: line 3: split 'training'"):
        data.read_manifest(bad)
    bad = write_csv(tmp_path / "overlap.csv", header, [["x.wav", "s1", "", "", "", "train"],
                                                       ["y.wav", "s1", "", "", "", "test"]])
    with pytest.raises(ValueError, match=r"overlap\.csv: speaker 's1' appears in splits test and train"):
        data.read_manifest(bad)
    bad = write_csv(tmp_path / "empty.csv", header, [])
    with pytest.raises(ValueError, match=r"empty\.csv: manifest has no rows"):
        data.read_manifest(bad)


# ---------------------------------------------------------------- splits
def grid_rows(n_speakers, clips=3):
    """Speakers over 4 label signatures (n_speakers/4 each), `clips` rows per speaker."""
    signatures = [("male", "20s"), ("female", "20s"), ("male", "60s"), ("female", "60s")]
    return [row(f"/d/{s}_{c}.wav", f"spk{s:03d}", gender=signatures[s % 4][0], age=signatures[s % 4][1])
            for s in range(n_speakers) for c in range(clips)]


def speakers_per_split(rows):
    return {s: {r["speaker"] for r in rows if r["split"] == s} for s in data.SPLITS}


def test_assign_splits_is_speaker_disjoint_stratified_and_seeded():
    rows = data.assign_splits(grid_rows(200), fractions=(0.8, 0.1, 0.1), seed=1)
    per = speakers_per_split(rows)
    assert not (per["train"] & per["val"] or per["train"] & per["test"] or per["val"] & per["test"])
    assert [len(per[s]) for s in data.SPLITS] == [160, 20, 20], "80/10/10 of 200 speakers"
    for task in data.TASKS:  # each label value is split ~80/10/10 on its own
        for value in {r[task] for r in rows}:
            group = {r["speaker"]: r["split"] for r in rows if r[task] == value}
            counts = Counter(group.values())
            n = len(group)
            assert all(abs(counts[s] - f * n) <= 2 for s, f in zip(data.SPLITS, (0.8, 0.1, 0.1))), (task, value, counts)
    assert data.assign_splits(grid_rows(200), (0.8, 0.1, 0.1), seed=1) == rows, "same seed, same splits"
    assert data.assign_splits(grid_rows(200), (0.8, 0.1, 0.1), seed=2) != rows, "another seed, other splits"


@pytest.mark.parametrize("n_speakers,n_val", [(40, 8), (125, 25), (200, 25), (240, 25), (1000, 100)])
def test_validation_grows_to_25_speakers_on_small_corpora(n_speakers, n_val):
    """10 % of the speakers, raised towards 25 but never above 20 %: 12 validation speakers decide nothing."""
    per = speakers_per_split(data.assign_splits(grid_rows(n_speakers, clips=1), seed=0))
    assert len(per["val"]) == n_val and len(per["test"]) == round(0.1 * n_speakers), {k: len(v) for k, v in per.items()}


def test_small_validation_split_still_holds_every_class():
    """120 synthetic-style speakers over 2 x 5 x 6 labels: 12 validation and 12 test speakers must still hold
    both genders about equally, every age group and every dialect (a combination-stratified split did not:
    it left whole dialects out of validation). Greedy stratification is within one speaker of ideal."""
    from extras import synth
    plan = synth.plan_corpus(120, seed=0)
    rows = data.assign_splits([{"path": f"/{p['speaker']}.wav", "speaker": p["speaker"], "gender": p["gender"],
                                "age": p["age"], "dialect": p["dialect"], "split": ""} for p in plan], fractions=(0.8, 0.1, 0.1), seed=0)
    for split in ("val", "test"):
        part = [r for r in rows if r["split"] == split]
        assert len(part) == 12
        genders, ages, dialects = (Counter(r[t] for r in part) for t in ("gender", "age", "dialect"))
        assert set(genders) == set(synth.GENDERS) and abs(genders["male"] - 6) <= 1, (split, genders)
        assert set(ages) == set(synth.AGES) and max(ages.values()) <= 4, (split, ages)  # ideal 2.4 each
        assert set(dialects) == set(synth.DIALECTS) and max(dialects.values()) <= 3, (split, dialects)  # ideal 2


def test_paths_outside_the_manifest_folder_are_written_absolute(tmp_path, monkeypatch):
    """A path relative to the working directory must still point at the same file when read back from a
    manifest written elsewhere."""
    (tmp_path / "audio").mkdir()
    (tmp_path / "audio" / "a.wav").write_bytes(b"")
    monkeypatch.chdir(tmp_path)
    files.write_manifest([row("audio/a.wav", "s1", split="train")], tmp_path / "out" / "m.csv")
    back = data.read_manifest(tmp_path / "out" / "m.csv")
    assert back[0]["path"] == str((tmp_path / "audio" / "a.wav").resolve()), back[0]["path"]


def test_empty_split_cells_are_filled_by_speaker_and_seed(tmp_path):
    rows = grid_rows(40)
    for r in rows[:6]:
        r["split"] = "test"  # two speakers come with a split; the other 38 do not
    files.write_manifest(rows, tmp_path / "m.csv")
    a, b = data.read_manifest(tmp_path / "m.csv", seed=3), data.read_manifest(tmp_path / "m.csv", seed=3)
    assert [r["split"] for r in a] == [r["split"] for r in b], "same seed, same splits"
    assert all(r["split"] in data.SPLITS for r in a), "no row is left without a split (none silently dropped)"
    assert [r["split"] for r in a[:6]] == ["test"] * 6, "given splits are kept"
    per = speakers_per_split(a)
    assert not (per["train"] & per["val"] or per["train"] & per["test"] or per["val"] & per["test"])


def test_assign_splits_keeps_preset_splits():
    rows = grid_rows(40)
    for r in rows[:30]:  # the first 10 speakers come with TIMIT-style train/test
        r["split"] = "test" if r["speaker"] < "spk005" else "train"
    out = data.assign_splits(rows, seed=0)
    assert [r["split"] for r in out[:30]] == [r["split"] for r in rows[:30]]
    assert all(r["split"] in data.SPLITS for r in out)
    assert rows[-1]["split"] == "", "the input rows are not modified"
    with pytest.raises(ValueError, match="fractions"):
        data.assign_splits(rows, fractions=(0.5, 0.1, 0.1))


# ---------------------------------------------------------------- labels
def test_vocabs_sort_naturally_and_unknowns_become_nan():
    rows = [row("/a.wav", "s1", age="100s"), row("/b.wav", "s2", age="5s", gender=""),
            row("/c.wav", "s3", age="20s", gender="male") | {"age_years": "27.5"}]
    vocabs = data.build_vocabs(rows, data.TASKS + ("age_years",))
    assert vocabs == {"age": ["5s", "20s", "100s"], "gender": ["female", "male"], "dialect": ["경상"], "age_years": None}
    codes = data.encode_labels(rows, vocabs)  # (3, 4) float32
    assert codes.dtype == np.float32 and np.allclose(codes[1, :3:2], [0.0, 0.0], rtol=0, atol=1e-9) and np.isnan(codes[1, 1])
    assert np.allclose(codes[2], [1.0, 1.0, 0.0, 27.5], rtol=0, atol=1e-5) and np.isnan(codes[0, 3]), "numeric tasks keep the number"
    with pytest.raises(ValueError, match=r"/d.wav: dialect label '제주'"):
        data.encode_labels([row("/d.wav", "s4", dialect="제주")], vocabs)
    for bad in ("inf", "nan", "-5", "131", "1e400"):  # no age in years: one line naming the file and the value
        with pytest.raises(ValueError, match=rf"/e.wav: age_years value '{bad}' is not a number in 0-130"):
            data.encode_labels([row("/e.wav", "s5") | {"age_years": bad}], vocabs)


# ---------------------------------------------------------------- windows, batches and the epoch plan
@pytest.mark.parametrize("T,starts", [(150, [0]), (400, [0]), (401, [0]), (410, [0]), (411, [0, 11]),
                                      (800, [0, 400]), (1000, [0, 300, 600]), (1200, [0, 400, 800])])
def test_window_starts_cover_the_clip_without_near_duplicates(T, starts):
    """A 4.00 s clip has 401 frames: one window, not two one frame apart (up to 10 frames may stay unjudged)."""
    assert sampling.window_starts(T, 400) == starts


def test_batches_cut_pad_and_report_lengths():
    long = np.random.default_rng(0).standard_normal((3, 13, 1000)).astype(np.float32)  # 10 s of "mfcc"
    short = np.ones((3, 13, 150), np.float32)  # 1.5 s
    labels = [[0, 1, np.nan], [1, 0, 2]]
    batches = sampling.Batches(data.Features("mfcc", [long, short]), labels, 400)
    x, lengths, y = batches[[[0, 250], [1, 0], [0, 900]]]
    assert x.shape == (3, 3, 13, 400) and x.dtype == np.float32 and lengths.tolist() == [400, 150, 100]
    assert close(x[0], long[..., 250:650]) and close(x[2, ..., :100], long[..., 900:])
    assert x[1, ..., :150].min() == 1 and not x[1, ..., 150:].any() and not x[2, ..., 100:].any()
    assert close(y[1], [1, 0, 2]) and np.isnan(y[0, 2])


def test_epoch_plan_is_a_function_of_seed_and_epoch():
    lengths = np.array([1000, 150, 400, 800])  # frames of each clip
    a = sampling.epoch_plan(7, 3, lengths, 400, batch_size=2)
    assert [b.shape for b in a] == [(2, 2), (2, 2)]
    assert all(np.array_equal(x, y) for x, y in zip(a, sampling.epoch_plan(7, 3, lengths, 400, batch_size=2)))
    assert not all(np.array_equal(x, y) for x, y in zip(a, sampling.epoch_plan(7, 4, lengths, 400, batch_size=2)))
    spec = np.concatenate(a)
    assert sorted(spec[:, 0]) == [0, 1, 2, 3], "without weights every clip once"
    T = lengths[spec[:, 0]]
    assert np.all(spec[:, 1] >= 0) and np.all(spec[:, 1] <= np.maximum(T - 400, 0)), "crops inside the clip"
    many = np.concatenate(sampling.epoch_plan(0, 0, np.tile(lengths, 500), 400, batch_size=100))
    starts = many[many[:, 0] % 4 == 0, 1]  # crops of 1000-frame clips: uniform over 0..600
    assert starts.min() < 30 and starts.max() > 570, "crops reach both ends of a clip"


# ---------------------------------------------------------------- balanced sampling
def class_shares(labels, column, weights):
    """Expected share of each class of a column under the sampling weights (known rows only)."""
    y, known = labels[:, column], ~np.isnan(labels[:, column])
    return {k: weights[known & (y == k)].sum() / weights[known].sum() for k in np.unique(y[known])}


def test_a_single_task_is_balanced_exactly_and_unknown_rows_keep_their_weight():
    labels = np.array([[0.0]] * 80 + [[1.0]] * 20 + [[np.nan]] * 20)  # 80 / 20 known, 20 unknown
    w = sampling.balance_weights(labels, [0])
    assert np.allclose(list(class_shares(labels, 0, w).values()), [0.5, 0.5])
    assert np.isclose(w[:80].mean() * 80 / 20, w[80:100].mean()), "1 / count within the known rows"
    assert np.isclose(w[100:].mean(), w[:100].mean()), "unknown rows draw like an average known row"


def test_joint_balancing_flattens_every_trained_task_at_once():
    """Two correlated labels (80 % of the males are old): balancing one leaves the other skewed; joint raking
    flattens both marginals, and the draws of a real sampler follow the weights."""
    rng = np.random.default_rng(0)
    gender = (rng.random(2000) < 0.8).astype(float)  # 80 % male
    age = np.where(gender == 1, rng.random(2000) < 0.8, rng.random(2000) < 0.3).astype(float)
    dialect = rng.integers(0, 3, 2000).astype(float)
    labels = np.stack([age, gender, dialect], axis=1)
    only_gender = sampling.balance_weights(labels, [1])
    assert abs(class_shares(labels, 0, only_gender)[1.0] - 0.5) > 0.04, "age stays skewed when only gender is balanced"
    joint = sampling.balance_weights(labels, [0, 1])
    for column in (0, 1):
        assert np.allclose(list(class_shares(labels, column, joint).values()), 0.5, atol=1e-3)
    spec = np.concatenate(sampling.epoch_plan(0, 0, np.full(2000, 500), 400, 100, joint))
    drawn = Counter(gender[spec[:, 0]])
    assert abs(drawn[1.0] / len(spec) - 0.5) < 0.04, drawn
    assert abs(class_shares(labels, 2, joint)[0.0] - 1 / 3) < 0.05, "an untrained task is left as it was"


def test_several_corpora_are_balanced_beside_the_classes():
    """Three corpora of 70 / 20 / 10 % whose genders differ (the largest mostly male): with their corpus names the
    weights flatten gender and corpus at once; without (or with one corpus, or none named) only gender."""
    rng = np.random.default_rng(1)
    corpus = np.array(["big"] * 1400 + ["mid"] * 400 + ["small"] * 200)
    male = np.where(corpus == "big", rng.random(2000) < 0.8, rng.random(2000) < 0.3).astype(float)
    labels = male[:, None]
    w = sampling.balance_weights(labels, [0], corpus)
    assert np.allclose(list(class_shares(labels, 0, w).values()), 0.5, atol=1e-3)
    for name in ("big", "mid", "small"):
        assert w[corpus == name].sum() / w.sum() == pytest.approx(1 / 3, abs=1e-3), name
    plain = sampling.balance_weights(labels, [0])
    assert plain[corpus == "big"].sum() / plain.sum() > 0.6, "without the names the largest corpus dominates"
    assert np.allclose(sampling.balance_weights(labels, [0], np.full(2000, "one")), plain)
    assert np.allclose(sampling.balance_weights(labels, [0], np.full(2000, "")), plain)


def test_a_rare_class_is_not_replayed_beyond_the_cap():
    """One clip in 100: equal shares would draw it 50 times per epoch; the cap allows MAX_REPLAY (5) times."""
    labels = np.array([[0.0]] * 99 + [[1.0]])
    w = sampling.balance_weights(labels, [0])
    assert np.isclose(w.max(), sampling.MAX_REPLAY) and np.isclose(w.mean(), 1.0)
    assert class_shares(labels, 0, w)[1.0] == pytest.approx(sampling.MAX_REPLAY / 100), "the cap wins over equality"
    # water-filling by hand: 90 / 9 / 1 clips. Class 2 is capped at 5 x 1 % = 0.05; the other two would get
    # 0.475 each, but class 1 may have at most 5 x 9 % = 0.45; class 0 takes the rest, 0.5
    assert np.allclose(sampling.class_targets([90, 9, 1]), [0.5, 0.45, 0.05])
    assert np.allclose(sampling.class_targets([50, 30, 20]), [1 / 3] * 3), "no cap binds: equal shares"


# ---------------------------------------------------------------- the synthetic corpus and the CLI
def test_synth_corpus_is_written_once_and_reused(tmp_path):
    manifest_csv = synth_corpus.make_synth_corpus(tmp_path / "c", n_speakers=10, n_utterances=1, seed=3)
    rows = data.read_manifest(manifest_csv)  # also checks speaker-disjointness
    assert len(rows) == 10 and len({r["speaker"] for r in rows}) == 10
    assert [len(s) for s in speakers_per_split(rows).values()] == [7, 2, 1]  # validation_fraction(10) = 0.2
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
    assert corpora_cli.main(["describe", str(tmp_path / "missing.csv")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and "missing.csv" in err, err
    assert corpora_cli.main(["synth", "--out", str(tmp_path / "s"), "--speakers", "0"]) == 2
    assert capsys.readouterr().err.startswith("error: ")
    assert corpora_cli.main(["timit", "--root", str(tmp_path / "nowhere"), "--out", str(tmp_path / "m.csv")]) == 2
    assert "nowhere: corpus folder not found" in capsys.readouterr().err


# ---------------------------------------------------------------- worker processes (issue 30, case 9)
def test_workers_never_outnumber_the_jobs_or_the_cores():
    """--workers 100 on 60 clips started 100 processes: now at most one per job and one per core, and at least one."""
    from scale import workers
    cores = os.cpu_count() or 1
    assert workers.processes(100, 60) == min(60, cores)
    assert workers.processes(100, 3) == min(3, cores)
    assert workers.processes(2, 1) == 1 and workers.processes(0, 10) == 1 and workers.processes(4, 0) == 1


def test_load_features_with_100_workers_on_3_clips_starts_at_most_3_processes(tmp_path, monkeypatch):
    """Every process a pool starts is counted (multiprocessing's Process.start), whatever module makes the pool."""
    import multiprocessing.process
    started, real_start = [], multiprocessing.process.BaseProcess.start

    def counted(self):
        started.append(self)
        return real_start(self)
    monkeypatch.setattr(multiprocessing.process.BaseProcess, "start", counted)
    t = np.arange(SR) / SR
    rows = []
    for k in range(3):
        sf.write(tmp_path / f"{k}.wav", (0.3 * np.sin(2 * np.pi * (120 + 40 * k) * t)).astype(np.float32), SR)
        rows.append({"path": str(tmp_path / f"{k}.wav"), "speaker": f"s{k}", "split": "train"})
    feats, kept, _ = data.load_features(rows, "mfcc", workers=100)
    assert len(kept) == 3 and len(feats) == 3
    assert 1 <= len(started) <= min(3, os.cpu_count() or 1), f"{len(started)} processes for 3 clips"


# ---------------------------------------------------------------- a long span, a block at a time (scale/blocks.py)
def test_a_long_segment_is_featurised_in_blocks_like_the_span_read_whole(tmp_path):
    """A 66 s segment (5-71 s of a 75 s file) is longer than data.LONG_S, so clip_features reads it 30 s at a time:
    its frame count is the span's, and frames at least 2 s from a block edge are those of the span read whole and
    extracted at once, within 0.01 dB (only power_to_db's 80 dB floor is per block)."""
    import features
    rng = np.random.default_rng(5)
    t = np.arange(75 * SR) / SR
    y = (0.3 * np.sin(2 * np.pi * (140 + 30 * np.sin(0.7 * t)) * t) * ((t % 0.6) < 0.4)
         + 0.01 * rng.standard_normal(len(t))).astype(np.float32)
    sf.write(tmp_path / "long.wav", y, SR, subtype="FLOAT")
    row = {"path": str(tmp_path / "long.wav"), "speaker": "s", "start_s": "5", "end_s": "71"}
    assert 71 - 5 > data.LONG_S
    x = data.clip_features(row, "mfcc")
    whole = features.extract(y[5 * SR:71 * SR], SR, "mfcc")  # (3, 13, T) the span at once
    assert abs(x.shape[-1] - whole.shape[-1]) <= 1, (x.shape, whole.shape)
    inner = np.r_[200:2800, 3200:5800]  # frames >= 2 s from the block edges at 3000 and 6000 frames
    worst = np.abs(x[..., inner] - whole[..., inner]).max()
    assert worst < 0.01, f"largest difference {worst:.3g}"
