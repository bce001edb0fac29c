"""The front end in pictures -- every step from one recording's waveform to the model input, as PNGs.

Every figure is drawn from the arrays the models use, computed by the project's own functions (mel.py, mfcc.py,
f0.py, features.py; formants.py for the vocal tract), never by a second implementation: extras/explain_arrays.py
computes them and checks that its pieces add up to them (`analyse`); this module draws them.

    python -m extras.explain my_voice.flac --out figures/mine    # any rate, mono or stereo (data.load_audio)
    python -m extras.explain --builtin --out figures/en          # the committed figures: built-in clip spk000_00
    python -m extras.explain --builtin --lang ko --out figures/ko   # Korean labels (needs a Hangul font)
    python -m pytest tests/test_explain.py

Writes 1_waveform.png, 2_frame.png, 3_mel_filterbank.png, 4_features.png, 5_yin.png, 6_f0_track.png,
7_model_input.png, 8_lpc_envelope.png and 9_formant_tracks.png. matplotlib is needed (pip install matplotlib);
labels and titles live in explain_text.py.
"""
import argparse
import sys
from pathlib import Path

import numpy as np

import data
import formants
import mel
from extras import plots
from extras.explain_arrays import FIRST_FRAME_S, FMAX_HZ, analyse, builtin_clip
from extras.explain_text import TEXT
from features import (F0_FMAX, FMIN, HOP_LENGTH, N_FFT, N_MELS_MFCC, N_MFCC, SR, WIN_LENGTH, YIN_FRAME_LENGTH,
                      YIN_THRESHOLD)

SPECTRUM_TOP_HZ = 1000.0  # Hz: top of the spectrogram under the F0 track (F0 and its first harmonics)
PRAAT_RANGE_DB = 50.0  # dB: figure 9's grey spectrogram spans 50 dB below its loudest cell, as Praat draws it


# ---------------------------------------------------------------- 1. the figures
def fig_waveform(a, s, plt):
    """1: the whole waveform, and a zoom on frame t: its 25 ms window and the 10 ms hop to the next frame."""
    y, t = a["y"], a["t"]
    fig, (top, zoom) = plt.subplots(2, 1, figsize=(9, 5.5), layout="constrained")
    top.plot(np.arange(len(y)) / SR, y, lw=0.4, color="0.3")
    centre = t * HOP_LENGTH  # sample at the centre of frame t (centred frames)
    lo, hi = max(0, centre - 2 * HOP_LENGTH), min(len(y), centre + 4 * HOP_LENGTH)  # samples in the zoom
    top.axvspan(lo / SR, hi / SR, color="C1", alpha=0.3)
    top.set(title=s["wave_title"].format(name=a["name"]), xlabel=s["time_s"], ylabel=s["amplitude"])
    zoom.plot(np.arange(lo, hi) / SR, y[lo:hi], lw=0.8, color="0.3")
    peak = float(np.abs(y[lo:hi]).max()) or 1.0
    hann = mel.hann_window(WIN_LENGTH, WIN_LENGTH)  # (400,) the window without its zero padding
    for k, colour in ((0, "C0"), (1, "C3")):  # frame t and frame t + 1
        start = (t + k) * HOP_LENGTH - WIN_LENGTH // 2  # first sample under the window
        zoom.plot((start + np.arange(WIN_LENGTH)) / SR, peak * hann, color=colour, ls="--",
                  label=s["window_of"].format(t=t + k))
    start = centre - WIN_LENGTH // 2  # first sample under frame t's window
    zoom.axvspan(start / SR, (start + WIN_LENGTH) / SR, color="C0", alpha=0.12)
    for first, n, height, key in ((start, WIN_LENGTH, 1.15, "window_len"), (centre, HOP_LENGTH, -1.15, "hop_len")):
        zoom.annotate("", ((first + n) / SR, height * peak), (first / SR, height * peak),
                      arrowprops=dict(arrowstyle="<->", color="k"))  # a double arrow over n samples
        zoom.text((first + n / 2) / SR, 1.05 * height * peak, s[key].format(ms=1000 * n / SR, n=n), ha="center",
                  va="bottom" if height > 0 else "top")
    zoom.set(ylim=(-1.7 * peak, 1.7 * peak), xlabel=s["time_s"], ylabel=s["amplitude"])
    zoom.legend(loc="upper right", fontsize=8)
    return fig


def fig_frame(a, s, plt):
    """2: frame t's samples, the Hann window, their product, and its power spectrum in dB."""
    t, segment, window = a["t"], a["segment"], a["window"]
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(9, 5.5), layout="constrained")
    ms = 1000 * (np.arange(N_FFT) - N_FFT // 2) / SR  # (N_FFT,) ms from the frame centre
    peak = float(np.abs(segment).max()) or 1.0
    top.plot(ms, segment, color="0.6", lw=0.8, label=s["frame_samples"].format(n=N_FFT))
    top.plot(ms, peak * window, color="C1", ls="--", label=s["hann"].format(n=WIN_LENGTH))
    top.plot(ms, segment * window, color="C0", lw=1.0, label=s["windowed"])
    top.set(title=s["frame_title"].format(t=t, s=t * HOP_LENGTH / SR), xlabel=s["ms_from_centre"],
            ylabel=s["amplitude"])
    top.legend(loc="upper right", fontsize=8)
    hz = mel.fft_frequencies(SR, N_FFT)  # (F,) Hz
    bottom.plot(hz, mel.power_to_db(a["power"][:, t]), color="C0", lw=0.9)
    if a["voiced"][t]:
        bottom.axvline(a["f0_hz"][t], color="C3", ls=":", label=s["f0_line"].format(hz=a["f0_hz"][t]))
        bottom.legend(loc="upper right", fontsize=8)
    bottom.set(title=s["spectrum_title"].format(n=N_FFT, bin=SR / N_FFT), xlabel=s["freq_hz"],
               ylabel=s["power_db"], xlim=(0, SR / 2))
    return fig


def fig_filterbank(a, s, plt):
    """3: the 40 mel triangles over frame t's spectrum, and the 40 band energies they give (dB)."""
    t, filters = a["t"], a["filters"]
    hz = mel.fft_frequencies(SR, N_FFT)  # (F,) Hz
    centres = mel.mel_frequencies(N_MELS_MFCC + 2, FMIN, FMAX_HZ)[1:-1]  # (40,) Hz, the triangles' peaks
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(9, 6), layout="constrained", sharex=True)
    top.plot(hz, mel.power_to_db(a["power"][:, t]), color="0.6", lw=0.8)
    top.set(title=s["fb_title"].format(n=N_MELS_MFCC, t=t), ylabel=s["power_db"])
    weights = top.twinx()
    for i, row in enumerate(filters):  # (F,) one triangle, alternating colours
        weights.plot(hz, row, color=f"C{i % 2}", lw=0.9)
    weights.set(ylabel=s["weight"], ylim=(0, 1.05 * filters.max()))
    bottom.stem(centres, a["log_mel"][:, t], basefmt=" ", bottom=float(a["log_mel"].min()))
    bottom.set(title=s["bands_title"], xlabel=s["freq_hz"], ylabel=s["log_mel_db"], xlim=(0, SR / 2))
    return fig


def _image(ax, values, label, fig, extent, cmap="magma", scale_rows=slice(None)):
    """One (rows, T) array as an image, row 0 at the bottom, with a labelled colour bar. cmap "coolwarm" is
    centred on 0, its range set by the 99th percentile of |values[scale_rows]| (rows outside may run off it)."""
    vmax = float(np.percentile(np.abs(values[scale_rows]), 99)) if cmap == "coolwarm" else None
    image = ax.imshow(values, origin="lower", aspect="auto", interpolation="nearest", extent=extent, cmap=cmap,
                      vmin=-vmax if vmax else None, vmax=vmax)
    fig.colorbar(image, ax=ax, pad=0.01).set_label(label)


def fig_features(a, s, plt):
    """4: the log-mel spectrogram, the 13 MFCCs, their deltas and their delta-deltas, frame t marked."""
    T, x = a["T"], a["x"]
    extent = (-0.5 * HOP_LENGTH / SR, (T - 0.5) * HOP_LENGTH / SR)  # s: frame k spans k ± hop/2
    fig, axes = plt.subplots(4, 1, figsize=(9, 9), layout="constrained", sharex=True)
    _image(axes[0], a["log_mel"], s["db"], fig, extent + (-0.5, N_MELS_MFCC - 0.5))
    panels = [(x[0, :N_MFCC], s["mfcc_unit"], slice(1, None)),  # c0 (loudness) is off the scale of c1..c12
              (x[1, :N_MFCC], s["delta_unit"], slice(None)), (x[2, :N_MFCC], s["dd_unit"], slice(None))]
    for ax, (values, unit, rows) in zip(axes[1:], panels):
        _image(ax, values, unit, fig, extent + (-0.5, N_MFCC - 0.5), cmap="coolwarm", scale_rows=rows)
        ax.set(yticks=range(0, N_MFCC, 2))
    for ax, title, ylabel, colour in zip(axes, s["feature_titles"], s["feature_ylabels"], "wkkk"):
        ax.axvline(a["t"] * HOP_LENGTH / SR, color=colour, lw=0.8, ls="--")  # frame t of figures 2, 3, 5
        ax.set(title=title, ylabel=ylabel)
    axes[-1].set(xlabel=s["time_s"])
    return fig


def fig_yin(a, s, plt):
    """5: YIN on frame t: d(τ) (eq. 6), d′(τ) (eq. 8) with the threshold, the searched lags and the chosen lag."""
    yin, t = a["yin"], a["t"]
    lags = np.arange(len(yin["d"]))  # (max_lag + 1,) samples
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(9, 5.5), layout="constrained", sharex=True)
    top.plot(lags, yin["d"], color="C0")
    top.set(title=s["yin_d_title"].format(t=t, s=t * HOP_LENGTH / SR, n=YIN_FRAME_LENGTH), ylabel=s["d_unit"])
    bottom.plot(lags, yin["d_prime"], color="C0")
    bottom.axhline(YIN_THRESHOLD, color="C2", ls="--", label=s["threshold"].format(v=YIN_THRESHOLD))
    for ax in (top, bottom):
        ax.axvspan(0, yin["min_lag"], color="0.85")  # lags shorter than the period of F0_FMAX: not searched
        ax.axvline(yin["lag"], color="C3", lw=1.2)
    verdict = s["voiced" if yin["voiced"] else "unvoiced"]
    bottom.plot([], [], color="C3", label=s["chosen"].format(lag=yin["lag"], hz=SR / yin["lag"], verdict=verdict))
    bottom.plot([], [], color="0.85", lw=6, label=s["not_searched"].format(lo=yin["min_lag"], hz=F0_FMAX))
    bottom.set(title=s["yin_dp_title"], xlabel=s["lag"], ylabel=s["d_prime"], xlim=(0, yin["max_lag"]))
    bottom.legend(loc="best", fontsize=8)
    return fig


def _low_band(ax, power, top_hz, cmap="magma", range_db=None):
    """The spectrogram power (F, T) from 0 to top_hz Hz, in dB, as an image over time (s) and frequency (Hz)
    -> the image, for its colour bar. Bin k spans k·sr/n_fft ± half a bin, frame t spans t·hop ± half a hop.
    range_db: the colours span this many dB below the loudest cell shown (None: all of it)."""
    times = np.arange(power.shape[1]) * HOP_LENGTH / SR  # (T,) s
    top_bin = int(top_hz * N_FFT / SR) + 1  # rows 0..top_bin-1 reach top_hz
    extent = (times[0] - HOP_LENGTH / SR / 2, times[-1] + HOP_LENGTH / SR / 2,
              -SR / N_FFT / 2, (top_bin - 0.5) * SR / N_FFT)  # s, Hz
    db = mel.power_to_db(power)[:top_bin]  # (top_bin, T) dB
    return ax.imshow(db, origin="lower", aspect="auto", interpolation="nearest", extent=extent, cmap=cmap,
                     vmin=db.max() - range_db if range_db else None)


def fig_f0_track(a, s, plt):
    """6: the F0 track (voiced frames) over the spectrogram's low band, and the F0 row the model gets."""
    times = np.arange(a["T"]) * HOP_LENGTH / SR  # (T,) s
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(9, 6), layout="constrained", sharex=True)
    image = _low_band(top, a["power"], SPECTRUM_TOP_HZ)
    fig.colorbar(image, ax=[top, bottom], pad=0.01).set_label(s["power_db"])  # one bar: both panels equally wide
    top.plot(times, np.where(a["voiced"], a["f0_hz"], np.nan), color="c", lw=1.5, label=s["f0_yin"])
    top.set(title=s["f0_title"].format(hz=SPECTRUM_TOP_HZ), ylabel=s["freq_hz"])
    top.legend(loc="upper right", fontsize=8)
    bottom.plot(times, a["x"][0, N_MFCC], color="C0", lw=1.0)
    bottom.set(title=s["f0_row_title"], xlabel=s["time_s"], ylabel=s["semitones"])
    return fig


def fig_model_input(a, s, plt):
    """7: the mfcc_f0 input of the first model window, [3, 14, 400], one panel per channel."""
    window = a["model_window"]  # (3, 14, 400)
    C, F, L = window.shape  # channels, feature rows, frames
    fig, axes = plt.subplots(C, 1, figsize=(9, 8), layout="constrained", sharex=True)
    rows = [f"c{k}" for k in range(N_MFCC)] + ["F0"]
    for ax, values, title, scale_rows in zip(axes, window, s["channel_titles"], (slice(1, None), slice(None),
                                                                                  slice(None))):
        _image(ax, values, s["channel_unit"], fig, (-0.5, L - 0.5, -0.5, F - 0.5), cmap="coolwarm",
               scale_rows=scale_rows)  # channel 0: c0 (loudness) is off the scale of c1..c12 and F0
        ticks = list(range(0, F - 1, 2)) + [F - 1]  # c0, c2, ..., c12 and the F0 row
        ax.set(title=title, yticks=ticks, yticklabels=[rows[k] for k in ticks], ylabel=s["row"])
    fig.suptitle(s["input_title"].format(C=C, F=F, L=L, s=L * HOP_LENGTH / SR))
    axes[-1].set(xlabel=s["frames"])
    return fig


def fig_lpc_envelope(a, s, plt):
    """8: frame t as LPC sees it -- its power spectrum, the all-pole envelope E / |A(f)|² over it (both in dB, one
    scale), and formants.formants' F1..F4 of that frame marked (none where it is unvoiced or silent)."""
    lpc, t = a["lpc"], a["t"]
    fig, ax = plt.subplots(figsize=(9, 4.5), layout="constrained")
    spectrum_db, envelope_db = mel.power_to_db(np.stack([lpc["spectrum"], lpc["envelope"]]))  # (2, F) dB, 80 dB deep
    ax.plot(lpc["hz"], spectrum_db, color="0.6", lw=0.8,
            label=s["lpc_spectrum"].format(hz=formants.PRE_EMPHASIS_HZ, ms=2000 * formants.WINDOW_S))
    ax.plot(lpc["hz"], envelope_db, color="C0", lw=1.6, label=s["lpc_envelope"].format(p=formants.ORDER))
    marked = a["formants_hz"][:, t]  # (4,) Hz, formants.formants on frame t
    for i, hz in enumerate(marked):
        if np.isfinite(hz):
            ax.axvline(hz, color=f"C{i + 1}", ls="--", lw=1.2, label=s["formant_line"].format(i=i + 1, hz=hz))
    if not np.isfinite(marked).any():
        ax.plot([], [], " ", label=s["no_formants"].format(t=t))
    voiceless = np.isnan(lpc["f0_median_hz"])  # no voiced frame: Praat's default ceiling
    ax.plot([], [], " ", label=s["ceiling_default" if voiceless else "ceiling_note"].format(
        hz=lpc["ceiling_hz"], f0=lpc["f0_median_hz"]))
    ax.set(title=s["lpc_title"].format(t=t, s=t * HOP_LENGTH / SR, p=formants.ORDER, sr=lpc["sr_lpc"],
                                       ceiling=lpc["ceiling_hz"]),
           xlabel=s["freq_hz"], ylabel=s["power_db"], xlim=(0, lpc["ceiling_hz"]))
    ax.legend(loc="lower right", fontsize=8)
    return fig


def fig_formant_tracks(a, s, plt):
    """9: F1..F4 over the spectrogram up to the ceiling (gaps: unvoiced or silent frames), frame t marked; below,
    each frame's vocal-tract length from its formant spacing and the clip's median, the length in the title."""
    T, tracks, cm = a["T"], a["formants_hz"], a["vtl_clip_cm"]
    times = np.arange(T) * HOP_LENGTH / SR  # (T,) s
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(9, 6), layout="constrained", sharex=True)
    image = _low_band(top, a["power"], a["lpc"]["ceiling_hz"], cmap="Greys", range_db=PRAAT_RANGE_DB)
    fig.colorbar(image, ax=[top, bottom], pad=0.01).set_label(s["power_db"])
    for i, track in enumerate(tracks):  # (T,) Hz, NaN breaks the line
        top.plot(times, track, color=f"C{i + 1}", lw=1.5, label=f"F{i + 1}")
    top.axvline(a["t"] * HOP_LENGTH / SR, color="C0", lw=0.8, ls="--")  # frame t of figure 8
    title = s["tracks_title"].format(cm=cm) if np.isfinite(cm) else s["tracks_title_none"]
    top.set(title=title, ylabel=s["freq_hz"])
    top.legend(loc="upper right", fontsize=8, ncols=4)
    bottom.plot(times, a["vtl_cm"], color="C0", lw=1.0, marker=".", ms=2)  # dots: single frames show too
    if np.isfinite(cm):
        n = int(np.isfinite(a["vtl_cm"]).sum())  # frames with F1..F4
        bottom.axhline(cm, color="C3", ls="--", label=s["vtl_median"].format(cm=cm, n=n))
        bottom.legend(loc="upper right", fontsize=8)
    bottom.set(title=s["vtl_title"], xlabel=s["time_s"], ylabel=s["length_cm"])
    return fig


FIGURES = {"1_waveform": fig_waveform, "2_frame": fig_frame, "3_mel_filterbank": fig_filterbank,
           "4_features": fig_features, "5_yin": fig_yin, "6_f0_track": fig_f0_track,
           "7_model_input": fig_model_input, "8_lpc_envelope": fig_lpc_envelope,
           "9_formant_tracks": fig_formant_tracks}


def draw_all(a, out_dir, lang, font, plt):
    """Draw every figure of FIGURES into out_dir/<name>.png with the labels of `lang` -> list of paths."""
    rc = {"font.family": [font, "DejaVu Sans"]} if font else {}  # DejaVu Sans: the glyphs `font` lacks
    paths = [Path(out_dir) / f"{name}.png" for name in FIGURES]
    with plt.rc_context(rc):
        for path, draw in zip(paths, FIGURES.values()):
            plots.save(draw(a, TEXT[lang], plt), path)
    return paths


# ---------------------------------------------------------------- 2. the command line
def main(argv=None):
    parser = argparse.ArgumentParser(description="Draw every step of the front end for one recording.")
    parser.add_argument("wav", nargs="?", help="a recording (WAV/FLAC/MP3..., any rate, mono or stereo)")
    parser.add_argument("--builtin", action="store_true", help="use the built-in corpus's first clip instead")
    parser.add_argument("--out", required=True, help="folder for the PNG files (created)")
    parser.add_argument("--lang", default="en", choices=tuple(TEXT), help="label language (default en)")
    parser.add_argument("--frame-s", type=float, help="time in s of the frame in figures 2, 3, 5 and 8 "
                        f"(default: the first voiced frame after {FIRST_FRAME_S} s)")
    args = parser.parse_args(argv)
    if bool(args.wav) == args.builtin:
        parser.error("give one recording, or --builtin")
    if args.frame_s is not None and not args.frame_s >= 0:
        parser.error(f"--frame-s must be a time >= 0 s, got {args.frame_s}")
    try:
        # the whole file is decoded (data.load_audio: DECODE_BLOCK samples at a time, each block mixed to mono)
        y, name = builtin_clip() if args.builtin else (data.load_audio(args.wav), Path(args.wav).name)
        plt = plots.pyplot()  # after the recording, so a bad file is named even without matplotlib
    except ValueError as err:  # no matplotlib (plots.pyplot); a missing, unreadable or empty file (AudioError)
        print(f"explain.py: error: {err}", file=sys.stderr)
        return 2
    last_s = (len(y) // HOP_LENGTH) * HOP_LENGTH / SR  # s: centre of the last frame
    if args.frame_s is not None and args.frame_s > last_s:
        print(f"explain.py: error: --frame-s {args.frame_s} s lies outside the clip (0 .. {last_s:.2f} s)",
              file=sys.stderr)
        return 2
    a = analyse(y, args.frame_s)
    if args.frame_s is None and not a["voiced"].any():
        print("explain.py: warning: YIN calls no frame voiced; showing the middle frame", file=sys.stderr)
    font = plots.hangul_font() if args.lang == "ko" else None
    if args.lang == "ko" and font is None:
        print("explain.py: warning: no font with Hangul found (apt-get install fonts-nanum); "
              "drawing English labels", file=sys.stderr)
        args.lang = "en"
    a["name"] = name if font else plots.romanize(name)  # the dialect in Hangul only where it can be drawn
    written = draw_all(a, args.out, args.lang, font, plt)
    print(f"{name}: frame {a['t']} at {a['t'] * HOP_LENGTH / SR:.2f} s; wrote {len(written)} figures to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
