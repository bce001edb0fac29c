"""Release a run: copy a finished run folder into a folder fit to commit -- the files every tool reads (config.json,
best.pt, manifest.csv, history.csv, metrics.json, and calibration.json where the run has one), without last.pt (the
optimiser's state: three times the size, needed only to resume), and without the paths of the machine it was
trained on (audio paths are written relative to the corpus folders named in ROOTS, the manifest and run folders by
their names).

    python -m scale.release runs/release/refit release/      # release/ new or empty; then write release/MODEL_CARD.md
    python -m pytest tests/test_release.py
"""
import argparse
import sys
from pathlib import Path

import data
from scale import checkpoints, console, files, runs

KEEP = ("config.json", "best.pt", "manifest.csv", "history.csv", "metrics.json")
OPTIONAL = ("calibration.json",)  # kept where the run has it (a run older than temperature scaling has not)
PATH_SETTINGS = ("manifest", "out", "refit", "resume")  # config.json entries that name files of the training machine


def corpus_relative(path, roots):
    """A clip's path from its corpus folder on, that folder named by its root in `roots`
    ("/data/jimbozhang+speechocean762/WAVE/a.wav" -> "speechocean762/WAVE/a.wav"), or the file name alone."""
    parts = Path(path).parts
    for i, part in enumerate(parts):
        for root in roots:
            if root in part:
                return str(Path(root, *parts[i + 1:]))
    return Path(path).name


def release(run_dir, out, roots):
    """Copy run_dir's KEEP files into `out` with every path of the training machine replaced (module docstring).
    `out` must be new or empty, as a run folder of train.py (scale/runs.unfit_folder): a release never replaces
    another's files, nor the run's own (RUN RUN)."""
    run_dir, out = Path(run_dir), Path(out)
    lacking = [name for name in KEEP if not (run_dir / name).is_file()]
    if lacking:
        raise FileNotFoundError(f"{run_dir}: no {', '.join(lacking)}: is it a finished run?")
    problem = runs.unfit_folder(out)
    if problem:
        raise ValueError(f"{problem}; release into another folder (or remove it first)")
    config = checkpoints.load_checkpoint(run_dir / "best.pt")["config"]
    tidy = {k: Path(str(config[k])).name if config.get(k) else config.get(k) for k in PATH_SETTINGS if k in config}
    best = checkpoints.load_checkpoint(run_dir / "best.pt")
    best["config"] = {**best["config"], **tidy}
    runs.save_checkpoint(best, out / "best.pt")
    runs.save_json({**checkpoints.load_checkpoint(run_dir / "last.pt")["config"], **tidy} if (run_dir / "last.pt").is_file()
                   else best["config"], out / "config.json")
    rows = data.read_manifest(run_dir / "manifest.csv")
    here = Path(out).resolve()  # written relative to the released folder: "speechocean762/WAVE/a.wav"
    files.write_manifest([dict(r, path=str(here / corpus_relative(r["path"], roots))) for r in rows], out / "manifest.csv")
    kept = list(KEEP) + [name for name in OPTIONAL if (run_dir / name).is_file()]
    for name in kept[3:]:  # history.csv, metrics.json, calibration.json: as they are
        files.atomic_write(out / name, lambda f, name=name: f.write((run_dir / name).read_bytes()))
    size = sum((out / name).stat().st_size for name in kept) / 1e6
    print(f"released {run_dir} into {out}: {', '.join(kept)} ({size:.1f} MB)")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", help="a finished run folder (the model to release: the recipe's RUN/refit)")
    parser.add_argument("out", help="the folder to write (release/): new or empty")
    parser.add_argument("--roots", default="speechocean762,whisper_project,rsample-100-cv-corpus-6.1-2020-12-11,RAVDESS",
                        help="comma-separated names of corpus folders: clip paths are kept from there on")
    args = parser.parse_args(argv)
    try:
        with console.one_line_warnings():
            release(args.run, args.out, args.roots.split(","))
    except (OSError, ValueError) as err:
        print(f"scale.release: error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
