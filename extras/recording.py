"""What makes a profile unsure: checks of one recording before the model's answer is trusted.

A profile is a model's answer about a recording it has never heard; these checks say when that recording is
unlike the ones models learn from. Each is one measurement with its threshold (the numbers below were read off
speechocean762, the TIMIT sample and the Speech Accent Archive subset, where no check fires on a clean clip, and
off the same clips band-limited, clipped or drowned in noise, where it does):

    short          under MIN_SPEECH_S seconds of audio: the model judges 4 s windows, trained on 2-4 s crops
    quiet          peak below QUIET_DBFS: a far or muted microphone; features of near-silence are mostly noise
    clipped        over CLIPPED_SHARE of the samples at full scale: the waveform's tops are cut off
    band-limited   the 5-7.5 kHz band more than BAND_DROP_DB below the 1-3 kHz band (a telephone, an 8 kHz file)
    noisy          loud and quiet 25 ms frames within NOISY_DB of each other: noise fills the pauses
    little voice   under VOICED_SHARE of the frames voiced (YIN): music, noise, whispering
    unfamiliar     (with a model) the recording's mean cepstrum far from the training frames' (InputNorm's
                   statistics), in standard deviations: a channel the model never heard

The rest of the file profiles recordings (`profile`: a waveform's answer and its warnings) for the page and for
evaluate.py --wav: any length (`read`, 30 s at a time; `profile_file`), many of them (`profile_files`: files and
folders, one CSV row each (`profile_row`), an unreadable file a row with its error).

    python -m pytest tests/test_recording.py tests/test_hostile.py tests/test_hostile_core.py
"""
import csv
import io
import os
import sys
import warnings
from pathlib import Path

import numpy as np
import scipy.signal

import data
import f0
import features
from scale import files
from scale.blocks import BLOCK_S
from scale.tables import pad

MIN_SPEECH_S = 2.0  # seconds
QUIET_DBFS = -30.0  # dB re full scale, of the peak
CLIPPED_SHARE = 0.001  # share of samples with |y| >= CLIP_LEVEL
CLIP_LEVEL = 0.99  # full scale = 1.0
BAND_DROP_DB = 30.0  # dB: full-band speech measured -20 dB at the lowest, telephone -36 dB, 8 kHz audio -66 dB
NOISY_DB = 20.0  # dB between the 95th and the 10th percentile of frame energies (clean speech: 24-61 dB)
VOICED_SHARE = 0.05  # share of frames
NO_VOICE_SHARE = 0.01  # share of frames: below it a recording holds no voice to profile (silence, noise, music)
NO_VOICE_THRESHOLD = 0.4  # YIN's CMND depth for that check: lenient, so speech in noise (YIN at 0.2: 0 % voiced at
#   15 dB SNR, 56 % at 0.4) still counts as voice, while white noise and dither stay at 0 %
UNFAMILIAR_Z = 1.5  # mean |z| of the clip's static cepstral means against the training frames' mean and std


def band_drop_db(y, sr=features.SR):
    """Level of the 5-7.5 kHz band below the 1-3 kHz band, in dB (Welch PSD, 512-sample segments): about 0-20
    for full-band speech, 35 and more where a telephone or an 8 kHz file left nothing up there."""
    f, p = scipy.signal.welch(y, sr, nperseg=512)  # (257,) Hz, power per Hz
    db = 10 * np.log10(p + 1e-20)  # guard: a band of digital silence is -200 dB, not -inf
    return float(np.median(db[(f >= 1000) & (f <= 3000)]) - np.median(db[(f >= 5000) & (f <= 7500)]))


def frame_energy_range_db(y, frame=400):
    """95th minus 10th percentile of the energies of 25 ms frames (400 samples at 16 kHz), in dB: speech with
    pauses spans 25-60 dB; noise that fills the pauses squeezes it."""
    n = max(len(y) // frame, 1)
    energy = 10 * np.log10(np.mean(np.reshape(y[:n * frame], (n, -1)) ** 2, axis=1) + 1e-12)  # (n,) dB
    return float(np.percentile(energy, 95) - np.percentile(energy, 10))


def unfamiliarity(x, mean, std, kind="mfcc_f0"):
    """Mean |z| over the static cepstral rows of a clip's `kind` features x (C, F, T): z = (clip mean - training
    mean) / training std, per row -- how many standard deviations the recording's channel sits from the training
    frames."""
    from extras.robust import cepstral_rows  # the rows a fixed channel moves (torch: a model is answering anyway)
    rows = cepstral_rows(kind)  # (C, F) bool
    clip_mean = x.mean(axis=-1)  # (C, F)
    return float(np.mean(np.abs(clip_mean[rows] - mean[rows]) / np.maximum(std[rows], 1e-3)))


def warnings_of(y, sr=features.SR, x=None, mean=None, std=None, kind="mfcc_f0"):
    """The checks above on a waveform y (N,) float at sr Hz -> a list of short sentences (empty: nothing found).
    x (C, F, T), mean, std (C, F): the clip's `kind` features (mfcc, mfcc_f0, mfcc_f0_vt) and the model's InputNorm
    statistics, for the unfamiliar-channel check."""
    found, seconds = [], len(y) / sr  # "kind: detail": extras/web/page.js translates by the kind and the numbers
    if seconds < MIN_SPEECH_S:
        found.append(f"short: {seconds:.1f} s of audio (profiles are surer from {MIN_SPEECH_S:.0f} s up)")
    y = np.asarray(y, dtype=np.float32)
    _, voice = f0.yin(y, sr, features.F0_FMIN, features.F0_FMAX, features.YIN_FRAME_LENGTH, features.HOP_LENGTH,
                      NO_VOICE_THRESHOLD)  # (T,) bool, whatever the level
    if voice.mean() < NO_VOICE_SHARE:  # nothing to profile: the model's answer would be about noise
        return found + [f"no voice: {100 * voice.mean():.1f} % of the frames voiced, so no profile"]
    peak = float(np.max(np.abs(y))) if len(y) else 0.0
    if peak < 10 ** (QUIET_DBFS / 20):
        found.append(f"quiet: the peak is {20 * np.log10(max(peak, 1e-10)):.0f} dBFS")
        return found  # the other measurements of near-silence mean nothing
    clipped = float(np.mean(np.abs(y) >= CLIP_LEVEL))
    if clipped > CLIPPED_SHARE:
        found.append(f"clipped: {100 * clipped:.1f} % of the samples at full scale")
    drop = band_drop_db(y, sr)
    if drop > BAND_DROP_DB:
        found.append(f"band-limited: little above 5 kHz ({drop:.0f} dB down), as a telephone or an 8 kHz file")
    spread = frame_energy_range_db(y)
    if spread < NOISY_DB:
        found.append(f"noisy: loud and quiet frames only {spread:.0f} dB apart (noise fills the pauses)")
    _, voiced = features.f0_track(y)  # YIN with the features' threshold: (T,) bool
    if voiced.mean() < VOICED_SHARE:
        found.append(f"little voice: {100 * voiced.mean():.0f} % of the frames voiced")
    if x is not None and mean is not None and kind in ("mfcc", "mfcc_f0", "mfcc_f0_vt"):
        z = unfamiliarity(x, mean, std, kind)
        if z > UNFAMILIAR_Z:
            found.append(f"unfamiliar channel: its mean cepstrum is {z:.1f} standard deviations from the training "
                         "recordings'")
    return found


# ---------------------------------------------------------------- a recording of any length

def analyse(y, config, stats=(None, None)):
    """A waveform y (N,) float32 at 16 kHz as the run `config` hears it -> (features (*input_shape, T), warnings):
    denoised first where the run was trained on denoised audio, then features.extract and warnings_of.
    stats: the model's InputNorm (mean, std), for the unfamiliar-channel check."""
    if config.get("denoise"):
        from extras.denoise import denoise
        y = denoise(y, features.SR)
    x = features.extract(y, features.SR, config["input"])  # (*input_shape, T)
    found = warnings_of(y, features.SR, x, *stats, kind=config["input"])
    if config.get("corpora") == ["synthetic"]:  # the built-in corpus's model has never heard a real voice
        found.insert(0, "synthetic: this model learnt from the built-in synthetic voices only; on a real voice its "
                        "answer is a demonstration, not a profile (evaluate.py --wav without a run folder uses the "
                        "released model)")
    return x, found


def read(path, config, stats=(None, None)):
    """An audio file of any length -> (features (*input_shape, T), warnings, seconds): data.clip_features reads
    it -- whole up to data.LONG_S (32 s), else 30 s at a time (scale/blocks.py), so memory holds one block of audio
    and the features of the whole (60 MB an hour for mfcc_f0) -- and every block is heard as the run hears it
    (analyse). A warning is kept when it fires in at least half of the blocks, "no voice" only when it fires in
    all of them (a long recording with a minute of speech is profiled on that minute). data.AudioError names the
    file."""
    rate, frames, _ = data.audio_info(path)  # also refuses, unread, a file that costs too much to decode
    heard = []  # every block's warnings

    def featurise(y):
        x, found = analyse(y, config, stats)
        heard.append(found)
        return x
    x = data.clip_features({"path": path}, config["input"], featurise=featurise)
    if len(heard) == 1:
        return x, heard[0], frames / rate
    counts, first_words = {}, {}
    for found in heard:
        for warning in found:
            counts[warning.split(":")[0]] = counts.get(warning.split(":")[0], 0) + 1
            first_words.setdefault(warning.split(":")[0], warning)
    return x, [f"{first_words[k]} (in {n} of {len(heard)} blocks of {BLOCK_S:.0f} s)" for k, n in counts.items()
               if n == len(heard) or (2 * n >= len(heard) and k != "no voice")], frames / rate


def profile(model, config, y, device="cpu", batch_size=64):
    """What the model says about one waveform y (N,) float32 at 16 kHz -> ({task: (n_classes,) probabilities,
    or a value}, [warnings]): its features, every 4 s window, the windows' outputs averaged (mtl.predict),
    and what makes the answer unsure (analyse: short, quiet, clipped, band-limited, noisy, unfamiliar)."""
    x, found = analyse(y, config, norm_statistics(model))
    return in_range(config, outputs_of(model, config, x, device, batch_size), found)


def profile_file(model, config, path, device="cpu", batch_size=64):
    """profile() of an audio file of any length -> (outputs, warnings, seconds); a file over half a minute is
    decoded and featurised a block at a time (read), so memory stays bounded. Any file name will do."""
    x, found, seconds = read(path, config, norm_statistics(model))
    return *in_range(config, outputs_of(model, config, x, device, batch_size), found), seconds


def outputs_of(model, config, x, device="cpu", batch_size=64):
    """The model's utterance-level outputs for one recording's features x (*input_shape, T) -> {task: output}:
    class probabilities calibrated by the run's temperatures (scale/calibration.py), numbers as the model says."""
    import mtl  # torch: only once a model answers
    from scale import calibration
    outputs = mtl.predict(model, data.Features(config["input"], [x]), config["input"], device, batch_size)
    return {t: out[0] for t, out in calibration.apply(outputs, config.get("temperature", {})).items()}


def in_range(config, outputs, found):
    """(outputs, warnings) with every number kept inside what the run learnt (config["ranges"], else
    data.NUMERIC_TASKS): a number outside is shown at the edge and said, as an "outside" warning."""
    outputs, found = dict(outputs), list(found)
    for t in [t for t in config["tasks"] if config["vocabs"][t] is None and not unanswered(found)]:
        low, high = config.get("ranges", {}).get(t) or data.NUMERIC_TASKS.get(t, (-np.inf, np.inf))
        if not low <= outputs[t] <= high:
            found.append(f"outside: {t} {outputs[t]:.1f} lies outside what the model learnt ({low:g} to {high:g})")
            outputs[t] = float(min(max(outputs[t], low), high))
    return outputs, found


def norm_statistics(model):
    """The training frames' mean and std (models.InputNorm), or (None, None) for a trunk without one."""
    norm = getattr(model.trunk, "norm", None)
    return (norm.mean.cpu().numpy(), norm.std.cpu().numpy()) if norm is not None else (None, None)


# ---------------------------------------------------------------- many recordings: evaluate.py --wav
AUDIO_SUFFIXES = (".wav", ".flac", ".mp3", ".ogg", ".opus", ".sph")  # what --wav DIR collects


def audio_paths(paths):
    """The files named, with every audio file under a named folder (sorted); a missing path stays in the list
    so that it gets its own error row."""
    found = []
    for p in map(Path, paths):
        found += sorted(q for q in p.rglob("*") if q.suffix.lower() in AUDIO_SUFFIXES) if p.is_dir() else [p]
    return found


def shown(path):
    """A path as text any CSV can hold, losslessly: bytes that are not UTF-8 (a name from another system) written
    as \\x.. escapes, and on POSIX a backslash as two, so that codecs.escape_decode gives the name's bytes back
    ("caf\\xe9.wav" is the Latin-1 name; a name holding "\\x" itself reads "\\\\x")."""
    raw = os.fsencode(str(path))
    return (raw.replace(b"\\", b"\\\\") if os.sep == "/" else raw).decode("utf-8", "backslashreplace")


def unanswered(warnings):
    """True where a recording's warnings say it holds no voice: the model's answer would be about noise."""
    return any(w.startswith("no voice:") for w in warnings)


def profile_row(path, config, outputs, warnings, seconds):
    """One CSV row of a profile: per task the top class, its calibrated probability, "unsure" below UNSURE_P, and
    the runner-up (or the value: in_range has kept it inside the ages the run learnt from), and the recording's
    warnings. A recording with no voice gets no answer, only its warnings."""
    from scale.calibration import UNSURE_P
    row = {"path": shown(path), "duration_s": f"{seconds:.2f}", "warnings": "; ".join(warnings)}
    if unanswered(warnings):
        return row
    for t in config["tasks"]:
        if config["vocabs"][t] is None:
            row[t] = f"{float(outputs[t]):.1f}"
            continue
        p, names = outputs[t], config["vocabs"][t]  # (n_classes,)
        first, second = (list(np.argsort(-p)[:2]) + [None])[:2]
        row.update({t: names[first], f"{t}_p": f"{p[first]:.2f}", f"{t}_unsure": "unsure" if p[first] < UNSURE_P
                    else "", f"{t}_next": "" if second is None else names[second],
                    f"{t}_next_p": "" if second is None else f"{p[second]:.2f}"})
    return row


def profile_files(run_dir, paths, device="cpu", batch_size=64, out_csv=None, skip_bad=False):
    """Profile recordings of any length: printed, and one CSV row per file in out_csv. An unreadable file
    becomes a row with its error (or is skipped with skip_bad); it never stops the rest.
    Returns (files that could not be read, files)."""
    from scale import checkpoints, console  # torch: only once a model answers
    console.any_terminal()  # Korean labels and names printed under LANG=C (ASCII) as escapes, not a crash
    config, model = checkpoints.load_run(run_dir, device=device)
    tasks, vocabs = config["tasks"], config["vocabs"]
    paths = audio_paths(paths)
    if not paths:
        raise FileNotFoundError("no audio files found under the --wav paths")
    rows, bad = [], 0
    for path in paths:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # a nearly silent clip still gets its profile
                outputs, found, seconds = profile_file(model, config, path, device, batch_size)
            rows.append(profile_row(path, config, outputs, found, seconds))
        except (data.AudioError, ValueError, MemoryError, RuntimeError) as err:  # one line naming it; the rest go on
            bad += 1
            if not skip_bad:
                name, problem = shown(path), shown(str(err).splitlines()[0] if str(err) else "?")
                rows.append({"path": name, "error": problem if name in problem else f"{name}: {problem}"})
    for row in rows:
        if row.get("error"):
            print(f"evaluate.py: error: {row['error']}", file=sys.stderr)
            continue
        print(f"{row['path']}: {float(row['duration_s']):.1f} s; {config['model']} on {config['input']}")
        for t in tasks if tasks[0] in row else []:  # a recording with no voice: its warnings only
            unsure = f"{row[f'{t}_unsure']}; " if vocabs[t] is not None and row[f"{t}_unsure"] else ""
            print(f"  {t:10} {row[t]:>6} years" if vocabs[t] is None else f"  {t:10} {pad(row[t], 8)} {row[f'{t}_p']}"
                  f"   ({unsure}next: {row[f'{t}_next']} {row[f'{t}_next_p']})")
        for warning in filter(None, row["warnings"].split("; ")):
            print(f"  warning: {warning}")
    if out_csv:
        header = ["path", "duration_s"] + [c for t in tasks for c in ((t,) if vocabs[t] is None else
                                                                       (t, f"{t}_p", f"{t}_unsure", f"{t}_next",
                                                                        f"{t}_next_p"))]
        text = io.StringIO(newline="")
        writer = csv.DictWriter(text, fieldnames=header + ["warnings", "error"], restval="")
        writer.writeheader()
        writer.writerows(rows)
        files.atomic_write_text(out_csv, text.getvalue())
        print(f"wrote {out_csv}: {len(rows)} rows" + (f", {bad} unreadable" if bad else ""))
    if bad and skip_bad:
        print(f"skipped {bad} unreadable file(s)", file=sys.stderr)
    return bad, len(paths)
