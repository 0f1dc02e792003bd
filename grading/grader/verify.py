"""Verdicts that do not depend on the student's kernel.

nbgrader decides a grade inside the student's own kernel, where the student's code can change
anything: skip the later cells, patch NumPy or the grading package, silence a failing test.
This module grades every function a second time, outside that kernel:

1. verify_submission reads the submitted notebooks as data (grading.grader.answers: never running the student's
   kernel or its outputs), with staging's reader and policy (grading.grader.staging: the first
   of duplicated cells, retyped cells as released), and takes from them only the student's code: the solution cells by
   grade_id and the code cells the student added. The setup cells come from the SOURCE
   notebooks (trusted), the test cells from nowhere: the hidden tests run in this process.
2. The student's code runs in a worker process (grading/inside/worker.py, through grading/sandboxing/remote.py):
   plain Python, no IPython, no grading package, sandboxed when grading/sandboxing/sandbox.py is available.
   This process draws the random cases, keeps the reference and compares; only plain data
   crosses the boundary, as JSON.
3. record_verdicts compares the verified points with nbgrader's in-kernel points in the
   gradebook and, where they disagree, records the verified points as nbgrader's manual score
   for that test cell, with a comment on the function's cell that says why, and flags it. It
   remembers what it wrote (grading.grader.ledger.VerifiedScores), so that a manual score an
   instructor set is told apart from its own, and kept.

    verdicts = verify_submission(course.staged("ada"), course=course)
    flags = record_verdicts(db_url, "gradient_checking", "ada", verdicts, course.root)
"""
from pathlib import Path

from grading.assignment import COURSE_ROOT, grade_id_of_tests
from grading.checks.harness import CheckFailed
from grading.checks.hidden_tests import lost_parts
from grading.checks.provided import gc_feedback
from grading.course_directory import Course
from grading.grader.answers import assignment_layout, read_submitted_notebook
from grading.grader.ledger import VerifiedScores
from grading.results import Flag, Verdict
from grading.sandboxing.remote import RemoteStudent, WorkerStartFailed
from grading.settings import DEFAULTS

MARKER = "Verified outside the notebook"


# ---------------------------------------------------------------------------------- verification
def verify_submission(submission_dir, *, course=COURSE_ROOT, only=None, on_verdict=None, anchor=None,
                      settings=DEFAULTS, **remote_options):
    """Grade every function of a submission outside the student's kernel.

    submission_dir -- the folder with the submitted notebooks (read as data only)
    course -- the course (a grading.course_directory.Course, or its path): its source and release
    only -- function names to verify (default: all); a notebook with none of them is not run
    on_verdict -- called as on_verdict(function, verdict) as soon as each verdict is known
    anchor -- a trusted folder that holds submission_dir (see grading.sandboxing.files.open_folder)
    settings -- grading.settings.GradingSettings: what staging reads, the worker's timeouts
    remote_options -- deadline (a time.monotonic() value for the whole submission), cgroup for RemoteStudent

    Returns {function: Verdict}, in the order of the notebooks. A broken notebook or cell gives
    0 points to the functions it affects, with a message; the others are verified. Raises
    WorkerStartFailed only for a problem of the grading machine (the worker cannot start).
    """
    submission_dir = Path(submission_dir)
    course = Course.of(course)
    layouts = assignment_layout(course)
    helpers = course.release() / "gc_utils.py"
    wanted = set(only) if only is not None else {f for layout in layouts for f in layout.functions}
    layouts = [layout for layout in layouts if wanted & set(layout.functions)]
    readings = [read_submitted_notebook(submission_dir / layout.name, layout, anchor, settings) for layout in layouts]
    students = []
    try:
        for layout, reading in zip(layouts, readings):
            needed = not reading.problem and any(f in wanted and f not in reading.function_problems
                                                 for f in layout.functions)
            student = RemoteStudent(reading.cells, setup=layout.setup, helpers=helpers, settings=settings,
                                    **remote_options)
            if needed:
                student.prepare()   # the workers of both notebooks start at once
            students.append(student if needed else None)
        verdicts = {}
        for layout, reading, student in zip(layouts, readings, students):
            for function, points in layout.functions.items():
                if function not in wanted:
                    continue
                warnings = tuple(reading.warnings.get(function, ()))
                problem = reading.problem or reading.function_problems.get(function)
                if problem:
                    verdicts[function] = Verdict(0.0, points, problem, layout.id, warnings)
                else:
                    scored, message = _run_check(function, student, points)
                    if scored < points:
                        message = _with_cell_trouble(message, function, student)
                    verdicts[function] = Verdict(scored, points, message, layout.id, warnings)
                if on_verdict is not None:
                    on_verdict(function, verdicts[function])
        return verdicts
    finally:
        for student in students:
            if student is not None:
                student.close()


def _run_check(function, student, points):
    """(points scored, message) of the hidden tests of one function worth `points`, run against the
    remote student: 0 for a wrong value, less the points of each wrong minor part (gc_feedback.POINTS)."""
    try:
        lost = lost_parts(function, student)
    except CheckFailed as failure:
        return 0.0, str(failure)
    except WorkerStartFailed:
        raise
    except Exception as error:  # the student's values broke a check in an unforeseen way
        return 0.0, (f"{function} could not be graded: its results made the hidden tests stop "
                     f"({type(error).__name__}: {str(error)[:300]}).")
    if not lost:
        return points, f"{function} passes the hidden tests."
    kept = max(points - gc_feedback.points_lost(function, lost), 0.0)
    return kept, gc_feedback.partial_credit(function, lost, "hidden")


def _with_cell_trouble(message, function, student):
    """Add what went wrong with the function's own cell, if anything, to a failure message."""
    trouble = student.left_out.get(function) or student.cell_errors.get(function)
    if trouble:
        message += f" (Its cell {function} stopped: {trouble}.)"
    return message


# ---------------------------------------------------------------------------------- the gradebook
# What record_verdicts does with a test cell's manual score, by whose manual score the cell has now
# (owner_of) and whether the verified points disagree with nbgrader's in-kernel ones.
OVERRIDE, WITHDRAW, KEEP = "override", "withdraw", "keep"
ACTIONS = {
    # (whose manual score, disagree): action
    ("nobody", True): OVERRIDE,        # the verified points become the manual score, with a comment
    ("nobody", False): KEEP,
    ("verification", True): OVERRIDE,  # an earlier run's override, brought up to date
    ("verification", False): WITHDRAW,  # an earlier run's override that no longer applies
    ("instructor", True): KEEP,        # an instructor's score is never replaced: a flag says so
    ("instructor", False): KEEP,       # (flagged too where the verified points differ from it)
}


def record_verdicts(db_url, assignment, student, verdicts, root):
    """Record verified points in nbgrader's gradebook where they differ from nbgrader's own.

    For each function whose verified points differ from the in-kernel auto score of its test
    cell (test_<function>), or that has no auto score (nbgrader could not finish the notebook),
    the verified points become the test cell's manual score, which nbgrader's totals, export
    and feedback use instead of the auto score; the function's solution cell gets a comment
    (shown in the feedback) that says why, and the notebook is flagged. A flag names a function
    whose points are not nbgrader's own (or an instructor's score that verification disagrees
    with); tampering seen in the submission (edited or deleted test cells) goes into such a flag's
    reason, and is otherwise no flag: it changes no points (tampering_seen lists it).
    What happens to a manual score is the table ACTIONS, by its owner (owner_of): an instructor's
    is never replaced, and flagged where the verified points differ from it; running again is
    safe (an earlier override is updated, or withdrawn when the two verdicts now agree).
    Creates the student and submission rows if nbgrader did not get that far.

    root -- the course folder, where grading.grader.ledger.VerifiedScores keeps what verification
            wrote. It is written before the gradebook is committed (the old and the new state of
            each changed cell) and after (the new state alone): a run killed in between leaves the
            gradebook in a state the record still calls verification's.

    Returns [Flag]: one per function that needs a look, with the reason.
    """
    from nbgrader.api import Gradebook, MissingEntry

    record = VerifiedScores(root, db_url)
    written = record.read(student)
    flags, after, pending = [], {}, {}
    with Gradebook(db_url) as gradebook:
        try:
            gradebook.find_student(student)
        except MissingEntry:
            gradebook.add_student(student)
        # nbgrader builds a new submission's rows with the session flushing on every query it makes
        # meanwhile, and SQLAlchemy warns that the half-built rows "will not proceed" (they do, at
        # the commit that follows): built without those flushes, nothing is said.
        with gradebook.db.no_autoflush:
            gradebook.update_or_create_submission(assignment, student)
        for function, verdict in verdicts.items():
            grade = gradebook.find_grade(grade_id_of_tests(function), verdict.notebook, assignment, student)
            try:
                comment = gradebook.find_comment(function, verdict.notebook, assignment, student)
            except MissingEntry:
                comment = None
            before = _state(grade, comment)
            theirs = None if written is None else written.get(function, [])
            owner = owner_of(before, theirs, _state_to_write(grade, comment, verdict))
            flag, action = _record(function, grade, comment, verdict, owner)
            if flag is not None:
                grade.notebook.flagged = True
                flags.append(flag)
            if action == OVERRIDE:
                ours = [_state(grade, comment)]
            else:   # an instructor's cell keeps its record: set back as verification left it, it is its own again
                ours = (theirs or []) if owner == "instructor" else []
            if ours:
                after[function] = ours
            pending[function] = ours + ([before] if owner == "verification" else [])
        for function, states in (written or {}).items():
            if function not in verdicts:   # not verified this time: its record stays
                after[function] = pending[function] = states
        record.write(student, {f: states for f, states in pending.items() if states})
        gradebook.db.commit()
    record.write(student, after)
    return flags


def _state(grade, comment):
    """A test cell's manual score and its function's manual comment, as VerifiedScores keeps them."""
    score = None if grade.manual_score is None else float(grade.manual_score)
    return {"manual_score": score, "manual_comment": (comment.manual_comment or None) if comment is not None else None}


def _state_to_write(grade, comment, verdict):
    """The state an override of this run writes (what owner_of compares with where there is no record)."""
    in_kernel = None if grade.auto_score is None else float(grade.auto_score)
    return {"manual_score": float(verdict.points),
            "manual_comment": _student_comment(in_kernel, verdict) if comment is not None else None}


def _close(a, b):
    return a is not None and b is not None and abs(float(a) - float(b)) <= 1e-9


def owner_of(state, written, would_write):
    """Whose manual score a cell has: "nobody", "verification" or "instructor".

    state -- the cell's {"manual_score", "manual_comment"} in the gradebook now (_state)
    written -- the states verification last wrote there (grading.grader.ledger.VerifiedScores: [] if
               none), or None where there is no record of the student in this gradebook
    would_write -- the state an override of this run would write

    nbgrader's gradebook does not say who set a manual score, so the cell is verification's only
    when its manual score and comment are what verification wrote; otherwise a person changed it:
    - the instructor edits only the comment: the cell is theirs, number and all (kept, and flagged
      where the verified points differ from it). Editing the comment is how an instructor keeps a
      number that happens to equal verification's;
    - the instructor types the number verification wrote and leaves the comment: the gradebook is
      exactly as verification left it, nothing tells the two apart, and the cell stays verification's
      (a later run updates or withdraws it);
    - the instructor clears the manual score, leaving verification's comment or none: the cell is
      handed back, nbgrader's in-kernel score counts again and ACTIONS applies as to any cell, so a
      later run where the verified points still differ overrides again (a blank score with a
      comment of the instructor's own is theirs: kept, and flagged where the points disagree).
      To have the in-kernel score count, type it: a number verification did not write is theirs;
    - no record (a course graded before verification kept one, another gradebook, a lost .grading/):
      a manual score or comment is the instructor's, unless it is exactly what this run would write.
      Conservative on purpose: keeping a number verification set costs the instructor a look at a
      flag, while taking an instructor's number for verification's would silently undo their grade.
    """
    score, text = state["manual_score"], state["manual_comment"]
    if score is None and text is None:
        return "nobody"
    for ours in (written if written is not None else [would_write]):
        if text == ours.get("manual_comment") and (score is None or _close(score, ours.get("manual_score"))):
            return "verification"
    return "instructor"


def _record(function, grade, comment, verdict, owner):
    """Apply ACTIONS to one test cell's grade and its function's comment; (the Flag it needs or None, the action)."""
    in_kernel = None if grade.auto_score is None else float(grade.auto_score)
    disagree = in_kernel is None or abs(in_kernel - verdict.points) > 1e-9
    action = ACTIONS[owner, disagree]
    if action == OVERRIDE:
        grade.manual_score = float(verdict.points)
        grade.needs_manual_grade = False
        if comment is not None:
            comment.manual_comment = _student_comment(in_kernel, verdict)
    elif action == WITHDRAW:
        grade.manual_score = None
        grade.needs_manual_grade = in_kernel is None   # nbgrader marked it for review because of the override
        if comment is not None:
            comment.manual_comment = None
    before = "no in-kernel score (nbgrader could not finish the notebook)" if in_kernel is None \
        else f"in-kernel score {in_kernel:g}"
    reasons = []
    if owner != "instructor":
        if disagree:
            reasons.append(f"{before}, verified {verdict.points:g}: {verdict.message}")
    elif grade.manual_score is not None:
        if not _close(grade.manual_score, verdict.points):
            reasons.append(f"the instructor's manual score {float(grade.manual_score):g} was kept, verified "
                           f"{verdict.points:g} ({before}): {verdict.message}")
    elif disagree:
        reasons.append(f"{before}, verified {verdict.points:g}: {verdict.message}; not recorded, because the "
                       "instructor commented on this function and set no manual score")
    if reasons:   # tampering beside a changed score says more about it; alone it changes no points
        reasons.extend(verdict.warnings)
    flag = Flag(function, in_kernel, float(verdict.points), float(verdict.max_points), "; ".join(reasons)) \
        if reasons else None
    return flag, action


def tampering_seen(verdicts):
    """The tampering the verdicts saw (edited or deleted locked cells), each once, as problems of
    the submission: nbgrader grades with the original cells, so by itself it changes no points and
    is no flag, but the instructor sees it in the table and the class report."""
    seen = dict.fromkeys(warning for verdict in verdicts.values() for warning in verdict.warnings)
    return [f"tampering seen: {warning}" for warning in seen]


def _student_comment(in_kernel, verdict):
    ran = "nbgrader could not finish running the notebook" if in_kernel is None else \
        f"the run of the notebook gave {float(in_kernel):g}"
    return (f"{MARKER}: the hidden tests of this function were run again in a separate, clean process, "
            f"where it earned {verdict.points:g} of {verdict.max_points:g} points ({ran}); that score counts. "
            f"{verdict.message}")


def main(argv=None):
    """python -m grading.grader.verify FOLDER...: verify submissions and print the verdicts (nothing is recorded)."""
    import argparse
    import time

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("folders", nargs="+", help="folders holding a student's submitted notebooks")
    args = parser.parse_args(argv)
    for folder in args.folders:
        started = time.perf_counter()
        verdicts = verify_submission(folder)
        seconds = time.perf_counter() - started
        total = sum(v.points for v in verdicts.values())
        print(f"{folder}: {total:g} of {sum(v.max_points for v in verdicts.values()):g} points ({seconds:.2f} s)")
        for function, verdict in verdicts.items():
            print(f"  {function:<30} {verdict.points:>4g}/{verdict.max_points:<4g} {verdict.message}")
            for warning in verdict.warnings:
                print(f"  {'':<30} warning: {warning}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
