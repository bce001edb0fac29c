"""Data floor: files and text -- where generated files live, atomic writes, text in any encoding, terminal width.

One helper per idea, imported wherever it is needed:
    cache_root()        $MOKSORI_CACHE or <repo>/.cache: the built-in corpus, the feature cache and store
    atomic_write()      write to a unique temporary file in the target folder, then os.replace onto the target
    remove_if_abandoned()   remove such a temporary file that no live writer holds (a killed process's)
    is_file()           Path.is_file() that answers False for names no file system takes (too long, NUL)
    read_bytes()        a file's bytes, or a zip member's ("ARCHIVE.zip::MEMBER", archive.py)
    read_text()         UTF-8 with or without a BOM, UTF-16 with a BOM; CP949 (Korean Excel) with a warning
    read_json()         the parsed object, or one ValueError line: malformed, truncated, too deep, NaN/Infinity
    display_width()     terminal columns of a string (Hangul takes two), and pad() to align tables

    python -m pytest tests/test_files.py
"""
import json
import math
import os
import tempfile
import unicodedata
import warnings
from pathlib import Path

import archive

try:
    import fcntl  # POSIX: a writer holds an advisory lock on its temporary file (not on Windows)
except ImportError:
    fcntl = None


UMASK = os.umask(0o022)  # the process's umask: reading it means setting it ...
os.umask(UMASK)  # ... so put it straight back


def cache_root():
    """The folder for everything generated once and reused: $MOKSORI_CACHE, or <repo>/.cache."""
    return Path(os.environ.get("MOKSORI_CACHE") or Path(__file__).resolve().parent / ".cache")


def atomic_write(path, write):
    """Call write(binary file object) on a temporary file next to `path`, then rename it onto `path`.

    The temporary name is unique per call (tempfile.mkstemp in the target folder), so two processes writing
    the same target never touch each other's half-written file; os.replace is atomic on POSIX and Windows, so
    a reader sees the old file or the new one, never a mixture. On any exception (a full disk, Ctrl-C) the
    temporary file is removed and the old `path`, if any, is left untouched. While it writes, the writer holds
    an exclusive lock on the temporary file (flock, on POSIX), so a cleaner can tell a live writer's file from
    one that a killed process left (remove_if_abandoned).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".", suffix=".tmp")
    try:
        if fcntl:
            fcntl.flock(fd, fcntl.LOCK_EX)  # released when the file is closed, or when the process dies
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.chmod(tmp, _file_mode(path))  # mkstemp makes the file private (0600); a manifest is not a secret
            if fcntl:  # renamed while still open and locked: a cleaner never finds it unlocked before the rename
                os.replace(tmp, path)
        if not fcntl:  # Windows renames only a closed file
            os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def remove_if_abandoned(path):
    """Remove the temporary file `path` of atomic_write if no live writer holds it (its lock is free) -> True
    if removed. Without flock (Windows) nothing is removed: a live writer cannot be told from a dead one."""
    if not fcntl:
        return False
    try:
        with open(path, "rb") as f:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)  # fails at once while its writer lives
            os.unlink(path)  # a writer renames while it holds the lock, so this one never will
            return True
    except OSError:  # BlockingIOError: a live writer's; FileNotFoundError: renamed or removed meanwhile
        return False


def _file_mode(path):
    """The permission bits a new file would get (0666 minus the umask), or those of the file it replaces."""
    try:
        return Path(path).stat().st_mode & 0o777
    except OSError:
        return 0o666 & ~UMASK


def atomic_write_text(path, text):
    """Write a str as UTF-8 to `path` atomically."""
    atomic_write(path, lambda f: f.write(text.encode("utf-8")))


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


def display_width(text):
    """Terminal columns taken by text: East Asian wide characters (Hangul, CJK) take two."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def pad(text, width, right=False):
    """text padded with spaces to `width` terminal columns (on the left when right=True)."""
    fill = " " * max(0, width - display_width(text))
    return fill + text if right else text + fill
