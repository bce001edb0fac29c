"""extras/web.py (the page's answers), extras/web_server.py (its HTTP machinery) and serve.py: the HTTP API of the
page, in-process with urllib, on the tiny run.

A real recording gets the answer `evaluate.py --wav` writes (run in its own process, the reference); bad input
of every kind gets a 4xx status and one line; an oversized body is refused before it is read; a client's file
name never becomes a path; uploads leave nothing behind, Ctrl-C included; concurrent requests each get their own
answer; clients that trickle a body hold no worker; a file that costs too much to decode is refused from its header,
and the rest is decoded in blocks; age groups are listed in age order.

    python -m pytest tests/test_web.py
"""
import base64
import contextlib
import csv
import http.client
import json
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

import numpy as np
import pytest
import soundfile as sf
from scipy.signal import resample_poly

import data
import evaluate
from scale import checkpoints
import serve
from conftest import ROOT, evaluate_cli
from extras import synth, web, web_server

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def voice(seed=1, duration_s=3.0):
    """A clip of the built-in synthesiser's speaker `seed % 4`: (N,) float32 at 16 kHz."""
    params = synth.plan_corpus(4, seed=0)[seed % 4]["params"]
    return synth.synthesize_utterance(params, seed=seed, duration_s=duration_s, snr_db=30.0)


def encode(y, sr=16000, fmt="WAV", subtype=None):
    """The bytes of a sound file holding y."""
    import io
    buffer = io.BytesIO()
    sf.write(buffer, y, sr, format=fmt, subtype=subtype)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def server(tiny):
    """The page's server on the tiny run, on a free port of 127.0.0.1 -> its base URL."""
    config, model = checkpoints.load_run(tiny["run"])
    httpd = web.make_server(config, model, port=0, run_name="tiny")
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@contextlib.contextmanager
def serving(tiny, vocabs=None, **app):
    """A server of its own on the tiny run (its classes renamed by `vocabs`), its App's fields
    (extras/web_server.App) set from `app` -> its base URL."""
    config, model = checkpoints.load_run(tiny["run"])
    config["vocabs"] = {**config["vocabs"], **(vocabs or {})}
    httpd = web.make_server(config, model, port=0, run_name="tiny")
    for key, value in app.items():
        setattr(httpd.app, key, value)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        web_server.close(httpd, wait_s=60)


@pytest.fixture
def private_tmp(tmp_path, monkeypatch):
    """tempfile's folder for the duration of a test: the server makes its upload folders in it."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setattr("tempfile.tempdir", str(folder))
    return folder


def request(url, body=None, headers=None):
    """GET (body None) or POST body -> (status, JSON answer or the raw bytes, headers)."""
    req = urllib.request.Request(url, data=body, headers=headers or {}, method="GET" if body is None else "POST")
    try:
        with urllib.request.urlopen(req, timeout=120) as response:
            status, raw, head = response.status, response.read(), response.headers
    except urllib.error.HTTPError as err:
        status, raw, head = err.code, err.read(), err.headers
    return status, json.loads(raw) if head.get_content_type() == "application/json" else raw, head


def test_the_page_and_its_two_files_are_served_and_nothing_else(server):
    status, page, head = request(server + "/")
    assert status == 200 and head.get_content_type() == "text/html", (status, head)
    assert b'src="page.js"' in page and b'href="page.css"' in page and b"http" not in page.split(b"<body>")[1]
    for name, kind in (("page.js", "text/javascript"), ("page.css", "text/css")):
        status, _, head = request(f"{server}/{name}")
        assert status == 200 and head.get_content_type() == kind, (name, status)
    for route in ("/../serve.py", "/extras/web.py", "/%2e%2e/serve.py", "/web/page.js"):
        status, answer, _ = request(server + route)
        assert status == 404 and "error" in answer, (route, status)


def test_info_gives_the_models_tasks_and_the_limits(server, tiny):
    status, info, _ = request(server + "/api/info")
    config = json.loads((tiny["run"] / "config.json").read_text(encoding="utf-8"))
    assert status == 200 and info["tasks"] == config["tasks"] and info["model"] == config["model"]
    assert info["limits"]["max_bytes"] == 20 * 2**20 and info["limits"]["max_seconds"] == 60


def test_a_real_recording_gets_the_answer_of_evaluate_wav(server, tiny, tmp_path, private_tmp):
    """A stereo 44.1 kHz WAV: the same classes, probabilities, duration and warnings as evaluate.py --wav."""
    y44 = resample_poly(voice(), 441, 160).astype(np.float32)  # 16 kHz -> 44.1 kHz
    wav = tmp_path / "voice.wav"
    sf.write(wav, np.stack([y44, 0.5 * y44], axis=1), 44100, subtype="PCM_16")  # (N, 2)
    code, _, err = evaluate_cli(tiny, str(tiny["run"]), "--wav", str(wav), "--out", str(tmp_path / "p.csv"))
    assert code == 0, err
    with open(tmp_path / "p.csv", encoding="utf-8", newline="") as f:
        expected = next(csv.DictReader(f))
    status, answer, _ = request(server + "/api/profile?name=voice.wav", wav.read_bytes())
    assert status == 200, answer
    assert answer["path"] == "voice.wav" and abs(answer["duration_s"] - float(expected["duration_s"])) < 0.006
    assert "; ".join(answer["warnings"]) == expected["warnings"]
    for task in ("age", "gender", "dialect"):
        p = answer["probabilities"][task]
        assert abs(sum(p.values()) - 1.0) < 1e-3, p
        assert abs(p[expected[task]] - float(expected[f"{task}_p"])) < 0.011, (task, p, expected)
        assert abs(answer[f"{task}_p"] - max(p.values())) < 0.006 and answer[task] in p, (task, answer)
    assert list(private_tmp.iterdir()) == [], "an upload folder was left behind"


@pytest.mark.parametrize("fmt", ["FLAC", "OGG", "MP3"])
def test_flac_ogg_and_mp3_are_profiled_like_the_wav(server, fmt):
    """FLAC is lossless: the WAV's probabilities; Ogg Vorbis and MP3 are lossy: the same length (10 ms)."""
    y = voice(seed=2, duration_s=2.5)
    _, reference, _ = request(server + "/api/profile", encode(y, subtype="PCM_16"))
    status, answer, _ = request(f"{server}/api/profile?name=v.{fmt.lower()}", encode(y, fmt=fmt))
    assert status == 200, answer
    assert abs(answer["duration_s"] - 2.5) < 0.011, answer["duration_s"]
    if fmt == "FLAC":
        for task, p in answer["probabilities"].items():
            worst = max(abs(p[c] - reference["probabilities"][task][c]) for c in p)
            assert worst < 1e-3, f"{task}: largest difference {worst:.2g}"


BAD = {  # case: (body, query, status, words in the one-line message)
    "text named .wav": (b"hello, I am not a recording\n" * 10, "?name=notes.wav", 415, "notes.wav: unreadable audio"),
    "empty": (b"", "?name=e.wav", 400, "empty upload"),
    "all zeros": (encode(np.zeros(16000, np.float32), subtype="PCM_16"), "", 400, "all-silent"),
    "too short": (encode(0.1 * np.ones(800, np.float32), subtype="PCM_16"), "", 400, "too short"),
    "61 s": (encode(voice(seed=3, duration_s=2.0).repeat(61 // 2 + 1)[:61 * 8000], sr=8000, subtype="PCM_16"), "",
             413, "61.0 s of audio; the limit is 60 s"),
    "lang": (encode(voice(), subtype="PCM_16"), "?lang=fr", 400, "expected en or ko"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_input_gets_a_4xx_and_one_line(server, private_tmp, case):
    body, query, expected, words = BAD[case]
    route = "/api/figures" if case == "lang" else "/api/profile"
    status, answer, _ = request(server + route + query, body)
    assert status == expected and words in answer["error"], (status, answer)
    assert "\n" not in answer["error"] and str(private_tmp) not in answer["error"], answer
    assert list(private_tmp.iterdir()) == [], "an upload folder was left behind"


def test_an_oversized_body_is_refused_with_413_before_it_is_saved(server, private_tmp):
    status, answer, _ = request(server + "/api/profile", bytes(20 * 2**20 + 1))
    assert status == 413 and answer["error"] == "the file is 20.0 MB; the limit is 20 MB", answer
    assert list(private_tmp.iterdir()) == [], "the refused body was written"


def test_a_body_without_content_length_gets_411(server):
    connection = http.client.HTTPConnection(server.split("//")[1], timeout=60)
    connection.request("POST", "/api/profile", body=iter([b"RIFF", b"...."]), encode_chunked=True)
    response = connection.getresponse()
    assert response.status == 411 and "Content-Length" in json.loads(response.read())["error"]
    connection.close()


@pytest.mark.parametrize("name", ["../../escaped.wav", "..%2F..%2Fescaped.wav", "/etc/escaped.wav",
                                  "..\\..\\escaped.wav", "escaped.wav%00.sh"])
def test_a_path_traversal_name_is_only_a_label(server, private_tmp, monkeypatch, name):
    """The upload is saved as upload.wav in a fresh folder under tempfile's folder, and removed after."""
    seen = []

    def spy(path, *args):
        seen.append((path, path.is_file()))
        return read_upload(path, *args)

    read_upload = web.read_upload
    monkeypatch.setattr(web, "read_upload", spy)
    status, answer, _ = request(f"{server}/api/profile?name={name}", encode(voice(), subtype="PCM_16"))
    assert status == 200, answer
    assert answer["path"].startswith("escaped.wav") and "/" not in answer["path"], answer["path"]
    (path, existed), = seen
    assert existed and path.name == "upload.wav" and path.parent.parent == private_tmp, path
    assert not path.exists() and list(private_tmp.iterdir()) == []
    assert not list(private_tmp.parent.rglob("escaped*")), "a file was written under the client's name"


def test_concurrent_requests_each_get_their_own_answer(server, private_tmp, monkeypatch):
    """Six clips at once: each answer is that clip's (its length, its probabilities when sent alone), and no
    more than web_server.WORKERS are profiled at a time."""
    clips = [encode(voice(seed=k, duration_s=1.5 + 0.5 * k), subtype="PCM_16") for k in range(6)]
    alone = [request(server + "/api/profile", body)[1] for body in clips]
    busy, most, lock = [0], [0], threading.Lock()

    def counted(*args):
        with lock:
            busy[0] += 1
            most[0] = max(most[0], busy[0])
        try:
            time.sleep(0.2)  # s: hold the worker, so that the others queue
            return profile_answer(*args)
        finally:
            with lock:
                busy[0] -= 1

    profile_answer = web.profile_answer
    monkeypatch.setattr(web, "profile_answer", counted)
    answers = [None] * len(clips)

    def send(k):
        answers[k] = request(server + "/api/profile", clips[k])

    threads = [threading.Thread(target=send, args=(k,)) for k in range(len(clips))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    for k, (status, answer, _) in enumerate(answers):
        assert status == 200, answer
        assert abs(answer["duration_s"] - (1.5 + 0.5 * k)) < 0.006, (k, answer["duration_s"])
        for task, p in answer["probabilities"].items():
            worst = max(abs(p[c] - alone[k]["probabilities"][task][c]) for c in p)
            assert worst < 1e-3, f"clip {k}, {task}: largest difference {worst:.2g}"
    assert 1 <= most[0] <= web_server.WORKERS, most[0]
    assert list(private_tmp.iterdir()) == []


def test_uploads_from_another_site_or_host_are_refused(server):
    body = encode(voice(), subtype="PCM_16")
    status, answer, _ = request(server + "/api/profile", body, {"Origin": "http://evil.example"})
    assert status == 403 and "another site" in answer["error"], answer
    status, answer, _ = request(server + "/", None, {"Host": "evil.example:8000"})  # DNS rebinding
    assert status == 403 and "not this machine" in answer["error"], answer
    status, answer, _ = request(server + "/", None, {"Host": "[bad"})
    assert status == 400 and "malformed Host" in answer["error"], answer
    status, _, _ = request(server + "/api/profile", body, {"Origin": server})  # the page itself
    assert status == 200


def test_figures_are_explains_nine_pngs_of_that_recording(server):
    """The nine PNGs of explain.FIGURES, the vocal tract's two (LPC envelope, formant tracks) last, drawn from the
    upload: its shown frame is its first voiced one after 0.5 s, which a second of silence put before the voice
    moves past 1 s."""
    pytest.importorskip("matplotlib")
    from extras import explain
    y = voice(seed=4, duration_s=2.0)  # (N,) at 16 kHz
    status, answer, _ = request(server + "/api/figures?name=v.wav", encode(y, subtype="PCM_16"))
    assert status == 200, answer
    names = [f["name"] for f in answer["figures"]]
    assert names == list(explain.FIGURES) and names[-2:] == ["8_lpc_envelope", "9_formant_tracks"], names
    for figure in answer["figures"]:
        head, encoded = figure["png"].split(",", 1)
        png = base64.b64decode(encoded)
        assert head == "data:image/png;base64" and png[:8] == PNG_SIGNATURE and len(png) > 5000, figure["name"]
    assert 0.5 <= answer["frame_s"] < 1.0, answer["frame_s"]
    late = np.concatenate([np.zeros(16000, np.float32), y])  # 1 s of silence, then the voice
    status, answer, _ = request(server + "/api/figures?lang=ko", encode(late, subtype="PCM_16"))
    assert status == 200 and answer["frame_s"] >= 1.0, answer.get("frame_s")
    assert answer["lang"] == "ko" or "Hangul" in answer["note"], (answer["lang"], answer["note"])


def test_the_page_captions_every_figure_in_both_languages():
    """page.js has a one-line caption for each of explain.FIGURES in English and in Korean (Hangul), so no picture
    is shown under its bare file name."""
    from extras import explain
    script = (ROOT / "extras" / "web" / "page.js").read_text(encoding="utf-8")
    blocks = re.findall(r"captions: \{(.*?)\n    \},", script, re.S)  # the en block, then the ko block
    assert len(blocks) == 2, f"{len(blocks)} caption blocks found in page.js"
    for lang, block in zip(("en", "ko"), blocks):
        captions = dict(re.findall(r'"(\d_\w+)": ((?:"[^"]*"(?: \+\s*)?)+)', block))  # name -> its JS string(s)
        assert sorted(captions) == sorted(explain.FIGURES), f"{lang}: captions for {sorted(captions)}"
        if lang == "ko":
            bare = [name for name, text in captions.items() if not re.search("[가-힣]", text)]
            assert not bare, f"Korean captions without Hangul: {bare}"


def test_without_matplotlib_the_page_is_told_so(server, monkeypatch):
    from extras import plots

    def missing():
        raise ValueError("needs matplotlib: pip install matplotlib")

    monkeypatch.setattr(plots, "pyplot", missing)
    monkeypatch.setattr(web.importlib.util, "find_spec", lambda name: None)
    status, answer, _ = request(server + "/api/figures", encode(voice(), subtype="PCM_16"))
    assert status == 501 and answer["error"] == "figures needs matplotlib: pip install matplotlib", answer
    assert request(server + "/api/info")[1]["figures_note"] == "figures need matplotlib: pip install matplotlib"


# ----------------------------------------------------------------------------- serve.py
def test_serve_without_a_release_says_how_to_give_a_run(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(evaluate, "RELEASE", tmp_path / "release")
    assert serve.main([]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "python serve.py RUN" in err and "no released model" in err, err
    assert serve.main([str(tmp_path / "absent")]) == 2
    assert "no such run folder" in capsys.readouterr().err


def test_serve_starts_answers_and_stops_on_ctrl_c(tiny):
    import signal
    import subprocess
    import sys
    from conftest import ROOT
    process = subprocess.Popen([sys.executable, str(ROOT / "serve.py"), str(tiny["run"]), "--port", "0"],
                               cwd=tiny["root"], env=tiny["env"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)
    try:
        lines = [process.stdout.readline(), process.stdout.readline()]
        url = lines[1].split("open ")[1].split()[0]
        status, info, _ = request(url + "api/info")
        assert status == 200 and info["run"] == "run", info
    finally:
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=60)
    assert process.returncode == 0 and "stopped" in out, (lines, out, err)


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
