"""Stress: one run's profiles on clean clips, on the same clips under each condition a profile meets in use, and on
groups of the clean clips -- the table beside scale/loco.py's. The headline is the worst cell, not the mean.

Each clip is read once (data.load_audio, 16 kHz mono), changed by each condition in memory, and heard as the run
hears any recording: denoised if it was trained with --denoise, then features.extract of its input. A condition's
randomness comes from a generator seeded by (--seed, the clip's index, the condition's family), so a rerun gives
the same numbers and the three levels of one family differ only in level (one babble track, one noise, three SNRs).
Each cell is scored by scale/loco.profiler_scores: gender accuracy on adults (age_years 18 and up, or, for a clip
without one, an adult age group: RAVDESS's actors), adults called adults, age MAE beside the training median's.
`--clips` clips are drawn from the split, stratified by gender, emotion and language family.

    clean            the clips as recorded
    babble20/10/5    3 other speakers' clips of the same set, summed (extras/augment.babble), at 20, 10, 5 dB SNR
    pink20/10/5      pink noise (power ~ 1/f, extras/channel.add_noise) at 20, 10, 5 dB SNR
    brown20/10/5     brown noise (power ~ 1/f^2: rumble, under F0 and the first formant) at 20, 10, 5 dB SNR
    telephone        300-3,400 Hz through an 8 kHz line (channel.telephone)
    mp3              MP3 at 32 kbit/s and back (channel.codec_round_trip); Ogg Vorbis where libsndfile lacks MP3
    cut1s/2s/4s/8s   the first 1, 2, 4, 8 s; a clip shorter than that is left out of the cell, and counted
    groups           the clean clips by `emotion` x gender (RAVDESS) and by `language_family` (Common Voice)
A cell with fewer than MIN_CELL_CLIPS adults' clips is shown, marked (few), and not used for the headline.

    python -m scale.stress runs/a --manifest ravdess.csv --split all --out runs/a/stress.json
    python -m scale.stress --table default=runs/a/stress.json pitch=runs/b/stress.json   # a markdown table
    python -m pytest tests/test_stress.py
"""
import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # as train.py: one BLAS thread, set before numpy loads

import argparse  # noqa: E402 -- after the environment line above, on purpose
import json
import math
import sys
import warnings
import zlib
from collections import defaultdict
from pathlib import Path

import numpy as np
import soundfile as sf

import data
import features
import metrics
from extras import augment, channel
from scale.workers import report_skipped
from scale import loco, runs

SR = features.SR  # Hz: every condition is applied at the rate the features are computed at
SNRS_DB = (20, 10, 5)  # dB: the mixing levels of babble and noise
NOISES = ("pink", "brown")  # extras/channel.NOISE_COLOURS: a hiss-to-rumble pair; white is one name away
CUTS_S = (1, 2, 4, 8)  # seconds kept from the start of a clip
MP3_KBIT_S = 32  # kbit/s, constant bit rate
CODEC = "mp3" if "MP3" in sf.available_formats() else "ogg"  # libsndfile >= 1.1 built with LAME and mpg123
BABBLE_POOL = 40  # clips of the sample that the babble talkers are drawn from (read once, kept in memory)
BABBLE_POOL_S = 8.0  # seconds kept of each pool clip (babble loops a short one)
PREDICT_BATCH = 128  # versions of clips per call of the model: full batches of windows, a few MB of features
MIN_CELL_CLIPS = 20  # adults' clips: a smaller cell is shown and marked, never the headline
GROUPS = (("emotion", "gender"), ("language_family",))  # manifest columns whose values group the clean clips
SCORES = {"gender_adults": "gender (adults)", "adults_as_adults": "adults as adults"}  # the headline's, as headed

CODEC_NAME = (f"MP3 at {MP3_KBIT_S} kbit/s" if CODEC == "mp3" else
              "Ogg Vorbis at its lowest quality (this libsndfile has no MP3)")
CONDITIONS = {"clean": "clean",
              **{f"babble{snr}": f"babble ({augment.BABBLE_TALKERS} talkers), {snr} dB SNR" for snr in SNRS_DB},
              **{f"{colour}{snr}": f"{colour} noise, {snr} dB SNR" for colour in NOISES for snr in SNRS_DB},
              "telephone": "telephone band (300-3,400 Hz, 8 kHz)", "mp3": CODEC_NAME,
              **{f"cut{s}s": f"the first {s} s" for s in CUTS_S}}  # name -> what the table calls it


def family(name):
    """The condition's family, which seeds its generator: "babble10" -> "babble", "pink5" -> "pink"."""
    return name.rstrip("0123456789") if name.startswith(("babble", *NOISES)) else name


def degrade(y, name, rng, talkers):
    """Clip y (N,) float32 at SR Hz under condition `name` -> (M,) float32, or None where it cannot apply (a clip
    shorter than the cut, no other talker for babble). talkers: other speakers' clips [(K,) float32]."""
    if name == "clean":
        return y
    if name.startswith("babble"):
        snr_db = float(name[len("babble"):])
        return augment.mix_at_snr(y, augment.babble(talkers, len(y)), snr_db) if talkers else None
    if name.startswith(NOISES):
        return channel.add_noise(y, rng, float(name[len(family(name)):]), family(name))  # "pink10": 10 dB
    if name == "telephone":
        return channel.telephone(y, SR)
    if name == "mp3":
        return channel.codec_round_trip(y, SR, CODEC, MP3_KBIT_S)
    n = int(float(name[3:-1]) * SR)  # "cut2s" -> samples
    return y[:n] if len(y) >= n else None


def sample(rows, n, seed):
    """Up to n rows, drawn with a seeded generator and stratified: each stratum (gender x emotion x language
    family, where the manifest has them) keeps its share of the draw (largest remainders) -> rows, manifest order."""
    if len(rows) <= n:
        return list(rows)
    strata = defaultdict(list)  # (gender, emotion, language family) -> row indices
    for i, row in enumerate(rows):
        strata[tuple(row.get(c, "") for c in ("gender", "emotion", "language_family"))].append(i)
    keys = sorted(strata)
    share = np.array([len(strata[k]) for k in keys]) * n / len(rows)  # (S,) clips each stratum is owed
    take = np.floor(share).astype(int)
    take[np.argsort(-(share - take), kind="stable")[: n - take.sum()]] += 1  # the largest remainders
    rng = np.random.default_rng(seed)
    chosen = [i for k, m in zip(keys, take) for i in rng.choice(strata[k], size=m, replace=False)]
    return [rows[i] for i in sorted(chosen)]


def pick_talkers(pool, speaker, rng, n=augment.BABBLE_TALKERS):
    """Up to n clips of the pool [(speaker, y)], drawn with rng, each of a speaker other than `speaker` and than
    each other's."""
    chosen, seen = [], {speaker}
    for k in rng.permutation(len(pool)):
        if pool[k][0] not in seen and len(chosen) < n:
            chosen.append(pool[k][1])
            seen.add(pool[k][0])
    return chosen


def babble_pool(rows, names, seed):
    """[(speaker, the first BABBLE_POOL_S seconds of a clip)] of BABBLE_POOL clips of rows, drawn with seed: the
    talkers of babble (none when no babble condition is asked for)."""
    wanted = BABBLE_POOL if any(family(name) == "babble" for name in names) else 0
    clips = [(rows[k]["speaker"], heard(rows[k])) for k in np.random.default_rng(seed).permutation(len(rows))[:wanted]]
    return [(speaker, y[: int(BABBLE_POOL_S * SR)]) for speaker, y in clips if y is not None]


def versions(y, i, speaker, names, seed, pool, config):
    """Clip i (y, (N,) at SR Hz) under each condition, as the run hears it -> {name: features (*shape, T)}; a
    condition that cannot apply (degrade gives None) is absent."""
    from extras.denoise import denoise  # as data.clip_features, for a run trained on denoised audio (--denoise)
    heard_as = {}
    for name in names:
        rng = np.random.default_rng([seed, i, zlib.crc32(family(name).encode())])  # the same on every rerun
        z = degrade(y, name, rng, pick_talkers(pool, speaker, rng) if family(name) == "babble" else [])
        if z is not None:
            heard_as[name] = features.extract(denoise(z, SR) if config.get("denoise") else z, SR, config["input"])
    return heard_as


def stress(config, predictor, median, rows, names, seed):
    """Every clip of rows under each condition of `names`, scored -> (cells {name: scores}, skipped [(path, why)]).
    config, predictor: a run's (scale/ensemble.load_member); median: its training clips' median age in years.

    Per clip: read once, degraded under every condition, its features computed; the model is called on
    PREDICT_BATCH versions at a time; per condition, loco.profiler_scores over the clips it kept. The group cells
    are parts of "clean"."""
    pool = babble_pool(rows, names, seed)
    kept, skipped = {name: [] for name in names}, []  # name -> [(row, {task: its output on this clip})]
    waiting = []  # [(row, condition, features)]: versions for the model's next call
    for i, row in enumerate(rows):
        y = heard(row, skipped)
        if y is not None:
            waiting += [(row, name, x) for name, x in versions(y, i, row["speaker"], names, seed, pool, config).items()]
        if waiting and (len(waiting) >= PREDICT_BATCH or i == len(rows) - 1):
            outputs = predictor(data.Features(config["input"], [x for _, _, x in waiting]))  # {task: (B, K) or (B,)}
            for b, (waited, name, _) in enumerate(waiting):
                kept[name].append((waited, {task: value[b] for task, value in outputs.items()}))
            waiting = []
    report_skipped(skipped, len(rows))
    n_read = len(rows) - len(skipped)
    cells = {name: {**scored(kept[name], config["vocabs"], median), "left_out": n_read - len(kept[name])}
             for name in names}
    for columns in GROUPS if "clean" in names else ():
        by = defaultdict(list)  # "angry, male" -> [(row, outputs)]
        for row, out in kept["clean"]:
            if all(row.get(c) for c in columns):
                by[", ".join(row[c] for c in columns)].append((row, out))
        cells.update({f"{columns[0]}: {value}": {**scored(by[value], config["vocabs"], median), "left_out": 0}
                      for value in sorted(by)})
    return cells, skipped


def heard(row, skipped=None):
    """A row's clip at SR Hz (N,) float32, or None if unreadable (then listed in `skipped`, if given)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a nearly silent clip is still scored
            return data.load_audio(row["path"], SR, *data.segment(row))
    except data.AudioError as err:
        (skipped if skipped is not None else []).append((row["path"], str(err).splitlines()[0]))
        return None


def scored(pairs, vocabs, median):
    """loco.profiler_scores of [(row, {task: output of one clip})] -> scores (clips 0: NaN scores). Adults known
    by their age group alone (loco.is_adult) count among the adults; the age MAE is over the clips with age_years."""
    if not pairs:
        return {"clips": 0, "adult_clips": 0, **{k: math.nan for k in (*SCORES, "age_mae", "median_mae")}}
    outputs = {task: np.stack([out[task] for _, out in pairs]) for task in pairs[0][1]}  # (n, K) or (n,)
    return loco.profiler_scores(outputs, [row for row, _ in pairs], vocabs, median)


def worst(cells, score):
    """{"cell", "value"} of the lowest `score` among cells with MIN_CELL_CLIPS adults' clips or more, else None."""
    fit = [(v[score], name) for name, v in cells.items()
           if v["adult_clips"] >= MIN_CELL_CLIPS and not math.isnan(v.get(score, math.nan))]
    return None if not fit else dict(zip(("value", "cell"), min(fit, key=lambda t: t[0])))


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        if argv[:1] == ["--table"]:  # python -m scale.stress --table NAME=stress.json ...
            pairs = [a.split("=", 1) if "=" in a else (Path(a).stem, a) for a in argv[1:]]
            print(markdown([p for _, p in pairs], [n for n, _ in pairs]))
            return 0
        return command(argv)
    except (OSError, ValueError) as err:  # a missing run folder or manifest, a bad checkpoint, a foreign JSON
        print(f"stress: error: {str(err).splitlines()[0] if str(err) else type(err).__name__}", file=sys.stderr)
        return 2


def command(argv):
    """The command: arguments checked, clips drawn, every condition scored, the table printed (and written)."""
    parser = argparse.ArgumentParser(prog="python -m scale.stress", description="A run's profiles on clean clips and "
                                     "under each condition a profile meets; the headline is the worst cell.")
    flag = parser.add_argument
    flag("run", help="a run folder (train.py's, or extras/baseline.py's)")
    flag("--manifest", required=True, help="the clips: a manifest with genders, and ages (age_years or age groups)")
    flag("--split", default="test", choices=("test", "all"), help="its clips scored (default test; all: every row, "
         "for a corpus the run never trained on)")
    flag("--clips", type=int, default=400, help="clips drawn from the split, stratified by gender, emotion and "
         "language family (default 400)")
    flag("--seed", type=int, default=0, help="seeds the draw and every condition (default 0)")
    flag("--conditions", default=",".join(CONDITIONS), help=f"comma-separated, of {', '.join(CONDITIONS)} (default "
         "all; the groups come with clean)")
    flag("--out", help="also write the table here as JSON, for --table")
    args = parser.parse_args(argv)
    names = list(dict.fromkeys(n.strip() for n in args.conditions.split(",") if n.strip()))
    unknown = [n for n in names if n not in CONDITIONS]
    if unknown or not names:
        parser.error(f"{f'unknown condition {unknown[0]!r}' if unknown else '--conditions names none'}; expected "
                     f"some of {', '.join(CONDITIONS)}")
    if args.clips < 1 or args.seed < 0:
        parser.error(f"--clips must be 1 or more and --seed 0 or more, got {args.clips} and {args.seed}")
    if args.out:  # new, or a stress JSON of this command: never a run's files, a folder or a FIFO
        from corpora.text import check_output
        check_output(args.out, "{", "stress JSON")
        if Path(args.out).is_file():
            read_table(args.out, f"{args.out} exists and is not a stress JSON; it is not replaced: choose another name")
    rows = data.read_manifest(args.manifest)
    pool = [r for r in rows if args.split == "all" or r["split"] == args.split]
    needs = {"a gender": lambda r: r.get("gender"),  # what the table scores: gender, on adults
             "an adult's age (age_years 18 or more, or an adult age group)": loco.is_adult}
    for wanted, has in needs.items():
        if not any(has(r) for r in pool):
            raise ValueError(f"{args.manifest}: no clip of the {args.split} split has {wanted}"
                             f"{'; try --split all' if args.split != 'all' else ''}")
    from scale import ensemble  # the run: train.py's model, or the baseline's linear models
    config, predictor = ensemble.load_member(args.run, "cpu", 64)
    median = loco.train_median(args.run)
    train = [r for r in data.read_manifest(Path(args.run) / "manifest.csv") if r["split"] == "train"]
    chosen, trained = sample(pool, args.clips, args.seed), {r["path"] for r in train}
    if any(r["path"] in trained for r in chosen):
        print(f"warning: {sum(r['path'] in trained for r in chosen)} of the {len(chosen)} clips were in {args.run}'s "
              "training split: not a held-out score", file=sys.stderr)
    cells, skipped = stress(config, predictor, median, chosen, names, args.seed)
    rounded = lambda v: v if isinstance(v, (int, str)) else metrics.rounded(v, 6)  # noqa: E731  (NaN: null; 3 shown)
    table = {"table": "stress", "run": str(args.run), "manifest": str(args.manifest), "split": args.split,
             "seed": args.seed, "of": len(pool), "sampled": len(chosen), "scored": len(chosen) - len(skipped),
             "codec": CODEC_NAME, "min_cell_clips": MIN_CELL_CLIPS,
             "cells": {name: {"what": CONDITIONS.get(name, name), **{k: rounded(x) for k, x in v.items()}}
                       for name, v in cells.items()},
             "worst": {score: worst(cells, score) for score in SCORES}}
    print(f"{args.run} on {args.manifest} ({args.split}): {table['scored']} clips scored of {len(chosen)} drawn "
          f"from {len(pool)} (seed {args.seed}); {CODEC_NAME}")
    for name, v in cells.items():
        print(f"{name:24} {loco.fmt(v)}" + (f"  left out {v['left_out']}" if v["left_out"] else "") +
              (" (few)" if v["adult_clips"] < MIN_CELL_CLIPS else ""))
    for score, w in table["worst"].items():
        print(f"worst {SCORES[score]}: " + (f"{w['value']:.3f} in {w['cell']}" if w else
                                           f"none (no cell has {MIN_CELL_CLIPS} adults' clips)"))
    if args.out:
        table["worst"] = {k: w and {"cell": w["cell"], "value": rounded(w["value"])} for k, w in table["worst"].items()}
        runs.save_json(table, args.out)
        print(f"wrote {args.out}")
    return 0


def read_table(path, problem=None):
    """A stress JSON (this command's --out) -> dict; ValueError naming the file (or saying `problem`) if not one."""
    def number(v):
        return v is None or isinstance(v, (int, float))
    try:
        table = json.loads(Path(path).read_text(encoding="utf-8"))
        cells, worst_of = table["cells"], table["worst"]
        fits = table["table"] == "stress" and all(isinstance(table[k], str) for k in ("manifest", "split")) and all(
            isinstance(table[k], int) for k in ("seed", "of", "sampled", "scored", "min_cell_clips")) and all(
            isinstance(c["what"], str) and isinstance(c["clips"], int) and isinstance(c["adult_clips"], int) and
            all(number(c.get(k)) for k in (*SCORES, "age_mae", "median_mae", "left_out")) for c in cells.values()) and \
            all(w is None or (w["cell"] in cells and number(w["value"])) for w in worst_of.values())
    except (ValueError, KeyError, TypeError, AttributeError, UnicodeDecodeError):  # not JSON, or not this shape
        fits = False
    if not fits:
        raise ValueError(problem or f"{path}: not a stress JSON (python -m scale.stress ... --out)")
    return table


def markdown(paths, names):
    """The README's table from stress JSON files: one row per cell (and per file, when several), the worst cell
    of each file's gender (adults) and adults as adults in bold; a cell under min_cell_clips adults marked (few)."""
    tables = [read_table(p) for p in paths]
    many = len(tables) > 1  # then a model column
    lines = ["| condition |" + " model |" * many + " clips | gender (adults) | adults as adults | age MAE (median) |",
             "|---|" + "---|" * many + "---|---|---|---|"]
    for cell in dict.fromkeys(c for t in tables for c in t["cells"]):
        for k, (table, name) in enumerate((t, n) for t, n in zip(tables, names) if cell in t["cells"]):
            v, bold = table["cells"][cell], {s for s, w in table["worst"].items() if w and w["cell"] == cell}
            shown = {key: ("–" if v.get(key) is None else f"{v[key]:.{3 if key in SCORES else 1}f}")
                     for key in (*SCORES, "age_mae", "median_mae")}  # "–": no score in this cell
            shown.update({key: f"**{shown[key]}**" for key in bold})
            clips = f"{v['clips']:,}" + (f" ({v['left_out']} left out)" if v.get("left_out") else "") + \
                (" (few)" if v["adult_clips"] < table["min_cell_clips"] else "")
            lines.append(f"| {'' if k else v['what']} |" + f" {name} |" * many + f" {clips} | {shown['gender_adults']} "
                         f"| {shown['adults_as_adults']} | {shown['age_mae']} ({shown['median_mae']}) |")
    for table, name in zip(tables, names):
        said = "; ".join(f"{SCORES[s]} {w['value']:.3f} in {table['cells'][w['cell']]['what']}"
                         for s, w in table["worst"].items() if w) or "none"
        lines.append(f"\n{name}: {table['scored']:,} clips of {Path(table['manifest']).name} ({table['split']}; "
                     f"{table['sampled']:,} drawn of {table['of']:,}, seed {table['seed']}). Worst cell: {said}. "
                     f"(few): under {table['min_cell_clips']} adults' clips, not used for the worst cell.")
    return "\n".join(lines)


if __name__ == "__main__":
    import torch  # the model's share of the work is small: one thread, not a pool spinning beside the features
    torch.set_num_threads(1)
    sys.exit(main())
