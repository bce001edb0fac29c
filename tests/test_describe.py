"""describe.py and `python -m corpora describe`: label tables for any column, durations of loose files and zip
members (known lengths written here), a CP949 manifest from Korean Excel, F0 of a tone of known pitch, and
the figures (skipped without matplotlib). plots.romanize is checked against Revised Romanization by hand."""
import csv
import importlib.util
import io
import re
import struct
import zipfile

import numpy as np
import pytest
import soundfile as sf

from corpora import cli as corpora_cli
from corpora.describe import describe, median_f0_hz
from data import COLUMNS
from extras.plots import romanize

SR = 16000  # Hz


def tone(path, f0_hz=150.0, seconds=1.0):
    """A voice-like harmonic tone (fundamental + 4 harmonics) of known F0."""
    t = np.arange(int(SR * seconds)) / SR
    y = sum(0.2 / k * np.sin(2 * np.pi * k * f0_hz * t) for k in range(1, 6))
    sf.write(path, y, SR, subtype="PCM_16")
    return path


def write_manifest_csv(path, rows, encoding="utf-8"):
    header = list(COLUMNS) + ["education"]
    buffer = io.StringIO(newline="")
    writer = csv.DictWriter(buffer, fieldnames=header, restval="")
    writer.writeheader()
    writer.writerows(rows)
    path.write_bytes(buffer.getvalue().encode(encoding))
    return path


@pytest.fixture
def small(tmp_path):
    """Four clips of known length (0.5, 1.0, 1.5 s loose; 2.0 s inside a zip) and known labels."""
    rows = []
    for i, (spk, gender, edu, split, f0) in enumerate([("s1", "male", "BS", "train", 120.0),
                                                      ("s2", "female", "대졸", "train", 220.0),
                                                      ("s3", "female", "", "test", 210.0)]):
        tone(tmp_path / f"c{i}.wav", f0, 0.5 * (i + 1))
        rows.append(dict(path=f"c{i}.wav", speaker=spk, gender=gender, age="20s", dialect="경상", split=split,
                         education=edu))
    buffer = io.BytesIO()
    sf.write(buffer, np.full(2 * SR, 0.1), SR, format="WAV", subtype="PCM_16")
    with zipfile.ZipFile(tmp_path / "[원천]a.zip", "w") as zf:
        zf.writestr("x/c3.wav", buffer.getvalue())
    rows.append(dict(path="[원천]a.zip::x/c3.wav", speaker="s4", gender="", age="", dialect="제주", split="test",
                     education="BS"))
    return write_manifest_csv(tmp_path / "m.csv", rows)


def test_tables_durations_and_any_column(small, capsys):
    assert corpora_cli.main(["describe", str(small), "--tasks", "gender,education"]) == 0
    out = capsys.readouterr().out
    print(out)
    assert "4 clips, 4 speakers" in out and "== gender ==" in out and "== education ==" in out
    assert re.search(r"^female\s+1/1\s+1/1\s+2/2$", out, re.M), "female: train, test, all"
    assert re.search(r"^\(unknown\)\s+0/0\s+1/1\s+1/1$", out, re.M)
    assert re.search(r"^BS\s+1/1\s+1/1\s+2/2$", out, re.M) and re.search(r"^대졸\s+1/1\s+0/0\s+1/1$", out, re.M)
    assert "unknown gender: 1 clips; imbalance ratio (largest/smallest class): 2.00" in out
    assert "duration: total 0.00 h (5.0 s) over 4 of 4 clips; per clip mean 1.25 s, min 0.50 s, max 2.00 s" in out


def test_describe_without_audio():
    rows = [dict(path="/nowhere.wav", speaker="s", gender="male", age="", dialect="", split="")]
    assert "duration: n/a (none of the 1 files could be read)" in describe(rows)


def test_a_missing_task_column_is_one_line(small, capsys):
    assert corpora_cli.main(["describe", str(small), "--tasks", "gender,emotion"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"error: {small}: no column 'emotion' for --tasks"), err


def test_cp949_manifest_from_korean_excel(tmp_path, capsys):
    tone(tmp_path / "a.wav")
    path = write_manifest_csv(tmp_path / "excel.csv", [dict(path="a.wav", speaker="화자1", gender="male", age="20s",
                                                            dialect="경상", split="train")], encoding="cp949")
    assert corpora_cli.main(["describe", str(path)]) == 0
    out, err = capsys.readouterr()
    assert re.search(r"^경상\s+1/1\s+1/1$", out, re.M), out
    assert err == f"warning: {path}: read as CP949 (Korean Windows); save it as UTF-8 (Excel: 'CSV UTF-8') to silence this\n"


@pytest.mark.parametrize("f0_hz", [110.0, 220.0])
def test_median_f0_of_a_tone(tmp_path, f0_hz):
    got = median_f0_hz(tone(tmp_path / "t.wav", f0_hz))
    cents = 1200 * np.log2(got / f0_hz)
    assert abs(cents) < 10, f"{got:.2f} Hz for a {f0_hz} Hz tone ({cents:.1f} cents)"


def png_size(path):
    """(width, height) from a PNG's IHDR chunk (bytes 16..24 after the 8-byte signature and chunk header)."""
    blob = path.read_bytes()
    assert blob[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    return struct.unpack(">II", blob[16:24])


def test_plots(small, tmp_path, capsys):
    pytest.importorskip("matplotlib")
    out_dir = tmp_path / "figs"
    assert corpora_cli.main(["describe", str(small), "--tasks", "gender,dialect", "--plot", str(out_dir)]) == 0
    assert "wrote 6 figures" in capsys.readouterr().out
    names = ["counts_gender.png", "speakers_gender.png", "counts_dialect.png", "speakers_dialect.png",
             "durations.png", "f0_by_gender.png"]
    assert sorted(p.name for p in out_dir.iterdir()) == sorted(names)
    for name in names:
        width, height = png_size(out_dir / name)
        assert width >= 400 and height >= 300 and (out_dir / name).stat().st_size > 2000, name
        import matplotlib.image
        rgb = (matplotlib.image.imread(out_dir / name)[..., :3] * 255).astype(int)  # (H, W, 3)
        assert len(np.unique(rgb.reshape(-1, 3), axis=0)) > 10, f"{name}: an empty picture"


def test_plot_without_matplotlib_is_one_line(small, tmp_path, capsys, monkeypatch):
    real_find_spec = importlib.util.find_spec  # as if matplotlib were not installed
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a, **k: None if name == "matplotlib" else real_find_spec(name, *a, **k))
    assert corpora_cli.main(["describe", str(small), "--plot", str(tmp_path / "figs")]) == 2
    assert capsys.readouterr().err == "error: --plot needs matplotlib: pip install matplotlib\n"
    assert not (tmp_path / "figs").exists()


def test_romanize_by_hand():
    # Revised Romanization, letter by letter (no sound-change rules): 경상남도 gyeong-sang-nam-do
    assert [romanize(w) for w in ("경상남도", "서울", "대졸", "충청", "전라", "힣", "abc 한국")] == [
        "Gyeongsangnamdo", "Seoul", "Daejol", "Chungcheong", "Jeolla", "Hit", "abc hanguk"]
