"""Nothing lost under hostile or unlucky use: each case is something a user did, and the one line it now gets.
(That a run folder belongs to one run -- two trainings on one folder, --out over a corpus or a recording --
is tested in tests/test_runs.py.)

--skip-bad skips
every kind of unreadable clip (missing, dangling, looping, a damaged header), memory stays bounded (a 1 Hz header,
a long recording, both under a resource limit so a regression fails instead of swapping), Ctrl-C during feature
extraction ends with one line, and duplicated columns, a full disk and strange scores get one line naming the
file. Bad saved settings under --resume: tests/test_resume.py. The second round (issue 30): every command of the
rooms that writes a folder takes a new or empty one only, a FIFO as --out, a disk that fills while synthesising or
saving, malformed scores for --compare, file names that are not UTF-8 or not ASCII under LANG=C, files that cost
too much to decode, warnings as one line (the page's cases are in tests/test_web.py). Issue 30 in the core: a long
recording in a training manifest featurised in blocks (private memory and frames checked), a corpus whose features
would not fit in memory refused naming --store, NaN weights never saved, a folder stopped before its first epoch
reused by the same command, an endless segment, Ctrl-C in evaluate.py, train.py's Korean labels under LANG=C.

    python -m pytest tests/test_hostile.py
"""
import codecs
import contextlib
import csv
import errno
import io
import json
import os
import resource
import shutil
import signal
import struct
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

import data
from scale import checkpoints, files, runs
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


# ----------------------------------------------------------------------------- second round: the rooms
def snapshot(folder):
    """{relative path: bytes} of every file under `folder`: what "nothing was replaced" compares."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(Path(folder).rglob("*")) if p.is_file()}


def folder_writers(tiny, out):
    """Every command of the rooms that writes a folder, aimed at `out` -> {name: () -> (exit code, stderr)}."""
    from extras import baseline
    from scale import release

    def run_here(main, argv):
        err = io.StringIO()
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            code = main(argv)
        return code, err.getvalue()
    return {"baseline": lambda: run_here(baseline.main, ["--manifest", tiny["manifest"], "--workers", "0",
                                                          "--out", str(out)]),
            "release": lambda: run_here(release.main, [str(tiny["run"]), str(out), "--roots", "corpus"]),
            "evaluate --save": lambda: evaluate_cli(tiny, tiny["run"], "--save", out)[::2]}


@pytest.mark.parametrize("writer", ["baseline", "release", "evaluate --save"])
@pytest.mark.parametrize("held", ["a finished run", "your own files"])
def test_no_command_writes_into_a_folder_that_holds_anything(tiny, tmp_path, monkeypatch, writer, held):
    """train.py's rule for every command that writes a folder (scale/runs.unfit_folder): new or empty only. Before,
    the baseline replaced a run's config.json, metrics.json and manifest.csv, the release and --save wrote over
    whatever was there."""
    monkeypatch.setenv("MOKSORI_CACHE", tiny["env"]["MOKSORI_CACHE"])
    out = tmp_path / "out"
    if held == "a finished run":
        shutil.copytree(tiny["run"], out)
    else:
        out.mkdir()
        (out / "manifest.csv").write_text("path,speaker\nmine.wav,me\n", encoding="utf-8")
        (out / "notes.txt").write_text("my notes\n", encoding="utf-8")
    before = snapshot(out)
    code, err = folder_writers(tiny, out)[writer]()
    assert code == 2, err
    one_line_error(err, str(out), "is not empty")
    assert snapshot(out) == before, f"{writer} changed {out}"


def test_a_release_of_a_run_into_itself_is_refused_and_the_run_is_untouched(tiny, tmp_path):
    from scale import release
    run = tmp_path / "run"
    shutil.copytree(tiny["run"], run)
    before = snapshot(run)
    assert release.main([str(run), str(run)]) == 2
    assert snapshot(run) == before
    code, out, err = evaluate_cli(tiny, run, "--split", "test")
    assert code == 0, err


def test_a_new_or_empty_folder_still_takes_each_of_them(tiny, tmp_path, monkeypatch):
    """The rule refuses only what it must: an empty folder, and one that does not exist yet, are written."""
    monkeypatch.setenv("MOKSORI_CACHE", tiny["env"]["MOKSORI_CACHE"])
    for writer in ("baseline", "release", "evaluate --save"):
        for name in ("new", "empty"):
            out = tmp_path / writer.replace(" ", "") / name
            if name == "empty":
                out.mkdir(parents=True)
            code, err = folder_writers(tiny, out)[writer]()
            assert code == 0 and (out / "metrics.json").is_file(), (writer, name, err)


def test_a_fifo_as_out_is_refused_without_being_read(tiny, tmp_path):
    """--out naming a FIFO: the overwrite check opened it to read its first line and waited for a writer forever.
    Now anything that is not a regular file is refused unread, in one line (a 60 s timeout catches a hang)."""
    fifo = tmp_path / "pipe.csv"
    os.mkfifo(fifo)
    wav = tmp_path / "v.wav"
    sf.write(wav, (0.3 * np.sin(2 * np.pi * 150 * np.arange(SR) / SR)).astype(np.float32), SR)
    commands = {"evaluate --out": [str(ROOT / "evaluate.py"), str(tiny["run"]), "--wav", str(wav), "--out", str(fifo)],
                "merge --out": ["-m", "corpora", "merge", tiny["manifest"], "--age-bins", "decades", "--out",
                                str(fifo)]}
    for name, argv in commands.items():
        result = subprocess.run([sys.executable, *argv], cwd=ROOT, env=tiny["env"], capture_output=True, text=True,
                                timeout=60)
        assert result.returncode == 2, (name, result.stderr)
        one_line_error(result.stderr, str(fifo), "FIFO")
    assert fifo.is_fifo()


@pytest.mark.parametrize("which, key, value", [("metrics", "model", [1, 2]), ("metrics", "model", {}),
                                              ("metrics", "input", None), ("config", "member_recipes", 5),
                                              ("config", "member_recipes", [1, 2]), ("config", "member_recipes", ["5"]),
                                              ("config", "member_recipes", ["not json"])])
def test_compare_on_malformed_metrics_or_recipes_is_one_line(tiny, tmp_path, which, key, value):
    """--compare (and --mean) read metrics.json and config.json alone: a value of the wrong type was a TypeError."""
    folder = tmp_path / "run"
    shutil.copytree(tiny["run"], folder)
    path = folder / f"{which}.json"
    content = json.loads(path.read_text(encoding="utf-8"))
    content[key] = value
    path.write_text(json.dumps(content), encoding="utf-8")
    for mean in ([], ["--mean"]):
        code, out, err = evaluate_cli(tiny, "--compare", tiny["run"], folder, *mean)
        if which == "config" and not mean:
            assert code == 0, err  # the table of accuracies reads metrics.json only
            continue
        assert code == 2, (mean, out, err)
        one_line_error(err, str(path))


class FullDisk:
    """A file that takes the bytes left in a shared budget, then fails as a full disk does (ENOSPC)."""

    def __init__(self, f, left):
        self.f, self.left = f, left

    def write(self, b):
        if len(b) > self.left[0]:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        self.left[0] -= len(b)
        return self.f.write(b)

    def __getattr__(self, name):
        return getattr(self.f, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.f.close()


def full_disk(monkeypatch, room):
    """From now on the disk holds `room` more bytes: every file scale/files.atomic_write opens writes into them."""
    real, left = os.fdopen, [room]
    monkeypatch.setattr(os, "fdopen", lambda fd, *args, **kwargs: FullDisk(real(fd, *args, **kwargs), left))


def test_a_full_disk_while_synthesising_is_one_line_and_leaves_no_finished_corpus(tmp_path, monkeypatch, capsys):
    """python -m corpora synth (or MOKSORI_CACHE) on a full disk: soundfile swallowed the error and failed with a bare
    AssertionError (and printed cffi's tracebacks). Now one line names the WAV; no manifest.csv, the corpus's
    completion mark, and no temporary file are left, and the same command finishes once there is room."""
    from corpora import cli
    full_disk(monkeypatch, room=3 * 128_100)  # three 4 s WAVs of 16-bit samples, then the disk is full
    out = tmp_path / "corpus"
    code = cli.main(["synth", "--out", str(out), "--speakers", "4", "--utterances", "2"])
    err = capsys.readouterr().err
    assert code == 2, err
    line = one_line_error(err, "No space left on device")
    assert ".wav: could not write" in line and str(out) in line, err
    assert not (out / "manifest.csv").exists() and not list(out.rglob("*.tmp"))
    monkeypatch.undo()
    assert cli.main(["synth", "--out", str(out), "--speakers", "4", "--utterances", "2"]) == 0
    assert len(data.read_manifest(out / "manifest.csv")) == 8


def test_a_full_disk_while_saving_says_so_and_keeps_the_old_file(tmp_path, monkeypatch):
    """torch.save into a full disk said "[enforce fail at inline_container.cc:672] . unexpected pos ..."; the reason
    is the file system's, which atomic_write now finds behind torch's, and the previous last.pt survives whole."""
    import torch
    path = tmp_path / "last.pt"
    old = {"model": {"w": torch.arange(10.0)}, "config": {}, "vocabs": {}, "epoch": 1}
    runs.save_checkpoint(old, path)
    full_disk(monkeypatch, room=2000)
    with pytest.raises(OSError) as caught:
        runs.save_checkpoint({**old, "model": {"w": torch.zeros(100_000)}, "epoch": 2}, path)
    assert str(caught.value) == f"{path}: could not write (No space left on device)", caught.value
    monkeypatch.undo()
    assert checkpoints.load_checkpoint(path)["epoch"] == 1 and list(tmp_path.iterdir()) == [path]


def test_a_speaker_with_conflicting_labels_is_one_warning_line(tiny, tmp_path, monkeypatch):
    """A front door of the rooms (here the baseline) prints a warning as "warning: ...", without Python's
    "FILE:LINE: UserWarning:" and the source line that raised it."""
    monkeypatch.setenv("MOKSORI_CACHE", tiny["env"]["MOKSORI_CACHE"])
    from extras import baseline

    def disagree(rows):
        first = next(r for r in rows if r["split"] == "train")
        clip = next(r for r in rows if r["speaker"] == first["speaker"] and r is not first)
        clip["gender"] = "female" if first["gender"] == "male" else "male"
    manifest = with_rows(tiny, tmp_path, disagree)
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        assert baseline.main(["--manifest", str(manifest), "--workers", "0", "--out", str(tmp_path / "b")]) == 0
    lines = err.getvalue().splitlines()
    assert [line for line in lines if "conflicting labels" in line] == [line for line in lines if line.strip()], lines
    assert lines[0].startswith("warning: ") and "UserWarning" not in err.getvalue(), lines


def test_a_valid_wav_whose_name_is_not_utf8_is_profiled_and_named_losslessly(tiny, tmp_path):
    """libsndfile was handed a name it could not encode ("surrogates not allowed"): now the recording is profiled,
    and its CSV row names it with \\x escapes that give the name's bytes back (codecs.escape_decode)."""
    folder = tmp_path / "recordings"
    folder.mkdir()
    voice = (0.3 * np.sin(2 * np.pi * 150 * np.arange(2 * SR) / SR)).astype(np.float32)
    names = [b"caf\xe9.wav", b"back\\slash \xff.wav"]  # Latin-1; a backslash next to a byte that is not UTF-8
    for name in names:
        with open(os.fsencode(folder) + b"/" + name, "wb") as f:
            sf.write(f, voice, SR, format="WAV")
    code, out, err = evaluate_cli(tiny, tiny["run"], "--wav", folder, "--out", tmp_path / "p.csv")
    assert code == 0 and not err.strip(), err
    rows = list(csv.DictReader(open(tmp_path / "p.csv", encoding="utf-8", newline="")))
    assert [r["error"] for r in rows] == ["", ""] and all(r["duration_s"] == "2.00" for r in rows), rows
    written = sorted(codecs.escape_decode(r["path"].encode("utf-8"))[0] for r in rows)
    assert written == sorted(os.fsencode(folder) + b"/" + n for n in names), written


def test_korean_names_and_labels_are_profiled_and_printed_under_an_ascii_locale(tiny, tmp_path):
    """LANG=C (no UTF-8 mode, no locale coercion): the file system's encoding and stdout are ASCII. A Korean file
    name could not be handed to libsndfile, and printing a Korean label stopped the command; now both come out,
    the name and the labels printed as escapes."""
    folder = tmp_path / "녹음"
    folder.mkdir()
    sf.write(folder / "목소리.wav", (0.3 * np.sin(2 * np.pi * 150 * np.arange(2 * SR) / SR)).astype(np.float32), SR)
    env = {k: v for k, v in tiny["env"].items() if not k.startswith(("LC_", "LANG", "PYTHONIOENCODING", "PYTHONUTF8"))}
    env.update(LANG="C", LC_ALL="C", PYTHONUTF8="0", PYTHONCOERCECLOCALE="0")
    result = subprocess.run([sys.executable, str(ROOT / "evaluate.py"), str(tiny["run"]), "--wav", str(folder),
                             "--out", str(tmp_path / "p.csv")], cwd=tiny["root"], env=env, capture_output=True,
                            timeout=300)
    out, err = result.stdout.decode("ascii"), result.stderr.decode("ascii", "replace")
    assert result.returncode == 0 and "Traceback" not in err, err
    assert "\\ubaa9\\uc18c\\ub9ac.wav: 2.0 s" in out, out  # 목소리.wav
    assert "dialect" in out and "\\u" in out.split("dialect")[1].splitlines()[0], out  # a Korean dialect label
    row = next(csv.DictReader(open(tmp_path / "p.csv", encoding="utf-8", newline="")))
    assert row["path"].endswith("녹음/목소리.wav") and row["duration_s"] == "2.00", row


def test_a_file_that_costs_too_much_to_decode_is_one_line_before_decoding(tiny, tmp_path):
    """--wav: 8 channels at 384 kHz decode to 3.1 M samples a second (a 5 MB FLAC of a minute took 0.9 GB): refused
    from the header, naming the file; the other files are profiled."""
    costly, fine = tmp_path / "eight.wav", tmp_path / "fine.wav"
    sf.write(costly, np.zeros((38400, 8), np.float32) + 0.1, 384000, subtype="PCM_16")  # 0.1 s
    sf.write(fine, (0.3 * np.sin(2 * np.pi * 150 * np.arange(2 * SR) / SR)).astype(np.float32), SR)
    code, out, err = evaluate_cli(tiny, tiny["run"], "--wav", costly, fine)
    assert code == 0, err
    one_line_error(err, str(costly), "8 channels at 384000 Hz", "the limit is 768,000")
    assert f"{fine}: 2.0 s" in out


def test_a_numeric_code_in_unicode_digits_is_named_not_a_crash():
    """str.isdigit() takes "²" (and int() then refuses it): label codes accept ASCII digits only."""
    from corpora import labels
    with pytest.raises(ValueError, match="value '²' is not a whole-number code"):
        labels.coded_level("²", labels.ELDER_EDUCATION, "academicBackground")
    with pytest.raises(ValueError, match="unknown region value '²²'"):
        labels.dialect_group("²²")


def test_the_same_patterns_elsewhere_in_the_rooms(tiny, tmp_path, capsys):
    """explain.py decoded any file whole (8 channels at 384 kHz included): now the cost is checked from the header
    and the file decoded in blocks. scale.loco wrote its runs into any folder: now a new or empty one, or a loco
    folder of its own, which it continues."""
    from extras import explain
    from scale import loco
    costly = tmp_path / "eight.wav"
    sf.write(costly, np.zeros((38400, 8), np.float32) + 0.1, 384000, subtype="PCM_16")
    assert explain.main([str(costly), "--out", str(tmp_path / "figures")]) == 2
    one_line_error(capsys.readouterr().err, str(costly), "8 channels at 384000 Hz")
    two = with_rows(tiny, tmp_path, lambda rows: [r.update(corpus="ab"[i % 2]) for i, r in enumerate(rows)])
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("my notes\n", encoding="utf-8")
    with pytest.raises(SystemExit, match=r"loco: --out .*mine is not empty \(notes\.txt\)"):
        loco.main([str(two), "--out", str(out)])
    assert [p.name for p in out.iterdir()] == ["notes.txt"]


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
