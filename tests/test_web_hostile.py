"""The page under hostile use (issue 30): odd Content-Length headers, clients that trickle a body hold no worker,
uploads leave nothing behind on Ctrl-C, a file that costs too much to decode is refused from its header and the rest
is decoded in blocks, the server's private memory stays bounded; the page's unsure, outside and no-voice answers,
and age groups in age order (the API's ordinary cases: tests/test_web.py).

    python -m pytest tests/test_web_hostile.py
"""
import json
import re
import signal
import socket
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
import soundfile as sf
from scipy.signal import resample_poly

import data
from scale import checkpoints
from conftest import ROOT
from extras import web

from test_web import encode, private_tmp, request, server, serving, voice  # noqa: F401  (fixtures)


# ----------------------------------------------------------------------------- second round (issue 30)
def raw_post(url, head, body=b"", timeout=60):
    """Send `head` (the request line and headers, without the blank line) and `body` on a socket of its own; read
    the whole answer -> (status, its JSON)."""
    host, port = url.split("//")[1].split(":")
    with socket.create_connection((host, int(port)), timeout=timeout) as s:
        s.sendall(head + b"\r\n\r\n" + body)
        answer = b""
        while chunk := s.recv(65536):
            answer += chunk
    status_line, _, rest = answer.partition(b"\r\n")
    return int(status_line.split()[1]), json.loads(rest.partition(b"\r\n\r\n")[2])


@pytest.mark.parametrize("value", ["\u00b2", "+5", "5 5", "1e3", "9" * 30])
def test_a_content_length_of_other_than_ascii_digits_is_a_400_not_a_crash(server, value, capsys):
    """str.isdigit() took "²" (superscript two) and int() then raised: a 500 and a traceback in the log."""
    status, answer = raw_post(server, b"POST /api/profile HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: " +
                              value.encode("latin-1"))
    assert status == 400 and "is not a number of bytes" in answer["error"], (status, answer)
    assert "Traceback" not in capsys.readouterr().err


def test_two_different_content_lengths_are_refused(server):
    status, answer = raw_post(server, b"POST /api/profile HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 4\r\n"
                              b"Content-Length: 5", b"RIFF")
    assert status == 400 and "different Content-Length" in answer["error"], answer


def trickle(url, answers, k, size=100_000, every_s=0.5):
    """A client that sends headers for `size` bytes, then one byte every `every_s` s until the server answers and
    closes the connection (120 s at most) -> answers[k], the bytes it got back."""
    host, port = url.split("//")[1].split(":")
    with socket.create_connection((host, int(port)), timeout=120) as s:
        s.sendall(f"POST /api/profile HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {size}\r\n\r\n".encode())
        s.settimeout(every_s)
        answer = b""
        for _ in range(int(120 / every_s)):
            try:
                if not answer:
                    s.sendall(b"R")
                chunk = s.recv(65536)
            except socket.timeout:
                continue
            except OSError:  # the server closed its side while we were sending: read what it answered
                s.settimeout(10)
                chunk = s.recv(65536)
            if not chunk:  # closed: the whole answer is here
                break
            answer += chunk
        answers[k] = answer


def test_two_trickling_clients_take_no_worker_and_are_dropped(tiny):
    """Two clients that promise 100 kB and send a byte every half second took both worker slots: every other
    upload waited a minute and got 503. Bodies are now read before a worker is taken, and a body that falls
    behind MIN_BODY_RATE after BODY_GRACE_S is answered 408 (a grace of 3 s here)."""
    with serving(tiny, body_grace_s=3.0) as url:
        answers = {}
        clients = [threading.Thread(target=trickle, args=(url, answers, k)) for k in range(2)]
        for client in clients:
            client.start()
        time.sleep(1.0)  # s: both are sending their first bytes
        status, answer, _ = request(url + "/api/profile", encode(voice(), subtype="PCM_16"))
        assert status == 200 and abs(answer["duration_s"] - 3.0) < 0.011, answer
        for client in clients:
            client.join(timeout=150)
    for k in range(2):
        head, _, body = answers[k].partition(b"\r\n\r\n")
        assert head.split()[1] == b"408", answers[k]
        assert "the body came too slowly" in json.loads(body)["error"], body


def test_ctrl_c_with_an_upload_in_flight_leaves_no_upload_folder(tiny, tmp_path):
    """serve.py stopped by Ctrl-C while a body was arriving left moksori-upload-*/ behind (its handler thread was
    killed before its `finally`); close() now removes what is left."""
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    process = subprocess.Popen([sys.executable, str(ROOT / "serve.py"), str(tiny["run"]), "--port", "0"],
                               cwd=tiny["root"], env={**tiny["env"], "TMPDIR": str(tmp)}, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    try:
        url = [process.stdout.readline(), process.stdout.readline()][1].split("open ")[1].split()[0].rstrip("/")
        host, port = url.split("//")[1].split(":")
        client = socket.create_connection((host, int(port)), timeout=60)
        client.sendall(b"POST /api/profile HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100000\r\n\r\nRIFF")
        for _ in range(600):  # until the upload's folder exists (60 s at most)
            if list(tmp.glob("moksori-upload-*")):
                break
            time.sleep(0.1)
        assert list(tmp.glob("moksori-upload-*")), "the upload never started"
    finally:
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=60)
    client.close()
    assert process.returncode == 0 and "stopped" in out, (out, err)
    assert list(tmp.iterdir()) == [], list(tmp.iterdir())


def many_channels(path, channels, sr, seconds, fmt="FLAC"):
    """A file of `channels` channels at `sr` Hz: a voice in the first, silence in the rest (small once encoded)."""
    y = voice(seed=5, duration_s=seconds)  # (N,) at 16 kHz
    y = resample_poly(y, sr // 16000, 1).astype(np.float32) if sr % 16000 == 0 else y
    with sf.SoundFile(path, "w", sr, channels, format=fmt, subtype="PCM_16" if fmt == "FLAC" else None) as f:
        for start in range(0, len(y), sr):  # a second at a time: libvorbis crashes on a minute in one call
            block = np.zeros((len(y[start:start + sr]), channels), np.float32)  # (<= sr, channels)
            block[:, 0] = y[start:start + sr]
            f.write(block)
    return path


def test_a_file_that_costs_too_much_to_decode_gets_413_from_its_header(server, tmp_path, private_tmp):
    """8 channels at 384 kHz: a 5 MB FLAC of 59 s took 0.9 GB to decode, a 0.2 MB Ogg of 200 channels 2.7 GB.
    channels x rate is in the header: over data.MAX_DECODE_RATE the upload is refused before decoding."""
    body = many_channels(tmp_path / "eight.flac", 8, 384000, 1.0).read_bytes()
    status, answer, _ = request(server + "/api/profile?name=eight.flac", body)
    assert status == 413, answer
    assert answer["error"] == ("eight.flac: 8 channels at 384000 Hz are 3,072,000 samples to decode per second; the "
                               "limit is 768,000 (16 channels at 48 kHz, or 2 at 384 kHz)"), answer
    assert list(private_tmp.iterdir()) == []


def test_an_upload_is_decoded_a_block_at_a_time(tmp_path):
    """8 channels at 96 kHz (at the limit), 20 s: decoding holds one block and the mono signal, not every channel
    (numpy's allocations, traced), and the waveform is data.load_audio's, the reference, within 1e-6 of full scale."""
    import tracemalloc
    path = many_channels(tmp_path / "eight.flac", 8, 96000, 20.0)
    sr, frames, channels = data.audio_info(path)
    reference = data.load_audio(path)  # (N,) at 16 kHz: every channel decoded at once
    tracemalloc.start()
    try:
        y = web.read_upload(path, "eight.flac", 60.0)
        peak = tracemalloc.get_traced_memory()[1]  # bytes
    finally:
        tracemalloc.stop()
    every_channel = frames * channels * 4  # bytes of float32: what decoding the file at once allocates first
    assert peak < every_channel / 2, f"peak {peak / 1e6:.0f} MB against {every_channel / 1e6:.0f} MB for the file"
    worst = np.abs(y - reference).max()
    assert y.shape == reference.shape and worst < 1e-6, f"largest difference {worst:.2g}"


@pytest.mark.slow
def test_the_servers_private_memory_stays_under_1_5_gb(tiny, tmp_path):
    """serve.py in its own process: RssAnon (/proc/PID/status) sampled while it answers the costliest uploads it
    accepts -- a minute of stereo at 384 kHz and of 16 channels at 48 kHz (MAX_DECODE_RATE), one and then two at
    once -- and one it refuses (8 channels at 384 kHz). docs/serve.md gives the numbers measured."""
    files = [many_channels(tmp_path / "stereo.flac", 2, 384000, 59.0),
             many_channels(tmp_path / "sixteen.ogg", 16, 48000, 59.0, fmt="OGG"),
             many_channels(tmp_path / "eight.flac", 8, 384000, 59.0)]
    process = subprocess.Popen([sys.executable, str(ROOT / "serve.py"), str(tiny["run"]), "--port", "0"],
                               cwd=tiny["root"], env=tiny["env"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)
    peak, done = [0], threading.Event()

    def sample():
        while not done.is_set():
            with open(f"/proc/{process.pid}/status") as f:
                kb = next((int(line.split()[1]) for line in f if line.startswith("RssAnon:")), 0)
            peak[0] = max(peak[0], kb * 1024)
            time.sleep(0.005)
    try:
        url = [process.stdout.readline(), process.stdout.readline()][1].split("open ")[1].split()[0].rstrip("/")
        sampler = threading.Thread(target=sample)
        sampler.start()
        statuses = [request(url + "/api/profile", f.read_bytes())[0] for f in files]
        both = [None, None]
        pair = [threading.Thread(target=lambda k=k: both.__setitem__(k, request(url + "/api/profile",
                                                                                files[k].read_bytes())[0]))
                for k in range(2)]
        for thread in pair:
            thread.start()
        for thread in pair:
            thread.join(timeout=300)
    finally:
        done.set()
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=60)
    assert statuses == [200, 200, 413] and both == [200, 200], (statuses, both)
    assert peak[0] < 1.5 * 2**30, f"RssAnon peaked at {peak[0] / 2**30:.2f} GB"


def test_the_page_is_told_unsure_outside_and_no_voice(tiny, monkeypatch):
    """profile_answer as the page reads it, the model's outputs set by hand: a top probability under UNSURE_P is
    "unsure", an age outside the run's range is kept at its edge with an "outside" warning (page.js translates it
    by its three numbers), and a recording with no voice gets its warning and no answer."""
    from types import SimpleNamespace
    from extras import recording
    from scale.calibration import UNSURE_P
    config, model = checkpoints.load_run(tiny["run"])
    config = {**config, "tasks": ["gender", "age_years"], "vocabs": {**config["vocabs"], "age_years": None},
              "ranges": {"age_years": [20.0, 60.0]}}
    names = config["vocabs"]["gender"]
    p = np.full(len(names), 0.4 / (len(names) - 1))
    p[0] = 0.6
    monkeypatch.setattr(recording, "outputs_of", lambda *a, **k: {"gender": p, "age_years": 95.0})
    app = SimpleNamespace(model=model, config=config, device="cpu")
    answer = web.profile_answer(app, voice(), "a.wav")
    assert (answer["gender"], answer["gender_p"], answer["gender_unsure"]) == (names[0], 0.6, "unsure") and 0.6 < UNSURE_P
    assert answer["age_years"] == 60.0, answer
    assert "outside: age_years 95.0 lies outside what the model learnt (20 to 60)" in answer["warnings"], answer
    said = re.findall(r"-?\d+(?:\.\d+)?", answer["warnings"][-1])  # as page.js reads the numbers
    assert said == ["95.0", "20", "60"], said
    faint = (1e-3 * np.random.default_rng(0).standard_normal(3 * 16000)).astype(np.float32)
    answer = web.profile_answer(app, faint, "b.wav")
    assert "gender" not in answer and answer["probabilities"] == {}, answer
    assert [w.split(":")[0] for w in answer["warnings"]] == ["synthetic", "no voice"], answer


def test_age_groups_are_listed_in_age_order_and_the_korean_page_names_them(server, tiny):
    """The Korean page showed adult, child, senior, teen: English, in the alphabet's order. The answer now lists
    age groups by their first year (child, teen, adult, senior; 100s after them), each with the probability of
    its own output, and the page has a Korean name for each."""
    body = encode(voice(seed=6), subtype="PCM_16")
    _, reference, _ = request(server + "/api/profile", body)  # the tiny run's own age groups: 20s ... 60s
    groups = list(reference["probabilities"]["age"])
    renamed = dict(zip(groups, ["adult", "child", "senior", "teen", "100s"]))  # output k keeps its probability
    with serving(tiny, vocabs={"age": [renamed[g] for g in groups]}) as url:
        status, answer, _ = request(url + "/api/profile", body)
    assert status == 200, answer
    assert list(answer["probabilities"]["age"]) == ["child", "teen", "adult", "senior", "100s"], answer
    for group, name in renamed.items():
        assert abs(answer["probabilities"]["age"][name] - reference["probabilities"]["age"][group]) < 1e-3
    page = (web.PAGE_DIR / "page.js").read_text(encoding="utf-8")
    korean = re.search(r"ko: \{.*?classes: \{([^}]*)\}", page, re.S)[1]
    for word in ("child", "teen", "adult", "senior"):
        assert re.search(rf"\b{word}: \"[가-힣]+\"", korean), (word, korean)
