"""Hostile use, second round, in the core: a long recording in a training manifest featurised in blocks (private
memory and frames checked), a corpus whose features would not fit in memory refused naming --store, NaN weights
never saved, a folder stopped before its first epoch reused by the same command, an endless segment, Ctrl-C in
evaluate.py, train.py's Korean labels under LANG=C (the first round in tests/test_hostile.py).

    python -m pytest tests/test_hostile_core.py
"""
import io
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

import data
from scale import runs
from conftest import ROOT, TINY, one_line_error, with_rows
from test_train import train_here
from test_hostile_rooms import folder_writers, snapshot

SR = 16000


# ----------------------------------------------------------------------------- issue 30 in the core
def long_recording(folder, minutes=10, sr=44100):
    """(path, seconds): `minutes` of 44.1 kHz stereo -- a gated 140 Hz tone over noise, 106 MB of PCM -- written
    a minute at a time, once per folder."""
    path = Path(folder) / f"long{minutes}min.wav"
    if not path.is_file():
        rng = np.random.default_rng(0)
        with sf.SoundFile(path, "w", sr, 2, subtype="PCM_16") as f:
            for m in range(minutes):
                t = np.arange(60 * sr) / sr + 60 * m  # (60 sr,) seconds
                tone = 0.3 * np.sin(2 * np.pi * 140 * t) * ((t % 0.5) < 0.3)
                f.write((tone[:, None] + 0.02 * rng.standard_normal((len(t), 2))).astype(np.float32))  # (60 sr, 2)
    return path, 60.0 * minutes


PEAK_RSS_ANON = """import os, runpy, sys, threading, time
peak = [0]
def sample():  # the process's private (anonymous) resident memory, every 10 ms
    while True:
        with open("/proc/self/status") as f:
            peak[0] = max([peak[0]] + [int(l.split()[1]) * 1024 for l in f if l.startswith("RssAnon:")])
        time.sleep(0.01)
threading.Thread(target=sample, daemon=True).start()
report, sys.argv = sys.argv[1], sys.argv[2:]
sys.path.insert(0, os.path.dirname(sys.argv[0]))
try:
    runpy.run_path(sys.argv[0], run_name="__main__")
finally:
    open(report, "w").write(str(peak[0]))
"""


@pytest.mark.slow
def test_training_on_a_long_recording_keeps_private_memory_bounded(tiny, tmp_path):
    """Case 4: one training row of 10 minutes of 44.1 kHz stereo. Read whole, its audio and features took 1.37 GB
    of private memory (RssAnon, sampled every 10 ms in the training process) against 0.42 GB for the tiny corpus
    alone; read 30 s at a time (data.clip_features), 0.56 GB. The bound sits between."""
    path, _ = long_recording(tiny["root"])
    manifest = with_rows(tiny, tmp_path, lambda rows: rows.append(
        dict(next(r for r in rows if r["split"] == "train"), path=str(path))))
    report = tmp_path / "peak.txt"
    result = subprocess.run([sys.executable, "-c", PEAK_RSS_ANON, str(report), str(ROOT / "train.py"), "--manifest",
                             str(manifest), *TINY, "--epochs", "1", "--out", str(tmp_path / "run")], cwd=tiny["root"],
                            env=tiny["env"], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    n_train = sum(r["split"] == "train" for r in data.read_manifest(manifest))
    assert f"train {n_train}," in result.stdout, result.stdout  # the long row was read and trained on
    peak = int(report.read_text()) / 1e9
    assert peak < 1.0, f"training took {peak:.2f} GB of private memory"


def test_a_long_span_is_featurised_in_bounded_memory_and_keeps_every_frame(tiny):
    """Case 4, in this process: data.load_features (what training calls) on the same 10 minutes, NumPy's
    allocations traced. The whole file read at once peaked at 1.17 GB (its float32 samples alone are 212 MB);
    a block at a time, 0.07 GB. The frames are the whole file's count, T = 1 + N // HOP_LENGTH."""
    import tracemalloc
    import features
    path, seconds = long_recording(tiny["root"])
    tracemalloc.start()
    try:
        feats, kept, _ = data.load_features([{"path": str(path), "speaker": "s", "split": "train"}], "mfcc_f0")
        peak = tracemalloc.get_traced_memory()[1] / 1e9
    finally:
        tracemalloc.stop()
    x = feats.arrays[0]  # (3, 14, T)
    assert peak < 0.25, f"reading {seconds:.0f} s peaked at {peak:.2f} GB"
    assert x.shape == (3, 14, 1 + int(seconds * features.SR) // features.HOP_LENGTH), x.shape


@pytest.mark.parametrize("seconds", [70, 90])
def test_features_of_a_long_span_read_in_blocks_equal_the_whole_span(tiny, seconds):
    """Case 4: data.clip_features of a 70 s and a 90 s file of 44.1 kHz stereo (three blocks; 90 s ends on a
    block's edge) against features.extract of the file read whole: the same frame count and every frame within
    0.01 dB (MFCCs) and 0.01 semitone (the F0 row)."""
    import features
    sr = 44100
    t = np.arange(seconds * sr) / sr
    y = (0.3 * np.sin(2 * np.pi * (140 + 30 * np.sin(0.5 * t)) * t) * ((t % 0.5) < 0.3))[:, None] \
        + 0.02 * np.random.default_rng(1).standard_normal((len(t), 2))  # (N, 2): a gliding tone over noise
    path = tiny["root"] / f"span{seconds}.wav"
    sf.write(path, y.astype(np.float32), sr, subtype="FLOAT")
    blocks = data.clip_features({"path": str(path)}, "mfcc_f0")  # (3, 14, T)
    whole = features.extract(data.load_audio(path), features.SR, "mfcc_f0")  # (3, 14, T)
    assert blocks.shape == whole.shape, (blocks.shape, whole.shape)
    worst = np.abs(blocks - whole).max(axis=(0, 2))  # (14,) per row
    assert worst[:13].max() < 0.01 and worst[13] < 0.01, f"largest difference per row {worst}"


def fake_meminfo(monkeypatch, kilobytes):
    """scale/settings.py reads /proc/meminfo through open(): it now says `kilobytes` are available."""
    import builtins
    from scale import settings
    real = builtins.open
    monkeypatch.setattr(settings, "open", lambda path, *args, **kwargs: io.StringIO(
        f"MemTotal: {2 * kilobytes} kB\nMemAvailable: {kilobytes} kB\n") if str(path) == "/proc/meminfo"
        else real(path, *args, **kwargs), raising=False)


def test_a_corpus_whose_features_would_not_fit_in_memory_is_refused_naming_store(tiny, tmp_path, monkeypatch,
                                                                                   capsys):
    """Case 5: 40 training rows of a 30-minute recording beside the tiny corpus, on a machine with 2 GB available:
    refused before any clip is extracted, in one line naming --store; the size is the features' (their bytes per
    second, measured on a clip, times the clips' seconds from their headers)."""
    import features
    from scale import settings
    half_hour = tmp_path / "half_an_hour.wav"
    with sf.SoundFile(half_hour, "w", 8000, 1, subtype="PCM_16") as f:
        for _ in range(30):
            f.write(np.zeros(60 * 8000, np.int16))
    manifest = with_rows(tiny, tmp_path, lambda rows: rows.extend(
        dict(next(r for r in rows if r["split"] == "train"), path=str(half_hour), speaker=f"long{k}") for k in range(40)))
    rows = data.read_manifest(manifest)
    seconds = sum(sf.info(r["path"]).duration for r in rows)  # 36 clips of the tiny corpus + 40 x 1800 s
    clip = features.extract(data.load_audio(rows[0]["path"]), features.SR, "mfcc_f0")
    need = seconds * clip.nbytes / (clip.shape[-1] * features.HOP_LENGTH / features.SR)  # bytes

    def extraction(*args, **kwargs):
        raise AssertionError("features were extracted")
    monkeypatch.setattr(data, "load_features", extraction)
    fake_meminfo(monkeypatch, 2_000_000)  # 2.0 GB available
    code, out, err = train_here(monkeypatch, capsys, tiny, "--manifest", str(manifest), *TINY,
                                "--out", str(tmp_path / "run"))
    assert code == 2, err
    line = one_line_error(err, f"the features of {len(rows)} clips would take about", "over half of the 2.0 GB available",
                          "add --store")
    said = float(line.split("about ")[1].split(" GB")[0])
    assert abs(said - need / 1e9) <= 0.05 + 0.02 * need / 1e9, f"said {said} GB, the features are {need / 1e9:.2f} GB"
    assert not (tmp_path / "run").exists()
    fake_meminfo(monkeypatch, 8_000_000)  # with 8 GB the same corpus fits
    assert settings.check_memory(rows, "mfcc_f0") is None


def test_weights_that_become_nan_with_a_finite_loss_stop_the_run_before_best_pt(tiny, tmp_path, monkeypatch,
                                                                                 capsys):
    """Case 10: the optimiser leaves NaN weights on the first epoch's last step, whose loss was finite (so the loss
    check cannot see it): the run stops with one line, and no best.pt or last.pt holds the NaN model."""
    import torch
    n_steps = sum(r["split"] == "train" for r in data.read_manifest(tiny["manifest"])) // 8  # TINY's batch of 8
    real_step, steps = torch.optim.AdamW.step, []

    def step_then_nan(self, *args, **kwargs):
        result = real_step(self, *args, **kwargs)
        steps.append(1)
        if len(steps) == n_steps:  # the epoch's last step
            with torch.no_grad():
                self.param_groups[0]["params"][0].fill_(float("nan"))
        return result
    monkeypatch.setattr(torch.optim.AdamW, "step", step_then_nan)
    run = tmp_path / "run"
    code, out, err = train_here(monkeypatch, capsys, tiny, "--manifest", tiny["manifest"], *TINY, "--epochs", "1",
                                "--out", str(run))
    assert code == 2 and len(steps) == n_steps, (steps, err)
    one_line_error(err, "weights became NaN or inf in epoch 1", "try a smaller --lr")
    assert "loss became" not in err and not (run / "best.pt").exists() and not (run / "last.pt").exists()


def test_a_negative_age_in_years_stops_training_with_one_line_naming_the_clip(tiny, tmp_path, monkeypatch, capsys):
    """Case 12: age_years -5 in one row of a manifest whose other ages are plausible was trained on silently."""
    typo = []

    def ages(rows):
        for r in rows:
            r["age_years"] = str(int(r["age"][:2]) + 5)  # "20s" -> 25
        rows[5]["age_years"] = "-5"
        typo.append(rows[5]["path"])
    manifest = with_rows(tiny, tmp_path, ages)
    code, out, err = train_here(monkeypatch, capsys, tiny, "--manifest", str(manifest), *TINY,
                                "--out", str(tmp_path / "run"))
    assert code == 2 and "epoch" not in out, out
    one_line_error(err, f"{typo[0]}: age_years value '-5' is not a number in 0-130")
    assert not (tmp_path / "run").exists()


# ----------------------------------------------------------------------------- 13: stopped before epoch 1
@pytest.mark.parametrize("when", ["before epoch 1", "twice in epoch 1"])
def test_ctrl_c_before_the_first_epoch_ended_leaves_a_folder_the_same_command_reuses(tiny, tmp_path, monkeypatch,
                                                                                      capsys, when):
    """Case 13: Ctrl-C after the data line (config.json and manifest.csv written, no model yet), or twice in epoch 1
    (the second stops at once, before last.pt): one line saying to run the same command again, and that command
    then trains in the same folder -- the folder no longer says 'not empty' while --resume says 'no last.pt'."""
    import mtl
    run = tmp_path / "run"
    argv = ["--manifest", tiny["manifest"], *TINY, "--epochs", "1", "--out", str(run)]
    name = "count_parameters" if when == "before epoch 1" else "multitask_loss"  # the model line; a step
    real = getattr(mtl, name)

    def ctrl_c(*args, **kwargs):
        signal.raise_signal(signal.SIGINT)
        if when == "twice in epoch 1":
            signal.raise_signal(signal.SIGINT)  # the first asks for last.pt after this step; the second quits
        return real(*args, **kwargs)
    monkeypatch.setattr(mtl, name, ctrl_c)
    handler = signal.getsignal(signal.SIGINT)
    try:
        code, out, err = train_here(monkeypatch, capsys, tiny, *argv)
    finally:
        signal.signal(signal.SIGINT, handler)
    assert code == 130, err
    one_line_error(err, "train.py: interrupted; no epoch had ended: the same command with --out", str(run))
    assert sorted(p.name for p in run.iterdir()) == [runs.LOCK, "config.json", "manifest.csv"]
    monkeypatch.setattr(mtl, name, real)
    code, out, err = train_here(monkeypatch, capsys, tiny, *argv)
    assert code == 0, err
    assert (run / "metrics.json").is_file() and len((run / "history.csv").read_text().splitlines()) == 2


def test_a_closed_output_pipe_is_one_line_and_the_folder_is_reused(tiny, tmp_path, monkeypatch, capsys):
    """Case 13: `train.py ... | head -1` (unbuffered, so the second line meets the closed pipe): one line on
    stderr, exit code 130, no traceback; the same command without the pipe then trains in that folder."""
    import shlex
    run = tmp_path / "run"
    argv = ["--manifest", tiny["manifest"], *TINY, "--epochs", "1", "--out", str(run)]
    shell = f"{shlex.join([sys.executable, str(ROOT / 'train.py'), *argv])} | head -1; exit ${{PIPESTATUS[0]}}"
    result = subprocess.run(["bash", "-c", shell], cwd=tiny["root"], env={**tiny["env"], "PYTHONUNBUFFERED": "1"},
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 130, result.stderr
    assert result.stdout.startswith("device") and len(result.stdout.splitlines()) == 1, result.stdout
    one_line_error(result.stderr, "no epoch had ended: the same command with --out", str(run))
    assert not (run / "best.pt").exists()
    code, out, err = train_here(monkeypatch, capsys, tiny, *argv)
    assert code == 0 and (run / "metrics.json").is_file(), err


def test_only_train_py_reuses_a_folder_stopped_before_its_first_epoch(tiny, tmp_path, monkeypatch):
    """Case 13: the folder of a run stopped before epoch 1 (its lock, config.json, manifest.csv) is train.py's to
    reuse; the baseline, the release and --save still refuse it, and without the lock (a user's own config.json
    and manifest.csv) train.py refuses it too."""
    monkeypatch.setenv("MOKSORI_CACHE", tiny["env"]["MOKSORI_CACHE"])
    out = tmp_path / "stopped"
    out.mkdir()
    (out / runs.LOCK).write_text("4242\n", encoding="ascii")
    for name in ("config.json", "manifest.csv"):
        shutil.copy(tiny["run"] / name, out / name)
    before = snapshot(out)
    for writer in ("baseline", "release", "evaluate --save"):
        code, err = folder_writers(tiny, out)[writer]()
        assert code == 2, (writer, err)
        one_line_error(err, str(out), "is not empty (config.json, manifest.csv)")
    assert snapshot(out) == before
    assert runs.unfit_folder(out, started=True) == ""  # train.py's own
    (out / runs.LOCK).unlink()
    assert "is not empty" in runs.unfit_folder(out, started=True)


# ----------------------------------------------------------------------------- 14, 19, 21
@pytest.mark.parametrize("end", ["inf", "1e400"])
def test_an_endless_segment_is_one_line_naming_the_manifest_line(tiny, tmp_path, monkeypatch, capsys, end):
    """Case 14: end_s = inf or 1e400 (a float that overflows) was an OverflowError in data.load_audio, with
    --skip-bad too; now the manifest is refused as it is read, naming its line."""
    manifest = with_rows(tiny, tmp_path, lambda rows: rows[3].update(start_s="0", end_s=end))
    for skip in ([], ["--skip-bad"]):
        code, out, err = train_here(monkeypatch, capsys, tiny, "--manifest", str(manifest), *TINY, *skip,
                                    "--out", str(tmp_path / f"run{len(skip)}"))
        assert code == 2 and "epoch" not in out, (skip, out)
        one_line_error(err, f"{manifest}: line 5: segment start_s '0', end_s '{end}'",
                       "expected 0 <= start_s < end_s (seconds)")


@pytest.mark.parametrize("what", ["--wav", "a split report"])
def test_ctrl_c_in_evaluate_is_one_line(tiny, tmp_path, what):
    """Case 19: a real SIGINT to evaluate.py's process group while it works -- profiling a 10-minute recording, or
    reading a split's 2,000 clips after its first line -- ends with "evaluate.py: interrupted", exit code 130,
    where a 30-55-line KeyboardInterrupt traceback was. -X importtime marks the moment --wav is under way: the
    interpreter reports the import of extras/recording.py, which evaluate.main makes inside its work."""
    if what == "--wav":
        t = np.arange(60 * SR) / SR
        minute = (0.3 * np.sin(2 * np.pi * 140 * t) * ((t % 0.5) < 0.3)).astype(np.float32)
        with sf.SoundFile(tmp_path / "long.wav", "w", SR, 1, subtype="PCM_16") as f:
            for _ in range(10):
                f.write(minute)
        argv = ["-X", "importtime", str(ROOT / "evaluate.py"), str(tiny["run"]), "--wav", str(tmp_path / "long.wav")]
    else:
        big = with_rows(tiny, tmp_path, lambda rows: rows.extend([dict(r, speaker=f"{r['speaker']}~{k}")
                                                                  for k in range(1, 60) for r in list(rows)]))
        argv = [str(ROOT / "evaluate.py"), str(tiny["run"]), "--manifest", str(big), "--split", "all"]
    proc = subprocess.Popen([sys.executable, *argv], cwd=tiny["root"], env={**tiny["env"], "PYTHONUNBUFFERED": "1"},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        if what == "--wav":
            while "extras.recording" not in (line := proc.stderr.readline()):
                assert line, "evaluate.py ended before it profiled"
        else:
            assert "2160 clips" in proc.stdout.readline()  # the report's first line: the clips are read next
        os.killpg(proc.pid, signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    lines = [line for line in err.splitlines() if line.strip() and not line.startswith("import time:")]
    assert proc.returncode == 130 and lines == ["evaluate.py: interrupted"], (proc.returncode, err[-2000:])


def test_train_prints_korean_labels_under_an_ascii_locale(tiny, tmp_path):
    """Case 21: LANG=C, no UTF-8 mode, no locale coercion: stdout is ASCII, and printing the tiny corpus's Korean
    dialect names ended train.py with UnicodeEncodeError after its folder was claimed. Now the names print as
    \\u escapes and the run finishes."""
    env = {k: v for k, v in tiny["env"].items() if not k.startswith(("LC_", "LANG", "PYTHONIOENCODING", "PYTHONUTF8"))}
    env.update(LANG="C", LC_ALL="C", PYTHONUTF8="0", PYTHONCOERCECLOCALE="0")
    run = tmp_path / "run"
    result = subprocess.run([sys.executable, str(ROOT / "train.py"), "--manifest", tiny["manifest"], *TINY,
                             "--epochs", "1", "--out", str(run)], cwd=tiny["root"], env=env, capture_output=True,
                            timeout=300)
    out, err = result.stdout.decode("ascii"), result.stderr.decode("ascii", "replace")
    assert result.returncode == 0 and "Traceback" not in err, err
    dialects = next(line for line in out.splitlines() if line.strip().startswith("dialect:"))
    assert "\\uac15\\uc6d0" in dialects, dialects  # 강원
    assert (run / "metrics.json").is_file()
