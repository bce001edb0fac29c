"""train.py under torchrun (two gloo processes on the CPU) and from the on-disk store with DataLoader workers: the
same run as one process with features in memory, because every batch comes from (seed, epoch) alone and DDP averages the gradients of
the two halves of each global batch.

    python -m pytest tests/test_distributed.py
"""
import json
import subprocess
import sys

import pytest
import torch

from conftest import ROOT, TINY


def run(tiny, out, *extra, processes=1):
    """train.py on the tiny corpus (hps: no BatchNorm, no dropout) -> (metrics.json, last.pt weights, stdout); one
    process runs in this one (train.main), several under torchrun."""
    argv = [*TINY, *extra, "--model", "hps", "--manifest", tiny["manifest"], "--out", str(out)]
    if processes == 1:
        import contextlib
        import io
        import os

        import train
        stdout, saved = io.StringIO(), os.environ.get("MOKSORI_CACHE")
        os.environ["MOKSORI_CACHE"] = tiny["env"]["MOKSORI_CACHE"]
        try:
            with contextlib.redirect_stdout(stdout):
                train.main(argv)
        finally:
            os.environ.pop("MOKSORI_CACHE") if saved is None else os.environ.update(MOKSORI_CACHE=saved)
        output = stdout.getvalue()
    else:
        launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={processes}"]
        result = subprocess.run([*launcher, str(ROOT / "train.py"), *argv], cwd=tiny["root"], env=tiny["env"],
                                capture_output=True, text=True, timeout=600)
        assert result.returncode == 0, result.stdout + result.stderr
        output = result.stdout
    metrics = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    metrics.pop("seconds")
    return metrics, torch.load(out / "last.pt", weights_only=True)["model"], output


def largest_difference(a, b):
    return max((a[k].double() - b[k].double()).abs().max().item() for k in a if a[k].numel())


@pytest.mark.slow
def test_two_torchrun_processes_match_one_process_with_the_same_global_batch(tiny, tmp_path):
    one, w1, _ = run(tiny, tmp_path / "one")
    two, w2, stdout = run(tiny, tmp_path / "two", processes=2)
    assert "2 processes" in stdout and stdout.count("best.pt (epoch") == 1, "only the first process prints"
    assert sorted(p.name for p in (tmp_path / "two").iterdir()) == sorted(p.name for p in (tmp_path / "one").iterdir())
    diff = largest_difference(w1, w2)
    print(f"largest weight difference, 1 vs 2 processes after 2 epochs: {diff:.2e}")
    assert diff < 1e-4
    two.pop("device"), one.pop("device")
    for task in one["tasks"]:
        for key, value in one["tasks"][task].items():
            assert value == pytest.approx(two["tasks"][task][key], abs=1e-3), (task, key)


@pytest.mark.slow
def test_dataloader_workers_do_not_change_the_run(tiny, tmp_path):
    """Features in memory, batches cut here; and from the on-disk store, batches cut in two DataLoader workers."""
    zero, w0, _ = run(tiny, tmp_path / "zero")
    two, w2, _ = run(tiny, tmp_path / "two", "--store", "--workers", "2")
    assert largest_difference(w0, w2) < 1e-7, "the same batches, cut in worker processes"
    assert zero == two
