"""scale/release.py on the tiny run: the released folder holds what every tool reads and no path of the training
machine, and evaluate.py scores and profiles with it like with the run itself.

    python -m pytest tests/test_release.py
"""
import json
from pathlib import Path

import numpy as np
import soundfile as sf

from scale import checkpoints
from conftest import evaluate_cli
from extras import recording
from scale import release


def test_a_released_run_carries_no_machine_path_and_profiles_like_the_run(tiny, tmp_path):
    out = tmp_path / "release"
    assert release.main([str(tiny["run"]), str(out), "--roots", "corpus"]) == 0
    assert sorted(p.name for p in out.iterdir()) == sorted(release.KEEP + release.OPTIONAL)
    text = "".join((out / name).read_text(encoding="utf-8") for name in ("config.json", "manifest.csv"))
    assert str(tiny["root"]) not in text, "a path of the training machine was kept"
    for folder in (tiny["root"].parent, Path.cwd(), out.resolve()):
        assert str(folder) not in text, f"an absolute path under {folder} was written"
    paths = [line.split(",")[0] for line in (out / "manifest.csv").read_text(encoding="utf-8").splitlines()[1:]]
    assert paths and all(p.startswith("corpus/") for p in paths), paths[:3]
    assert json.loads((out / "config.json").read_text(encoding="utf-8"))["tasks"] == \
        checkpoints.load_checkpoint(tiny["run"] / "best.pt")["config"]["tasks"]
    wav = tmp_path / "voice.wav"
    sf.write(wav, (0.3 * np.sin(2 * np.pi * 180 * np.arange(3 * 16000) / 16000)).astype(np.float32), 16000)
    code, theirs, err = evaluate_cli(tiny, out, "--wav", wav)
    assert code == 0, err
    code, ours, err = evaluate_cli(tiny, tiny["run"], "--wav", wav)
    assert theirs.splitlines()[1:] == ours.splitlines()[1:], (theirs, ours)  # the same answers, line for line


def test_a_run_without_temperatures_is_released_without_them(tiny, tmp_path):
    """A run older than temperature scaling has no calibration.json: released all the same, its answers at T = 1."""
    import shutil
    run = tmp_path / "run"
    shutil.copytree(tiny["run"], run)
    (run / "calibration.json").unlink()
    assert release.main([str(run), str(tmp_path / "release"), "--roots", "corpus"]) == 0
    assert sorted(p.name for p in (tmp_path / "release").iterdir()) == sorted(release.KEEP)
    assert checkpoints.load_run(tmp_path / "release")[0]["temperature"] == {}


def test_the_committed_release_is_small_predicts_the_card_tasks_and_profiles_any_file(tiny, tmp_path):
    """release/ as shipped: gender, age groups child to senior and age_years, a few MB, no machine path; `--wav`
    without a run folder uses it, and a stereo copy of a clip (both channels equal) gets the same answer."""
    import evaluate
    folder = evaluate.RELEASE
    config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    assert config["tasks"] == ["gender", "age", "age_years"]
    assert sorted(config["vocabs"]["age"]) == ["adult", "child", "senior", "teen"]
    assert (folder / "best.pt").stat().st_size < 2e6  # the weights: about 1.2 MB
    assert sum(p.stat().st_size for p in folder.iterdir()) < 5e6  # with the manifest of its 12,769 clips
    manifest = (folder / "manifest.csv").read_text(encoding="utf-8")
    assert "/work/" not in manifest and "\n/" not in manifest and ":\\" not in manifest
    rng = np.random.default_rng(0)
    t = np.arange(3 * 16000) / 16000
    voice = (0.2 * np.sin(2 * np.pi * (120 + 10 * np.sin(2 * np.pi * 3 * t)) * t) * (1 + 0.3 * np.sin(2 * np.pi * 4 * t))
             + 0.003 * rng.standard_normal(t.size)).astype(np.float32)
    sf.write(tmp_path / "mono.wav", voice, 16000)
    sf.write(tmp_path / "stereo.wav", np.stack([voice, voice], axis=1), 16000)
    code, mono, err = evaluate_cli(tiny, "--wav", tmp_path / "mono.wav")
    assert code == 0, err
    assert all(task in mono for task in ("gender", "age", "age_years")), mono
    code, named, err = evaluate_cli(tiny, folder, "--wav", tmp_path / "mono.wav")
    assert code == 0 and named == mono, (named, mono)  # no run folder given: the released model's answer
    code, stereo, err = evaluate_cli(tiny, "--wav", tmp_path / "stereo.wav")
    assert code == 0, err
    assert mono.splitlines()[1:] == stereo.splitlines()[1:], (mono, stereo)
    config, model = checkpoints.load_run(folder)
    outputs, _ = recording.profile(model, config, voice)
    for task in ("gender", "age"):
        assert abs(float(outputs[task].sum()) - 1) < 1e-4 and (outputs[task] >= 0).all()
