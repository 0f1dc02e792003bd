"""`make demo`: grade a handful of synthetic students, safely, on the SQLite gradebook.

The demo leaves the course alone: it grades in a course folder of its own, `demo/` (git-ignored),
made afresh on every run from the course's source, release and reviewed nbgrader_config.py, with
its own deadlines.toml and its own SQLite gradebook, demo/gradebook.db, whatever $GRADEBOOK_URL
says. There it builds submissions in submitted/, each with a submission time (one late, one
within an extension), and grades them with
`grading.grader.autograde` (one worker process per core; staging, nbgrader's autograde in the sandboxed
kernel, verification outside the kernel), which also writes the feedback, grades.csv and the
class report. `make clean-demo` removes the folder.
"""
import os
import re
import shutil
import sys
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from grading.assignment import ASSIGNMENT, COURSE_ROOT
from grading.course_directory import Course
from grading.grader import autograde, course, deadlines, reviewed_config
from synthetic_class import attacks, catalog, synthetic

DEMO_ROOT = COURSE_ROOT / "demo"

CRASH = '''
import os

def gradient_check_by_parameter(parameters, gradients, X, Y, epsilon=1e-6):
    os._exit(1)   # kills the kernel: nbgrader cannot finish this notebook
'''


def deadlines_toml(extensions=(), grace_minutes=10, no_credit_after_days=7):
    """The deadlines.toml of the demo's class and of the tests' (grading/grader/deadlines.py): due
    30 November 2026 at 23:59 in Berlin, `grace_minutes` of grace, 10% of the score a started day
    late, nothing after `no_credit_after_days`; `extensions` {student: their own due date, a TOML
    date-time, Berlin time where it has no offset}."""
    text = (f'timezone = "Europe/Berlin"\n[{ASSIGNMENT}]\ndue = 2026-11-30T23:59:00\n'
            f"grace_minutes = {grace_minutes}\npenalty_percent_per_day = 10\n"
            f"no_credit_after_days = {no_credit_after_days}\n")
    extensions = dict(extensions)
    if extensions:
        text += f"\n[{ASSIGNMENT}.extensions]\n" + "".join(f"{toml_key(s)} = {due}\n" for s, due in extensions.items())
    return text


def toml_key(student):
    """A student id as a TOML key: bare where TOML allows it, else quoted (an id may hold a `.`)."""
    return student if re.fullmatch(r"[A-Za-z0-9_-]+", student) else f'"{student}"'


# The demo class's: one student late, one with an extension.
DEMO_DEADLINES = deadlines_toml({"kim_part_one_only": "2026-12-03T23:59:00"})
DUE = datetime(2026, 11, 30, 23, 59, tzinfo=ZoneInfo("Europe/Berlin"))
SUBMITTED = {   # after the due date: grace 1 d 3 h (two started days, 20%), kim within her extension
    "grace_partly_wrong": DUE + timedelta(days=1, hours=3),
    "kim_part_one_only": DUE + timedelta(days=2),
}


def hub_kinds():
    """{kind: notebooks} for the hub's round trip (tests/test_hub.py, benchmarks/bench_hub.py):
    complete work, the catalog's one-sided difference in gradient_check, and a kernel that dies in
    gradient_check_by_parameter (flagged by verification)."""
    mistake = catalog.by_name("one_sided_1d")
    return {"right": synthetic.submission(), "mistake": synthetic.submission({mistake.cell: mistake.code}),
            "crashing": synthetic.submission({"gradient_check_by_parameter": CRASH})}


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


def make_demo_course(root=DEMO_ROOT, origin=COURSE_ROOT):
    """A fresh course at `root` with `origin`'s source, release and configuration, and nothing else.

    Its nbgrader_config.py is `origin`'s, which the grader requires to be reviewed first; the copy
    is then recorded as reviewed too (grading/grader/reviewed_config.py). Raises ConfigNotReviewed."""
    note = reviewed_config.require_reviewed(origin)
    if note:
        print(note)
    shutil.rmtree(root, ignore_errors=True)
    course.make_course_copy(root, origin)
    origin_course = Course(origin)
    shutil.copytree(origin_course.release(), origin_course.at(root).release())
    reviewed_config.record(root, reviewed_config.current(root))
    return root


def main(root=DEMO_ROOT, origin=COURSE_ROOT):
    try:
        root = make_demo_course(root, origin)
    except reviewed_config.ConfigNotReviewed as refusal:
        print(refusal, file=sys.stderr)
        return 3
    students = demo_students()
    # nbgrader_config.py prefers $GRADEBOOK_URL, which an instructor exports for the course's
    # PostgreSQL gradebook: the synthetic class must not land there, so every command of the demo
    # (this process, its workers, nbgrader loading the demo's copy of the file) gets the demo's own.
    gradebook_url = Course(root).sqlite_gradebook
    os.environ["GRADEBOOK_URL"] = gradebook_url
    (root / deadlines.FILE).write_text(DEMO_DEADLINES)
    reviewed_config.record(root, reviewed_config.current(root))   # the demo's own file, reviewed here
    for student, notebooks in students.items():
        folder = course.add_submission(root, student, notebooks)
        deadlines.write_timestamp(folder, SUBMITTED.get(student, DUE - timedelta(hours=2)))
    print(f"Grading {len(students)} synthetic students in the demo course {root} "
          f"(sandboxed kernel, verified outside it) ...", flush=True)
    status = autograde.main(["--root", str(root), "--db-url", gradebook_url,
                             *[arg for s in students for arg in ("--student", s)]])
    print(f"\nThe demo's grades.csv, feedback/ and reports/ are in {root}; the course itself was not "
          f"touched. `make clean-demo` removes it.")
    return status


if __name__ == "__main__":
    sys.exit(main())
