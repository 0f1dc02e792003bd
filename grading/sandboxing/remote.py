"""A student's functions, called in a separate process: the trusted side of verified grading.

RemoteStudent has the interface of harness.NotebookStudent, so every hidden test (grading.CHECKS)
runs unchanged against it. The difference is where the student's code runs: in a worker process
(grading/inside/worker.py) that knows nothing of the grading package, started without IPython and,
once grading/sandboxing/sandbox.py is in place, inside the sandbox. This process draws the cases, keeps
the reference and compares; the worker only answers calls.

What comes back from the worker is read as JSON and rebuilt here from plain data (numbers,
strings, lists, tuples, dicts and numeric NumPy arrays). Nothing is unpickled and nothing the
worker sends is ever executed or imported; any other value arrives as an Opaque object that
carries only its type name, so a check that wants a float or a dict fails on it.
"""
import json
import os
import selectors
import signal
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

import numpy as np

from grading.assignment import COURSE_ROOT
from grading.checks.harness import CheckFailed
from grading.checks.provided import gc_feedback
from grading.course_directory import Course
from grading.inside import worker as protocol
from grading.sandboxing import sandbox
from grading.sandboxing.sandbox import INSIDE, SCRIPTS
from grading.settings import DEFAULTS
from grading.untrusted_text import SURROGATE_ESCAPE, encodable_data

WORKER_SCRIPT = SCRIPTS / "worker.py"
SUBSTITUTES = SCRIPTS / "substitutes.py"
PARENT_DEATH = SCRIPTS / "parent_death.py"   # the helper the worker imports from beside it
WORKDIR = "/work"               # the worker's private tmpfs folder inside the sandbox

MAX_ANSWER = 64 * 2**20   # bytes in one answer line
MAX_ANSWER_DEPTH = 40     # nesting depth of the JSON of an answer (a value the runner encoded, wrapped)
PRINT_LIMIT = protocol.PRINT_LIMIT

SIGNALS = {signal.SIGSEGV: "a segmentation fault", signal.SIGKILL: "it was killed (out of memory or over a limit)",
           signal.SIGABRT: "it aborted", signal.SIGBUS: "a bus error", signal.SIGXCPU: "it used up its CPU time",
           signal.SIGXFSZ: "it wrote a file over the size limit", signal.SIGFPE: "a floating-point exception"}


class WorkerError(Exception):
    """The worker process did not answer as it should."""


class WorkerTimeout(WorkerError):
    pass


class WorkerDied(WorkerError):
    pass


class WorkerStartFailed(RuntimeError):
    """The worker could not start: a problem of the grading machine, never of a submission."""


def sandbox_module(settings=DEFAULTS):
    """grading.sandboxing.sandbox if the worker is to run in it (settings.worker_sandbox) and it is
    usable here (bubblewrap installed), else None."""
    if settings.worker_sandbox == "off":
        return None
    return sandbox if sandbox.available() else None


def site_directories():
    """The directories of installed packages (NumPy) that the worker adds to its sys.path."""
    paths = sysconfig.get_paths()
    return list(dict.fromkeys([paths["purelib"], paths["platlib"]]))


def released_helpers(course=COURSE_ROOT):
    """The released gc_utils.py, which the worker loads: identical to source/'s (tests/test_release.py)."""
    return Course.of(course).release() / "gc_utils.py"


class WorkerProcess:
    """One worker process (a broker and its runner, grading/inside/worker.py), and the JSON lines
    exchanged with it.

    The process starts at once; wait_ready() waits for its first line, so that several workers
    can start at the same time. In the sandbox it works in a private tmpfs folder: nothing it
    writes reaches the host.
    """

    def __init__(self, helpers, cgroup=None, settings=DEFAULTS):
        helpers = Path(helpers).resolve()
        self.start_seconds = settings.worker_start_seconds
        argv = [sys.executable, "-I", "-S", "-B", str(INSIDE / WORKER_SCRIPT.name)]
        for site in site_directories():
            argv += ["--site", site]
        argv += ["--substitutes", str(INSIDE / SUBSTITUTES.name), "--helpers", str(helpers)]
        env = {"HOME": WORKDIR, "LANG": "C.UTF-8", "MPLBACKEND": "Agg", "MPLCONFIGDIR": WORKDIR,
               "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
        self.stderr = tempfile.TemporaryFile()
        self.workdir = None
        sandbox = sandbox_module(settings)
        if sandbox is not None:
            # Its files shown read-only at a path of their own: not the grading package's folder.
            command = sandbox.wrap(argv, workdir=WORKDIR, tmpfs=[WORKDIR], env=env, cgroup=cgroup, settings=settings,
                                   readonly=[(WORKER_SCRIPT, INSIDE / WORKER_SCRIPT.name),
                                             (PARENT_DEATH, INSIDE / PARENT_DEATH.name),
                                             (SUBSTITUTES, INSIDE / SUBSTITUTES.name), helpers.parent])
            self.process = sandbox.popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                         stderr=self.stderr, start_new_session=True, close_fds=True)
        else:
            if settings.worker_sandbox == "required":
                raise WorkerStartFailed("the grading sandbox is required (GradingSettings.worker_sandbox) "
                                        "but bubblewrap is not installed")
            self.workdir = tempfile.TemporaryDirectory(prefix="gc-worker-")
            argv[argv.index(str(INSIDE / WORKER_SCRIPT.name))] = str(WORKER_SCRIPT)
            argv[argv.index(str(INSIDE / SUBSTITUTES.name))] = str(SUBSTITUTES)
            self.process = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                            stderr=self.stderr, cwd=self.workdir.name,
                                            env={**env, "HOME": self.workdir.name, "MPLCONFIGDIR": self.workdir.name,
                                                 "PATH": "/usr/bin:/bin"},
                                            start_new_session=True, close_fds=True)
        self.buffer = bytearray()
        self.selector = selectors.DefaultSelector()
        os.set_blocking(self.process.stdout.fileno(), False)
        os.set_blocking(self.process.stdin.fileno(), False)
        self.next_id = 0
        self.ready = False

    def wait_ready(self):
        if self.ready:
            return
        try:
            hello = self._read(time.monotonic() + self.start_seconds)
        except WorkerError as error:
            self.kill()
            raise WorkerStartFailed(f"the grading worker did not start ({type(error).__name__}: {error}): "
                                    f"{self._stderr_tail()}") from None
        if hello != {"ready": True}:
            self.kill()
            raise WorkerStartFailed(f"the grading worker said {hello!r} instead of being ready")
        self.ready = True

    def _stderr_tail(self):
        try:
            self.stderr.seek(0)
            return self.stderr.read()[-2000:].decode_answer(errors="replace")
        except (OSError, ValueError):
            return ""

    def request(self, message, timeout):
        """Send one request and return its answer (a dict), or raise WorkerTimeout / WorkerDied."""
        self.wait_ready()
        deadline = time.monotonic() + timeout
        self.next_id += 1
        message = dict(message, id=self.next_id)
        self._write(json.dumps(message, allow_nan=True).encode() + b"\n", deadline)
        while True:
            answer = self._read(deadline)
            if not isinstance(answer, dict):
                raise WorkerError("an answer that is not a JSON object")
            if answer.get("id") != self.next_id:   # the broker answers each request once, in order
                raise WorkerError(f"an answer to request {answer.get('id')!r} instead of {self.next_id}")
            return answer

    def _wait(self, fd, event, deadline):
        """Whether fd became ready for `event` before the deadline; WorkerTimeout once it has passed."""
        left = deadline - time.monotonic()
        if left <= 0:
            raise WorkerTimeout()
        self.selector.register(fd, event)
        try:
            return bool(self.selector.select(left))
        finally:
            self.selector.unregister(fd)

    def _write(self, data, deadline):
        fd = self.process.stdin.fileno()
        view = memoryview(data)
        while view:
            if not self._wait(fd, selectors.EVENT_WRITE, deadline):
                continue
            try:
                written = os.write(fd, view)
            except BlockingIOError:
                continue
            except (BrokenPipeError, OSError):
                raise WorkerDied(self._death()) from None
            view = view[written:]

    def _read(self, deadline):
        fd = self.process.stdout.fileno()
        while True:
            end = self.buffer.find(b"\n")
            if end >= 0:
                line = bytes(self.buffer[:end])
                del self.buffer[:end + 1]
                try:
                    # Strings as valid Unicode: a lone surrogate ("\\ud800") would stop whatever writes them.
                    return encodable_data(json.loads(line)) if SURROGATE_ESCAPE.search(line) else json.loads(line)
                except (ValueError, RecursionError):
                    raise WorkerError("an answer that is not JSON") from None
            if len(self.buffer) > MAX_ANSWER:
                raise WorkerError(f"an answer longer than {MAX_ANSWER} bytes")
            if not self._wait(fd, selectors.EVENT_READ, deadline):
                continue
            try:
                chunk = os.read(fd, 1 << 20)
            except BlockingIOError:
                continue
            if not chunk:
                raise WorkerDied(self._death())
            self.buffer += chunk

    def _death(self):
        """Why the process ended, in words."""
        try:
            code = self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.kill()
            return "it closed its output"
        # The sandbox (bwrap) reports a child killed by signal N as exit code 128 + N.
        number = -code if code < 0 else code - 128 if code > 128 else 0
        if number:
            try:
                name = signal.Signals(number).name
            except ValueError:
                name = f"signal {number}"
            return f"{SIGNALS.get(number, 'it was killed')}: {name}"
        return f"it exited with code {code}"

    def kill(self):
        if self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGKILL)  # the worker and anything it started
            except (ProcessLookupError, PermissionError):
                self.process.kill()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        for stream in (self.process.stdin, self.process.stdout):
            try:
                stream.close()
            except OSError:
                pass
        self.selector.close()
        self.stderr.close()
        if getattr(self, "workdir", None) is not None:
            self.workdir.cleanup()


class RemoteStudent:
    """A student's notebook, run in a worker process; `call` as in harness.NotebookStudent.

    setup -- [(name, code)]: trusted code run first (the source notebook's setup cells, no magics)
    cells -- [(name, code)]: the student's cells, in notebook order
    settings -- grading.settings.GradingSettings: the timeouts and budgets of the calls and cells
    deadline -- time.monotonic() by which everything must be done, or None
    cgroup -- the submission's cgroup, which the worker joins

    One worker serves the notebook. A cell that crashes it or runs too long is left out and the
    worker is started again with the other cells; a call that does so fails (CheckFailed), and
    the next call gets a fresh worker.
    """

    def __init__(self, cells, *, setup=(), helpers=None, settings=DEFAULTS, deadline=None, cgroup=None):
        self.setup = list(setup)
        self.cells = list(cells)
        self.helpers = helpers or released_helpers()
        self.settings = settings
        self.call_timeout = settings.call_seconds
        self.exec_timeout = settings.verification_cell_seconds
        self.function_budget = settings.function_seconds
        self.cells_budget = settings.verification_cells_seconds   # all of the notebook's cells, restarts included
        self.deadline = deadline
        self.cgroup = cgroup
        self._cells_spent = 0.0
        self.cell_errors = {}   # cell name -> "TypeError: ..." for cells that raised
        self.left_out = {}      # cell name -> why it was left out (it crashed or hung the worker)
        self.worker = None
        self._pending = None    # a worker started by prepare(), not yet loaded
        self.starts = 0
        self._spent = {}        # function name -> seconds its calls took so far

    # ------------------------------------------------------------------ process management
    def prepare(self):
        """Start the worker process without waiting for it (start() loads it later)."""
        if self.worker is None and self._pending is None:
            self._pending = WorkerProcess(self.helpers, self.cgroup, self.settings)
            self.starts += 1
        return self

    def start(self):
        """Start the worker and run setup and cells, if that has not happened yet."""
        while self.worker is None:
            if self.starts >= self.settings.worker_starts:   # cell after cell broke the worker: run none of the rest
                for name, _ in self.cells:
                    self.left_out.setdefault(name, f"the worker had been restarted {self.settings.worker_starts} times")
            self.prepare()
            worker, self._pending = self._pending, None
            for name, code in self.setup:
                answer = self._exec(worker, name, code)
                if "error" in answer:
                    worker.kill()
                    error = answer["error"]
                    raise WorkerStartFailed(f"the trusted setup cell {name} failed in the worker: "
                                            f"{error.get('type')}: {error.get('message')}")
            if self._run_cells(worker):
                self.worker = worker
        return self

    def _exec(self, worker, name, code):
        try:
            return worker.request({"op": "exec", "code": code, "name": name}, self.exec_timeout)
        except WorkerError as error:
            worker.kill()
            raise WorkerStartFailed(f"the trusted setup cell {name} did not run in the worker: {error!r}") from None

    def _time_left(self):
        """Seconds left before the deadline (infinite without one)."""
        return float("inf") if self.deadline is None else self.deadline - time.monotonic()

    def _run_cells(self, worker):
        """Run every cell that is not left out; False if one of them broke the worker (now left out)."""
        for name, code in self.cells:
            if name in self.left_out:
                continue
            timeout = min(self.exec_timeout, self.cells_budget - self._cells_spent, self._time_left())
            if timeout <= 0:
                self.left_out[name] = (f"the notebook's cells had used up the {self.cells_budget:g} seconds they may take"
                                       if self._time_left() > 0 else "the time for grading the submission had run out")
                continue
            started = time.monotonic()
            try:
                answer = worker.request({"op": "exec", "code": code, "name": name}, timeout)
            except WorkerTimeout:
                self.left_out[name] = f"it did not finish within {timeout:g} seconds"
            except WorkerDied as died:
                self.left_out[name] = f"it crashed the Python process ({died})"
            except WorkerError as error:
                self.left_out[name] = f"it garbled the worker's answers ({error})"
            else:
                error = answer.get("error")
                if isinstance(error, dict):
                    self.cell_errors[name] = f"{error.get('type')}: {error.get('message')}"[:2000]
                continue
            finally:
                self._cells_spent += time.monotonic() - started
            worker.kill()
            return False
        return True

    def discard(self):
        """Stop the worker; the next call starts a fresh one."""
        for worker in (self.worker, self._pending):
            if worker is not None:
                worker.kill()
        self.worker = self._pending = None

    close = discard

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    # ------------------------------------------------------------------ the interface of NotebookStudent
    def call(self, name, *args, substitutes=None, **kwargs):
        """Call the student's function `name` in the worker, with stand-ins for helpers.

        substitutes -- {helper name: description from grading.inside.substitutes}

        Returns (result, printed text, the arguments as they are after the call), rebuilt from
        plain data; raises CheckFailed with a message for the student when the call fails.
        """
        if self._time_left() <= 0:
            raise CheckFailed(f"{name} could not be tested: the time for grading the whole submission had run out.")
        self.start()
        budget = self.function_budget - self._spent.get(name, 0.0)
        if budget <= 0:
            raise CheckFailed(f"{name} used up the {self.function_budget:g} seconds that its tests may take.")
        timeout = min(self.call_timeout, budget, max(self._time_left(), 0.001))
        request = {"op": "call", "function": name,
                   "args": [protocol.encode(a, np) for a in args],
                   "kwargs": protocol.encode(dict(kwargs), np),
                   "substitutes": dict(substitutes or {})}
        started = time.monotonic()
        try:
            answer = self.worker.request(request, timeout)
        except WorkerTimeout:
            self.discard()
            if self._time_left() <= 0:
                raise CheckFailed(f"{name} did not finish before the time for grading the whole submission "
                                  "ran out: is it very slow, or is there an endless loop?") from None
            if timeout < self.call_timeout:
                raise CheckFailed(f"{name} used up the {self.function_budget:g} seconds that its tests may take: "
                                  "is it very slow, or is there an endless loop?") from None
            raise CheckFailed(f"{name} did not finish within {timeout:g} seconds: is there an endless loop?") from None
        except WorkerDied as died:
            self.discard()
            raise CheckFailed(f"{name} crashed the Python process that ran it ({died}).") from None
        except WorkerError as error:
            self.discard()
            raise CheckFailed(f"{name} could not be tested: its process sent {error}.") from None
        finally:
            self._spent[name] = self._spent.get(name, 0.0) + time.monotonic() - started
        error = answer.get("error")
        if error is not None:
            raise CheckFailed(_failure_message(name, error))
        try:
            result = decode_answer(answer["result"])
            printed = answer.get("printed", "")
            printed = printed[:PRINT_LIMIT] if isinstance(printed, str) else ""
            args_after = answer["args_after"]
            if not isinstance(args_after, list) or len(args_after) != len(args):
                raise ValueError("args_after")
            args_after = tuple(decode_answer(a) for a in args_after)
        except (KeyError, ValueError, TypeError):
            self.discard()
            raise CheckFailed(f"{name} could not be tested: its process sent an unreadable answer.") from None
        return result, printed, args_after


def _failure_message(name, error):
    """The student-facing words for a failed call, as harness.call and harness.student_function put them."""
    if not isinstance(error, dict):
        return f"{name} could not be tested: its process sent an unreadable answer."
    kind = error.get("kind")
    kind_name = str(error.get("type", "Exception"))[:200]
    message = str(error.get("message", ""))[:2000]
    if kind == "missing":
        return f"There is no function named {name}: run its cell, and keep the name given in the exercise."
    if kind == "not_callable":
        return f"{name} is a {kind_name}, not a function."
    if kind == "not_implemented":   # the helper that raised, if not the function itself: untrusted, checked there
        return gc_feedback.not_implemented(name, error.get("raised_in"))
    if kind == "recursion":
        return f"{name} recursed without end (RecursionError). Does it call itself?"
    if kind == "exception":
        return f"{name} raised {kind_name}: {message}"
    return f"{name} could not be tested: its process answered {kind_name}: {message}"


# ---------------------------------------------------------------------- decoding untrusted data
class Opaque:
    """A value that did not cross the process boundary as data: only the name of its type did.

    It is not a number, a dict or an array, so a check that needs one fails with
    "... returned a <type name>".
    """
    __slots__ = ()

    def __repr__(self):
        return f"<{type(self).__name__} object from the student's process>"


_OPAQUE_TYPES = {}


def opaque(type_name):
    name = "".join(ch for ch in str(type_name)[:80] if ch.isalnum() or ch in "_ .") or "object"
    cls = _OPAQUE_TYPES.get(name)
    if cls is None:
        cls = _OPAQUE_TYPES[name] = type(name, (Opaque,), {"__slots__": ()})
    return cls()


def _numeric_dtype(text):
    dtype = np.dtype(str(text))
    if dtype.kind not in protocol.NUMERIC_KINDS or dtype.itemsize > 16 or dtype.hasobject:
        raise ValueError(f"dtype {dtype}")
    return dtype


def decode_answer(data, depth=0):
    """Rebuild a value from the worker's JSON data; what cannot be rebuilt as data becomes Opaque."""
    if depth > MAX_ANSWER_DEPTH:
        return opaque("deeply nested value")
    if data is None or isinstance(data, (bool, int, float, str)):
        return data
    if isinstance(data, list):
        return [decode_answer(v, depth + 1) for v in data]
    if not isinstance(data, dict) or len(data) not in (1, 2, 3):
        return opaque("unreadable value")
    try:
        if "__opaque__" in data:
            return opaque(data["__opaque__"])
        if "__ndarray__" in data:
            dtype = _numeric_dtype(data["dtype"])
            shape = tuple(int(n) for n in data["shape"])
            if any(n < 0 for n in shape) or len(shape) > 32:
                raise ValueError("shape")
            array = np.array(data["__ndarray__"], dtype=dtype)
            if array.size != int(np.prod(shape, dtype=np.int64)):
                raise ValueError("size")
            return array.reshape(shape)
        if "__scalar__" in data:
            value = data["__scalar__"]
            if isinstance(value, (list, dict, str)) or value is None:
                raise ValueError("scalar")
            return _numeric_dtype(data["dtype"]).type(value)
        if "__tuple__" in data and isinstance(data["__tuple__"], list):
            return tuple(decode_answer(v, depth + 1) for v in data["__tuple__"])
        if "__dict__" in data and isinstance(data["__dict__"], list):
            result = {}
            for pair in data["__dict__"]:
                if not isinstance(pair, list) or len(pair) != 2:
                    raise ValueError("pair")
                result[decode_answer(pair[0], depth + 1)] = decode_answer(pair[1], depth + 1)
            return result
    except (ValueError, TypeError, OverflowError, MemoryError):
        return opaque("unreadable value")
    return opaque("unreadable value")
