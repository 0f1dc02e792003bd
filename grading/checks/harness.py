"""How the hidden tests talk to a student's notebook: calling a function with stand-ins for its helpers.

Everything a student's function can do wrong at the level of Python (raise, print, warn,
change its arguments, return the wrong type) is turned into a CheckFailed whose message is
written for the student, by the released gc_feedback's helpers, which the visible tests use too.
"""
import sys

from grading.checks.provided import gc_feedback, gc_utils
from grading.inside.substitutes import build

# Shared with the visible tests (the released gc_feedback.py), so that both fail in the same words.
CheckFailed, fail, call, substituted, close = (gc_feedback.CheckFailed, gc_feedback.fail, gc_feedback.call,
                                               gc_feedback.substituted, gc_feedback.close)
require_float, require_number, student_function = (gc_feedback.require_float, gc_feedback.require_number,
                                                   gc_feedback.student_function)
snapshot, changed_argument = gc_feedback.snapshot, gc_feedback.changed_argument


def helper_namespaces(namespace):
    """The notebook's globals, plus the student's gc_utils module if the notebook imported it."""
    spaces = [namespace]
    module = sys.modules.get("gc_utils")
    if module is not None:
        spaces.append(vars(module))
    return spaces


class NotebookStudent:
    """A student's functions, called in the notebook's own namespace (inside the kernel).

    Every check talks to a student through `call`, so the same checks can also drive a
    student's code that runs in another process.
    """

    def __init__(self, namespace):
        self.namespace = namespace

    def call(self, name, *args, substitutes=None, **kwargs):
        """Call the student's function `name` with stand-ins for helpers.

        substitutes -- {helper name: description from grading.inside.substitutes}, bound by name
                       in the notebook's namespace while the function runs

        Returns (result, printed text, the arguments as they are after the call).
        """
        function = student_function(self.namespace, name)
        replacements = {helper: build(spec, gc_utils) for helper, spec in (substitutes or {}).items()}
        with substituted(helper_namespaces(function.__globals__), **replacements):
            result, printed = call(function, *args, **kwargs)
        return result, printed, args
