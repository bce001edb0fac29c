"""corpora.py on tiny fixture trees written here (AI Hub JSON + WAV, Common Voice TSV + MP3, TIMIT LDC
layout in NIST SPHERE) and on the real TIMIT sample, whose labels are checked by hand against spkrinfo.txt."""
import json
import re
from collections import Counter

import numpy as np
import pytest
import soundfile as sf

import corpora
from corpora import aihub_rows, commonvoice_rows, timit_rows
from describe import describe

SR = 16000  # Hz


def write_audio(path, fmt="WAV", subtype=None, seconds=0.25):
    path.parent.mkdir(parents=True, exist_ok=True)
    y = 0.1 * np.sin(2 * np.pi * 220.0 * np.arange(int(SR * seconds)) / SR)
    sf.write(path, y, SR, format=fmt, subtype=subtype)


def write_json(path, doc, text=None):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text if text is not None else json.dumps(doc, ensure_ascii=False), encoding="utf-8")


def freetalk(stem, gender="남", age=34, city="부산", recorder="R001"):
    """자유대화 음성 layout."""
    return {"발화정보": {"stt": "안녕하세요", "fileNm": f"{stem}.wav", "recrdTime": "0.25"},
            "대화정보": {"recrdEnvrn": "실내", "colctUnitCode": "AI챗봇", "cityCode": city,
                     "recrdUnit": "스마트폰", "convrsThema": "일상"},
            "녹음자정보": {"gender": gender, "recorderId": recorder, "age": age}}


def speaker_block(stem, gender="여성", age="20대", region="충청북도"):
    """The 화자정보 layout (명령어 음성 and others)."""
    return {"기본정보": {"DataCategory": "명령어"}, "전사정보": {"LabelText": "불 켜 줘"},
            "파일정보": {"FileName": f"{stem}.wav", "FileLength": "0.25"},
            "화자정보": {"SpeakerName": "S042", "Gender": gender, "Age": age, "Region": region}}


@pytest.fixture
def aihub_tree(tmp_path):
    write_json(tmp_path / "라벨" / "자유대화" / "a1.json", freetalk("a1"))
    write_json(tmp_path / "라벨" / "자유대화" / "a2.json", freetalk("a2", "여", "20대", "서울", "R002"))
    write_json(tmp_path / "라벨" / "명령어" / "b1.json", speaker_block("b1"))
    for stem in ("a1", "a2"):
        write_audio(tmp_path / "원천" / "자유대화" / f"{stem}.wav")
    write_audio(tmp_path / "원천" / "명령어" / "b1.flac", fmt="FLAC")
    return tmp_path


# ---------------------------------------------------------------- AI Hub
def test_aihub_both_layouts(aihub_tree):
    rows = {r["path"].rsplit("/", 1)[-1]: r for r in aihub_rows(aihub_tree)}
    assert sorted(rows) == ["a1.wav", "a2.wav", "b1.flac"]
    a1, a2, b1 = rows["a1.wav"], rows["a2.wav"], rows["b1.flac"]
    assert (a1["speaker"], a1["gender"], a1["age"], a1["dialect"]) == ("R001", "male", "30s", "경상")
    assert (a2["speaker"], a2["gender"], a2["age"], a2["dialect"]) == ("R002", "female", "20s", "수도권")
    assert (b1["speaker"], b1["gender"], b1["age"], b1["dialect"]) == ("S042", "female", "20s", "충청")
    assert a1["split"] == "" and a1["text"] == "안녕하세요" and b1["text"] == "불 켜 줘"
    assert "/원천/" in a1["path"]


def test_aihub_pairs_by_filenm_when_json_stem_differs(tmp_path):
    doc = freetalk("clip_7")
    doc["발화정보"]["fileNm"] = "clip_7.wavp"  # a typo seen in real releases
    write_json(tmp_path / "라벨" / "label_7.json", doc)
    write_audio(tmp_path / "원천" / "clip_7.wav")
    assert aihub_rows(tmp_path)[0]["path"].endswith("clip_7.wav")


def test_aihub_unknown_layout_names_file_and_keys(tmp_path):
    write_json(tmp_path / "odd.json", {"meta": {}, "speaker": {}})
    with pytest.raises(ValueError, match=r"odd\.json.*'meta', 'speaker'"):
        aihub_rows(tmp_path)


def test_aihub_malformed_json_names_file(tmp_path):
    write_json(tmp_path / "broken.json", None, text='{"발화정보": {')
    with pytest.raises(ValueError, match=r"broken\.json: malformed JSON"):
        aihub_rows(tmp_path)


def test_aihub_unknown_gender_names_file_and_value(tmp_path):
    write_json(tmp_path / "x.json", freetalk("x", gender="중"))
    write_audio(tmp_path / "x.wav")
    with pytest.raises(ValueError, match=r"x\.json: unknown gender value '중'"):
        aihub_rows(tmp_path)


def test_aihub_unknown_region_names_file_and_value(tmp_path):
    write_json(tmp_path / "x.json", freetalk("x", city="Atlantis"))
    write_audio(tmp_path / "x.wav")
    with pytest.raises(ValueError, match=r"x\.json: unknown region value 'Atlantis'"):
        aihub_rows(tmp_path)


def test_aihub_missing_audio(aihub_tree):
    write_json(aihub_tree / "라벨" / "자유대화" / "lonely.json", freetalk("lonely"))
    with pytest.raises(FileNotFoundError, match=r"lonely\.json"):
        aihub_rows(aihub_tree)
    with pytest.warns(UserWarning, match="skipped 1 label files"):
        assert len(aihub_rows(aihub_tree, skip_missing=True)) == 3


def test_aihub_blank_labels_are_unknown(tmp_path):
    write_json(tmp_path / "x.json", freetalk("x", gender="", age="", city=""))
    write_audio(tmp_path / "x.wav")
    row = aihub_rows(tmp_path)[0]
    assert (row["gender"], row["age"], row["dialect"]) == ("", "", "")


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
    assert corpora._timit_age("01/30/86", "12/03/57") == 28
    assert speakers["MBCG0"]["dialect"] == "army_brat" and speakers["FBCG1"]["gender"] == "female"
    split_of = {}
    for r in rows:
        assert split_of.setdefault(r["speaker"], r["split"]) == r["split"], "speaker in two splits"
    val = [s for s, split in split_of.items() if split == "val"]
    assert sorted(s[0] for s in val) == ["F", "M"], f"one val speaker per sex expected, got {val}"
    assert set(split_of.values()) == {"train", "val"}  # the sample holds TRN speakers only
    assert [r["split"] for r in timit_rows(timit_dir)] == [r["split"] for r in rows]  # seeded
    assert rows[0]["text"].startswith("She had your dark suit")


SPKRINFO = """; comment lines start with a semicolon
;ID  Sex DR Use  RecDate   BirthDate  Ht    Race Edu  Comments
ABC0  F  1  TRN  03/11/86  05/20/50  5'05"  WHT  BS
XYZ0  M  2  TST  01/30/86  ??/??/??  5'9"   WHT  MS
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
    assert sf.info(rows[0]["path"]).format == "NIST"


def test_timit_missing_spkrinfo(tmp_path):
    with pytest.raises(FileNotFoundError, match="spkrinfo"):
        timit_rows(tmp_path)


# ---------------------------------------------------------------- describe
def test_describe_counts(aihub_tree):
    rows = aihub_rows(aihub_tree)
    rows[0]["split"] = "train"
    rows.append(dict(rows[1], path=str(aihub_tree / "gone.wav"), gender="", split="test"))
    text = describe(rows)
    print(text)
    assert "4 clips, 3 speakers" in text
    assert re.search(r"^female\s+1/1\s+0/0\s+1/1\s+2/2$", text, re.M), "female: train, test, (none), all"
    assert re.search(r"^\(unknown\)\s+0/0\s+1/1\s+0/0\s+1/1$", text, re.M)
    assert "unknown gender: 1 clips; imbalance ratio (largest/smallest class): 2.00" in text
    assert "over 3 of 4 clips" in text and "per clip mean 0.25 s" in text


def test_describe_without_audio():
    rows = [dict(path="/nowhere.wav", speaker="s", gender="male", age="", dialect="", split="")]
    assert "duration: n/a" in describe(rows)
