"""corpora.py on tiny fixture trees written here (Common Voice TSV + MP3, TIMIT LDC layout in NIST SPHERE) and
on the real TIMIT sample, whose labels are checked by hand against spkrinfo.txt. AI Hub: tests/test_aihub.py."""
from collections import Counter

import numpy as np
import pytest
import soundfile as sf

from corpora import timit
from corpora.commonvoice import commonvoice_rows
from corpora.timit import timit_rows
from corpora.labels import parse_age_bins

SR = 16000  # Hz


def write_audio(path, fmt="WAV", subtype=None, seconds=0.25):
    path.parent.mkdir(parents=True, exist_ok=True)
    y = 0.1 * np.sin(2 * np.pi * 220.0 * np.arange(int(SR * seconds)) / SR)
    sf.write(path, y, SR, format=fmt, subtype=subtype)


# ---------------------------------------------------------------- Common Voice
CV_HEADER = "client_id\tpath\tsentence\tup_votes\tdown_votes\tage\tgender\taccents\tlocale"


def write_cv(root, name, lines, header=CV_HEADER):
    root.mkdir(parents=True, exist_ok=True)
    (root / name).write_text("\n".join([header] + lines) + "\n", encoding="utf-8")
    for line in lines:
        write_audio(root / "clips" / line.split("\t")[1], fmt="MP3")  # libsndfile >= 1.1 writes MP3


def test_commonvoice_validated(tmp_path):
    write_cv(tmp_path, "validated.tsv", [
        'aaa\tcv_1.mp3\tHe said "hi".\t2\t0\ttwenties\tmale_masculine\tUnited States English\ten',
        "aaa\tcv_2.mp3\tAgain.\t2\t0\ttwenties\tmale_masculine\tUnited States English\ten",
        "bbb\tcv_3.mp3\tHello.\t2\t0\tfourties\tfemale_feminine\t\ten",
        "ccc\tcv_4.mp3\tHey.\t2\t0\t\t\t\ten"])
    rows = commonvoice_rows(tmp_path)
    got = [(r["speaker"], r["gender"], r["age"], r["dialect"], r["split"]) for r in rows]
    assert got == [("aaa", "male", "20s", "United States English", ""),
                   ("aaa", "male", "20s", "United States English", ""),
                   ("bbb", "female", "40s", "", ""), ("ccc", "", "", "", "")]
    assert rows[0]["text"] == 'He said "hi".'
    assert sf.info(rows[0]["path"]).format == "MP3"


def test_commonvoice_official_splits_and_old_accent_column(tmp_path):
    header = CV_HEADER.replace("accents", "accent")
    for name, spk in (("train.tsv", "t"), ("dev.tsv", "d"), ("test.tsv", "e")):
        write_cv(tmp_path, name, [f"{spk}\t{spk}.mp3\tx\t2\t0\tthirties\tfemale\tscotland\ten"], header)
    rows = commonvoice_rows(tmp_path)
    assert sorted((r["speaker"], r["split"], r["dialect"]) for r in rows) == [
        ("d", "val", "scotland"), ("e", "test", "scotland"), ("t", "train", "scotland")]


def test_commonvoice_missing_column_names_file_and_column(tmp_path):
    write_cv(tmp_path, "validated.tsv", ["a\tcv_1.mp3\tx\t2\t0\ttwenties\tmale\ten"],
             header=CV_HEADER.replace("\taccents", ""))
    with pytest.raises(ValueError, match=r"validated\.tsv: missing column 'accent'"):
        commonvoice_rows(tmp_path)


def test_commonvoice_age_bins_and_sentinels(tmp_path):
    write_cv(tmp_path, "validated.tsv", ["a\tcv_1.mp3\tx\t2\t0\tteens\tNot Provided\tN/A\ten",
                                         "b\tcv_2.mp3\tx\t2\t0\tsixties\tmale\t-\ten"])
    rows = commonvoice_rows(tmp_path, bins=parse_age_bins("kid:0-9,young:10-19,adult:20-"))
    assert [(r["gender"], r["age"], r["dialect"], r["age_years"]) for r in rows] == [
        ("", "young", "", ""), ("male", "adult", "", "")]


def test_commonvoice_bad_gender_names_line(tmp_path):
    write_cv(tmp_path, "validated.tsv", ["a\tcv_1.mp3\tx\t2\t0\ttwenties\tunicorn\t\ten"])
    with pytest.raises(ValueError, match=r"validated\.tsv line 2: unknown gender value 'unicorn'"):
        commonvoice_rows(tmp_path)


# ---------------------------------------------------------------- TIMIT
def test_timit_sample(timit_dir):
    rows = timit_rows(timit_dir)
    speakers = {r["speaker"]: r for r in rows}
    assert len(rows) == 160 and len(speakers) == 16
    assert sorted(Counter(r["gender"] for r in speakers.values()).items()) == [("female", 8), ("male", 8)]
    # spkrinfo: VMH0 F 1 TRN 03/11/86 born 01/08/60 -> 26; ALK0 F 3 born 07/23/38 rec 01/28/86 -> 47;
    # ARC0 M 2 born 12/03/57 rec 01/30/86 -> 28 (birthday not yet reached in 1986)
    assert [speakers["FVMH0"][k] for k in ("gender", "age", "dialect")] == ["female", "20s", "new_england"]
    assert [speakers["FALK0"][k] for k in ("age", "dialect")] == ["40s", "north_midland"]
    assert timit._timit_age("01/30/86", "12/03/57") == 28
    assert speakers["MBCG0"]["dialect"] == "army_brat" and speakers["FBCG1"]["gender"] == "female"
    split_of = {}
    for r in rows:
        assert split_of.setdefault(r["speaker"], r["split"]) == r["split"], "speaker in two splits"
    val = [s for s, split in split_of.items() if split == "val"]
    # validation_fraction(16) = 0.2 of the 16 training speakers, stratified: 3 speakers, both sexes
    assert len(val) == 3 and {s[0] for s in val} == {"F", "M"}, f"3 val speakers of both sexes expected, got {val}"
    assert set(split_of.values()) == {"train", "val"}  # the sample holds TRN speakers only
    assert [r["split"] for r in timit_rows(timit_dir)] == [r["split"] for r in rows]  # seeded
    assert rows[0]["text"].startswith("She had your dark suit")
    # extra columns, by hand from spkrinfo.txt: VMH0 Edu BS, aged 26; ADC0 Edu HS, born 04/27/54, rec 02/25/86 -> 31
    assert (speakers["FVMH0"]["education"], speakers["FVMH0"]["age_years"]) == ("BS", "26")
    assert (speakers["MADC0"]["education"], speakers["MADC0"]["age_years"]) == ("HS", "31")
    assert Counter(r["education"] for r in speakers.values()) == {"BS": 10, "HS": 4, "MS": 2}


SPKRINFO = """; comment lines start with a semicolon
;ID  Sex DR Use  RecDate   BirthDate  Ht    Race Edu  Comments
ABC0  F  1  TRN  03/11/86  05/20/50  5'05"  WHT  BS
XYZ0  M  2  TST  01/30/86  ??/??/??  5'9"   WHT  ??
"""


def test_timit_ldc_layout_nist_sphere(tmp_path):
    (tmp_path / "DOC").mkdir()
    (tmp_path / "DOC" / "SPKRINFO.TXT").write_text(SPKRINFO)
    for utt in ("SA1", "SX3"):
        write_audio(tmp_path / "TRAIN" / "DR1" / "FABC0" / f"{utt}.WAV", fmt="NIST", subtype="PCM_16")
    write_audio(tmp_path / "TEST" / "DR2" / "MXYZ0" / "SA1.WAV", fmt="NIST", subtype="PCM_16")
    rows = timit_rows(tmp_path)
    got = [(r["speaker"], r["gender"], r["age"], r["dialect"], r["split"]) for r in rows]
    assert got == [("FABC0", "female", "30s", "new_england", "train")] * 2 + [
        ("MXYZ0", "male", "", "northern", "test")]  # 35 years old; unknown birth date -> unknown age
    assert [(r["age_years"], r["education"]) for r in rows] == [("35", "BS")] * 2 + [("", "")]  # ?? -> unknown
    assert sf.info(rows[0]["path"]).format == "NIST"
    adults = timit_rows(tmp_path, bins=parse_age_bins("young:0-29,older:30-"))
    assert [r["age"] for r in adults] == ["older", "older", ""]


def test_timit_bad_spkrinfo_line_names_file_and_line(tmp_path):
    (tmp_path / "spkrinfo.txt").write_text(SPKRINFO.replace("XYZ0  M  2", "XYZ0  Q  2"))
    write_audio(tmp_path / "dr1-fabc0" / "sa1.wav")
    with pytest.raises(ValueError, match=r"spkrinfo\.txt line 4: expected 'ID Sex DR"):
        timit_rows(tmp_path)
    (tmp_path / "spkrinfo.txt").write_text(SPKRINFO.replace("WHT  BS", "WHT  BA"))
    with pytest.raises(ValueError, match=r"spkrinfo\.txt line 3: unknown TIMIT education 'BA'"):
        timit_rows(tmp_path)


def test_timit_missing_spkrinfo(tmp_path):
    with pytest.raises(FileNotFoundError, match="spkrinfo"):
        timit_rows(tmp_path)


