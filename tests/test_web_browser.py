"""The page of serve.py in a real headless browser (Debian's Chromium through chromedriver, extras/browser.py):
a bad file gets its one line; the fake microphone is recorded, encoded as WAV by the page, profiled, and the
profile and every picture of explain.py (explain.FIGURES, nine) appear. Skips where Chromium or chromedriver is
not installed.

The fake microphone plays a buzz of known pitch (F0_HZ with its harmonics), so the WAV the page wrote can be
checked against it: its F0 (YIN, features.f0_track) must be F0_HZ within PITCH_CENTS.

    apt-get install chromium chromium-driver
    python -m pytest tests/test_web_browser.py
"""
import base64
import re
import threading

import numpy as np
import pytest
import soundfile as sf

import data
from scale import checkpoints
import features
from extras import browser, explain, web

FOUND, REASON = browser.find_browser()
pytestmark = [pytest.mark.slow, pytest.mark.skipif(FOUND is None, reason=str(REASON))]
F0_HZ = 150.0  # Hz: the fake microphone's pitch
PITCH_CENTS = 50.0  # cents: a quarter tone
RECORD_S = 3.0  # s recorded
BLOB = """return state.upload.blob.arrayBuffer().then(b => { const u = new Uint8Array(b); let s = '';
    for (let i = 0; i < u.length; i += 8192) s += String.fromCharCode(...u.subarray(i, i + 8192));
    return btoa(s); });"""  # the WAV the page sent, base64
ANSWER = """const answer = document.getElementById('answer');
    return !answer.hidden && document.getElementById('profile').innerText;"""


def buzz(duration_s=4.0, sr=16000):
    """A voiced buzz: F0_HZ and 15 harmonics (amplitude 1/k), in 3 Hz syllables -> (N,) float32 at sr."""
    t = np.arange(int(duration_s * sr)) / sr  # (N,) s
    y = sum(np.sin(2 * np.pi * k * F0_HZ * t) / k for k in range(1, 16))  # (N,)
    envelope = 0.5 - 0.5 * np.cos(2 * np.pi * 3.0 * t)  # (N,) 0..1, three syllables a second
    return (0.3 * y * envelope / np.abs(y).max()).astype(np.float32)


@pytest.fixture(scope="module")
def page(tiny, tmp_path_factory):
    """A browser session on the page of the tiny run's server, the microphone playing buzz()."""
    folder = tmp_path_factory.mktemp("browser")
    sf.write(folder / "mic.wav", buzz(), 16000, subtype="PCM_16")
    (folder / "notes.wav").write_text("not a recording\n", encoding="utf-8")
    config, model = checkpoints.load_run(tiny["run"])
    server = web.make_server(config, model, port=0, run_name="tiny")
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with browser.chromium(folder / "mic.wav") as session:
            browser.go(session, f"http://127.0.0.1:{server.server_address[1]}/")
            browser.wait_for(session, "return document.getElementById('limits').textContent;", 30.0)
            yield session, folder, config
    finally:
        server.shutdown()
        server.server_close()


def test_a_file_that_is_not_audio_gets_its_line_on_the_page(page):
    session, folder, _ = page
    browser.choose_file(session, "#file", folder / "notes.wav")
    line = browser.wait_for(session, "const s = document.getElementById('status');"
                                     "return s.classList.contains('error') && s.textContent;", 60.0)
    assert line == "notes.wav: unreadable audio (Format not recognised.)", line


def test_the_microphone_is_recorded_profiled_and_drawn(page, tmp_path):
    session, _, config = page
    browser.record(session, RECORD_S)
    browser.wait_for(session, ANSWER, 120.0)
    answers = browser.script(session, "return [...document.querySelectorAll('#profile .answer')]"
                                      ".map(e => e.textContent);")
    assert len(answers) == len(config["tasks"]), answers
    for task, answer in zip(config["tasks"], answers):  # "female (97%)", or "34.5 years" for a numeric task
        vocab = config["vocabs"][task]
        assert answer.endswith(" years") if vocab is None else answer.split(" (")[0] in vocab, (task, answer)

    wav = tmp_path / "recorded.wav"
    wav.write_bytes(base64.b64decode(browser.script(session, BLOB)))
    sr, frames, channels = data.audio_info(wav)
    assert channels == 1 and abs(frames / sr - RECORD_S) < 0.5, (sr, frames, channels)
    f0_hz, voiced = features.f0_track(data.load_audio(wav))  # (T,) Hz, (T,) bool, at 16 kHz
    assert voiced.mean() > 0.3, f"only {voiced.mean():.0%} of the recorded frames voiced"
    cents = 1200 * np.log2(np.median(f0_hz[voiced]) / F0_HZ)
    assert abs(cents) < PITCH_CENTS, f"the recorded pitch is {cents:+.0f} cents off {F0_HZ} Hz"

    korean = browser.script(session, "const s = document.getElementById('lang'); s.value = 'ko';"
                                     "s.dispatchEvent(new Event('change'));"
                                     "return [...document.querySelectorAll('#warnings li')].map(e => e.textContent);")
    assert korean and all(re.search("[가-힣]", w) for w in korean), korean  # the warnings in Korean too

    try:
        import matplotlib  # noqa: F401
    except ImportError:  # the page says why there are no pictures
        note = browser.wait_for(session, "return document.getElementById('figures-note').textContent;", 60.0)
        assert "pip install matplotlib" in note, note
        return
    shown = browser.wait_for(session, browser.figures_shown(), 300.0)
    assert shown == len(explain.FIGURES)  # nine: waveform ... formant tracks
    captions = browser.script(session, "return [...document.querySelectorAll('figcaption')].map(c => c.textContent);")
    assert len(captions) == len(explain.FIGURES) and all(captions), captions
