"""Train: a speaker-profiling model (age, gender, dialect, any column, age in years) -> a run folder.

Reads top to bottom, like nanoGPT's train.py; `train(args)` is the story of one run in seven sections:
    1 arguments -> 2 seed, device, processes -> 3 data -> 4 model -> 5 optimiser -> 6 the loop -> 7 test, once
and `main` runs it, then -- in the x-vector recipe -- once more as the refit: the training and validation
speakers together, for the epochs validation chose. What a run writes: scale/runs.py. In the per-epoch table
"train" is measured on the training batches as they go by (one random crop per clip, training mode); "val" and
"bal" (balanced accuracy) are utterance-level (evaluate.predict: every window of every clip).

    python train.py --model hps --input mfcc_f0                  # the built-in synthetic corpus, a few minutes
    python train.py --manifest so762.csv                         # the x-vector recipe, then RUN/refit
    python train.py --resume RUN --epochs 40                     # a stopped run continued (scale/runs.py)
    torchrun --standalone --nproc_per_node 2 train.py --manifest m.csv    # one process per GPU (or CPU share)
"""
import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # one BLAS thread per process: --workers are the parallelism

import argparse  # noqa: E402 -- after the environment line above, on purpose
import math
import sys
import time
from datetime import datetime
from pathlib import Path

import numpy as np
import torch

import data
import evaluate
import features
import models
import mtl
import sampling
from scale import runs  # seam: the run folder (one run, one folder; atomic files; checkpoints)
from scale import settings  # seam: the flags and the manifest's splits checked, one line each

GRAD_CLIP = 1.0  # max L2 norm of the whole gradient; keeps the vanilla RNN's exploding gradients in check
SPLITS = ("train", "val", "test")
AUGMENTS = {"spec": (), "speed": ("speed0.9", "speed1.1"), "babble": ("babble",),  # --augment -> stored versions
            "channel": ("chan1", "chan2")}  # extras/channel.py: phones, rooms, codecs, noise
SPEC_AUGMENT = {"n_time": 2, "time_width": 20, "n_freq": 2, "freq_width": 2}  # masks: frames, feature rows
# Each trunk's recipe: the settings it was measured with (docs/results.md); a flag you give wins over it. The
# x-vector's was chosen on speechocean762's validation folds, piece by piece; the slides' networks keep the
# settings of the original project's comparison.
RECIPE = dict(epochs=50, patience=20, lr=3e-3, schedule="constant", warmup_epochs=0.0, weight_decay=0.01,
              dropout=0.0, label_smoothing=0.0, crop_s=0.0, augment="", select="best", auto_refit=False, cmn=False,
              pitch=False)
RECIPES = {"xvector": dict(RECIPE, epochs=20, patience=0, lr=1e-3, schedule="cosine", warmup_epochs=1.0,
                           weight_decay=0.05, dropout=0.2, label_smoothing=0.1, crop_s=2.0, augment="spec",
                           select="last", auto_refit=True)}


# ----------------------------------------------------------------------------- 1. arguments
parser = argparse.ArgumentParser(description="Train a speaker-profiling model; see the module docstring.")
flag = parser.add_argument
flag("--manifest", help="manifest CSV (path,speaker,gender,age,dialect,split,...); default: the built-in corpus")
flag("--model", default="xvector", choices=mtl.MODELS, help="trunk (hps, lstm_mtl, cascade: the slides' names)")
flag("--input", default="mfcc_f0", choices=features.INPUTS, help="model input (default mfcc_f0)")
flag("--tasks", help="comma-separated columns to predict (default: the labelled of age, gender, dialect, age_years)")
flag("--cascade", action="store_true", help="chain the heads in --tasks order, each reading the earlier ones' outputs")
flag("--balance", help="none, joint (every class task's classes at once) or one task (default: joint)")
flag("--epochs", type=int, help="number of epochs (default: the trunk's recipe, RECIPES)")
flag("--batch-size", type=int, default=32, help="clips per optimiser step, over all processes (default 32)")
flag("--lr", type=float, help="AdamW peak learning rate")
flag("--schedule", choices=("constant", "cosine"), help="learning rate after the warm-up")
flag("--warmup-epochs", type=float, help="linear warm-up length in epochs")
flag("--weight-decay", type=float, help="AdamW decoupled weight decay")
flag("--dropout", type=float, help="dropout on the shared embedding")
flag("--label-smoothing", type=float, help="cross-entropy label smoothing")
flag("--crop-s", type=float, help="training crop in seconds, 0 = one 4 s window (evaluation reads whole clips)")
flag("--augment", help="comma-separated: spec (SpecAugment), speed, babble, channel (phones, rooms, codecs, noise)")
flag("--cmn", action=argparse.BooleanOptionalAction, help="cepstral mean normalisation over each window")
flag("--pitch", action=argparse.BooleanOptionalAction, help="the heads also read each window's F0 statistics")
flag("--select", choices=("best", "last"), help="best.pt = the best validation epoch (early stopping) or the last")
flag("--patience", type=int, help="stop after this many epochs without a better validation score; 0 = never")
flag("--auto-refit", action=argparse.BooleanOptionalAction, help="then refit on train + val speakers into RUN/refit")
flag("--speaker-weight", type=float, default=0.0, help="weight of telling the training speakers apart (0 = off)")
flag("--adversary", type=float, default=0.0, help="weight of a corpus head behind a gradient reversal (0 = off)")
flag("--seed", type=int, default=0, help="seed of initialisation, sampling and crops (default 0)")
flag("--device", default="auto", choices=("auto", "cpu", "cuda"), help="auto = cuda when available")
flag("--amp", action="store_true", help="CUDA only: float16 autocast with a gradient scaler")
flag("--workers", type=int, default=2, help="processes extracting features (and cutting batches, --store)")
flag("--out", help="run folder (default runs/<model>-<input>-<YYYYmmdd-HHMMSS>)")
flag("--resume", metavar="RUN", help="continue RUN from RUN/last.pt with its saved settings")
flag("--refit", metavar="RUN", help="train RUN again on its train + val speakers for its best.pt's epochs")
flag("--skip-bad", action="store_true", help="skip unreadable clips, counted and listed")
flag("--denoise", action="store_true", help="Wiener-filter denoising before features (extras/denoise.py)")
flag("--store", action="store_true", help="features on disk (scale/store.py), not in memory; torchrun implies it")
flag("--store-dtype", default="float32", choices=("float32", "float16"), help="--store precision")
parser.set_defaults(refit_epochs=None)  # not a flag: scale/resume.py sets it for --refit (RUN's best.pt's epochs)


def parse(argv):
    """The command line -> (args, the checkpoint --resume continues or None): a run's saved settings under --resume
    and --refit, the recipe's where no flag was given, every flag checked (a problem is one line, exit 2)."""
    args, ckpt = parser.parse_args(argv), None
    if args.resume or args.refit:  # the run's own settings, saved in its checkpoint (and its last.pt)
        from scale import resume  # seam: continuing and refitting runs
        args, ckpt = resume.settings(args, parser)
    for name, value in RECIPES.get(mtl.resolve(args.model)[0], RECIPE).items():  # a flag given wins over the recipe
        setattr(args, name, value if getattr(args, name) is None else getattr(args, name))
    args.out = args.out or f"runs/{args.model}-{args.input}-{datetime.now():%Y%m%d-%H%M%S}"
    settings.check(args, parser, AUGMENTS)  # every flag against the others, before any data is read
    return args, ckpt


def fail(message):
    """One line on stderr and exit code 2: how every bad input ends."""
    print(f"train.py: error: {message}", file=sys.stderr)
    sys.exit(2)


def learning_rate(base, schedule, epoch, step, steps_per_epoch, epochs, warmup_epochs=0.0):
    """The learning rate of optimiser step `step` of epoch `epoch` (both from 0), from those numbers alone --
    so a resumed run repeats the uninterrupted one exactly.

    g = epoch * steps_per_epoch + step, G = epochs * steps_per_epoch, W = warmup_epochs * steps_per_epoch:
        warm-up     lr = base * (g + 1) / W                       while g < W (linear, Goyal et al. 2017)
        constant    lr = base
        cosine      lr = base * (1 + cos(pi * (g - W) / (G - W))) / 2    (Loshchilov & Hutter 2017, no restarts)
    """
    g, G, W = epoch * steps_per_epoch + step, epochs * steps_per_epoch, warmup_epochs * steps_per_epoch
    if g < W:
        return base * (g + 1) / W
    if schedule == "cosine":
        return base * 0.5 * (1.0 + math.cos(math.pi * min(g - W, G - W) / max(G - W, 1)))
    return base


def train(args, ckpt=None):
    """One run, start to finish -> (its folder, number of test clips). ckpt: the last.pt --resume continues."""
    out = Path(args.out)
    # free labels, never scored: every corpus names its speakers; a merged manifest names its corpora
    aux_tasks = ["speaker"] * (args.speaker_weight > 0) + ["corpus"] * (args.adversary > 0)

    # ------------------------------------------------------------------------- 2. seed, device, processes
    rank, world = int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1))  # torchrun sets these
    device = models.choose_device(args.device, int(os.environ.get("LOCAL_RANK", 0)))
    if world > 1 and not torch.distributed.is_initialized():
        if device.type == "cuda":
            torch.cuda.set_device(device)
        torch.distributed.init_process_group("nccl" if device.type == "cuda" else "gloo")
    say = print if rank == 0 else (lambda *a, **k: None)  # only the first process prints and writes the run folder
    torch.manual_seed(args.seed)  # initialisation, dropout, SpecAugment (every CUDA device too); batches: epoch_plan
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"{torch.get_num_threads()} threads"
    say(f"device {device} ({name})" + (", amp" if args.amp else "") + (f", {world} processes" if world > 1 else ""))

    # ------------------------------------------------------------------------- 3. data
    start = time.perf_counter()
    length = features.window_length(args.input)  # frames (samples for raw) in one evaluation window
    step_s = 1 / features.SR if args.input == "raw" else features.HOP_LENGTH / features.SR  # seconds per frame
    crop = min(length, round(args.crop_s / step_s)) if args.crop_s else length  # frames of a training crop
    versions = ("orig",) + tuple(v for a in args.augment.split(",") if a for v in AUGMENTS[a])
    on_disk = args.store or world > 1 or len(versions) > 1  # speed/babble copies live in the store
    needed = ("train",) if args.refit else ("train", "val")  # a refit has no validation speakers
    try:
        if args.manifest is None:  # the built-in corpus: synthesised once, then reused
            from extras import synth_corpus  # seam: the course's synthetic voices
            args.manifest = str(synth_corpus.make_synth_corpus(synth_corpus.default_corpus_dir(),
                                                               workers=max(args.workers, 1)))
        # --resume: the run's own manifest, its splits as drawn; else empty split cells are assigned by speaker
        rows = runs.read_run_manifest(out, ckpt["config"]) if args.resume else \
            data.read_manifest(args.manifest, seed=args.seed)
        if args.refit:  # RUN's validation speakers join its training speakers; its test split stays as it was
            rows = [dict(r, split="train") if r["split"] == "val" else r for r in rows]
        settings.check_splits(rows, needed, (args.tasks or "").split(","), args.manifest, adversary=args.adversary > 0)
        if args.tasks is None:  # every usual label the manifest gives in training and validation
            args.tasks = ",".join(data.default_tasks(rows))
            settings.check_tasks(args.tasks.split(","), args)
        tasks = args.tasks.split(",")
        heads = tasks + aux_tasks  # the model's heads, in the order of the label columns
        vocabs = ckpt["vocabs"] if args.resume else {
            **data.build_vocabs(rows, tasks),  # from every split: a class only test speakers have is still scored
            **{a: sorted({r.get(a, "") for r in rows if r["split"] == "train"} - {""}) for a in aux_tasks}}
        feats, split_rows, labels = {}, {}, {}
        for s in SPLITS:
            mine, kept = [r for r in rows if r["split"] == s], versions if s == "train" else ("orig",)
            if on_disk:  # features on disk, built by the first process (scale/store.py)
                from scale import store  # seam: corpora larger than memory, torchrun, speed/babble copies
                feats[s], split_rows[s], _ = store.build_shared(mine, args.input, kept, args.denoise, args.workers,
                                                                args.skip_bad, args.store_dtype)
            else:  # every clip's features, computed once, in memory
                feats[s], split_rows[s], _ = data.load_features(mine, args.input, args.denoise, args.workers,
                                                                args.skip_bad)
            # (n_clips, n_heads), NaN = unknown; the auxiliary labels (speaker, corpus) of training clips only
            labels[s] = data.encode_labels(split_rows[s], vocabs, heads if s == "train" else tasks)
            labels[s] = np.pad(labels[s], ((0, 0), (0, len(heads) - labels[s].shape[1])), constant_values=np.nan)
        settings.check_splits(split_rows, needed, tasks, args.manifest, after_reading=True)  # before any writing
        manifest_sha1 = ckpt["config"].get("manifest_sha1") if args.resume else None
        if rank == 0:  # the run folder is this process's from here on: one run, one folder
            runs.claim(out, resume=bool(args.resume))
        if rank == 0 and not args.resume:
            manifest_sha1 = runs.write_run_manifest(rows, args.manifest, out)["manifest_sha1"]
    except (ValueError, OSError) as err:  # bad manifest or audio: one line, no traceback, exit code 2
        fail(str(err).splitlines()[0])
    n_val_speakers = len({r["speaker"] for r in split_rows["val"]})
    say(f"data {args.manifest}: " + ", ".join(f"{s} {len(split_rows[s])}" for s in SPLITS) +
        f" clips; {n_val_speakers} validation speakers [{time.perf_counter() - start:.1f} s]")
    for line in settings.split_notes(split_rows, tasks, vocabs, args):
        say(line)  # a refit's speakers; the tasks' classes; warnings: few validation speakers, no test clips, ...
    balance = [] if args.balance == "none" else [i for i, t in enumerate(tasks) if vocabs[t] is not None
                                                 and args.balance in ("joint", t)]
    corpus_of = {s: np.array([r.get("corpus", "") for r in split_rows[s]]) for s in SPLITS}  # data.py merge
    corpora = sorted({str(c) for c in corpus_of["train"]} - {""})
    # several corpora: balanced over them too, so the largest does not drown the rest; (n_train,) mean 1
    weights = sampling.balance_weights(labels["train"], balance, corpus_of["train"]) if balance else None
    train_lengths = np.stack([feats["train"].lengths(v) for v in range(len(versions))], axis=1)  # (n, n_versions)
    batches = sampling.Batches(feats["train"], labels["train"], crop)
    config = {**vars(args), "manifest_sha1": manifest_sha1, "tasks": tasks, "aux_tasks": aux_tasks, "vocabs": vocabs,
              "loss_weights": {a: {"speaker": args.speaker_weight, "corpus": args.adversary}[a] for a in aux_tasks},
              "adversarial": ["corpus"] * (args.adversary > 0), "val_speakers": n_val_speakers,
              "corpora": corpora or sorted({r.get("source", "") for r in split_rows["train"]} - {""})}
    if rank == 0:
        runs.save_json(config, out / "config.json")
    del rows, split_rows  # from here on the corpus is the features and the label arrays

    # ------------------------------------------------------------------------- 4. model
    model = evaluate.model_from_config(config, spec_augment=SPEC_AUGMENT if "spec" in args.augment else None)
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
    scaler = torch.amp.GradScaler("cuda", enabled=args.amp)  # scales float16 losses so small gradients survive
    n_steps = len(sampling.epoch_plan(args.seed, 0, train_lengths, crop, args.batch_size))  # batches per epoch
    scales = mtl.regression_scales(raw_model)  # numeric tasks' L1 loss in standard units
    # where training stands: epochs done, optimiser steps done in this epoch, running sums of this epoch
    epoch, step, elapsed, best_score, bad_epochs = 0, 0, 0.0, -math.inf, 0
    sums = {"loss": 0.0, "n": 0, **{f"{t}_{k}": 0.0 for t in tasks for k in ("hits", "known")}}
    if ckpt is not None:  # --resume: carry on exactly where last.pt was written (weights, RNG states too)
        epoch, step, elapsed, sums, best_score, bad_epochs = runs.restore(ckpt, raw_model, optimizer, scaler)
        say(f"resumed {out} in epoch {epoch + 1} after step {step} (best validation score {best_score:.3f})")

    def last_pt():
        """Everything needed to continue this run exactly: weights, optimiser, position, RNG states, config."""
        return {"model": raw_model.state_dict(), "optimizer": optimizer.state_dict(), "scaler": scaler.state_dict(),
                "epoch": epoch, "step": step, "seconds": time.perf_counter() - clock, "sums": sums,
                "rng": runs.rng_states(), "best_score": best_score, "bad_epochs": bad_epochs, "config": config,
                "vocabs": vocabs}

    def batches_of(specs):
        """This process's share of each global batch, cut in DataLoader workers (--store) or right here."""
        mine = [np.array_split(spec, world)[rank] for spec in specs]
        if on_disk and args.workers > 0:  # workers read the store's files while this process trains
            return torch.utils.data.DataLoader(batches, sampler=mine, batch_size=None, num_workers=args.workers,
                                               pin_memory=device.type == "cuda", generator=torch.Generator())
        return (batches[spec] for spec in mine)

    # ------------------------------------------------------------------------- 6. the loop
    by_corpus = len(corpora) > 1 and not args.refit  # each corpus's validation score too
    say("epoch   loss" + "".join(f" | {t[:9]:>9} " + ("train   val   bal" if vocabs[t] is not None else
                                                      "t_mae v_mae skill") for t in tasks) +
        (" | val score by corpus" if by_corpus else "") + " |    sec   ex/s")
    clock = time.perf_counter() - elapsed  # seconds of training so far = time.perf_counter() - clock
    stopped_early = args.patience > 0 and bad_epochs >= args.patience  # a resumed run that had already stopped
    lr = math.nan
    stop = runs.CtrlC(say)  # from now until stop.close(): Ctrl-C finishes the step, saves last.pt and exits
    while epoch < (args.refit_epochs or args.epochs) and not stopped_early:
        t0 = time.perf_counter()
        if step == 0:  # a fresh epoch
            sums = {k: 0.0 for k in sums}
        model.train()
        for x, lengths, y in batches_of(sampling.epoch_plan(args.seed, epoch, train_lengths, crop, args.batch_size,
                                                        weights)[step:]):
            lr = learning_rate(args.lr, args.schedule, epoch, step, n_steps, args.epochs, args.warmup_epochs)
            for group in optimizer.param_groups:
                group["lr"] = lr
            x = torch.as_tensor(x).to(device, non_blocking=True)  # (b, *input_shape, L), b = batch / processes
            lengths = torch.as_tensor(lengths).to(device, non_blocking=True)  # (b,) real frames of each window
            y = torch.as_tensor(y).to(device, non_blocking=True)  # (b, n_heads) labels, NaN = unknown
            with torch.autocast(device.type, dtype=torch.float16, enabled=args.amp):
                outputs = model(x, lengths, y)  # {head: (b, n_classes) or (b,)}; y only for the cascade's forcing
                loss, _ = mtl.multitask_loss(outputs, y, heads, config["loss_weights"], scales, args.label_smoothing)
            if runs.agree(not torch.isfinite(loss), device):  # every process, the same step
                fail(f"the loss became {loss.item()} in epoch {epoch + 1}, step {step + 1}: training diverged; try "
                     f"a smaller --lr (now {args.lr})" + (f". {out / 'best.pt'} holds the best model so far"
                                                         if (out / "best.pt").exists() else ""))
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
            if runs.agree(stop.asked, device):  # every process stops after the same step
                stop.save_and_exit(last_pt() if rank == 0 else None, out, epoch, step)

        train_seconds = time.perf_counter() - t0
        totals = dict(sums)
        if world > 1:  # every process's batches
            parts = [None] * world
            torch.distributed.all_gather_object(parts, sums)
            totals = {k: sum(p[k] for p in parts) for k in sums}
        if args.refit:  # no validation speakers: best.pt ends as the last epoch
            val, score = {t: dict.fromkeys(("acc", "balanced_acc", "mae", "skill"), math.nan) for t in tasks}, epoch + 1
        else:  # every process scores the (few) validation clips itself, so all agree on best.pt
            outputs = evaluate.predict(raw_model, feats["val"], args.input, device)
            val = evaluate.task_scores(outputs, labels["val"], labels["train"], tasks, vocabs)
            score = evaluate.selection_score(val) if args.select == "best" else epoch + 1  # last: each epoch is better
        epoch, step = epoch + 1, 0
        if score > best_score:
            best_score, bad_epochs = score, 0
            if rank == 0:
                runs.save_checkpoint({"model": raw_model.state_dict(), "epoch": epoch, "score": score,
                                      "config": config, "vocabs": vocabs}, out / "best.pt")
        else:
            bad_epochs += 1
        stopped_early = args.patience > 0 and bad_epochs >= args.patience
        corpus_scores = evaluate.scores_by_corpus(outputs, labels["val"], labels["train"], tasks, vocabs,
                                                  corpus_of["val"]) if by_corpus else {}
        row, cells = evaluate.epoch_row(epoch, totals, val, tasks, vocabs, corpus_scores)
        row.update(lr=lr, seconds=time.perf_counter() - t0, examples_per_s=totals["n"] / max(train_seconds, 1e-9))
        if rank == 0:
            runs.save_checkpoint(last_pt(), out / "last.pt")
            runs.append_history(out / "history.csv", row)
        say(f"{epoch:5d} {row['loss']:6.3f}{cells} | {row['seconds']:6.1f} {row['examples_per_s']:6.0f}"
            + (" *" if bad_epochs == 0 else ""))  # * = a new best.pt
        if runs.agree(stop.asked, device):  # every process stops after the same epoch
            stop.save_and_exit(last_pt() if rank == 0 else None, out, epoch, step)
    stop.close()  # from here on Ctrl-C simply stops
    if stopped_early:
        say(f"early stop: no better validation score for {args.patience} epochs")
    elapsed = time.perf_counter() - clock

    # ------------------------------------------------------------------------- 7. test, once, with best.pt
    # The test split was never looked at above: best.pt was chosen on validation alone.
    if world > 1:
        torch.distributed.barrier()
    best = runs.load_checkpoint(out / "best.pt")
    raw_model.load_state_dict(best["model"])
    outputs = {s: evaluate.predict(raw_model, feats[s], args.input, device) for s in SPLITS}
    scores = {s: evaluate.task_scores(outputs[s], labels[s], labels["train"], tasks, vocabs) for s in SPLITS}
    say(f"\nbest.pt (epoch {best['epoch']}), utterance-level")
    table = evaluate.run_table(scores, tasks, vocabs, say)  # printed; {task: its scores} for metrics.json
    results = {"model": args.model, "input": args.input, "tasks": evaluate.rounded(table), "epochs": epoch,
               "seconds": round(elapsed, 1), "device": str(device), "val_speakers": n_val_speakers}  # None: no clips
    if len(corpora) > 1:  # every corpus's own validation and test scores
        results["corpora"] = {s: evaluate.rounded(evaluate.scores_by_corpus(
            outputs[s], labels[s], labels["train"], tasks, vocabs, corpus_of[s])) for s in ("val", "test")}
    if rank == 0:
        runs.save_json(results, out / "metrics.json")
    say(f"{epoch} epochs in {elapsed:.0f} s on {device}" + (f" x {world}" if world > 1 else "") + f"; run folder {out}")
    return out, len(labels["test"])


def run(argv):
    """parse, then train; every failure is one line -> (args, run folder, number of test clips)."""
    args, ckpt = parse(argv)
    try:
        return (args, *train(args, ckpt))
    except KeyboardInterrupt:  # Ctrl-C outside the loop (reading, extracting, testing): nothing half-written
        runs.interrupted(args.out)
    except (OSError, ValueError) as err:  # a full disk, a damaged checkpoint: the file is named, last.pt survives
        fail(str(err).splitlines()[0])
    finally:
        runs.release(args.out)


def main(argv=None):
    args, out, n_test = run(argv)
    if args.auto_refit and not args.refit:  # 8. the refit: the final model also learns from the validation speakers
        from scale import resume  # seam: refitting runs
        refit = resume.refit_argv(args, out, n_test)
        if refit:
            run(refit)
    if torch.distributed.is_initialized():
        torch.distributed.destroy_process_group()


if __name__ == "__main__":
    main()
