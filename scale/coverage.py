"""Accuracy against coverage: how often a run's calibrated answers of one class task are right when only the answers
given with at least a probability p are kept, for p from 0.5 to 0.95, and the expected calibration error --
on every clip of a manifest (scale/calibration.py holds the method).

    python -m scale.coverage release/ ravdess.csv --task gender
    python -m pytest tests/test_calibration.py
"""
import argparse
import sys

import numpy as np

import data
from scale import ensemble, store
from scale.calibration import coverage, expected_calibration_error


def main(argv=None):
    """Accuracy against coverage of one class task of a run (calibrated) on every clip of a manifest, and its ECE."""
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("run", help="a run folder (train.py's, or release/)")
    parser.add_argument("manifest", help="the clips to score: every row, whatever its split")
    parser.add_argument("--task", default="gender", help="a class task of the run (default gender)")
    args = parser.parse_args(argv)
    try:
        config, predictor = ensemble.load_member(args.run, "cpu", 64)  # calibrated at the run's temperatures
        if config["vocabs"].get(args.task) is None:
            raise ValueError(f"{args.run}: {args.task} is not one of its class tasks")
        rows = [r for r in data.read_manifest(args.manifest) if r.get(args.task) in config["vocabs"][args.task]]
        feats, kept, _ = store.features_of(rows, config["input"], config.get("denoise", False), 2, True)
    except (OSError, ValueError) as err:
        print(f"scale.coverage: error: {str(err).splitlines()[0]}", file=sys.stderr)
        return 2
    p, y = predictor(feats)[args.task], np.array([config["vocabs"][args.task].index(r[args.task]) for r in kept])
    print(f"{args.task} of {args.run} on {len(y)} clips of {args.manifest}: ECE {expected_calibration_error(p, y):.3f} "
          f"(temperature {config.get('temperature', {}).get(args.task, 1.0):.2f})")
    print("| answered with p >= | share of clips | accuracy of those |\n|---|---|---|")
    for t, share, acc in coverage(p, y):
        print(f"| {t:.2f} | {share:.3f} | {acc:.3f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
