"""No code runs from data: a checkpoint is read with torch.load(weights_only=True) wherever it is opened.

A crafted best.pt / last.pt whose pickle would create a marker file is pointed at scale/checkpoints.load_run, at
`python evaluate.py RUN` and at `python train.py --resume RUN`: the marker must never appear and each door
must answer with one line, "PATH: not a moksori checkpoint (...)", and exit code 2.

    python -m pytest tests/test_checkpoints.py
"""
import io
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
import torch

from scale import checkpoints, resume, runs
from conftest import evaluate_cli, ROOT


class Payload:
    """Unpickling this calls os.system(command): what a hostile checkpoint would do."""

    def __init__(self, command):
        self.command = command

    def __reduce__(self):
        return os.system, (self.command,)


def hostile_checkpoint(path, marker):
    """A torch.save file shaped like a moksori checkpoint whose 'config' would run `touch marker`."""
    torch.save({"model": {}, "config": Payload(f"touch {marker}"), "vocabs": {}}, path)


@pytest.fixture
def hostile_run(tiny, tmp_path):
    """A copy of the tiny run whose best.pt and last.pt are both hostile; -> (run folder, marker path)."""
    run, marker = tmp_path / "shared-run", tmp_path / "MARKER"
    shutil.copytree(tiny["run"], run)
    for name in ("best.pt", "last.pt"):
        hostile_checkpoint(run / name, marker)
    return run, marker


def test_the_payload_really_runs_under_an_unsafe_load(tmp_path):
    """The fixture is a real attack: a plain pickle load creates the marker (so the tests below can fail)."""
    marker = tmp_path / "MARKER"
    hostile_checkpoint(tmp_path / "evil.pt", marker)
    torch.load(tmp_path / "evil.pt", weights_only=False)
    assert marker.exists()


def test_load_run_refuses_a_hostile_checkpoint(hostile_run):
    run, marker = hostile_run
    with pytest.raises(checkpoints.CheckpointError) as err:
        checkpoints.load_run(run)
    message = str(err.value)
    assert message.startswith(f"{run / 'best.pt'}: not a moksori checkpoint (") and "\n" not in message, message
    assert "system" in message, message  # names the global it refused
    assert not marker.exists()


def test_evaluate_refuses_a_hostile_run_with_one_line(hostile_run, tiny):
    run, marker = hostile_run
    code, out, err = evaluate_cli(tiny, run)
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and f"{run / 'best.pt'}: not a moksori checkpoint (" in lines[0], err
    assert not marker.exists()


def test_resume_refuses_a_hostile_last_pt_with_one_line(hostile_run, tiny):
    run, marker = hostile_run
    result = subprocess.run([sys.executable, str(ROOT / "train.py"), "--resume", str(run)], cwd=tiny["root"],
                            env=tiny["env"], capture_output=True, text=True, timeout=300)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and f"{run / 'last.pt'}: not a moksori checkpoint (" in lines[0], result.stderr
    assert not marker.exists()


@pytest.mark.parametrize("content", [b"", b"not a checkpoint at all", b"PK\x03\x04truncated zip"],
                         ids=["empty", "text", "truncated-zip"])
def test_files_that_are_not_checkpoints_are_named(tmp_path, content):
    path = tmp_path / "best.pt"
    path.write_bytes(content)
    with pytest.raises(checkpoints.CheckpointError, match=r"best\.pt: not a moksori checkpoint \("):
        checkpoints.load_checkpoint(path)


def test_a_safe_file_without_moksori_keys_is_refused(tmp_path):
    torch.save({"state_dict": {"w": torch.zeros(2)}}, tmp_path / "other.pt")
    torch.save([1, 2, 3], tmp_path / "list.pt")
    with pytest.raises(checkpoints.CheckpointError, match=r"not a moksori checkpoint \(no model, config, vocabs\)"):
        checkpoints.load_checkpoint(tmp_path / "other.pt")
    with pytest.raises(checkpoints.CheckpointError, match=r"holds a list"):
        checkpoints.load_checkpoint(tmp_path / "list.pt")


def test_rng_states_survive_a_weights_only_round_trip():
    """torch's state comes back from a weights-only load: the same draws after restoring it (the draws of a
    generator are integers underneath, so they repeat exactly; compared as floats within 1e-12 all the same)."""
    torch.manual_seed(3)
    buffer = io.BytesIO()
    torch.save({"rng": runs.rng_states()}, buffer)
    expected = torch.rand(5)
    buffer.seek(0)
    states = torch.load(buffer, weights_only=True)["rng"]
    torch.manual_seed(9)
    resume.set_rng_states(states)
    assert torch.allclose(torch.rand(5), expected, rtol=0, atol=1e-12)


def test_a_format_1_last_pt_with_numpy_rng_arrays_still_loads(tmp_path):
    """Checkpoints written before this change kept numpy's RNG key as an ndarray: they load, weights only."""
    np.random.seed(5)
    legacy = {"model": {"w": torch.ones(2)}, "config": {"model": "hps"}, "vocabs": {},
              "rng": {"numpy": np.random.get_state()}}
    torch.save(legacy, tmp_path / "last.pt")
    ckpt = checkpoints.load_checkpoint(tmp_path / "last.pt")
    assert np.array_equal(np.asarray(ckpt["rng"]["numpy"][1]), np.random.get_state()[1])


def test_nothing_but_weights_only_loads_in_the_code():
    """Every torch.load and np.load in the project's modules reads without pickle."""
    for path in sorted(ROOT.glob("*.py")):
        text = path.read_text(encoding="utf-8")
        assert "weights_only=False" not in text, path
        assert "allow_pickle=True" not in text, path
        for line in text.splitlines():
            if "torch.load(" in line and "def " not in line:
                assert "weights_only=True" in line, f"{path.name}: {line.strip()}"
