"""`make intake`: an LMS download (a zip of submissions from Canvas or Moodle) and the class roster into the course.

    python -m grading.lms.intake ZIP --roster ROSTER.csv [--root COURSE] [--lms auto|canvas|moodle]
                             [--db-url URL] [--take-older]

Inputs
  ZIP     the zip that Canvas ("Download Submissions") or Moodle ("Download all submissions")
          gives the instructor
  ROSTER  a CSV file with the columns id (the student's id in nbgrader) and lms_id (the Canvas
          user id or the Moodle participant id that the LMS writes into the file names), and
          optionally first_name, last_name and email; or Canvas's gradebook export, or Moodle's
          grading worksheet, as the LMS gives them (grading/lms/roster.py)
  COURSE  the course directory (default: this repository)
  URL     the gradebook (default: nbgrader_config.py's, which $GRADEBOOK_URL overrides); passed
          on to every nbgrader command as --CourseDirectory.db_url

What happens, with the stock nbgrader commands run in the course directory:
1. The roster, without its lms_id column, goes into the gradebook: `nbgrader db student import`.
2. The zip is copied into downloaded/gradient_checking/archive/ (an earlier download there moves
   to downloaded/gradient_checking/previous/), and `nbgrader zip_collect --force`, with the
   intake's plugins (grading.lms.zip_collect_plugins), extracts it to
   downloaded/gradient_checking/extracted/ and copies each roster student's files, under the
   names the student gave them, to submitted/<id>/gradient_checking/.
3. Each collected file keeps the time the LMS gave it (staging takes the newest of two files for
   one notebook) and a summary: the students collected, their files and submission times (the
   times the LMS gave the files in the zip, which zip_collect writes to timestamp.txt), which
   file is graded as which notebook (grading.grader.staging.find_notebooks: by its cells, whatever
   its name), late ones by the course's rule (grading/grader/deadlines.py: due dates, extensions,
   grace) beside Canvas's own marker, the LMS's test student left out, and every file that was not
   collected (not on the roster, not recognised, older versions), which stays in downloaded/.

Exit status: 2 for unusable input (not a zip, a roster without its columns, a zip in which no
file name fits the LMS's format; nothing in the course changed), 3 when the course's configuration
changed since it was last reviewed (grading.grader.config_review), 1 when an nbgrader command
fails, 0 otherwise.

Running it again with a newer download replaces the submitted folder of every student in that
download (an LMS download holds each student's latest submission); students who are not in it
keep what they have. A student whose submission in the download is older than the one in the
course keeps the newer one, and the summary says so; --take-older takes the older one.

This is the command only: the intake's steps are grading.lms.downloads, the file names' rules
grading.lms.lms_files, the zip's bounds grading.lms.zip_members, the summary grading.lms.intake_summary.
"""
import argparse
import sys

from grading.command_line import course_argument, gradebook_argument
from grading.grader.reviewed_config import ConfigNotReviewed
from grading.lms.downloads import intake
from grading.lms.lms_files import LMS_NAMES
from grading.lms.roster import IntakeError
from grading.untrusted_text import for_terminal


def parse_args(argv):
    parser = argparse.ArgumentParser(
        prog="python -m grading.lms.intake",
        description="Import a Canvas or Moodle submissions download and the roster into the course: "
                    "submitted/<id>/gradient_checking/ and the gradebook.")
    parser.add_argument("zip", help="the zip of submissions downloaded from the LMS")
    parser.add_argument("--roster", required=True,
                        help="CSV with columns id and lms_id, optionally first_name, last_name, email")
    course_argument(parser)
    parser.add_argument("--lms", choices=("auto", *LMS_NAMES), default="auto",
                        help="the LMS that made the zip (default: recognised from the file names)")
    gradebook_argument(parser)
    parser.add_argument("--take-older", action="store_true",
                        help="take a student's submission from the download even where the course holds a newer one")
    return parser.parse_args(argv)


def main(argv=None):
    """Run the intake for the command line `argv`; print the summary; return the exit status."""
    args = parse_args(argv)
    try:
        summary = intake(args.zip, args.roster, root=args.root, lms=args.lms, db_url=args.db_url,
                         take_older=args.take_older)
    except IntakeError as error:
        print(for_terminal(f"intake: error: {error}", keep_newlines=True), file=sys.stderr)
        return 2
    except ConfigNotReviewed as refusal:
        print(f"intake: {refusal}", file=sys.stderr)
        return 3
    except RuntimeError as error:
        print(for_terminal(f"intake: {error}", keep_newlines=True), file=sys.stderr)
        return 1
    print(summary.text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
