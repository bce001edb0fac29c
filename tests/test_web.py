"""extras/web.py (the page's answers), extras/web_server.py (its HTTP machinery) and serve.py: the HTTP API of the
page, in-process with urllib, on the tiny run.

A real recording gets the answer `evaluate.py --wav` writes (run in its own process, the reference); bad input
of every kind gets a 4xx status and one line; an oversized body is refused before it is read; a client's file
name never becomes a path; concurrent requests each get their own answer; serve.py starts, answers and stops.
Hostile clients and costly uploads: tests/test_web_hostile.py.

    python -m pytest tests/test_web.py
"""
import base64
import contextlib
import csv
import http.client
import json
import re
import threading
import time
import urllib.error
import urllib.request

import numpy as np
import pytest
import soundfile as sf
from scipy.signal import resample_poly

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
