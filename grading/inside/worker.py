"""The untrusted half of verified grading: a process that runs a student's cells and answers calls.

    python -I -S -B worker.py --site DIR --substitutes PATH --helpers PATH

It is a standalone script, run by path inside the sandbox. It imports the standard library and
NumPy only, and never the grading package, which is not reachable where it runs (the sandbox
shows it neither the package nor the course): the stand-in helpers (grading/inside/substitutes.py) and
the released gc_utils.py are loaded by path, from its command line.

Two processes. The one started, the *broker*, owns the channel to the grader and never runs a
line of student code. It forks the *runner*, which runs the student's cells and calls and talks
only to the broker, over a socket pair; the runner has no descriptor of the grader's channel.
The broker makes itself non-dumpable before the fork, so the runner cannot open the broker's
descriptors through /proc either (and the sandbox's seccomp filter denies ptrace). For each
request the broker forwards the request without its id but with a fresh random token, takes as
the answer the runner's first line that is a JSON object carrying that token, drops every other
line, and sends the answer on with the request's id. A token exists only from the moment its
request reaches the runner, so the student's code can answer the call it was given, which is
what returning a value does, and nothing else: a line written earlier, or the late answer of an
earlier call, answers nothing, and no line reaches the grader's channel.
When the runner dies, the broker exits with the runner's status (128 + signal number for a
signal, as bwrap reports it).

Protocol: one JSON object per line, requests on stdin, answers on stdout.

    {"op": "exec", "code": str, "name": str}
        -> {"ok": true} or {"error": {"type", "message"}}
    {"op": "call", "function": str, "args": [..], "kwargs": {..}, "substitutes": {helper: spec}}
        -> {"result": value, "printed": str, "args_after": [..]}
        or {"error": {"kind": "missing" | "not_callable" | "not_implemented" | "recursion" | "exception",
                      "type", "message"}}
Every request may carry an "id", which its answer repeats. The first line the worker writes,
before any request, is {"ready": true}.

Values travel as JSON, never as pickles: numbers, strings, None and lists as themselves;
{"__ndarray__": nested list, "dtype", "shape"}, {"__scalar__": number, "dtype"} for NumPy
scalars, {"__tuple__": [...]}, {"__dict__": [[key, value], ...]}, and {"__opaque__": type name}
for everything else. NaN and the infinities are written as Python's json module writes them.

The code runs in a plain Python process: no IPython, so input transformers, event hooks and
get_ipython() do not exist here. What the student prints is captured (the first 10,000
characters are kept); descriptors 0, 1 and 2 lead to /dev/null.
"""
import builtins
import importlib
import importlib.util
import io
import json
import os
import sys
import types
import warnings

if __package__:   # imported by the grader, for the client half of the protocol
    from grading.inside.parent_death import die_with_parent
else:             # started by path (python -I does not put this folder on sys.path): the helper is beside it
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from parent_death import die_with_parent
    del sys.path[0]

PRINT_LIMIT = 10_000            # characters of printed text kept per call or cell
MAX_ENCODED_DEPTH = 32          # nesting depth of a value the runner encodes (the grader reads deeper JSON)
MAX_ELEMENTS = 2_000_000        # numbers and characters in one encoded value (arrays included)
NUMERIC_KINDS = "biuf"          # NumPy dtype kinds that cross the boundary as numbers
LAZY_MODULES = ("matplotlib", "matplotlib.pyplot")  # imported on first use: they cost 0.7 s


# ----------------------------------------------------------------------------- encoding
class Budget:
    def __init__(self, elements=MAX_ELEMENTS):
        self.left = elements

    def take(self, n):
        self.left -= n
        if self.left < 0:
            raise OverflowError("value too large")


def encode(value, np):
    """Plain JSON data for a value; anything that is not plain data becomes an opaque marker.

    Types are tested with issubclass on type(value) (isinstance would consult a __class__
    property), and the built-in methods of the built-in types read the data (float.__float__,
    dict.items, ...), so that a subclass cannot show the encoder one value and a comparison another.
    """
    try:
        return _encode(value, np, 0, Budget())
    except Exception:  # too large, too deep, or a type that misbehaves: not plain data
        return {"__opaque__": _type_name(value)}


def _type_name(value):
    try:
        return str(type.__getattribute__(type(value), "__name__"))[:100]
    except Exception:
        return "object"


def _encode(value, np, depth, budget):
    if depth > MAX_ENCODED_DEPTH:
        raise OverflowError("nested too deeply")
    budget.take(1)
    kind = type(value)
    if issubclass(kind, str):
        budget.take(str.__len__(value))   # a character counts as a number: the answer's line stays bounded
    if value is None or kind is bool or kind is str or kind is int or kind is float:
        return value  # NaN and infinities travel as Python's json writes them
    if issubclass(kind, np.ndarray):
        array = np.ndarray.view(value, np.ndarray)
        if array.dtype.kind not in NUMERIC_KINDS:
            return {"__opaque__": f"{kind.__name__} of dtype {array.dtype}"}
        budget.take(int(array.size))
        return {"__ndarray__": np.ndarray.tolist(array), "dtype": array.dtype.str, "shape": list(array.shape)}
    if kind in _numpy_scalars(np):
        dtype = np.dtype(kind)
        return {"__scalar__": np.ndarray.tolist(np.array([value], dtype=dtype))[0], "dtype": dtype.str}
    if issubclass(kind, bool):
        return bool(int.__index__(value))
    if issubclass(kind, float):  # a float subclass (NumPy's too): its real value, not what its methods say
        return float.__float__(value)
    if issubclass(kind, int):
        return int.__index__(value)
    if issubclass(kind, str):
        return str.__str__(value)
    if issubclass(kind, tuple):
        return {"__tuple__": [_encode(v, np, depth + 1, budget) for v in tuple.__iter__(value)]}
    if issubclass(kind, list):
        return [_encode(v, np, depth + 1, budget) for v in list.__iter__(value)]
    if issubclass(kind, dict):
        return {"__dict__": [[_encode(k, np, depth + 1, budget), _encode(v, np, depth + 1, budget)]
                             for k, v in dict.items(value)]}
    return {"__opaque__": _type_name(value)}


_SCALARS = {}


def _numpy_scalars(np):
    """NumPy's own scalar types (exactly these types, not subclasses), computed once."""
    if "types" not in _SCALARS:
        _SCALARS["types"] = frozenset(np.dtype(c).type for c in "?bBhHiIlLqQefdg")
    return _SCALARS["types"]


def decode_request(data, np):
    """The Python value of encoded data (the worker's side: requests come from the trusted process)."""
    if isinstance(data, list):
        return [decode_request(v, np) for v in data]
    if not isinstance(data, dict):
        return data
    if "__ndarray__" in data:
        return np.array(data["__ndarray__"], dtype=np.dtype(data["dtype"])).reshape(data["shape"])
    if "__scalar__" in data:
        return np.dtype(data["dtype"]).type(data["__scalar__"])
    if "__tuple__" in data:
        return tuple(decode_request(v, np) for v in data["__tuple__"])
    if "__dict__" in data:
        return {decode_request(k, np): decode_request(v, np) for k, v in data["__dict__"]}
    raise ValueError(f"cannot decode {sorted(data)}")


# ----------------------------------------------------------------------------- output capture
class Capture(io.TextIOBase):
    """A text stream that keeps the first `limit` characters written to it and drops the rest."""

    def __init__(self, limit=PRINT_LIMIT):
        super().__init__()
        self.limit = limit
        self.parts = []
        self.kept = 0

    def write(self, text):
        if not isinstance(text, str):
            raise TypeError(f"write() argument must be str, not {type(text).__name__}")
        room = self.limit - self.kept
        if room > 0:
            piece = text[:room]
            self.parts.append(piece)
            self.kept += len(piece)
        return len(text)

    def writable(self):
        return True

    def flush(self):
        pass

    def getvalue(self):
        return "".join(self.parts)


class Capturing:
    """sys.stdout and sys.stderr into one Capture while a block runs; warnings silenced."""

    def __init__(self, np=None):
        self.np = np

    def __enter__(self):
        self.buffer = Capture()
        self.saved = sys.stdout, sys.stderr
        sys.stdout = sys.stderr = self.buffer
        self.warnings = warnings.catch_warnings()
        self.warnings.__enter__()
        warnings.simplefilter("ignore")
        self.errstate = self.np.errstate(all="ignore") if self.np is not None else None
        if self.errstate is not None:
            self.errstate.__enter__()
        return self.buffer

    def __exit__(self, *exc):
        try:
            if self.errstate is not None:
                self.errstate.__exit__(None, None, None)
            self.warnings.__exit__(None, None, None)
        finally:
            sys.stdout, sys.stderr = self.saved
        return False


# ----------------------------------------------------------------------------- lazy modules
class LazyModule(types.ModuleType):
    """Stands in for a module until one of its attributes is used, then imports the real one."""

    def __getattr__(self, attribute):
        real = _import_real(self.__name__)
        return getattr(real, attribute)


def _import_real(name):
    for lazy in LAZY_MODULES:
        if isinstance(sys.modules.get(lazy), LazyModule):
            del sys.modules[lazy]
    return importlib.import_module(name)


def install_lazy_modules():
    parent = None
    for name in LAZY_MODULES:
        module = LazyModule(name)
        sys.modules[name] = module
        if parent is not None and name.startswith(parent.__name__ + "."):
            setattr(parent, name.rsplit(".", 1)[1], module)
        parent = module


# ----------------------------------------------------------------------------- the worker
def load_module(name, path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def describe(error):
    try:
        message = str(error)
    except BaseException:  # a student's exception whose __str__ fails
        message = "<the message could not be shown>"
    return {"type": type(error).__name__[:200], "message": message[:2000]}


def _raised_in(error):
    """The name of the function whose own code raised `error` (a helper left as a stub), or None."""
    try:
        frame = error.__traceback__
        while frame.tb_next is not None:
            frame = frame.tb_next
        return str(frame.tb_frame.f_code.co_name)[:100]
    except Exception:
        return None


class Runner:
    """The runner's side of the protocol: the student's namespace, its cells run, its functions called."""

    def __init__(self, np, substitutes, helpers):
        self.np = np
        self.substitutes = substitutes
        self.helpers = helpers
        self.namespace = {"__name__": "__main__", "__builtins__": builtins,
                          "display": lambda *args, **kwargs: None}

    def handle(self, request):
        op = request.get("op")
        if op == "exec":
            return self.execute(request["code"], request.get("name", "cell"))
        if op == "call":
            return self.call(request)
        return {"error": {"kind": "protocol", "type": "ValueError", "message": f"unknown op {op!r}"}}

    def execute(self, code, name):
        with Capturing():
            try:
                exec(compile(code, f"<{name}>", "exec"), self.namespace)
            except BaseException as error:  # SystemExit and KeyboardInterrupt too: the next cell still runs
                return {"error": describe(error)}
        return {"ok": True}

    def call(self, request):
        np = self.np
        name = request["function"]
        function = self.namespace.get(name)
        if function is None:
            return {"error": {"kind": "missing", "type": "NameError", "message": name}}
        if not callable(function):
            return {"error": {"kind": "not_callable", "type": type(function).__name__, "message": name}}
        args = decode_request(request.get("args", []), np)
        kwargs = {str(k): v for k, v in decode_request(request.get("kwargs", {"__dict__": []}), np).items()}
        replacements = {helper: self.substitutes.build(spec, self.helpers)
                        for helper, spec in (request.get("substitutes") or {}).items()}
        spaces = [self.namespace]
        function_globals = getattr(function, "__globals__", None)
        if isinstance(function_globals, dict) and function_globals is not self.namespace:
            spaces.append(function_globals)
        module = sys.modules.get("gc_utils")
        if isinstance(module, types.ModuleType):
            spaces.append(vars(module))
        missing = object()
        saved = [(space, {h: space.get(h, missing) for h in replacements}) for space in spaces]
        error = None
        with Capturing(np) as printed:
            try:
                for space in spaces:
                    space.update(replacements)
                result = function(*args, **kwargs)
            except NotImplementedError as raised:
                error = dict(describe(raised), kind="not_implemented", raised_in=_raised_in(raised))
            except RecursionError as raised:
                error = dict(describe(raised), kind="recursion")
            except BaseException as raised:  # SystemExit too: a call must always answer
                error = dict(describe(raised), kind="exception")
            finally:
                for space, old in saved:
                    for helper, value in old.items():
                        try:
                            if value is missing:
                                space.pop(helper, None)
                            else:
                                space[helper] = value
                        except Exception:
                            pass
        if error is not None:
            return {"error": error}
        with Capturing(np):
            return {"result": encode(result, np), "printed": printed.getvalue(),
                    "args_after": [encode(a, np) for a in args]}


PR_SET_DUMPABLE = 4
MAX_ANSWER = 64 * 2 ** 20     # bytes of one answer line from the runner


def _prctl(option, value):
    import ctypes
    return ctypes.CDLL(None, use_errno=True).prctl(option, value, 0, 0, 0)


def _to_null(*fds):
    null = os.open(os.devnull, os.O_RDWR)
    for fd in fds:
        os.dup2(null, fd)
    os.close(null)


# ----------------------------------------------------------------------------- the runner
def run_student(channel, options):
    """The runner: answer requests that come over `channel` (a socket), one line each."""
    import numpy as np
    sys.stdin = open(os.devnull)
    sys.stdout = open(os.devnull, "w")
    substitutes = load_module("_grader_substitutes", options["--substitutes"][0])
    # Two copies of the helpers: the stand-ins are built from a private one, and the notebook's
    # `from gc_utils import ...` gets the other, in which the stand-ins are bound during a call.
    private_helpers = load_module("_grader_gc_utils", options["--helpers"][0])
    sys.modules["gc_utils"] = load_module("gc_utils", options["--helpers"][0])
    # The notebooks' setup imports visible_tests from the released gc_feedback, beside gc_utils.
    sys.modules["gc_feedback"] = load_module(
        "gc_feedback", os.path.join(os.path.dirname(options["--helpers"][0]), "gc_feedback.py"))
    install_lazy_modules()
    runner = Runner(np, substitutes, private_helpers)
    reader, writer = channel.makefile("rb"), channel.makefile("wb")

    def send(message):
        writer.write(json.dumps(message).encode() + b"\n")
        writer.flush()

    _to_null(2)   # start-up went well (its errors reach the grader): from here on, nowhere
    sys.stderr = open(os.devnull, "w")
    send({"ready": True})
    for line in reader:
        token = None
        try:
            request = json.loads(line)
            token = request.pop("token", None)
            answer = runner.handle(request)
        except Exception as error:  # a malformed request: say so, keep serving
            answer = {"error": dict(describe(error), kind="protocol")}
        try:
            send(dict(answer, token=token))
        except (TypeError, ValueError) as error:
            send({"error": dict(describe(error), kind="protocol"), "token": token})
    return 0


# ----------------------------------------------------------------------------- the broker
class RunnerGone(Exception):
    pass


def _read_line(sock, pending, limit=MAX_ANSWER):
    """The next line (without its newline) from `sock`, or None for a line longer than `limit`,
    which is dropped as it comes; `pending` keeps what came after the line."""
    dropping = False
    while True:
        end = pending.find(b"\n")
        if end >= 0:
            line = None if dropping else bytes(pending[:end])
            del pending[:end + 1]
            return line
        if len(pending) > limit:
            dropping = True
            pending.clear()
        chunk = sock.recv(1 << 20)
        if not chunk:
            raise RunnerGone()
        pending += chunk


def _answer_to(token, sock, pending):
    """The runner's first line that is a JSON object carrying `token`; every other line is dropped."""
    while True:
        line = _read_line(sock, pending)
        try:
            answer = json.loads(line) if line is not None else None
        except (ValueError, RecursionError):
            continue   # not JSON, or too long: written by the student's code, not by the runner's loop
        if isinstance(answer, dict) and answer.pop("token", None) == token:
            return answer


def _exit_like(status):
    """Exit as the runner did: its code, or 128 + the signal that killed it."""
    code = os.waitstatus_to_exitcode(status)
    os._exit(128 - code if code < 0 else code)


def broker(grader_in, grader_out, runner, pid):
    """Relay the grader's requests to the runner and its answers back, one for one."""
    pending = bytearray()

    def send(message):
        grader_out.write(json.dumps(message).encode() + b"\n")
        grader_out.flush()

    try:
        ready = json.loads(_read_line(runner, pending))
        if ready != {"ready": True}:
            raise ValueError("the runner did not start")
        send({"ready": True})
        for line in grader_in:
            request = json.loads(line)
            request_id = request.pop("id", None)
            token = os.urandom(16).hex()   # unguessable, so no line written before this request matches
            runner.sendall(json.dumps(dict(request, token=token)).encode() + b"\n")
            answer = _answer_to(token, runner, pending)
            answer["id"] = request_id
            send(answer)
    except RunnerGone:
        pass
    import signal
    try:
        os.kill(pid, signal.SIGKILL)   # the grader closed the channel, or the runner broke it
    except ProcessLookupError:
        pass
    _exit_like(os.waitpid(pid, 0)[1])


def main(argv):
    import socket

    if not die_with_parent():   # SIGKILL when the grader's end of it goes; an orphan must not loop on
        sys.exit(1)
    options = {"--site": [], "--substitutes": [], "--helpers": []}
    for flag, value in zip(argv[::2], argv[1::2]):
        options[flag].append(value)
    sys.path.extend(options["--site"])
    # The channel lives in private copies of fds 0 and 1; 0, 1 and 2 then lead nowhere.
    grader_in, grader_out = os.dup(0), os.dup(1)
    _to_null(0, 1)
    _prctl(PR_SET_DUMPABLE, 0)   # the runner must not reach the broker's descriptors via /proc
    broker_end, runner_end = socket.socketpair()
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            os.close(grader_in)
            os.close(grader_out)
            broker_end.close()
            if not die_with_parent():   # the broker is gone already
                os._exit(1)
            code = run_student(runner_end, options)
        except BaseException:   # start-up failed: say why on stderr, which the grader keeps
            import traceback
            traceback.print_exc()
        finally:
            os._exit(code)
    runner_end.close()
    broker(os.fdopen(grader_in, "rb"), os.fdopen(grader_out, "wb"), broker_end, pid)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
