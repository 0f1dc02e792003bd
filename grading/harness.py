"""How the hidden tests talk to a student's notebook: calling, substituting, comparing.

Everything a student's function can do wrong at the level of Python (raise, print, warn,
change its arguments, return the wrong type) is turned here into a CheckFailed whose message
is written for the student.
"""
import contextlib
import copy
import io
import sys
import textwrap
import warnings

import numpy as np

from .provided import gc_utils
from .substitutes import build


class CheckFailed(AssertionError):
    """A hidden test failed; the message is the diagnosis that the student reads."""

    def _render_traceback_(self):
        # IPython shows these lines instead of a traceback: the diagnosis, wrapped so that it reads
        # without scrolling, and no file of the grader's.
        return textwrap.wrap(f"{type(self).__name__}: {self}", 100)


def fail(message):
    raise CheckFailed(message)


def call(function, *args, **kwargs):
    """Call a student's function; return (result, printed text).

    Printing is captured (so that a chatty function cannot flood the feedback) and warnings
    are silenced: nbgrader scores a test cell that writes to stderr as failed, and a correct
    function must not lose points because a random case made NumPy warn.
    """
    name = getattr(function, "__name__", "the function")
    buffer = io.StringIO()
    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"), \
                contextlib.redirect_stdout(buffer), contextlib.redirect_stderr(buffer):
            warnings.simplefilter("ignore")
            result = function(*args, **kwargs)
    except CheckFailed:
        raise
    except NotImplementedError:
        fail(f"{name} is not implemented yet: it still raises NotImplementedError.")
    except RecursionError:
        fail(f"{name} recursed without end (RecursionError). Does it call itself?")
    except Exception as error:  # any mistake in student code becomes a diagnosis
        fail(f"{name} raised {type(error).__name__}: {error}")
    return result, buffer.getvalue()


def student_function(namespace, name):
    """The function that the student defined under this name, or a clear failure."""
    function = namespace.get(name)
    if function is None:
        fail(f"There is no function named {name}: run its cell, and keep the name given in the exercise.")
    if not callable(function):
        fail(f"{name} is a {type(function).__name__}, not a function.")
    return function


@contextlib.contextmanager
def substituted(namespaces, **replacements):
    """Temporarily rebind names in the given namespaces (dicts), restoring them afterwards.

    Students' functions look up helpers such as forward_propagation by name at call time, so
    rebinding the name in the notebook's globals lets a test run their code on another cost.
    """
    missing = object()
    saved = [(ns, {name: ns.get(name, missing) for name in replacements}) for ns in namespaces]
    try:
        for ns in namespaces:
            ns.update(replacements)
        yield
    finally:
        for ns, old in saved:
            for name, value in old.items():
                if value is missing:
                    ns.pop(name, None)
                else:
                    ns[name] = value


def helper_namespaces(namespace):
    """The notebook's globals, plus the student's gc_utils module if the notebook imported it."""
    spaces = [namespace]
    module = sys.modules.get("gc_utils")
    if module is not None:
        spaces.append(vars(module))
    return spaces


def snapshot(*values):
    """Deep copies of the arguments, to detect a function that changes its inputs."""
    return copy.deepcopy(values)


def changed_argument(before, after, names):
    """Name of the first argument (or dict entry) that differs between two snapshots, or None."""
    for name, old, new in zip(names, before, after):
        if isinstance(old, dict):
            for key in old:
                if key not in new or not np.array_equal(np.asarray(old[key]), np.asarray(new[key])):
                    return f"{name}['{key}']"
        elif not np.array_equal(np.asarray(old), np.asarray(new)):
            return name
    return None


def require_float(value, name):
    """The value as a float if it is a Python float (NumPy's float64 is one); otherwise fail."""
    if isinstance(value, bool) or not isinstance(value, float):
        kind = type(value).__name__
        shape = f" of shape {np.shape(value)}" if isinstance(value, np.ndarray) else ""
        fail(f"{name} should return a Python float, but it returned a {kind}{shape}. Wrap the result in float(...).")
    return float(value)


def require_number(value, name):
    """The value as a float if it is a single real number of any kind; otherwise fail."""
    if value is None:
        fail(f"{name} returned None: did you forget the return statement or the assignment before it?")
    try:
        array = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        fail(f"{name} should return a number, but it returned a {type(value).__name__}.")
    if array.size != 1:
        fail(f"{name} should return one number, but it returned an array of shape {array.shape}.")
    return float(array.reshape(-1)[0])


def close(actual, expected, rtol, atol=0.0):
    return bool(abs(actual - expected) <= atol + rtol * abs(expected))


class NotebookStudent:
    """A student's functions, called in the notebook's own namespace (inside the kernel).

    Every check talks to a student through `call`, so the same checks can also drive a
    student's code that runs in another process.
    """

    def __init__(self, namespace):
        self.namespace = namespace

    def call(self, name, *args, substitutes=None, **kwargs):
        """Call the student's function `name` with stand-ins for helpers.

        substitutes -- {helper name: description from grading.substitutes}, bound by name
                       in the notebook's namespace while the function runs

        Returns (result, printed text, the arguments as they are after the call).
        """
        function = student_function(self.namespace, name)
        replacements = {helper: build(spec, gc_utils) for helper, spec in (substitutes or {}).items()}
        with substituted(helper_namespaces(function.__globals__), **replacements):
            result, printed = call(function, *args, **kwargs)
        return result, printed, args
