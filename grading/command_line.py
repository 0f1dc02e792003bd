"""What the course's commands share on their command lines: which course, which gradebook.

Each command (python -m grading.grader.autograde, grading.lms.intake, grading.lms.lms_export,
grading.lms.release_feedback, grading.grader.config_review, grading.grader.report,
grading.grader.similarity, grading.grader.show_settings) is a thin entry: it parses its
arguments and calls the library. The arguments they share are declared here, once.
"""
from pathlib import Path

from grading.assignment import COURSE_ROOT
from grading.course_directory import Course


def course_argument(parser):
    """--root: the course directory."""
    parser.add_argument("--root", default=str(COURSE_ROOT), help="the course directory (default: this repository)")


def gradebook_argument(parser):
    """--db-url: the gradebook, where the course's configuration names another."""
    parser.add_argument("--db-url", help="the gradebook, e.g. postgresql://user@host/db "
                                         "(default: nbgrader_config.py's, or $GRADEBOOK_URL)")


def course_of(args):
    """The Course that --root names, at its real path."""
    return Course(Path(args.root).resolve())
