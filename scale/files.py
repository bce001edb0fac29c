"""Files the project writes, each atomically (a crash never leaves half a file): atomic_write, write_manifest, and
cache_root ($MOKSORI_CACHE or .cache: what is generated once). data.py only reads; scale/runs.py writes with these.

    python -m pytest tests/test_runs.py tests/test_manifest.py
"""
import csv
import io
import os
import tempfile
from pathlib import Path

from data import COLUMNS

try:
    import fcntl  # POSIX: a writer holds an advisory lock on its temporary file (not on Windows)
except ImportError:
    fcntl = None

UMASK = os.umask(0o022)  # the process's umask (new files get 0666 minus it): reading it means setting it ...
os.umask(UMASK)  # ... so put it straight back


def cache_root():
    """The folder for what is generated once and reused (the built-in corpus, the feature store):
    $MOKSORI_CACHE, or .cache in the repository."""
    return Path(os.environ.get("MOKSORI_CACHE") or Path(__file__).resolve().parent.parent / ".cache")


def atomic_write(path, write):
    """Call write(binary file) on a unique temporary file next to `path`, then rename it onto `path` (atomic: a
    reader sees the old file or the new one; on any exception, a full disk or Ctrl-C, the old one stays). The
    writer holds a lock (flock) on its temporary file, so a cleaner can tell a live writer's file from a killed
    one's (scale/shards.py). A failure names the path: OSError "PATH: could not write (the system's reason)"."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".", suffix=".tmp")
    except OSError as err:
        raise OSError(f"{path}: could not write ({err.strerror or err})") from None
    try:
        if fcntl:
            fcntl.flock(fd, fcntl.LOCK_EX)  # released when the file is closed, or when the process dies
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.chmod(tmp, path.stat().st_mode & 0o777 if path.exists() else 0o666 & ~UMASK)  # not mkstemp's 0600
            if fcntl:  # renamed while still locked: a cleaner never finds it unlocked before the rename
                os.replace(tmp, path)
        if not fcntl:  # Windows renames only a closed file
            os.replace(tmp, path)
    except BaseException as err:
        if os.path.exists(tmp):
            os.remove(tmp)
        if isinstance(err, (OSError, RuntimeError)) and not str(err).startswith(str(path)):  # torch.save: RuntimeError
            reason = next((e.strerror for e in (err, err.__context__) if getattr(e, "strerror", None)), None)  # ENOSPC
            raise OSError(f"{path}: could not write ({reason or str(err).splitlines()[0][:120]})") from None
        raise


def atomic_write_text(path, text):
    """Write a str as UTF-8 to `path` atomically."""
    atomic_write(path, lambda f: f.write(text.encode("utf-8")))


def _relative(path, folder):
    """An absolute path (a zip member "ARCHIVE.zip::MEMBER": its archive part) relative to `folder` when inside
    it, else absolute."""
    cut = str(path).lower().find(".zip::") + 4  # as data.read_manifest splits it
    archive, member = (str(path)[:cut], str(path)[cut:]) if cut > 3 else (str(path), "")
    audio = Path(os.path.abspath(archive))
    return (str(audio.relative_to(folder)) if audio.is_relative_to(folder) else str(audio)) + member


def write_manifest(rows, path):
    """Write rows to a manifest CSV atomically, paths inside its folder relative (the folder can move);
    data.read_manifest reads it back, paths absolute again."""
    path = Path(path)
    extras = [k for k in dict.fromkeys(k for row in rows for k in row) if k not in COLUMNS]
    folder = Path(os.path.abspath(path.parent))
    text = io.StringIO(newline="")
    writer = csv.DictWriter(text, fieldnames=list(COLUMNS) + extras, restval="")
    writer.writeheader()
    for row in rows:
        writer.writerow({**row, "path": _relative(row["path"], folder)})
    atomic_write_text(path, text.getvalue())
