"""Where the work of a grading run happens: worker processes on this machine, or a Dask cluster.

A runner is a context manager whose `run(function, jobs)` calls function(*args) for every
{key: args} of jobs on its workers and yields (key, return value or exception) as each one
finishes, in any order. The workers stay up between calls (grading, then feedback), so a
worker starts Python and nbgrader once per run, not once per submission.

Processes, never threads: nbgrader is not thread-safe, and the sandboxed kernel's socket
prefix is one per process (nbgrader_config.py). A Dask worker with several threads still
does one job at a time (grading.grader.pipeline's lock); start Dask workers with `--nthreads 1`.

Local workers end with the run, whatever ends it: leaving the `with` block through an exception
(an interruption, SIGTERM turned into one by grading.grader.autograde, a closed output pipe) kills
them; and each worker ends by itself when the process that started it dies, even by SIGKILL
(PR_SET_PDEATHSIG, and a watch on its parent). A worker that is told to end kills what the
submission it grades runs (its cgroup) before it goes.
"""
import multiprocessing
import os
import signal
import threading
import time
import uuid
from concurrent.futures import ProcessPoolExecutor, as_completed

from grading.inside.parent_death import die_with_parent
from grading.sandboxing.cgroups import sweep

WATCH_SECONDS = 0.5
_on_end = []     # in a local worker: what to end before it goes (start_worker)


def _as_finished(futures, as_completed):
    """(key, return value or exception) of each of {future: key}, in the order they finish."""
    for future in as_completed(futures):
        try:
            yield futures[future], future.result()
        except Exception as error:   # the worker died or was lost, or the job could not run there
            yield futures[future], error


def _end_worker(*_):
    """A worker told to end: kill what its submission runs, then go at once."""
    try:
        for end in _on_end:
            end()
    finally:
        os._exit(1)


def _watch_parent(parent):
    while os.getppid() == parent:
        time.sleep(WATCH_SECONDS)
    _end_worker()


def start_worker(parent, on_end=None):
    """In each local worker, first thing: end with `parent` (the grading run's main process), and
    call on_end() before it goes."""
    _on_end[:] = [on_end] if on_end is not None else []
    signal.signal(signal.SIGTERM, _end_worker)
    if not die_with_parent(signal.SIGTERM, parent):
        _end_worker()
    threading.Thread(target=_watch_parent, args=(parent,), daemon=True).start()


class LocalProcesses:
    """`workers` processes on this machine.

    on_end -- a module-level function that a worker told to end calls before it goes (the grading
              run passes grading.grader.pipeline.end_current: kill what its submission runs)
    """

    def __init__(self, workers, on_end=None):
        self.workers, self.on_end = workers, on_end
        self.pool = None

    def describe(self):
        return f"{self.workers} local worker process(es)"

    def __enter__(self):
        # "spawn": each worker starts clean, without the threads and open files of this process.
        self.pool = ProcessPoolExecutor(max_workers=self.workers, mp_context=multiprocessing.get_context("spawn"),
                                        initializer=start_worker, initargs=(os.getpid(), self.on_end))
        return self

    def __exit__(self, kind, *exc):
        if kind is None:
            self.pool.shutdown(wait=True)
        else:
            self.abort()

    def abort(self):
        """End the workers now: queued jobs are dropped, running ones end with their worker."""
        processes = list((self.pool._processes or {}).values())
        for process in processes:
            if process.is_alive():
                process.terminate()   # SIGTERM: the worker kills its submission's cgroup, then exits
        self.pool.shutdown(wait=False, cancel_futures=True)
        for process in processes:
            process.join(10)
            if process.is_alive():
                process.kill()
                process.join(10)
        sweep()   # what a worker killed outright could not remove

    def run(self, function, jobs):
        futures = {self.pool.submit(function, *args): key for key, args in jobs.items()}
        yield from _as_finished(futures, as_completed)

    def broken(self):
        """True once a worker died outright: the pool takes no more jobs (a kept run ends then)."""
        return bool(self.pool._broken)


class DaskCluster:
    """The workers of an existing Dask cluster, whose scheduler is at `scheduler` (tcp://host:8786).

    Every worker needs this course directory at the same path (a shared filesystem), this
    repository's Python environment with bubblewrap and the sandbox kernelspec (`make`), and
    a route to the gradebook (PostgreSQL when the workers are on several machines).
    """

    def __init__(self, scheduler):
        self.scheduler = scheduler
        self.client = None

    def describe(self):
        return f"the Dask cluster at {self.scheduler}"

    def __enter__(self):
        from distributed import Client

        self.client = Client(self.scheduler, timeout="30s")
        return self

    def __exit__(self, *exc):
        self.client.close()

    def run(self, function, jobs):
        from distributed import as_completed as finished

        run = uuid.uuid4().hex[:8]    # unique task keys: a later call must not reuse cached results
        futures = {self.client.submit(function, *args, key=f"{function.__name__}-{key}-{run}", pure=False): key
                   for key, args in jobs.items()}
        try:
            yield from _as_finished(futures, finished)
        finally:
            self.client.cancel(list(futures))
