"""Shared pytest set-up.

librosa is used only by tests/make_reference.py (to produce the saved reference values) and by bench.py, Praat
(parselmouth) only by tests/make_formant_reference.py. Blocking both here proves that no test needs them:
`import librosa` or `import parselmouth` inside a test raises ImportError.
"""
import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # as train.py: one BLAS thread per process, set before numpy loads

import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402

sys.modules["librosa"] = None  # any `import librosa` under pytest now fails loudly
sys.modules["parselmouth"] = None  # and so does `import parselmouth`

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def close(a, b, atol=1e-6):
    """Float arrays of one shape, equal within atol in their own units (dB, semitones, samples of full scale):
    how every test compares floats -- never exactly, since CPUs differ in the last bits."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return a.shape == b.shape and bool(np.allclose(a, b, rtol=0.0, atol=atol))


TINY = ["--epochs", "2", "--batch-size", "8", "--patience", "0", "--workers", "0", "--seed", "0", "--no-auto-refit"]  # train.py flags


def one_line_error(err, *words):
    """stderr holds one error line (no traceback) containing every word."""
    lines = [line for line in err.strip().splitlines() if line.strip()]
    assert "Traceback" not in err and len(lines) >= 1, err
    assert all(word in lines[-1] for word in words), err
    return lines[-1]


def with_rows(tiny, tmp_path, edit, name="m.csv"):
    """The tiny corpus's manifest with `edit(rows)` applied, written to tmp_path/name."""
    import data
    from scale import files
    rows = data.read_manifest(tiny["manifest"])
    edit(rows)
    files.write_manifest(rows, tmp_path / name)
    return tmp_path / name


def cli_in_process(main, tiny, *argv):
    """A command's `main(ARGV)` run in this process (torch is imported once per session, not once per call), on
    the tiny run's cache ($MOKSORI_CACHE as it is when tiny is None) -> (exit code, stdout, stderr)."""
    import contextlib
    import io

    out, err, saved = io.StringIO(), io.StringIO(), os.environ.get("MOKSORI_CACHE")
    if tiny is not None:
        os.environ["MOKSORI_CACHE"] = tiny["env"]["MOKSORI_CACHE"]
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main([str(a) for a in argv])
            except SystemExit as exit_:  # argparse's usage errors
                code = exit_.code
    finally:
        os.environ.pop("MOKSORI_CACHE", None) if saved is None else os.environ.update(MOKSORI_CACHE=saved)
    return code, out.getvalue(), err.getvalue()


def evaluate_cli(tiny, *argv):
    """`python evaluate.py ARGV` on the tiny run's cache, run in this process -> (exit code, stdout, stderr)."""
    import evaluate
    return cli_in_process(evaluate.main, tiny, *argv)


def timit_sample_dir():
    """The 16-speaker TIMIT sample in ../shared next to the checkout (or $MOKSORI_TIMIT), or None."""
    import os
    candidates = [os.environ.get("MOKSORI_TIMIT"), ROOT.parent / "shared" / "data" / "timit_sample"]
    for c in candidates:
        if c and (Path(c) / "spkrinfo.txt").is_file():
            return Path(c)
    return None


@pytest.fixture
def timit_dir():
    """Path to the TIMIT sample; skips the test cleanly where it is absent."""
    d = timit_sample_dir()
    if d is None:
        pytest.skip("TIMIT sample not found (../shared/data/timit_sample or $MOKSORI_TIMIT)")
    return d


@pytest.fixture(scope="module")
def one_torch_thread():
    """One torch thread for a test module of tiny tensors (fastest, and steady on a busy machine); the previous
    count is restored afterwards so other modules (e.g. the resume tests) are not affected."""
    import torch
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def tiny(tmp_path_factory):
    """{"root", "manifest", "env", "run"}: a tiny built-in corpus (12 speakers x 3 clips) and one finished
    2-epoch run, made once per test session under its base temp folder; $MOKSORI_CACHE points there, so
    nothing is written into the checkout."""
    import subprocess
    from extras import synth_corpus
    root = tmp_path_factory.getbasetemp() / "tiny"
    env = {**os.environ, "MOKSORI_CACHE": str(root / "cache"), "PYTHONIOENCODING": "utf-8"}
    manifest_csv = synth_corpus.make_synth_corpus(root / "corpus", n_speakers=12, n_utterances=3, seed=0)
    run = root / "run"
    if not (run / "metrics.json").is_file():
        result = subprocess.run([sys.executable, str(ROOT / "train.py"), "--manifest", str(manifest_csv), *TINY,
                                 "--out", str(run)], cwd=root, env=env, capture_output=True, text=True, timeout=600)
        assert result.returncode == 0, result.stdout + result.stderr
        (root / "train_stdout.txt").write_text(result.stdout, encoding="utf-8")
    return {"root": root, "manifest": str(manifest_csv), "env": env, "run": run}


