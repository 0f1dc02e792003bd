"""Release feedback through nbgrader's exchange, holding back the submissions verification flagged.

    python -m grading.lms.release_feedback [--root COURSE] [--release-flagged] [--student ID ...] [NBGRADER OPTION ...]

Runs `nbgrader release_feedback gradient_checking` in the course, once, with the course's checked
exchange class (grading.exchange.release_feedback: only the pages grading rendered, each student
on their own), for every student with a feedback page, except:
- students whose last grading was flagged (reports/autograde.json), until the instructor has
  reviewed them in the formgrader and runs this again with --release-flagged (`make
  release-feedback RELEASE_FLAGGED=1`): a flag means the grade may still change;
- students whose submission did not come through the exchange (no submission_secret.txt, say a
  download from the LMS): nbgrader cannot address their feedback; `make export` sends it back;
- students whose feedback folder is not as grading writes it (a secret that is not short
  printable ASCII, no readable timestamp.txt, a page that is a link...): named with the reason.
If nbgrader fails all the same, it runs again once per student, so one student's files never
stop the rest of the class; the summary names whoever it failed for. With --student (repeatable),
only those students' feedback goes out (grading on submit releases each grade to its student alone).
The exchange (Exchange.root, CourseDirectory.course_id) is the course configuration's, as for every
exchange command; NBGRADER OPTIONs are passed on (say --Exchange.root=/srv/exchange).

This is the command only: the release is grading.lms.exchange_feedback.

Exit status: 0 (students held back or refused for their files included: the summary names them);
1 when nbgrader's release_feedback failed for a student.
"""
import argparse
import sys

from grading.command_line import course_argument, course_of
from grading.lms.exchange_feedback import release
from grading.untrusted_text import for_terminal


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    course_argument(parser)
    parser.add_argument("--release-flagged", action="store_true",
                        help="release the feedback of flagged submissions too, once reviewed")
    parser.add_argument("--student", action="append", help="release only this student's feedback (repeatable)")
    args, options = parser.parse_known_args(argv)
    status, lines = release(course_of(args), args.release_flagged, options, only=args.student)
    print(for_terminal("\n".join(lines), keep_newlines=True))   # student ids and nbgrader's words
    return status


if __name__ == "__main__":
    sys.exit(main())
