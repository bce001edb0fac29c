"""mel.py against librosa 0.11 (values saved by tests/make_reference.py) and against known answers.

Run: python -m pytest tests/test_mel.py
"""
from pathlib import Path

import numpy as np
import pytest
import scipy.signal

import mel
from conftest import close

REF = np.load(Path(__file__).resolve().parent / "data" / "ref_features.npz")
SR = 16000  # Hz


def fb_args(key):
    """'fb_16000_400_26_20_7600_htk_none' -> keyword arguments of mel_filterbank."""
    _, sr, n_fft, n_mels, fmin, fmax, scale, norm = key.split("_")
    return dict(sr=int(sr), n_fft=int(n_fft), n_mels=int(n_mels), fmin=float(fmin),
                fmax=None if fmax == "none" else float(fmax), htk=scale == "htk",
                norm=None if norm == "none" else norm)


# --- against librosa -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("key", [k for k in REF.files if k.startswith("fb_")])
def test_filterbank_matches_librosa(key):
    ours, ref = mel.mel_filterbank(**fb_args(key)), REF[key]
    assert ours.shape == ref.shape
    worst = np.abs(ours - ref).max() / np.abs(ref).max()  # relative to the tallest filter
    assert worst < 1e-12, f"{key}: largest difference {worst:.2e} of the peak weight"


@pytest.mark.parametrize("htk", [True, False])
def test_mel_scale_matches_librosa(htk):
    scale = "htk" if htk else "slaney"
    worst = np.abs(mel.hz_to_mel(REF["hz_grid"], htk) - REF[f"hz_to_mel_{scale}"]).max()
    assert worst < 1e-9, f"hz_to_mel({scale}): largest difference {worst:.2e} mel"
    worst = np.abs(mel.mel_frequencies(42, 0.0, 8000.0, htk) - REF[f"mel_frequencies_{scale}"]).max()
    assert worst < 1e-9, f"mel_frequencies({scale}): largest difference {worst:.2e} Hz"


@pytest.mark.parametrize("signal", ["speech", "harmonic"])
def test_melspectrogram_matches_librosa(signal):
    y = REF[signal].astype(np.float64)
    ours, ref = mel.melspectrogram(y, SR), REF[f"{signal}_melspec"]
    assert ours.shape == ref.shape == (40, 1 + len(y) // 160)
    # relative error per cell; librosa's float32 filterbank limits agreement to ~1e-7
    rel = np.abs(ours - ref) / np.maximum(ref, 1e-12 * ref.max())
    assert rel.max() < 1e-6, f"{signal}: largest relative difference {rel.max():.2e}"
    db = np.abs(mel.power_to_db(ours) - REF[f"{signal}_melspec_db"]).max()
    assert db < 1e-5, f"{signal}: power_to_db largest difference {db:.2e} dB"


# --- known answers ---------------------------------------------------------------------------------------------

def test_htk_mel_of_1000_hz_is_1000():
    assert abs(mel.hz_to_mel(1000.0, htk=True) - 1000.0) < 0.02  # 2595 log10(1 + 1000/700) = 999.99 mel


def test_slaney_scale_is_linear_below_1khz():
    f = np.linspace(0.0, 999.0, 1000)  # Hz
    worst = np.abs(mel.hz_to_mel(f) - f / (200.0 / 3)).max()
    assert worst < 1e-12, f"largest difference {worst:.2e} mel"
    assert abs(mel.hz_to_mel(1000.0) - 15.0) < 1e-12  # the break point: 15 mel
    assert abs(mel.hz_to_mel(6400.0) - 42.0) < 1e-9  # 27 mels per factor 6.4 above the break


@pytest.mark.parametrize("htk", [True, False])
def test_hz_mel_hz_round_trip(htk):
    f = np.linspace(0.0, 11025.0, 4411)  # Hz
    worst = np.abs(mel.mel_to_hz(mel.hz_to_mel(f, htk), htk) - f).max()
    assert worst < 1e-8, f"largest round-trip error {worst:.2e} Hz"


@pytest.mark.parametrize("band", [3, 10, 20, 30, 38])
def test_pure_tone_lands_in_its_mel_band(band):
    """A tone at the centre of mel band i, worked out by hand (not with mel.py), puts more power in band i than in
    any other. 40 Slaney bands over 0..8 kHz have 42 edges equally spaced in mel, from 0 to
    15 + 27 ln(8000 / 1000) / ln 6.4 = 45.2457 mel, so 45.2457 / 41 = 1.10355 mel apart; band i peaks at edge i + 1.
    Below 15 mel a mel is 200/3 Hz; above, f = 1000 · 6.4^((mel − 15) / 27). Band 3: 4 · 1.10355 = 4.414 mel
    = 294.3 Hz; band 30: 31 · 1.10355 = 34.210 mel = 1000 · 6.4^(19.210 / 27) = 3746 Hz. On the HTK scale, or with
    the filters in the wrong place, the tone would land in another band."""
    top_mel = 15.0 + 27.0 * np.log(8000.0 / 1000.0) / np.log(6.4)  # mel at sr / 2 = 8 kHz
    centre_mel = (band + 1) * top_mel / 41.0  # edge band + 1 of 0..41
    centre_hz = centre_mel * 200.0 / 3.0 if centre_mel < 15.0 else 1000.0 * 6.4 ** ((centre_mel - 15.0) / 27.0)
    t = np.arange(SR // 2) / SR  # (8000,) 0.5 s
    S = mel.melspectrogram(np.sin(2 * np.pi * centre_hz * t), SR)[:, 5:-5]  # (40, T) frames inside the tone
    loudest = S.argmax(axis=0)  # (T,) band index per frame
    assert np.all(loudest == band), f"a {centre_hz:.1f} Hz tone lands in band(s) {sorted(set(loudest))}, not {band}"


def test_hann_window_is_scipy_periodic_hann_centred():
    w = mel.hann_window(400, 512)
    ref = scipy.signal.get_window("hann", 400, fftbins=True)  # periodic Hann
    assert np.abs(w[56:456] - ref).max() < 1e-12  # (512 - 400) / 2 = 56 zeros on each side
    assert not w[:56].any() and not w[456:].any()


def test_pure_tone_peaks_in_its_bin():
    k = 40  # FFT bin; 40 * 16000 / 512 = 1250 Hz
    t = np.arange(SR) / SR  # 1 s, in seconds
    power = mel.power_spectrogram(np.sin(2 * np.pi * k * SR / 512 * t))  # (257, T)
    assert np.all(power[:, 5:-5].argmax(axis=0) == k)  # frames fully inside the signal


def test_frame_is_a_strided_view():
    y = np.arange(1000.0)
    frames = mel.frame(y, 400, 160)  # (400, T)
    assert frames.shape == (400, 1 + (1000 - 400) // 160)
    assert np.shares_memory(frames, y)  # no copy
    assert close(frames[:, 2], y[320:720])


@pytest.mark.parametrize("n", [1, 159, 160, 161, 16000, 16001])
def test_frame_count_with_centre_padding(n):
    y = np.random.default_rng(0).standard_normal(n)
    assert mel.power_spectrogram(y).shape == (257, 1 + n // 160)
    assert mel.melspectrogram(y, SR).shape == (40, 1 + n // 160)


@pytest.mark.parametrize("sr, n_fft, hop_length, win_length", [
    (8000, 256, 80, 200),  # 10 ms = 80 samples, 25 ms = 200 samples in the next power of two, 256
    (16000, 512, 160, 400),  # features.py's constants: the 16 kHz callers' numbers are unchanged
    (48000, 2048, 480, 1200),  # 1200 samples need an FFT of 2048
])
def test_default_sizes_are_durations(sr, n_fft, hop_length, win_length):
    """melspectrogram's sizes default to a 10 ms hop and a 25 ms window at any rate; the sample counts are by hand."""
    y = np.random.default_rng(5).standard_normal(sr // 4)  # 0.25 s
    default = mel.melspectrogram(y, sr)
    assert default.shape == (40, 1 + len(y) // hop_length)
    explicit = mel.melspectrogram(y, sr, n_fft=n_fft, hop_length=hop_length, win_length=win_length)
    worst = np.abs(mel.power_to_db(default, top_db=None) - mel.power_to_db(explicit, top_db=None)).max()
    assert worst < 1e-9, f"{sr} Hz: the default sizes differ from {n_fft, hop_length, win_length}: {worst:.2e} dB"


def test_frame_count_without_centre_padding():
    y = np.zeros(1000)
    assert mel.power_spectrogram(y, center=False).shape == (257, 1 + (1000 - 512) // 160)
    with pytest.raises(ValueError, match="shorter than n_fft"):
        mel.power_spectrogram(np.zeros(511), center=False)


def test_empty_input_raises():
    with pytest.raises(ValueError, match="non-empty"):
        mel.melspectrogram(np.zeros(0), SR)
    with pytest.raises(ValueError, match="shorter than one frame"):
        mel.frame(np.zeros(10), 400, 160)


def test_silence_is_finite():
    S = mel.melspectrogram(np.zeros(SR), SR)
    assert not S.any()
    db = mel.power_to_db(S)
    assert np.all(np.isfinite(db)) and close(db, np.full_like(db, -100.0), atol=1e-9)  # the amin = 1e-10 floor, in dB


@pytest.mark.parametrize("ref, top_db, expected_db", [
    (1.0, None, [6.0206, -13.9794, -100.0]),  # 10 log10(4) = 6.0206; 10 log10(0.04) = -13.9794; 0 -> amin -> -100
    (np.max, None, [0.0, -20.0, -106.0206]),  # ref = max(S) = 4: every value 6.0206 dB lower, the loudest at 0
    (4.0, None, [0.0, -20.0, -106.0206]),  # the same reference given as a number
    (np.max, 80.0, [0.0, -20.0, -80.0]),  # top_db = 80: floored at the maximum minus 80 dB
    (1.0, 80.0, [6.0206, -13.9794, -73.9794]),  # the floor follows the maximum: 6.0206 - 80
])
def test_power_to_db_ref_and_floor_by_hand(ref, top_db, expected_db):
    """S = [4, 0.04, 0] in power units, each dB value worked out by hand beside its case."""
    db = mel.power_to_db(np.array([4.0, 0.04, 0.0]), ref=ref, top_db=top_db)
    worst = np.abs(db - expected_db).max()
    assert worst < 1e-4, f"ref={ref}, top_db={top_db}: {db} dB, off by {worst:.2e} dB"


def test_float32_in_float32_out():
    y = REF["speech"]  # float32
    S32, S64 = mel.melspectrogram(y, SR), mel.melspectrogram(y.astype(np.float64), SR)
    assert S32.dtype == np.float32
    worst = np.abs(mel.power_to_db(S32) - mel.power_to_db(S64)).max()
    assert worst < 1e-3, f"float32 vs float64 log-mel: largest difference {worst:.2e} dB"
