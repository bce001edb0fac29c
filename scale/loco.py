"""Leave one corpus out: how well a recipe travels to recordings it has never heard.

For a manifest of several corpora (`python -m corpora merge`, its `corpus` column), each corpus in turn is left out:
a model is trained on the others (train.py with the flags given after --) and scored on every clip of the one left
out; beside it, the in-corpus score (trained on all corpora, scored on each corpus's own test split), and the classic
baseline (extras/baseline.py) trained the same way. Corpora named with --also (say, Korean read speech, kept for
evaluation only) are scored by every model. The scores are the ones a profiler lives by:

    gender (adults)   accuracy on the clips of speakers aged 18 and up (gender is a voice's F0 and vocal tract;
                      before puberty it is mostly not there to be heard)
    same gender       the least consistent speaker's share of clips given its most frequent answer (one voice,
                      recorded in other rooms and on other devices, should keep its gender)
    adults as adults  share of adults' clips given an adult age group (any group whose ages start at 18 or later)
    age MAE           mean absolute error in years, beside always answering the training median
    sure gender       accuracy of the gender answers given with calibrated p >= SURE_P (and their share), and the
                      expected calibration error of the gender probabilities (scale/calibration.py)

    python -m scale.loco dev.csv --out runs/loco -- --epochs 20                      # a recipe's table
    python -m scale.loco dev.csv --out runs/loco --also korean.csv -- --augment spec,channel
    python -m scale.loco --score release/ timit.csv korean.csv                    # one model, every clip of each
    python -m scale.loco --table default=runs/loco/a/loco.json channel=runs/loco/b/loco.json   # a markdown table
    python -m pytest tests/test_loco.py
"""
import argparse
import json
import subprocess
import sys
from pathlib import Path

import numpy as np

import data
import metrics
from scale.calibration import expected_calibration_error
from corpora.labels import first_year
from scale import files, runs

ROOT = Path(__file__).resolve().parents[1]
ADULT_YEARS = 18.0
SURE_P = 0.9  # a gender answer given with at least this (calibrated) probability counts as "sure"


def adult_groups(vocab):
    """The age groups of a run's vocabulary that hold only adults ("adult", "senior", "20s", ...): those whose
    first year (from the bin name's number, or a life stage: corpora.labels.first_year) is ADULT_YEARS or more."""
    return [name for name in vocab or [] if first_year(name) is not None and first_year(name) >= ADULT_YEARS]


def is_adult(row):
    """An adult's clip: age_years 18 or more, or, where age_years is empty, an age group that starts at 18 or later
    (RAVDESS: "adult", since only the actors' range, 21-33, is published; Common Voice's "twenties")."""
    years = row.get("age_years")
    return float(years) >= ADULT_YEARS if years else bool(adult_groups([row.get("age", "")]))


def train_median(run_dir):
    """The median age_years of a run's training clips (what "always the median" answers), NaN without ages."""
    train = [r for r in data.read_manifest(Path(run_dir) / "manifest.csv") if r["split"] == "train"]
    return float(np.median([float(r["age_years"]) for r in train if r.get("age_years")] or [np.nan]))


def profiler_scores(outputs, rows, vocabs, train_median):
    """The table's numbers for one model on one corpus's rows -> dict (NaN where the corpus lacks the labels)."""
    years = np.array([float(r["age_years"]) if r.get("age_years") else np.nan for r in rows])
    adult = np.array([is_adult(r) for r in rows], dtype=bool)
    scores = {"clips": len(rows), "adult_clips": int(adult.sum())}
    if "gender" in outputs:
        truth = np.array([r.get("gender", "") for r in rows])
        pred = np.array(vocabs["gender"])[outputs["gender"].argmax(axis=1)]
        known = adult & (truth != "")
        scores["gender_adults"] = float(np.mean(pred[known] == truth[known])) if known.any() else np.nan
        known = truth != ""  # confidence, on every clip with a gender: are the sure answers right, is p what it says
        sure = known & (outputs["gender"].max(axis=1) >= SURE_P)
        scores["gender_sure_share"] = float(sure.sum() / known.sum()) if known.any() else np.nan
        scores["gender_sure_acc"] = float(np.mean(pred[sure] == truth[sure])) if sure.any() else np.nan
        codes = np.array([vocabs["gender"].index(g) if g in vocabs["gender"] else -1 for g in truth])  # -1: unknown
        scores["gender_ece"] = expected_calibration_error(outputs["gender"][codes >= 0], codes[codes >= 0])
    if "age" in outputs:
        pred = np.array(vocabs["age"])[outputs["age"].argmax(axis=1)]
        scores["adults_as_adults"] = float(np.mean(np.isin(pred[adult], adult_groups(vocabs["age"])))) \
            if adult.any() else np.nan
    if "gender" in outputs and len({r["speaker"] for r in rows}) < len(rows):  # the same voice, other rooms/devices
        pred = np.array(vocabs["gender"])[outputs["gender"].argmax(axis=1)]
        speakers = np.array([r["speaker"] for r in rows])
        shares = [np.mean(pred[speakers == s] == max(set(pred[speakers == s]), key=list(pred[speakers == s]).count))
                  for s in sorted(set(speakers))]
        scores["same_gender"] = float(min(shares))  # the least consistent speaker's share of its modal answer
    if "age_years" in outputs:
        known = ~np.isnan(years)
        scores["age_mae"] = float(np.mean(np.abs(outputs["age_years"][known] - years[known]))) if known.any() else np.nan
        scores["median_mae"] = float(np.mean(np.abs(train_median - years[known]))) if known.any() else np.nan
    return scores


def score(run_dir, rows, store=True, workers=2):
    """profiler_scores of a run folder (train.py's or baseline.py's) on rows (whole clips, every split)."""
    from scale import ensemble
    from scale.store import features_of
    config, predictor = ensemble.load_member(run_dir, "cpu", 64)
    feats, kept, _ = features_of(rows, config["input"], config.get("denoise", False), workers, skip_bad=True,
                                 on_disk=store)
    return profiler_scores(predictor(feats), kept, config["vocabs"], train_median(run_dir))


def run(argv, what):
    """A command of this project in a subprocess; stops this one with its last line when it fails."""
    result = subprocess.run([sys.executable, *argv], cwd=ROOT, capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"loco: {what} failed: {(result.stderr.strip().splitlines() or ['?'])[-1]}")
    return result.stdout


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["--table"]:  # python -m scale.loco --table NAME=runs/loco/a/loco.json ...
        print(markdown([a.split("=", 1)[1] for a in argv[1:]], [a.split("=", 1)[0] for a in argv[1:]]))
        return 0
    if argv[:1] == ["--score"]:  # python -m scale.loco --score RUN a.csv b.csv: one model's numbers, every clip
        for manifest in argv[2:]:
            scores = score(argv[1], data.read_manifest(manifest))
            print(f"{Path(manifest).stem:14} {fmt(scores)}", flush=True)
        return 0
    extra = argv[argv.index("--") + 1:] if "--" in argv else []
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("manifest", help="a manifest of several corpora (python -m corpora merge)")
    parser.add_argument("--out", required=True, help="folder of the runs and loco.json")
    parser.add_argument("--also", nargs="*", default=[], help="manifests of corpora scored by every model, never "
                        "trained on")
    parser.add_argument("--baseline", action=argparse.BooleanOptionalAction, default=True,
                        help="also train and score the classic baseline the same way (default on)")
    parser.add_argument("--only", help="comma-separated corpora to leave out (default: each in turn, then all: the "
                        "in-corpus model); `all` names the model trained on every corpus")
    args = parser.parse_args(argv[:argv.index("--")] if "--" in argv else argv)
    out = Path(args.out).resolve()
    rows = data.read_manifest(args.manifest)
    corpora = sorted({r.get("corpus", "") for r in rows} - {""})
    if len(corpora) < 2:
        raise SystemExit(f"loco: {args.manifest} names fewer than two corpora (a corpus column: python -m corpora merge)")
    also = {Path(m).stem: data.read_manifest(m) for m in args.also}
    table = {}  # (model, trained on, scored on) -> scores
    plans = [(f"without-{c}", [r for r in rows if r["corpus"] != c], [c]) for c in corpora] + [("all", rows, corpora)]
    only = set((args.only or "").split(",")) - {""}
    if only - {*corpora, "all"}:
        raise SystemExit(f"loco: --only {args.only}: no corpus {', '.join(sorted(only - {*corpora, 'all'}))} in "
                         f"{args.manifest} (it has {', '.join(corpora)})")
    own = {name for name, _, _ in plans} | {"loco.json"}  # a loco folder of these corpora goes on where it stopped
    plans = [p for p in plans if not only or p[0].removeprefix("without-") in only]
    if (out / "loco.json").is_file():  # an earlier --only's rows stay in the table beside this run's
        table.update(read_table(out / "loco.json"))
    problem = "" if out.is_dir() and {p.name for p in out.iterdir()} <= own else runs.unfit_folder(out)
    if problem:
        raise SystemExit(f"loco: --out {problem}; choose another folder (one of loco's own goes on where it stopped)")
    for name, train_rows, scored in plans:
        folder = out / name
        folder.mkdir(parents=True, exist_ok=True)
        files.write_manifest(train_rows, folder / "train.csv")
        kinds = [("model", ["train.py", "--manifest", str(folder / "train.csv"), "--store", "--no-auto-refit",
                            *extra, "--out", str(folder / "model")])]
        if args.baseline:
            kinds.append(("baseline", ["-m", "extras.baseline", "--manifest", str(folder / "train.csv"), "--store",
                                       "--out", str(folder / "baseline")]))
        for kind, command in kinds:
            if not (folder / kind / "metrics.json").is_file():
                print(f"{name}: training the {kind}", flush=True)
                stopped = kind == "model" and (folder / kind / "last.pt").is_file()  # an interrupted run goes on
                run(["train.py", "--resume", str(folder / kind)] if stopped else command, f"{name} {kind}")
            targets = {c: [r for r in rows if r["corpus"] == c and (name != "all" or r["split"] == "test")]
                       for c in scored}
            targets.update(also)
            for c, target in targets.items():
                if target:
                    table[f"{kind} | {name} | {c}"] = score(folder / kind, target)
                    print(f"{kind:8} {name:16} on {c:14} {fmt(table[f'{kind} | {name} | {c}'])}", flush=True)
    write_table(table, out / "loco.json")
    print(f"wrote {out / 'loco.json'}")
    return 0


def write_table(table, path):
    """{key: scores} -> path, atomically; a NaN (no clip to score) is written as null."""
    runs.save_json({k: metrics.rounded({kk: float(vv) for kk, vv in v.items()}, 6) for k, v in table.items()}, path)  # 3 shown


def read_table(path):
    """write_table's file -> {key: scores}, null back to NaN."""
    return {k: {kk: np.nan if vv is None else vv for kk, vv in v.items()}
            for k, v in json.loads(Path(path).read_text(encoding="utf-8")).items()}


def markdown(paths, names):
    """The README's table from loco.json files (one per recipe): for each corpus, the models trained without it
    and the in-corpus models (trained on every corpus, scored on its test split); for a corpus only ever scored
    (--also), the models trained on every corpus. The classic baseline's rows come from the first file."""
    tables = [json.loads(Path(p).read_text(encoding="utf-8")) for p in paths]
    lines = ["| scored on | trained on | model | clips | gender (adults) | adults as adults | age MAE (median) | "
             "same gender | gender p ≥ 0.9: right (share) | gender ECE |", "|---|---|---|---|---|---|---|---|---|---|"]
    keys = list(dict.fromkeys(k for t in tables for k in t))
    held = {k.split(" | ")[2] for k in keys if k.split(" | ")[1] == f"without-{k.split(' | ')[2]}"}
    chosen = [k for k in keys if k.split(" | ")[1] == f"without-{k.split(' | ')[2]}" or k.split(" | ")[1] == "all"]
    order = sorted(chosen, key=lambda k: (k.split(" | ")[2] not in held, k.split(" | ")[2], k.split(" | ")[1] == "all",
                                          k.split(" | ")[0] == "model"))
    for key in order:
        kind, trained, scored = key.split(" | ")
        for table, name in zip(tables, names):
            if key not in table or (kind == "baseline" and name != names[0]):
                continue
            v = table[key]
            cell = lambda k, d=3: "–" if v.get(k) is None else f"{v[k]:.{d}f}"  # noqa: E731
            where = "the other corpora" if trained != "all" else (
                "every corpus (its test split)" if scored in held else "every corpus")
            lines.append(f"| {scored} | {where} | {'classic baseline' if kind == 'baseline' else name} | "
                         f"{int(v['clips'])} | {cell('gender_adults')} | {cell('adults_as_adults')} | "
                         f"{cell('age_mae', 1)} ({cell('median_mae', 1)}) | {cell('same_gender')} | "
                         f"{cell('gender_sure_acc')} ({cell('gender_sure_share', 2)}) | {cell('gender_ece')} |")
    return "\n".join(lines)


def fmt(s):
    """One table row's cells."""
    def cell(k, digits=3):
        v = s.get(k, np.nan)
        return f"{v:.{digits}f}" if not np.isnan(v) else "  -  "
    return (f"clips {int(s['clips']):5d}  gender(adults) {cell('gender_adults')}  adults-as-adults {cell('adults_as_adults')}"
            f"  age MAE {cell('age_mae', 1)} (median {cell('median_mae', 1)})  same gender {cell('same_gender')}"
            f"  sure gender {cell('gender_sure_acc')} ({cell('gender_sure_share', 2)})  ECE {cell('gender_ece')}")


if __name__ == "__main__":
    sys.exit(main())
