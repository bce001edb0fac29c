"""Look at a trained run: scores per split, the comparison table of several runs, or one recording profiled.

Every prediction is utterance-level: the model sees every 4 s window of a clip and the windows' class
probabilities are averaged (runs.predict_clips). Scores are reported beside the majority-class baseline
(always answer the training set's most frequent class), the number every model has to beat.

    python evaluate.py runs/hps-mfcc_f0-20250101-120000                  # test split: accuracy, balanced
                                                                         # accuracy, macro-F1, confusion tables
    python evaluate.py runs/hps-mfcc_f0-20250101-120000 --split val --plot
    python evaluate.py --compare runs/table/*                            # the slides' results table
    python evaluate.py runs/hps-mfcc_f0-20250101-120000 --wav my_voice.flac
"""
import argparse
import importlib.util
import sys
from pathlib import Path

import numpy as np
import torch

import cache
import data
import features
import audio
import manifest
import files
import metrics
import runs


def split_report(run_dir, split, device, batch_size, plot):
    """Print accuracy, balanced accuracy, macro-F1 and a confusion table per task on one split."""
    config, vocabs, model = runs.load_run(run_dir, device=device)
    tasks, kind = config["tasks"], config["input"]
    rows = manifest.read_manifest(config["manifest"], seed=config["seed"])  # the same splits as in training
    train_rows = [r for r in rows if r["split"] == "train"]
    rows = [r for r in rows if r["split"] == split]
    if not rows:
        raise ValueError(f"{config['manifest']}: no {split} rows")
    cache_dir = cache.default_cache_dir()  # $MOKSORI_CACHE or <repo>/.cache, then features/
    feats, rows, _ = cache.precompute(rows, kind, cache_dir, config["workers"], config["denoise"],
                                      config["skip_bad"], progress=sys.stderr.isatty())
    probs = runs.predict_clips(model, feats, kind, device, batch_size)  # {task: (n_clips, n_classes)}
    labels = np.stack([manifest.encode_labels(r, vocabs, tasks) for r in rows])  # (n_clips, n_tasks), -1 = unknown
    train_labels = np.stack([manifest.encode_labels(r, vocabs, tasks) for r in train_rows])

    print(f"{run_dir}: {config['model']} on {kind}, {split} split, {len(rows)} clips")
    print(f"{'task':8} {'clips':>5} {'acc':>6} {'bal acc':>7} {'macro-F1':>8} {'majority':>8}")
    matrices = {}
    for i, t in enumerate(tasks):
        known = labels[:, i] >= 0
        y, pred = labels[known, i], probs[t][known].argmax(axis=1)  # (n_known,) each
        y_train = train_labels[:, i][train_labels[:, i] >= 0]
        matrices[t] = metrics.confusion_matrix(y, pred, len(vocabs[t]))
        print(f"{t:8} {len(y):5d} {metrics.accuracy(y, pred):6.3f} {metrics.balanced_accuracy(y, pred):7.3f} "
              f"{metrics.macro_f1(y, pred):8.3f} {metrics.majority_baseline(y_train, y):8.3f}")
    for t in tasks:
        print(f"\n{t}: confusion matrix (rows = true class, columns = predicted)")
        print(metrics.confusion_table(matrices[t], vocabs[t]))
    if plot:
        plot_run(run_dir, split, matrices, vocabs)


def number(value):
    """0.123 as "0.123"; a missing score (None in metrics.json: no clips) as "  -  "."""
    return "  -  " if value is None else f"{value:5.3f}"


def compare(run_dirs):
    """The slides' table from each run's metrics.json: train/val/test accuracy per task, one row per
    (model, input). Single-task runs of the same model and input (one per task) share a row; a second run
    of the same task starts a new row."""
    table = []  # [(model, input), {task: scores}, [run folders]]
    for run_dir in run_dirs:
        path = Path(run_dir) / "metrics.json"
        if not path.is_file():
            raise FileNotFoundError(f"{path}: not found (is the run finished?)")
        m = runs.load_json(path)
        row = next((r for r in table if r[0] == (m["model"], m["input"]) and not set(r[1]) & set(m["tasks"])), None)
        if row is None:
            row = ((m["model"], m["input"]), {}, [])
            table.append(row)
        row[1].update(m["tasks"])
        row[2].append(str(run_dir))
    tasks = [t for t in manifest.TASKS if any(t in scores for _, scores, _ in table)]
    print(f"{'model':10} {'input':8}" + "".join(f" | {t:^17}" for t in tasks) + " | runs")
    print(f"{'':10} {'':8}" + " | train   val  test" * len(tasks) + " |")
    for (model, kind), scores, folders in table:
        cells = ""
        for t in tasks:
            s = scores.get(t)
            cells += " | " + " ".join(number(s.get(k)) for k in ("train_acc", "val_acc", "test_acc")) if s \
                else f" | {'-':^17}"
        print(f"{model:10} {kind:8}{cells} | {', '.join(folders)}")


def profile_wav(run_dir, wav, device, batch_size):
    """Print the predicted label and its probability for each task, for one recording of any length."""
    config, vocabs, model = runs.load_run(run_dir, device=device)
    kind = config["input"]
    y = audio.load_audio(wav)  # (N,) float32 mono at 16 kHz, whatever the file's rate and channels
    if config["denoise"]:
        from denoise import denoise
        y = denoise(y, features.SR)
    x = features.extract(y, features.SR, kind)  # (*input_shape, T)
    n_windows = len(data.windows(x, features.frames_per_window(kind)))
    probs = runs.predict_clips(model, [x], kind, device, batch_size)  # {task: (1, n_classes)}
    print(f"{wav}: {len(y) / features.SR:.1f} s = {n_windows} window(s) of {features.WINDOW_SAMPLES / features.SR:g} s; "
          f"{config['model']} on {kind}")
    for t in config["tasks"]:
        p = probs[t][0]  # (n_classes,)
        ranked = np.argsort(-p)
        others = ", ".join(f"{vocabs[t][k]} {p[k]:.2f}" for k in ranked[1:3])
        print(f"  {t:8} {files.pad(vocabs[t][ranked[0]], 8)} {p[ranked[0]]:.2f}   (next: {others})")


# Fonts that hold Hangul, tried in order for the dialect names; without one, the Revised Romanization is used.
KOREAN_FONTS = ("Noto Sans CJK KR", "Noto Sans KR", "NanumGothic", "Malgun Gothic", "AppleGothic", "UnDotum")
ROMANIZED = {"수도권": "Sudogwon", "강원": "Gangwon", "충청": "Chungcheong", "전라": "Jeolla", "경상": "Gyeongsang",
             "제주": "Jeju"}


def plot_labels(names, plt):
    """Tick labels matplotlib can draw: Hangul when a Korean font is installed, else romanized names."""
    from matplotlib import font_manager
    installed = {font.name for font in font_manager.fontManager.ttflist}
    korean = next((name for name in KOREAN_FONTS if name in installed), None)
    if korean:
        plt.rcParams["font.family"] = [korean, "DejaVu Sans"]
        return names
    return [ROMANIZED.get(n, n) for n in names]


def plot_run(run_dir, split, matrices, vocabs):
    """Training curves (curves.png) and one confusion matrix per task (confusion_<split>_<task>.png)."""
    try:
        import matplotlib
        matplotlib.use("Agg")  # files only, no window
        import matplotlib.pyplot as plt
    except ImportError:
        raise ValueError("--plot needs matplotlib: pip install matplotlib") from None
    run_dir = Path(run_dir)
    history = runs.read_history(run_dir / "history.csv")
    epochs = [h["epoch"] for h in history]
    tasks = list(matrices)
    fig, axes = plt.subplots(1, 1 + len(tasks), figsize=(4 * (1 + len(tasks)), 3.5))
    axes[0].plot(epochs, [h["loss"] for h in history])
    axes[0].set(title="training loss", xlabel="epoch")
    for ax, t in zip(axes[1:], tasks):
        for key, label in (("train_acc", "train (batches)"), ("val_acc", "val"), ("val_balanced_acc", "val bal")):
            ax.plot(epochs, [h[f"{t}_{key}"] for h in history], label=label)
        ax.set(title=t, xlabel="epoch", ylim=(0, 1))
        ax.legend()
    fig.tight_layout()
    fig.savefig(run_dir / "curves.png", dpi=100)
    written = [run_dir / "curves.png"]
    for t, cm in matrices.items():
        fig, ax = plt.subplots(figsize=(1 + 0.6 * len(cm), 1 + 0.6 * len(cm)))
        ax.imshow(cm, cmap="Blues")
        for (i, j), c in np.ndenumerate(cm):
            ax.text(j, i, str(c), ha="center", va="center")
        ax.set(xticks=range(len(cm)), yticks=range(len(cm)), xlabel="predicted", ylabel="true", title=f"{t} ({split})")
        ax.set_xticklabels(plot_labels(vocabs[t], plt), rotation=45)
        ax.set_yticklabels(plot_labels(vocabs[t], plt))
        fig.tight_layout()
        fig.savefig(run_dir / f"confusion_{split}_{t}.png", dpi=100)
        written.append(run_dir / f"confusion_{split}_{t}.png")
    plt.close("all")
    print("wrote " + ", ".join(str(p) for p in written))


def main(argv=None):
    parser = argparse.ArgumentParser(description="Evaluate a run folder written by train.py; see the docstring.")
    parser.add_argument("run", nargs="?", help="run folder (config.json, best.pt, ...)")
    parser.add_argument("--split", default="test", choices=("train", "val", "test"), help="split to score (default test)")
    parser.add_argument("--compare", nargs="+", metavar="RUN", help="print the results table of these runs")
    parser.add_argument("--wav", help="profile one recording (WAV/FLAC/MP3..., any rate, mono or stereo)")
    parser.add_argument("--plot", action="store_true", help="also write curves.png and confusion matrices (matplotlib)")
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"), help="auto = cuda when available")
    parser.add_argument("--batch-size", type=int, default=64, help="windows per forward pass (default 64)")
    args = parser.parse_args(argv)
    if bool(args.compare) == bool(args.run):
        parser.error("give one run folder, or --compare RUN1 RUN2 ...")
    if args.batch_size <= 0:
        parser.error(f"--batch-size must be positive, got {args.batch_size}")
    if args.device == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda: torch.cuda.is_available() is False")
    if args.plot and importlib.util.find_spec("matplotlib") is None:  # say so before computing anything
        print("evaluate.py: error: --plot needs matplotlib: pip install matplotlib", file=sys.stderr)
        return 2
    device = torch.device("cuda" if args.device == "auto" and torch.cuda.is_available() else
                          "cpu" if args.device == "auto" else args.device)
    try:
        if args.compare:
            compare(args.compare)
        elif args.wav:
            profile_wav(args.run, args.wav, device, args.batch_size)
        else:
            split_report(args.run, args.split, device, args.batch_size, args.plot)
    except (OSError, ValueError, RuntimeError) as err:  # missing files, bad audio, unreadable checkpoint
        print(f"evaluate.py: error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
