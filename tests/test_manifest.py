"""manifest.py: zip-member paths in manifests, the per-speaker consistency policy (majority vote, a tie ->
unknown), and one-line errors for unreadable CSV. Expected rows and counts are written by hand."""
import csv

import pytest

from corpora import cli as corpora_cli
from corpora.speakers import resolve_speaker_conflicts, speaker_columns
from data import PER_CLIP_COLUMNS, TASKS, read_manifest
from scale.files import write_manifest


def row(speaker, path="/d/x.wav", split="train", gender="female", age="20s", dialect="경상", **extra):
    return {"path": path, "speaker": speaker, "gender": gender, "age": age, "dialect": dialect, "split": split,
            **extra}


# ---------------------------------------------------------------- zip members
def test_member_paths_relative_in_the_file_absolute_in_memory(tmp_path):
    inside = f"{tmp_path}/corpus/[원천]음성.zip::TS/서울/clip_1.wav"
    outside = "/elsewhere/[원천]b.zip::a/clip_2.wav"
    write_manifest([row("s1", inside), row("s2", outside, split="test")], tmp_path / "m.csv")
    with open(tmp_path / "m.csv", encoding="utf-8", newline="") as f:
        cells = [r["path"] for r in csv.DictReader(f)]
    assert cells == ["corpus/[원천]음성.zip::TS/서울/clip_1.wav", outside]
    assert [r["path"] for r in read_manifest(tmp_path / "m.csv")] == [inside, outside]
    (tmp_path / "m.csv").write_text("path,speaker,gender,age,dialect,split\n"
                                    "../up/a.zip::x\\y.wav,s1,,,,train\n", encoding="utf-8")
    assert read_manifest(tmp_path / "m.csv")[0]["path"] == f"{tmp_path.parent}/up/a.zip::x/y.wav"  # members: "/"


# ---------------------------------------------------------------- one speaker, one set of labels
def test_majority_vote_tie_unknown_and_the_warning():
    rows = ([row("F01", gender="male") for _ in range(12)] + [row("F01", gender="female")]
            + [row("M02", age="20s"), row("M02", age="20s"), row("M02", age="30s"), row("M02", age="30s")]
            + [row("K03", dialect=""), row("K03", dialect="제주"), row("K03", dialect="제주")])
    with pytest.warns(UserWarning) as record:
        out = resolve_speaker_conflicts(rows, "m.csv", PER_CLIP_COLUMNS, TASKS)
    assert [r["gender"] for r in out[:13]] == ["male"] * 13
    assert [r["age"] for r in out[13:17]] == [""] * 4, "a 2/2 tie is unknown, never guessed"
    assert [r["dialect"] for r in out[17:]] == ["제주"] * 3, "an unknown cell next to known ones is filled"
    assert rows[12]["gender"] == "female", "the input rows are not modified"
    message = str(record[0].message)
    assert message == ("m.csv: 2 speakers with conflicting labels, resolved by majority vote (a tie -> unknown): "
                       "speaker 'F01': gender male 12 / female 1 -> male; speaker 'M02': age 20s 2 / 30s 2 -> "
                       "(unknown); 1 unknown cells filled from the speaker's other clips")


def test_per_clip_columns_and_numbers_are_not_voted():
    rows = [row("a", emotion="happy", age_years="29", education="BS", text="hello"),
            row("a", emotion="sad", age_years="30", education="BS", text="bye"),
            row("b", emotion="angry", age_years="41", education="MS", text="hi"),
            row("b", emotion="calm", age_years="41.5", education="PHD", text="yo"),
            row("c", emotion="calm", education="HS"), row("c", emotion="calm", education="HS")]
    assert speaker_columns(rows, PER_CLIP_COLUMNS, TASKS) == ["gender", "age", "dialect", "education"], \
        "emotion varies within 2 of 3 speakers (per clip); age_years is numbers; text is per clip"
    with pytest.warns(UserWarning, match=r"1 speakers .* speaker 'b': education MS 1 / PHD 1 -> \(unknown\)"):
        out = resolve_speaker_conflicts(rows, "manifest", PER_CLIP_COLUMNS, TASKS)
    assert [r["emotion"] for r in out] == [r["emotion"] for r in rows]
    assert [r.get("age_years") for r in out] == ["29", "30", "41", "41.5", None, None]
    assert [r["education"] for r in out] == ["BS", "BS", "", "", "HS", "HS"]


def test_consistent_speakers_pass_silently(recwarn):
    rows = [row("a"), row("a"), row("b", gender="male", dialect="")]
    assert resolve_speaker_conflicts(rows, "manifest", PER_CLIP_COLUMNS, TASKS) == rows and not recwarn.list


def test_read_manifest_applies_the_policy(tmp_path):
    write_manifest([row("F01", "/d/a.wav", gender="male"), row("F01", "/d/b.wav", gender="male"),
                    row("F01", "/d/c.wav", gender="female")], tmp_path / "m.csv")
    with pytest.warns(UserWarning, match=r"m\.csv: 1 speakers .* gender male 2 / female 1 -> male"):
        rows = read_manifest(tmp_path / "m.csv")
    assert [r["gender"] for r in rows] == ["male"] * 3


# ---------------------------------------------------------------- unreadable CSV
def test_a_huge_cell_a_nul_and_an_endless_path_are_one_line_errors(tmp_path):
    path = tmp_path / "m.csv"
    path.write_text("path,speaker,gender,age,dialect,split\nx.wav,s1,,,,\n" + "y.wav,s2," + "x" * 200_000 + ",,,\n",
                    encoding="utf-8")
    with pytest.raises(ValueError) as info:
        read_manifest(path)
    assert str(info.value).startswith(f"{path}: line 3: unreadable CSV (field larger than field limit")
    path.write_bytes("path,speaker,gender,age,dialect,split\nx\x00.wav,s1,,,,\n".encode("utf-16"))
    with pytest.raises(ValueError, match=f"{path}: line 2: the path cell holds a NUL character"):
        read_manifest(path)
    path.write_text("path,speaker,gender,age,dialect,split\n" + "y" * 5000 + ".wav,s1,,,,\n", encoding="utf-8")
    with pytest.raises(ValueError, match=f"{path}: line 2: the path cell holds 5004 characters \\(> 4096\\)"):
        read_manifest(path)


def test_speaker_folds_are_disjoint_cover_train_and_val_and_spread_every_label():
    """23 training/validation speakers in 3 label combinations (12, 7, 4 speakers) and 2 test speakers, 4 folds:
    every train/val speaker is validated exactly once, never in two folds; test rows never appear; fold sizes
    differ by at most one speaker, and so do each combination's speakers per fold."""
    from collections import Counter
    from corpora.speakers import speaker_folds
    combos = [("male", "20s")] * 12 + [("female", "20s")] * 7 + [("female", "60s")] * 4
    rows = [row(f"s{i:02d}", path=f"/d/s{i}_{u}.wav", split="val" if i % 5 == 0 else "train", gender=g, age=a)
            for i, (g, a) in enumerate(combos) for u in range(2)]
    rows += [row(f"t{i}", path=f"/d/t{i}.wav", split="test") for i in range(2)]
    folds = speaker_folds(rows, TASKS, k=4, seed=3)
    assert len(folds) == 4
    held = [{r["speaker"] for r in fold if r["split"] == "val"} for fold in folds]
    assert sorted(s for h in held for s in h) == sorted({f"s{i:02d}" for i in range(23)}), "each speaker once"
    for fold, h in zip(folds, held):
        assert len(fold) == 46 and not any(r["split"] == "test" or r["speaker"].startswith("t") for r in fold)
        assert {r["speaker"] for r in fold if r["split"] == "train"} == {f"s{i:02d}" for i in range(23)} - h
    assert max(map(len, held)) - min(map(len, held)) <= 1
    for combo in set(combos):
        per_fold = [sum(combos[int(s[1:])] == combo for s in h) for h in held]
        assert max(per_fold) - min(per_fold) <= 1, (combo, per_fold)
    assert speaker_folds(rows, TASKS, k=4, seed=3) == folds and speaker_folds(rows, TASKS, k=4, seed=4) != folds
    with pytest.raises(ValueError, match="at least 30 training and validation speakers"):
        speaker_folds(rows, TASKS, k=30)
    assert Counter(r["split"] for r in folds[0]) == Counter(val=2 * len(held[0]), train=46 - 2 * len(held[0]))


def test_corpora_folds_writes_one_manifest_per_fold(tmp_path, capsys):
    rows = [row(f"s{i}", path=str(tmp_path / f"s{i}.wav"), split="test" if i == 0 else "train") for i in range(7)]
    write_manifest(rows, tmp_path / "m.csv")
    assert corpora_cli.main(["folds", str(tmp_path / "m.csv"), "--k", "3", "--out", str(tmp_path / "folds")]) == 0
    written = [read_manifest(tmp_path / "folds" / f"fold{i}.csv") for i in range(3)]
    assert [sum(r["split"] == "val" for r in fold) for fold in written] == [2, 2, 2]
    assert "fold2.csv: 6 clips, 6 speakers" in capsys.readouterr().out
    assert corpora_cli.main(["folds", str(tmp_path / "m.csv"), "--k", "1", "--out", str(tmp_path / "f1")]) == 2
    assert capsys.readouterr().err.strip() == "error: --k 1: cross-validation needs at least 2 folds"
