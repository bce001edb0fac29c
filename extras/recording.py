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

    python -m pytest tests/test_recording.py tests/test_hostile.py
"""
import contextlib
import csv
import io
import math
import os
import shutil
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np
import scipy.signal
import soundfile as sf

import data
import features
from scale import files
from scale.tables import pad

MIN_SPEECH_S = 2.0  # seconds
QUIET_DBFS = -30.0  # dB re full scale, of the peak
CLIPPED_SHARE = 0.001  # share of samples with |y| >= CLIP_LEVEL
CLIP_LEVEL = 0.99  # full scale = 1.0
BAND_DROP_DB = 30.0  # dB: full-band speech measured -20 dB at the lowest, telephone -36 dB, 8 kHz audio -66 dB
NOISY_DB = 20.0  # dB between the 95th and the 10th percentile of frame energies (clean speech: 24-61 dB)
VOICED_SHARE = 0.05  # share of frames
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


def unfamiliarity(x, mean, std):
    """Mean |z| over the static cepstral rows of a clip's features x (C, F, T): z = (clip mean - training mean) /
    training std, per row -- how many standard deviations the recording's channel sits from the training frames."""
    rows = features.cepstral_rows("mfcc" if x.shape[1] == features.N_MFCC else "mfcc_f0")  # (C, F) bool
    clip_mean = x.mean(axis=-1)  # (C, F)
    return float(np.mean(np.abs(clip_mean[rows] - mean[rows]) / np.maximum(std[rows], 1e-3)))


def warnings_of(y, sr=features.SR, x=None, mean=None, std=None):
    """The checks above on a waveform y (N,) float at sr Hz -> a list of short sentences (empty: nothing found).
    x (C, F, T), mean, std (C, F): the clip's mfcc/mfcc_f0 features and the model's InputNorm statistics, for
    the unfamiliar-channel check."""
    found, seconds = [], len(y) / sr  # "kind: detail": extras/web/page.js translates by the kind and the numbers
    if seconds < MIN_SPEECH_S:
        found.append(f"short: {seconds:.1f} s of audio (profiles are surer from {MIN_SPEECH_S:.0f} s up)")
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
    _, voiced = features.f0_track(np.asarray(y, dtype=np.float32))
    if voiced.mean() < VOICED_SHARE:
        found.append(f"little voice: {100 * voiced.mean():.0f} % of the frames voiced")
    if x is not None and mean is not None and x.ndim == 3 and x.shape[0] == 3:
        z = unfamiliarity(x, mean, std)
        if z > UNFAMILIAR_Z:
            found.append(f"unfamiliar channel: its mean cepstrum is {z:.1f} standard deviations from the training "
                         "recordings'")
    return found


# ---------------------------------------------------------------- what decoding a file may cost
MAX_DECODE_RATE = 768_000  # samples per second of audio (channels x sample rate in the header) a file may cost to
# decode: 16 channels at 48 kHz, or stereo at 384 kHz. A 5 MB FLAC of 8 channels at 384 kHz (3.1 M/s) or a 0.2 MB
# Ogg of 200 channels at 48 kHz (9.6 M/s) would take gigabytes; duration is bounded where it matters by blocks
DECODE_BLOCK = 1 << 20  # samples (channels x frames) `decode` reads at a time: 4 MB of float32


def check_decode_cost(path, rate, channels):
    """Refuse, before anything is decoded, a file whose every second costs more than MAX_DECODE_RATE samples to
    decode (channels x rate, both from the header): data.AudioError "PATH: 200 channels at 48000 Hz ...". """
    if channels * rate > MAX_DECODE_RATE:
        raise data.AudioError(f"{path}: {channels} channels at {rate} Hz are {channels * rate:,} samples to decode per "
                              f"second; the limit is {MAX_DECODE_RATE:,} (16 channels at 48 kHz, or 2 at 384 kHz)")


def decode(path, sr=features.SR):
    """An audio file as data.load_audio reads it -- (N,) float32 mono at sr Hz, the same checks and AudioErrors --
    but decoded DECODE_BLOCK samples at a time, each block mixed to mono at once: memory holds one block and the
    mono signal at the file's rate (90 MB for a minute at 384 kHz), whatever the channel count, and the cost is
    checked from the header first (check_decode_cost). The page decodes its uploads with it."""
    file_sr, frames, channels = data.audio_info(path)
    check_decode_cost(path, file_sr, channels)
    y = np.zeros(frames, np.float32)  # (frames,) mono at the file's rate; a header never makes it longer
    n = 0
    try:
        with sf.SoundFile(path) as f:
            for block in f.blocks(max(DECODE_BLOCK // channels, 1), dtype="float32", always_2d=True, frames=frames):
                k = min(len(block), frames - n)  # block: (<= DECODE_BLOCK / channels, channels)
                y[n:n + k] = block[:k].mean(axis=1)
                n += k
    except (sf.SoundFileError, RuntimeError, TypeError, OSError, ValueError) as err:
        raise data.AudioError(f"{path}: unreadable audio ({getattr(err, 'error_string', None) or err})") from None
    y = y[:n]  # the checks of data.load_audio, in its words
    bad = int(np.count_nonzero(~np.isfinite(y)))
    if n == 0:
        raise data.AudioError(f"{path}: empty audio (0 samples)")
    if bad:
        raise data.AudioError(f"{path}: {bad} NaN/inf samples")
    if n / file_sr < data.MIN_CLIP_S:
        raise data.AudioError(f"{path}: too short ({n / file_sr:.3f} s < {data.MIN_CLIP_S} s)")
    peak = float(np.max(np.abs(y)))
    if peak == 0.0:
        raise data.AudioError(f"{path}: all-silent (every sample is 0)")
    if peak < data.SILENT_PEAK:
        warnings.warn(f"{path}: nearly silent (peak {20 * np.log10(peak):.0f} dBFS)", stacklevel=2)
    if file_sr != sr:
        g = math.gcd(int(sr), int(file_sr))
        y = scipy.signal.resample_poly(y, sr // g, file_sr // g)  # (N * sr / file_sr,)
    return y.astype(np.float32)


# ---------------------------------------------------------------- a recording of any length
BLOCK_S = 30.0  # seconds decoded and featurised at a time: a long recording never sits in memory whole
MARGIN_S = 1.0  # seconds of context on each side of a block, so frames near its edges see what the whole file has


def analyse(y, config, stats=(None, None)):
    """A waveform y (N,) float32 at 16 kHz as the run `config` hears it -> (features (*input_shape, T), warnings):
    denoised first where the run was trained on denoised audio, then features.extract and warnings_of.
    stats: the model's InputNorm (mean, std), for the unfamiliar-channel check."""
    if config.get("denoise"):
        from extras.denoise import denoise
        y = denoise(y, features.SR)
    x = features.extract(y, features.SR, config["input"])  # (*input_shape, T)
    found = warnings_of(y, features.SR, x, *stats)
    if config.get("corpora") == ["synthetic"]:  # the built-in corpus's model has never heard a real voice
        found.insert(0, "synthetic: this model learnt from the built-in synthetic voices only; on a real voice its "
                        "answer is a demonstration, not a profile (evaluate.py --wav without a run folder uses the "
                        "released model)")
    return x, found


def read(path, config, stats=(None, None)):
    """An audio file of any length -> (features (*input_shape, T), warnings, seconds).

    Up to BLOCK_S (+ margins) it is read whole. A longer file is decoded BLOCK_S seconds at a time with MARGIN_S
    of context on each side (data.load_audio's span), each block's features computed and its central frames kept,
    so memory holds one block of audio and the features of the whole (60 MB an hour for mfcc_f0). A frame deep
    inside a block is the whole-file frame; the 80 dB floor of power_to_db is the block's, not the file's. A
    warning is kept when it fires in at least half of the blocks. Raises data.AudioError naming the file, also
    before decoding one that costs too much (check_decode_cost).
    """
    rate, frames, channels = data.audio_info(path)
    check_decode_cost(path, rate, channels)  # a block of 32 s then holds at most 98 MB of float32 samples
    seconds = frames / rate
    if seconds <= BLOCK_S + 2 * MARGIN_S:
        x, found = analyse(data.load_audio(path), config, stats)
        return x, found, seconds
    per_s = features.SR if config["input"] == "raw" else features.SR // features.HOP_LENGTH  # steps per second
    whole = np.zeros((*features.input_shape(config["input"]), int(seconds * per_s) + 2), np.float32)  # filled below
    filled, n_blocks, counts, first_words = 0, 0, {}, {}
    for start in np.arange(0.0, seconds, BLOCK_S):
        a, b = max(start - MARGIN_S, 0.0), min(start + BLOCK_S + MARGIN_S, seconds)
        if b - a < data.MIN_CLIP_S:  # a last sliver shorter than any clip: its frames are in the block before
            break
        x, found = analyse(data.load_audio(path, features.SR, a, b), config, stats)
        skip = int(round((start - a) * per_s))  # steps of the left margin
        piece = x[..., skip:skip + int(round(BLOCK_S * per_s))]  # (*shape, <= BLOCK_S * per_s)
        n = min(piece.shape[-1], whole.shape[-1] - filled)
        whole[..., filled:filled + n] = piece[..., :n]
        filled, n_blocks = filled + n, n_blocks + 1
        for warning in found:
            kind = warning.split(":")[0]
            counts[kind] = counts.get(kind, 0) + 1
            first_words.setdefault(kind, warning)
    kept = [f"{first_words[k]} (in {n} of {n_blocks} blocks of {BLOCK_S:.0f} s)" for k, n in counts.items() if 2 * n >= n_blocks]
    return whole[..., :filled], kept, seconds


def profile(model, config, y, device="cpu", batch_size=64):
    """What the model says about one waveform y (N,) float32 at 16 kHz -> ({task: (n_classes,) probabilities,
    or a value}, [warnings]): its features, every 4 s window, the windows' outputs averaged (mtl.predict),
    and what makes the answer unsure (analyse: short, quiet, clipped, band-limited, noisy, unfamiliar)."""
    x, found = analyse(y, config, norm_statistics(model))
    return outputs_of(model, config, x, device, batch_size), found


def profile_file(model, config, path, device="cpu", batch_size=64):
    """profile() of an audio file of any length -> (outputs, warnings, seconds); a file over half a minute is
    decoded and featurised a block at a time (read), so memory stays bounded. Any file name will do (openable)."""
    with openable(path) as readable:
        x, found, seconds = read(readable, config, norm_statistics(model))
    return outputs_of(model, config, x, device, batch_size), found, seconds


@contextlib.contextmanager
def openable(path):
    """`path` as libsndfile can open it: the path itself, or -- where the name cannot be encoded for the C library
    (bytes that are not UTF-8, from another system; any non-ASCII name under LANG=C) -- a link to the file with a
    plain name, in a private temporary folder removed afterwards. Errors about the link name `path` (shown)."""
    try:
        os.fspath(path).encode(sys.getfilesystemencoding())  # what soundfile does with a name, without an error handler
        plain = True
    except UnicodeEncodeError:
        plain = False
    if plain:
        yield path
        return
    folder = tempfile.mkdtemp(prefix="moksori-name-")
    suffix = Path(path).suffix if Path(path).suffix.isascii() else ""
    link = os.path.join(folder, "audio" + suffix)
    try:
        os.symlink(os.path.abspath(path), link)  # Python encodes the name losslessly; libsndfile sees only `link`
        yield link
    except data.AudioError as err:
        raise data.AudioError(str(err).replace(link, shown(path))) from None
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def outputs_of(model, config, x, device="cpu", batch_size=64):
    """The model's utterance-level outputs for one recording's features x (*input_shape, T) -> {task: output}."""
    import mtl  # torch: only once a model answers
    return {t: out[0] for t, out in mtl.predict(model, data.Features(config["input"], [x]), config["input"],
                                                     device, batch_size).items()}


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


def profile_row(path, config, outputs, warnings, seconds):
    """One CSV row of a profile: per task the top class, its probability and the runner-up (or the value), and
    the recording's warnings."""
    row = {"path": shown(path), "duration_s": f"{seconds:.2f}", "warnings": "; ".join(warnings)}
    for t in config["tasks"]:
        if config["vocabs"][t] is None:
            row[t] = f"{outputs[t]:.1f}"
            continue
        p, names = outputs[t], config["vocabs"][t]  # (n_classes,)
        first, second = (list(np.argsort(-p)[:2]) + [None])[:2]
        row.update({t: names[first], f"{t}_p": f"{p[first]:.2f}", f"{t}_next": "" if second is None else names[second],
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
        except (data.AudioError, ValueError, MemoryError, RuntimeError) as err:  # one line naming the file; the rest go on
            bad += 1
            if not skip_bad:
                name, problem = shown(path), shown(str(err).splitlines()[0] if str(err) else "?")
                rows.append({"path": name, "error": problem if name in problem else f"{name}: {problem}"})
    for row in rows:
        if row.get("error"):
            print(f"evaluate.py: error: {row['error']}", file=sys.stderr)
            continue
        print(f"{row['path']}: {float(row['duration_s']):.1f} s; {config['model']} on {config['input']}")
        for t in tasks:
            print(f"  {t:10} {row[t]:>6} years" if vocabs[t] is None else
                  f"  {t:10} {pad(row[t], 8)} {row[f'{t}_p']}   (next: {row[f'{t}_next']} {row[f'{t}_next_p']})")
        for warning in filter(None, row["warnings"].split("; ")):
            print(f"  warning: {warning}")
    if out_csv:
        header = ["path", "duration_s"] + [c for t in tasks for c in ((t,) if vocabs[t] is None else
                                                                       (t, f"{t}_p", f"{t}_next", f"{t}_next_p"))]
        text = io.StringIO(newline="")
        writer = csv.DictWriter(text, fieldnames=header + ["warnings", "error"], restval="")
        writer.writeheader()
        writer.writerows(rows)
        files.atomic_write_text(out_csv, text.getvalue())
        print(f"wrote {out_csv}: {len(rows)} rows" + (f", {bad} unreadable" if bad else ""))
    if bad and skip_bad:
        print(f"skipped {bad} unreadable file(s)", file=sys.stderr)
    return bad, len(paths)
