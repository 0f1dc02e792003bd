"""Where the work of a grading run happens: worker processes on this machine, or a Dask cluster.

A runner is a context manager whose `run(function, jobs)` calls function(*args) for every
{key: args} of jobs on its workers and yields (key, return value or exception) as each one
finishes, in any order. The workers stay up between calls (grading, then feedback), so a
worker starts Python and nbgrader once per run, not once per submission.

Processes, never threads: nbgrader is not thread-safe, and the sandboxed kernel's socket
prefix is one per process (nbgrader_config.py). A Dask worker with several threads still
does one job at a time (grading.pipeline's lock); start Dask workers with `--nthreads 1`.
"""
import multiprocessing
import uuid
from concurrent.futures import ProcessPoolExecutor, as_completed


def _as_finished(futures, as_completed):
    """(key, return value or exception) of each of {future: key}, in the order they finish."""
    for future in as_completed(futures):
        try:
            yield futures[future], future.result()
        except Exception as error:   # the worker died or was lost, or the job could not run there
            yield futures[future], error


class LocalProcesses:
    """`workers` processes on this machine."""

    def __init__(self, workers):
        self.workers = workers
        self.pool = None

    def describe(self):
        return f"{self.workers} local worker process(es)"

    def __enter__(self):
        # "spawn": each worker starts clean, without the threads and open files of this process.
        self.pool = ProcessPoolExecutor(max_workers=self.workers, mp_context=multiprocessing.get_context("spawn"))
        return self

    def __exit__(self, *exc):
        # On an interruption, queued jobs are dropped; each running one ends with its worker.
        self.pool.shutdown(wait=True, cancel_futures=True)

    def run(self, function, jobs):
        futures = {self.pool.submit(function, *args): key for key, args in jobs.items()}
        yield from _as_finished(futures, as_completed)


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
