"""A source–filter voice synthesiser that makes a labelled multi-speaker corpus (the built-in corpus).

Each utterance is built the way the classic formant synthesisers build speech (Fant 1960; Klatt 1980):
    glottal pulses (Rosenberg 1971: jitter, shimmer, aspiration) -> a cascade of formant resonators (Klatt 1980)
    -> radiation at the lips (first difference) + consonant-like noise bursts + background noise at a random SNR,
in syllables (burst + vowel with formant transitions) grouped into accentual phrases with an intonation contour.
The labels (gender, age group, dialect) are *causes* of the speaker parameters, which overlap between classes, so no
cue is perfect: F0 and vocal-tract length follow gender; jitter, shimmer, breathiness, tremor and speaking rate
follow age; phrase contours, rhythm and small formant shifts follow the six AI Hub dialect groups (Jun 1993, 2005).
The parameter table with its sources is in docs/data.md ("The built-in corpus"); the values are in
speaker_params and DIALECT_STYLE below. One file on purpose: the tables and the signal chain that reads them belong
together, so that a change to a voice is one read.

    python -m pytest tests/test_synth.py
"""
import numpy as np
from scipy.signal import lfilter, sosfilt

GENDERS = ("female", "male")
AGES = ("20s", "30s", "40s", "50s", "60s")
DIALECTS = ("수도권", "강원", "충청", "전라", "경상", "제주")  # AI Hub dialect groups

SR = 16000            # Hz, the corpus sample rate (== features.SR)
BLOCK_S = 0.01        # s, formant-filter coefficient update interval (Klatt 1980 used 5 ms; 10 ms is
                      # the usual LPC-vocoder frame and halves the run time)
PEAK = 0.95           # full scale, peak level of every output waveform
MIN_UTTERANCE_S = 0.5  # s, shortest utterance that still holds one syllable
F0_UTTERANCE_SD = 0.02  # log-F0 sd (~ 2 %, 35 cents) of an utterance's mean F0 around the speaker's f0_hz

# Korean monophthongs, F1..F5 in Hz for an adult male (F1-F3 approximately Yang 1996, J. Phonetics 24;
# F4, F5 fixed). Rows: a, e, i, o, u, ɯ, ʌ.
VOWELS_HZ = np.array([
    [739, 1377, 2588, 3500, 4500],   # a
    [490, 1968, 2644, 3500, 4500],   # e (e/ɛ merged in present-day Korean)
    [341, 2219, 3047, 3600, 4500],   # i
    [398, 808, 2586, 3400, 4500],    # o
    [370, 979, 2350, 3400, 4500],    # u
    [405, 1488, 2497, 3500, 4500],   # ɯ
    [600, 1128, 2654, 3500, 4500],   # ʌ
], dtype=float)                      # (n_vowels, 5) Hz
EU, EO = 5, 6                        # row indices of ɯ and ʌ (Gyeongsang merges them)
BANDWIDTHS_HZ = np.array([60.0, 90.0, 150.0, 200.0, 250.0])  # Hz, B1..B5 (Klatt 1980, Table I range)
LOCUS_F2_HZ = np.array([900.0, 1700.0, 2100.0])  # Hz, F2 locus: labial, alveolar, velar (Delattre 1955)
BURST_HZ = np.array([1500.0, 4000.0, 2500.0])    # Hz, burst/frication peak per place (same order)

# Dialect style, mean over speakers (semitones unless stated). The contour of one accentual phrase, with p
# the position in the phrase from 0 to 1, is a sum of four shapes scaled by these heights (contour_st):
#   ap_rise: final H of the Seoul LHLH accentual phrase (Jun 1993, 2000);
#   accent:  a lexical pitch accent, H then a fall (Gyeongsang, and weaker in Yeongdong Gangwon; Kenstowicz
#            & Sohn 1997; Jun 2005);
#   final:   the phrase-final boundary movement, + rise / - fall (H% versus L%);
#   risefall: a rise-fall on the last syllables (the South Jeolla final HL contour; Jun 1993, 2005).
# rate: syllable-rate multiplier (Chungcheong speech is slower); final_len: final-syllable lengthening
# factor; dur_cv: spread of syllable durations (log-normal sd); range: pitch-range multiplier;
# f1, f2: vowel-formant scale; merge: fraction of ʌ moved towards ɯ (the Gyeongsang ʌ/ɯ merger).
# Each speaker adds N(0, 0.8) semitones to every contour height, +-1 % to f1 and f2, +-0.2 to merge and
# log-normal spreads to rate, final_len and dur_cv; each phrase rescales its contour by U(0.7, 1.3).
DIALECT_STYLE = {
    "수도권": dict(ap_rise=3.0, accent=0.0, final=2.0, risefall=0.0, rate=1.05, final_len=1.3, dur_cv=0.15,
                 range=1.0, f1=1.00, f2=1.00, merge=0.0),
    "강원": dict(ap_rise=1.5, accent=2.0, final=0.5, risefall=0.0, rate=1.00, final_len=1.4, dur_cv=0.2,
               range=1.0, f1=1.00, f2=0.98, merge=0.3),
    "충청": dict(ap_rise=1.0, accent=0.0, final=-0.5, risefall=1.0, rate=0.85, final_len=1.8, dur_cv=0.15,
               range=0.7, f1=1.03, f2=1.00, merge=0.0),
    "전라": dict(ap_rise=1.0, accent=0.5, final=0.0, risefall=3.5, rate=1.00, final_len=1.5, dur_cv=0.2,
               range=1.1, f1=1.00, f2=1.03, merge=0.0),
    "경상": dict(ap_rise=0.0, accent=4.5, final=-2.5, risefall=0.0, rate=1.10, final_len=1.2, dur_cv=0.28,
               range=1.3, f1=0.98, f2=1.00, merge=1.0),
    "제주": dict(ap_rise=0.5, accent=1.0, final=-1.5, risefall=1.5, rate=0.95, final_len=1.5, dur_cv=0.2,
               range=0.9, f1=1.04, f2=0.96, merge=0.2),
}


# ---------------------------------------------------------------- speakers
def speaker_params(gender, age, dialect, rng):
    """Draw one speaker's parameters (a dict of floats) given the labels; rng: np.random.Generator."""
    if gender not in GENDERS or age not in AGES or dialect not in DIALECTS:
        raise ValueError(f"unknown label ({gender!r}, {age!r}, {dialect!r}); expected one of "
                         f"{GENDERS}, {AGES}, {DIALECTS}")
    a, female, style = AGES.index(age), gender == "female", DIALECT_STYLE[dialect]  # a: 0 (20s) ... 4 (60s)
    lognormal = lambda sd: float(np.exp(sd * rng.standard_normal()))  # multiplicative spread, mean ~1
    f0 = (216.0 - 8.0 * a + 18.0 * rng.standard_normal() if female                              # Hz
          else 122.0 - 3.0 * a + 4.0 * max(0, a - 2) ** 1.5 + 14.0 * rng.standard_normal())  # Hz
    return dict(
        f0_hz=f0,
        vtl_scale=(1.17 if female else 1.0) + 0.045 * rng.standard_normal(),      # formant scale
        jitter=(0.004 + 0.0025 * a) * lognormal(0.25),                               # local jitter, fraction
        shimmer=(0.03 + 0.012 * a) * lognormal(0.25),                                # local shimmer, fraction
        breathiness=(0.05 + 0.04 * a) * (1.3 if female else 1.0) * lognormal(0.25),  # aspiration / flow
        tremor_st=0.1 * a * lognormal(0.4),                                      # semitones at 5 Hz
        syllable_rate_hz=(6.5 - 0.45 * a) * style["rate"] * lognormal(0.07),        # syllables / s
        range=style["range"] * lognormal(0.2),                                     # pitch-range multiplier
        declination_st=1.5 + 0.5 * rng.standard_normal(),                          # F0 fall over an utterance
        **{k: style[k] + 0.8 * rng.standard_normal() for k in ("ap_rise", "accent", "final", "risefall")},
        final_len=style["final_len"] * lognormal(0.1),
        dur_cv=style["dur_cv"] * lognormal(0.2),
        f1=style["f1"] + 0.01 * rng.standard_normal(),
        f2=style["f2"] + 0.01 * rng.standard_normal(),
        merge=float(np.clip(style["merge"] + 0.2 * rng.standard_normal(), 0.0, 1.0)),
    )


def label_grid_order(n_speakers, seed):
    """Labels for speakers 0..n-1: every prefix balanced, every 60 speakers cover the full grid once.

    Speaker i gets gender i % 2, age i % 5 and dialect (i + 3 * (i // 6)) % 6 (each run of six is a shift of
    0..5, and the shift flips parity every six speakers so that gender and dialect are not confounded),
    then each task's names are shuffled with `seed`. Guarantee: for every n, the counts of each gender,
    each age group and each dialect differ by at most 1; for n a multiple of 60 every one of the
    2 x 5 x 6 = 60 (gender, age, dialect) cells holds exactly n / 60 speakers.
    """
    rng = np.random.default_rng(seed)
    genders, ages, dialects = (list(rng.permutation(names)) for names in (GENDERS, AGES, DIALECTS))
    return [(str(genders[i % 2]), str(ages[i % 5]), str(dialects[(i + 3 * (i // 6)) % 6]))
            for i in range(n_speakers)]


def plan_corpus(n_speakers, seed):
    """The speakers of a corpus: list of dict(speaker="spk000", gender, age, dialect, params).

    Labels follow label_grid_order; speaker i's parameters come from its own generator
    np.random.default_rng([seed, i]), so adding speakers never changes the earlier ones.
    """
    if n_speakers < 1:
        raise ValueError(f"n_speakers must be >= 1, got {n_speakers}")
    return [dict(speaker=f"spk{i:03d}", gender=gender, age=age, dialect=dialect,
                 params=speaker_params(gender, age, dialect, np.random.default_rng([seed, i])))
            for i, (gender, age, dialect) in enumerate(label_grid_order(n_speakers, seed))]


# ---------------------------------------------------------------- utterance layout
def plan_syllables(params, rng, duration_s):
    """Lay out phrases of syllables in time: list of phrases, each a list of syllable dicts.

    A syllable is an optional consonant burst [c0, v0) then a vowel [v0, v1) (seconds), with a vowel index
    into VOWELS_HZ and a place of articulation (0 labial, 1 alveolar, 2 velar). Phrases of 3-6 syllables
    are separated by 0.12-0.35 s pauses; the last syllable of a phrase is lengthened by final_len.
    """
    t = rng.uniform(0.05, 0.25)                   # s, leading silence
    mean_syllable_s = 1.0 / params["syllable_rate_hz"]
    phrases = []
    while t < duration_s - 0.3:                   # s, room left for at least one more syllable
        phrase = []
        n_syllables = rng.integers(3, 7)
        for j in range(n_syllables):
            d = mean_syllable_s * np.exp(params["dur_cv"] * rng.standard_normal())  # s
            if j == n_syllables - 1:
                d *= params["final_len"]
            if t + d > duration_s - 0.05:         # s, keep a short trailing silence
                break
            c = d * rng.uniform(0.2, 0.4) if rng.random() < 0.7 else 0.0           # s, consonant part
            phrase.append(dict(c0=t, v0=t + c, v1=t + d, vowel=int(rng.integers(len(VOWELS_HZ))),
                               place=int(rng.integers(3))))
            t += d
        if phrase:
            phrases.append(phrase)
        t += rng.uniform(0.12, 0.35)              # s, pause
    return phrases


def contour_st(p, params, accent_pos, scale):
    """One accentual phrase's F0 contour in semitones at phrase positions p (n,) in [0, 1] -> (n,)."""
    ramp = lambda lo, hi: np.clip((p - lo) / (hi - lo), 0.0, 1.0)
    rise_then_fall = ramp(accent_pos - 0.12, accent_pos) - 1.5 * ramp(accent_pos, accent_pos + 0.15)
    st = (params["ap_rise"] * (ramp(0.6, 1.0) + 0.4 * np.sin(np.pi * ramp(0.0, 0.35)))  # L H ... L H
          + params["accent"] * rise_then_fall                                          # H L pitch accent
          + params["final"] * ramp(0.85, 1.0)                                          # boundary H% / L%
          + params["risefall"] * np.sin(np.pi * ramp(0.7, 1.0)))                       # final rise-fall
    return st * params["range"] * scale


def f0_track(params, phrases, rng, n, sr):
    """F0 in Hz for every sample (n,): speaker mean x phrase contours x declination x tremor."""
    t = np.arange(n) / sr                                     # (n,) s
    st = np.zeros(n)                                          # (n,) semitones re the speaker mean
    for phrase in phrases:
        i0, i1 = int(phrase[0]["c0"] * sr), int(phrase[-1]["v1"] * sr)
        p = (t[i0:i1] - t[i0]) / max(t[i1 - 1] - t[i0], 1e-3)  # (i1-i0,) position in phrase, 0..1
        st[i0:i1] = contour_st(p, params, rng.uniform(0.15, 0.55), rng.uniform(0.7, 1.3))
    st -= params["declination_st"] * (t / t[-1] - 0.5)       # declination, centred on the speaker mean
    st += params["tremor_st"] * np.sin(2 * np.pi * 5.0 * t + rng.uniform(0, 2 * np.pi))  # 5 Hz tremor
    f0_utt = params["f0_hz"] * np.exp(F0_UTTERANCE_SD * rng.standard_normal())  # Hz, this utterance's mean
    return f0_utt * 2.0 ** (st / 12.0)


def voicing_envelope(phrases, n, sr):
    """Amplitude envelope (n,) of the vowels: 1 inside, 15 ms raised-cosine on- and offsets, 0 elsewhere."""
    voiced = np.zeros(n)
    for syl in (s for phrase in phrases for s in phrase):
        v0, v1 = int(syl["v0"] * sr), int(syl["v1"] * sr)
        r = min(int(0.015 * sr), (v1 - v0) // 2)             # samples, length of each ramp
        w = np.ones(v1 - v0)
        w[:r] = w[len(w) - r:][::-1] = 0.5 - 0.5 * np.cos(np.pi * np.arange(r) / max(r, 1))
        voiced[v0:v1] = w
    return voiced


def consonant_bursts(params, phrases, rng, n, sr):
    """Unit-RMS noise bursts (n,) in the consonant parts: white noise through one Klatt resonator centred on
    the place's burst frequency (bandwidth 40 % of it), with a sharp onset and an exponential decay."""
    bursts = np.zeros(n)
    for syl in (s for phrase in phrases for s in phrase):
        c0, v0 = int(syl["c0"] * sr), int(syl["v0"] * sr)
        if v0 - c0 < 2:
            continue                                          # a vowel-initial syllable
        centre = min(BURST_HZ[syl["place"]] * params["vtl_scale"], 0.45 * sr)  # Hz
        sos = resonator_sos(np.array(centre), np.array(0.4 * centre), sr)[None]  # (1, 6)
        shaped = sosfilt(sos, rng.standard_normal(v0 - c0))
        decay = np.exp(-np.arange(v0 - c0) / (0.3 * (v0 - c0)))  # falls to 3.6 % by the vowel onset
        bursts[c0:v0] = decay * shaped / np.sqrt(np.mean(shaped ** 2))
    return bursts


def formant_tracks(params, phrases, n_blocks, sr):
    """F1..F5 in Hz at the centre of every BLOCK_S block -> (5, n_blocks), with CV transitions."""
    vowels = VOWELS_HZ * params["vtl_scale"]                  # (n_vowels, 5) Hz
    vowels[EO] += params["merge"] * (vowels[EU] - vowels[EO])  # ʌ towards ɯ
    vowels[:, :2] *= [params["f1"], params["f2"]]            # F1, F2 scaled by the dialect
    times, values = [0.0], [vowels[5]]                        # start from a neutral ɯ-like tract
    for syl in (s for phrase in phrases for s in phrase):
        target = vowels[syl["vowel"]]                         # (5,) Hz
        onset = target.copy()
        if syl["v0"] > syl["c0"]:                             # transition out of a consonant closure
            onset[0] *= 0.6                                   # F1 rises from the closure (Stevens 1998)
            onset[1] += 0.5 * (LOCUS_F2_HZ[syl["place"]] * params["vtl_scale"] - target[1])
        times += [syl["v0"], syl["v0"] + 0.35 * (syl["v1"] - syl["v0"]), syl["v1"]]
        values += [onset, target, target]
    block_t = (np.arange(n_blocks) + 0.5) * BLOCK_S           # (n_blocks,) s
    values = np.array(values)                                 # (n_knots, 5) Hz
    tracks = np.stack([np.interp(block_t, times, values[:, k]) for k in range(5)])  # (5, n_blocks)
    return np.minimum(tracks, 0.45 * sr)                      # keep every pole below Nyquist


# ---------------------------------------------------------------- source and filter
def rosenberg_pulse(phase, open_quotient):
    """Glottal flow over one period (Rosenberg 1971, type C); phase (n,) in [0, 1) cycles -> (n,) in [0, 1].

    Opening over Tp = 0.7 OQ: 0.5 (1 - cos(pi phase / Tp)); closing over Tn = 0.3 OQ:
    cos(pi (phase - Tp) / (2 Tn)); closed (0) for the rest of the period.
    """
    tp, tn = 0.7 * open_quotient, 0.3 * open_quotient
    opening = 0.5 * (1 - np.cos(np.pi * phase / tp))
    closing = np.cos(np.pi * (phase - tp) / (2 * tn))
    return np.where(phase < tp, opening, np.where(phase < tp + tn, closing, 0.0))


def glottal_source(f0_hz, params, rng, sr):
    """Glottal flow (n,) for an F0 track (n,) Hz, with per-period jitter and shimmer and aspiration noise.

    Jitter and shimmer are i.i.d. Gaussian per-period perturbations of the period and amplitude with
    sd = local value / 1.128 (the mean |difference| of two such draws is 1.128 sd).
    """
    n_periods = int(np.sum(f0_hz) / sr * 1.2) + 8             # upper bound on the number of periods
    period_scale = 1.0 + params["jitter"] / 1.128 * rng.standard_normal(n_periods)
    k0 = (np.cumsum(f0_hz) / sr).astype(int)                  # (n,) period index before jitter
    phase = np.cumsum(f0_hz / period_scale[k0]) / sr          # (n,) cycles, jittered
    k = np.minimum(phase.astype(int), n_periods - 1)          # (n,) period index
    amplitude = 1.0 + params["shimmer"] / 1.128 * rng.standard_normal(n_periods)
    open_quotient = np.clip(0.55 + 0.8 * params["breathiness"], 0.4, 0.9)  # breathy voice opens longer
    flow = rosenberg_pulse(phase - k, open_quotient) * amplitude[k]
    noise = lfilter([1.0], [1.0, -0.9], rng.standard_normal(len(f0_hz)))  # -6 dB/oct like Klatt's noise LPF
    open_phase = (phase - k) < open_quotient                  # aspiration is louder while the glottis is open
    aspiration = params["breathiness"] * 0.15 * noise * (0.4 + 0.6 * open_phase)
    return flow + aspiration


def resonator_sos(freq_hz, bw_hz, sr):
    """Klatt (1980) digital resonator y[n] = A x[n] + B y[n-1] + C y[n-2] as SOS rows (..., 6).

    C = -exp(-2 pi BW T), B = 2 exp(-pi BW T) cos(2 pi F T), A = 1 - B - C (unit gain at 0 Hz), T = 1/sr.
    """
    T = 1.0 / sr
    C = -np.exp(-2 * np.pi * bw_hz * T)
    B = 2 * np.exp(-np.pi * bw_hz * T) * np.cos(2 * np.pi * freq_hz * T)
    A, B, C = np.broadcast_arrays(1 - B - C, B, C)
    return np.stack([A, 0 * A, 0 * A, 1 + 0 * A, -B, -C], axis=-1)


def formant_filter(source, tracks, sr):
    """Pass source (n,) through the cascade of resonators F1..F5 whose frequencies follow tracks (5, n_blocks).

    The five Klatt resonators in cascade multiply into one all-pole filter of order 10,
    y[n] = g x[n] - a_1 y[n-1] - ... - a_10 y[n-10], with a(z) the product of the five denominators and
    g the product of their gains. The coefficients change every BLOCK_S seconds; at each change the
    lfilter state is rebuilt from the last 10 outputs (z = -H a-Hankel @ past outputs), so the recursion
    runs on as if it had never stopped (the direct-form I behaviour of an LPC synthesiser).
    """
    block = int(round(BLOCK_S * sr))                          # samples per block
    sos = resonator_sos(tracks.T, BANDWIDTHS_HZ, sr)          # (n_blocks, 5, 6): rows [A 0 0 1 -B -C]
    n_blocks, order = tracks.shape[1], 2 * tracks.shape[0]    # 10 poles
    gain = np.prod(sos[:, :, 0], axis=1)                      # (n_blocks,) product of the A's
    a = np.ones((n_blocks, 1))
    for k in range(tracks.shape[0]):                          # multiply the quadratics 1 - B z^-1 - C z^-2
        quadratic = sos[:, k, 3:]                             # (n_blocks, 3)
        product = np.zeros((n_blocks, a.shape[1] + 2))
        for j in range(3):
            product[:, j:j + a.shape[1]] += quadratic[:, j:j + 1] * a
        a = product                                           # (n_blocks, 2k + 3)
    i_plus_j = np.add.outer(np.arange(order), np.arange(order))               # (10, 10)
    hankel = np.where(i_plus_j < order, a[:, 1 + np.minimum(i_plus_j, order - 1)], 0.0)  # (n_blocks, 10, 10)
    padded = np.concatenate([np.zeros(order), source])        # (order + n,) zeros = the silent past
    out = np.zeros_like(padded)
    has_input = np.add.reduceat(np.abs(source), np.arange(0, len(source), block)) > 0  # (n_blocks,)
    # a block is computed if its input or one of the 3 blocks before is non-zero: 30 ms of ringing
    # decays by exp(-pi B1 0.03 s) < -40 dB with B1 = 60 Hz, so the silent rest is left at zero
    active = np.convolve(has_input, np.ones(4), mode="full")[:n_blocks] > 0
    for b in np.flatnonzero(active):
        start = order + b * block                             # index of the block's first sample in padded
        past = out[start - order:start][::-1]                 # (10,) y[n-1], y[n-2], ..., y[n-10]
        out[start:start + block], _ = lfilter(gain[b:b + 1], a[b], padded[start:start + block],
                                              zi=-hankel[b] @ past)
    return out[order:]


def background_noise(n, rng):
    """Unit-RMS noise (n,) with a random spectral slope between white (0) and pink-brown (-4.5 dB/oct)."""
    spectrum = np.fft.rfft(rng.standard_normal(n))
    freqs = np.maximum(np.arange(len(spectrum)), 1.0)         # bins, guard the 0 Hz bin against 1/0
    noise = np.fft.irfft(spectrum * freqs ** -rng.uniform(0.0, 0.75), n)
    return noise / np.sqrt(np.mean(noise ** 2))


# ---------------------------------------------------------------- one utterance
def synthesize_utterance(params, seed, sr=SR, duration_s=4.0, snr_db=None):
    """One utterance of the speaker `params` -> float32 (round(duration_s * sr),) with peak PEAK (<= 1).

    Deterministic given (params, seed): every random draw comes from np.random.default_rng(seed).
    snr_db: background noise level in dB re the speech power; None draws it uniformly from 10-30 dB.
    """
    if duration_s < MIN_UTTERANCE_S:
        raise ValueError(f"duration_s must be >= {MIN_UTTERANCE_S} s, got {duration_s}")
    if sr < 8000:
        raise ValueError(f"sr must be >= 8000 Hz, got {sr}")
    rng = np.random.default_rng(seed)
    n, block = int(round(duration_s * sr)), int(round(BLOCK_S * sr))  # samples: the utterance, one block
    phrases = plan_syllables(params, rng, duration_s)
    voiced = voicing_envelope(phrases, n, sr)                 # (n,) 0..1
    f0 = f0_track(params, phrases, rng, n, sr)                # (n,) Hz
    source = glottal_source(f0, params, rng, sr) * voiced     # (n,) glottal flow, vowels only
    n_blocks = -(-n // block)                                 # ceil
    vowels = formant_filter(source, formant_tracks(params, phrases, n_blocks, sr), sr)
    vowels = np.diff(vowels, prepend=0.0)                     # lip radiation: first difference
    speech_rms = np.sqrt(np.mean(vowels[voiced > 0.5] ** 2)) if np.any(voiced > 0.5) else 1.0
    bursts = consonant_bursts(params, phrases, rng, n, sr)   # (n,)
    speech = vowels / speech_rms + 0.3 * bursts               # bursts ~10 dB below the vowels
    snr = rng.uniform(10.0, 30.0) if snr_db is None else snr_db  # dB
    active = np.mean(speech[voiced > 0.5] ** 2) if np.any(voiced > 0.5) else 1.0
    y = speech + np.sqrt(active / 10 ** (snr / 10)) * background_noise(n, rng)
    return (PEAK * y / np.max(np.abs(y))).astype(np.float32)
