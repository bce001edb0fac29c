"""A real browser on the page of `python serve.py`: Debian's Chromium, driven through chromedriver's W3C WebDriver
HTTP API (https://www.w3.org/TR/webdriver2/) with urllib -- no Selenium, no Playwright, no download.

Chromium's fake media flags play a WAV file as the microphone (--use-file-for-fake-audio-capture) and grant it
without asking (--use-fake-ui-for-media-stream), so the page's own recording code runs on a known signal.
tests/test_web_browser.py records, submits and reads the page this way; `main` takes the screenshot of docs/serve.md.

    apt-get install chromium chromium-driver       # Debian's packages (/usr/bin/chromium, /usr/bin/chromedriver)
    python -m extras.browser RUN --wav my_voice.wav --out figures/serve.png
    python -m pytest tests/test_web_browser.py
"""
import argparse
import base64
import contextlib
import json
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

ELEMENT = "element-6066-11e4-a52e-4f735466cecf"  # the W3C key of an element reference in a JSON answer
FLAGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
         "--autoplay-policy=no-user-gesture-required"]  # --no-sandbox: Chromium refuses to run as root otherwise
START_TIMEOUT_S = 30.0  # s for chromedriver to answer /status
POLL_S = 0.2  # s between two looks at the page in wait_for


def find_browser():
    """(chromium, chromedriver) paths, or (None, the reason) where either is not installed."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    if not chromium or not driver:
        return None, "needs Chromium and chromedriver (apt-get install chromium chromium-driver)"
    return (chromium, driver), None


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def call(session, method, path, body=None, timeout_s=120.0):
    """One WebDriver command -> its "value". RuntimeError with the driver's one-line message on an error."""
    url = f"{session['url']}{path}"
    data = None if body is None else json.dumps(body).encode("utf-8")
    request = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            return json.loads(response.read())["value"]
    except urllib.error.HTTPError as err:
        value = json.loads(err.read() or b"{}").get("value", {})
        raise RuntimeError(f"WebDriver {method} {path}: {value.get('error')}: "
                           f"{str(value.get('message', '')).splitlines()[0][:200]}") from None


@contextlib.contextmanager
def chromium(fake_audio=None, size=(1000, 1400)):
    """A headless Chromium session -> dict(url, id, ...), closed on exit. fake_audio: a WAV file played as the
    microphone (looped); size: the window in CSS pixels (width, height)."""
    found, reason = find_browser()
    if found is None:
        raise RuntimeError(reason)
    binary, driver_path = found
    profile = tempfile.mkdtemp(prefix="moksori-chromium-")  # a fresh --user-data-dir, removed on exit
    port = free_port()
    driver = subprocess.Popen([driver_path, f"--port={port}"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    session = {"url": f"http://127.0.0.1:{port}", "driver": driver}
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            try:
                if call(session, "GET", "/status", timeout_s=2.0).get("ready"):
                    break
            except (OSError, RuntimeError):
                pass
            if time.monotonic() > deadline or driver.poll() is not None:
                raise RuntimeError(f"chromedriver did not start on port {port}")
            time.sleep(POLL_S)
        args = FLAGS + [f"--user-data-dir={profile}", f"--window-size={size[0]},{size[1]}"]
        if fake_audio:
            args.append(f"--use-file-for-fake-audio-capture={fake_audio}")
        options = {"binary": binary, "args": args}
        answer = call(session, "POST", "/session",
                      {"capabilities": {"alwaysMatch": {"browserName": "chrome", "goog:chromeOptions": options}}})
        session["url"] += f"/session/{answer['sessionId']}"
        yield session
    finally:
        if "/session/" in session["url"]:
            with contextlib.suppress(OSError, RuntimeError):
                call(session, "DELETE", "", timeout_s=10.0)
        driver.terminate()
        driver.wait(timeout=10)
        shutil.rmtree(profile, ignore_errors=True)


def go(session, url):
    call(session, "POST", "/url", {"url": url})


def find(session, css):
    """The element reference of the first element matching a CSS selector."""
    return call(session, "POST", "/element", {"using": "css selector", "value": css})[ELEMENT]


def click(session, css):
    call(session, "POST", f"/element/{find(session, css)}/click", {})


def choose_file(session, css, path):
    """Put a local file into an <input type=file> (as a user choosing it), which fires its change event."""
    call(session, "POST", f"/element/{find(session, css)}/value", {"text": str(path)})


def script(session, body, *args):
    """Run JavaScript (a function body: `return ...`) in the page -> its JSON-able result."""
    return call(session, "POST", "/execute/sync", {"script": body, "args": list(args)})


def wait_for(session, body, timeout_s=120.0):
    """Poll the JavaScript `body` until it returns something truthy -> that value; RuntimeError on timeout."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = script(session, body)
        if value:
            return value
        if time.monotonic() > deadline:
            raise RuntimeError(f"the page did not get there in {timeout_s:g} s: {body[:120]}")
        time.sleep(POLL_S)


def record(session, seconds):
    """Press Record, wait until the page's timer passes `seconds`, press Stop (which submits the recording)."""
    click(session, "#record")
    wait_for(session, f"return parseFloat(document.getElementById('timer').textContent) >= {seconds};", 30.0)
    click(session, "#record")


def figures_shown():
    """JavaScript that returns how many figures the page shows once every one of explain.py's (explain.FIGURES)
    has loaded, and false before."""
    from extras.explain import FIGURES  # the page draws each of them: as many pictures as explain.py has
    return f"""const images = [...document.querySelectorAll('#figures img')];
return images.length === {len(FIGURES)} && images.every(i => i.complete && i.naturalWidth > 0) && images.length;"""


# ----------------------------------------------------------------------------- the screenshot
def main(argv=None):
    parser = argparse.ArgumentParser(description="Screenshot the page of serve.py with a real profile.")
    parser.add_argument("run", help="a run folder (release/ for the released model)")
    parser.add_argument("--wav", required=True, help="a 16-bit PCM WAV file, played as the microphone")
    parser.add_argument("--out", default="figures/serve.png", help="the PNG to write (default figures/serve.png)")
    parser.add_argument("--seconds", type=float, default=5.0, help="how long to record, in s (default 5)")
    parser.add_argument("--lang", default="en", choices=("en", "ko"), help="the page's language (default en)")
    parser.add_argument("--size", default="1000x1900", help="window width x height in CSS pixels")
    args = parser.parse_args(argv)
    from scale import checkpoints
    from extras import web
    width, height = (int(v) for v in args.size.split("x"))
    config, model = checkpoints.load_run(args.run)
    server = web.make_server(config, model, port=0, run_name=Path(args.run).resolve().name)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with chromium(Path(args.wav).resolve(), (width, height)) as session:
            go(session, f"http://127.0.0.1:{server.server_address[1]}/")
            wait_for(session, "return document.getElementById('limits').textContent;", 30.0)
            if args.lang != "en":
                script(session, "const s = document.getElementById('lang'); s.value = arguments[0];"
                                "s.dispatchEvent(new Event('change'));", args.lang)
            record(session, args.seconds)
            wait_for(session, figures_shown(), 300.0)
            png = base64.b64decode(call(session, "GET", "/screenshot"))
    finally:
        server.shutdown()
        server.server_close()
    from PIL import Image  # comes with matplotlib; a 256-colour palette keeps the file small
    import io
    image = Image.open(io.BytesIO(png)).convert("RGB").quantize(colors=256, method=Image.Quantize.FASTOCTREE)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    image.save(args.out, format="png", optimize=True)
    print(f"wrote {args.out} ({Path(args.out).stat().st_size // 1024} kB, {image.width}x{image.height})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
