"""Front door: train a speaker-profiling model (age, gender, dialect, any column, years) and write a run folder.

Reads top to bottom, like nanoGPT's train.py, and is one file on purpose (past STYLE.md's 300 lines): the
seven sections are the story of one run, and splitting them would hide it:
    1 arguments -> 2 seed, device, processes -> 3 data -> 4 model -> 5 optimiser -> 6 the loop -> 7 test, once
and an eighth starts the next run: the refit on training + validation speakers (the x-vector recipe's default).
The run folder (runs.py describes each file): config.json, manifest.csv, history.csv, best.pt, last.pt,
metrics.json. In the per-epoch table "train" is measured on the training batches as they go by (one random
window per clip, training mode); "val" and "bal" (balanced accuracy) are utterance-level: the class
probabilities averaged over every window of each validation clip.

    python train.py --model hps --input mfcc_f0                  # the built-in synthetic corpus, ~2 min on CPU
    python train.py --resume runs/hps-mfcc_f0-20250101-120000 --epochs 40
    torchrun --standalone --nproc_per_node 2 train.py --manifest m.csv    # one process per GPU (or CPU share)
"""
import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # one BLAS thread per process: --workers are the parallelism

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

import data
import features
import manifest
import mtl
import predict
import runs
import store
import synth_corpus

GRAD_CLIP = 1.0  # max L2 norm of the whole gradient; keeps the vanilla RNN's exploding gradients in check
SPLITS = ("train", "val", "test")
AUGMENTS = {"spec": (), "speed": ("speed0.9", "speed1.1"), "babble": ("babble",)}  # --augment -> store versions
# Each trunk's recipe: the settings it was measured with (README, "Results"); a flag you give wins over it.
# The x-vector's was chosen on speechocean762's validation speakers, piece by piece (README, "Results on real
# speech"); the slides' networks keep the settings of the original project's comparison.
RECIPE = dict(epochs=50, patience=20, lr=3e-3, schedule="constant", warmup_epochs=0.0, weight_decay=0.01,
              dropout=0.0, label_smoothing=0.0, crop_s=0.0, augment="", select="best", auto_refit=False, cmn=False)
RECIPES = {"xvector": dict(RECIPE, epochs=20, patience=0, lr=1e-3, schedule="cosine", warmup_epochs=1.0,
                           weight_decay=0.05, dropout=0.2, label_smoothing=0.1, crop_s=2.0, augment="spec",
                           select="last", auto_refit=True)}
SPEC_AUGMENT = {"n_time": 2, "time_width": 20, "n_freq": 2, "freq_width": 2}  # masks: frames, feature rows

# ----------------------------------------------------------------------------- 1. arguments
parser = argparse.ArgumentParser(description="Train a speaker-profiling model; see the module docstring.")
parser.add_argument("--manifest", help="manifest CSV (path,speaker,gender,age,dialect,split,...); default: the "
                    "built-in synthetic corpus, generated once into synth_corpus.default_corpus_dir()")
parser.add_argument("--speakers", type=int, default=synth_corpus.SYNTH_SPEAKERS,
                    help=f"built-in corpus: number of speakers (default {synth_corpus.SYNTH_SPEAKERS})")
parser.add_argument("--utterances", type=int, default=synth_corpus.SYNTH_UTTERANCES,
                    help=f"built-in corpus: 4 s clips per speaker (default {synth_corpus.SYNTH_UTTERANCES})")
parser.add_argument("--model", default="xvector", choices=mtl.MODELS, help="trunk (default xvector); any trunk "
                    "takes one task or several (hard parameter sharing); hps, lstm_mtl, cascade are the original "
                    "project's names for cnn, lstm and cnn --cascade")
parser.add_argument("--cascade", action="store_true", help="chain the task heads in --tasks order, each reading "
                    "the earlier ones' outputs (teacher forcing in training)")
parser.add_argument("--input", default="mfcc_f0", choices=features.INPUTS, help="model input (default mfcc_f0)")
parser.add_argument("--tasks", help="comma-separated manifest columns to predict (default: those of age, gender, "
                    f"dialect, {', '.join(manifest.NUMERIC_TASKS)} the manifest labels); "
                    f"{', '.join(manifest.NUMERIC_TASKS)} is predicted in years (MAE)")
parser.add_argument("--balance", help="none, joint (flatten every trained task's class shares at once) or one "
                    "task's name (default: joint for several tasks, the task itself for one)")
parser.add_argument("--epochs", type=int, help="maximum number of epochs (default: the trunk's recipe; with "
                    "--resume: the run's own, or a new total)")
parser.add_argument("--batch-size", type=int, default=32, help="clips per optimiser step, over all processes "
                    "(the global batch; each of N torchrun processes takes 1/N of it) (default 32)")
parser.add_argument("--lr", type=float, help="AdamW peak learning rate (default: the trunk's recipe)")
parser.add_argument("--schedule", choices=("constant", "cosine"), help="learning-rate schedule after the warm-up "
                    "(default: the trunk's recipe)")
parser.add_argument("--warmup-epochs", type=float, help="linear warm-up length in epochs (default: the recipe)")
parser.add_argument("--weight-decay", type=float, help="AdamW decoupled weight decay (default: the recipe)")
parser.add_argument("--dropout", type=float, help="dropout on the shared embedding before the heads (default: the "
                    "recipe)")
parser.add_argument("--label-smoothing", type=float, help="cross-entropy label smoothing (default: the recipe)")
parser.add_argument("--crop-s", type=float, help="training crop length in seconds, 0 = one model window (4 s); "
                    "shorter random crops of every clip are an augmentation; evaluation always reads whole clips "
                    "in 4 s windows (default: the recipe)")
parser.add_argument("--augment", help="comma-separated: spec (SpecAugment masks), speed (0.9/1.1 speed-perturbed "
                    "copies), babble (other speakers mixed in at 5-20 dB SNR) (default: the recipe)")
parser.add_argument("--speaker-weight", type=float, default=0.0, help="weight of an auxiliary task: telling the "
                    "training speakers apart (the x-vector's own task); 0 = off (default)")
parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"), help="auto = cuda when available")
parser.add_argument("--amp", action="store_true", help="CUDA only: float16 autocast with a gradient scaler")
parser.add_argument("--workers", type=int, default=2, help="processes for feature extraction and for cutting "
                    "batches (DataLoader workers) (default 2; 0 = cut batches in the training process)")
parser.add_argument("--store-dtype", default="float32", choices=store.DTYPES, help="feature store precision "
                    "(float16 halves disk and reads)")
parser.add_argument("--seed", type=int, default=0, help="seed of initialisation, sampling and crops (default 0)")
parser.add_argument("--out", help="run folder (default runs/<model>-<input>-<YYYYmmdd-HHMMSS>)")
parser.add_argument("--resume", metavar="RUN", help="continue RUN from RUN/last.pt with RUN's saved settings; "
                    "only --epochs may be given with it")
parser.add_argument("--refit", metavar="RUN", help="the last step of model selection: train again on RUN's "
                    "training and validation speakers together, with RUN's settings, seed and learning-rate schedule, "
                    "for the epochs of RUN's best.pt, then test once; only --out, --workers, --device, --amp may be "
                    "given with it")
parser.add_argument("--select", choices=("best", "last"), help="which epoch becomes best.pt (and the refit's epoch "
                    "count): best = the best validation score, with early stopping (--patience); last = the end of the "
                    "schedule, validation only reported (default: the trunk's recipe; last for xvector)")
parser.add_argument("--auto-refit", action=argparse.BooleanOptionalAction, help="when the run is tested, refit "
                    "it at once (--refit RUN) into RUN/refit: the final model, trained on the training and validation "
                    "speakers for the epochs validation chose (default: the trunk's recipe; on for xvector)")
parser.add_argument("--cmn", action=argparse.BooleanOptionalAction, help="cepstral mean normalisation: centre "
                    "the static cepstra (every log-mel band for mel) on their mean over each window, which removes a "
                    "fixed channel (default: the recipe; off)")
parser.add_argument("--patience", type=int, help="stop after this many epochs without a better validation score "
                    "(mean balanced accuracy; skill for a numeric task); 0 = never (default: the recipe)")
parser.add_argument("--denoise", action="store_true", help="Wiener-filter denoising (denoise.py) before features")
parser.add_argument("--skip-bad", action="store_true", help="skip unreadable clips with a warning, not an error")


def fail(message):
    """One line on stderr and exit code 2: how every bad input ends."""
    print(f"train.py: error: {message}", file=sys.stderr)
    sys.exit(2)


def take_settings(args, flag, checkpoint, allowed):
    """args with the settings saved in a run's checkpoint (--resume RUN, --refit RUN): a flag given beside them
    that is not in `allowed` is refused -> (args, the checkpoint)."""
    run = getattr(args, flag)
    given = {k for k, v in vars(args).items() if v != parser.get_default(k)} - {flag, *allowed}
    if given:
        parser.error(f"--{flag} uses {run}'s saved settings; only --{', --'.join(a.replace('_', '-') for a in allowed)}"
                     f" may change (got --{', --'.join(sorted(g.replace('_', '-') for g in given))})")
    if not (Path(run) / checkpoint).is_file():
        parser.error(f"--{flag} {run}: no {checkpoint} there to {'continue' if flag == 'resume' else 'start'} from")
    try:
        ckpt = runs.load_checkpoint(Path(run) / checkpoint)  # weights only: nothing in it can execute
        saved = {k: v for k, v in {**runs.LEGACY_SETTINGS, **ckpt["config"]}.items()
                 if (k in vars(args) or k == "manifest_sha1") and k not in allowed and k != flag}
        return argparse.Namespace(**{**vars(args), **saved, "tasks": ",".join(ckpt["config"]["tasks"])}), ckpt
    except (runs.CheckpointError, KeyError, TypeError) as err:
        fail(err if isinstance(err, runs.CheckpointError) else f"{run}/{checkpoint}: not a moksori checkpoint "
             f"(config lacks {err})")


def check_args(args):
    """Validate the flags (one line each, exit 2) and fill the defaults that depend on others; with --resume,
    take the run's saved settings and return its last.pt too -> (args, checkpoint or None); with --refit, take
    the settings of the run it refits and the epoch count of that run's best.pt."""
    ckpt, args.refit_epochs = None, None
    if args.resume:
        args, ckpt = take_settings(args, "resume", "last.pt", ("epochs", "auto_refit"))
        args.out, args.epochs = args.resume, ckpt["config"]["epochs"] if args.epochs is None else args.epochs
        if args.auto_refit is None:
            args.auto_refit = ckpt["config"].get("auto_refit", False)
    elif args.refit:
        args, best = take_settings(args, "refit", "best.pt", ("out", "workers", "device", "amp"))
        if best["config"].get("refit"):
            parser.error(f"--refit {args.refit}: that run is itself a refit (of {best['config']['refit']}); "
                         f"refit {best['config']['refit']} instead")
        # RUN's rows (its splits as drawn) and the epoch its validation score chose
        args.manifest, args.refit_epochs, args.resume = str(Path(args.refit) / "manifest.csv"), best["epoch"], None
    recipe = RECIPES.get(mtl.resolve(args.model)[0], RECIPE)
    for name, value in recipe.items():  # the trunk's recipe fills every setting not given
        setattr(args, name, value if getattr(args, name) is None else getattr(args, name))
    if args.tasks is not None:
        check_tasks(args.tasks.split(","), args)
    unknown = [a for a in args.augment.split(",") if a and a not in AUGMENTS]
    if unknown:
        parser.error(f"--augment {args.augment}: unknown {', '.join(unknown)}; expected some of {', '.join(AUGMENTS)}")
    try:
        runs.choose_device(args.device)
    except ValueError as err:
        parser.error(str(err))
    if args.amp and not (args.device != "cpu" and torch.cuda.is_available()):
        parser.error("--amp needs CUDA (float16 autocast); drop --amp to train on the CPU")
    for name in ("epochs", "batch_size", "lr", "speakers", "utterances"):
        if not getattr(args, name) > 0:  # "not > 0" also refuses nan
            parser.error(f"--{name.replace('_', '-')} must be positive, got {getattr(args, name)}")
    for name in ("weight_decay", "workers", "patience", "warmup_epochs", "speaker_weight", "label_smoothing", "crop_s",
                 "dropout"):
        if not getattr(args, name) >= 0:
            parser.error(f"--{name.replace('_', '-')} must be zero or positive, got {getattr(args, name)}")
    world = runs.distributed()[1]
    if args.batch_size % world:
        parser.error(f"--batch-size {args.batch_size} is the global batch: it must divide by the {world} processes")
    if args.manifest and not Path(args.manifest).is_file() and not args.resume:
        parser.error(f"--manifest {args.manifest}: file not found")
    args.out = args.out or f"runs/{args.model}-{args.input}-{datetime.now():%Y%m%d-%H%M%S}"
    if not args.resume and (Path(args.out) / "last.pt").exists():
        parser.error(f"--out {args.out} already holds a run; continue it with --resume {args.out} or choose another")
    return args, ckpt


def settle_tasks(rows, args):
    """Without --tasks: every usual label the manifest gives, in training and validation (checked as if given)."""
    if args.tasks is None:
        args.tasks = ",".join(manifest.default_tasks(rows))
        check_tasks(args.tasks.split(","), args)


def check_tasks(tasks, args):
    """Validate the task list against the other flags (one line, exit 2) and fill --balance's default."""
    if not all(tasks) or len(set(tasks)) != len(tasks):
        parser.error(f"--tasks {','.join(tasks)}: expected distinct, non-empty column names")
    classes = [t for t in tasks if t not in manifest.NUMERIC_TASKS]
    args.balance = args.balance or ("joint" if len(classes) > 1 else classes[0] if classes else "none")
    if args.balance not in ("none", "joint", *classes):
        parser.error(f"--balance {args.balance}: not a trained class task; choose none, joint or one of "
                     f"{', '.join(classes)}")
    try:
        mtl.check(args.model, args.input, len(tasks), args.cascade, "spec" in args.augment, args.cmn)
    except ValueError as err:
        parser.error(str(err))


args, ckpt = check_args(parser.parse_args())
aux_tasks = ["speaker"] if args.speaker_weight > 0 else []  # free labels: every corpus names its speakers
out = Path(args.out)

# ----------------------------------------------------------------------------- 2. seed, device, processes
device = runs.choose_device(args.device, runs.distributed()[2])
rank, world = runs.start_processes(device)  # (0, 1) unless started by torchrun
say = print if rank == 0 else (lambda *a, **k: None)  # only the first process prints and writes the run folder
random.seed(args.seed)
np.random.seed(args.seed)
torch.manual_seed(args.seed)  # also seeds every CUDA device
say(f"device {device}" + (f" ({torch.cuda.get_device_name(device)})" if device.type == "cuda" else
                          f" ({torch.get_num_threads()} threads)") + (", amp" if args.amp else "") +
    (f", {world} processes" if world > 1 else ""))

# ----------------------------------------------------------------------------- 3. data
start = time.perf_counter()
length = features.window_length(args.input)  # frames (samples for raw) in one evaluation window
step_s = 1 / features.SR if args.input == "raw" else features.HOP_LENGTH / features.SR  # seconds per frame (sample)
crop = min(length, round(args.crop_s / step_s)) if args.crop_s else length  # frames of a training crop
try:
    if rank == 0 and not args.resume:
        if args.manifest is None:  # the built-in corpus: synthesised once, then reused
            corpus = synth_corpus.default_corpus_dir(args.speakers, args.utterances)
            args.manifest = str(synth_corpus.make_synth_corpus(corpus, args.speakers, args.utterances,
                                                               workers=max(args.workers, 1)))
        rows = manifest.read_manifest(args.manifest, seed=args.seed)  # empty split cells: assigned by speaker
        if args.refit:  # RUN's validation speakers join its training speakers; its test split stays as it was
            rows = [dict(r, split="train") if r["split"] == "val" else r for r in rows]
        missing = [t for t in (args.tasks or "").split(",") if t and t not in rows[0]]
        if missing:
            raise ValueError(f"{args.manifest}: no column {', '.join(missing)} for --tasks {args.tasks}")
        settle_tasks(rows, args)  # before anything is written: a bad --model/--input pair leaves no run folder behind
        args.manifest_sha1 = runs.write_run_manifest(rows, args.manifest, out)["manifest_sha1"]
    runs.barrier()  # the other processes read the run's own manifest, written above
    config = ckpt["config"] if args.resume else None
    rows = runs.read_run_manifest(out, config or {"manifest": args.manifest or ""})
    args.manifest = args.manifest or str(out / "manifest.csv")  # processes other than the first
    split_rows = {s: [r for r in rows if r["split"] == s] for s in SPLITS}
    settle_tasks(rows, args)  # the other processes
    tasks = args.tasks.split(",")
    for s in ("train",) if args.refit else ("train", "val"):
        if not split_rows[s]:
            raise ValueError(f"{args.manifest}: no {s} rows (the split column must name train, val and test)")
    for t in [] if args.refit else tasks:  # model selection needs a validation score for every task
        if not any(r.get(t) for r in split_rows["val"]):
            raise ValueError(f"{args.manifest}: no validation clip has a known {t} label, so {t} cannot be "
                             f"validated; label some validation speakers or drop {t} from --tasks")
    # The class list of each task comes from every split (labels only, never features): a class that only
    # validation or test speakers have is still a class the model can be scored on (and will miss).
    vocabs = ckpt["vocabs"] if args.resume else {
        **manifest.build_vocabs(rows, tasks), **({"speaker": sorted({r["speaker"] for r in split_rows["train"]})}
                                                 if aux_tasks else {})}
    versions = ("orig",) + tuple(v for a in args.augment.split(",") if a for v in AUGMENTS[a])

    def open_store(s, workers):
        """The feature store of split s (extracting what is missing) -> (store, rows that could be read)."""
        found, kept, _ = store.build(split_rows[s], args.input, versions if s == "train" else ("orig",),
                                     args.denoise, workers, args.skip_bad, args.store_dtype,
                                     progress=rank == 0 and sys.stderr.isatty())
        return found, kept

    stores, labels = {}, {}
    if rank == 0:  # the first process extracts what is missing ...
        stores = {s: open_store(s, args.workers) for s in SPLITS}
    runs.barrier()
    if rank > 0:  # ... and the others open the shards it wrote
        stores = {s: open_store(s, 1) for s in SPLITS}
    for s in SPLITS:
        stores[s], split_rows[s] = stores[s]
        labels[s] = manifest.encode_labels(split_rows[s], vocabs, tasks)  # (n_clips, n_tasks), NaN = unknown
        if aux_tasks:  # the speaker column: training speakers only, unknown (NaN) elsewhere
            index = {name: k for k, name in enumerate(vocabs["speaker"])} if s == "train" else {}
            speaker = [index.get(r["speaker"], np.nan) for r in split_rows[s]]
            labels[s] = np.concatenate([labels[s], np.asarray(speaker, np.float32)[:, None]], axis=1)
except (ValueError, OSError) as err:  # bad manifest or audio: one line, no traceback, exit code 2
    fail(err)
n_val_speakers = len({r["speaker"] for r in split_rows["val"]})
say(f"data {args.manifest}: " + ", ".join(f"{s} {len(split_rows[s])}" for s in SPLITS) +
    f" clips; {n_val_speakers} validation speakers [{time.perf_counter() - start:.1f} s]")
if args.refit:
    say(f"refit of {args.refit}: its training and validation speakers together "
        f"({len({r['speaker'] for r in split_rows['train']})}), {args.refit_epochs} epochs (its best.pt) of its "
        f"{args.epochs}-epoch schedule; no validation, so best.pt is the last epoch")
elif n_val_speakers < manifest.MIN_VAL_SPEAKERS:
    say(f"warning: only {n_val_speakers} validation speakers: one speaker moves a validation accuracy by "
        f"{1 / max(n_val_speakers, 1):.2f}, so model selection is close to blind")
if not split_rows["test"]:
    say(f"warning: {args.manifest} has no test rows; the test scores in metrics.json will be null")
for t in tasks:
    say(f"  {t}: " + ("numeric (years), MAE" if vocabs[t] is None else f"{len(vocabs[t])} classes {vocabs[t]}"))
    missing = [] if vocabs[t] is None else sorted(set(vocabs[t]) - {r[t] for r in split_rows["train"]})
    if missing:
        say(f"warning: {t} class(es) {missing} have no training clips; the model cannot learn them")
# From here on the corpus is the stores and the label arrays. The rows go: DataLoader workers start as copies of
# this process, so every row dict kept here would be held again by each worker (bench.py --scale measures it).
del rows, split_rows

heads = tasks + aux_tasks  # the model's heads, in the order of the label columns
balance = [] if args.balance == "none" else [tasks.index(t) for t in tasks if vocabs[t] is not None
                                             and args.balance in ("joint", t)]
weights = data.balance_weights(labels["train"], balance) if balance else None  # (n_train,) mean 1
train_lengths = np.stack([stores["train"].lengths(v) for v in range(len(versions))], axis=1)  # (n, n_versions)
config = {**vars(args), "tasks": tasks, "aux_tasks": aux_tasks, "vocabs": vocabs, "loss_weights":
          {"speaker": args.speaker_weight} if aux_tasks else {}, "val_speakers": n_val_speakers}
if rank == 0:
    runs.save_json(config, out / "config.json")


class Plan:
    """The batches one process takes this epoch: its share of each global batch (the DataLoader's sampler)."""
    specs = []

    def __iter__(self):
        return iter(np.array_split(batch, world)[rank] for batch in self.specs)


plan = Plan()
loader = DataLoader(data.Batches(stores["train"], labels["train"], crop), sampler=plan, batch_size=None,
                    num_workers=args.workers, persistent_workers=args.workers > 0,
                    prefetch_factor=4 if args.workers > 0 else None, pin_memory=device.type == "cuda",
                    generator=torch.Generator())  # its own: a loader's seed draw must not move torch's global RNG

# ----------------------------------------------------------------------------- 4. model
model = runs.model_from_config(config, spec_augment=SPEC_AUGMENT if "spec" in args.augment else None)
if hasattr(model.trunk, "norm"):  # CMVN: every feature row's training mean and std (models.InputNorm)
    model.trunk.norm.set_statistics(*stores["train"].statistics())
for i, t in enumerate(heads):
    if vocabs[t] is None:  # a numeric head speaks in years: the training targets' mean and std
        y = labels["train"][:, i][~np.isnan(labels["train"][:, i])]
        model.heads[t].set_statistics(y.mean(), y.std())
model = model.to(device)
raw_model = model  # the model itself; `model` becomes its DistributedDataParallel wrapper under torchrun
if world > 1:
    model = torch.nn.parallel.DistributedDataParallel(model, device_ids=[device] if device.type == "cuda" else None)
say(f"model {args.model}{' (cascade)' if args.cascade else ''}: {mtl.count_parameters(raw_model):,} parameters, "
    f"input {args.input} {features.input_shape(args.input)} x {length}, heads {heads}")

# ----------------------------------------------------------------------------- 5. optimiser
optimizer = torch.optim.AdamW(raw_model.parameters(), lr=args.lr, weight_decay=args.weight_decay)
scaler = torch.amp.GradScaler("cuda", enabled=args.amp)  # scales float16 losses so small gradients survive
n_steps = len(data.epoch_plan(args.seed, 0, train_lengths, crop, args.batch_size))  # batches per epoch
scales = mtl.regression_scales(raw_model)  # numeric tasks' L1 loss in standard units
loss_weights = config["loss_weights"]


def checkpoint():
    """Everything needed to continue this run exactly: weights, optimiser, position, RNG states, config."""
    return {"model": raw_model.state_dict(), "optimizer": optimizer.state_dict(), "scaler": scaler.state_dict(),
            "epoch": epoch, "step": step, "seconds": time.perf_counter() - clock, "sums": sums,
            "rng": runs.rng_states(), "best_score": best_score, "bad_epochs": bad_epochs, "config": config,
            "vocabs": vocabs}


def on_ctrl_c(signum, frame):
    """First Ctrl-C: finish the current step, save last.pt, exit. A second one stops at once (no saving)."""
    global stop_requested
    stop_requested = True
    signal.signal(signal.SIGINT, signal.default_int_handler)
    say("\nCtrl-C: saving last.pt after this step (press again to quit without saving)", file=sys.stderr)


def agree(*flags):
    """Flags OR-ed over every process, so all stop (or fail) after the same step."""
    if world == 1:
        return flags
    t = torch.tensor([float(f) for f in flags])
    torch.distributed.all_reduce(t, op=torch.distributed.ReduceOp.MAX)
    return tuple(bool(v) for v in t)


def save_and_stop():
    if rank == 0:
        runs.save_checkpoint(checkpoint(), out / "last.pt")
    signal.signal(signal.SIGINT, signal.default_int_handler)
    say(f"stopped after {epoch} epochs and {step} steps; saved {out / 'last.pt'}\n"
        f"continue with: python train.py --resume {out}", file=sys.stderr)
    sys.exit(130)  # the shell's code for "stopped by Ctrl-C"


# where training stands: epochs done, optimiser steps done in the current epoch, running sums of that epoch
epoch, step, elapsed, best_score, bad_epochs = 0, 0, 0.0, -math.inf, 0
sums = {"loss": 0.0, "n": 0, **{f"{t}_{k}": 0.0 for t in tasks for k in ("hits", "known")}}
if args.resume:  # carry on exactly where last.pt was written
    raw_model.load_state_dict(ckpt["model"])
    optimizer.load_state_dict(ckpt["optimizer"])
    scaler.load_state_dict(ckpt["scaler"])
    epoch, step, elapsed, sums = ckpt["epoch"], ckpt["step"], ckpt["seconds"], ckpt["sums"]
    best_score, bad_epochs = ckpt["best_score"], ckpt["bad_epochs"]
    runs.set_rng_states(ckpt["rng"])  # python, numpy, torch, cuda
    say(f"resumed {args.resume} in epoch {epoch + 1} after step {step} (best validation score {best_score:.3f})")


def column(t):
    """Per-epoch table columns of task t: train / val / balanced accuracy, or train / val MAE and skill."""
    return f" | {t[:9]:>9} " + ("train   val   bal" if vocabs[t] is not None else "t_mae v_mae skill")


# ----------------------------------------------------------------------------- 6. the loop
say(f"epoch   loss{''.join(column(t) for t in tasks)} |    sec   ex/s")
clock = time.perf_counter() - elapsed  # seconds of training so far = time.perf_counter() - clock
stopped_early = args.patience > 0 and bad_epochs >= args.patience  # a resumed run that had already stopped
stop_requested = False
signal.signal(signal.SIGINT, on_ctrl_c)
while epoch < (args.refit_epochs or args.epochs) and not stopped_early:
    t0 = time.perf_counter()
    if step == 0:  # a fresh epoch
        sums = {k: 0.0 for k in sums}
    plan.specs = data.epoch_plan(args.seed, epoch, train_lengths, crop, args.batch_size, weights)[step:]
    model.train()
    for x, lengths, y in loader:
        for group in optimizer.param_groups:
            group["lr"] = runs.learning_rate(args.lr, args.schedule, epoch, step, n_steps, args.epochs,
                                             args.warmup_epochs)
        x = x.to(device, non_blocking=True)  # (b, *input_shape, L), b = batch / processes
        lengths = lengths.to(device, non_blocking=True)  # (b,) real frames of each window
        y = y.to(device, non_blocking=True)  # (b, n_heads) labels, NaN = unknown
        with torch.autocast(device.type, dtype=torch.float16, enabled=args.amp):
            outputs = model(x, lengths, y)  # {head: (b, n_classes) or (b,)}; y only for the cascade's forcing
            loss, _ = mtl.multitask_loss(outputs, y, heads, loss_weights, scales, args.label_smoothing)
        if agree(not torch.isfinite(loss))[0]:
            say(f"\ntrain.py: error: the loss became {loss.item()} in epoch {epoch + 1}, step {step + 1}: training "
                f"diverged; try a smaller --lr (now {args.lr})" +
                (f". {out / 'best.pt'} holds the best model so far." if (out / "best.pt").exists() else "."),
                file=sys.stderr)
            sys.exit(1)
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()  # under torchrun, DDP averages the gradients of all processes here
        scaler.unscale_(optimizer)  # clip the true gradient, not the scaled one
        torch.nn.utils.clip_grad_norm_(raw_model.parameters(), GRAD_CLIP)
        scaler.step(optimizer)
        scaler.update()

        seen = raw_model.free_outputs if getattr(raw_model, "free_outputs", None) else outputs  # cascade: unforced
        sums["loss"] += loss.item() * len(y)
        sums["n"] += len(y)
        for i, t in enumerate(tasks):
            known = ~torch.isnan(y[:, i])  # (b,)
            hit = (seen[t].argmax(1) == y[:, i]) if vocabs[t] is not None else (seen[t].float() - y[:, i]).abs()
            sums[f"{t}_hits"] += hit[known].float().sum().item()  # correct answers, or absolute errors
            sums[f"{t}_known"] += known.sum().item()
        step += 1
        if sys.stderr.isatty():
            say(f"\r  epoch {epoch + 1} step {step}/{n_steps} loss {loss.item():.3f}", end="", file=sys.stderr)
        if agree(stop_requested)[0]:
            save_and_stop()
    if sys.stderr.isatty():
        say("\r" + " " * 60 + "\r", end="", file=sys.stderr)

    train_seconds = time.perf_counter() - t0
    totals = {k: sum(s[k] for s in runs.gather(sums)) for k in sums}  # all processes' batches
    if args.refit:  # no validation speakers: each epoch counts as better, so best.pt ends as the last epoch
        val, score = {t: dict.fromkeys(("acc", "balanced_acc", "mae", "skill"), math.nan) for t in tasks}, epoch + 1.0
    else:  # with --select last every epoch counts as better too, and validation is only reported
        val = predict.task_scores(predict.predict_everywhere(raw_model, stores["val"], args.input, device),
                                  labels["val"], labels["train"], tasks, vocabs)
        score = predict.selection_score(val) if args.select == "best" else epoch + 1.0
    epoch, step = epoch + 1, 0
    if score > best_score:
        best_score, bad_epochs = score, 0
        if rank == 0:
            runs.save_checkpoint({"model": raw_model.state_dict(), "epoch": epoch, "score": score,
                                  "config": config, "vocabs": vocabs}, out / "best.pt")
    else:
        bad_epochs += 1
    stopped_early = args.patience > 0 and bad_epochs >= args.patience
    row, cells = {"epoch": epoch, "loss": totals["loss"] / max(totals["n"], 1)}, ""
    for t in tasks:
        train_value = totals[f"{t}_hits"] / max(totals[f"{t}_known"], 1)  # accuracy, or MAE
        if vocabs[t] is None:
            row.update({f"{t}_train_mae": train_value, f"{t}_val_mae": val[t]["mae"], f"{t}_val_skill": val[t]["skill"]})
            cells += f" | {'':>9} {train_value:5.2f} {val[t]['mae']:5.2f} {val[t]['skill']:5.3f}"
        else:
            row.update({f"{t}_train_acc": train_value, f"{t}_val_acc": val[t]["acc"],
                        f"{t}_val_balanced_acc": val[t]["balanced_acc"]})
            cells += f" | {'':>9} {train_value:5.3f} {val[t]['acc']:5.3f} {val[t]['balanced_acc']:5.3f}"
    row["seconds"], row["examples_per_s"] = time.perf_counter() - t0, totals["n"] / max(train_seconds, 1e-9)
    if rank == 0:
        runs.save_checkpoint(checkpoint(), out / "last.pt")
        runs.append_history(out / "history.csv", row)
    mark = " *" if bad_epochs == 0 else ""  # * = new best.pt
    say(f"{epoch:5d} {row['loss']:6.3f}{cells} | {row['seconds']:6.1f} {row['examples_per_s']:6.0f}{mark}")
    if agree(stop_requested)[0]:
        save_and_stop()
signal.signal(signal.SIGINT, signal.default_int_handler)  # from here on Ctrl-C simply stops
if stopped_early:
    say(f"early stop: no better validation score for {args.patience} epochs")
elapsed = time.perf_counter() - clock

# ----------------------------------------------------------------------------- 7. test, once, with best.pt
# The test split was never looked at above: best.pt was chosen on validation alone.
runs.barrier()
best = runs.load_checkpoint(out / "best.pt")
raw_model.load_state_dict(best["model"])
scores = {s: predict.task_scores(predict.predict_everywhere(raw_model, stores[s], args.input, device) if len(stores[s])
                                 else {}, labels[s], labels["train"], tasks, vocabs) for s in SPLITS}
results = {"model": args.model, "input": args.input, "tasks": {}, "epochs": epoch, "seconds": round(elapsed, 1),
           "device": str(device), "val_speakers": n_val_speakers}
say(f"\nbest.pt (epoch {best['epoch']}), utterance-level:")
say(f"{'task':10} {'train':>6} {'val':>6} {'val bal':>7} {'test':>6} {'test bal':>8} {'majority':>8}")
for t in tasks:
    if vocabs[t] is None:  # a numeric task: mean absolute errors, baseline = always the training median
        m = {"train_mae": scores["train"][t]["mae"], "val_mae": scores["val"][t]["mae"], "test_mae": scores["test"][t]["mae"],
             "val_skill": scores["val"][t]["skill"], "test_skill": scores["test"][t]["skill"],
             "baseline_mae": scores["test"][t]["baseline_mae"]}
        say(f"{t:10} {m['train_mae']:6.2f} {m['val_mae']:6.2f} {'':7} {m['test_mae']:6.2f} {'':8} {m['baseline_mae']:8.2f}"
            "  (MAE; baseline: the training median)")
    else:
        m = {"train_acc": scores["train"][t]["acc"], "train_balanced_acc": scores["train"][t]["balanced_acc"],
             "val_acc": scores["val"][t]["acc"], "val_balanced_acc": scores["val"][t]["balanced_acc"], "test_acc": scores["test"][t]["acc"],
             "test_balanced_acc": scores["test"][t]["balanced_acc"], "majority_baseline": scores["test"][t]["majority"]}
        say(f"{t:10} {m['train_acc']:6.3f} {m['val_acc']:6.3f} {m['val_balanced_acc']:7.3f} {m['test_acc']:6.3f} "
            f"{m['test_balanced_acc']:8.3f} {m['majority_baseline']:8.3f}")
    results["tasks"][t] = {k: None if math.isnan(v) else round(v, 4) for k, v in m.items()}  # None: no clips
if rank == 0:
    runs.save_json(results, out / "metrics.json")
say(f"{epoch} epochs in {elapsed:.0f} s on {device}" + (f" x {world}" if world > 1 else "") + f"; run folder {out}")
if torch.distributed.is_initialized():
    torch.distributed.destroy_process_group()

# ----------------------------------------------------------------------------- 8. refit, with the recipe's auto_refit
# Validation chose the epoch count; the final model also learns from the validation speakers (scikit-learn's
# refit=True). On a small corpus that is a quarter more voices, and it is what beats the classic baseline.
if args.auto_refit and not args.refit and rank == 0:
    refit = ["train.py", "--refit", str(out), "--out", str(out / "refit"), "--workers", str(args.workers),
             "--device", args.device] + (["--amp"] if args.amp else [])
    if not len(labels["test"]):
        say(f"no test rows (a cross-validation fold?): no refit; to make one: python {' '.join(refit)}")
    elif (out / "refit" / "last.pt").exists():
        say(f"{out / 'refit'} holds a refit already; to continue it: python train.py --resume {out / 'refit'}")
    elif world > 1:  # one process cannot start the others: say what to run
        say(f"next, the refit: torchrun --nproc_per_node {world} {' '.join(refit)}")
    else:  # this process becomes the refit: its memory and DataLoader workers go first, Ctrl-C reaches the refit
        say(f"\nrefit on the training and validation speakers: python {' '.join(refit)}", flush=True)
        del loader
        os.execv(sys.executable, [sys.executable, str(Path(__file__).resolve()), *refit[1:]])
