"""PSOLA -- a pitch shift that keeps the formants, and a change of vocal effort (course side road; augmentations).

TD-PSOLA, time-domain pitch-synchronous overlap-add (Moulines & Charpentier 1990, "Pitch-synchronous waveform
processing techniques for text-to-speech synthesis using diphones", Speech Communication 9: 453-467):

    pitch_marks     one mark per glottal cycle where YIN (formants.voicing) calls the frame voiced, at the
                    waveform's peak near one period after the last mark; every 10 ms elsewhere
    grains          around each mark, two periods of the signal under a Hann window; the windows are divided by
                    their sum, so that the grains of a clip add back up to the clip exactly
    psola           lay the voiced grains out again one period / factor apart (factor = 2^(semitones / 12)),
                    each taken from the analysis mark nearest in time; unvoiced grains go back where they were
    pitch_shift     the three above, for a shift in semitones; same length, same level
    high_shelf      a first-order shelving filter: the spectral tilt of vocal effort
    vocal_effort    level, spectral tilt and F0 raised (amount > 0) or lowered (amount < 0) together

Why TD-PSOLA rather than LPC analysis -> resample the residual -> LPC synthesis: a grain two periods long holds
one response of the vocal tract to one glottal pulse, so re-spacing the grains changes the pulse rate (F0) and
leaves each response, and so the formants, as it was -- with no filter to estimate, interpolate between frames or
keep stable, and no residual whose resampling changes the clip's length and would then need a time-scale step of
its own. Its artefacts (grains repeated or dropped, a rougher periodicity: YIN calls fewer frames of real speech
voiced after a 6-semitone shift) grow with the shift; for augmentation within a few semitones it is the simplest
method that keeps F1 and F2 where they were (tests/test_psola.py measures both).

As augmentations, both functions never fail on a valid waveform: silence, noise, a single sample -- any clip
without a voiced stretch of 30 ms -- comes back unchanged (vocal_effort then changes only level and tilt); the
output is finite and has the input's length and float dtype. Peaks: the whole output is scaled down -- a gain,
never a clipper -- when its peak would exceed max(PEAK_LIMIT, the input's own peak). Bad input (integers, 2-D,
NaN or infinite samples, an amount out of range) raises ValueError.

    python -m pytest tests/test_psola.py
"""
import numpy as np
import scipy.signal

import formants

MIN_VOICED_FRAMES = 3  # 10 ms frames: shorter voiced runs (YIN's stray decisions in noise) are left unvoiced
PEAK_LIMIT = 0.99  # full scale: the largest peak an output may reach unless the input's own peak is higher
# Vocal effort, per unit of `amount` (Traunmüller & Eriksson 2000, J. Acoust. Soc. Am. 107: 3438-3451: as speakers
# raise their voices to reach a listener further away, level, F0 and the weight of the upper spectrum rise together).
LEVEL_DB_PER_UNIT = 6.0  # dB: about one step of ANSI S3.5-1997's speech levels (normal, raised, loud, shout)
SEMITONES_PER_DB = 0.4  # F0 rose about 12 semitones (doubled) for about 30 dB of level (Andersson, Eriksson &
#   Traunmüller 1996, the pilot of the 2000 study), i.e. 2.4 semitones per unit
TILT_DB_PER_DB = 0.5  # dB the band above 1 kHz gains on the band below, per dB of level: the alpha ratio spans
#   12-19 dB over 28 dB of loudness (Nordenberg & Sundberg 2004, Logopedics Phoniatrics Vocology 29: 183-191)
SHELF_HZ = 1000.0  # Hz: the shelf's corner, where the alpha ratio splits the spectrum
AMOUNT_RANGE = (-2.0, 2.0)  # units: vocal_effort accepts -2..2 (±12 dB, ±4.8 semitones)


def pitch_marks(y, sr):
    """Analysis marks: one per glottal cycle in voiced stretches, one every 10 ms in the rest.

    Voicing and period come from formants.voicing (f0.yin, 10 ms frames; voiced runs shorter than
    MIN_VOICED_FRAMES are dropped). In a voiced stretch the first mark is the waveform's largest peak within one
    period, and each next mark the largest peak within a quarter period of one period after the last (the peak's
    polarity is the clip's: its larger extreme, positive or negative), so marks lock onto the glottal pulses.
    y: (N,) float64 waveform.  sr: sample rate in Hz.
    Returns (marks (K,) int samples, periods (K,) float samples -- YIN's period at a voiced mark, 10 ms at an
    unvoiced one -- , voiced (K,) bool).

    >>> y = np.zeros(16000); y[40::100] = 1.0  # 1 s of a 160 Hz pulse train, first pulse at sample 40
    >>> marks, periods, voiced = pitch_marks(y, 16000)
    >>> marks[:3].tolist(), np.round(periods[:3], 2).tolist(), bool(voiced.all())
    ([40, 140, 240], [100.0, 100.0, 100.0], True)
    """
    N = len(y)
    hop = int(round(formants.HOP_S * sr))  # samples per 10 ms frame
    f0_hz, voiced_frames = formants.voicing(y, sr)  # (T,), (T,)
    runs = np.flatnonzero(np.diff(np.concatenate([[0], voiced_frames.astype(int), [0]])))  # (2R,) run starts, ends
    for start, stop in zip(runs[::2], runs[1::2]):
        if stop - start < MIN_VOICED_FRAMES:
            voiced_frames[start:stop] = False
    period = sr / f0_hz  # (T,) samples, fractional
    polarity = 1.0 if y.max() >= -y.min() else -1.0  # search the clip's larger extreme
    rows, pos, last_voiced = [], 0, False  # rows: (mark, period, voiced)
    while pos < N:
        t = min(len(voiced_frames) - 1, int(round(pos / hop)))  # the frame that holds sample pos
        if voiced_frames[t]:
            P = float(period[t])
            reach = int(round(P / 4))  # samples
            lo, hi = (pos - reach, pos + reach + 1) if last_voiced else (pos, pos + int(round(P)))  # the pulse's range
            lo, hi = max(lo, 0), min(hi, N)
            mark = lo + int(np.argmax(polarity * y[lo:hi])) if hi > lo else pos
            if rows and mark <= rows[-1][0]:
                mark = rows[-1][0] + 1  # marks must rise
            rows.append((mark, P, True))
            pos, last_voiced = mark + int(round(P)), True
        else:
            rows.append((pos, float(hop), False))
            pos, last_voiced = pos + hop, False
    marks, periods, voiced = zip(*rows)
    return np.array(marks, dtype=int), np.array(periods, dtype=np.float64), np.array(voiced, dtype=bool)


def grains(y, marks, periods):
    """Cut one grain per mark: y[m − P .. m + P] times a Hann window of 2P + 1 samples (P = the period rounded to
    whole samples), each window divided by the sum of all windows at that sample, so that overlap-adding the
    grains at their own marks gives y back exactly.

    y: (N,) waveform.  marks, periods: (K,) samples, from pitch_marks.
    Returns a list of K arrays, grain k of shape (2 P_k + 1,) and centred on its mark (zeros beyond y).

    >>> y, marks = np.arange(1.0, 11.0), np.array([2, 5, 8])
    >>> cut = grains(y, marks, np.array([3.0, 3.0, 3.0]))  # three grains of 7 samples
    >>> out = np.zeros(16)  # y with 3 zeros on either side
    >>> for m, grain in zip(marks, cut):
    ...     out[m: m + 7] += grain  # grain k covers y[m − 3 .. m + 3], i.e. out[m .. m + 6]
    >>> np.round(out[3:13], 6)
    array([ 1.,  2.,  3.,  4.,  5.,  6.,  7.,  8.,  9., 10.])
    """
    half = np.round(periods).astype(int)  # (K,) samples: each grain's half-length
    pad = int(half.max())
    padded = np.pad(np.asarray(y, dtype=np.float64), pad)  # (N + 2 pad,) zeros beyond both ends
    windows = [np.hanning(2 * P + 1) if P > 0 else np.ones(1) for P in half]  # Hann, 0 at both ends
    total = np.zeros(len(padded))  # (N + 2 pad,) the sum of every window at every sample
    for m, P, w in zip(marks, half, windows):
        total[pad + m - P: pad + m + P + 1] += w
    total[total == 0] = 1.0  # a sample no window reaches stays as it is (the window is 0 there anyway)
    return [padded[pad + m - P: pad + m + P + 1] * w / total[pad + m - P: pad + m + P + 1]
            for m, P, w in zip(marks, half, windows)]


def psola(y, marks, periods, voiced, factor):
    """Overlap-add the grains at new marks: F0 times `factor`; duration and level unchanged.

    Unvoiced grains go back to their own marks. In each voiced stretch (a run of voiced marks) synthesis marks
    start at its first mark and step by P / factor, P the period at the nearest analysis mark, whose grain is laid
    there. factor times as many grains per second would change the stretch's energy, so the moved stretch is scaled
    to the energy of its grains laid back where they came from.
    y: (N,) waveform.  marks, periods, voiced: (K,) from pitch_marks.  factor: the F0 ratio (> 0).
    Returns (N,) float64.

    >>> y = np.random.default_rng(0).standard_normal(1000)
    >>> marks, periods = np.arange(0, 1000, 100), np.full(10, 100.0)
    >>> bool(np.abs(psola(y, marks, periods, np.zeros(10, bool), 1.5) - y).max() < 1e-12)  # nothing voiced
    True
    """
    N = len(y)
    cut = grains(y, marks, periods)  # K grains
    half = np.round(periods).astype(int)  # (K,) samples: each grain's half-length
    pad = int(half.max())
    out = np.zeros(N + 2 * pad)  # (N + 2 pad,) sample n of y is out[pad + n]
    for k in np.flatnonzero(~voiced):
        out[pad + marks[k] - half[k]: pad + marks[k] + half[k] + 1] += cut[k]
    edges = np.flatnonzero(np.diff(np.concatenate([[0], voiced.astype(int), [0]])))  # (2R,) voiced runs' ends
    for first, last in zip(edges[::2], edges[1::2] - 1):  # one voiced stretch: marks first..last
        stretch = marks[first:last + 1]  # (S,) samples
        origin = marks[first] - pad  # sample where the stretch's buffers start: every grain fits after it
        span = marks[last] + pad + 1 - origin  # samples
        kept, moved = np.zeros(span), np.zeros(span)  # (span,) the stretch as it was, and re-spaced
        for k in range(first, last + 1):
            at = marks[k] - half[k] - origin
            kept[at: at + 2 * half[k] + 1] += cut[k]
        t = float(marks[first])  # samples: the synthesis mark
        while t <= marks[last]:
            k = first + int(np.argmin(np.abs(stretch - t)))  # the analysis mark nearest in time
            at = int(round(t)) - half[k] - origin
            moved[at: at + 2 * half[k] + 1] += cut[k]
            t += periods[k] / factor
        energy = np.sum(moved ** 2)
        gain = np.sqrt(np.sum(kept ** 2) / energy) if energy > 0 else 1.0
        out[pad + origin: pad + origin + span] += gain * moved
    return out[pad: pad + N]


def limit_peak(out, y):
    """out scaled down (a gain, not a clipper) if its peak exceeds max(PEAK_LIMIT, the peak of y); else out.

    out: (N,) the processed waveform.  y: (N,) the input it came from.  Returns (N,).

    >>> limit_peak(np.array([0.5, -1.5]), np.array([0.2, 0.1])), limit_peak(np.array([0.5, -1.5]), np.array([2.0]))
    (array([ 0.33, -0.99]), array([ 0.5, -1.5]))
    """
    ceiling = max(PEAK_LIMIT, float(np.max(np.abs(y))))
    peak = float(np.max(np.abs(out)))
    return out * (ceiling / peak) if peak > ceiling else out


def checked(y, who):
    """y as an array, checked once at the boundary: a float mono waveform of finite samples, else ValueError
    naming `who`. y: (N,) waveform (N may be 0).  Returns y as a NumPy array, not copied.

    >>> checked([0.0, 0.5], "demo").dtype
    dtype('float64')
    """
    y = np.asarray(y)
    if y.ndim != 1 or not np.issubdtype(y.dtype, np.floating):
        raise ValueError(f"{who}: expected a float mono waveform of shape (N,), got {y.dtype} of shape {y.shape}")
    if not np.isfinite(y).all():
        raise ValueError(f"{who}: the waveform holds {int((~np.isfinite(y)).sum())} NaN or infinite samples")
    return y


def pitch_shift(y, sr, semitones):
    """Shift F0 by `semitones` (12 · log2 of the F0 ratio) by TD-PSOLA; formants, duration and level stay.

    y: (N,) float waveform.  sr: sample rate in Hz.  semitones: the shift (finite; negative = down).
    Returns (N,), y's dtype. Unvoiced stretches come back unchanged; a clip with no voiced stretch of at least
    MIN_VOICED_FRAMES (silence, noise, a few samples) comes back unchanged as a whole.

    >>> t = np.arange(8000) / 16000.0  # 0.5 s of a 150 Hz pulse-like tone
    >>> y = (0.3 * np.cos(2 * np.pi * 150.0 * t) ** 20).astype(np.float32)
    >>> shifted = pitch_shift(y, 16000, 12.0)
    >>> f0_hz, voiced = formants.voicing(shifted, 16000)
    >>> shifted.shape, shifted.dtype, round(float(np.median(f0_hz[voiced])))
    ((8000,), dtype('float32'), 300)
    """
    y = checked(y, "pitch_shift")
    if not np.isfinite(semitones):
        raise ValueError(f"pitch_shift: semitones must be finite, got {semitones}")
    if semitones == 0 or y.size == 0:
        return y.copy()
    x = y.astype(np.float64)  # (N,)
    marks, periods, voiced = pitch_marks(x, sr)  # (K,), (K,), (K,)
    if not voiced.any():
        return y.copy()
    out = psola(x, marks, periods, voiced, 2.0 ** (semitones / 12.0))  # (N,)
    return limit_peak(out, x).astype(y.dtype)


def high_shelf(y, sr, gain_db, corner_hz=SHELF_HZ):
    """First-order high shelf: 0 dB at 0 Hz, gain_db at high frequencies, gain_db / 2 at corner_hz.

    Analog prototype H(s) = g (s + ω_c / √g) / (s + ω_c √g), g = 10^(gain_db / 20): its zero and pole sit a
    factor g apart around ω_c = 2π corner_hz, so H(0) = 1, H(∞) = g and |H(iω_c)| = √g; made digital by the
    bilinear transform, pre-warped at corner_hz. y: (N,) waveform.  sr: Hz.  gain_db: dB.  corner_hz: Hz.
    Returns (N,) float64.

    >>> t = np.arange(16000) / 16000.0  # 1 s
    >>> tones = [high_shelf(np.sin(2 * np.pi * f * t), 16000, 6.0) for f in (50.0, 1000.0, 7000.0)]
    >>> [round(float(10 * np.log10(np.mean(s[1000:] ** 2) / 0.5)), 1) for s in tones]  # gain in dB
    [0.0, 3.0, 6.0]
    """
    g = 10.0 ** (gain_db / 20.0)
    w_c = 2.0 * sr * np.tan(np.pi * corner_hz / sr)  # rad/s, pre-warped so the corner lands on corner_hz
    b, a = scipy.signal.bilinear([g, g * w_c / np.sqrt(g)], [1.0, w_c * np.sqrt(g)], fs=sr)
    return scipy.signal.lfilter(b, a, np.asarray(y, dtype=np.float64))


def vocal_effort(y, sr, amount):
    """Vocal effort raised (amount > 0) or lowered (amount < 0): level, spectral tilt and F0 move together.

    Per unit of amount: level + LEVEL_DB_PER_UNIT = 6 dB (a plain gain); the band above SHELF_HZ = 1 kHz
    + TILT_DB_PER_DB · 6 = 3 dB more (high_shelf, a flatter spectral tilt); F0 + SEMITONES_PER_DB · 6 = 2.4
    semitones (pitch_shift). So amount = 1 is about "raised" from "normal" voice, −1 the way back.
    y: (N,) float waveform.  sr: sample rate in Hz.  amount: in AMOUNT_RANGE, −2..2 (0 = unchanged).
    Returns (N,), y's dtype; peaks limited as the module docstring says.

    >>> y = (0.1 * np.random.default_rng(0).standard_normal(16000)).astype(np.float32)  # noise: no F0 to move
    >>> louder = vocal_effort(y, 16000, 1.0)
    >>> gain_db = 10 * np.log10(np.mean(louder.astype(float) ** 2) / np.mean(y.astype(float) ** 2))
    >>> louder.dtype, round(float(gain_db), 1)  # 6 dB, and about 1.5 dB more from the shelf on white noise
    (dtype('float32'), 7.5)
    """
    y = checked(y, "vocal_effort")
    if not (np.isfinite(amount) and AMOUNT_RANGE[0] <= amount <= AMOUNT_RANGE[1]):
        raise ValueError(f"vocal_effort: amount must lie in {AMOUNT_RANGE[0]}..{AMOUNT_RANGE[1]}, got {amount}")
    if amount == 0 or y.size == 0:
        return y.copy()
    level_db = LEVEL_DB_PER_UNIT * amount  # dB
    x = pitch_shift(y.astype(np.float64), sr, SEMITONES_PER_DB * level_db)  # (N,) F0 moved
    x = high_shelf(x, sr, TILT_DB_PER_DB * level_db)  # (N,) upper spectrum moved
    x = x * 10.0 ** (level_db / 20.0)  # (N,) level moved
    return limit_peak(x, y).astype(y.dtype)
