"""files.py: text in every encoding an editor writes, JSON that is malformed in every way we know, and atomic
writes. Expected text is written by hand; expected failures are named by their message."""
import os
import stat

import pytest

from corpora.text import EncodingError, read_bytes, read_json, read_text
from scale.files import atomic_write_text

KOREAN = "path,speaker,dialect\nx.wav,화자1,경상\n"


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "utf-16", "utf-32", "utf-32-be"])  # utf-16/32 write a BOM
def test_read_text_silent_encodings(tmp_path, encoding, recwarn):
    path = tmp_path / "t.csv"
    path.write_bytes((b"\x00\x00\xfe\xff" if encoding == "utf-32-be" else b"") + KOREAN.encode(encoding))
    assert read_text(path) == KOREAN
    assert not recwarn.list, [str(w.message) for w in recwarn.list]


def test_read_text_cp949_warns_with_the_fix(tmp_path):
    path = tmp_path / "excel.csv"
    path.write_bytes(KOREAN.encode("cp949"))
    with pytest.warns(UserWarning, match=r"excel\.csv: read as CP949.*CSV UTF-8"):
        assert read_text(path) == KOREAN


@pytest.mark.parametrize("raw, problem", [
    (b"\xff\xfeA\x00\x00\xd8", "broken UTF-16"),  # a lone high surrogate
    (b"a,b\n\x80\xff\xfe\x81\n", "not UTF-8 text (byte 0x80 at position 4)"),
    ("a,b\n".encode("utf-16-le"), "NUL byte at position 1"),  # UTF-16 without its byte-order mark
])
def test_read_text_errors_name_file_byte_and_fix(tmp_path, raw, problem):
    path = tmp_path / "bad.txt"
    path.write_bytes(raw)
    with pytest.raises(EncodingError) as info:
        read_text(path)
    message = str(info.value)
    assert message.startswith(f"{path}: ") and problem in message and "UTF-8" in message and "\n" not in message


def test_read_bytes_missing_file_and_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match=f"{tmp_path / 'nope.txt'}: file not found"):
        read_bytes(tmp_path / "nope.txt")
    with pytest.raises(ValueError, match=f"{tmp_path}: cannot be read"):
        read_bytes(tmp_path)


def test_read_json_reads_valid_json(tmp_path):
    path = tmp_path / "ok.json"
    path.write_text('{"a": [1, 2.5, "경상"], "b": null, "c": 1e300}', encoding="utf-8")
    assert read_json(path) == {"a": [1, 2.5, "경상"], "b": None, "c": 1e300}


@pytest.mark.parametrize("text, reason", [
    ('{"a": 1', "Expecting ',' delimiter"),  # truncated
    ('{"a": NaN}', "NaN is not a JSON value"), ('[Infinity]', "Infinity is not a JSON value"),
    ('[-Infinity]', "-Infinity is not a JSON value"), ('[1e999]', "number 1e999 is out of range"),
    ("[" * 100_000 + "]" * 100_000, "nested too deeply"), ("[" * 100_000, "nested too deeply"),
    ("", "Expecting value"), ("[1" + "0" * 5000 + "]", "Exceeds the limit (4300 digits)"),
])
def test_read_json_errors_are_one_line_value_errors(tmp_path, text, reason):
    path = tmp_path / "bad.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ValueError) as info:
        read_json(path)
    message = str(info.value)
    assert message.startswith(f"{path}: malformed JSON (") and reason in message, message
    assert "\n" not in message and len(message) < 400


def test_atomic_write_gives_ordinary_permissions(tmp_path):
    umask = os.umask(0o022)
    try:
        atomic_write_text(tmp_path / "m.csv", "a\n")
        assert stat.S_IMODE(os.stat(tmp_path / "m.csv").st_mode) == 0o644, "0666 minus the umask 022"
        os.chmod(tmp_path / "m.csv", 0o600)
        atomic_write_text(tmp_path / "m.csv", "b\n")
        assert stat.S_IMODE(os.stat(tmp_path / "m.csv").st_mode) == 0o600, "a replaced file keeps its mode"
    finally:
        os.umask(umask)
