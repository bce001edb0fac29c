"""AI Hub's dialect layouts on tiny label trees written here in the field shapes the corpora ship: (c) 중·노년층
한국어 방언 (speaker[] with floats such as 1968.0 and 4.0, "HH:MM:SS.mmm" sentence times, a collector) and (d)
한국어 방언 발화 (a two-speaker dialogue with interleaved utterances in seconds). The audio gives every speaker a
tone of their own, so a clip's span is checked by its spectrum peak, not by the code that cut it. Expected
labels are written by hand from the tables in docs/aihub.md."""
import json
import os
import zipfile
from datetime import datetime

import numpy as np
import pytest
import soundfile as sf

import data
from corpora import cli as corpora_cli
from corpora.aihub import aihub_rows
from data import read_manifest

SR = 16000  # Hz
TONE_HZ = {"speakerjj2": 120.0, "speakergs7": 250.0, "1": 140.0, "2": 230.0, "collectorjj9": 400.0}


def write_json(path, doc):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")


def write_turns(path, seconds, turns):
    """A WAV of `seconds` s: each (start, end, who) span holds who's tone (TONE_HZ), the rest a 60 Hz hum."""
    t = np.arange(int(seconds * SR)) / SR  # (N,) seconds
    f0 = np.full_like(t, 60.0)
    for start, end, who in turns:
        f0[(t >= start) & (t < end)] = TONE_HZ[who]
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, 0.1 * np.sin(2 * np.pi * f0 * t), SR)


def peak_hz(row):
    y = data.load_audio(row["path"], SR, *data.segment(row))  # (N,) the row's span only
    return np.argmax(np.abs(np.fft.rfft(y))) * SR / len(y)


def clock(s):
    return f"{int(s // 3600):02d}:{int(s % 3600 // 60):02d}:{s % 60:06.3f}"  # 3.5 -> "00:00:03.500"


# ---------------------------------------------------------------- (c) 중·노년층 한국어 방언
def elder_speaker(speaker_id="speakerjj2", gender="m", birth=1968.0, province="jj", education=4.0, health=1.0):
    return {"speakerId": speaker_id, "gender": gender, "birthYear": birth, "residenceProvince": province,
            "residenceCity": 129.0, "residencePeriod": 55.0, "job": "자영업", "academicBackground": education,
            "healthCondition": health}


def elder(name, speakers, sentences, record_date="20221006"):
    """The layout of KMS/sample.json: sentences are (speakerId, start s, end s, dialect text)."""
    audio = {"bitsPerSample": 16.0, "samplingFrequency": 16000.0, "channel": "Mono", "recordDate": record_date,
             "speechStartTime": clock(sentences[0][1]), "speechEndTime": clock(sentences[-1][2]),
             "recordDuration": sentences[-1][2] - sentences[0][1]}
    if record_date is None:
        del audio["recordDate"]
    words = [{"orderInFile": float(i + 1), "startTime": clock(a), "endTime": clock(b), "dialect": text.split()[0],
              "pronunciation": None, "standard": None, "voiceType": "voice_speech"}
             for i, (_, a, b, text) in enumerate(sentences)]
    return {"fileName": name, "speaker": speakers,
            "collector": {"collectorId": "collectorjj9", "residenceProvince": "jj", "residenceCity": 129.0,
                          "residencePeriod": 40.0},
            "script": {"scriptId": 15.0, "value": "어르신은 잔치 때 어떤 옷을 입고 가세요?", "domain": "의",
                       "speechType": "Speak"},
            "audio": audio,
            "transcription": {"segments": words,
                              "sentences": [{"speakerId": who, "intonations": [0.0, 112.6], "startTime": clock(a),
                                             "endTime": clock(b), "dialect": text, "pronunciation": text,
                                             "standard": text, "sentenceId": float(i + 1)}
                                            for i, (who, a, b, text) in enumerate(sentences)],
                              "dialect": " ".join(s[3] for s in sentences)}}


TALK = [("speakerjj2", 0.5, 2.0, "잔칫날은 양복 입엉 가야주"), ("speakergs7", 2.5, 4.0, "그라믄 한복은 안 입능교"),
        ("collectorjj9", 4.5, 5.5, "그러셨군요"), ("speakerjj2", 6.0, 8.0, "한복 입는 경우는 별로 없고")]


def elder_tree(root, **speaker_fields):
    name = "talk_set1_collectorjj9_speakerjj2_1_1_1"
    doc = elder(name, [elder_speaker(**speaker_fields),
                       elder_speaker("speakergs7", "f", 1950.0, "gs", 2.0, 3.0)], TALK)
    write_json(root / "라벨" / f"{name}.json", doc)
    write_turns(root / "원천" / f"{name}.wav", 9.0, [(a, b, who) for who, a, b, _ in TALK])
    return root


def test_elder_layout_one_clip_per_sentence_with_its_own_speaker(tmp_path):
    with pytest.warns(UserWarning, match=r"aihub: 1 sentences spoken by the collector \(not profiled\)"):
        rows = aihub_rows(elder_tree(tmp_path))
    got = [(r["speaker"], r["gender"], r["age"], r["age_years"], r["dialect"], r["start_s"], r["end_s"])
           for r in rows]
    assert got == [("speakerjj2", "male", "50s", "54", "제주", "0.5", "2"),  # 2022 - 1968 = 54
                   ("speakergs7", "female", "70s", "72", "경상", "2.5", "4"),  # 2022 - 1950 = 72
                   ("speakerjj2", "male", "50s", "54", "제주", "6", "8")]
    assert [(r["education"], r["education_code"], r["health_condition"], r["health_condition_code"])
            for r in rows[:2]] == [("post_secondary", "4", "none", "1"), ("middle_school", "2",
                                                                         "articulation_disorder", "3")]
    assert (rows[0]["job"], rows[0]["residence_city"], rows[0]["residence_period"]) == ("자영업", "129", "55")
    assert rows[1]["text"] == "그라믄 한복은 안 입능교" and rows[2]["duration_s"] == "2"
    for row in rows:
        assert abs(peak_hz(row) - TONE_HZ[row["speaker"]]) < 2.0, (row["speaker"], peak_hz(row))


@pytest.mark.filterwarnings("ignore:aihub. 1 sentences spoken by the collector")
def test_elder_codes_the_tables_do_not_know(tmp_path):
    with pytest.warns(UserWarning, match=r"academicBackground code 7 not in labels\.ELDER_EDUCATION, kept"):
        rows = aihub_rows(elder_tree(tmp_path, education=7.0, province="un", gender="u"))
    assert (rows[0]["education"], rows[0]["education_code"]) == ("code 7", "7"), "kept, not guessed"
    assert (rows[0]["dialect"], rows[0]["gender"]) == ("", ""), "un and u: not given"
    elder_tree(tmp_path, education=0.0)
    assert aihub_rows(tmp_path)[0]["education"] == "", "0: not given"


@pytest.mark.parametrize("field, problem", [
    (dict(province="zz"), r"region code 'zz' is not one of AI Hub's two-letter province codes "
                          r"\(labels\.AIHUB_REGION_CODES: cc, gs, gw, jd, jj, jl, kw, un\)"),
    (dict(education="고졸"), r"speaker 'speakerjj2': academicBackground value '고졸' is not a whole-number code"),
    (dict(birth=2030.0), r"speaker 'speakerjj2': birthYear 2030\.0 is not a year before 2022"),
])
def test_elder_bad_fields_are_one_line_errors_naming_the_file(tmp_path, field, problem):
    elder_tree(tmp_path, **field)
    with pytest.raises(ValueError, match=r"talk_set1_collectorjj9_speakerjj2_1_1_1\.json: .*" + problem) as info:
        aihub_rows(tmp_path)
    assert "\n" not in str(info.value)


def test_elder_sentence_of_an_unlisted_speaker_and_a_bad_time(tmp_path):
    name = "x"
    write_turns(tmp_path / f"{name}.wav", 3.0, [])
    write_json(tmp_path / f"{name}.json", elder(name, [elder_speaker()], [("speakerxx1", 0.5, 2.0, "예")]))
    with pytest.raises(ValueError, match=r"x\.json: transcription\.sentences\[0\]: speakerId 'speakerxx1' is not "
                                         r"in speaker\[\] \(speakerjj2\)"):
        aihub_rows(tmp_path)
    doc = elder(name, [elder_speaker()], [("speakerjj2", 0.5, 2.0, "예")])
    doc["transcription"]["sentences"][0]["endTime"] = "2초"
    write_json(tmp_path / f"{name}.json", doc)
    with pytest.raises(ValueError, match=r"x\.json: transcription\.sentences\[0\]: time '2초' is not seconds or "
                                         r"HH:MM:SS\.mmm"):
        aihub_rows(tmp_path)


@pytest.mark.filterwarnings("ignore:aihub. 1 sentences spoken by the collector")
def test_elder_without_record_date_takes_the_label_files_year(tmp_path):
    root = elder_tree(tmp_path)
    label = root / "라벨" / "talk_set1_collectorjj9_speakerjj2_1_1_1.json"
    doc = json.loads(label.read_text(encoding="utf-8"))
    del doc["audio"]["recordDate"]
    write_json(label, doc)
    when = datetime(2020, 6, 1).timestamp()
    os.utime(label, (when, when))
    with pytest.warns(UserWarning, match=r"aihub: 1 without audio\.recordDate: ages from the label file's own year"):
        rows = aihub_rows(root)
    assert [r["age_years"] for r in rows] == ["52", "70", "52"], "2020 - 1968, 2020 - 1950"


def test_elder_zipped_label_without_record_date_takes_the_members_date(tmp_path):
    name = "say_set1_collectorjj9_speakerjj2_14_2_28"
    sentences = [("speakerjj2", 0.55, 10.1, "잔칫날은 겅해도")]
    doc = elder(name, [elder_speaker()], sentences, record_date=None)
    with zipfile.ZipFile(tmp_path / "[라벨]제주도.zip", "w") as zf:
        zf.writestr(zipfile.ZipInfo(f"TL/{name}.json", date_time=(2021, 3, 4, 5, 6, 8)),
                    json.dumps(doc, ensure_ascii=False))
    write_turns(tmp_path / "원천" / f"{name}.wav", 11.0, [(0.55, 10.1, "speakerjj2")])
    with pytest.warns(UserWarning, match="without audio.recordDate"):
        rows = aihub_rows(tmp_path)
    assert [(r["age_years"], r["age"], r["start_s"], r["end_s"]) for r in rows] == [("53", "50s", "0.55", "10.1")]


def test_elder_file_without_timed_sentences_is_one_clip_of_its_speech(tmp_path):
    doc = elder("x", [elder_speaker()], [("speakerjj2", 0.5, 2.5, "예 그렇지요")])
    doc["transcription"]["sentences"] = []
    write_json(tmp_path / "x.json", doc)
    write_turns(tmp_path / "x.wav", 3.0, [(0.5, 2.5, "speakerjj2")])
    rows = aihub_rows(tmp_path)
    assert [(r["start_s"], r["end_s"], r["text"]) for r in rows] == [("0.5", "2.5", "예 그렇지요")]
    doc["speaker"].append(elder_speaker("speakergs7"))
    write_json(tmp_path / "x.json", doc)
    with pytest.raises(ValueError, match=r"x\.json: 2 speakers and no transcription\.sentences\[\] with startTime"):
        aihub_rows(tmp_path)


# ---------------------------------------------------------------- (d) 한국어 방언 발화 (2020)
def dialect_doc(utterances, speakers=None):
    """The layout HERIUN/korean_dialect_classification's preprocess_data.py reads: utterances are
    (speaker_id, start s, end s, dialect form)."""
    speakers = speakers or [
        {"id": "1", "name": "화자1", "age": "60대", "occupation": "농업", "sex": "여성", "birthplace": "전라남도 해남군",
         "principal_residence": "전라남도", "current_residence": "광주광역시"},
        {"id": "2", "name": "화자2", "age": "20대", "occupation": "학생", "sex": "남성", "birthplace": "제주특별자치도",
         "principal_residence": "", "current_residence": "서울특별시"}]
    return {"id": "DJES20000123", "metadata": {"title": "전라 방언 대화", "category": "방언 > 일상 대화"},
            "speaker": speakers, "setting": {"relation": "가족"},
            "utterance": [{"id": f"DJES20000123.{i + 1}", "form": text, "standard_form": text + " (표준)",
                           "dialect_form": text, "speaker_id": who, "start": start, "end": end, "note": "",
                           "eojeolList": []} for i, (who, start, end, text) in enumerate(utterances)]}


DIALOGUE = [("1", 0.0, 1.5, "밥 묵었냐"), ("2", 1.6, 3.0, "예 묵었어라"), ("1", 3.1, 3.4, "응"),  # a 0.3 s backchannel
            ("2", 3.5, 5.0, "할매는 뭐 했소"), ("1", 5.1234567, 7.0, "텃밭에 나가 봤제"), ("2", 7.5, 9.5, "past the end")]


def dialect_tree(root, utterances=DIALOGUE, speakers=None):
    write_json(root / "DJES20000123.json", dialect_doc(utterances, speakers))
    write_turns(root / "DJES20000123.wav", 8.0, [(a, b, who) for who, a, b, _ in utterances])
    return root


def test_dialect_layout_a_two_speaker_dialogue_yields_both_speakers_clips(tmp_path):
    with pytest.warns(UserWarning) as caught:
        rows = aihub_rows(dialect_tree(tmp_path))
    short, past = sorted(str(w.message) for w in caught)
    assert "skipped 1 of 6 segments shorter than 0.5 s" in short and "3.100-3.400 s" in short, short
    assert "skipped 1 of 6 segments that end past their audio file's end" in past, past
    got = [(r["speaker"], r["gender"], r["age"], r["dialect"], r["start_s"], r["end_s"], r["text"]) for r in rows]
    assert got == [("DJES20000123_1", "female", "60s", "전라", "0", "1.5", "밥 묵었냐"),
                   ("DJES20000123_2", "male", "20s", "제주", "1.6", "3", "예 묵었어라"),  # no principal_residence
                   ("DJES20000123_2", "male", "20s", "제주", "3.5", "5", "할매는 뭐 했소"),
                   ("DJES20000123_1", "female", "60s", "전라", "5.123457", "7", "텃밭에 나가 봤제")]  # to the us
    assert (rows[0]["birthplace"], rows[0]["current_residence"], rows[0]["occupation"]) == (
        "전라남도 해남군", "광주광역시", "농업")
    assert rows[0]["age_years"] == "" and "principal_residence" not in rows[0], "the dialect column holds it"
    for row in rows:
        assert abs(peak_hz(row) - TONE_HZ[row["speaker"][-1]]) < 2.0, (row["speaker"], peak_hz(row))


def test_dialect_layout_global_ids_missing_times_and_an_unknown_speaker(tmp_path):
    speakers = [{"id": "SDRW2000000001", "age": "50대", "sex": "남성", "principal_residence": "경상남도"}]
    utterances = [("SDRW2000000001", 0.0, 2.0, "그렇지예"), ("SDRW2000000001", None, 3.0, "?")]
    write_json(tmp_path / "a.json", dialect_doc(utterances, speakers))
    write_turns(tmp_path / "a.wav", 3.0, [])
    with pytest.warns(UserWarning, match=r"aihub: 1 utterances without a readable start and end time"):
        rows = aihub_rows(tmp_path)
    assert [(r["speaker"], r["dialect"]) for r in rows] == [("SDRW2000000001", "경상")], "kept as written"
    write_json(tmp_path / "a.json", dialect_doc(utterances + [("3", 0.0, 1.0, "누구")], speakers))
    with pytest.raises(ValueError, match=r"a\.json: utterance\[2\]: speaker_id '3' is not in speaker\[\] "
                                         r"\(SDRW2000000001\)"):
        aihub_rows(tmp_path)


# ---------------------------------------------------------------- recognising the layouts
def test_the_issues_keys_now_read_and_unknown_keys_name_all_four_layouts(tmp_path):
    keys = list(elder("x", [elder_speaker()], TALK[:1]))
    assert keys == ["fileName", "speaker", "collector", "script", "audio", "transcription"]  # the refused file's
    write_json(tmp_path / "odd.json", {"speaker": [], "turns": []})
    with pytest.raises(ValueError, match=r"odd\.json: unknown AI Hub layout; top-level keys \['speaker', 'turns'\]; "
                                         r"expected .*speaker \+ transcription \(중·노년층 방언\) or speaker \+ "
                                         r"utterance \(한국어 방언 발화\)"):
        aihub_rows(tmp_path)
    write_json(tmp_path / "odd.json", {"speaker": {"id": "1"}, "utterance": []})
    with pytest.raises(ValueError, match=r"odd\.json: speaker is not a list of objects"):
        aihub_rows(tmp_path)


def test_cli_manifest_education_task_and_describe_counts_segments(tmp_path, capsys):
    root = elder_tree(tmp_path / "c")
    out = tmp_path / "m.csv"
    assert corpora_cli.main(["aihub", "--root", str(root), "--out", str(out)]) == 0
    assert "3 clips, 2 speakers" in capsys.readouterr().out
    rows = read_manifest(out)
    assert [(r["education"], r["start_s"], r["end_s"]) for r in rows] == [
        ("post_secondary", "0.5", "2"), ("middle_school", "2.5", "4"), ("post_secondary", "6", "8")]
    assert corpora_cli.main(["describe", str(out), "--tasks", "education,health_condition"]) == 0
    text = capsys.readouterr().out
    assert text.startswith("3 clips (3 utterance segments of 1 files), 2 speakers"), text
    assert "== education ==" in text and "middle_school" in text
    assert "duration: total 0.00 h (5.0 s) over 3 of 3 clips" in text, "a segment's own length: 1.5 + 1.5 + 2"
