"""Ensembles: several run folders scored as one model, their outputs averaged clip by clip, and saved as a run.

evaluate.py's split report calls this when it is given several run folders, a folder of the classic baseline
(extras/baseline.py: linear models on whole-clip statistics), or --save:

    load_members(run_dirs, ...)   [(config, predictor)], predictor(features) -> {task: (n, K) or (n,)}; members
                                  must share their tasks, their classes and their denoising, or one line says so
    outputs(members, rows, read)  their mean outputs, each input kind's features read once
    save(folder, ...)             the scores as metrics.json + config.json, so `evaluate.py --compare` lists them

    python evaluate.py runs/a runs/b runs/c --save runs/ensemble
    python -m pytest tests/test_evaluate.py
"""
import sys
from pathlib import Path

import numpy as np

import mtl
from scale import calibration, checkpoints, runs


def load_member(run_dir, device, batch_size):
    """(config, predictor) of a run folder of train.py (a model) or of extras/baseline.py (linear models)."""
    if (Path(run_dir) / "baseline.npz").is_file():
        from extras import baseline
        config, weights = baseline.load(run_dir)

        def linear(feats):
            try:
                return baseline.predict_features(weights, feats, config["tasks"], config["input"])
            except ValueError as err:
                raise ValueError(f"{run_dir}: {err}") from None
        return config, linear
    config, model = checkpoints.load_run(run_dir, device=device)

    def calibrated(feats):  # class probabilities at the run's temperatures (scale/calibration.py): answers unchanged
        outputs = mtl.predict(model, feats, config["input"], device, batch_size)
        return calibration.apply(outputs, config["temperature"])
    return config, calibrated


def load_members(run_dirs, device, batch_size, split, save=None):
    """(the first member's config, [(config, predictor)] of every member), checked to be averageable."""
    problem = runs.unfit_folder(save) if save else ""  # train.py's rule: a new or empty folder
    if problem:
        raise ValueError(f"--save {problem}; choose another folder")
    members = [load_member(r, device, batch_size) for r in run_dirs]
    config = members[0][0]
    for run_dir, (theirs, _) in zip(run_dirs[1:], members[1:]):
        differ = [k for k in ("tasks",) if theirs[k] != config[k]] + \
            (["denoise"] if theirs.get("denoise", False) != config.get("denoise", False) else []) + \
            [f"{t} classes" for t in config["tasks"] if theirs["vocabs"].get(t) != config["vocabs"][t]]
        if differ:
            raise ValueError(f"{run_dir}: its {', '.join(differ)} differ from {run_dirs[0]}'s; an ensemble needs "
                             "the same")
    if split != "test" and any((Path(r) / "baseline.npz").is_file() and c.get("fit", "train+val") == "train+val"
                               for r, (c, _) in zip(run_dirs, members)):
        print(f"warning: baseline.py fits on the training and validation speakers: its {split} scores are not "
              f"held out", file=sys.stderr)
    return config, members


def outputs(members, rows, read):
    """The members' mean outputs on rows -> ({task: outputs}, the rows read). read(rows, kind) -> (features, kept
    rows, skipped); each input kind's features are read once, for every member that takes that input."""
    cache, kept = {}, rows
    for config, _ in members:
        if config["input"] not in cache:
            cache[config["input"]], kept, _ = read(kept, config["input"])
    mean = {}
    for config, predictor in members:
        for t, value in predictor(cache[config["input"]]).items():
            mean[t] = mean.get(t, 0.0) + value / len(members)
    return mean, kept


def save(folder, run_dirs, config, split, other, scores, vocabs):
    """Write a split report's scores as a run folder: metrics.json (as train.py's, `split` in place of "test")
    and config.json (the members and their recipes)."""
    from scale.tables import read_config, recipe_of

    def number(v):  # JSON has no NaN: a score without clips is null, as in train.py's metrics.json
        return None if np.isnan(v) else round(float(v), 4)
    tasks = {t: {f"{split}_mae": number(s["mae"]), "baseline_mae": number(s["baseline_mae"])} if vocabs[t] is None
             else {f"{split}_acc": number(s["acc"]), f"{split}_balanced_acc": number(s["balanced_acc"]),
                   "majority_baseline": number(s["majority"])} for t, s in scores.items()}
    members = [str(r) for r in run_dirs]
    recipe = {"model": "ensemble" if len(members) > 1 else config["model"], "input": config["input"],
              "members": members, "member_recipes": sorted(recipe_of(read_config(r)) for r in members),
              "split": split, "manifest": str(other or config["manifest"])}
    runs.save_json({**recipe, "tasks": tasks}, Path(folder) / "metrics.json")
    runs.save_json(recipe, Path(folder) / "config.json")
    print(f"\nwrote {Path(folder) / 'metrics.json'}")
