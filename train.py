"""Train: a speaker-profiling model (age, gender, dialect, any column, age in years) -> a run folder.

Reads top to bottom, like nanoGPT's train.py: `train(args)` is one run in seven sections,
    1 settings -> 2 seed, device, processes -> 3 data -> 4 model -> 5 optimiser -> 6 the loop -> 7 test, once
and `main` runs it, then (in the x-vector recipe) once more as the refit: on the training and validation speakers,
for the epochs validation chose. What a student can skip is one named call each: the run folder, checkpoints, Ctrl-C,
resume and torchrun's agreement (scale/runs.py), the flag checks (scale/settings.py), features on disk
(scale/store.py). In the epoch rows "train" is measured on the training batches as they go by (one random crop per
clip, training mode); "val" and "bal" (balanced accuracy) are utterance-level (mtl.predict: all windows of a clip).

    python train.py --model hps --input mfcc_f0                  # the built-in synthetic corpus, a few minutes
    python train.py --manifest so762.csv                         # the x-vector recipe, then RUN/refit
    python train.py --resume RUN --epochs 40                     # a stopped run continued (scale/runs.py)
    torchrun --standalone --nproc_per_node 2 train.py --manifest m.csv    # one process per GPU (or CPU share)
"""
import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # one BLAS thread per process: --workers are the parallelism

import argparse  # noqa: E402 -- after the environment line above, on purpose
import math
import time
from pathlib import Path

import numpy as np
import torch

import data
import features
import metrics
import mtl
import sampling
from scale import runs  # seam: the run folder (one run, one folder; atomic files; checkpoints; Ctrl-C; resume)
from scale import settings  # seam: the flags and the manifest's splits checked, one line each
from scale.settings import number  # an argparse type: a number inside its range, or one line naming the flag

# ----------------------------------------------------------------------------- 1. settings
# Each kind of trunk trains with the settings it was measured with (docs/results.md): the x-vector's recipe is
# the flags' defaults; --model names of the original project's trunks switch to theirs. A flag you give wins.
RECIPES = {"xvector": dict(epochs=20, lr=1e-3, schedule="cosine", warmup_epochs=1.0, weight_decay=0.05, dropout=0.2,
                           label_smoothing=0.1, crop_s=2.0, augment="spec", select="last", patience=0, auto_refit=True),
           "original": dict(epochs=50, lr=3e-3, schedule="constant", warmup_epochs=0.0, weight_decay=0.01,
                            dropout=0.0, label_smoothing=0.0, crop_s=0.0, augment="", select="best", patience=20,
                            auto_refit=False)}  # chosen on speechocean762's validation folds; the original comparison
GRAD_CLIP = 1.0  # max L2 norm of the whole gradient; keeps the vanilla RNN's exploding gradients in check
SPLITS = ("train", "val", "test")
AUGMENTS = {"spec": (), "speed": ("speed0.9", "speed1.1"), "babble": ("babble",),  # --augment -> stored copies
            "channel": ("chan1", "chan2"), "voice": ("voice1", "voice2")}  # phones, rooms; effort, pitch (extras/)

parser = argparse.ArgumentParser(description="Train a speaker-profiling model; see the module docstring.")
flag = parser.add_argument
flag("--manifest", help="manifest CSV (path,speaker,gender,age,dialect,split,...); default: the built-in corpus")
flag("--model", default="xvector", choices=mtl.MODELS, help="trunk (hps, lstm_mtl, cascade: the original's names)")
flag("--input", default="mfcc_f0", choices=features.INPUTS, help="model input")
flag("--tasks", help="comma-separated columns to predict (default: the labelled of age, gender, dialect, age_years)")
flag("--cascade", action="store_true", help="chain the heads in --tasks order, each reading the earlier ones' outputs")
flag("--balance", default="joint", help="none, joint (every class task's classes at once) or one task")
flag("--epochs", type=number(int, 1, 10**6), help="number of epochs")
flag("--batch-size", type=number(int, 1, 10**5), default=32, help="clips per optimiser step, all processes")
flag("--lr", type=number(float, 0, 1, low_open=True), help="AdamW peak learning rate")
flag("--schedule", choices=("constant", "cosine"), help="learning rate after the warm-up")
flag("--warmup-epochs", type=number(float, 0, 10**6), help="linear warm-up length in epochs")
flag("--weight-decay", type=number(float, 0, 1), help="AdamW decoupled weight decay")
flag("--dropout", type=number(float, 0, 0.99), help="dropout on the shared embedding")
flag("--label-smoothing", type=number(float, 0, 0.99), help="cross-entropy label smoothing")
flag("--crop-s", type=number(float, 0, 3600), help="training crop in seconds, 0 = one 4 s window")
flag("--augment", help="comma-separated: spec (SpecAugment), speed, babble, channel (phones, rooms, codecs), voice")
flag("--cmn", action=argparse.BooleanOptionalAction, default=False, help="cepstral mean normalisation per window")
flag("--pitch", action=argparse.BooleanOptionalAction, default=False, help="the heads also read F0 statistics")
flag("--vocal-tract", action=argparse.BooleanOptionalAction, default=False, help="... and formants' (mfcc_f0_vt)")
flag("--select", choices=("best", "last"), help="best.pt = the best validation epoch (early stopping) or the last")
flag("--patience", type=number(int, 0, 10**6), help="stop after this many epochs without a better score; 0 = never")
flag("--auto-refit", action=argparse.BooleanOptionalAction, help="then refit on train + val speakers into RUN/refit")
flag("--speaker-weight", type=number(float, 0, 100), default=0.0, help="weight of telling the speakers apart (0 = off)")
flag("--adversary", type=number(float, 0, 100), default=0.0, help="weight of a corpus head behind a gradient reversal")
flag("--seed", type=number(int, 0, 2**32 - 1), default=0, help="seed of initialisation, sampling and crops")
flag("--device", default="auto", choices=("auto", "cpu", "cuda"), help="auto = cuda when available")
flag("--amp", action="store_true", help="CUDA only: float16 autocast with a gradient scaler")
flag("--workers", type=number(int, 0, 1024), default=2, help="processes extracting features (cutting batches, --store)")
flag("--out", help="run folder (default runs/<model>-<input>-<YYYYmmdd-HHMMSS>)")
flag("--resume", metavar="RUN", help="continue RUN from RUN/last.pt with its saved settings")
flag("--refit", metavar="RUN", help="train RUN again on its train + val speakers for its best.pt's epochs")
flag("--skip-bad", action="store_true", help="skip unreadable clips, counted and listed")
flag("--denoise", action="store_true", help="Wiener-filter denoising before features (extras/denoise.py)")
flag("--store", action="store_true", help="features on disk (scale/store.py), not in memory; torchrun implies it")
flag("--store-dtype", default="float32", choices=("float32", "float16"), help="--store precision")
parser.set_defaults(**RECIPES["xvector"], refit_epochs=None)  # refit_epochs: set by --refit (RUN's best epochs)


def parse(argv):
    """The command line -> (args, the checkpoint --resume continues or None): the recipe of --model's trunk as
    the defaults, a run's saved settings under --resume and --refit, every flag checked (one line, exit 2)."""
    model = parser.parse_known_args(argv)[0].model
    recipe = "xvector" if mtl.ALIASES.get(model, (model,))[0] == "xvector" else "original"
    parser.set_defaults(**RECIPES[recipe])
    args, ckpt = parser.parse_args(argv), None
    if args.resume or args.refit:  # the run's own settings, saved in its checkpoint (and its last.pt)
        from scale import resume  # seam: continuing and refitting runs
        args, ckpt = resume.settings(args, parser, argv)
    args.out = args.out or f"runs/{args.model}-{args.input}-{time.strftime('%Y%m%d-%H%M%S')}"
    settings.check(args, parser, AUGMENTS)  # every flag against the others, before any data is read
    return args, ckpt


def learning_rate(base, schedule, epoch, step, steps_per_epoch, epochs, warmup_epochs=0.0):
    """The learning rate of optimiser step `step` of epoch `epoch` (both from 0), from those numbers alone --
    so a resumed run repeats the uninterrupted one exactly.

    g = epoch * steps_per_epoch + step, G = epochs * steps_per_epoch, W = warmup_epochs * steps_per_epoch:
        warm-up     lr = base * (g + 1) / W                       while g < W (linear, Goyal et al. 2017)
        constant    lr = base
        cosine      lr = base * (1 + cos(pi * (g - W) / (G - W))) / 2    (Loshchilov & Hutter 2017, no restarts)"""
    g, G, W = epoch * steps_per_epoch + step, epochs * steps_per_epoch, warmup_epochs * steps_per_epoch
    if g < W:
        return base * (g + 1) / W
    if schedule == "cosine":
        return base * 0.5 * (1.0 + math.cos(math.pi * min(g - W, G - W) / max(G - W, 1)))
    return base


def epoch_row(epoch, sums, val, tasks, vocabs, by_corpus):
    """One epoch -> (its history.csv row, its printed cells): per task the training accuracy (numeric: MAE) of
    the batches as they went by, then validation accuracy and balanced accuracy (MAE and skill); by corpus too."""
    row, cells = {"epoch": epoch, "loss": sums["loss"] / max(sums["n"], 1)}, ""
    for t in tasks:
        first, second = ("acc", "balanced_acc") if vocabs[t] is not None else ("mae", "skill")
        values = {f"{t}_train_{first}": sums[f"{t}_hits"] / max(sums[f"{t}_known"], 1),
                  f"{t}_val_{first}": val[t][first], f"{t}_val_{second}": val[t][second]}
        row.update(values)
        cells += f" | {'':>9} " + " ".join(f"{v:5.2f}" if k.endswith("mae") else f"{v:5.3f}" for k, v in values.items())
    row.update({f"val_score_{c}": metrics.selection_score(v) for c, v in by_corpus.items()})
    return row, cells + (" | " + " ".join(f"{c} {row[f'val_score_{c}']:.3f}" for c in by_corpus) if by_corpus else "")


def train(args, ckpt=None):
    """One run, start to finish -> (its folder, number of test clips). ckpt: the last.pt --resume continues."""
    out = Path(args.out)
    # free labels, never scored: every corpus names its speakers; a merged manifest names its corpora
    aux_tasks = ["speaker"] * (args.speaker_weight > 0) + ["corpus"] * (args.adversary > 0)

    # ------------------------------------------------------------------------- 2. seed, device, processes
    rank, world, device = runs.processes(args.device)  # torchrun: this process's number, how many, its GPU
    say = print if rank == 0 else (lambda *a, **k: None)  # only the first process prints and writes the run folder
    torch.manual_seed(args.seed)  # initialisation, dropout, SpecAugment (every CUDA device too); batches: epoch_plan
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"{torch.get_num_threads()} threads"
    say(f"device {device} ({name})" + (", amp" if args.amp else "") + (f", {world} processes" if world > 1 else ""))

    # ------------------------------------------------------------------------- 3. data
    start = time.perf_counter()
    step_s = 1 / features.SR if args.input == "raw" else features.HOP_LENGTH / features.SR  # seconds per frame
    length = features.window_length(args.input)  # frames (samples for raw) of one evaluation window
    crop = min(length, round(args.crop_s / step_s)) if args.crop_s else length  # frames of a training crop
    versions = ("orig",) + tuple(v for a in args.augment.split(",") if a for v in AUGMENTS[a])
    on_disk = args.store or world > 1 or len(versions) > 1  # augmented copies live in the store
    needed = ("train",) if args.refit else ("train", "val")  # a refit has no validation speakers
    try:
        if args.manifest is None:  # the built-in corpus: synthesised once, then reused
            from extras import synth_corpus  # seam: the course's synthetic voices
            args.manifest = str(synth_corpus.make_synth_corpus(synth_corpus.default_corpus_dir(),
                                                               workers=max(args.workers, 1)))
        if args.resume:  # the run's own manifest, its splits as drawn
            from scale.checkpoints import read_run_manifest  # seam: a run folder read back
            rows = read_run_manifest(out, ckpt["config"])
        else:  # empty split cells are assigned by speaker
            rows = data.read_manifest(args.manifest, seed=args.seed)
        if args.refit:  # RUN's validation speakers join its training speakers; its test split stays as it was
            rows = [dict(r, split="train") if r["split"] == "val" else r for r in rows]
        settings.check_splits(rows, needed, (args.tasks or "").split(","), args.manifest, adversary=args.adversary > 0)
        if args.tasks is None:  # every usual label the manifest gives in training and validation
            args.tasks = ",".join(settings.default_tasks(rows))
            settings.check_tasks(args.tasks.split(","), args)
        tasks = args.tasks.split(",")
        heads = tasks + aux_tasks  # the model's heads, in the order of the label columns
        vocabs = ckpt["vocabs"] if args.resume else {
            **data.build_vocabs(rows, tasks),  # from every split: a class only test speakers have is still scored
            **{a: sorted({r.get(a, "") for r in rows if r["split"] == "train"} - {""}) for a in aux_tasks}}
        if not on_disk:  # in memory: refused at once, naming --store, when the features would not fit
            settings.check_memory(rows, args.input)
        feats, split_rows, labels = {}, {}, {}
        for s in SPLITS:
            mine = [r for r in rows if r["split"] == s]
            if on_disk:  # features on disk, built by the first process; training also keeps augmented copies
                from scale import store  # seam: corpora larger than memory, torchrun, augmented copies
                feats[s], split_rows[s], _ = store.build_shared(mine, args.input, versions if s == "train" else
                                                                ("orig",), args.denoise, args.workers,
                                                                args.skip_bad, args.store_dtype)
            else:  # every clip's features, computed once, in memory
                feats[s], split_rows[s], _ = data.load_features(mine, args.input, args.denoise, args.workers,
                                                                args.skip_bad)
            # (n_clips, n_heads), NaN = unknown; the auxiliary labels (speaker, corpus) of training clips only
            labels[s] = data.encode_labels(split_rows[s], vocabs, heads if s == "train" else tasks)
            labels[s] = np.pad(labels[s], ((0, 0), (0, len(heads) - labels[s].shape[1])), constant_values=np.nan)
        settings.check_splits(split_rows, needed, tasks, args.manifest, after_reading=True)  # before any writing
        manifest_sha1 = runs.claim_run_folder(out, args, rows, ckpt)  # one run, one folder; its manifest as trained
    except (ValueError, OSError) as err:  # bad manifest or audio: one line, no traceback, exit code 2
        runs.fail(str(err).splitlines()[0])
    n_val_speakers = len({r["speaker"] for r in split_rows["val"]})
    say(f"data {args.manifest}: " + ", ".join(f"{s} {len(split_rows[s])}" for s in SPLITS) +
        f" clips; {n_val_speakers} validation speakers [{time.perf_counter() - start:.1f} s]")
    for line in settings.split_notes(split_rows, tasks, vocabs, args):
        say(line)  # a refit's speakers; the tasks' classes; warnings: few validation speakers, no test clips, ...
    balance = [] if args.balance == "none" else [i for i, t in enumerate(tasks) if vocabs[t] is not None
                                                 and args.balance in ("joint", t)]
    corpus_of = {s: np.array([r.get("corpus", "") for r in split_rows[s]]) for s in SPLITS}  # python -m corpora merge
    corpora = sorted({str(c) for c in corpus_of["train"]} - {""})
    # several corpora: balanced over them too, so the largest does not drown the rest; (n_train,) mean 1
    weights = sampling.balance_weights(labels["train"], balance, corpus_of["train"]) if balance else None
    config = {**vars(args), "manifest_sha1": manifest_sha1, "tasks": tasks, "aux_tasks": aux_tasks, "vocabs": vocabs,
              "loss_weights": {a: {"speaker": args.speaker_weight, "corpus": args.adversary}[a] for a in aux_tasks},
              "adversarial": ["corpus"] * (args.adversary > 0), "val_speakers": n_val_speakers,
              "corpora": corpora or sorted({r.get("source", "") for r in split_rows["train"]} - {""}),
              "ranges": {t: [float(np.nanmin(labels["train"][:, i])), float(np.nanmax(labels["train"][:, i]))]
                         for i, t in enumerate(tasks) if vocabs[t] is None}}  # what numeric heads learnt
    if rank == 0:
        runs.save_json(config, out / "config.json")
    del rows, split_rows  # from here on the corpus is the features and the label arrays

    def batches_of(epoch, step):
        """The epoch's batches from optimiser step `step` on, as (x, lengths, y) arrays -- in memory, cut right
        here; on disk, one stored version of each clip, this process's share, cut by DataLoader workers."""
        if on_disk:
            return store.epoch_batches(feats["train"], labels["train"], crop, args, epoch, step, weights, device)
        plan = sampling.epoch_plan(args.seed, epoch, feats["train"].lengths(), crop, args.batch_size, weights)
        return (sampling.Batches(feats["train"], labels["train"], crop)[spec] for spec in plan[step:])

    # ------------------------------------------------------------------------- 4. model
    model = mtl.from_config(config, train=True)  # the trunk and a head per task; SpecAugment if asked for
    if hasattr(model.trunk, "norm"):  # CMVN: every feature row's training mean and std (models.InputNorm)
        model.trunk.norm.set_statistics(*feats["train"].statistics())
    for i, t in enumerate(heads):
        if vocabs[t] is None:  # a numeric head speaks in years: the training targets' mean and std
            y = labels["train"][:, i][~np.isnan(labels["train"][:, i])]
            model.heads[t].set_statistics(y.mean(), y.std())
    model = raw_model = model.to(device)  # `model` becomes the DistributedDataParallel wrapper under torchrun
    if world > 1:
        model = torch.nn.parallel.DistributedDataParallel(model, device_ids=[device] if device.type == "cuda" else None)
    say(f"model {args.model}{' (cascade)' if args.cascade else ''}: {mtl.count_parameters(raw_model):,} parameters, "
        f"input {args.input} {features.input_shape(args.input)} x {length}, heads {heads}")

    # ------------------------------------------------------------------------- 5. optimiser
    optimizer = torch.optim.AdamW(raw_model.parameters(), lr=args.lr, weight_decay=args.weight_decay)
    scaler = torch.amp.GradScaler("cuda", enabled=args.amp)  # --amp: float16 losses scaled so gradients survive
    n_steps = max(len(labels["train"]) // args.batch_size, 1)  # optimiser steps per epoch (sampling.epoch_plan)
    scales = mtl.regression_scales(raw_model)  # numeric tasks' L1 loss in standard units
    at = runs.Progress(tasks)  # where training stands: epochs, steps, this epoch's sums, the best score so far
    if ckpt is not None:  # --resume: last.pt's weights, optimiser, position and random states
        from scale import resume  # seam: continuing a run exactly where it stopped
        at = resume.restore(ckpt, raw_model, optimizer, scaler, out, say)
    last_pt = lambda: runs.last_pt(raw_model, optimizer, scaler, at, config)  # noqa: E731 -- all --resume needs
    by_corpus = len(corpora) > 1 and not args.refit  # each corpus's validation score too

    # ------------------------------------------------------------------------- 6. the loop
    say("epoch   loss" + "".join(f" | {t[:9]:>9} " + ("t_mae v_mae skill" if vocabs[t] is None else "train   val   bal")
                            for t in tasks) + (" | val score by corpus" if by_corpus else "") + " |    sec   ex/s")
    stop, lr = runs.CtrlC(say), math.nan  # Ctrl-C, until stop.close(): finish the step, save last.pt, exit
    while at.epoch < (args.refit_epochs or args.epochs) and not at.stopped(args.patience):
        t0 = time.perf_counter()
        model.train()
        for x, lengths, y in batches_of(at.epoch, at.step):
            lr = learning_rate(args.lr, args.schedule, at.epoch, at.step, n_steps, args.epochs, args.warmup_epochs)
            for group in optimizer.param_groups:
                group["lr"] = lr
            x = torch.as_tensor(x).to(device, non_blocking=True)  # (b, *input_shape, L), b = batch / processes
            lengths = torch.as_tensor(lengths).to(device, non_blocking=True)  # (b,) real frames of each window
            y = torch.as_tensor(y).to(device, non_blocking=True)  # (b, n_heads) labels, NaN = unknown
            with torch.autocast(device.type, dtype=torch.float16, enabled=args.amp):
                outputs = model(x, lengths, y)  # {head: (b, n_classes) or (b,)}; y only for the cascade's forcing
                loss, _ = mtl.multitask_loss(outputs, y, heads, config["loss_weights"], scales, args.label_smoothing)
            runs.stop_if_diverged(loss, at, args, out)  # a NaN or inf loss: one line and exit, in every process
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()  # without --amp the scale is 1; under torchrun DDP averages gradients here
            scaler.unscale_(optimizer)  # clip the true gradient, not the scaled one
            torch.nn.utils.clip_grad_norm_(raw_model.parameters(), GRAD_CLIP)
            scaler.step(optimizer)  # optimizer.step() (under --amp skipped when a gradient overflowed)
            scaler.update()
            at.step_done(loss, getattr(raw_model, "free_outputs", None) or outputs, y, tasks, vocabs)  # the sums
            stop.save_if_asked(last_pt, at, out, device)  # Ctrl-C: last.pt after this step, then exit 130
        seconds, sums = time.perf_counter() - t0, at.next_epoch()  # the epoch's sums over every process's batches
        val_out = mtl.predict(raw_model, feats["val"], args.input, device)  # every process: all agree on best.pt
        val = metrics.task_scores(val_out, labels["val"], labels["train"], tasks, vocabs)  # a refit: NaN, no clips
        if at.better(metrics.selection_score(val) if args.select == "best" and not args.refit else at.epoch):
            runs.save_best(raw_model, at, config, out)  # the best validation score so far, or simply the last epoch
        corpus_scores = metrics.scores_by_corpus(val_out, labels["val"], labels["train"], tasks, vocabs,
                                                 corpus_of["val"]) if by_corpus else {}
        row, cells = epoch_row(at.epoch, sums, val, tasks, vocabs, corpus_scores)
        row.update(lr=lr, seconds=time.perf_counter() - t0, examples_per_s=sums["n"] / max(seconds, 1e-9))
        runs.end_epoch(last_pt, row, out)  # last.pt and history.csv (the first process writes them)
        say(f"{at.epoch:5d} {row['loss']:6.3f}{cells} | {row['seconds']:6.1f} {row['examples_per_s']:6.0f}"
            + (" *" if at.bad_epochs == 0 else ""))  # * = a new best.pt
        stop.save_if_asked(last_pt, at, out, device)
    stop.close()  # from here on Ctrl-C simply stops
    elapsed = at.seconds()
    if at.stopped(args.patience):
        say(f"early stop: no better validation score for {args.patience} epochs")

    # ------------------------------------------------------------------------- 7. test, once, with best.pt
    # The test split was never looked at above: best.pt was chosen on validation alone.
    best = runs.load_best(raw_model, out)
    outputs = {s: mtl.predict(raw_model, feats[s], args.input, device) for s in SPLITS}  # {task: (n, K) or (n,)}
    scores = {s: metrics.task_scores(outputs[s], labels[s], labels["train"], tasks, vocabs) for s in SPLITS}
    say(f"\nbest.pt (epoch {best['epoch']}), utterance-level")
    say("baseline: always the training majority class (numeric tasks: MAE, skill, MAE of the training median)")
    say(f"{'task':10} {'train':>6} {'val':>6} {'val bal':>7} {'test':>6} {'test bal':>8} {'baseline':>8}")
    table = {}
    for t in tasks:
        first, second, base = ("acc", "balanced_acc", "majority") if vocabs[t] is not None else \
            ("mae", "skill", "baseline_mae")
        table[t] = {f"{s}_{k}": scores[s][t][k] for s in SPLITS for k in (first, second)}
        table[t]["majority_baseline" if base == "majority" else base] = scores["test"][t][base]
        shown = [v for k, v in table[t].items() if k != f"train_{second}"]  # train, val, val bal, test, test bal, base
        say(f"{t:10} " + " ".join(f"{v:{w}.3f}" for v, w in zip(shown, (6, 6, 7, 6, 8, 8))))
    results = {"model": args.model, "input": args.input, "tasks": metrics.rounded(table), "epochs": at.epoch,
               "seconds": round(elapsed, 1), "device": str(device), "val_speakers": n_val_speakers}
    if len(corpora) > 1:  # every corpus's own validation and test scores
        results["corpora"] = {s: metrics.rounded(metrics.scores_by_corpus(
            outputs[s], labels[s], labels["train"], tasks, vocabs, corpus_of[s])) for s in ("val", "test")}
    from scale import calibration  # seam: temperature scaling, fitted on the validation speakers (a refit: its run's)
    temperature = calibration.of_run(args.refit) if args.refit else \
        calibration.fit(outputs["val"], labels["val"], tasks, vocabs)
    if rank == 0:
        runs.save_json(temperature, out / "calibration.json")
        runs.save_json(results, out / "metrics.json")
    say(f"{at.epoch} epochs in {elapsed:.0f} s on {device}" + (f" x {world}" if world > 1 else "") +
        f"; run folder {out}")
    return out, len(labels["test"])


def run(argv):
    """parse, then train; every failure is one line -> (args, run folder, number of test clips)."""
    args, ckpt = parse(argv)
    with runs.one_line_failures(args.out, args.refit):  # Ctrl-C outside the loop, a closed pipe, a full disk
        return (args, *train(args, ckpt))


def main(argv=None):
    from scale import console  # seam: what a command prints -- on any terminal, each warning one line
    console.any_terminal()  # Korean labels under LANG=C: escapes, not a crash that strands the run
    with console.one_line_warnings():
        args, out, n_test = run(argv)
        if args.auto_refit and not args.refit:  # 8. the refit: the final model also learns from validation speakers
            from scale import resume  # seam: refitting runs
            if refit := resume.refit_argv(args, out, n_test):
                run(refit)
    if torch.distributed.is_initialized():
        torch.distributed.destroy_process_group()
    runs.flush_quietly()  # what is still buffered, into a pipe that may have closed (train.py ... | head -1)


if __name__ == "__main__":
    main()
