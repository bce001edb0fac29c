"""corpora.py on tiny fixture trees written here (Common Voice TSV + MP3, TIMIT LDC layout in NIST SPHERE) and
on the real TIMIT sample, whose labels are checked by hand against spkrinfo.txt; the Common Voice release (all its
language folders) where $MOKSORI_COMMONVOICE points, checked against its TSVs read line by line here. AI Hub:
tests/test_aihub.py; RAVDESS: tests/test_ravdess.py."""
import os
import warnings
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from corpora import timit
from corpora.cli import main as data_command
from corpora.commonvoice import commonvoice_rows
from corpora.timit import timit_rows
from corpora.labels import age_group, parse_age_bins
from conftest import close
from data import read_manifest

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
    assert [(r["gender"], r["age"], r["dialect"]) for r in rows] == [("", "young", ""), ("male", "adult", "")]
    assert close([float(r["age_years"]) for r in rows], [16.0, 65.0])  # the bands' midpoints: 13-18, 60-69


def test_commonvoice_bad_gender_names_line(tmp_path):
    write_cv(tmp_path, "validated.tsv", ["a\tcv_1.mp3\tx\t2\t0\ttwenties\tunicorn\t\ten"])
    with pytest.raises(ValueError, match=r"validated\.tsv line 2: unknown gender value 'unicorn'"):
        commonvoice_rows(tmp_path)


# Common Voice's age bands by hand from its web form (voice-web's AGES: teens "< 19", twenties "19 - 29", thirties
# "30 - 39", ..., nineties "> 89"; teens read as 13-18, nineties as 90-99): the release's group, the decade that
# holds most of the band's years, and the band's midpoint in years.
RELEASE_BINS = "child:0-12,teen:13-17,adult:18-59,senior:60-"
CV_BANDS = [("teens", "teen", "10s", 16.0), ("twenties", "adult", "20s", 24.5), ("thirties", "adult", "30s", 35.0),
            ("fourties", "adult", "40s", 45.0), ("forties", "adult", "40s", 45.0), ("fifties", "adult", "50s", 55.0),
            ("sixties", "senior", "60s", 65.0), ("seventies", "senior", "70s", 75.0),
            ("eighties", "senior", "80s", 85.0), ("nineties", "senior", "90s", 95.0)]


def test_commonvoice_every_age_band_to_groups_and_midpoints(tmp_path):
    write_cv(tmp_path, "validated.tsv", [f"s{i}\tcv_{i}.mp3\tx\t2\t0\t{band}\tfemale\t\ten"
                                         for i, (band, *_) in enumerate(CV_BANDS)] +
             ["blank\tcv_blank.mp3\tx\t2\t0\t\tfemale\t\ten"])
    release = commonvoice_rows(tmp_path, bins=parse_age_bins(RELEASE_BINS))
    decades = commonvoice_rows(tmp_path)
    assert [r["age"] for r in release] == [group for _, group, _, _ in CV_BANDS] + [""]
    assert [r["age"] for r in decades] == [decade for _, _, decade, _ in CV_BANDS] + [""]
    assert close([float(r["age_years"]) for r in release[:-1]], [years for *_, years in CV_BANDS])
    assert release[-1]["age_years"] == "", "no band, no midpoint"


@pytest.mark.parametrize("bins, band, expected", [
    ("young:0-34,old:35-", "thirties", "old"),     # 30-34 | 35-39: 5 years each, a tie goes up (to the midpoint 35)
    ("young:0-33,old:34-", "thirties", "old"),     # 30-33 | 34-39: 4 against 6
    ("young:0-35,old:36-", "thirties", "young"),   # 30-35 | 36-39: 6 against 4
    ("kid:0-14,teen:15-", "teens", "teen"),        # 13-14 | 15-18: 2 against 4
    ("kid:0-16,teen:17-", "teens", "kid"),         # 13-16 | 17-18: 4 against 2
    ("a:0-19,b:20-", "twenties", "b"),             # 19 | 20-29: 1 against 10
    ("a:0-12,b:13-", "nineties", "b")])            # inside one bin
def test_commonvoice_band_goes_to_the_bin_holding_most_of_its_years(tmp_path, bins, band, expected):
    write_cv(tmp_path, "validated.tsv", [f"s\tcv_1.mp3\tx\t2\t0\t{band}\tmale\t\ten"])
    row, = commonvoice_rows(tmp_path, bins=parse_age_bins(bins))
    assert row["age"] == expected
    assert age_group(row["age_years"], parse_age_bins(bins)) == expected  # what `merge` derives from the midpoint


def test_commonvoice_release_folder_reads_every_language(tmp_path, capsys):
    root = tmp_path / "cv-corpus"
    write_cv(root / "en", "validated.tsv", ["both\ten_1.mp3\tHi.\t2\t0\tteens\tmale\tus\ten",
                                            "both\ten_2.mp3\tHo.\t2\t0\tteens\tmale\tus\ten",
                                            "f60\ten_3.mp3\tHa.\t2\t0\tsixties\tfemale\tother\ten",
                                            "f60\ten_4.mp3\tHu.\t2\t0\tsixties\tfemale\tother\ten"])
    write_cv(root / "eu", "validated.tsv", ["both\teu_1.mp3\tKaixo.\t2\t0\tteens\tmale\tmendebalekoa\teu",
                                            "anon\teu_2.mp3\tAgur.\t2\t0\t\tother\t\teu"])
    write_cv(root / "xx", "validated.tsv", ["x\txx_1.mp3\t?\t2\t0\tfifties\tfemale\t\txx"])
    (root / "notes").mkdir()  # a folder without a table is not a language
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        rows = commonvoice_rows(root)
    assert [str(w.message) for w in caught] == [
        "commonvoice: no language family for xx (corpora/languages.FAMILIES): language_family left unknown"]
    got = [(Path(r["path"]).name, r["speaker"], r["language"], r["language_family"], r["dialect"]) for r in rows]
    assert got == [("en_1.mp3", "both", "en", "ie_germanic", "en:us"),
                   ("en_2.mp3", "both", "en", "ie_germanic", "en:us"),
                   ("en_3.mp3", "f60", "en", "ie_germanic", "en:other"),
                   ("en_4.mp3", "f60", "en", "ie_germanic", "en:other"),
                   ("eu_1.mp3", "both", "eu", "basque", "eu:mendebalekoa"), ("eu_2.mp3", "anon", "eu", "basque", ""),
                   ("xx_1.mp3", "x", "xx", "", "")]
    # through the command line: one speaker in two languages keeps both, although most speakers (here f60) speak
    # one (language is a per-clip column), and `merge` places every band in the release's groups
    out, merged = tmp_path / "cv.csv", tmp_path / "merged.csv"
    assert data_command(["commonvoice", "--root", str(root), "--out", str(out)]) == 0
    assert data_command(["merge", str(out), "--age-bins", RELEASE_BINS, "--out", str(merged)]) == 0
    capsys.readouterr()
    written = {Path(r["path"]).name: r for r in read_manifest(out)}
    assert [written[n]["language"] for n in ("en_1.mp3", "eu_1.mp3")] == ["en", "eu"]
    assert written["en_1.mp3"]["split"] == written["eu_1.mp3"]["split"], "one speaker, one split"
    groups = {Path(r["path"]).name: (r["speaker"], r["age"], r["gender"]) for r in read_manifest(merged)}
    assert groups == {"en_1.mp3": ("cv/both", "teen", "male"), "en_2.mp3": ("cv/both", "teen", "male"),
                      "en_3.mp3": ("cv/f60", "senior", "female"), "en_4.mp3": ("cv/f60", "senior", "female"),
                      "eu_1.mp3": ("cv/both", "teen", "male"),
                      "eu_2.mp3": ("cv/anon", "", ""), "xx_1.mp3": ("cv/x", "adult", "female")}


def test_commonvoice_folder_without_tables_names_it(tmp_path):
    (tmp_path / "en" / "clips").mkdir(parents=True)
    with pytest.raises(FileNotFoundError, match=f"{tmp_path}: no validated.tsv or train/dev/test.tsv"):
        commonvoice_rows(tmp_path)


def _tsv_lines(path):
    """The cells of a Common Voice TSV, split by hand (no csv module): {column: [values]}."""
    header, *lines = path.read_text(encoding="utf-8").splitlines()
    names = header.split("\t")
    return {name: [line.split("\t")[i] for line in lines] for i, name in enumerate(names)}


def test_commonvoice_real_release():
    """Every language folder of the release at $MOKSORI_COMMONVOICE, against its TSVs split by hand."""
    root = os.environ.get("MOKSORI_COMMONVOICE")
    if not root or not Path(root).is_dir():
        pytest.skip("Common Voice not found ($MOKSORI_COMMONVOICE: a release folder of language folders)")
    tables = sorted(Path(root).glob("*/validated.tsv"))
    cells = {t.parent.name: _tsv_lines(t) for t in tables}
    rows = commonvoice_rows(root, bins=parse_age_bins(RELEASE_BINS))
    assert Counter(r["language"] for r in rows) == {lang: len(c["path"]) for lang, c in cells.items()}
    assert all(r["language_family"] for r in rows), "a language of the release is missing from languages.FAMILIES"
    raw = Counter(g for c in cells.values() for g in c["gender"])
    assert Counter(r["gender"] for r in rows) == {"male": raw["male"], "female": raw["female"],
                                                  "": raw[""] + raw["other"]}
    group_of = {band: group for band, group, _, _ in CV_BANDS}
    want = Counter(group_of.get(a, "") for c in cells.values() for a in c["age"])
    assert Counter(r["age"] for r in rows) == want
    midpoint = {band: years for band, *_, years in CV_BANDS}
    assert all(close(float(r["age_years"]), midpoint[a]) for r, a in
               zip(rows, [a for c in cells.values() for a in c["age"]]) if a)
    for row in rows[:: max(1, len(rows) // 5)]:  # five clips decoded: soundfile reads Common Voice's MP3s
        y, sr = sf.read(row["path"], dtype="float32")  # (N,) mono
        assert sf.info(row["path"]).format == "MP3" and sr in (32000, 44100, 48000), (row["path"], sr)
        assert y.ndim == 1 and len(y) > sr // 2 and np.abs(y).max() > 1e-3, row["path"]  # half a second of sound


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


