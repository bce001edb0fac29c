"""Produce the librosa reference values that tests/test_mel.py, tests/test_mfcc.py and tests/test_f0.py compare against.

This is the only file under tests/ that imports librosa; the tests themselves load the saved arrays.
Run it from the repository root (it needs the TIMIT sample in ../shared/data/timit_sample or $MOKSORI_TIMIT):

    python tests/make_reference.py

Produced with librosa 0.11.0, NumPy 2.4, SciPy 1.17 (the script refuses other librosa minor versions).
Every reference is computed on float64 input (the stored float32 signal cast to float64), so the tests, which load
the same float32 arrays and cast them the same way, feed the exact same samples to our code.

tests/data/ref_yin.npz (YIN, for tests/test_f0.py)
    speech                     float32 (32000,)  2 s of TIMIT dr5-ftlg0/sa2.wav (female), samples 2560..34560, 16 kHz
    harmonic, chirp            float32 (16000,)  1 s: 150 Hz harmonic complex (harmonics 1..5, amplitude 1/k);
                                                 linear chirp 80 -> 400 Hz (scipy.signal.chirp), amplitude 0.5
    <signal>_f0                float64 (T,)      librosa.yin(x, fmin=60, fmax=500, sr=16000, frame_length=1024,
                                                 hop_length=160, trough_threshold=0.1, center=True)  [Hz]
    <signal>_voiced            bool (T,)         librosa's own voicing decision inside yin: "some CMND trough lies
                                                 below trough_threshold" (recomputed from
                                                 librosa.core.pitch._cumulative_mean_normalized_difference with
                                                 the same framing; yin itself only returns f0)
    sr, fmin, fmax, frame_length, hop_length, threshold     the parameters above

tests/data/ref_features.npz (mel, MFCC, delta, for tests/test_mel.py and tests/test_mfcc.py)
    speech, harmonic           the same float32 signals as above
    fb_<sr>_<n_fft>_<n_mels>_<fmin>_<fmax>_<htk|slaney>_<slaney|none>
                               librosa.filters.mel(sr=, n_fft=, n_mels=, fmin=, fmax=, htk=, norm=,
                               dtype=np.float64)        (n_mels, 1 + n_fft // 2); fmax "none" means sr / 2
    mel_frequencies_<htk|slaney>   librosa.mel_frequencies(n_mels=42, fmin=0, fmax=8000, htk=)  [Hz]
    hz_grid, hz_to_mel_<htk|slaney>  librosa.hz_to_mel(hz_grid, htk=)  [mel]
    <signal>_melspec           librosa.feature.melspectrogram(y=x, sr=16000, n_fft=512, hop_length=160,
                               win_length=400, n_mels=40, center=True, pad_mode="constant")   (40, T) power.
                               NB: librosa builds its filterbank here in float32 (filters.mel's default dtype),
                               so these agree with a float64 filterbank to about 1e-7 relative, not 1e-15.
    <signal>_melspec_db        librosa.power_to_db(<signal>_melspec)   (ref=1.0, amin=1e-10, top_db=80)  [dB]
    <signal>_mfcc_<htk|slaney>_<slaney|none>_l<0|22>   (the combinations listed in MFCC_VARIANTS below)
                               librosa.feature.mfcc(y=x, sr=16000, n_mfcc=13, n_fft=512, hop_length=160,
                               win_length=400, n_mels=40, htk=, mel_norm=, lifter=, center=True,
                               pad_mode="constant")     (13, T)
    speech_delta1              librosa.feature.delta(speech_mfcc_slaney_slaney_l0, width=5, order=1, mode="nearest")
    speech_delta_delta         librosa.feature.delta(speech_delta1, width=5, order=1, mode="nearest"): HTK's
                               acceleration, the delta of the delta                                     (13, T)
    speech_delta2_savgol       librosa.feature.delta(speech_mfcc_slaney_slaney_l0, width=5, order=2, mode="nearest"):
                               a quadratic Savitzky-Golay 2nd derivative, which is NOT the delta of the delta;
                               kept so a test can show the difference
"""
import os
from pathlib import Path

import librosa
import librosa.core.pitch  # lazily loaded otherwise; yin_voiced needs its private CMND helper
import numpy as np
import scipy.signal
import soundfile as sf

assert librosa.__version__.startswith("0.11."), f"references were made with librosa 0.11, found {librosa.__version__}"

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DATA = HERE / "data"
SR = 16000  # Hz
SPEECH_FILE = "dr5-ftlg0/sa2.wav"  # the 2 s of the sample where librosa.yin finds most voiced frames
SPEECH_START, SPEECH_STOP = 2560, 34560  # samples: 0.16 s .. 2.16 s of the sentence

# YIN parameters (the project's pinned F0 settings)
YIN = dict(fmin=60.0, fmax=500.0, frame_length=1024, hop_length=160, threshold=0.1)
# STFT / mel parameters (the project's pinned MFCC settings)
STFT = dict(n_fft=512, hop_length=160, win_length=400, center=True, pad_mode="constant")
N_MELS = 40


def timit_dir():
    for c in (os.environ.get("MOKSORI_TIMIT"), ROOT.parent / "shared" / "data" / "timit_sample"):
        if c and (Path(c) / "spkrinfo.txt").is_file():
            return Path(c)
    raise FileNotFoundError("TIMIT sample not found: expected ../shared/data/timit_sample or $MOKSORI_TIMIT")


def signals():
    """The three test signals, stored as float32 (what gets committed)."""
    y, sr = sf.read(timit_dir() / SPEECH_FILE, dtype="float64")
    assert sr == SR, f"{SPEECH_FILE}: expected {SR} Hz, got {sr}"
    speech = y[SPEECH_START:SPEECH_STOP].astype(np.float32)

    t = np.arange(SR) / SR  # 1 s time axis in seconds
    harmonic = sum(np.sin(2 * np.pi * 150.0 * k * t) / k for k in range(1, 6))  # 150 Hz, harmonics 1..5
    harmonic = (0.3 * harmonic).astype(np.float32)
    chirp = (0.5 * scipy.signal.chirp(t, f0=80.0, t1=1.0, f1=400.0, method="linear")).astype(np.float32)
    return {"speech": speech, "harmonic": harmonic, "chirp": chirp}


def yin_voiced(x):
    """librosa.yin's internal voicing decision: does any CMND trough fall below trough_threshold?"""
    n = YIN["frame_length"]
    xp = np.pad(x, (n // 2, n // 2), mode="constant")
    frames = librosa.util.frame(xp, frame_length=n, hop_length=YIN["hop_length"])
    min_period = int(np.floor(SR / YIN["fmax"]))
    max_period = min(int(np.ceil(SR / YIN["fmin"])), n - 1)
    d = librosa.core.pitch._cumulative_mean_normalized_difference(frames, min_period, max_period)
    is_trough = librosa.util.localmin(d, axis=-2)
    is_trough[0, :] = d[0, :] < d[1, :]
    return np.any(is_trough & (d < YIN["threshold"]), axis=0)


def make_yin(sig):
    out = {k: v for k, v in sig.items()}
    for name, x32 in sig.items():
        x = x32.astype(np.float64)
        out[f"{name}_f0"] = librosa.yin(x, fmin=YIN["fmin"], fmax=YIN["fmax"], sr=SR,
                                        frame_length=YIN["frame_length"], hop_length=YIN["hop_length"],
                                        trough_threshold=YIN["threshold"], center=True)
        out[f"{name}_voiced"] = yin_voiced(x)
        assert out[f"{name}_voiced"].shape == out[f"{name}_f0"].shape
    out.update(sr=SR, **YIN)
    np.savez_compressed(DATA / "ref_yin.npz", **out)
    return out


FILTERBANKS = [  # (sr, n_fft, n_mels, fmin, fmax)
    (16000, 512, 40, 0.0, None),
    (16000, 512, 64, 0.0, None),
    (22050, 2048, 128, 0.0, None),
    (16000, 400, 26, 20.0, 7600.0),
    (8000, 256, 23, 100.0, 3800.0),
]


MFCC_VARIANTS = {  # signal -> [(htk, mel_norm, lifter)]; the default (False, "slaney", 0) first
    "speech": [(False, "slaney", 0), (False, None, 0), (True, "slaney", 0), (True, None, 0), (False, "slaney", 22)],
    "harmonic": [(False, "slaney", 0), (True, None, 22)],
}


def tag(v):
    """Key fragment for a parameter value: None -> "none", 7600.0 -> "7600", "slaney" -> "slaney"."""
    return "none" if v is None else f"{v:g}" if isinstance(v, float) else str(v)


def make_features(sig):
    out = {"speech": sig["speech"], "harmonic": sig["harmonic"]}
    for sr, n_fft, n_mels, fmin, fmax in FILTERBANKS:
        for htk in (True, False):
            for norm in ("slaney", None):
                key = f"fb_{sr}_{n_fft}_{n_mels}_{tag(fmin)}_{tag(fmax)}_{'htk' if htk else 'slaney'}_{tag(norm)}"
                out[key] = librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax,
                                               htk=htk, norm=norm, dtype=np.float64)
    hz = np.concatenate([np.linspace(0.0, 8000.0, 161), [20.0, 440.0, 999.0, 1000.0, 1001.0, 11025.0, 22050.0]])
    out["hz_grid"] = hz
    for htk in (True, False):
        scale = "htk" if htk else "slaney"
        out[f"hz_to_mel_{scale}"] = librosa.hz_to_mel(hz, htk=htk)
        out[f"mel_frequencies_{scale}"] = librosa.mel_frequencies(n_mels=42, fmin=0.0, fmax=8000.0, htk=htk)

    for name in ("speech", "harmonic"):
        x = sig[name].astype(np.float64)
        S = librosa.feature.melspectrogram(y=x, sr=SR, n_mels=N_MELS, **STFT)
        out[f"{name}_melspec"] = S
        out[f"{name}_melspec_db"] = librosa.power_to_db(S)
        for htk, norm, lifter in MFCC_VARIANTS[name]:
            key = f"{name}_mfcc_{'htk' if htk else 'slaney'}_{tag(norm)}_l{lifter}"
            out[key] = librosa.feature.mfcc(y=x, sr=SR, n_mfcc=13, n_mels=N_MELS, htk=htk,
                                            mel_norm=norm, lifter=lifter, **STFT)
    m = out["speech_mfcc_slaney_slaney_l0"]
    out["speech_delta1"] = librosa.feature.delta(m, width=5, order=1, mode="nearest")
    out["speech_delta_delta"] = librosa.feature.delta(out["speech_delta1"], width=5, order=1, mode="nearest")
    out["speech_delta2_savgol"] = librosa.feature.delta(m, width=5, order=2, mode="nearest")
    np.savez_compressed(DATA / "ref_features.npz", **out)
    return out


if __name__ == "__main__":
    DATA.mkdir(exist_ok=True)
    sig = signals()
    ref = make_yin(sig)
    print(f"ref_yin.npz: speech voiced {ref['speech_voiced'].mean():.0%} of {ref['speech_f0'].size} frames")
    make_features(sig)
    for f in ("ref_yin.npz", "ref_features.npz"):
        print(f"{DATA / f}: {(DATA / f).stat().st_size / 1024:.0f} KB")
