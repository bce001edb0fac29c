"""Data floor: files and text -- where generated files live, atomic writes, text in any encoding, terminal width.

One helper per idea, imported wherever it is needed:
    cache_root()        $MOKSORI_CACHE or <repo>/.cache: the built-in corpus, the feature cache and store
    atomic_write()      write to a unique temporary file in the target folder, then os.replace onto the target
    read_text()         UTF-8 with or without a BOM, UTF-16 with a BOM; CP949 (Korean Excel) with a warning
    display_width()     terminal columns of a string (Hangul takes two), and pad() to align tables

    python -m pytest tests/test_files.py
"""
import os
import tempfile
import unicodedata
import warnings
from pathlib import Path


UMASK = os.umask(0o022)  # read the process's umask (the call sets one) ...
os.umask(UMASK)  # ... and put it back


def cache_root():
    """The folder for everything generated once and reused: $MOKSORI_CACHE, or <repo>/.cache."""
    return Path(os.environ.get("MOKSORI_CACHE") or Path(__file__).resolve().parent / ".cache")


def atomic_write(path, write):
    """Call write(binary file object) on a temporary file next to `path`, then rename it onto `path`.

    The temporary name is unique per call (tempfile.mkstemp in the target folder), so two processes writing
    the same target never touch each other's half-written file; os.replace is atomic on POSIX and Windows, so
    a reader sees the old file or the new one, never a mixture. On any exception (a full disk, Ctrl-C) the
    temporary file is removed and the old `path`, if any, is left untouched.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
        os.chmod(tmp, 0o666 & ~UMASK)  # mkstemp makes 0600; give the file the permissions open() would
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def atomic_write_text(path, text):
    """Write a str as UTF-8 to `path` atomically."""
    atomic_write(path, lambda f: f.write(text.encode("utf-8")))


class EncodingError(ValueError):
    """A text file that is not in a readable encoding; the message names the file and the fix."""


def read_text(path):
    """The text of a label or table file, whatever editor saved it.

    UTF-8 (a BOM, as Excel's "CSV UTF-8" writes, is dropped) and UTF-16 with a BOM are read silently. A file
    that is not UTF-8 but decodes as CP949 -- what Excel writes on Korean Windows -- is read with a one-line
    warning saying how to save it as UTF-8. Anything else raises EncodingError naming the file, the first bad
    byte and the fix. Newlines are left as they are (csv handles CRLF).
    """
    path = Path(path)
    raw = path.read_bytes()
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return raw.decode("utf-16")
        except UnicodeDecodeError as err:
            raise EncodingError(f"{path}: broken UTF-16 text ({err.reason} at byte {err.start})") from None
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        first_bad = err.start
    try:
        text = raw.decode("cp949")
    except UnicodeDecodeError:
        raise EncodingError(f"{path}: not UTF-8 text (byte 0x{raw[first_bad]:02x} at position {first_bad}); "
                            "save it as UTF-8 (Excel: 'CSV UTF-8')") from None
    warnings.warn(f"{path}: read as CP949 (Korean Windows); save it as UTF-8 (Excel: 'CSV UTF-8') to silence this",
                  stacklevel=2)
    return text


def read_json(path):
    """The object in a JSON file (any encoding read_text accepts); ValueError "PATH: malformed JSON (...)"."""
    import json
    try:
        return json.loads(read_text(path))
    except (json.JSONDecodeError, RecursionError) as err:
        raise ValueError(f"{path}: malformed JSON ({type(err).__name__}: {str(err)[:80]})") from None


def display_width(text):
    """Terminal columns taken by text: East Asian wide characters (Hangul, CJK) take two."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def pad(text, width, right=False):
    """text padded with spaces to `width` terminal columns (on the left when right=True)."""
    fill = " " * max(0, width - display_width(text))
    return fill + text if right else text + fill
