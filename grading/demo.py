"""`make demo`: grade a handful of synthetic students, safely, on the SQLite gradebook.

Builds submissions in submitted/ and grades them with `grading.autograde` (one worker process
per core; staging, nbgrader's autograde in the sandboxed kernel, verification outside the
kernel), which also writes the feedback, grades.csv and the class report.
"""
import shutil
import sys

from . import attacks, autograde, catalog, course, synthetic
from .provided import COURSE_ROOT

CRASH = '''
import os

def gradient_check_by_parameter(parameters, gradients, X, Y, epsilon=1e-7):
    os._exit(1)   # kills the kernel: nbgrader cannot finish this notebook
'''


def demo_students():
    """{student id: notebooks}: complete, partly wrong, half done, blank, cheating and crashing work."""
    blank = synthetic.submission(complete=False)
    only_part_one = synthetic.submission()
    only_part_one.update({name: nb for name, nb in blank.items() if name.startswith("2_")})
    partly_wrong = synthetic.submission({v.cell: v.code for v in (catalog.by_name("one_sided_1d"),
                                                                  catalog.by_name("team_bugs_kept"))})
    cheat = attacks.by_name("input_transformer")
    return {
        "ada_complete": synthetic.submission(),
        "grace_partly_wrong": partly_wrong,
        "kim_part_one_only": only_part_one,
        "lin_blank": blank,
        "mallory_cheating": attacks.submission(cheat, only_its_notebook=False),
        "otto_crashing": synthetic.submission({"gradient_check_by_parameter": CRASH}),
    }


def main():
    root = COURSE_ROOT
    students = demo_students()
    for student, notebooks in students.items():
        shutil.rmtree(root / "submitted" / student, ignore_errors=True)
        course.add_submission(root, student, notebooks)
    print(f"Grading {len(students)} synthetic students (sandboxed kernel, verified outside it) ...", flush=True)
    # The demo's students are graded again on every run (--force): their submissions were just rewritten.
    return autograde.main(["--root", str(root), "--force", *[arg for s in students for arg in ("--student", s)]])


if __name__ == "__main__":
    sys.exit(main())
