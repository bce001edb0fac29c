"""The comparison tables of evaluate.py --compare, read from run folders' metrics.json and
config.json alone (no model is loaded, no audio read) -- train.py's runs, baseline.py's and saved ensembles.

    compare(run_dirs, metric)      the original project's table: train/val/test scores per task, one row per (model, input)
    compare_mean(run_dirs, split)  one row per recipe (runs differing only in VOLATILE settings): mean +- std
    recipe_of(config)              what makes runs one recipe (also kept in a saved ensemble's config.json)
    confusion_table(cm, names)     a confusion matrix as aligned text (Hangul takes two columns: display_width)

    python -m pytest tests/test_tables.py
"""
import json
import unicodedata
from pathlib import Path

import numpy as np

from corpora.text import read_json
from scale.legacy import LEGACY_SETTINGS


def number(value, digits=3):
    """0.123 as "0.123"; a missing score (None in metrics.json: no clips) as "  -  "."""
    return "  -  " if value is None else f"{value:5.{digits}f}"


METRIC_KEYS = {"acc": ("train_acc", "val_acc", "test_acc"), "balanced": ("train_balanced_acc", "val_balanced_acc",
                                                                          "test_balanced_acc")}


def read_metrics(run_dir):
    """A run folder's metrics.json (train.py's, baseline.py's, or an ensemble's from --save), checked."""
    path = Path(run_dir) / "metrics.json"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: not found (is the run finished?)")
    m = read_json(path)
    if not isinstance(m, dict) or not isinstance(m.get("tasks"), dict) or not isinstance(m.get("model"), str) \
            or not isinstance(m.get("input"), str):
        raise ValueError(f"{path}: not a moksori metrics.json (expected model and input as text, and tasks)")
    for task, scores in m["tasks"].items():
        if not isinstance(scores, dict):
            raise ValueError(f"{path}: the scores of {task} are not a JSON object")
        for key, value in scores.items():
            if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
                raise ValueError(f"{path}: {task} {key} is {value!r:.30}, not a number")
    return m


# what may differ between the runs of one recipe: the seed, where it ran and was written, the run it refits, the
# manifest (a cross-validation's folds; give --compare --mean the runs of one corpus)
VOLATILE = {"seed", "out", "resume", "refit", "refit_epochs", "workers", "device", "amp", "manifest", "manifest_sha1",
            "members", "skip_bad", "val_speakers", "auto_refit", "store", "store_dtype", "corpora", "ranges"}


def read_config(run_dir):
    """A run folder's config.json as a recipe reads it, checked: a JSON object, and an ensemble's member_recipes
    (scale/ensemble.py) a list of its members' recipes, each the text of a JSON object. ValueError naming the file."""
    path = Path(run_dir) / "config.json"
    config = read_json(path)
    if not isinstance(config, dict):
        raise ValueError(f"{path}: not a moksori config (expected a JSON object)")
    def well_formed(c):  # member_recipes absent, or a list of JSON objects as text, each well formed itself
        recipes = c.get("member_recipes", [])
        return isinstance(recipes, list) and all(isinstance(r, str) and isinstance(inner := json.loads(r), dict)
                                                 and well_formed(inner) for r in recipes)
    try:
        ok = well_formed(config)
    except (ValueError, RecursionError):  # an entry that is not JSON, or nested without end
        ok = False
    if not ok:
        raise ValueError(f"{path}: member_recipes is {config['member_recipes']!r:.40}, not a list of recipes "
                         "(JSON objects as text)")
    return config


def _settings(config):
    """A run's config as a recipe reads it: a setting saved before it existed reads as what the run did
    (LEGACY_SETTINGS), and an ensemble's member recipes are read the same way, so an ensemble saved before
    a setting existed is still the recipe of the same members saved today."""
    if "member_recipes" in config:  # an ensemble: the settings are its members'
        return {**config, "member_recipes": sorted(recipe_of(json.loads(r)) for r in config["member_recipes"])}
    return {**LEGACY_SETTINGS, **config}


def recipe_of(config):
    """What makes runs one recipe: the config without its VOLATILE settings, and whether it is a refit."""
    config = _settings(config)
    return json.dumps({**{k: v for k, v in config.items() if k not in VOLATILE}, "refit": bool(config.get("refit"))},
                      sort_keys=True, default=str)


def _differences(config, namesakes):
    """' key=value' for each setting (not VOLATILE) in which `config` differs from another recipe of the same
    printed name, so two rows of "xvector mfcc_f0" say what tells them apart (e.g. ' cmn=True'); an ensemble
    is told apart by its first member's settings."""
    def shown(c):
        members = [json.loads(r) for r in c.get("member_recipes", ())]
        return {**(members[0] if members else {}), **{k: v for k, v in c.items() if k != "member_recipes"}}
    config, namesakes = shown(config), [shown(c) for c in namesakes]
    keys = sorted({k for c in namesakes for k in {*c, *config}} - VOLATILE - {"refit"})
    return "".join(f" {k}={config.get(k)}" for k in keys if any(c.get(k) != config.get(k) for c in namesakes))


def compare_mean(run_dirs, split="test"):
    """One row per recipe -- runs whose config.json differ only in VOLATILE settings: seeds, folds -- with
    the mean and the standard deviation (over runs, n - 1 in the denominator) of each score on `split` (val: the
    folds of a cross-validation, each fold's validation scores)."""
    groups = {}  # recipe -> (name, [metrics])
    for run_dir in run_dirs:
        m, config = read_metrics(run_dir), read_config(run_dir)
        name = f"{m['model']} {m['input']}" + (" refit" if config.get("refit") else "")
        groups.setdefault(recipe_of(config), (name, [], _settings(config)))[1].append(m)
    groups = {recipe: (name + _differences(config, [c for n, _, c in groups.values() if n == name]), ms)
              for recipe, (name, ms, config) in groups.items()}
    tasks = list(dict.fromkeys(t for _, ms in groups.values() for m in ms for t in m["tasks"]))
    numeric = {t for _, ms in groups.values() for m in ms for t, s in m["tasks"].items() if f"{split}_mae" in s}
    columns = [(t, k) for t in tasks for k in ((f"{split}_mae",) if t in numeric else
                                               (f"{split}_acc", f"{split}_balanced_acc"))]
    label = {f"{split}_acc": "acc", f"{split}_balanced_acc": "bal acc", f"{split}_mae": "MAE"}
    width = max([24] + [len(name) for name, _ in groups.values()])
    print(f"{'recipe':{width}} {'runs':>4} " + " ".join(f"{t[:9] + ' ' + label[k]:>15}" for t, k in columns))
    for name, ms in groups.values():
        cells = []
        for t, k in columns:
            values = [m["tasks"][t][k] for m in ms if m["tasks"].get(t, {}).get(k) is not None]
            spread = np.std(values, ddof=1) if len(values) > 1 else 0.0
            cells.append(f"{np.mean(values):7.3f} ± {spread:5.3f}" if values else f"{'-':>15}")
        print(f"{name:{width}} {len(ms):4d} " + " ".join(cells))


def compare(run_dirs, metric="both"):
    """The original project's table from each run's metrics.json: train/val/test accuracy (and/or balanced accuracy) per
    task, one row per (model, input); a numeric task shows train/val/test MAE. Single-task runs of the same model
    and input (one per task) share a row; a second run of the same task starts a new row."""
    table = []  # [(model, input), {task: scores}, [run folders]]
    for run_dir in run_dirs:
        m = read_metrics(run_dir)
        row = next((r for r in table if r[0] == (m["model"], m["input"]) and not set(r[1]) & set(m["tasks"])), None)
        if row is None:
            row = ((m["model"], m["input"]), {}, [])
            table.append(row)
        row[1].update(m["tasks"])
        row[2].append(str(run_dir))
    tasks = list(dict.fromkeys(t for _, scores, _ in table for t in scores))
    groups = ["acc", "balanced"] if metric == "both" else [metric]
    width = 17 * len(groups) + 3 * (len(groups) - 1)  # 17 = "0.123 0.456 0.789"
    title = {"acc": "accuracy", "balanced": "balanced accuracy"}
    numeric = {t for _, scores, _ in table for t, s in scores.items() if "test_mae" in s}
    print(f"{'model':10} {'input':8}" + "".join(
        f" | {t + ': ' + ('mean absolute error' if t in numeric else ' | '.join(title[g] for g in groups)):^{width}}"
        for t in tasks) + " | runs")
    print(f"{'':10} {'':8}" + (" | " + " | ".join("train   val  test" for _ in groups)) * len(tasks) + " |")
    for (model, kind), scores, folders in table:
        cells = ""
        for t in tasks:
            s = scores.get(t)
            if not s:
                cells += f" | {'-':^{width}}"
            elif "test_mae" in s:  # a numeric task: mean absolute errors in years
                cells += " | " + f"{'MAE ' + ' '.join(number(s.get(k), 2) for k in ('train_mae', 'val_mae', 'test_mae')):>{width}}"
            else:
                cells += " | " + " | ".join(" ".join(number(s.get(k)) for k in METRIC_KEYS[g]) for g in groups)
        print(f"{model:10} {kind:8}{cells} | {', '.join(folders)}")


def confusion_table(cm, names, predicted_names=None):
    """The confusion matrix as aligned text: one row per true class (`names`), one column per predicted class
    (`predicted_names`, default the same)."""
    names = [str(n) for n in names]
    columns = names if predicted_names is None else [str(n) for n in predicted_names]
    corner = "true \\ pred"
    cell = max([display_width(n) for n in columns] + [len(str(cm.max())) if cm.size else 1])
    first = max([display_width(n) for n in names] + [len(corner)])
    lines = [pad(corner, first) + " " + " ".join(pad(n, cell, right=True) for n in columns)]
    for name, row in zip(names, cm):
        lines.append(pad(name, first) + " " + " ".join(pad(str(c), cell, right=True) for c in row))
    return "\n".join(lines)


def display_width(text):
    """Terminal columns taken by text: East Asian wide characters (Hangul, CJK) take two."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def pad(text, width, right=False):
    """text padded with spaces to `width` terminal columns (on the left when right=True)."""
    fill = " " * max(0, width - display_width(text))
    return fill + text if right else text + fill
