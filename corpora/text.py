"""Text files as people save them: UTF-8 with or without a BOM, UTF-16/32 with a BOM, CP949 (Excel on Korean
Windows) with a warning; JSON with one-line errors; and never replacing a file that is not the writer's own kind.

    read_text(path)     the text of a label or table file, or one line naming the file, the byte and the fix
    read_json(path)     the parsed object, or one ValueError line: malformed, truncated, too deep, NaN/Infinity
    check_output(path)  refuse to replace a recording, a run's file, anything but the writer's own kind of file
    python -m pytest tests/test_text.py
"""
import json
import math
import warnings
from pathlib import Path

from corpora import archive

PATH_MAX = 4096  # characters: the longest path Linux accepts; a longer manifest cell cannot be a path


def is_file(path):
    """Path(path).is_file(), but False (not OSError/ValueError) for a name that is too long or holds a NUL."""
    try:
        return Path(path).is_file()
    except (OSError, ValueError):
        return False


class EncodingError(ValueError):
    """A text file that is not in a readable encoding; the message names the file and the fix."""


def read_bytes(path):
    """The bytes of a file, or of a zip member named "ARCHIVE.zip::MEMBER" (archive.py).

    Raises FileNotFoundError "PATH: file not found"; a folder or an unreadable file raises ValueError.
    """
    if archive.split_member(path):
        return archive.read_member(path)
    try:
        return Path(path).read_bytes()
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: file not found") from None
    except (OSError, ValueError) as err:  # a folder, no permission, a NUL byte in the name
        reason = getattr(err, "strerror", None) or err
        raise ValueError(f"{path}: cannot be read ({type(err).__name__}: {reason})") from None


def decode_text(raw, where):
    """Decode the bytes of a text file (see read_text); `where` names the file in messages."""
    if raw.startswith((b"\xff\xfe", b"\xfe\xff", b"\x00\x00\xfe\xff")):  # byte-order marks
        encoding = "utf-32" if raw.startswith((b"\xff\xfe\x00\x00", b"\x00\x00\xfe\xff")) else "utf-16"
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError as err:
            raise EncodingError(f"{where}: broken {encoding.upper()} text ({err.reason} at byte {err.start}); "
                                "save it as UTF-8") from None
    nul = raw.find(b"\x00")  # never in a text table; UTF-16 saved without a byte-order mark looks like this
    if nul >= 0:
        raise EncodingError(f"{where}: NUL byte at position {nul} (a binary file, or UTF-16 without a "
                            "byte-order mark?); save it as UTF-8")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        first_bad = err.start
    try:
        text = raw.decode("cp949")
    except UnicodeDecodeError:
        raise EncodingError(f"{where}: not UTF-8 text (byte 0x{raw[first_bad]:02x} at position {first_bad}); "
                            "save it as UTF-8 (Excel: 'CSV UTF-8')") from None
    warnings.warn(f"{where}: read as CP949 (Korean Windows); save it as UTF-8 (Excel: 'CSV UTF-8') to silence this",
                  stacklevel=3)
    return text


def read_text(path):
    """The text of a label or table file, whatever editor saved it.

    UTF-8 (a BOM, as Excel's "CSV UTF-8" writes, is dropped) and UTF-16/32 with a BOM are read silently. A file
    that is not UTF-8 but decodes as CP949 -- what Excel writes on Korean Windows -- is read with a one-line
    warning saying how to save it as UTF-8. Anything else, and any NUL byte, raises EncodingError naming the
    file, the first bad byte and the fix. Newlines are left as they are (csv handles CRLF). Zip members
    ("ARCHIVE.zip::MEMBER") are read in place.
    """
    return decode_text(read_bytes(path), path)


def _finite_float(text):
    """json's parse_float: a float, refusing numbers too large for one (1e999 would become inf)."""
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"number {text[:20]} is out of range")
    return value


def _no_constant(name):
    """json's parse_constant: NaN, Infinity and -Infinity are not JSON (RFC 8259), only Python accepts them."""
    raise ValueError(f"{name} is not a JSON value")


def read_json(path):
    """The object stored in a JSON file (RFC 8259), in any encoding read_text accepts.

    Raises ValueError "PATH: malformed JSON (reason)" -- one line -- for a syntax error, a truncated file,
    nesting deeper than Python's recursion limit, NaN/Infinity or a number beyond float range. Missing file:
    FileNotFoundError. Zip members ("ARCHIVE.zip::MEMBER") are read in place.
    """
    text = read_text(path)
    try:
        return json.loads(text, parse_float=_finite_float, parse_constant=_no_constant)
    except RecursionError:
        raise ValueError(f"{path}: malformed JSON (nested too deeply)") from None
    except ValueError as err:  # JSONDecodeError, our two refusals, an integer of more than 4300 digits
        reason = str(err).splitlines()[0][:200] if str(err) else type(err).__name__
        raise ValueError(f"{path}: malformed JSON ({reason})") from None


def check_output(path, header, what):
    """Refuse to replace a file that is not the writer's own kind: `path` must be new, or a regular file whose
    first line starts with `header` (a manifest: "path,speaker"; profiles: "path,duration_s"). Anything else -- a
    folder, a FIFO (reading it would wait for a writer forever), a device, a socket -- is refused unread.
    ValueError naming it."""
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"{path}: a folder; {what} needs a file name")
    if path.exists() and not path.is_file():
        kind = "a FIFO (named pipe)" if path.is_fifo() else "a device" if path.is_char_device() or \
            path.is_block_device() else "a socket" if path.is_socket() else "not a regular file"
        raise ValueError(f"{path}: {kind}, not a regular file; {what} needs a file name")
    if path.exists():
        with open(path, "rb") as f:
            first = f.readline(200).decode("utf-8-sig", "replace")
        if not first.startswith(header):
            raise ValueError(f"{path} exists and is not a {what} (its first line does not start with {header!r}); "
                             "it is not replaced: choose another name")
