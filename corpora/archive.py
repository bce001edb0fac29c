"""Files inside zip archives, read in place (AI Hub ships `[원천]….zip` audio and `[라벨]….zip` labels).

A member of an archive is named by one string: the archive's path, "::", and the member's name inside it,
    /data/aihub/[원천]자유대화.zip::1.Training/서울/clip_0001.wav
The member part always uses "/" (as the zip format does; names written with Windows "\\" are read as "/").
A manifest writes the archive part relative to its own folder like any other path (manifest.py); nothing is
ever extracted. Zip format: PKWARE APPNOTE.TXT; bit 11 of a member's flags marks a UTF-8 name (section 4.4.4).

Opening an archive reads its whole central directory (slow for 100,000 members), so each process keeps
one open ZipFile per archive (`_OPEN`), reopened when the archive's size or mtime changes. The key includes
the process id: a forked worker (multiprocessing) must not share the parent's file offset, so it opens its own.

    from corpora.archive import read_member
    raw = read_member("/data/[원천]x.zip::a/clip.wav")    # bytes
    python -m pytest tests/test_archive.py
"""
import io
import os
import re
import zipfile
from pathlib import Path

SEPARATOR = "::"  # archive path :: member name
_MEMBER = re.compile(r"(.+?\.zip)::(.*)", re.IGNORECASE | re.DOTALL)  # the first ".zip::" splits the two
_OPEN = {}  # (process id, absolute archive path) -> (size, mtime_ns, ZipFile, {member name: ZipInfo})


class ArchiveError(ValueError):
    """An archive or a member that cannot be read; the message is one line, "ARCHIVE[::MEMBER]: problem"."""


def split_member(path):
    """("archive path", "member name") when `path` names a zip member (".zip::" inside it), else None."""
    m = _MEMBER.fullmatch(str(path))
    return (m[1], m[2].replace("\\", "/")) if m else None


def join_member(archive, member):
    """The one-string name of a member: f"{archive}::{member}"."""
    return f"{archive}{SEPARATOR}{member}"


def _one_line(err):
    """An exception as one short line: its type and the first line of its message."""
    text = str(err).strip().splitlines()
    return f"{type(err).__name__}: {text[0]}" if text else type(err).__name__


def member_name(info):
    """A member's name as the archiver meant it. Names flagged UTF-8 (bit 11) are taken as they are; others
    zipfile decodes as CP437, but Korean Windows archivers write CP949 there, so the original bytes are
    decoded again as UTF-8, then CP949. Windows separators "\\" become "/"."""
    name = info.filename
    if not info.flag_bits & 0x800 and not name.isascii():
        raw = name.encode("cp437")  # the bytes as stored in the archive
        for encoding in ("utf-8", "cp949"):
            try:
                name = raw.decode(encoding)
                break
            except UnicodeDecodeError:
                pass
    return name.replace("\\", "/")


def open_archive(archive):
    """(ZipFile, {member name: ZipInfo}) of one archive, opened once per process and archive version.

    Raises FileNotFoundError for a missing archive and ArchiveError for one zipfile cannot read.
    Folders (names ending in "/") are not members.
    """
    archive = Path(archive).resolve()
    try:
        stat = archive.stat()
    except (OSError, ValueError):  # ValueError: a NUL byte in the path
        raise FileNotFoundError(f"{archive}: archive not found") from None
    key, pid = (os.getpid(), str(archive)), os.getpid()
    for other in [k for k in _OPEN if k[0] != pid]:  # inherited from a parent process: not ours to use
        del _OPEN[other]
    hit = _OPEN.get(key)
    if hit and hit[:2] == (stat.st_size, stat.st_mtime_ns):
        return hit[2], hit[3]
    try:
        zf = zipfile.ZipFile(archive)
        members = {}
        for info in zf.infolist():
            if not info.is_dir():
                members.setdefault(member_name(info), info)
    except Exception as err:  # BadZipFile, EOFError, OSError, ValueError...: a damaged archive, whatever the kind
        raise ArchiveError(f"{archive}: not a readable zip archive ({_one_line(err)})") from None
    _OPEN[key] = (stat.st_size, stat.st_mtime_ns, zf, members)
    return zf, members


def member_names(archive):
    """Sorted names of the files inside an archive (folders left out)."""
    return sorted(open_archive(archive)[1])


def member_info(path):
    """The ZipInfo of a member named "ARCHIVE::MEMBER" (CRC, file_size...); ArchiveError when it is absent."""
    archive, member = split_member(path)
    members = open_archive(archive)[1]
    if member not in members:
        raise ArchiveError(f"{path}: no member {member!r} in {archive}")
    return members[member]


def open_member(path):
    """A member named "ARCHIVE::MEMBER" as an in-memory file (io.BytesIO) soundfile can open: data.load_audio's
    seam. FileNotFoundError or ArchiveError as read_member."""
    return io.BytesIO(read_member(path))


def read_member(path):
    """The bytes of a member named "ARCHIVE::MEMBER", decompressed and CRC-checked by zipfile.

    Raises FileNotFoundError (archive missing) or ArchiveError naming archive and member: no such member,
    a bad CRC, damaged compressed data, an encrypted member, or a method zipfile cannot read (Deflate64,
    which Windows Explorer uses for large archives: unzip those with 7-Zip first).
    """
    info = member_info(path)
    zf = open_archive(split_member(path)[0])[0]
    try:
        return zf.read(info)
    except Exception as err:  # BadZipFile (bad CRC), zlib.error, NotImplementedError, RuntimeError (encrypted)
        raise ArchiveError(f"{path}: unreadable member ({_one_line(err)})") from None
