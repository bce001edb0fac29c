"""The page of `python serve.py` and its small HTTP API: a recording in, its profile and its pictures out.

Python's standard library only (http.server); matplotlib draws the figures where it is installed. Routes:

    GET  /                  the page (extras/web/index.html, page.js, page.css: no build step, no CDN)
    GET  /api/info          the model (tasks, classes), the limits, whether figures can be drawn
    POST /api/profile       body = an audio file (WAV, FLAC, MP3, Ogg; ?name=voice.flac optional, for messages)
                            -> the fields of an `evaluate.py --wav` CSV row as JSON, numbers as numbers, plus
                            "warnings" (a list), "probabilities" {task: {class: p}} and "elapsed_s"
    POST /api/figures       the same body, ?lang=en|ko -> {"figures": [{"name": "1_waveform", "png": "data:..."}],
                            "lang", "frame", "note"}: explain.py's nine figures drawn from that recording, as
                            PNG data URLs. A second call, so the page shows the answer (~0.3 s) before the
                            pictures (~seconds); the page sends the file again, the server keeps nothing.

Refusals are JSON {"error": "one line"} with a 4xx status: 400 empty, silent or too short; 413 over MAX_SECONDS of
audio or over data.MAX_DECODE_RATE samples per second (both read from the header before decoding); 415 not audio;
501 no matplotlib for figures. How an upload arrives, waits and is removed, and the server's own refusals (408 a
body sent too slowly; 411 no Content-Length; 413 over MAX_BYTES, refused before reading; 403 a cross-site upload
or a foreign Host; 503 busy), is extras/web_server.py's: this module answers only an upload already saved in its
own folder. Nothing from a request is executed or imported: the model is loaded once, by `main` (serve.py's
command line), before the server starts.

    python serve.py RUN                        # then open http://127.0.0.1:8000/
    python -m pytest tests/test_web.py tests/test_web_hostile.py
"""
import argparse
import base64
import http.server
import importlib.util
import ipaddress
import signal
import socket
import sys
import threading
import time
import traceback
import urllib.parse
import warnings
from pathlib import Path

import data
import evaluate
from scale import checkpoints
import features
from corpora.labels import first_year
from extras import recording
from extras.web_server import (MAX_BYTES, MAX_SECONDS, SUFFIXES, App, Refused, UploadHandler, close, display_name,
                               one_line)
from scale import console, runs

PAGE_DIR = Path(__file__).resolve().parent / "web"
STATIC = {"/": ("index.html", "text/html; charset=utf-8"), "/index.html": ("index.html", "text/html; charset=utf-8"),
          "/page.js": ("page.js", "text/javascript; charset=utf-8"), "/page.css": ("page.css", "text/css; charset=utf-8")}
FIGURE_LOCK = threading.Lock()  # pyplot keeps global state: one figure drawing at a time


# ----------------------------------------------------------------------------- 1. an upload's answers
def read_upload(path, name, max_seconds):
    """The recording in `path` -> (N,) float32 at features.SR. Refused(415) when it is not audio (the header is
    read first), 413 when it lasts over max_seconds or costs over data.MAX_DECODE_RATE samples per second to
    decode (both from the header), 400 when it is empty, silent or too short. data.load_audio decodes it in
    blocks: memory holds the mono signal and one block, whatever the number of channels."""
    try:
        sr, frames, channels = data.audio_info(path)
    except data.CostlyAudio as err:
        raise Refused(413, one_line(err).replace(str(path), name)) from None
    except data.AudioError as err:
        raise Refused(415, one_line(err).replace(str(path), name)) from None
    if frames / sr > max_seconds:
        raise Refused(413, f"{name}: {frames / sr:.1f} s of audio; the limit is {max_seconds:g} s")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a nearly silent clip still gets its profile, and a warning in it
            return data.load_audio(path)  # (N,) float32 mono at 16 kHz
    except data.AudioError as err:
        raise Refused(400, one_line(err).replace(str(path), name)) from None


def in_age_order(vocab):
    """A task's classes in the order the page lists them: age groups by their first year (child, teen, adult,
    senior; 20s before 100s; corpora.labels.first_year) where every class has one, otherwise as the model has them."""
    years = [first_year(c) for c in vocab]
    return list(vocab) if None in years else [c for _, c in sorted(zip(years, vocab), key=lambda yc: yc[0])]


def profile_answer(app, y, name):
    """The profile of y (N,) as a JSON-ready dict: extras/recording.profile_row's fields, numbers as numbers (None for
    a missing runner-up), "warnings" as a list, and every class's probability."""
    outputs, notes = recording.profile(app.model, app.config, y, app.device)
    row = recording.profile_row(name, app.config, outputs, notes, len(y) / features.SR)
    tasks, vocabs = app.config["tasks"], app.config["vocabs"]
    numeric = {"duration_s"} | {t for t in tasks if vocabs[t] is None} | {f"{t}{end}" for t in tasks
                                                                         for end in ("_p", "_next_p")}
    answer = {k: (float(v) if v != "" else None) if k in numeric else v for k, v in row.items()}
    answer["warnings"] = list(notes)
    answer["probabilities"] = {t: {c: round(float(outputs[t][vocabs[t].index(c)]), 4) for c in in_age_order(vocabs[t])}
                               for t in tasks if vocabs[t] is not None and t in row}  # age groups in age order
    return answer


def figures_answer(y, name, lang, folder):
    """explain.py's figures of y (N,) with the labels of `lang`, drawn into `folder` and returned as PNG data URLs.
    Korean without a Hangul font draws English labels and says so in "note"; no matplotlib is Refused(501)."""
    from extras import explain, explain_arrays, plots
    try:
        plt = plots.pyplot()
    except ValueError as err:
        raise Refused(501, f"figures {err}") from None
    font = plots.hangul_font() if lang == "ko" else None
    note = None
    if lang == "ko" and font is None:
        lang, note = "en", "no font with Hangul is installed (apt-get install fonts-nanum): English labels"
    a = explain_arrays.analyse(y)
    a["name"] = name if font else plots.romanize(name)
    with FIGURE_LOCK:
        paths = explain.draw_all(a, folder, lang, font, plt)
    figures = [{"name": p.stem, "png": "data:image/png;base64," + base64.b64encode(p.read_bytes()).decode("ascii")}
               for p in paths]
    return {"figures": figures, "lang": lang, "frame": a["t"], "frame_s": a["t"] * features.HOP_LENGTH / features.SR,
            "note": note}


def info(app):
    """GET /api/info: what the page needs to know before the first upload."""
    config = app.config
    can_draw = importlib.util.find_spec("matplotlib") is not None
    return {"run": app.run_name, "model": config["model"], "input": config["input"], "tasks": config["tasks"],
            "vocabs": {t: config["vocabs"][t] for t in config["tasks"]},
            "limits": {"max_bytes": app.max_bytes, "max_seconds": app.max_seconds, "suffixes": list(SUFFIXES)},
            "figures": can_draw, "figures_note": None if can_draw else "figures need matplotlib: pip install matplotlib"}


# ----------------------------------------------------------------------------- 2. the routes
class Handler(UploadHandler):
    """One request: a static file, /api/info, or an upload to /api/profile or /api/figures (how it arrives and
    where it is kept: extras/web_server.UploadHandler)."""

    def do_GET(self):
        try:
            self.check_origin()
            route = urllib.parse.urlsplit(self.path).path
            if route == "/api/info":
                return self.send_json(200, info(self.server.app))
            if route not in STATIC:
                raise Refused(404, f"no page {route[:80]}")
            file_name, kind = STATIC[route]  # a fixed table: no path is ever built from the request
            self.send_body(200, (PAGE_DIR / file_name).read_bytes(), kind)
        except Refused as err:
            self.send_json(err.status, {"error": str(err)})

    def do_POST(self):
        started = time.perf_counter()
        try:
            self.check_length()
            self.check_origin()
            url = urllib.parse.urlsplit(self.path)
            if url.path not in ("/api/profile", "/api/figures"):
                raise Refused(404, f"no API {url.path[:80]}: POST /api/profile or /api/figures")
            query = urllib.parse.parse_qs(url.query)
            name = display_name(query.get("name", ["upload"])[0])
            lang = query.get("lang", ["en"])[0]
            if lang not in ("en", "ko"):
                raise Refused(400, f"lang={lang[:10]!r}: expected en or ko")
            answer = self.answer_upload(url.path, name, lang)
            answer["elapsed_s"] = round(time.perf_counter() - started, 3)
            self.send_json(200, answer)
        except Refused as err:
            self.send_json(err.status, {"error": str(err)})
        except (ConnectionError, TimeoutError):  # the client went away or stopped sending: no one to answer
            self.close_connection = True
        except Exception as err:  # a bug: one line to the page, the whole trace on the console
            self.log_error("%s", traceback.format_exc())
            self.send_json(500, {"error": f"internal error: {one_line(err)}"})

    def answer(self, route, path, name, lang):
        """The answer to the upload saved at `path`, in its own folder, while it holds one of the WORKERS
        (extras/web_server.py)."""
        y = read_upload(path, name, self.server.app.max_seconds)  # (N,) float32 at 16 kHz
        if route == "/api/profile":
            return profile_answer(self.server.app, y, name)
        return figures_answer(y, name, lang, path.parent)


# ----------------------------------------------------------------------------- 3. the server
def make_server(config, model, host="127.0.0.1", port=8000, device="cpu", run_name="", max_bytes=MAX_BYTES,
                max_seconds=MAX_SECONDS):
    """A ThreadingHTTPServer bound to host:port (port 0: any free port; server.server_address says which) that
    answers with `model`; start it with server.serve_forever(), stop it with server.shutdown(). OSError when the
    address cannot be bound."""
    server = http.server.ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True  # a hung client never keeps the process alive
    server.app = App(config, model, device, run_name, max_bytes, max_seconds)
    return server


def main(argv=None):
    """`python serve.py [RUN] [--host H] [--port P]`: load the model once, then serve the page until Ctrl-C."""
    parser = argparse.ArgumentParser(description="Serve a page that profiles your voice and draws its pipeline.")
    parser.add_argument("run", nargs="?", help=f"a run folder (default: the released model, {evaluate.RELEASE.name}/)")
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to listen on (default 127.0.0.1: this machine only). 0.0.0.0 opens the page "
                        "and its API to every machine that can reach this one: anyone there can upload audio and "
                        "spend this computer's CPU, with no login, and recordings cross the network unencrypted "
                        "(plain HTTP); browsers allow the microphone only on localhost or HTTPS")
    parser.add_argument("--port", type=int, default=8000, help="TCP port (default 8000; 0 = any free port)")
    parser.add_argument("--device", default="cpu", choices=("auto", "cpu", "cuda"), help="default cpu")
    args = parser.parse_args(argv)
    if not 0 <= args.port <= 65535:
        parser.error(f"--port must be 0-65535, got {args.port}")
    if args.run is None:  # the released model
        if not (evaluate.RELEASE / "config.json").is_file():
            print(f"serve.py: error: no released model in {evaluate.RELEASE}; give a run folder: python serve.py RUN",
                  file=sys.stderr)
            return 2
        args.run = str(evaluate.RELEASE)
    with console.one_line_warnings():  # a warning while loading or serving: one line, without Python's source line
        return serve(args)


def serve(args):
    """Load the model of args.run once, then serve the page until Ctrl-C (or SIGTERM), leaving no upload behind."""
    try:
        device = runs.choose_device(args.device)
        config, model = checkpoints.load_run(args.run, device=device)
    except (OSError, ValueError) as err:  # no such folder, no checkpoint, a file that is not one
        print(f"serve.py: error: {str(err).splitlines()[0]}", file=sys.stderr)
        return 2

    try:
        server = make_server(config, model, args.host, args.port, device, Path(args.run).resolve().name)
    except (OSError, ValueError) as err:  # the port is taken, the host is not an address of this machine
        print(f"serve.py: error: cannot listen on {args.host}:{args.port} ({getattr(err, 'strerror', None) or err})",
              file=sys.stderr)
        return 2
    host, port = server.server_address[:2]
    shown = "127.0.0.1" if host == "0.0.0.0" else host
    print(f"serve.py: {config['model']} on {config['input']} ({', '.join(config['tasks'])}) from {args.run}", flush=True)
    print(f"serve.py: open http://{shown}:{port}/ (Ctrl-C to stop)", flush=True)
    if not ipaddress.ip_address(host).is_loopback:
        print(f"serve.py: warning: listening on {host} ({socket.gethostname()}): other machines can use this page",
              flush=True)
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # `kill` stops it as Ctrl-C does, uploads removed
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        print("serve.py: stopped", flush=True)
    finally:
        close(server)
    return 0
