"""Train a speaker-profiling model (age, gender and dialect from a voice) and write a run folder.

Reads top to bottom, like nanoGPT's train.py:
    1 arguments -> 2 seed and device -> 3 data -> 4 model -> 5 optimiser -> 6 the loop -> 7 test, once
The run folder (runs.py describes each file): config.json, history.csv, best.pt, last.pt, metrics.json.
Accuracies in the per-epoch table: "train" is measured on the training mini-batches as they go by (one random
4 s window per clip, training mode); "val" and "bal" (balanced accuracy) are utterance-level: the class
probabilities averaged over every window of each validation clip.

    python train.py --model hps --input mfcc_f0               # built-in synthetic corpus, a few minutes on CPU
    python train.py --resume runs/hps-mfcc_f0-20250101-120000 --epochs 40    # continue a run
"""
import os

# numpy's BLAS gets one thread per process: the feature matrices are too small to gain from threads, and
# --workers already runs one process per core. Without this, 2 workers on 2 cores fought over 4 BLAS threads
# and extracted features slower than 1 worker; with it, 2 workers are 1.8x faster than 1 (bench.py --clips).
# Must be set before numpy is imported; an OPENBLAS_NUM_THREADS you set yourself wins. (torch has its own
# thread pool.)
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse  # noqa: E402 -- after the environment line above, on purpose
import math
import random
import signal
import sys
import time
from datetime import datetime
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader

import cache
import data
import features
import synth_corpus
import manifest
import mtl
import files
import metrics
import runs

GRAD_CLIP = 1.0  # max L2 norm of the whole gradient; keeps the vanilla RNN's exploding gradients in check
SPLITS = ("train", "val", "test")
EPOCHS = 50  # default --epochs: about 1.5 s each for hps on the built-in corpus, 2 CPU cores

# ----------------------------------------------------------------------------- 1. arguments
parser = argparse.ArgumentParser(description="Train a speaker-profiling model; see the module docstring.")
parser.add_argument("--manifest", help="manifest CSV (path,speaker,gender,age,dialect,split); "
                    "default: the built-in synthetic corpus, generated once into synth_corpus.default_corpus_dir()")
parser.add_argument("--speakers", type=int, default=synth_corpus.SYNTH_SPEAKERS,
                    help=f"built-in corpus: number of speakers (default {synth_corpus.SYNTH_SPEAKERS})")
parser.add_argument("--utterances", type=int, default=synth_corpus.SYNTH_UTTERANCES,
                    help=f"built-in corpus: 4 s clips per speaker (default {synth_corpus.SYNTH_UTTERANCES})")
parser.add_argument("--model", default="hps", choices=mtl.MODELS, help="network (default hps: one shared CNN, "
                    "a head per task); single-task models: " + ", ".join(m for m in mtl.MODELS if m not in mtl.MULTI_TASK))
parser.add_argument("--input", default="mfcc_f0", choices=features.INPUTS, help="model input (default mfcc_f0)")
parser.add_argument("--tasks", default="age,gender,dialect", help="comma-separated tasks (default age,gender,dialect)")
parser.add_argument("--balance", choices=data.BALANCE_OPTIONS, help="draw training clips so that each class of "
                    "this label is equally frequent (default: joint for several tasks, the task itself for one)")
parser.add_argument("--epochs", type=int, help=f"maximum number of epochs (default {EPOCHS}; with --resume: "
                    "the run's own, or a new total)")
parser.add_argument("--batch-size", type=int, default=32, help="clips per mini-batch (default 32)")
parser.add_argument("--lr", type=float, default=3e-3, help="AdamW learning rate, constant (default 3e-3)")
parser.add_argument("--weight-decay", type=float, default=1e-2, help="AdamW decoupled weight decay (default 0.01)")
parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"), help="auto = cuda when available")
parser.add_argument("--amp", action="store_true", help="CUDA only: float16 autocast with a gradient scaler")
parser.add_argument("--workers", type=int, default=2, help="processes for corpus synthesis and feature extraction "
                    "(default 2); batches are cut from features in memory, in the main process")
parser.add_argument("--seed", type=int, default=0, help="seed of initialisation, sampling and crops (default 0)")
parser.add_argument("--out", help="run folder (default runs/<model>-<input>-<YYYYmmdd-HHMMSS>)")
parser.add_argument("--resume", metavar="RUN", help="continue RUN from RUN/last.pt with RUN's saved settings; "
                    "only --epochs may be given with it")
parser.add_argument("--patience", type=int, default=20, help="stop after this many epochs without a better mean "
                    "validation balanced accuracy (default 20: the built-in corpus has only 24 validation speakers, "
                    "so the score is noisy; 0 = never stop early)")
parser.add_argument("--denoise", action="store_true", help="Wiener-filter denoising (denoise.py) before features")
parser.add_argument("--skip-bad", action="store_true", help="skip unreadable clips with a warning, not an error")
args = parser.parse_args()

if args.resume:  # the run's own settings, except a new --epochs
    given = {k for k, v in vars(args).items() if v != parser.get_default(k)} - {"resume", "epochs"}
    if given:
        parser.error(f"--resume uses {args.resume}'s saved settings; only --epochs may change "
                     f"(got --{', --'.join(sorted(g.replace('_', '-') for g in given))})")
    last_path = Path(args.resume) / "last.pt"
    if not last_path.is_file():
        parser.error(f"--resume {args.resume}: no last.pt there to continue from")
    try:
        ckpt = runs.load_checkpoint(last_path)  # weights only: nothing in the file can execute
    except runs.CheckpointError as err:
        print(f"train.py: error: {err}", file=sys.stderr)
        sys.exit(2)
    saved = {k: v for k, v in ckpt["config"].items() if k in vars(args)}  # the run's arguments, not its vocabs
    args = argparse.Namespace(**{**saved, "tasks": ",".join(saved["tasks"]), "resume": args.resume,
                                 "epochs": saved["epochs"] if args.epochs is None else args.epochs})
args.epochs = EPOCHS if args.epochs is None else args.epochs

tasks = args.tasks.split(",")
args.balance = args.balance or ("joint" if len(tasks) > 1 else tasks[0])
if not all(t in manifest.TASKS for t in tasks) or len(set(tasks)) != len(tasks):
    parser.error(f"--tasks {args.tasks}: expected distinct names from {', '.join(manifest.TASKS)}")
if args.balance not in ("none", "joint", *tasks):
    parser.error(f"--balance {args.balance}: not a trained task; choose none, joint or one of {', '.join(tasks)}")
try:  # a throw-away model: build_model knows which (model, input, tasks) combinations make sense
    mtl.build_model(args.model, args.input, {t: 2 for t in tasks})
except ValueError as err:
    parser.error(str(err))
if args.device == "cuda" and not torch.cuda.is_available():
    parser.error("--device cuda: torch.cuda.is_available() is False (CPU-only torch, or no GPU visible)")
if args.amp and not (args.device != "cpu" and torch.cuda.is_available()):
    parser.error("--amp needs CUDA (float16 autocast); drop --amp to train on the CPU")
for name in ("epochs", "batch_size", "lr", "speakers", "utterances"):
    if not getattr(args, name) > 0:  # "not > 0" also refuses nan
        parser.error(f"--{name.replace('_', '-')} must be positive, got {getattr(args, name)}")
for name in ("weight_decay", "workers", "patience"):
    if getattr(args, name) < 0:
        parser.error(f"--{name.replace('_', '-')} must be zero or positive, got {getattr(args, name)}")
if args.manifest and not Path(args.manifest).is_file():
    parser.error(f"--manifest {args.manifest}: file not found")
args.out = args.resume or args.out or f"runs/{args.model}-{args.input}-{datetime.now():%Y%m%d-%H%M%S}"
out = Path(args.out)
if not args.resume and (out / "last.pt").exists():
    parser.error(f"--out {out} already holds a run; continue it with --resume {out} or choose another --out")

# ----------------------------------------------------------------------------- 2. seed and device
device = torch.device("cuda" if args.device == "auto" and torch.cuda.is_available() else
                      "cpu" if args.device == "auto" else args.device)
random.seed(args.seed)
np.random.seed(args.seed)
torch.manual_seed(args.seed)  # also seeds every CUDA device
print(f"device {device}" + (f" ({torch.cuda.get_device_name(device)})" if device.type == "cuda" else
                            f" ({torch.get_num_threads()} threads)") + (", amp" if args.amp else ""))

# ----------------------------------------------------------------------------- 3. data
start = time.perf_counter()
try:
    if args.manifest is None:  # the built-in corpus: synthesised once, then reused
        corpus = synth_corpus.default_corpus_dir(args.speakers, args.utterances)
        args.manifest = str(synth_corpus.make_synth_corpus(corpus, args.speakers, args.utterances, workers=args.workers))
    rows = manifest.read_manifest(args.manifest, seed=args.seed)  # empty split cells: assigned by speaker, seeded
    split_rows = {s: [r for r in rows if r["split"] == s] for s in SPLITS}
    for s in ("train", "val"):
        if not split_rows[s]:
            raise ValueError(f"{args.manifest}: no {s} rows (the split column must name train, val and test)")
    if not split_rows["test"]:
        print(f"warning: {args.manifest} has no test rows; the test scores in metrics.json will be null")
    for t in tasks:  # model selection needs a validation score for every task
        if not any(r[t] for r in split_rows["val"]):
            raise ValueError(f"{args.manifest}: no validation clip has a known {t} label, so {t} cannot be "
                             f"validated; label some validation speakers or drop {t} from --tasks")
    # The class list of each task comes from every split (labels only, never features): a class that only
    # validation or test speakers have is still a class the model can be scored on (and will miss).
    vocabs = manifest.build_vocabs(rows, tasks)  # {task: class names in natural order}
    for t in tasks:
        missing = set(vocabs[t]) - {r[t] for r in split_rows["train"]}
        if missing:
            print(f"warning: {t} class(es) {sorted(missing)} have no training clips; the model cannot learn them")
    cache_dir = cache.default_cache_dir()  # $MOKSORI_CACHE or <repo>/.cache, then features/
    split_feats, split_labels = {}, {}
    for s in SPLITS:  # every clip's full-length features, (*input_shape, T); computed once, then read from disk
        split_feats[s], split_rows[s], _ = cache.precompute(split_rows[s], args.input, cache_dir, args.workers,
                                                            args.denoise, args.skip_bad, progress=sys.stderr.isatty())
        split_labels[s] = np.stack([manifest.encode_labels(r, vocabs, tasks) for r in split_rows[s]]) \
            if split_rows[s] else np.zeros((0, len(tasks)), dtype=np.int64)  # (n_clips, n_tasks), -1 = unknown
except (ValueError, OSError) as err:  # bad manifest or audio: one line, no traceback, exit code 2
    print(f"train.py: error: {err}", file=sys.stderr)
    sys.exit(2)
print(f"data {args.manifest}: " + ", ".join(f"{s} {len(split_rows[s])}" for s in SPLITS) +
      f" clips [{time.perf_counter() - start:.1f} s]")
for t in tasks:
    print(f"  {t}: {len(vocabs[t])} classes {vocabs[t]}")

train_set = data.ProfilingDataset(split_feats["train"], split_labels["train"], args.input, train=True)
sampler = data.balanced_sampler(split_rows["train"], vocabs, args.balance)  # None for --balance none
config = {**vars(args), "tasks": tasks, "vocabs": vocabs}  # argument values + label vocabularies
out.mkdir(parents=True, exist_ok=True)
runs.save_json(config, out / "config.json")


def epoch_order(epoch):
    """Indices of the training clips for one epoch, drawn from a generator seeded with (seed, epoch) alone,
    so a resumed run sees exactly the batches an uninterrupted one would."""
    g = torch.Generator().manual_seed(args.seed * 100_003 + epoch)  # a prime: distinct for epochs < 100003
    if sampler is None:
        return torch.randperm(len(train_set), generator=g).tolist()
    sampler.generator = g
    return list(sampler)  # balanced draw with replacement, len(train_set) indices


def evaluate_split(model, split):
    """Utterance-level {task: (accuracy, balanced accuracy)} on one split, all windows of each clip."""
    if not split_feats[split]:  # e.g. the TIMIT sample has no test speakers: no score, written as null
        return {t: (math.nan, math.nan) for t in tasks}
    probs = runs.predict_clips(model, split_feats[split], args.input, device, args.batch_size)
    scores = {}
    for i, t in enumerate(tasks):
        y = split_labels[split][:, i]  # (n_clips,)
        known = y >= 0
        pred = probs[t].argmax(axis=1)  # (n_clips,)
        scores[t] = (metrics.accuracy(y[known], pred[known]), metrics.balanced_accuracy(y[known], pred[known]))
    return scores


# ----------------------------------------------------------------------------- 4. model
model = runs.model_from_config(config, vocabs).to(device)  # the same call evaluate.py uses to rebuild it
print(f"model {args.model}: {mtl.count_parameters(model):,} parameters, input {args.input} "
      f"{features.input_shape(args.input)} x {features.frames_per_window(args.input)}")

# ----------------------------------------------------------------------------- 5. optimiser
# AdamW at a constant learning rate: no schedule, so a resumed run may extend --epochs and still match an
# uninterrupted run of the new length exactly; early stopping on validation decides when to stop.
optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=args.weight_decay)
scaler = torch.amp.GradScaler("cuda", enabled=args.amp)  # scales float16 losses so small gradients survive


def checkpoint():
    """Everything needed to continue this run exactly: weights, optimiser, position, RNG states, config."""
    return {"model": model.state_dict(), "optimizer": optimizer.state_dict(), "scaler": scaler.state_dict(),
            "epoch": epoch, "step": step, "seconds": time.perf_counter() - clock, "sums": sums, "rng": runs.rng_states(train_set.rng),
            "best_score": best_score, "bad_epochs": bad_epochs, "config": config, "vocabs": vocabs}


def on_ctrl_c(signum, frame):
    """First Ctrl-C: finish the current step, save last.pt, exit. A second one stops at once (no saving)."""
    global stop_requested
    stop_requested = True
    signal.signal(signal.SIGINT, signal.default_int_handler)
    print("\nCtrl-C: saving last.pt after this step (press again to quit without saving)", file=sys.stderr)


def save_and_stop():
    runs.save_checkpoint(checkpoint(), out / "last.pt")
    signal.signal(signal.SIGINT, signal.default_int_handler)
    print(f"stopped after {epoch} epochs and {step} steps; saved {out / 'last.pt'}\n"
          f"continue with: python train.py --resume {out}", file=sys.stderr)
    sys.exit(130)  # the shell's code for "stopped by Ctrl-C"


# where training stands: epochs done, optimiser steps done in the current epoch, running sums of that epoch
epoch, step, elapsed, best_score, bad_epochs = 0, 0, 0.0, -math.inf, 0
sums = {"loss": 0.0, "n": 0, **{f"{t}_correct": 0 for t in tasks}, **{f"{t}_known": 0 for t in tasks}}
if args.resume:  # carry on exactly where last.pt was written
    model.load_state_dict(ckpt["model"])
    optimizer.load_state_dict(ckpt["optimizer"])
    scaler.load_state_dict(ckpt["scaler"])
    epoch, step, elapsed, sums = ckpt["epoch"], ckpt["step"], ckpt["seconds"], ckpt["sums"]
    best_score, bad_epochs = ckpt["best_score"], ckpt["bad_epochs"]
    runs.set_rng_states(ckpt["rng"], train_set.rng)  # python, numpy, torch, cuda and the crop generator
    print(f"resumed {args.resume} in epoch {epoch + 1} after step {step} (best val balanced acc {best_score:.3f})")

# ----------------------------------------------------------------------------- 6. the loop
head = "".join(f" | {t[:7]:>7} train   val   bal" for t in tasks)
print(f"epoch   loss{head} |    sec   ex/s")
n_steps = max(1, len(train_set) // args.batch_size)  # batches per epoch (the last, partial one is dropped)
clock = time.perf_counter() - elapsed  # seconds of training so far = time.perf_counter() - clock
stopped_early = args.patience > 0 and bad_epochs >= args.patience  # a resumed run that had already stopped
stop_requested = False
signal.signal(signal.SIGINT, on_ctrl_c)
while epoch < args.epochs and not stopped_early:
    t0 = time.perf_counter()
    if step == 0:  # a fresh epoch: its own crop generator, seeded by (seed, epoch) like its order
        sums = {k: 0 for k in sums}
        train_set.rng = np.random.default_rng([args.seed, epoch])
    order = epoch_order(epoch)[step * args.batch_size:]  # on resume: skip the batches already trained
    loader = DataLoader(train_set, batch_size=args.batch_size, sampler=order, num_workers=0,
                        drop_last=len(train_set) >= args.batch_size, pin_memory=device.type == "cuda")
    model.train()
    for x, y in loader:
        x = x.to(device, non_blocking=True)  # (B, *input_shape, L)
        y = y.to(device, non_blocking=True)  # (B, n_tasks) class indices, -1 = unknown
        with torch.autocast(device.type, dtype=torch.float16, enabled=args.amp):
            logits = model(x, y, teacher_forcing=True) if args.model == "cascade" else model(x)
            loss, _ = mtl.multitask_loss(logits, y, tasks)  # {task: (B, n_classes)} -> scalar
        if not torch.isfinite(loss):
            print(f"\ntrain.py: error: the loss became {loss.item()} in epoch {epoch + 1}, step {step + 1}: training "
                  f"diverged; try a smaller --lr (now {args.lr})" +
                  (f". {out / 'best.pt'} holds the best model so far." if (out / "best.pt").exists() else "."),
                  file=sys.stderr)
            sys.exit(1)
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.unscale_(optimizer)  # clip the true gradient, not the scaled one
        torch.nn.utils.clip_grad_norm_(model.parameters(), GRAD_CLIP)
        scaler.step(optimizer)
        scaler.update()

        B = y.shape[0]
        sums["loss"] += loss.item() * B
        sums["n"] += B
        for i, t in enumerate(tasks):
            known = y[:, i] >= 0  # (B,)
            sums[f"{t}_correct"] += (logits[t].argmax(1) == y[:, i])[known].sum().item()
            sums[f"{t}_known"] += known.sum().item()
        step += 1
        if sys.stderr.isatty():
            print(f"\r  epoch {epoch + 1} step {step}/{n_steps} loss {loss.item():.3f}", end="", file=sys.stderr)
        if stop_requested:
            save_and_stop()
    if sys.stderr.isatty():
        print("\r" + " " * 60 + "\r", end="", file=sys.stderr)

    train_seconds = time.perf_counter() - t0
    val = evaluate_split(model, "val")  # {task: (accuracy, balanced accuracy)}
    score = float(np.nanmean([val[t][1] for t in tasks]))  # mean validation balanced accuracy
    epoch, step = epoch + 1, 0
    if score > best_score:
        best_score, bad_epochs = score, 0
        runs.save_checkpoint({"model": model.state_dict(), "epoch": epoch, "score": score,
                              "config": config, "vocabs": vocabs}, out / "best.pt")
    else:
        bad_epochs += 1
    stopped_early = args.patience > 0 and bad_epochs >= args.patience
    runs.save_checkpoint(checkpoint(), out / "last.pt")

    row = {"epoch": epoch, "loss": sums["loss"] / max(sums["n"], 1)}
    for t in tasks:
        row[f"{t}_train_acc"] = sums[f"{t}_correct"] / max(sums[f"{t}_known"], 1)
        row[f"{t}_val_acc"], row[f"{t}_val_balanced_acc"] = val[t]
    row["seconds"], row["examples_per_s"] = time.perf_counter() - t0, sums["n"] / max(train_seconds, 1e-9)
    runs.append_history(out / "history.csv", row)
    cells = "".join(f" | {'':>7} {row[f'{t}_train_acc']:5.3f} {val[t][0]:5.3f} {val[t][1]:5.3f}" for t in tasks)
    mark = " *" if bad_epochs == 0 else ""  # * = new best.pt
    print(f"{epoch:5d} {row['loss']:6.3f}{cells} | {row['seconds']:6.1f} {row['examples_per_s']:6.0f}{mark}")
    if stop_requested:
        save_and_stop()
signal.signal(signal.SIGINT, signal.default_int_handler)  # from here on Ctrl-C simply stops
if stopped_early:
    print(f"early stop: no better mean validation balanced accuracy for {args.patience} epochs")
elapsed = time.perf_counter() - clock

# ----------------------------------------------------------------------------- 7. test, once, with best.pt
# The test split was never looked at above: best.pt was chosen on validation alone.
# majority_baseline: test accuracy of always answering the training set's most frequent class.
best = runs.load_checkpoint(out / "best.pt")
model.load_state_dict(best["model"])
scores = {s: evaluate_split(model, s) for s in SPLITS}
results = {"model": args.model, "input": args.input, "tasks": {}, "epochs": epoch,
           "seconds": round(elapsed, 1), "device": str(device)}
print(f"\nbest.pt (epoch {best['epoch']}), utterance-level:")
print(f"{'task':8} {'train':>6} {'val':>6} {'test':>6} {'test bal':>8} {'majority':>8}")
for i, t in enumerate(tasks):
    y_train, y_test = split_labels["train"][:, i], split_labels["test"][:, i]
    m = {"train_acc": scores["train"][t][0], "val_acc": scores["val"][t][0],
         "val_balanced_acc": scores["val"][t][1], "test_acc": scores["test"][t][0],
         "test_balanced_acc": scores["test"][t][1],
         "majority_baseline": metrics.majority_baseline(y_train[y_train >= 0], y_test[y_test >= 0])}
    results["tasks"][t] = {k: None if math.isnan(v) else round(v, 4) for k, v in m.items()}  # None: no test clips
    print(f"{t:8} {m['train_acc']:6.3f} {m['val_acc']:6.3f} {m['test_acc']:6.3f} {m['test_balanced_acc']:8.3f} "
          f"{m['majority_baseline']:8.3f}")
runs.save_json(results, out / "metrics.json")
print(f"{epoch} epochs in {elapsed:.0f} s on {device}; run folder {out}")
