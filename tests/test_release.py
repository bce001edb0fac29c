"""scale/release.py on the tiny run: the released folder holds what every tool reads and no path of the training
machine, and evaluate.py scores and profiles with it like with the run itself.

    python -m pytest tests/test_release.py
"""
import json

import numpy as np
import soundfile as sf

import runs
from conftest import evaluate_cli
from scale import release


def test_a_released_run_carries_no_machine_path_and_profiles_like_the_run(tiny, tmp_path):
    out = tmp_path / "release"
    assert release.main([str(tiny["run"]), str(out), "--roots", "corpus"]) == 0
    assert sorted(p.name for p in out.iterdir()) == sorted(release.KEEP)
    text = "".join((out / name).read_text(encoding="utf-8") for name in ("config.json", "manifest.csv"))
    assert str(tiny["root"]) not in text, "a path of the training machine was kept"
    assert json.loads((out / "config.json").read_text(encoding="utf-8"))["tasks"] == \
        runs.load_checkpoint(tiny["run"] / "best.pt")["config"]["tasks"]
    wav = tmp_path / "voice.wav"
    sf.write(wav, (0.3 * np.sin(2 * np.pi * 180 * np.arange(3 * 16000) / 16000)).astype(np.float32), 16000)
    code, theirs, err = evaluate_cli(tiny, out, "--wav", wav)
    assert code == 0, err
    code, ours, err = evaluate_cli(tiny, tiny["run"], "--wav", wav)
    assert theirs.splitlines()[1:] == ours.splitlines()[1:], (theirs, ours)  # the same answers, line for line
