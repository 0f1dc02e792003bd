"""`make settings`: every bound of grading as a course sets it, beside its default and its help.

    python -m grading.grader.show_settings [--root COURSE]
    python -m grading.grader.show_settings --document docs/security.md   # make settings-doc

A course changes a bound in its nbgrader_config.py (c.GradingSettings.deadline_seconds = 600);
grading.settings declares each one once. Reading a course's values runs its nbgrader_config.py,
so, as for make autograde, only once it is reviewed (grading.grader.reviewed_config). --document
writes the table of defaults into a document between grading.settings.TABLE_START and TABLE_END:
docs/security.md's bounds are written so, never by hand.

Exit status: 0; 3 when the configuration changed since it was last reviewed.
"""
import argparse
import sys
from pathlib import Path

from grading.settings import in_document, text
from grading.command_line import course_argument, course_of
from grading.grader.reviewed_config import refusal_status


def write_document(path):
    """Put the table of settings into the document at `path`; True if it changed."""
    path = Path(path)
    before = path.read_text(encoding="utf-8")
    after = in_document(before)
    if after != before:
        path.write_text(after, encoding="utf-8")
    return after != before


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m grading.grader.show_settings",
                                     description="Show the course's grading settings (c.GradingSettings in "
                                                 "nbgrader_config.py), or write their table into a document.")
    course_argument(parser)
    parser.add_argument("--document", metavar="PATH", help="write the table of defaults into this document")
    args = parser.parse_args(argv)
    if args.document:
        changed = write_document(args.document)
        print(f"{args.document}: the table of settings {'written' if changed else 'is current'}")
        return 0
    course = course_of(args)
    refused = refusal_status(course.root)   # the settings are read by running nbgrader_config.py
    if refused:
        return refused
    print(f"Grading settings of {course.root} (c.GradingSettings.<name> in {course.config_file.name}):\n")
    print(text(course.settings))
    return 0


if __name__ == "__main__":
    sys.exit(main())
