"""Nothing lost under hostile or unlucky use: each case is something a user did, and the one line it now gets.
(That a run folder belongs to one run -- two trainings on one folder, --out over a corpus or a recording --
is tested in tests/test_runs.py.)

--skip-bad skips every kind of unreadable clip (missing, dangling, looping, a damaged header), memory stays bounded
(a 1 Hz header, a long recording, both under a resource limit so a regression fails instead of swapping), Ctrl-C
during feature extraction ends with one line, and duplicated columns, a full disk and strange scores get one line
naming the file. Bad saved settings under --resume: tests/test_resume.py. The second round (issue 30):
tests/test_hostile_rooms.py (the rooms' commands) and tests/test_hostile_core.py (the core's).

    python -m pytest tests/test_hostile.py
"""
import csv
import json
import os
import resource
import shutil
import signal
import struct
import subprocess
import sys
import time

import numpy as np
import pytest
import soundfile as sf

import data
from scale import checkpoints, files
from conftest import ROOT, TINY, evaluate_cli, one_line_error, with_rows
from test_train import train_here

SR = 16000


def bomb(path, rate=1):
    """A 40 KB WAV whose header claims `rate` Hz: 20,000 samples that would last 5.6 hours at 1 Hz."""
    sf.write(path, (0.1 * np.random.default_rng(0).standard_normal(SR)).astype(np.float32), SR, subtype="PCM_16")
    raw = bytearray(path.read_bytes())
    raw[24:28], raw[28:32] = struct.pack("<I", rate), struct.pack("<I", 2 * rate)  # sample rate, byte rate
    path.write_bytes(bytes(raw[:40000]))
    return path


def limited(gigabytes):
    """preexec_fn: the child may map at most this much memory (RLIMIT_AS), so a blow-up fails instead of swapping."""
    return lambda: resource.setrlimit(resource.RLIMIT_AS, (int(gigabytes * 2 ** 30),) * 2)


# ----------------------------------------------------------------------------- 4, 7, 9: --skip-bad skips everything
def damage_every_kind(tiny, tmp_path, rows, indices):
    """Replace the rows at `indices` (training rows) by one clip of each unreadable kind -> their names."""
    (tmp_path / "loop").symlink_to(tmp_path / "loop")  # a symlink loop
    (tmp_path / "dangling.wav").symlink_to(tmp_path / "gone.wav")
    (tmp_path / "empty.wav").write_bytes(b"")
    (tmp_path / "text.wav").write_text("not audio", encoding="utf-8")
    bomb(tmp_path / "bomb.wav")
    sf.write(tmp_path / "nan.wav", np.full(SR, np.nan, dtype=np.float32), SR, subtype="FLOAT")
    kinds = ["missing.wav", "dangling.wav", "loop", "empty.wav", "text.wav", "bomb.wav", "nan.wav"]
    for i, name in zip(indices, kinds):
        rows[i]["path"] = str(tmp_path / name)
    return kinds


@pytest.mark.parametrize("where", ["memory", "store"])
def test_skip_bad_skips_every_kind_of_unreadable_clip_in_training(where, tiny, tmp_path, monkeypatch, capsys):
    rows = data.read_manifest(tiny["manifest"])
    train = [i for i, r in enumerate(rows) if r["split"] == "train"]
    kinds = damage_every_kind(tiny, tmp_path, rows, train)
    files.write_manifest(rows, tmp_path / "m.csv")
    store = ["--store"] if where == "store" else []
    code, out, err = train_here(monkeypatch, capsys, tiny, "--manifest", str(tmp_path / "m.csv"), *TINY, "--epochs",
                                "1", *store, "--out", str(tmp_path / "strict"))
    assert code == 2 and "Traceback" not in err, err  # without --skip-bad: one line naming the first bad clip
    code, out, err = train_here(monkeypatch, capsys, tiny, "--manifest", str(tmp_path / "m.csv"), *TINY, "--epochs",
                                "1", *store, "--skip-bad", "--out", str(tmp_path / "run"))
    assert code == 0, err
    assert f"skipped {len(kinds)} of {len(train)} clips" in err, err
    assert f"train {len(train) - len(kinds)}," in out, out


def test_skip_bad_in_evaluate_manifest_and_wav(tiny, tmp_path):
    rows = data.read_manifest(tiny["run"] / "manifest.csv")
    kinds = damage_every_kind(tiny, tmp_path, rows, range(7))
    files.write_manifest(rows, tmp_path / "m.csv")
    code, out, err = evaluate_cli(tiny, tiny["run"], "--manifest", tmp_path / "m.csv", "--split", "all")
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    code, out, err = evaluate_cli(tiny, tiny["run"], "--manifest", tmp_path / "m.csv", "--split", "all", "--skip-bad")
    assert code == 0 and f"skipped {len(kinds)} of {len(rows)} clips" in err, err
    assert f"{len(rows) - len(kinds)} clips" in out.splitlines()[0] or "gender" in out, out
    code, out, err = evaluate_cli(tiny, tiny["run"], "--wav", *[tmp_path / k for k in kinds], rows[-1]["path"],
                                  "--out", tmp_path / "p.csv")
    assert code == 0 and len(err.strip().splitlines()) == len(kinds), err  # one line per bad file, the rest goes on
    profiled = list(csv.DictReader(open(tmp_path / "p.csv", encoding="utf-8", newline="")))
    assert len(profiled) == len(kinds) + 1 and sum(not r["error"] for r in profiled) == 1


def test_no_readable_training_or_validation_clip_is_one_line_before_any_work(tiny, tmp_path, monkeypatch, capsys):
    for split in ("train", "val"):
        def gone(rows):
            for r in rows:
                if r["split"] == split:
                    r["path"] = str(tmp_path / "nowhere.wav")
        manifest = with_rows(tiny, tmp_path, gone, f"{split}.csv")
        code, out, err = train_here(monkeypatch, capsys, tiny, "--manifest", str(manifest), *TINY, "--skip-bad",
                                    "--out", str(tmp_path / split))
        assert code == 2 and "epoch" not in out, out
        one_line_error(err, f"no readable {split} clips")
        assert not (tmp_path / split / "config.json").exists()


# ----------------------------------------------------------------------------- 5, 6: memory bounded by design
def test_a_header_claiming_1_hz_is_one_line_and_the_other_files_are_profiled(tiny, tmp_path):
    """Under a 1.5 GB address-space limit: before the header check this file took 10.8 GB and stopped the rest."""
    good = tmp_path / "good.wav"
    sf.write(good, (0.3 * np.sin(2 * np.pi * 150 * np.arange(3 * SR) / SR)).astype(np.float32), SR)
    bad = [bomb(tmp_path / f"bomb{rate}.wav", rate) for rate in (1, 8, 2_000_000)]
    result = subprocess.run([sys.executable, str(ROOT / "evaluate.py"), str(tiny["run"]), "--wav", *map(str, bad),
                             str(good)], cwd=tiny["root"], env=tiny["env"], capture_output=True, text=True,
                            timeout=300, preexec_fn=limited(1.5))
    assert result.returncode == 0, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 3 and all("sample rate" in line and "outside" in line for line in lines), result.stderr
    assert f"{good}: 3.0 s" in result.stdout


@pytest.mark.slow
def test_a_long_recording_is_profiled_in_bounded_memory(tiny, tmp_path):
    """10 minutes of audio (a voice-like tone with pauses) under a 1.2 GB address-space limit, where the features
    of the whole file at once fail to allocate (measured: numpy alone, without torch, runs out at 1.2 GB): the profile comes back,
    and its duration is the file's."""
    minutes = 10
    t = np.arange(60 * SR) / SR  # one minute, repeated
    minute = (0.3 * np.sin(2 * np.pi * 140 * t) * ((t % 0.5) < 0.3)).astype(np.float32)
    with sf.SoundFile(tmp_path / "long.wav", "w", SR, 1, subtype="PCM_16") as f:
        for _ in range(minutes):
            f.write(minute)
    result = subprocess.run([sys.executable, str(ROOT / "evaluate.py"), str(tiny["run"]), "--wav",
                             str(tmp_path / "long.wav")], cwd=tiny["root"], env=tiny["env"], capture_output=True,
                            text=True, timeout=600, preexec_fn=limited(1.2))
    assert result.returncode == 0, result.stderr
    assert f"{tmp_path / 'long.wav'}: {60 * minutes:.1f} s" in result.stdout, result.stdout


def test_features_of_a_long_file_in_blocks_match_the_whole_file(tiny):
    """extras/recording.read on a 150 s file (three blocks): frames deep inside a block are the whole file's,
    within 0.01 dB, and the frame count is the same to one frame."""
    from extras import recording
    import features
    rng = np.random.default_rng(3)
    t = np.arange(150 * SR) / SR
    y = (0.3 * np.sin(2 * np.pi * (150 + 20 * np.sin(t)) * t) * ((t % 0.7) < 0.5)
         + 0.01 * rng.standard_normal(len(t))).astype(np.float32)
    path = tiny["root"] / "long150.wav"
    sf.write(path, y, SR, subtype="FLOAT")
    whole = features.extract(y, SR, "mfcc")
    x, _, seconds = recording.read(path, {"input": "mfcc"})
    assert seconds == pytest.approx(150.0, abs=1e-6) and abs(x.shape[-1] - whole.shape[-1]) <= 1
    inner = np.r_[200:5800, 6200:11800]  # frames at least 2 s from a block edge (blocks are 6000 frames)
    worst = np.abs(x[..., inner] - whole[..., inner]).max()
    assert worst < 0.01, f"largest difference {worst:.3g}"


# ----------------------------------------------------------------------------- 8: Ctrl-C during extraction
@pytest.mark.slow
def test_ctrl_c_during_feature_extraction_is_one_line_without_hanging(tiny, tmp_path):
    """A real SIGINT to the process group while two workers extract features: exit 130, one line, no worker
    traceback, no hang -- twice, at two moments."""
    big = with_rows(tiny, tmp_path, lambda rows: rows.extend([dict(r, speaker=f"{r['speaker']}~{k}")
                                                              for k in range(1, 60) for r in list(rows)]))
    for attempt in range(2):
        proc = subprocess.Popen([sys.executable, str(ROOT / "train.py"), "--manifest", str(big), "--workers", "2",
                                 "--epochs", "1", "--out", str(tmp_path / f"run{attempt}")], cwd=tiny["root"],
                                env={**tiny["env"], "PYTHONUNBUFFERED": "1"}, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, start_new_session=True)
        first = proc.stdout.readline()  # "device cpu ...": the next step reads the manifest and extracts features
        assert first.startswith("device"), first
        time.sleep(0.5 + attempt)  # the workers extracting (2,000 clips: several seconds on any machine)
        os.killpg(proc.pid, signal.SIGINT)
        out, err = proc.communicate(timeout=60)  # a hang fails here
        assert "data " not in out, f"features were extracted before the signal; the test needs a larger corpus: {out}"
        assert proc.returncode == 130, (out, err)
        assert "Traceback" not in err and err.strip().splitlines()[-1].startswith("train.py: interrupted"), err


# ----------------------------------------------------------------------------- 10-14: one line for every bad input
def test_a_file_name_that_is_not_utf8_is_named_and_the_csv_is_written(tiny, tmp_path):
    folder = tmp_path / "recordings"
    folder.mkdir()
    sf.write(folder / "fine.wav", (0.3 * np.sin(2 * np.pi * 150 * np.arange(2 * SR) / SR)).astype(np.float32), SR)
    strange = os.fsencode(folder) + b"/caf\xe9.wav"  # Latin-1 bytes: not UTF-8
    with open(strange, "wb") as f:
        f.write(b"not audio")
    code, out, err = evaluate_cli(tiny, tiny["run"], "--wav", folder, "--out", tmp_path / "p.csv")
    assert code == 0, err
    assert "caf\\xe9.wav" in err and len(err.strip().splitlines()) == 1, err
    rows = list(csv.DictReader(open(tmp_path / "p.csv", encoding="utf-8", newline="")))
    assert [bool(r["error"]) for r in rows] == [True, False] and "caf\\xe9.wav" in rows[0]["path"]


def test_a_duplicated_column_is_refused_by_name(tmp_path):
    path = tmp_path / "m.csv"
    path.write_text("path,speaker,gender,gender\na.wav,s1,male,female\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"m\.csv: column\(s\) 'gender' appear more than once"):
        data.read_manifest(path)


def test_a_full_disk_names_the_file_it_could_not_write(tiny, tmp_path, monkeypatch, capsys):
    """No space left while writing last.pt: one line naming last.pt; the previous epoch's last.pt survives and
    --resume then finishes the run."""
    import torch
    real_save = torch.save
    calls = []

    def save_then_full(obj, f, *args, **kwargs):
        calls.append(1)
        if len(calls) == 3:  # epoch 1: best.pt, last.pt; epoch 2: best.pt -> the disk is full
            raise OSError(28, "No space left on device")
        return real_save(obj, f, *args, **kwargs)

    monkeypatch.setattr(torch, "save", save_then_full)
    run = tmp_path / "run"
    code, out, err = train_here(monkeypatch, capsys, tiny, "--manifest", tiny["manifest"], *TINY, "--select", "last",
                                "--out", str(run))
    assert code == 2
    one_line_error(err, str(run / "best.pt"), "No space left on device")
    assert checkpoints.load_checkpoint(run / "last.pt")["epoch"] == 1 and not list(run.glob("*.tmp"))
    monkeypatch.setattr(torch, "save", real_save)
    code, out, err = train_here(monkeypatch, capsys, tiny, "--resume", str(run))
    assert code == 0 and (run / "metrics.json").is_file(), err


def test_misleading_messages_now_name_the_file_and_the_problem(tiny, tmp_path, monkeypatch, capsys):
    folder = tmp_path / "scored"
    shutil.copytree(tiny["run"], folder)
    metrics = json.loads((folder / "metrics.json").read_text(encoding="utf-8"))
    metrics["tasks"]["gender"]["test_acc"] = "0.9"
    (folder / "metrics.json").write_text(json.dumps(metrics), encoding="utf-8")
    code, out, err = evaluate_cli(tiny, "--compare", folder)
    assert code == 2 and "metrics.json: gender test_acc is '0.9', not a number" in err, err

    all_test = with_rows(tiny, tmp_path, lambda rows: [r.update(split="test") for r in rows], "all_test.csv")
    code, out, err = train_here(monkeypatch, capsys, tiny, "--manifest", str(all_test), *TINY)
    assert code == 2
    one_line_error(err, "no train rows")

    years = with_rows(tiny, tmp_path, lambda rows: [r.update(age_years="-1e30") for r in rows], "years.csv")
    code, out, err = train_here(monkeypatch, capsys, tiny, "--manifest", str(years), *TINY, "--tasks", "age_years",
                                "--out", str(tmp_path / "years"))
    assert code == 2
    one_line_error(err, "age_years value '-1e30' is not a number in 0-130")
