"""Feedback out through nbgrader's exchange, to every student it may reach (`make release-feedback`,
whose command is grading.lms.release_feedback).

release() runs `nbgrader release_feedback` once, with the course's checked exchange class
(grading.exchange.release_feedback), leaving out the flagged students (until release_flagged), those
who did not submit through the exchange (their feedback goes back with `make export`) and those
whose feedback folder is not as grading writes it; if nbgrader fails all the same, it runs again
once per student, so that one student's files never stop the rest of the class. It returns the
exit status and the summary's lines; the command prints them.
"""
import re

from nbgrader.apps.nbgraderapp import NbGraderApp

from grading.assignment import ASSIGNMENT, COURSE_ROOT
from grading.course_directory import Course
from grading.exchange.release_feedback import REFUSED, SECRET, read_feedback
from grading.forked import run_forked
from grading.lms.uploads import flagged_students

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
