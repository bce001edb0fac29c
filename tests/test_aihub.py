"""aihub.py on tiny AI Hub trees written here: both label layouts, loose files and [원천]/[라벨] zip archives
(Korean names, members without the UTF-8 flag), sentinels, region codes and speaker-level extras. Expected
labels are written by hand next to the JSON that produces them."""
import io
import json
import zipfile

import numpy as np
import pytest
import soundfile as sf

from corpora import cli as corpora_cli
from corpora.aihub import aihub_rows
from data import load_audio
from data import read_manifest

SR = 16000  # Hz


def wav_bytes(f0_hz=220.0, seconds=0.25):
    """A PCM_16 WAV file's bytes: a sine of f0_hz."""
    y = 0.1 * np.sin(2 * np.pi * f0_hz * np.arange(int(SR * seconds)) / SR)
    buffer = io.BytesIO()
    sf.write(buffer, y, SR, format="WAV", subtype="PCM_16")
    return buffer.getvalue()


def write_audio(path, fmt="WAV"):
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, 0.1 * np.sin(2 * np.pi * 220.0 * np.arange(SR // 4) / SR), SR, format=fmt)


def write_json(path, doc, text=None):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text if text is not None else json.dumps(doc, ensure_ascii=False), encoding="utf-8")


def freetalk(stem, gender="남", age=34, city="부산", recorder="R001", **who):
    """자유대화 음성 layout; extra keyword arguments go into the speaker block 녹음자정보."""
    return {"발화정보": {"stt": "안녕하세요", "fileNm": f"{stem}.wav", "recrdTime": "0.25"},
            "대화정보": {"recrdEnvrn": "실내", "colctUnitCode": "AI챗봇", "cityCode": city,
                     "recrdUnit": "스마트폰", "convrsThema": "일상"},
            "녹음자정보": {"gender": gender, "recorderId": recorder, "age": age, **who}}


def speaker_block(stem, gender="여성", age="20대", region="충청북도", dialect=None, speaker="S042", **who):
    """The 화자정보 layout (명령어 음성 and others)."""
    block = {"SpeakerName": speaker, "Gender": gender, "Age": age, "Region": region, **who}
    if dialect is not None:
        block["Dialect"] = dialect
    return {"기본정보": {"DataCategory": "명령어"}, "전사정보": {"LabelText": "불 켜 줘"},
            "파일정보": {"FileName": f"{stem}.wav", "FileLength": "0.25"}, "화자정보": block}


@pytest.fixture
def aihub_tree(tmp_path):
    write_json(tmp_path / "라벨" / "자유대화" / "a1.json", freetalk("a1"))
    write_json(tmp_path / "라벨" / "자유대화" / "a2.json", freetalk("a2", "여", "20대", "서울", "R002"))
    write_json(tmp_path / "라벨" / "명령어" / "b1.json", speaker_block("b1"))
    for stem in ("a1", "a2"):
        write_audio(tmp_path / "원천" / "자유대화" / f"{stem}.wav")
    write_audio(tmp_path / "원천" / "명령어" / "b1.flac", fmt="FLAC")
    return tmp_path


# ---------------------------------------------------------------- loose files
def test_aihub_both_layouts(aihub_tree):
    rows = {r["path"].rsplit("/", 1)[-1]: r for r in aihub_rows(aihub_tree)}
    assert sorted(rows) == ["a1.wav", "a2.wav", "b1.flac"]
    a1, a2, b1 = rows["a1.wav"], rows["a2.wav"], rows["b1.flac"]
    assert (a1["speaker"], a1["gender"], a1["age"], a1["dialect"]) == ("R001", "male", "30s", "경상")
    assert (a2["speaker"], a2["gender"], a2["age"], a2["dialect"]) == ("R002", "female", "20s", "수도권")
    assert (b1["speaker"], b1["gender"], b1["age"], b1["dialect"]) == ("S042", "female", "20s", "충청")
    assert (a1["age_years"], a2["age_years"], b1["age_years"]) == ("34", "", "")  # 34 is a number, 20대 is not
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
    write_json(tmp_path / "odd.json", {"화자정보": ["not", "an", "object"]})
    with pytest.raises(ValueError, match=r"odd\.json: 화자정보 is a list, expected an object"):
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


# ---------------------------------------------------------------- sentinels, ages, regions, extras
def test_sentinels_are_unknown_and_a_sentinel_dialect_falls_back_to_region(tmp_path):
    docs = {"s1": speaker_block("s1", gender="NotProvided", age="Not Provided", region="경상남도", dialect="NotProvided"),
            "s2": speaker_block("s2", gender="N/A", age="60대 이상", region="-", dialect="제주"),
            "s3": speaker_block("s3", gender="-", age="만 26세", region="없음", dialect="미상"),
            "s4": freetalk("s4", gender="미상", age="없음", city="N/A")}
    for stem, doc in docs.items():
        write_json(tmp_path / f"{stem}.json", doc)
        write_audio(tmp_path / f"{stem}.wav")
    got = {r["path"].rsplit("/", 1)[-1]: (r["gender"], r["age"], r["age_years"], r["dialect"])
           for r in aihub_rows(tmp_path)}
    assert got == {"s1.wav": ("", "", "", "경상"), "s2.wav": ("", "60s", "", "제주"),
                   "s3.wav": ("", "20s", "26", ""), "s4.wav": ("", "", "", "")}


def test_two_digit_region_codes_need_a_system(tmp_path):
    write_json(tmp_path / "x.json", freetalk("x", city="31"))  # legal: 울산 (경상); KOSTAT: 경기 (수도권)
    write_audio(tmp_path / "x.wav")
    with pytest.raises(ValueError, match=r"x\.json: region code '31' is ambiguous.*--region-codes"):
        aihub_rows(tmp_path)
    assert aihub_rows(tmp_path, region_codes="legal")[0]["dialect"] == "경상"
    assert aihub_rows(tmp_path, region_codes="kostat")[0]["dialect"] == "수도권"
    write_json(tmp_path / "x.json", freetalk("x", city="4812100000"))  # 경상남도 창원시: 10 digits, legal
    assert aihub_rows(tmp_path)[0]["dialect"] == "경상"


def test_speaker_region_wins_over_the_conversation_city(tmp_path):
    write_json(tmp_path / "x.json", freetalk("x", city="서울", region="제주"))  # recorded in Seoul, from Jeju
    write_json(tmp_path / "y.json", freetalk("y", city="서울", recorder="R9", region="NotProvided"))
    write_audio(tmp_path / "x.wav")
    write_audio(tmp_path / "y.wav")
    rows = aihub_rows(tmp_path)
    assert [r["dialect"] for r in rows] == ["제주", "수도권"]  # a sentinel speaker region: cityCode after all
    assert "region" not in rows[0], "the field used as the dialect is not repeated as a column"


def test_other_speaker_fields_become_clean_columns(tmp_path):
    write_json(tmp_path / "x.json", speaker_block("x", Education="대졸", NoiseEnviron=" 조용함\n", Split="x",
                                                  Hobbies=["a", "b"], Height=170))
    write_audio(tmp_path / "x.wav")
    row = aihub_rows(tmp_path)[0]
    assert (row["education"], row["noise_environ"], row["speaker_split"], row["height"]) == ("대졸", "조용함", "x", "170")
    assert "hobbies" not in row and row["split"] == "", "lists are not labels; core columns are not overwritten"


def test_cli_age_bins_region_codes_and_a_bad_flag(tmp_path, capsys):
    write_json(tmp_path / "c" / "x.json", freetalk("x", age=8, city="21"))
    write_audio(tmp_path / "c" / "x.wav")
    out = tmp_path / "m.csv"
    args = ["aihub", "--root", str(tmp_path / "c"), "--out", str(out)]
    assert corpora_cli.main(args + ["--age-bins", "child:0-12,adult:13-", "--region-codes", "kostat"]) == 0
    row = read_manifest(out)[0]
    assert (row["age"], row["age_years"], row["dialect"]) == ("child", "8", "경상")  # KOSTAT 21 = 부산
    capsys.readouterr()
    assert corpora_cli.main(args) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "x.json: region code '21' is ambiguous" in err and "--region-codes" in err
    assert corpora_cli.main(args + ["--age-bins", "child:0-12,adult:14-"]) == 2
    assert "--age-bins 'child:0-12,adult:14-': 'adult' starts at 14, expected 13" in capsys.readouterr().err


# ---------------------------------------------------------------- zip archives, read in place
def write_zip(path, members, utf8_names=True):
    """A zip archive of {name: bytes}; utf8_names=False stores Korean names as CP949 bytes without the UTF-8
    flag, as Korean Windows archivers do (names are patched in after writing: zipfile always flags UTF-8)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    placeholders = {}
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for i, (name, raw) in enumerate(members.items()):
            if utf8_names or name.isascii():
                zf.writestr(name, raw)
            else:
                cp949 = name.encode("cp949")
                placeholder = f"{i:0{len(cp949)}d}"[-len(cp949):]  # ASCII of the same length
                placeholders[placeholder.encode()] = cp949
                zf.writestr(placeholder, raw)
    blob = path.read_bytes()
    for placeholder, cp949 in placeholders.items():
        blob = blob.replace(placeholder, cp949)  # local header and central directory; the CRC covers data only
    path.write_bytes(blob)


def zipped_corpus(root, utf8_names=True):
    labels = {f"TL_자유대화/서울/clip_{i}.json": json.dumps(freetalk(f"clip_{i}", recorder=f"R{i % 2}"),
                                                       ensure_ascii=False).encode() for i in range(4)}
    audio = {f"TS_자유대화/서울/clip_{i}.wav": wav_bytes(200.0 + 10 * i) for i in range(4)}
    write_zip(root / "[라벨]자유대화_training.zip", labels, utf8_names)
    write_zip(root / "[원천]자유대화_training.zip", audio, utf8_names)
    return root


@pytest.mark.parametrize("utf8_names", [True, False])
def test_zip_archives_are_read_in_place(tmp_path, utf8_names):
    root = zipped_corpus(tmp_path / "corpus", utf8_names)
    rows = aihub_rows(root)
    assert [r["path"] for r in rows] == [
        f"{root}/[원천]자유대화_training.zip::TS_자유대화/서울/clip_{i}.wav" for i in range(4)]
    assert [r["speaker"] for r in rows] == ["R0", "R1", "R0", "R1"]
    y = load_audio(rows[3]["path"])  # a 230 Hz sine, as written into the archive
    peak_hz = np.argmax(np.abs(np.fft.rfft(y))) * SR / len(y)
    assert abs(peak_hz - 230.0) <= SR / len(y), f"peak at {peak_hz} Hz, expected 230 Hz"
    assert sorted(p.name for p in root.iterdir()) == ["[라벨]자유대화_training.zip", "[원천]자유대화_training.zip"]


def test_zip_manifest_writes_the_archive_part_relative(tmp_path):
    root = zipped_corpus(tmp_path / "corpus")
    out = root / "m.csv"
    assert corpora_cli.main(["aihub", "--root", str(root), "--out", str(out)]) == 0
    text = out.read_text(encoding="utf-8")
    assert "\n[원천]자유대화_training.zip::TS_자유대화/서울/clip_0.wav," in text and str(root) not in text
    back = read_manifest(out)
    assert sorted(r["path"] for r in back) == [
        f"{root}/[원천]자유대화_training.zip::TS_자유대화/서울/clip_{i}.wav" for i in range(4)]


def test_loose_copies_win_over_archive_members(tmp_path):
    root = zipped_corpus(tmp_path / "corpus")
    (root / "unzipped").mkdir()
    (root / "unzipped" / "clip_2.wav").write_bytes(wav_bytes())
    with pytest.warns(UserWarning, match="0 label and 1 audio files are both unzipped and inside an archive"):
        rows = aihub_rows(root)
    assert rows[2]["path"] == str(root / "unzipped" / "clip_2.wav") and "::" in rows[1]["path"]
    write_zip(root / "[원천]copy.zip", {"x/clip_1.wav": wav_bytes()})  # a second member with the stem clip_1
    with pytest.raises(ValueError, match=r"two audio files share the stem 'clip_1'"):
        aihub_rows(root)
