"""Hidden tests and grading tools of the gradient-checking assignment. Instructor only: never released.

Each hidden region of a test cell is one call:

    import grading
    grading.check("gradient_check", globals())

`check`, `CHECKS` and `CheckFailed` come from grading.checks.hidden_tests, loaded on first use: the
grading machinery (the kernel launcher, the sandbox) imports this package too, and must not
pay for NumPy and the checks when it does not need them.
"""
import sys

# jsonschema compiles the 39 grammars of the optional package rfc3987_syntax when it is first
# imported: 1.4 CPU-seconds in every process that imports nbgrader (the main process, each
# worker, each nbgrader step). Grading validates no IRI formats, so it goes without it.
sys.modules.setdefault("rfc3987_syntax", None)

_HIDDEN_TESTS = {"check", "CHECKS", "CheckFailed", "NotebookStudent"}


def __getattr__(name):
    if name in _HIDDEN_TESTS:
        from grading.checks import hidden_tests
        return getattr(hidden_tests, name)
    raise AttributeError(f"module 'grading' has no attribute {name!r}")
