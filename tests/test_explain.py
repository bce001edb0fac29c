"""explain.py (the figures) and explain_arrays.py (their numbers): every figure is written as a real picture, the
numbers it annotates are those of the project's own functions (checked on signals with a known answer: a tone's
period, a synthetic vowel's formants and tube length), and the command line fails in one line.

The drawing tests skip where matplotlib is not installed; the command-line error tests run everywhere.
Run: python -m pytest tests/test_explain.py
"""
import sys

import numpy as np
import pytest
import scipy.signal
import soundfile as sf

from extras import explain, explain_arrays
import f0
import features
import formants
from extras import plots
from extras import synth
from features import HOP_LENGTH, SR
from conftest import close

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def voice(duration_s=1.5):
    """A short clip of the built-in synthesiser's first speaker: (N,) float32 at SR."""
    params = synth.plan_corpus(1, seed=0)[0]["params"]
    return synth.synthesize_utterance(params, seed=1, duration_s=duration_s, snr_db=30.0)


def vowel(formants_hz=(500.0, 1500.0, 2500.0, 3500.0), f0_hz=100.0, duration_s=1.0):
    """A steady vowel of known formants: a pulse train at f0_hz, the glottal source's −12 dB/octave (a double pole
    at 0.95), then one resonator per formant (bandwidths 60, 90, 120, 180 Hz). The default is a uniform tube of
    17.5 cm (F_i = (2i − 1) c / 4L, c = 35,000 cm/s). Returns (N,) float32 at SR, peak 0.5."""
    pulses = (np.arange(int(duration_s * SR)) % int(round(SR / f0_hz)) == 0).astype(float)  # (N,)
    y = scipy.signal.lfilter([1.0], [1.0, -1.9, 0.9025], pulses)
    for f_hz, b_hz in zip(formants_hz, (60.0, 90.0, 120.0, 180.0)):
        r = np.exp(-np.pi * b_hz / SR)  # pole radius for a bandwidth of b_hz
        y = scipy.signal.lfilter([1.0], [1.0, -2 * r * np.cos(2 * np.pi * f_hz / SR), r * r], y)
    return (0.5 * y / np.abs(y).max()).astype(np.float32)


def tone(f0_hz, duration_s=1.0):
    """0.5 sin(2 pi f0 t): (N,) float32 at SR, a pitch with a known period of SR / f0_hz samples."""
    t = np.arange(int(duration_s * SR)) / SR  # (N,) s
    return (0.5 * np.sin(2 * np.pi * f0_hz * t)).astype(np.float32)


@pytest.fixture(scope="module")
def wav(tmp_path_factory):
    path = tmp_path_factory.mktemp("clip") / "voice.wav"
    sf.write(path, voice(), SR, subtype="PCM_16")
    return path


def run(argv, capsys):
    """explain.main(argv) -> (exit code, stdout, stderr)."""
    code = explain.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def assert_real_pictures(folder):
    """Every figure of explain.FIGURES is in `folder`: a PNG, > 5 kB, and more than one colour."""
    image = pytest.importorskip("matplotlib.image")
    for name in explain.FIGURES:
        path = folder / f"{name}.png"
        assert path.is_file(), f"{path} was not written"
        assert path.read_bytes()[:8] == PNG_SIGNATURE, f"{path} is not a PNG"
        assert path.stat().st_size > 5000, f"{path}: only {path.stat().st_size} bytes"
        rgb = (255 * image.imread(path)[..., :3]).astype(np.uint32)  # (height, width, 3) in 0..255
        n_colours = len(np.unique((rgb[..., 0] << 16) | (rgb[..., 1] << 8) | rgb[..., 2]))
        assert n_colours > 10, f"{path}: {n_colours} colours, an empty picture"


# ---------------------------------------------------------------- the figures
def test_every_figure_is_drawn(wav, tmp_path, capsys):
    pytest.importorskip("matplotlib")
    code, out, err = run([wav, "--out", tmp_path], capsys)
    assert code == 0, err
    assert_real_pictures(tmp_path)
    assert f"wrote {len(explain.FIGURES)} figures" in out
    numbers = [int(name.split("_")[0]) for name in explain.FIGURES]
    assert numbers == list(range(1, 10)), f"figures numbered {numbers}: nine, 1 to 9, in the order of the course"
    assert {"8_lpc_envelope", "9_formant_tracks"} <= set(explain.FIGURES)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(f"{name}.png" for name in explain.FIGURES)


def no_drawing(monkeypatch):
    """Run the command line without matplotlib and without drawing: returns the dict draw_all was called with."""
    drawn = {}
    monkeypatch.setattr(plots, "pyplot", lambda: None)
    monkeypatch.setattr(explain, "draw_all", lambda a, out, lang, font, plt: drawn.update(
        lang=lang, font=font, name=a["name"], t=a["t"]) or [])
    return drawn


def test_korean_labels_fall_back_to_english_without_a_hangul_font(wav, tmp_path, capsys, monkeypatch):
    """No Hangul font: one warning line, then the English labels and no font."""
    drawn = no_drawing(monkeypatch)
    monkeypatch.setattr(plots, "hangul_font", lambda: None)
    code, _, err = run([wav, "--out", tmp_path, "--lang", "ko"], capsys)
    assert code == 0
    assert err.count("\n") == 1 and "warning" in err and "English" in err, err
    assert (drawn["lang"], drawn["font"], drawn["name"]) == ("en", None, "voice.wav")


def test_a_clip_without_voice_warns_and_shows_the_middle_frame(tmp_path, capsys, monkeypatch):
    drawn = no_drawing(monkeypatch)
    path = tmp_path / "noise.wav"
    sf.write(path, 0.1 * np.random.default_rng(0).standard_normal(2 * SR), SR, subtype="PCM_16")  # 2 s
    code, _, err = run([path, "--out", tmp_path / "figures"], capsys)
    assert code == 0
    assert err == "explain.py: warning: YIN calls no frame voiced; showing the middle frame\n"
    assert drawn["t"] == (1 + 2 * SR // HOP_LENGTH) // 2  # frame 100 of 201


def test_korean_labels_draw_every_glyph(wav, tmp_path, capsys, recwarn):
    pytest.importorskip("matplotlib")
    if plots.hangul_font() is None:
        pytest.skip("no font with Hangul installed (apt-get install fonts-nanum)")
    code, _, err = run([wav, "--out", tmp_path, "--lang", "ko", "--frame-s", "0.9"], capsys)
    assert code == 0 and err == "", err
    missing = [str(w.message) for w in recwarn if "missing from font" in str(w.message)]
    assert not missing, missing[:3]
    assert_real_pictures(tmp_path)


def test_matplotlibs_placeholder_font_does_not_count_as_hangul():
    """matplotlib >= 3.10 ships "Last Resort", which maps every code point to a box: it must not be chosen."""
    pytest.importorskip("matplotlib")
    import matplotlib
    from pathlib import Path
    shipped = sorted((Path(matplotlib.get_data_path()) / "fonts" / "ttf").glob("*.ttf"))
    assert shipped and not any(plots._draws_hangul(path) for path in shipped)


# ---------------------------------------------------------------- the numbers
@pytest.mark.parametrize("f0_hz", [100.0, 201.7, 333.3])
def test_yin_lag_of_a_tone_is_its_period(f0_hz):
    """The lag marked in figure 5 is the tone's period, SR / f0 samples, to a tenth of a sample."""
    a = explain_arrays.analyse(tone(f0_hz))
    assert a["yin"]["voiced"]
    error = a["yin"]["lag"] - SR / f0_hz
    assert abs(error) < 0.1, f"{f0_hz} Hz: lag {a['yin']['lag']:.3f}, period {SR / f0_hz:.3f} samples ({error:+.3f})"
    assert a["yin"]["min_lag"] <= a["yin"]["lag"] <= a["yin"]["max_lag"]


def test_yin_lag_is_the_period_f0_yin_reports():
    """On speech, the lag of the shown frame is sr / f0 from f0.yin (pinned settings) within one sample."""
    y = voice()
    a = explain_arrays.analyse(y, frame_s=0.9)
    hz, voiced = f0.yin(y, SR, fmin=features.F0_FMIN, fmax=features.F0_FMAX, frame_length=features.YIN_FRAME_LENGTH,
                        hop_length=HOP_LENGTH, threshold=features.YIN_THRESHOLD)  # the pinned settings
    t = a["t"]
    assert t == 90
    assert abs(a["yin"]["lag"] - SR / hz[t]) < 1.0, f"lag {a['yin']['lag']:.2f}, sr / f0 = {SR / hz[t]:.2f} samples"
    assert a["yin"]["voiced"] == voiced[t]


def test_the_shown_frame_is_centred_on_its_sample():
    """A ramp y[n] = n / N shows which samples frame t holds: centre sample t * hop (centred frames)."""
    n = 8000
    a = explain_arrays.analyse((np.arange(n) / n).astype(np.float32), frame_s=0.2)  # frame 20: centred on sample 3200
    centre = features.N_FFT // 2  # index of the centre sample within the frame
    assert a["t"] == 20
    assert a["segment"][centre] == pytest.approx(20 * HOP_LENGTH / n)
    assert a["segment"][0] == pytest.approx((20 * HOP_LENGTH - centre) / n)


def test_the_model_window_is_the_models_input():
    """Figure 7 draws the first 400 frames of features.extract, zero-padded for a clip shorter than 4 s."""
    y = voice()  # 1.5 s: 151 frames
    a = explain_arrays.analyse(y)
    x = features.extract(y)  # (3, 14, 151)
    assert a["model_window"].shape == (3, 14, 400)
    assert close(a["model_window"][..., :151], x)
    assert not a["model_window"][..., 151:].any()


def test_default_frame_is_the_first_voiced_one_after_half_a_second():
    first = int(explain_arrays.FIRST_FRAME_S * SR / HOP_LENGTH)  # frame 50
    voiced = np.zeros(100, dtype=bool)
    voiced[[10, first + 7, first + 20]] = True
    assert explain_arrays.pick_frame(voiced, None) == first + 7
    voiced[first:] = False
    assert explain_arrays.pick_frame(voiced, None) == 10  # none after 0.5 s: the first voiced one
    assert explain_arrays.pick_frame(np.zeros(100, dtype=bool), None) == 50  # none at all: the middle frame
    assert explain_arrays.pick_frame(voiced, 0.123) == 12  # --frame-s: the nearest frame


# ---------------------------------------------------------------- the vocal tract (figures 8 and 9)
def drawn(name, a):
    """Figure `name` of explain.FIGURES drawn from the analysis `a` with the English labels -> its axes (closed)."""
    plt = pytest.importorskip("matplotlib.pyplot")
    fig = explain.FIGURES[name](a, explain.TEXT["en"], plt)
    plt.close(fig)
    return fig.axes


def marked_lines(ax):
    """x positions of the vertical lines (axvline) in ax -> sorted list of Hz."""
    return sorted(line.get_xdata()[0] for line in ax.get_lines()
                  if len(line.get_xdata()) == 2 and line.get_xdata()[0] == line.get_xdata()[1])


def test_the_marked_formants_are_formants_py_values_on_that_frame():
    """Figure 8 marks, on the frame of figures 2, 3 and 5, the F1..F4 that formants.formants gives that frame, and
    its title names the prediction order and the ceiling formants.formant_ceiling chose."""
    y = voice()
    a = explain_arrays.analyse(y, frame_s=0.3)  # frame 30: voiced, F1..F4 all found
    expected = formants.formants(y, SR)[:, 30]  # (4,) Hz
    assert a["t"] == 30 and np.isfinite(expected).all(), expected
    ax = drawn("8_lpc_envelope", a)[0]
    marks = marked_lines(ax)
    assert len(marks) == 4 and np.allclose(marks, expected, rtol=1e-6), f"marked {marks}, formants.py {expected}"
    f0_hz, voiced = formants.voicing(y, SR)
    ceiling = formants.formant_ceiling(f0_hz, voiced, SR)  # Hz
    title = ax.get_title()
    assert f"p = {formants.ORDER}" in title and f"ceiling {ceiling:.0f} Hz" in title, title
    assert ax.get_xlim()[1] == pytest.approx(ceiling)
    legend = [text.get_text() for text in ax.get_legend().get_texts()]
    assert [f"F{i + 1} = {hz:.0f} Hz" for i, hz in enumerate(expected)] == [t for t in legend if t.startswith("F")]


def test_an_unvoiced_frame_marks_no_formants():
    """Frame 90 of the test voice is unvoiced: formants.formants gives NaN, and figure 8 marks nothing."""
    y = voice()
    a = explain_arrays.analyse(y, frame_s=0.9)
    assert np.isnan(formants.formants(y, SR)[:, 90]).all()
    ax = drawn("8_lpc_envelope", a)[0]
    assert marked_lines(ax) == []
    assert "no formants: frame 90" in " ".join(t.get_text() for t in ax.get_legend().get_texts())


def test_the_envelope_peaks_at_a_vowels_formants():
    """A synthetic vowel of known formants: the marked formants lie within 3 % of them, and the LPC envelope drawn
    has a local maximum near each (its peaks are the formants): within 3 % for F1..F3, 5 % for F4, whose wide peak
    sits near the ceiling, where the envelope falls and pulls a peak's top below its pole's frequency."""
    true_hz = np.array([500.0, 1500.0, 2500.0, 3500.0])
    a = explain_arrays.analyse(vowel(tuple(true_hz)), frame_s=0.5)
    marked = a["formants_hz"][:, a["t"]]  # (4,) Hz
    error = np.abs(marked / true_hz - 1)
    assert error.max() < 0.03, f"marked {np.round(marked)} Hz, true {true_hz}: off by up to {100 * error.max():.1f} %"
    envelope, hz = a["lpc"]["envelope"], a["lpc"]["hz"]  # (F,), (F,) Hz
    peaks = hz[1:-1][(envelope[1:-1] > envelope[:-2]) & (envelope[1:-1] > envelope[2:])]  # local maxima, Hz
    nearest = np.array([peaks[np.argmin(np.abs(peaks - f))] for f in true_hz])  # (4,) Hz
    error = np.abs(nearest / true_hz - 1)  # (4,)
    assert (error < [0.03, 0.03, 0.03, 0.05]).all(), f"envelope peaks {np.round(nearest)} Hz, formants {true_hz}: " \
                                                     f"off by {np.round(100 * error, 1)} %"


def test_the_envelope_is_the_all_pole_model_of_the_spectrum_drawn():
    """Autocorrelation matching (Makhoul 1975, Proc. IEEE 63: 561-580): the LPC model E / |A|² has the same first
    p + 1 autocorrelation lags as the frame it models. Both curves of figure 8, taken back to lags by the inverse
    FFT, must agree there -- so the envelope is drawn at the spectrum's level, in the same units."""
    a = explain_arrays.analyse(voice(), frame_s=0.3)
    p = formants.ORDER
    r_frame = np.fft.irfft(a["lpc"]["spectrum"], explain_arrays.LPC_N_FFT)[:p + 1]  # (p + 1,) the frame's r(0..p)
    r_model = np.fft.irfft(a["lpc"]["envelope"], explain_arrays.LPC_N_FFT)[:p + 1]  # (p + 1,) the model's
    error = np.abs(r_model - r_frame).max() / r_frame[0]
    assert error < 1e-3, f"autocorrelations differ by up to {error:.2e} of r(0)"


def test_the_tracks_figure_draws_formants_py_tracks_and_the_tube_length():
    """Figure 9 draws formants.formants' F1..F4 (NaN gaps kept), each frame's length (formants.vocal_tract_length)
    and gives in its title the clip's vocal-tract length; on a 17.5 cm tube's vowel that is 17.5 cm within 5 %."""
    y = vowel()  # F_i = (2i − 1) c / 4L with L = 17.5 cm
    a = explain_arrays.analyse(y)
    tracks = formants.formants(y, SR)  # (4, T) Hz
    top, bottom = drawn("9_formant_tracks", a)[:2]
    lines = [line.get_ydata() for line in top.get_lines() if len(line.get_ydata()) == a["T"]]
    assert len(lines) == 4
    for i, (line, track) in enumerate(zip(lines, tracks)):
        assert np.array_equal(np.isnan(line), np.isnan(track)), f"F{i + 1}: NaN gaps differ"
        assert np.allclose(line[np.isfinite(line)], track[np.isfinite(track)], rtol=1e-6), f"F{i + 1} differs"
    cm = formants.median_vocal_tract_length(tracks)
    assert abs(cm / 17.5 - 1) < 0.05, f"{cm:.2f} cm for a 17.5 cm tube"
    assert f"vocal-tract length {cm:.1f} cm" in top.get_title(), top.get_title()
    per_frame = bottom.get_lines()[0].get_ydata()  # (T,) cm, the length of each frame
    assert np.allclose(per_frame, formants.vocal_tract_length(tracks), rtol=1e-6, equal_nan=True)
    assert bottom.get_lines()[-1].get_ydata()[0] == pytest.approx(cm)  # the median's dashed line


def test_vocal_tract_figures_of_a_clip_without_voice():
    """Noise has no voiced frame: no formant, no length -- the figures say so instead of failing."""
    noise = (0.1 * np.random.default_rng(0).standard_normal(SR)).astype(np.float32)  # 1 s
    a = explain_arrays.analyse(noise)
    assert np.isnan(a["formants_hz"]).all() and np.isnan(a["vtl_clip_cm"])
    ax = drawn("8_lpc_envelope", a)[0]
    assert marked_lines(ax) == []
    legend = " ".join(t.get_text() for t in ax.get_legend().get_texts())
    assert "no formants" in legend and f"ceiling {formants.DEFAULT_CEILING_HZ:.0f} Hz, Praat's default" in legend, legend
    assert "no frame has all four" in drawn("9_formant_tracks", a)[0].get_title()


# ---------------------------------------------------------------- the command line
def test_without_matplotlib_one_line_and_exit_2(wav, tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # `import matplotlib` now raises ImportError
    code, _, err = run([wav, "--out", tmp_path], capsys)
    assert code == 2
    assert err == "explain.py: error: needs matplotlib: pip install matplotlib\n"
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("content, message", [(None, "file not found"), (b"not audio", "unreadable audio")])
def test_bad_audio_one_line_and_exit_2(tmp_path, capsys, monkeypatch, content, message):
    monkeypatch.setattr(plots, "pyplot", lambda: None)  # runs without matplotlib too
    path = tmp_path / "clip.wav"
    if content is not None:
        path.write_bytes(content)
    code, _, err = run([path, "--out", tmp_path / "figures"], capsys)
    assert code == 2
    assert err.startswith(f"explain.py: error: {path}: {message}") and err.count("\n") == 1, err


def test_frame_outside_the_clip_exit_2(wav, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(plots, "pyplot", lambda: None)
    code, _, err = run([wav, "--out", tmp_path, "--frame-s", "5"], capsys)
    assert code == 2 and "outside the clip" in err and err.count("\n") == 1, err
