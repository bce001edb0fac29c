"""evaluate.py's flags checked against each other before any work, each problem one line (argparse's exit 2):
what a student can skip, like train.py's checks in scale/settings.py.

    python -m pytest tests/test_evaluate.py tests/test_runs.py
"""


def check(args, parser, release):
    """Check evaluate.py's parsed `args`, in place: --wav without a run folder takes the released model in the
    folder `release`; the flags that go together; --out never replaces a file that is not a profiles CSV (a
    recording, a run's own files). parser.error, one line and exit 2, on the first problem."""
    if args.wav and not args.run:  # a profile without a run folder: the released model
        if not (release / "config.json").is_file():
            parser.error(f"--wav without a run folder uses the released model, and {release} holds none; give a run "
                         "folder (python evaluate.py RUN --wav ...)")
        args.run = [str(release)]
    for wrong, message in (
            (bool(args.compare) == bool(args.run), "give one run folder, or --compare RUN1 RUN2 ..."),
            (args.batch_size <= 0 or args.workers < 0, f"--batch-size must be positive and --workers zero or more, "
                                                       f"got {args.batch_size}, {args.workers}"),
            (args.out and not args.wav, "--out goes with --wav"),
            (args.mean and not args.compare, "--mean goes with --compare"),
            (args.save and (args.compare or args.wav), "--save goes with a split report: RUN [RUN ...] [--split ...]"),
            (len(args.run) > 1 and (args.wav or args.plot), "--wav and --plot take one run folder; several runs are "
                                                            "scored as an ensemble on a split")):
        if wrong:
            parser.error(message)
    try:  # a recording, a run's own files, anything that is not a profiles CSV is never replaced
        if args.out:
            from corpora.text import check_output  # files that are not ours to replace
            check_output(args.out, "path,duration_s", "profiles CSV")
    except ValueError as err:
        parser.error(str(err))
