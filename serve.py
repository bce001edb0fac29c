"""Serve: a page to try a model on your own voice -- record or drop a file in the browser, read its profile,
and see every step of the front end drawn from that recording (extras/explain.py's figures).

The page's answers and this command line live in extras/web.py, its HTTP machinery and limits in
extras/web_server.py, the page itself in extras/web/ (docs/serve.md describes them). Python's standard library only; the figures need matplotlib (pip install matplotlib), and the
page says so when it is missing.

    python serve.py                      # the released model (release/), at http://127.0.0.1:8000/
    python serve.py runs/hps --port 8080 # a run folder of your own
    python -m pytest tests/test_web.py tests/test_web_browser.py
"""
import sys


def main(argv=None):
    from extras import web  # seam: the page, its HTTP API and its command line
    return web.main(argv)


if __name__ == "__main__":
    sys.exit(main())
