"""The channel as something to learn away: what microphones, rooms, lines and codecs do to a voice, at random.

A profile should not change because a voice was recorded on a phone, in a hall or through a lossy codec. Each
function below is one of those channels, applied to a waveform (N,) float at sr Hz; `random_channel` chains a
random few of them into the extra *versions* of a training clip that the feature store keeps (train.py --augment
channel: versions "chan1", "chan2", each drawn from a generator seeded by the clip, so the same clip always gets
the same channels):

    band_limit        Butterworth band-pass, e.g. the telephone band 300-3,400 Hz (ITU-T G.712)
    rate_round_trip   down to 8 or 11.025 kHz and back: everything above the lower Nyquist is gone
    tilt_eq           a spectral tilt in dB per octave and a few peaking bands: microphones and their placement
    room_impulse      exponentially decaying noise with a chosen RT60 (Polack's model of a diffuse reverberant
                      tail) after a direct path; reverberate = convolution with it, the level kept
    add_noise         white, pink or brown noise at a chosen SNR
    lossy             an MP3 or Ogg Vorbis round trip through libsndfile (soundfile >= 0.12, libsndfile >= 1.1)
    telephone         a telephone line, named: the 300-3,400 Hz band of an 8 kHz round trip
    encode            a lossy file's bytes: MP3 at a constant bit rate in kbit/s, or Ogg Vorbis at its lowest quality
    codec_round_trip  encode and decode, the coder's delay removed, so the clip lines up with the original

    python -m pytest tests/test_channel.py
"""
import io

import numpy as np
import scipy.signal
import soundfile as sf

VERSIONS = ("chan1", "chan2")  # the stored versions --augment channel makes of every training clip
NOISE_COLOURS = {"white": 0.0, "pink": 1.0, "brown": 2.0}  # power falls as 1 / f^exponent
TELEPHONE_HZ = (300.0, 3400.0)  # Hz: the telephone band (ITU-T G.712)
TELEPHONE_SR = 8000  # Hz: the sample rate of a telephone line (G.711)
MP3_KBIT_S = ((32000, 32, 320), (16000, 8, 160), (0, 8, 64))  # (from sr Hz, lowest, highest kbit/s): MPEG-1, 2, 2.5
MAX_CODER_DELAY = 2304  # samples (two MPEG-1 frames) searched for the coder's delay; LAME + mpg123 leave 1,105


def band_limit(y, sr, low_hz=300.0, high_hz=3400.0, order=6):
    """Band-pass y between low_hz and high_hz (Butterworth, `order` per edge, zero phase) -> (N,) float32."""
    sos = scipy.signal.butter(order, [low_hz, high_hz], btype="bandpass", fs=sr, output="sos")
    return scipy.signal.sosfiltfilt(sos, np.asarray(y, dtype=np.float64)).astype(np.float32)


def rate_round_trip(y, sr, rate):
    """y resampled to `rate` Hz and back to sr (resample_poly, both ways) -> (N,) float32: an 8 kHz recording
    played at 16 kHz holds nothing above 4 kHz."""
    from fractions import Fraction
    ratio = Fraction(int(rate), int(sr)).limit_denominator(1000)
    down = scipy.signal.resample_poly(np.asarray(y, dtype=np.float64), ratio.numerator, ratio.denominator)
    back = scipy.signal.resample_poly(down, ratio.denominator, ratio.numerator)
    return np.resize(back, len(y)).astype(np.float32)  # the same length (resampling can leave one sample over)


def tilt_eq(y, sr, tilt_db_per_octave=0.0, bands=()):
    """y with a spectral tilt (dB per octave, relative to 1 kHz) and peaking bands [(centre Hz, gain dB, width in
    octaves)], applied as one zero-phase gain curve on the rFFT -> (N,) float32, the level kept."""
    spectrum = np.fft.rfft(np.asarray(y, dtype=np.float64))
    f = np.fft.rfftfreq(len(y), 1.0 / sr)  # (F,) Hz
    octaves = np.log2(np.maximum(f, 20.0) / 1000.0)  # (F,) octaves from 1 kHz (below 20 Hz: flat)
    gain_db = tilt_db_per_octave * octaves
    for centre, gain, width in bands:
        gain_db = gain_db + gain * np.exp(-0.5 * (np.log2(np.maximum(f, 1.0) / centre) / (width / 2)) ** 2)
    out = np.fft.irfft(spectrum * 10 ** (gain_db / 20), n=len(y))
    return (out * _rms(y) / max(_rms(out), 1e-12)).astype(np.float32)


def room_impulse(sr, rt60_s, rng, direct_to_reverb_db=0.0):
    """A synthetic room impulse response (M,) float64: a unit direct path, then Gaussian noise under the
    envelope exp(-6.91 t / rt60) (60 dB down at rt60: ln(10^3) = 6.91), starting 2.5 ms later, scaled so the
    tail holds `direct_to_reverb_db` dB less energy than the direct path. M = 1.2 * rt60 seconds."""
    n = int(1.2 * rt60_s * sr)
    t = np.arange(n) / sr
    tail = rng.standard_normal(n) * np.exp(-6.91 * t / rt60_s)
    tail[: int(0.0025 * sr)] = 0.0  # the first reflections arrive a few ms after the direct sound
    tail *= np.sqrt(10 ** (-direct_to_reverb_db / 10) / max(np.sum(tail ** 2), 1e-12))
    tail[0] = 1.0  # the direct path
    return tail


def reverberate(y, h):
    """y convolved with the impulse response h, cut to len(y), the level kept -> (N,) float32."""
    out = scipy.signal.fftconvolve(np.asarray(y, dtype=np.float64), h)[: len(y)]
    return (out * _rms(y) / max(_rms(out), 1e-12)).astype(np.float32)


def rt60_of(h, sr):
    """The RT60 of an impulse response, in seconds, measured as the standard does: Schroeder's backward
    integral of h², its decay from -5 to -25 dB fitted by a line, extrapolated to 60 dB (T20, ISO 3382-1)."""
    energy = np.cumsum((np.asarray(h, dtype=np.float64) ** 2)[::-1])[::-1]
    db = 10 * np.log10(energy / energy[0] + 1e-30)
    fit = (db <= -5) & (db >= -25)
    slope = np.polyfit(np.flatnonzero(fit) / sr, db[fit], 1)[0]  # dB per second, negative
    return -60.0 / slope


def add_noise(y, rng, snr_db, colour="white"):
    """y plus noise of a colour (white, pink, brown) at snr_db: 10 log10(P_y / P_noise) = snr_db -> (N,) float32."""
    n = len(y)
    spectrum = np.fft.rfft(rng.standard_normal(n))
    f = np.maximum(np.fft.rfftfreq(n), 1.0 / n)  # (F,) cycles per sample; the DC bin set to the lowest
    noise = np.fft.irfft(spectrum / f ** (NOISE_COLOURS[colour] / 2), n=n)  # power ~ 1 / f^exponent
    noise *= np.sqrt(np.mean(np.asarray(y, np.float64) ** 2) / (np.mean(noise ** 2) * 10 ** (snr_db / 10)))
    return (y + noise).astype(np.float32)


def lossy(y, sr, codec="mp3"):
    """y through a lossy codec and back (soundfile in memory: MPEG layer III, or Ogg Vorbis) -> (N,) float32,
    cut or zero-padded to len(y) (an MP3 encoder adds a little silence)."""
    peak = max(float(np.max(np.abs(y))), 1e-9)
    out, _ = sf.read(io.BytesIO(encode(np.asarray(y, dtype=np.float32) / max(peak, 1.0), sr, codec)), dtype="float32")
    out = out if out.ndim == 1 else out.mean(axis=1)
    fixed = np.zeros(len(y), dtype=np.float32)
    fixed[: min(len(y), len(out))] = out[: len(y)]
    return fixed * max(peak, 1.0)


def telephone(y, sr):
    """A telephone line: y (N,) at sr Hz through an 8 kHz line (rate_round_trip), then band_limit to 300-3,400 Hz
    (zero phase, so -6 dB at each edge) -> (N,) float32. tests/test_stress.py measures what is left above 3.4 kHz.

    >>> tone = np.sin(2 * np.pi * 1000.0 * np.arange(16000) / 16000)  # 1 s of 1 kHz, inside the band
    >>> out = telephone(tone, 16000)
    >>> out.shape, round(float(np.std(out[800:-800]) / np.std(tone)), 2)  # away from the filter's edges in time
    ((16000,), 1.0)
    """
    return band_limit(rate_round_trip(y, sr, TELEPHONE_SR), sr, *TELEPHONE_HZ)


def encode(y, sr, codec="mp3", kbit_s=None):
    """y (N,) in [-1, 1] as the bytes of a lossy file, encoded by libsndfile in memory -> bytes.

    codec "mp3": MPEG layer III (LAME), at a constant kbit_s kbit/s. libsndfile maps its compression level c in
    [0, 1) linearly onto the bit rates of the MPEG version that sr implies: kbit/s = highest - c (highest - lowest)
    (MP3_KBIT_S; 16 kHz is MPEG-2, 8-160 kbit/s). codec "ogg": Ogg Vorbis, which has no constant bit rate here:
    any kbit_s asks for its lowest quality (c = 1; about 32 kbit/s for 16 kHz mono). kbit_s None: the defaults.

    >>> noise = np.random.default_rng(0).uniform(-0.1, 0.1, 4 * 16000)  # 4 s at 16 kHz
    >>> 30 < 8 * len(encode(noise, 16000, "mp3", 32)) / 4 / 1000 < 36  # kbit/s, headers included
    True
    """
    fmt, subtype = {"mp3": ("MP3", "MPEG_LAYER_III"), "ogg": ("OGG", "VORBIS")}[codec]
    settings = {}
    if kbit_s is not None and codec == "ogg":
        settings = {"compression_level": 1.0}
    elif kbit_s is not None:
        _, lowest, highest = next(m for m in MP3_KBIT_S if sr >= m[0])
        if not lowest < kbit_s <= highest:
            raise ValueError(f"MP3 at {sr} Hz takes {lowest} (exclusive) to {highest} kbit/s, got {kbit_s}")
        settings = {"compression_level": (highest - kbit_s) / (highest - lowest), "bitrate_mode": "CONSTANT"}
    buffer = io.BytesIO()
    sf.write(buffer, np.asarray(y, dtype=np.float32), sr, format=fmt, subtype=subtype, **settings)
    return buffer.getvalue()


def codec_round_trip(y, sr, codec="mp3", kbit_s=32):
    """y encoded (encode) and decoded again, lined up with y -> (N,) float32, the level kept.

    The decoder returns the coder's delay first (LAME's 576 samples + the decoder's 529, which libsndfile's MP3
    reader does not always remove) and pads the last frame: the lag, 0..MAX_CODER_DELAY samples, at which the
    decoded signal correlates best with y is cut off the front, and the result cut to len(y).

    >>> tone = 0.5 * np.sin(2 * np.pi * 440.0 * np.arange(16000) / 16000)  # 1 s of A4
    >>> out = codec_round_trip(tone, 16000, "mp3", 32)
    >>> out.shape, round(float(np.corrcoef(out, tone)[0, 1]), 2)  # lined up: the same wave, sample for sample
    ((16000,), 1.0)
    """
    y = np.asarray(y, dtype=np.float32)
    peak = max(float(np.max(np.abs(y))), 1.0)  # the encoder takes [-1, 1]; the level is given back after
    out, _ = sf.read(io.BytesIO(encode(y / peak, sr, codec, kbit_s)), dtype="float64")
    out = out if out.ndim == 1 else out.mean(axis=1)
    padded = np.zeros(len(y) + MAX_CODER_DELAY)  # (N + D,) the decoded signal, zero-padded or cut
    padded[: min(len(out), len(padded))] = out[: len(padded)]
    lag = int(np.argmax(scipy.signal.correlate(padded, y / peak, mode="valid")))  # (D + 1,) one per lag 0..D
    return (padded[lag: lag + len(y)] * peak).astype(np.float32)


def random_channel(y, sr, rng):
    """A random channel for one training copy: each stage with its probability -- a band limit (telephone, or an
    8 / 11.025 kHz round trip), a tilt and EQ, a room (RT60 0.2-0.9 s), noise (5-30 dB SNR, any colour), a codec
    (MP3 or Vorbis), a gain of -10..+6 dB -- and at least one of the first five. -> (N,) float32 in [-1, 1]."""
    stages = rng.random(5) < (0.3, 0.6, 0.35, 0.5, 0.3)
    if not stages.any():
        stages[rng.integers(5)] = True
    out = np.asarray(y, dtype=np.float32)
    if stages[0]:
        out = band_limit(out, sr) if rng.random() < 0.5 else rate_round_trip(out, sr, rng.choice([8000, 11025]))
    if stages[1]:
        bands = [(float(rng.uniform(200, 6000)), float(rng.uniform(-8, 8)), float(rng.uniform(0.5, 2.0)))
                 for _ in range(rng.integers(1, 4))]
        out = tilt_eq(out, sr, float(rng.uniform(-3, 3)), bands)
    if stages[2]:
        out = reverberate(out, room_impulse(sr, float(rng.uniform(0.2, 0.9)), rng, float(rng.uniform(-6, 6))))
    if stages[3]:
        out = add_noise(out, rng, float(rng.uniform(5, 30)), str(rng.choice(list(NOISE_COLOURS))))
    if stages[4]:
        out = lossy(out, sr, str(rng.choice(["mp3", "ogg"])))
    out = out * 10 ** (rng.uniform(-10, 6) / 20)
    peak = float(np.max(np.abs(out)))
    return (out / peak * 0.99 if peak > 0.99 else out).astype(np.float32)  # no clipping: a gain, not a distortion


def _rms(y):
    return float(np.sqrt(np.mean(np.asarray(y, dtype=np.float64) ** 2)))
