"""The class report: one HTML page with PNG plots, written after a grading run.

    python -m grading.grader.report [--root COURSE]      # exit status 0; 3: configuration not reviewed

`make autograde` writes it after each run; this command writes it again, with the gradebook as it
is now (a score set in the formgrader since). This is the command only: the report is
grading.grader.class_report.
"""
import argparse
import sys

from grading.command_line import course_argument, course_of
from grading.grader.class_report import write
from grading.grader.reviewed_config import refusal_status


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    course_argument(parser)
    args = parser.parse_args(argv)
    course = course_of(args)
    refused = refusal_status(course.root)   # the gradebook's address is in it
    if refused:
        return refused
    print(f"Class report: {write(course)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
