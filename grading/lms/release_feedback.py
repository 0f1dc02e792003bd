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

Exit status: 0 (students held back or refused for their files included: the summary names them);
1 when nbgrader's release_feedback failed for a student.
"""
import argparse
import re
import sys

from nbgrader.apps.nbgraderapp import NbGraderApp

from grading.assignment import ASSIGNMENT, COURSE_ROOT
from grading.command_line import course_argument, course_of
from grading.course_directory import Course
from grading.exchange.release_feedback import REFUSED, SECRET, read_feedback
from grading.forked import run_forked
from grading.lms.lms_export import flagged_students
from grading.untrusted_text import for_terminal

# On the command line, where no configuration file can change it (unless the instructor names
# another class among their own options: nbgrader takes one).
CHECKED = "--ExchangeFactory.release_feedback=grading.exchange.release_feedback.CheckedReleaseFeedback"
REFUSED_LINE = re.compile(re.escape(REFUSED).replace(r"\{student\}", r"(\S+)").replace(r"\{why\}", r"(.*)"))


def students_with_feedback(course):
    """{student: whether their feedback can go through the exchange} for every feedback folder."""
    found = {}
    for student in course.students_in("feedback"):
        folder = course.feedback(student)
        if not folder.is_symlink() and any(folder.glob("*.html")):
            found[student] = (folder / SECRET).exists() or (folder / SECRET).is_symlink()
    return found


def nbgrader(root, options, *, exclude=(), student=None):
    """One run of nbgrader's release_feedback, as `python -m nbgrader release_feedback ...` in the
    course would run it, in a child forked from this process (nbgrader need not start again):
    (status, its log, {student: why} it refused)."""
    chosen = any(option.startswith(CHECKED.split("=")[0] + "=") for option in options)
    command = ["release_feedback", ASSIGNMENT, *([] if chosen else [CHECKED]), *options]
    if exclude:
        command.append("--CourseDirectory.student_id_exclude=" + ",".join(sorted(exclude)))
    if student:
        command.append(f"--student={student}")
    status, _, log = run_forked(NbGraderApp.launch_instance, command, cwd=root)
    refused = {match[1]: match[2] for match in REFUSED_LINE.finditer(log)}
    return status, log, refused


def release(course=COURSE_ROOT, release_flagged=False, options=(), only=None):
    """Run nbgrader's release_feedback for everyone it may reach (of `only`, when given); return
    (status, lines to print).
    course -- a grading.course_directory.Course, or its path"""
    course = Course.of(course)
    root = course.root
    students = students_with_feedback(course)
    others = set() if only is None else set(students) - set(only)
    students = {student: through for student, through in students.items() if student not in others}
    held = set() if release_flagged else flagged_students(course) & set(students)
    unreachable = {s for s, through_exchange in students.items() if not through_exchange}
    bad = {}
    for student in sorted(set(students) - held - unreachable):
        problem = read_feedback(course.feedback(student), root, course.settings.step_file_bytes).problem
        if problem:
            bad[student] = problem
    released = sorted(set(students) - held - unreachable - set(bad))
    lines = []
    if held:
        lines.append("held back, flagged by verification (review them, then RELEASE_FLAGGED=1): " + ", ".join(sorted(held)))
    if unreachable:
        lines.append("not submitted through the exchange (their feedback goes back with `make export`): "
                     + ", ".join(sorted(unreachable)))
    if not released:
        return 0, lines + not_released(bad) + ["no feedback to release"]
    status, log, refused = nbgrader(root, options, exclude=held | unreachable | set(bad) | others)
    failed = {}
    if status != 0:   # nbgrader stopped somewhere: each student on their own, so the others still go out
        refused = {}
        for student in released:
            alone, log, said = nbgrader(root, options, student=student)
            refused.update(said)
            if alone != 0:
                failed[student] = "nbgrader release_feedback failed: " + (log.strip().splitlines() or ["?"])[-1][-300:]
    bad.update(refused)
    bad.update(failed)
    released = [student for student in released if student not in bad]
    return (1 if failed else 0), lines + not_released(bad) + (["released: " + ", ".join(released)] if released else [])


def not_released(bad):
    """The summary's lines for students whose files kept their feedback back, each with why."""
    return ["not released, their feedback folder is not as grading writes it: " + "; ".join(
        f"{student} ({why})" for student, why in sorted(bad.items()))] if bad else []


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
