"""Benchmarks: time our feature code against librosa on the same minute of speech-like audio.

Times mfcc, melspectrogram, yin, formants (formants.py's F1-F4 tracks; librosa has none to compare) and the
complete "mfcc_f0" model input (features.extract). When librosa is installed, times librosa's equivalents in the
same process, interleaved with ours run by run (so background load hits both alike), and prints ours/librosa as
the median over several runs after a warm-up call (the warm-up also pays librosa's numba compilation). Also
prints the largest differences from librosa.
The audio is synth.py's voices (4 speakers, 2 female, 2 male), deterministic, in float32 -- the dtype
data.load_audio hands the pipeline; both libraries then compute in float32.
With --clips N it also measures the feature store's throughput (clips per second of 4 s, mfcc_f0, cold store)
with 1 and 2 worker processes on N clips of the built-in corpus. With --scale it only measures the peak memory
of one training epoch on manifests of 1,200 to 48,000 clips (the built-in corpus's clips repeated as new speakers).

Run: python -m scale.bench            (or: python -m scale.bench --seconds 20 --repeats 3 --clips 200)
     python -m scale.bench --parameters   # docs/training.md's table: every trunk's parameters
     python -m scale.bench --scale 1200 12000 48000 --workers 2
"""
import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # as train.py: one BLAS thread per process (see there)

import argparse  # noqa: E402 -- after the environment line above, on purpose
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

import f0
import features
import formants
import mel
import mfcc
from extras import synth
from features import HOP_LENGTH, N_FFT, N_MELS, N_MELS_MFCC, N_MFCC, SR, WIN_LENGTH

STFT = dict(n_fft=N_FFT, hop_length=HOP_LENGTH, win_length=WIN_LENGTH)  # samples
YIN = dict(fmin=features.F0_FMIN, fmax=features.F0_FMAX, frame_length=features.YIN_FRAME_LENGTH,
           hop_length=HOP_LENGTH)  # Hz, Hz, samples, samples


def speech_like(seconds):
    """`seconds` of synthetic speech: 4 speakers of synth.plan_corpus, seconds / 4 each. (N,) float32."""
    speakers = synth.plan_corpus(4, seed=0)
    return np.concatenate([synth.synthesize_utterance(s["params"], seed=i, sr=SR, duration_s=seconds / 4)
                           for i, s in enumerate(speakers)])


def ours_jobs(y):
    """Name -> zero-argument function computing that feature with our code."""
    return {
        "mfcc": lambda: mfcc.mfcc(y, SR, n_mfcc=N_MFCC, n_mels=N_MELS_MFCC, **STFT),
        "melspectrogram": lambda: mel.melspectrogram(y, SR, n_mels=N_MELS, **STFT),
        "yin": lambda: f0.yin(y, SR, **YIN),
        "yin librosa_compat": lambda: f0.yin(y, SR, **YIN, librosa_compat=True),
        "formants": lambda: formants.formants(y, SR),  # F1-F4, its own YIN pass and ceiling included
        "mfcc_f0 (extract)": lambda: features.extract(y, SR, kind="mfcc_f0"),
    }


def librosa_jobs(librosa, y):
    """The same features with librosa (same settings); mfcc_f0 composed from mfcc, yin and delta."""
    def mfcc_f0():
        static = np.vstack([librosa.feature.mfcc(y=y, sr=SR, n_mfcc=N_MFCC, n_mels=N_MELS_MFCC, **STFT),
                            librosa.yin(y, sr=SR, **YIN)[None]])  # (14, T)
        d1 = librosa.feature.delta(static, width=5, mode="nearest")  # (14, T)
        return np.stack([static, d1, librosa.feature.delta(d1, width=5, mode="nearest")])  # (3, 14, T)

    return {
        "mfcc": lambda: librosa.feature.mfcc(y=y, sr=SR, n_mfcc=N_MFCC, n_mels=N_MELS_MFCC, **STFT),
        "melspectrogram": lambda: librosa.feature.melspectrogram(y=y, sr=SR, n_mels=N_MELS, **STFT),
        "yin": lambda: librosa.yin(y, sr=SR, **YIN),
        "yin librosa_compat": lambda: librosa.yin(y, sr=SR, **YIN),
        "mfcc_f0 (extract)": mfcc_f0,
    }


def timed(fn):
    """Wall-clock seconds of one call of fn."""
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def largest_differences(librosa, y):
    """Name -> text: the largest difference between our output and librosa's, in the signal's own units.

    Measured in float64, like the saved test references: in float32 the two libraries can pick different
    troughs on unvoiced, near-silent frames, which says nothing about the algorithm."""
    y = y.astype(np.float64)  # (N,)
    ours_mfcc = mfcc.mfcc(y, SR, n_mfcc=N_MFCC, n_mels=N_MELS_MFCC, **STFT)  # (13, T)
    ref_mfcc = librosa.feature.mfcc(y=y, sr=SR, n_mfcc=N_MFCC, n_mels=N_MELS_MFCC, **STFT)  # (13, T)
    ours_db = mel.power_to_db(mel.melspectrogram(y, SR, n_mels=N_MELS, **STFT))  # (64, T) dB
    ref_db = librosa.power_to_db(librosa.feature.melspectrogram(y=y, sr=SR, n_mels=N_MELS, **STFT))  # (64, T)
    ref_f0 = librosa.yin(y, sr=SR, **YIN)  # (T,) Hz
    compat_f0, librosa_voiced = f0.yin(y, SR, **YIN, librosa_compat=True)  # voicing == librosa's (tests/test_f0)
    paper_f0, paper_voiced = f0.yin(y, SR, **YIN)
    both = paper_voiced & librosa_voiced  # (T,) frames voiced by both
    cents = lambda a, b: np.abs(1200.0 * np.log2(a / b)).max()  # noqa: E731
    return {
        "mfcc": f"{np.abs(ours_mfcc - ref_mfcc).max():.1e} (MFCC units, dB-scaled)",
        "melspectrogram": f"{np.abs(ours_db - ref_db).max():.1e} dB",
        "yin": f"{cents(paper_f0[both], ref_f0[both]):.2f} cents on {both.sum()} frames voiced by both"
               f" (we voice {paper_voiced.mean():.0%}, librosa {librosa_voiced.mean():.0%})",
        "yin librosa_compat": f"{cents(compat_f0[librosa_voiced], ref_f0[librosa_voiced]):.1e} cents on voiced "
                              f"frames; {(np.abs(1200 * np.log2(compat_f0 / ref_f0)) > 1).sum()} of "
                              f"{(~librosa_voiced).sum()} unvoiced frames differ (near-equal minima)",
        "mfcc_f0 (extract)": "",
    }


def extraction_throughput(n_clips, workers_list=(1, 2)):
    """Clips per second of store.build (load + mfcc_f0 + the shard write) on a cold store, 1 and 2 workers."""
    import data
    from extras import synth_corpus
    from scale import store
    with tempfile.TemporaryDirectory() as tmp:
        n_speakers = max(1, n_clips // 5)
        manifest_csv = synth_corpus.make_synth_corpus(Path(tmp) / "corpus", n_speakers, 5, seed=0, workers=2)
        rows = data.read_manifest(manifest_csv)[:n_clips]
        for workers in workers_list:
            start = time.perf_counter()
            store.build(rows, "mfcc_f0", workers=workers, root=Path(tmp) / f"store{workers}")
            seconds = time.perf_counter() - start
            print(f"feature store, {workers} worker(s): {len(rows) / seconds:6.1f} clips/s "
                  f"({len(rows)} clips of 4 s in {seconds:.1f} s)")


def repeated_manifest(rows, n_clips, path, distinct=False):
    """A manifest of n_clips rows that repeats the built-in corpus's clips as new speakers (copy k of speaker s
    is speaker "s~k", same split), so a corpus of any size costs no new audio. The feature store keys features
    by audio file, so repeated rows share one entry; with distinct=True copy k reads a hard link of each file
    (a new path, so a new entry: the store then holds n_clips clips' features, as a real corpus would)."""
    import os
    import shutil
    from scale import files
    out = []
    for k in range(-(-n_clips // len(rows))):
        for r in rows[:n_clips - len(out)]:
            source = Path(r["path"])
            if distinct and k > 0:
                link = Path(path).parent / f"audio{k}" / source.name
                link.parent.mkdir(exist_ok=True)
                try:
                    os.link(source, link)
                except OSError:  # another file system: a copy
                    shutil.copyfile(source, link)
                source = link
            out.append(dict(r, speaker=f"{r['speaker']}~{k}", path=str(source)))
    files.write_manifest(out, path)
    return path


def private_memory(pids):
    """Sum of RssAnon (private resident memory, kB) over the processes `pids` that still run."""
    total = 0
    for pid in pids:
        try:
            text = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        anon = [line.split()[1] for line in text.splitlines() if line.startswith("RssAnon:")]
        total += int(anon[0]) if anon else 0  # a process that has just exited (a zombie) has no memory line
    return total


def scale(sizes, extra_args, distinct=False):
    """Peak memory of one epoch of `train.py --model hps` on manifests of each size, measured two ways:
    /usr/bin/time -v's maximum resident set size of the training process (it counts the touched pages of the
    memory-mapped store, which are reclaimable page cache) and the peak of RssAnon summed over the training
    process and its DataLoader workers (private memory: what the corpus really costs)."""
    import subprocess
    import data
    from extras import synth_corpus
    corpus = synth_corpus.make_synth_corpus(synth_corpus.default_corpus_dir(), workers=2)
    rows = data.read_manifest(corpus)
    print(f"{'clips':>7} {'time -v max RSS':>16} {'private (RssAnon, all processes)':>33} {'train ex/s':>10}")
    with tempfile.TemporaryDirectory() as tmp:
        for n in sizes:
            (Path(tmp) / str(n)).mkdir()
            csv = repeated_manifest(rows, n, Path(tmp) / str(n) / "m.csv", distinct)
            env = dict(os.environ)
            if distinct:  # a store of its own, built before the measured run (extraction is not what is measured)
                from scale import store
                env["MOKSORI_CACHE"] = str(Path(tmp) / "cache")
                store.build(data.read_manifest(csv), "mfcc_f0", workers=2, root=Path(tmp) / "cache" / "store",
                            progress=sys.stderr.isatty())
            argv = ["/usr/bin/time", "-v", sys.executable, str(Path(__file__).resolve().parents[1] / "train.py"),
                    "--manifest", str(csv), "--model", "hps", "--epochs", "1", "--patience", "0", "--store",
                    "--out", str(Path(tmp) / f"run{n}"), *extra_args]
            proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
            peak = 0
            while proc.poll() is None:
                children = subprocess.run(["pgrep", "-P", str(proc.pid)], capture_output=True, text=True).stdout.split()
                tree = children + [c for p in children for c in
                                   subprocess.run(["pgrep", "-P", p], capture_output=True, text=True).stdout.split()]
                peak = max(peak, private_memory(tree))
                time.sleep(0.2)
            out, err = proc.communicate()
            if proc.returncode != 0:
                raise SystemExit(f"train.py failed on {n} clips:\n{err[-2000:]}")
            max_rss = int(next(line.split()[-1] for line in err.splitlines() if "Maximum resident set size" in line))
            speed = next(line.rstrip(" *").split()[-1] for line in out.splitlines() if line.strip().startswith("1 "))
            print(f"{n:7d} {max_rss / 1e6:13.2f} GB {peak / 1e6:30.2f} GB {speed:>10}")


def parameter_table():
    """docs/training.md's model table: the parameters of every trunk for every input it reads, with the built-in
    corpus's three tasks (age 5, gender 2, dialect 6 classes) on top."""
    import mtl
    from models import TRUNKS, VALID_INPUTS
    three_tasks = {"age": 5, "gender": 2, "dialect": 6}
    for trunk in TRUNKS:
        counts = [f"{kind} {mtl.count_parameters(mtl.build_model(trunk, kind, three_tasks, features.input_shape(kind))):,}"
                  for kind in VALID_INPUTS[trunk]]
        print(f"{trunk:8s} {' | '.join(counts)}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="length of the test audio in seconds")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per feature (median reported)")
    parser.add_argument("--clips", type=int, default=0, help="also time the feature store on this many 4 s clips "
                        "with 1 and 2 workers (default 0: skip)")
    parser.add_argument("--scale", nargs="*", type=int, metavar="CLIPS", help="only measure the peak memory of one "
                        "epoch on manifests of these sizes (default 1200 12000 48000)")
    parser.add_argument("--distinct", action="store_true", help="--scale: every repeated row reads its own file (a "
                        "hard link), so the store holds that many clips' features (extracted first, untimed)")
    parser.add_argument("--parameters", action="store_true", help="only print every trunk's parameter count")
    args, extra = parser.parse_known_args()
    if args.parameters:
        return parameter_table()
    if args.scale is not None:
        scale(args.scale or [1200, 12000, 48000], extra, args.distinct)  # extra flags go to train.py, e.g. --workers 2
        return
    if args.seconds <= 0 or args.repeats < 1:
        parser.error(f"need --seconds > 0 and --repeats >= 1, got {args.seconds} and {args.repeats}")

    y = speech_like(args.seconds)  # (N,) float32: librosa and we get the same samples
    print(f"{len(y) / SR:.0f} s of synthetic speech at {SR} Hz, {1 + len(y) // HOP_LENGTH} frames; "
          f"median of {args.repeats} runs after a warm-up")
    try:
        import librosa  # lazy: only the comparison needs it
    except ImportError:
        librosa = None
        print("librosa is not installed: timing our code only")

    ours = ours_jobs(y)
    theirs = librosa_jobs(librosa, y) if librosa else {}
    diffs = largest_differences(librosa, y) if librosa else {}
    print(f"\n{'feature':<20} {'ours ms':>8} {'librosa ms':>10} {'ours/librosa':>12}  largest difference")
    for name, ours_fn in ours.items():
        their_fn = theirs.get(name)
        ours_fn()  # warm-up calls, untimed (librosa's first call also compiles its numba helpers)
        if their_fn:
            their_fn()
        ours_times, their_times = [], []
        for _ in range(args.repeats):  # interleaved, so background load hits both alike
            ours_times.append(timed(ours_fn))
            if their_fn:
                their_times.append(timed(their_fn))
        ours_ms = 1000 * np.median(ours_times)
        if their_fn:
            their_ms = 1000 * np.median(their_times)
            print(f"{name:<20} {ours_ms:8.1f} {their_ms:10.1f} {ours_ms / their_ms:12.2f}  {diffs[name]}")
        else:
            print(f"{name:<20} {ours_ms:8.1f}")
    if args.clips > 0:
        print()
        extraction_throughput(args.clips)


if __name__ == "__main__":
    main()
