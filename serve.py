"""Serve: a page to try a model on your own voice -- record or drop a file in the browser, read its profile,
and see every step of the front end drawn from that recording (explain.py's figures).

This file parses the arguments, loads the model once and starts the server; the page, its HTTP API and its
limits live in extras/web.py and extras/web/ (docs/serve.md describes them). Python's standard library only;
the figures need matplotlib (pip install matplotlib), and the page says so when it is missing.

    python serve.py                      # the released model (release/), at http://127.0.0.1:8000/
    python serve.py runs/hps --port 8080 # a run folder of your own
    python -m pytest tests/test_web.py tests/test_web_browser.py
"""
import argparse
import ipaddress
import socket
import sys
from pathlib import Path

import evaluate
import runs


def main(argv=None):
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
    try:
        device = runs.choose_device(args.device)
        config, model = runs.load_run(args.run, device=device)
    except (OSError, ValueError) as err:  # no such folder, no checkpoint, a file that is not one
        print(f"serve.py: error: {str(err).splitlines()[0]}", file=sys.stderr)
        return 2

    from extras import web  # seam: the page and its HTTP API
    try:
        server = web.make_server(config, model, args.host, args.port, device, Path(args.run).resolve().name)
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
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        print("serve.py: stopped", flush=True)
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
