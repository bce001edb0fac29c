"""Hostile use, second round, in the rooms: every command of the rooms that writes a folder takes a new or empty
one only, a FIFO as --out, a disk that fills while synthesising or saving, malformed scores for --compare, file
names that are not UTF-8 or not ASCII under LANG=C, files that cost too much to decode, warnings as one line (the
page's cases are in tests/test_web_hostile.py; the first round in tests/test_hostile.py).

    python -m pytest tests/test_hostile_rooms.py
"""
import codecs
import contextlib
import csv
import errno
import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

import data
from scale import checkpoints, runs
from conftest import ROOT, evaluate_cli, one_line_error, with_rows

SR = 16000


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
