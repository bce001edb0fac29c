"""Shared pytest set-up.

librosa is used only by tests/make_reference.py (to produce the saved reference values) and by bench.py.
Blocking it here proves that no test needs it: `import librosa` inside a test raises ImportError.
"""
import os
import subprocess
import sys
from pathlib import Path

import pytest

sys.modules["librosa"] = None  # any `import librosa` under pytest now fails loudly

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
TINY = ["--epochs", "2", "--batch-size", "8", "--patience", "0", "--workers", "0", "--seed", "0", "--no-auto-refit"]  # train.py flags


def evaluate_cli(tiny, *argv):
    """Run `python evaluate.py ARGV` in a subprocess on the tiny run's folder -> (exit code, stdout, stderr)."""
    result = subprocess.run([sys.executable, str(ROOT / "evaluate.py"), *argv], cwd=tiny["root"], env=tiny["env"],
                            capture_output=True, text=True, encoding="utf-8", timeout=300)
    return result.returncode, result.stdout, result.stderr


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


