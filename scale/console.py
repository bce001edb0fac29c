"""What a command prints, on any terminal: each warning as one line, and text its encoding lacks as escapes.

    one_line_warnings()  while inside, a warning prints as "warning: MESSAGE" on stderr -- not Python's default
                         "FILE:LINE: UserWarning: MESSAGE" followed by the line of source that raised it
    any_terminal()       stdout and stderr write what their encoding cannot hold (Korean labels under LANG=C, where
                         it is ASCII) as \\u escapes instead of stopping the command with UnicodeEncodeError

The front doors call them: train.py, evaluate.py, `python -m corpora`'s commands (corpora/cli.py),
extras/baseline.py, scale/release.py, serve.py's page (extras/web.py), and evaluate.py --wav's printing
(extras/recording.py).

    python -m pytest tests/test_hostile_rooms.py tests/test_hostile_core.py
"""
import contextlib
import sys
import warnings


def show_warning(message, category, filename, lineno, file=None, line=None):
    """warnings.showwarning for the command line: "warning: MESSAGE" on stderr, one line, no source."""
    print(f"warning: {message}", file=sys.stderr)


@contextlib.contextmanager
def one_line_warnings():
    """A context in which every warning prints as one line (show_warning); the previous way comes back after."""
    with warnings.catch_warnings():
        warnings.showwarning = show_warning
        yield


def any_terminal():
    """Let sys.stdout and sys.stderr write any text: a character their encoding lacks becomes a backslash escape
    (\\ub0a8) rather than an error. A stream that is not a text file of the system (a test's StringIO) is left as it is."""
    for stream in (sys.stdout, sys.stderr):
        if hasattr(stream, "reconfigure") and stream.errors != "backslashreplace":
            stream.reconfigure(errors="backslashreplace")
