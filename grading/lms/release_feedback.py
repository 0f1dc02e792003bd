"""Release feedback through nbgrader's exchange, holding back the submissions verification flagged.

    python -m grading.lms.release_feedback [--root COURSE] [--release-flagged] [NBGRADER OPTION ...]

Runs the stock `nbgrader release_feedback gradient_checking` in the course, once, for every student
with a feedback page, except:
- students whose last grading was flagged (reports/autograde.json), until the instructor has
  reviewed them in the formgrader and runs this again with --release-flagged (`make
  release-feedback RELEASE_FLAGGED=1`): a flag means the grade may still change;
- students whose submission did not come through the exchange (no submission_secret.txt, say a
  download from the LMS): nbgrader cannot address their feedback; `make export` sends it back.
The exchange (Exchange.root, CourseDirectory.course_id) is the course configuration's, as for every
exchange command; NBGRADER OPTIONs are passed on (say --Exchange.root=/srv/exchange).
"""
import argparse
import subprocess
import sys
from pathlib import Path

from grading.assignment import ASSIGNMENT, COURSE_ROOT
from grading.lms.lms_export import flagged_students
from grading.untrusted_text import for_terminal


def students_with_feedback(root):
    """{student: whether their feedback can go through the exchange} for every feedback folder."""
    found = {}
    for folder in sorted((Path(root) / "feedback").glob(f"*/{ASSIGNMENT}")):
        if folder.is_dir() and not folder.is_symlink() and any(folder.glob("*.html")):
            found[folder.parent.name] = (folder / "submission_secret.txt").is_file()
    return found


def release(root=COURSE_ROOT, release_flagged=False, options=()):
    """Run nbgrader's release_feedback for everyone it may reach; return (status, lines to print)."""
    root = Path(root)
    students = students_with_feedback(root)
    held = set() if release_flagged else flagged_students(root) & set(students)
    unreachable = {s for s, through_exchange in students.items() if not through_exchange}
    released = sorted(set(students) - held - unreachable)
    lines = []
    if held:
        lines.append("held back, flagged by verification (review them, then RELEASE_FLAGGED=1): " + ", ".join(sorted(held)))
    if unreachable:
        lines.append("not submitted through the exchange (their feedback goes back with `make export`): "
                     + ", ".join(sorted(unreachable)))
    if not released:
        return 0, lines + ["no feedback to release"]
    excluded = sorted(held | unreachable)
    command = [sys.executable, "-m", "nbgrader", "release_feedback", ASSIGNMENT, *options]
    if excluded:
        command.append("--CourseDirectory.student_id_exclude=" + ",".join(excluded))
    done = subprocess.run(command, cwd=root, capture_output=True, text=True)
    if done.returncode != 0:
        return done.returncode, lines + ["nbgrader release_feedback failed:", done.stderr.strip()[-2000:]]
    return 0, lines + ["released: " + ", ".join(released)]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", default=str(COURSE_ROOT), help="the course folder (default: this one)")
    parser.add_argument("--release-flagged", action="store_true",
                        help="release the feedback of flagged submissions too, once reviewed")
    args, options = parser.parse_known_args(argv)
    status, lines = release(args.root, args.release_flagged, options)
    print(for_terminal("\n".join(lines), keep_newlines=True))   # student ids and nbgrader's words
    return status


if __name__ == "__main__":
    sys.exit(main())
