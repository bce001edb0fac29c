"""audio.py: one file -> 16 kHz float32 mono, or one line naming the file and the problem.

Expectations come from outside the code under test: numpy's own mean and FFT, PCM full scale, files written
here with a known defect. Run: python -m pytest tests/test_audio.py
"""
import numpy as np
import pytest
import soundfile as sf

import data as audio
from data import AudioError

SR = 16000  # Hz

# ---------------------------------------------------------------- audio
def test_stereo_is_mixed_to_the_mean(tmp_path):
    rng = np.random.default_rng(0)
    stereo = rng.uniform(-0.5, 0.5, (SR, 2)).astype(np.float32)  # (N, 2)
    sf.write(tmp_path / "st.wav", stereo, SR, subtype="FLOAT")
    y = audio.load_audio(tmp_path / "st.wav")
    diff = np.max(np.abs(y - stereo.mean(axis=1)))
    assert y.dtype == np.float32 and y.shape == (SR,) and diff < 1e-7, f"largest difference {diff}"


@pytest.mark.parametrize("file_sr", [8000, 44100])
def test_resampling_keeps_length_and_frequency(tmp_path, file_sr):
    f0_hz, seconds = 440.0, 1.0
    t = np.arange(int(file_sr * seconds)) / file_sr
    sf.write(tmp_path / "sine.wav", 0.5 * np.sin(2 * np.pi * f0_hz * t), file_sr, subtype="FLOAT")
    y = audio.load_audio(tmp_path / "sine.wav", sr=SR)
    assert len(y) == int(seconds * SR), f"{len(y)} samples, expected {int(seconds * SR)}"
    spectrum = np.abs(np.fft.rfft(y * np.hanning(len(y))))
    peak_hz = np.argmax(spectrum) * SR / len(y)
    bin_hz = SR / len(y)
    assert abs(peak_hz - f0_hz) <= bin_hz, f"peak at {peak_hz} Hz, expected {f0_hz} Hz (bin {bin_hz} Hz)"


def test_int16_is_scaled_to_unit_range(tmp_path):
    pcm = np.array([0, 16384, -16384, 32767, -32768] * 400, dtype=np.int16)  # 2000 samples = 0.125 s
    sf.write(tmp_path / "i16.wav", pcm, SR, subtype="PCM_16")
    y = audio.load_audio(tmp_path / "i16.wav")
    expected = pcm / 32768.0  # PCM_16 full scale
    assert np.max(np.abs(y - expected)) < 1e-7 and y.min() == -1.0


def bad_files(folder):
    """name -> path of one bad input each."""
    (folder / "corrupt.wav").write_bytes(b"RIFF\x00\x01garbage" * 10)
    sf.write(folder / "empty.wav", np.zeros(0, np.float32), SR)
    nan = np.full(SR, 0.1, np.float32)
    nan[100] = np.nan
    sf.write(folder / "nan.wav", nan, SR, subtype="FLOAT")
    sf.write(folder / "zero.wav", np.zeros(SR, np.float32), SR)
    sf.write(folder / "short.wav", np.full(800, 0.1, np.float32), SR)  # 0.05 s
    return {"missing": folder / "missing.wav", "corrupt": folder / "corrupt.wav",
            "empty": folder / "empty.wav", "nan": folder / "nan.wav", "zero": folder / "zero.wav",
            "short": folder / "short.wav"}


@pytest.mark.parametrize("case, problem", [("missing", "not found"), ("corrupt", "unreadable"),
                                           ("empty", "0 samples"), ("nan", "NaN"), ("zero", "all-silent"),
                                           ("short", "too short")])
def test_bad_audio_raises_one_line_naming_the_file(tmp_path, case, problem):
    path = bad_files(tmp_path)[case]
    with pytest.raises(AudioError) as info:
        audio.load_audio(path)
    message = str(info.value)
    assert message.startswith(f"{path}: ") and problem in message and "\n" not in message, message


def test_nearly_silent_clip_warns_but_loads(tmp_path):
    sf.write(tmp_path / "quiet.wav", np.full(SR, 1e-5, np.float32), SR, subtype="FLOAT")  # -100 dBFS
    with pytest.warns(UserWarning, match=r"quiet.wav: nearly silent \(peak -100 dBFS\)"):
        y = audio.load_audio(tmp_path / "quiet.wav")
    assert len(y) == SR


def test_a_span_too_short_inside_the_file_says_too_short_not_outside(tmp_path):
    """Issue 30, case 23: the span 1-1.00001 s of a 4 s file lies inside it; it was reported as "lies outside the
    file (0-4.00 s)". It is 0.16 samples long at 16 kHz: too short, and said so."""
    sf.write(tmp_path / "four.wav", np.full(4 * SR, 0.1, np.float32), SR)
    with pytest.raises(AudioError) as info:
        audio.load_audio(tmp_path / "four.wav", SR, 1.0, 1.00001)
    assert str(info.value) == f"{tmp_path / 'four.wav'}: span 1.0-1.00001 s is too short (0.000 s < 0.1 s)"


def test_a_header_that_overstates_the_frames_adds_no_samples(tmp_path, monkeypatch):
    """An MP3's header may promise more frames than its decoder gives (Common Voice: 164,976 against 164,736): the
    clip is what the decoder gives, no tail of zeros or of whatever memory held (it showed as "1 NaN/inf sample")."""
    y = (0.3 * np.sin(2 * np.pi * 200 * np.arange(SR) / SR)).astype(np.float32)  # 1 s
    sf.write(tmp_path / "a.wav", np.stack([y, -y / 2], axis=1), SR)  # stereo
    real_info = sf.info

    class Overstated:
        def __init__(self, file):
            info = real_info(file)
            self.samplerate, self.channels, self.frames = info.samplerate, info.channels, info.frames + 240
    monkeypatch.setattr(audio.sf, "info", Overstated)
    loaded = audio.load_audio(tmp_path / "a.wav")  # (N,) the mean of the channels: y / 4
    assert loaded.shape == (SR,), loaded.shape
    assert np.abs(loaded - y / 4).max() < 1e-4
