"""The instructor's side of grading on submit, kept up between its batches: collect and release
without starting Python, the grading package and nbgrader again for every batch.

    python -m grading.lms.instructor_service      (as the instructor; hub/grade_on_submit.py starts it)

Each line on stdin is a request, a JSON list: the folder to run in, then one of

    grading.exchange.collect_students STUDENT ...      the checked collect of these students
    grading.lms.release_feedback OPTION ...            the checked release of their feedback

which runs in a child forked from this process (grading.forked), as `python -m <module> ...` run
in that folder would: the course's configuration read afresh, the same checked exchange classes,
the same exit status. The answer is one JSON line, {"status": N, "stdout": ..., "stderr": ...}
(of each text its last OUTPUT_CHARS characters). When a file of the code it imported at its
start changed, it answers {"restart": true} and ends, for a fresh process to take the request;
it ends at the end of stdin too.

It runs as the instructor, whose account a page open in their JupyterLab could have written
into: root takes what it answers as it took these programs' output before, and no further
(hub/grade_on_submit.py, KeptInstructor).
"""
import json
import os
import sys

from nbgrader.apps import nbgraderapp  # noqa: F401  (imported once, here, for every request)

from grading.exchange import collect, collect_students, release_feedback as checked_release  # noqa: F401
from grading.forked import run_forked
from grading.lms import release_feedback

PROGRAMS = {"grading.exchange.collect_students": collect_students.main,
            "grading.lms.release_feedback": release_feedback.main}
OUTPUT_CHARS = 64_000


def code_files():
    """(path, inode, size, mtime) of each file of the code imported so far."""
    found = []
    for module in list(sys.modules.values()):
        path = getattr(module, "__file__", None)
        if path:
            try:
                info = os.stat(path)
            except OSError:
                found.append((path, None))
                continue
            found.append((path, info.st_ino, info.st_size, info.st_mtime_ns))
    return sorted(found)


def answer(reply):
    sys.stdout.write(json.dumps(reply) + "\n")
    sys.stdout.flush()


def serve():
    started_with = code_files()
    for line in sys.stdin:
        try:
            folder, program, *args = json.loads(line)
            main = PROGRAMS[program]
        except (ValueError, TypeError, KeyError):
            answer({"status": 2, "stdout": "", "stderr": f"not a request: {line[:200]!r}\n"})
            continue
        if code_files() != started_with:
            answer({"restart": True})
            return 0
        status, out, err = run_forked(main, args, cwd=folder)
        answer({"status": status, "stdout": out[-OUTPUT_CHARS:], "stderr": err[-OUTPUT_CHARS:]})
    return 0


if __name__ == "__main__":
    sys.exit(serve())
