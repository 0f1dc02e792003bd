"""`make export`: the grades and the feedback back to the LMS the class came from.

    python -m grading.lms.lms_export [--root COURSE] [--db-url URL] [--column NAME] [--release-flagged]

Works from what `make intake` kept (downloaded/<assignment>/roster.csv, the roster as the LMS gave
it, and lms.json, how the LMS named each student's files) and the gradebook. Writes to exports/:

- grades, in the file the LMS reads back:
  - from Canvas's gradebook export: `canvas_grades.csv`, that same file with the assignment's
    column (NAME, default "gradient_checking", made if missing) filled with each score, for
    Grades → Import. Canvas matches rows by ID, SIS User ID or SIS Login ID, so those columns,
    and every other, stay as exported;
  - from Moodle's grading worksheet: `moodle_grading_worksheet.csv`, the worksheet with its
    Grade column filled, for "Upload grading worksheet" (Moodle matches rows by Identifier);
  - from the course's own roster: `grades_by_lms_id.csv` (id, lms_id, score);
- feedback, as the LMS takes files back:
  - Canvas: `canvas_feedback.zip` for "Re-Upload Submissions", each student's pages named like
    the files of their download (<name>_<user id>_<attachment id>_feedback_<page>): Canvas takes
    the first two all-digit `_`-separated parts of a name for the user and the submitted file
    (the attachment) that the page comments on;
  - Moodle: `moodle_feedback.zip` for "Upload multiple feedback files in a zip", a folder per
    student named like the download's (<Full name>_<participant id>_assignsubmission_file_/).

Each grade is the total after the late penalty, the one number every view shows
(grading.results.final_total), written to the cent. A student without a graded submission gets an
empty grade cell (the LMS leaves it as it is) and is listed. A flagged submission
(reports/autograde.json) waits for the instructor, grade and feedback alike: its cell stays empty
and its pages stay out of the zip, and the summary lists it, until the instructor has reviewed it
and exports with --release-flagged (`make export RELEASE_FLAGGED=1`). The roster's file goes back
in its own encoding: with the byte order mark it came with (Excel's "CSV UTF-8" needs it to read
"Núñez" as written), or without one.

This is the command only: what it writes is grading.lms.uploads.

Exit status: 0; 2 when the configuration changed since it was last reviewed
(grading.grader.config_review) or what intake kept is missing or unusable (nothing is written).
"""
import argparse
import sys

from grading.assignment import ASSIGNMENT
from grading.command_line import course_argument, course_of, gradebook_argument
from grading.grader.reviewed_config import ConfigNotReviewed, require_reviewed
from grading.lms.roster import IntakeError
from grading.lms.uploads import export
from grading.untrusted_text import for_terminal


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m grading.lms.lms_export", description=__doc__.splitlines()[0])
    course_argument(parser)
    gradebook_argument(parser)
    parser.add_argument("--column", default=ASSIGNMENT, help="the assignment's column in Canvas's gradebook")
    parser.add_argument("--release-flagged", action="store_true",
                        help="send the grades and feedback of flagged submissions too, once reviewed")
    args = parser.parse_args(argv)
    course = course_of(args)
    try:
        require_reviewed(course.root)   # the gradebook's address comes from nbgrader_config.py
        print("\n".join(export(course, args.db_url, args.column, args.release_flagged)))
    except (ConfigNotReviewed, IntakeError) as error:
        print(for_terminal(f"export: {error}", keep_newlines=True), file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
