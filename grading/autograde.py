"""`make autograde`: grade every submission in submitted/ safely, and print a table.

For each student:
1. stage a clean copy of the submission (grading.staging): broken notebooks are left out
   and recorded, the student's own folder is never changed;
2. run nbgrader's Autograde on the staged copy (in-process through nbgrader's API, with the
   course's nbgrader_config.py, so the sandboxed kernel and every limit apply);
3. grade every function again outside the kernel (grading.verify) and, where the two verdicts
   disagree, record the verified score in the gradebook and flag the submission.

    python -m grading.autograde [--force] [--student ID ...]
"""
import argparse
import json
import os
import sys
import time
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path

from . import CHECKS
from .provided import ASSIGNMENT, COURSE_ROOT
from .staging import stage

STAGING = ".grading/staged"     # relative to the course root; nbgrader's submitted_directory
REPORT = "reports/autograde.json"
FUNCTIONS = tuple(CHECKS)  # the graded functions, in notebook order
SHORT = ("fwd", "bwd", "check", "check_n", "by_param", "fixed")


@dataclass
class Result:
    student: str
    scores: dict = field(default_factory=dict)       # function -> points recorded in the gradebook
    problems: list = field(default_factory=list)     # what went wrong with the submission itself
    flags: list = field(default_factory=list)        # where the verified verdict overrode nbgrader's
    diagnoses: dict = field(default_factory=dict)    # function -> why it lost points (verified)
    seconds: float = 0.0

    @property
    def total(self):
        return sum(self.scores.values())


def load_config(root):
    """The course's nbgrader configuration, with nbgrader reading submissions from the staging area."""
    from traitlets.config.loader import PyFileConfigLoader

    config = PyFileConfigLoader("nbgrader_config.py", path=str(root)).load_config()
    config.CourseDirectory.root = str(root)
    config.CourseDirectory.submitted_directory = STAGING
    return config


def nbgrader_api(root):
    from sqlalchemy.exc import SAWarning
    from nbgrader.apps.api import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory

    # nbgrader runs `alembic` by name when it creates a gradebook.
    os.environ["PATH"] = str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", "")
    # nbgrader 0.9.6 triggers harmless SQLAlchemy session warnings on every submission.
    warnings.filterwarnings("ignore", category=SAWarning)
    config = load_config(root)
    return NbGraderAPI(coursedir=CourseDirectory(config=config), config=config)


def grade_submission(root, student, api=None):
    """Stage, autograde and verify one student's submission; return its Result."""
    from . import course, verify
    from .remote import WorkerStartFailed

    started = time.perf_counter()
    root = Path(root)
    api = api or nbgrader_api(root)
    result = Result(student)
    staged = stage(root / "submitted" / student / ASSIGNMENT, root / STAGING / student / ASSIGNMENT,
                   release_folder=root / "release" / ASSIGNMENT)
    result.problems.extend(staged.problems)

    outcome = api.autograde(ASSIGNMENT, student, force=True, create=True)
    if not outcome["success"]:
        last = (outcome.get("error") or outcome.get("log") or "").strip().splitlines()
        result.problems.append("nbgrader could not finish this submission: the verified scores are recorded"
                               + (f" ({last[-1][:200]})" if last else ""))

    try:
        verdicts = verify.verify_submission(staged.folder, course_root=root)
    except WorkerStartFailed as error:
        # A problem of the grading machine, not of the student: record nothing, say so loudly.
        result.problems.append(f"NOT VERIFIED: the verification worker could not start ({error}).")
    else:
        result.flags.extend(verify.record_verdicts(api.coursedir.db_url, ASSIGNMENT, student, verdicts))
        result.diagnoses = {f: v.message for f, v in verdicts.items() if not v.passed}
    result.scores = course.scores(root, db_url=api.coursedir.db_url).get(student, {})
    result.seconds = time.perf_counter() - started
    return result


def students_to_grade(root, only=None):
    folder = Path(root) / "submitted"
    found = sorted(p.parent.name for p in folder.glob(f"*/{ASSIGNMENT}") if p.is_dir())
    return [s for s in found if not only or s in only]


def short_marks(result):
    """One line of marks for the table: flagged functions, then problems cut short (details in the report)."""
    abbreviation = dict(zip(FUNCTIONS, SHORT))
    marks = []
    if result.flags:
        marks.append("FLAGGED " + ",".join(abbreviation.get(getattr(f, "function", ""), "?") for f in result.flags))
    marks.extend(problem.split(":")[0][:60] for problem in result.problems)
    return "; ".join(marks)


def format_table(results):
    header = f"{'student':<22}" + "".join(f"{s:>9}" for s in SHORT) + f"{'total':>8}  flags"
    lines = [header, "-" * len(header)]
    for r in sorted(results, key=lambda r: r.student):
        lines.append(f"{r.student:<22}" + "".join(f"{r.scores.get(f, 0):>9g}" for f in FUNCTIONS) +
                     f"{r.total:>8g}  " + short_marks(r))
    return "\n".join(lines)


def write_report(root, results):
    path = Path(root) / REPORT
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps([asdict(r) for r in results], indent=2))
    return path


def main(argv=None):
    parser = argparse.ArgumentParser(description="Grade every submission in submitted/ in the sandbox, with verification.")
    parser.add_argument("--root", default=str(COURSE_ROOT), help="the course directory (default: this repository)")
    parser.add_argument("--student", action="append", help="grade only this student (repeatable)")
    args = parser.parse_args(argv)
    root = Path(args.root)
    students = students_to_grade(root, args.student)
    if not students:
        print(f"No submissions in {root / 'submitted'}/<student>/{ASSIGNMENT}/")
        return 0
    api = nbgrader_api(root)
    results = []
    for number, student in enumerate(students, 1):
        print(f"[{number}/{len(students)}] {student}", flush=True)
        results.append(grade_submission(root, student, api))
    print(format_table(results))
    print(f"\nReport: {write_report(root, results)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
