"""Produce the Praat formant tracks that tests/test_formants.py compares formants.py against.

This is the only file under tests/ that imports parselmouth (Praat 6.x as a Python library); the tests load the
saved arrays. It also copies the real speech it used into tests/data/, so CI (which has no corpora) runs the test.
Run it from the repository root with the speechocean762 corpus in ../corpora/speechocean762 or $MOKSORI_SPEECHOCEAN:

    python tests/make_formant_reference.py

Produced with praat-parselmouth 0.4.7 (Praat 6.1.38), NumPy 2.4, SciPy 1.17.

tests/data/speechocean762_<speaker>_<utterance>.flac   the utterances below, 16 kHz mono 16-bit, bit-exact copies
                                                       of the corpus's WAV files (FLAC is lossless)
tests/data/ref_formants.npz
    names                  str (n_clips,)           the clips' names, "<speaker>_<utterance>"
    <name>_ceiling         float                    the formant ceiling in Hz: formants.formant_ceiling of the clip
                                                    (from its median YIN F0), the one formants(y, sr) picks itself
    <name>_formants        float64 (5, T)           Praat's F1..F5 in Hz from
                               parselmouth.Sound(y, 16000).to_formant_burg(time_step=0.01, max_number_of_formants=5,
                               maximum_formant=<ceiling>, window_length=0.025, pre_emphasis_from=50),
                           read at moksori's frame times t = 0.01 · k s, k = 0..T−1, T = 1 + N // 160
                           ("Get value at time", linear interpolation between Praat's frames); NaN where Praat has none
    <name>_voiced          bool (T,)                Praat's voicing at the same times: Sound.to_pitch(time_step=0.01,
                                                    pitch_floor=75, pitch_ceiling=600) has a value there
    time_step, window_length, max_number_of_formants, pre_emphasis_from     the settings above
"""
import os
import sys
from pathlib import Path

import numpy as np
import parselmouth
import soundfile as sf

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
import formants  # noqa: E402 -- the project's own code, to pick the ceiling formants(y, sr) picks itself

assert parselmouth.__version__.startswith("0.4."), f"made with parselmouth 0.4, found {parselmouth.__version__}"

DATA = HERE / "data"
SR = 16000  # Hz
HOP = 160  # samples = 10 ms
PRAAT = dict(time_step=0.01, max_number_of_formants=5, window_length=0.025, pre_emphasis_from=50.0)  # s, -, s, Hz
# speechocean762 (Zhang et al. 2021, CC BY 4.0): adults reading English, (speaker, utterance, sex, age).
CLIPS = [("1029", "010290123", "m", 31),  # "THANK YOU FOR MAKING ME FEEL SO ALIVE", median F0 about 120 Hz
         ("1027", "010270238", "m", 37),  # "MAYBE THIS WILL BE THE DAY", about 150 Hz
         ("9611", "096110008", "f", 30),  # about 220 Hz
         ("9630", "096300009", "f", 33)]  # about 260 Hz


def corpus_dir():
    for c in (os.environ.get("MOKSORI_SPEECHOCEAN"), ROOT.parent / "corpora" / "speechocean762"):
        if c and (Path(c) / "WAVE").is_dir():
            return Path(c)
    raise FileNotFoundError("speechocean762 not found: expected ../corpora/speechocean762 or $MOKSORI_SPEECHOCEAN")


def praat_tracks(y, ceiling_hz):
    """Praat's F1..F5 (5, T) and voicing (T,) at moksori's frame times."""
    sound = parselmouth.Sound(y, SR)
    formant = sound.to_formant_burg(maximum_formant=ceiling_hz, **PRAAT)
    pitch = sound.to_pitch(time_step=0.01, pitch_floor=75.0, pitch_ceiling=600.0)
    times = np.arange(1 + len(y) // HOP) * HOP / SR  # (T,) s
    tracks = np.array([[formant.get_value_at_time(i, t) for t in times] for i in range(1, 6)])  # (5, T) Hz
    voiced = np.array([np.isfinite(pitch.get_value_at_time(t)) for t in times])  # (T,)
    return tracks, voiced


def main():
    corpus = corpus_dir()
    out = dict(PRAAT, names=np.array([f"{spk}_{utt}" for spk, utt, _, _ in CLIPS]))
    for spk, utt, sex, age in CLIPS:
        pcm, sr = sf.read(corpus / "WAVE" / f"SPEAKER{spk}" / f"{utt}.WAV", dtype="int16")
        assert sr == SR and pcm.ndim == 1, f"{spk}/{utt}: expected 16 kHz mono, got {sr} Hz, shape {pcm.shape}"
        flac = DATA / f"speechocean762_{spk}_{utt}.flac"
        sf.write(flac, pcm, SR, subtype="PCM_16")
        y, _ = sf.read(flac, dtype="float64")  # exactly what the test will read
        assert np.array_equal(y, pcm / 32768.0), f"{flac}: FLAC round trip changed the samples"

        ceiling = formants.formant_ceiling(*formants.voicing(y, SR), SR)  # Hz
        tracks, praat_voiced = praat_tracks(y, ceiling)
        name = f"{spk}_{utt}"
        out.update({f"{name}_ceiling": ceiling, f"{name}_formants": tracks, f"{name}_voiced": praat_voiced})
        print(f"{name} ({sex}, {age}): {len(y) / SR:.2f} s, ceiling {ceiling:.0f} Hz, Praat voices "
              f"{praat_voiced.mean():.0%} of {len(praat_voiced)} frames, {flac.stat().st_size / 1024:.0f} KB")
    np.savez_compressed(DATA / "ref_formants.npz", **out)
    print(f"{DATA / 'ref_formants.npz'}: {(DATA / 'ref_formants.npz').stat().st_size / 1024:.0f} KB")


if __name__ == "__main__":
    main()
