"""What `import grading` finds inside a kernel that `make autograde` runs: verdicts, not tests.

The hidden-test region of each test cell is `grading.check("<function>", globals())`. Under a
plain `nbgrader autograde` that runs the hidden tests in the kernel. Under `make autograde` the
kernel's sandbox shows this package at the grading package's path instead, and the hidden tests
run outside, in the grader (grading.grader.verify): here `check` only waits for the verdict of that
function, which the grader writes to $GRADING_VERDICTS/<function>.json, and reports it. So
nothing secret (hidden tests, reference solutions, diagnoses) is within the kernel's reach, and
the test cell shows the student the same sentence that decides the grade.

Whatever the notebook does to this module changes nothing: the recorded score is the verified
one (grading.grader.verify.record_verdicts).
"""
import json
import os
import textwrap
import time

WAIT = 240.0   # seconds to wait for a verdict; the grader's deadline for a submission is shorter


class CheckFailed(AssertionError):
    """A hidden test failed; the message is the diagnosis that the student reads."""

    def _render_traceback_(self):
        # IPython shows these lines instead of a traceback: the diagnosis, wrapped so that it reads
        # without scrolling, and no file of the grader's.
        return textwrap.wrap(f"{type(self).__name__}: {self}", 100)


def verdict(name, wait=WAIT):
    """The grader's verdict of function `name`: {"passed": bool, "points": float, "message": str}."""
    if not name.isidentifier():
        raise CheckFailed(f"There is no function named {name!r} to check.")
    path = os.path.join(os.environ.get("GRADING_VERDICTS", ""), name + ".json")
    deadline = time.monotonic() + wait
    while True:
        try:
            with open(path) as handle:
                return json.load(handle)
        except FileNotFoundError:
            if time.monotonic() > deadline:
                raise CheckFailed(f"The verdict of the hidden tests of {name} did not arrive; "
                                  "the score they give is recorded separately.") from None
            time.sleep(0.02)


def check(name, namespace):
    """Report the verified verdict of function `name` (the notebook's namespace is not used).

    A verdict with no points fails the cell. One with some points (only a minor part wrong) is
    printed, and the visible tests that follow give the cell its partial score, as they do under
    a plain nbgrader autograde."""
    __tracebackhide__ = True  # IPython: show the student the message, not these frames
    result = verdict(name)
    if result.get("passed"):
        print(f"{name} passes the hidden tests.")
    elif isinstance(result.get("points"), (int, float)) and result["points"] > 0:
        print(str(result.get("message", "")))
    else:
        raise CheckFailed(str(result.get("message", "")))
