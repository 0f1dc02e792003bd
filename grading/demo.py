"""`make demo`: grade a handful of synthetic students with the stock nbgrader commands.

Builds submissions in submitted/, runs `nbgrader autograde`, `nbgrader generate_feedback`
and `nbgrader export` from the course root, then prints a table of points per function.
"""
import shutil
import sys

from . import catalog, course, synthetic
from .provided import ASSIGNMENT, COURSE_ROOT

FUNCTIONS = ("forward_propagation", "backward_propagation", "gradient_check",
             "gradient_check_n", "gradient_check_by_parameter", "backward_propagation_n_fixed")
SHORT = ("fwd", "bwd", "check", "check_n", "by_param", "fixed")


def demo_students():
    """{student id: notebooks}: complete, partly wrong, and blank work."""
    blank = synthetic.submission(complete=False)
    only_part_one = synthetic.submission()
    only_part_one.update({name: nb for name, nb in blank.items() if name.startswith("2_")})
    partly_wrong = synthetic.submission({v.cell: v.code for v in (catalog.by_name("one_sided_1d"),
                                                                  catalog.by_name("team_bugs_kept"))})
    return {
        "ada_complete": synthetic.submission(),
        "grace_partly_wrong": partly_wrong,
        "kim_part_one_only": only_part_one,
        "lin_blank": blank,
    }


def format_table(table):
    header = f"{'student':<22}" + "".join(f"{s:>9}" for s in SHORT) + f"{'total':>8}"
    lines = [header, "-" * len(header)]
    for student in sorted(table):
        row = table[student]
        lines.append(f"{student:<22}" + "".join(f"{row.get(f, 0):>9g}" for f in FUNCTIONS) +
                     f"{sum(row.values()):>8g}")
    return "\n".join(lines)


def main():
    root = COURSE_ROOT
    students = demo_students()
    for student, notebooks in students.items():
        shutil.rmtree(root / "submitted" / student / ASSIGNMENT, ignore_errors=True)
        course.add_submission(root, student, notebooks)
    print(f"Grading {len(students)} synthetic students with nbgrader autograde ...", flush=True)
    course.autograde(root, "--force")
    course.nbgrader(root, "generate_feedback", ASSIGNMENT, "--force")
    course.nbgrader(root, "export")
    table = {s: row for s, row in course.scores(root).items() if s in students}
    print(format_table(table))
    print(f"\nFeedback: {root / 'feedback'}/<student>/{ASSIGNMENT}/*.html    Grades: {root / 'grades.csv'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
