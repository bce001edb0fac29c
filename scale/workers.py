"""Worker processes: the same jobs mapped over several processes, for feature extraction (data.load_features,
the store) -- what a student can skip, since one process gives the same numbers -- and the one line that counts
the clips they could not use (report_skipped).

Never more processes than jobs, nor than the machine's cores (`--workers 100` on 60 clips starts at most
min(60, cores)). Ctrl-C reaches the main process alone, which stops the pool; the workers ignore it, so one
Ctrl-C is one clean stop, not a traceback from every process.

    python -m pytest tests/test_data.py -k workers
"""
import os
import sys
import signal
from multiprocessing import Pool


def ignore_ctrl_c():
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the pool's initializer: Ctrl-C is the main process's to handle


def processes(workers, n_jobs):
    """How many processes `workers` asks for on n_jobs jobs: at most one per job and one per core."""
    return max(1, min(int(workers), n_jobs, os.cpu_count() or 1))


def pool(workers, n_jobs):
    """A multiprocessing.Pool of processes(workers, n_jobs) workers that ignore Ctrl-C, or None when that is one
    (then the caller maps in its own process). Terminate it when done (a `finally:`)."""
    n = processes(workers, n_jobs)
    return Pool(n, initializer=ignore_ctrl_c) if n > 1 else None


def map_jobs(function, jobs, workers, chunksize=8):
    """[function(job) for job in jobs], computed in up to `workers` processes (in order)."""
    workers_pool = pool(workers, len(jobs))
    if workers_pool is None:
        return [function(job) for job in jobs]
    try:
        return workers_pool.map(function, jobs, chunksize=chunksize)
    finally:
        workers_pool.terminate()


def report_skipped(skipped, total):
    """One line on stderr: how many clips were skipped, and the first three with their reasons."""
    if skipped:
        shown = "; ".join(why if why.startswith(str(p)) else f"{p}: {why}" for p, why in skipped[:3])  # path: reason
        print(f"skipped {len(skipped)} of {total} clips: {shown}{'; ...' if len(skipped) > 3 else ''}", file=sys.stderr)
