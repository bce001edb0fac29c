"""The HTTP machinery under serve.py's page -- how an upload arrives, is held and is cleaned up; nothing about voices.

Python's standard library only (http.server). extras/web.py's Handler adds the page's routes and answers to
UploadHandler here; this module is what keeps a server on the open network standing:

    limits       MAX_BYTES of body (a larger Content-Length is refused, 413, before reading; none at all: 411),
                 MAX_SECONDS of audio (checked by the page, from the header), WORKERS answering at once, UPLOADS
                 held at once (503 after QUEUE_WAIT_S)
    the body     read before it waits for one of the WORKERS, at MIN_BODY_RATE at least after BODY_GRACE_S, so a
                 client that sends slowly, or a byte now and then (a trickle), holds no worker and is answered 408
    refusals     JSON {"error": "one line"} (Refused); what a refused client still sends is drained for DRAIN_S, so
                 it reads the refusal rather than a reset; 403 a cross-site upload or a foreign Host
    uploads      written as upload<suffix> (the suffix from SUFFIXES, never the client's name) into its own
                 tempfile.mkdtemp() folder, removed in `finally` once answered, and by `close` on Ctrl-C

    python -m pytest tests/test_web.py tests/test_web_hostile.py
"""
import dataclasses
import http.server
import ipaddress
import json
import re
import shutil
import socket
import tempfile
import threading
import time
import urllib.parse
from pathlib import Path

MAX_BYTES = 20 * 1024 * 1024  # bytes of request body; a larger Content-Length is refused (413) before reading
MAX_SECONDS = 60.0  # s of audio, from the file's header (413)
SUFFIXES = (".wav", ".flac", ".mp3", ".ogg")  # the upload's file name ends in one of these (".wav" otherwise)
WORKERS = 2  # uploads handled at once: this many CPU cores' worth of work
UPLOADS = 8  # uploads held at once (being received, waiting for a worker, or answered): 8 x MAX_BYTES of disk at most
QUEUE_WAIT_S = 60.0  # s an upload waits for a free worker (or a place among UPLOADS) before 503
READ_TIMEOUT_S = 30.0  # s of silence from a client before its connection is dropped
BODY_GRACE_S = 10.0  # s a body may take before MIN_BODY_RATE applies ...
MIN_BODY_RATE = 32 * 1024  # bytes/s: ... after which it must have arrived at this average rate (20 MB: 650 s at most)
CLOSE_S = 10.0  # s Ctrl-C waits for the uploads being answered, before their folders are removed anyway
DRAIN_S = 2.0  # s spent reading what a refused client still sends, so that it reads the refusal, not a reset
LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")
HEADERS = {"X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer", "Cache-Control": "no-store",
           "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; media-src 'self' blob:"}


class Refused(Exception):
    """A request answered with `status` and {"error": message}; the message is one line."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status = status


@dataclasses.dataclass
class App:
    """What every request reads: the model (loaded once, by serve.py), its run folder's name, the limits."""
    config: dict
    model: object
    device: str = "cpu"
    run_name: str = ""
    max_bytes: int = MAX_BYTES
    max_seconds: float = MAX_SECONDS
    body_grace_s: float = BODY_GRACE_S
    min_body_rate: float = MIN_BODY_RATE  # bytes/s
    slots: threading.BoundedSemaphore = dataclasses.field(default_factory=lambda: threading.BoundedSemaphore(WORKERS))
    uploads: threading.BoundedSemaphore = dataclasses.field(default_factory=lambda: threading.BoundedSemaphore(UPLOADS))
    folders: dict = dataclasses.field(default_factory=dict)  # upload folder -> its connection, while it exists
    lock: threading.Lock = dataclasses.field(default_factory=threading.Lock)  # guards folders


def one_line(err):
    return str(err).splitlines()[0] if str(err) else type(err).__name__


def display_name(name):
    """A client's file name as shown in messages and figures: its last path part, printable, at most 80
    characters ("../../etc/passwd" -> "passwd"). Never used for a path."""
    last = name.replace("\\", "/").rsplit("/", 1)[-1]
    return "".join(c for c in last if c.isprintable())[:80] or "upload"


def upload_suffix(name):
    """The suffix of the saved upload: the client name's, if it is one of SUFFIXES, else ".wav" (libsndfile
    recognises a format by its content; the suffix only names it)."""
    suffix = Path(display_name(name)).suffix.lower()
    return suffix if suffix in SUFFIXES else ".wav"


class UploadHandler(http.server.BaseHTTPRequestHandler):
    """What every request of the page needs, whatever it asks: the answer's headers, the Host and Origin checks,
    the body's length and its arrival, a private folder for the upload. A subclass (extras/web.Handler) adds the
    routes, do_GET and do_POST, and answer(route, path, name, lang): the JSON answer to an upload saved at path."""
    server_version = "moksori"
    timeout = READ_TIMEOUT_S  # the socket's timeout: a client that stops sending is dropped
    unread = 0  # bytes of request body not read yet (-1: unknown), drained after the answer to a refused upload

    def send_body(self, status, body, kind):
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        for key, value in HEADERS.items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)
        if self.unread:
            self.linger()

    def send_json(self, status, obj):
        self.send_body(status, json.dumps(obj, ensure_ascii=False).encode("utf-8"), "application/json; charset=utf-8")

    def linger(self):
        """Read and drop what a refused client still sends (DRAIN_S at most) after our answer: closing a socket
        with unread data resets it, and the client would see a broken connection instead of the refusal."""
        try:
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_WR)
            self.connection.settimeout(DRAIN_S)
            deadline = time.monotonic() + DRAIN_S
            while time.monotonic() < deadline and self.connection.recv(1 << 16):
                pass
        except OSError:  # the client closed first, or stayed silent: nothing more to do
            pass

    def check_origin(self):
        """Refused(403) for a Host header that is not this machine when bound to it (DNS rebinding), and for a
        POST whose Origin is another site (a page elsewhere posting to this server)."""
        host, origin = self.headers.get("Host", ""), self.headers.get("Origin")
        try:
            name = urllib.parse.urlsplit("//" + host).hostname or ""  # "[::1]:8000" -> "::1"
            origin_host = urllib.parse.urlsplit(origin).netloc if origin else host
        except ValueError:  # "[bad": not a host name at all
            raise Refused(400, f"malformed Host {host[:80]!r} or Origin {str(origin)[:80]!r}") from None
        if ipaddress.ip_address(self.server.server_address[0]).is_loopback and name not in LOCAL_HOSTS:
            raise Refused(403, f"Host {host[:80]!r} is not this machine")
        if self.command == "POST" and origin_host != host:
            raise Refused(403, f"uploads from another site ({origin[:80]}) are refused")

    def check_length(self):
        """The declared body size in bytes (self.unread), checked against the limits before anything is read: ASCII
        digits only (str.isdigit() also takes "²", which int() refuses), one value, at most MAX_BYTES."""
        values = self.headers.get_all("Content-Length") or []
        self.unread = -1  # unknown until the header is read
        if not values:
            raise Refused(411, "send the audio file as the request body, with a Content-Length header")
        value = values[0]
        if not re.fullmatch(r"[0-9]{1,15}", value):
            raise Refused(400, f"Content-Length {value[:20]!r} is not a number of bytes")
        if len(set(values)) > 1:
            raise Refused(400, f"{len(values)} different Content-Length headers: send one")
        size = int(value)
        self.unread = size
        if size == 0:
            raise Refused(400, "empty upload: the request body holds no audio")
        if size > self.server.app.max_bytes:
            raise Refused(413, f"the file is {size / 2**20:.1f} MB; the limit is {self.server.app.max_bytes / 2**20:g} MB")

    def answer_upload(self, route, name, lang):
        """Save the body in a private folder, then wait for a worker, answer (self.answer), remove the folder. The
        body is read first, so a client that sends it slowly holds no worker, only one place among UPLOADS, and not
        for long."""
        app = self.server.app
        busy = "the server is busy with other recordings; try again in a minute"
        if not app.uploads.acquire(timeout=QUEUE_WAIT_S):
            raise Refused(503, busy)
        folder = Path(tempfile.mkdtemp(prefix="moksori-upload-"))  # mode 0700: this user's only
        with app.lock:
            app.folders[folder] = self.connection  # what close() removes on Ctrl-C, if it is still there
        try:
            path = folder / f"upload{upload_suffix(name)}"
            self.receive(path)
            if not app.slots.acquire(timeout=QUEUE_WAIT_S):
                raise Refused(503, busy)
            try:
                return self.answer(route, path, name, lang)
            finally:
                app.slots.release()
        finally:
            shutil.rmtree(folder, ignore_errors=True)
            with app.lock:
                app.folders.pop(folder, None)
            app.uploads.release()

    def receive(self, path):
        """Write the body (self.unread bytes) to `path`. After the first BODY_GRACE_S it must keep up MIN_BODY_RATE
        on average (app.body_grace_s, app.min_body_rate): a client that stops, or sends a byte now and then to hold
        the connection, is answered 408 once it falls behind, whatever its Content-Length promised."""
        app, size, started = self.server.app, self.unread, time.monotonic()
        with open(path, "wb") as f:
            while self.unread:
                received = size - self.unread
                left = started + app.body_grace_s + received / app.min_body_rate - time.monotonic()  # s
                try:
                    if left <= 0:
                        raise TimeoutError
                    self.connection.settimeout(min(READ_TIMEOUT_S, left))
                    chunk = self.rfile.read1(min(self.unread, 1 << 20))  # what has arrived, up to 1 MB
                except TimeoutError:
                    raise Refused(408, f"the body came too slowly: {received:,} of {size:,} bytes in "
                                  f"{time.monotonic() - started:.0f} s (after the first {app.body_grace_s:g} s, at "
                                  f"least {app.min_body_rate / 1024:g} kB/s)") from None
                if not chunk:
                    raise ConnectionError("the client closed before sending the whole body")
                f.write(chunk)
                self.unread -= len(chunk)
        self.connection.settimeout(READ_TIMEOUT_S)


def close(server, wait_s=CLOSE_S):
    """Stop `server` and leave no upload behind (Ctrl-C): stop listening, cut the connections of the uploads in
    flight (a body being received ends at once), give those being answered wait_s to finish and remove their own
    folders, then remove any folder still there. A second Ctrl-C skips the wait."""
    app = server.app
    server.server_close()
    with app.lock:
        connections = list(app.folders.values())
    for connection in connections:
        try:
            connection.shutdown(socket.SHUT_RDWR)
        except OSError:  # closed already
            pass
    deadline = time.monotonic() + wait_s
    try:
        while app.folders and time.monotonic() < deadline:
            time.sleep(0.05)
    except KeyboardInterrupt:
        pass
    with app.lock:
        for folder in list(app.folders):
            shutil.rmtree(folder, ignore_errors=True)
