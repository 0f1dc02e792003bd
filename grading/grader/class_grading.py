"""Grading a class, as `make autograde` does it (grading.grader.autograde is its command line).

- which students: those with a submission in the course's submitted folder (students_to_grade),
  and of those, which are new or changed since their last grade (to_grade: the ledger);
- grade_class: each of those graded by grading.grader.pipeline on a runner's workers
  (grading.grader.runners), every grade into the ledger as soon as it is finished; due dates and
  penalties into the gradebook (grading.grader.deadlines); the feedback HTML of every student
  whose feedback is missing, older than their graded notebooks, or whose penalty changed; the
  results with the gradebook's scores as they are now (an instructor's manual ones included);
- what a run leaves: the table (format_table), reports/autograde.json (write_report), the run's
  figures (write_run_report), grades.csv (export_grades).

It does not import grading.grader.pipeline, which loads the helpers of source/
(grading/checks/provided.py) into this process: the command imports it once the configuration and
the helpers are reviewed (grading.grader.reviewed_config) and hands it in.
"""
import json
import os
import sys
import time
from collections import defaultdict
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path

from grading.assignment import FEEDBACK_FILES, FEEDBACK_PAGES, FUNCTIONS, SHORT
from grading.course_directory import REPORTS, Course
from grading.grader import deadlines, gradebook, grades_file, runners
from grading.grader.course import scores
from grading.grader.ledger import Ledger, submission_fingerprint
from grading.results import Result, final_total, points_text
from grading.sandboxing import files
from grading.untrusted_text import for_terminal

RUN_REPORT = Path(REPORTS, "autograde_run.json")   # figures of the last run (read by the benchmark)


def students_to_grade(course, only=None):
    """The students with a submission in the course's submitted folder (`only` of them, if given)."""
    return [s for s in Course.of(course).students_in("submitted") if not only or s in only]


def short_marks(result):
    """One line of marks for the table: flagged functions, then problems cut short (details in the report)."""
    marks = []
    if result.failed:
        marks.append("NOT GRADED: " + result.failed.strip().splitlines()[-1][:80])
    if result.flags:
        marks.append("FLAGGED " + ",".join(SHORT.get(f.function, f.function) for f in result.flags))
    marks.extend(problem.split(":")[0][:60] for problem in result.problems)
    return "; ".join(marks)


def format_table(results, lateness=None, course_deadlines=None):
    """The grading table, one line per student; ids and marks can hold no control character.

    lateness -- {student: grading.grader.deadlines.Lateness}: the late column, and the total after it
                (grading.results.final_total, the number every view shows)."""
    lateness = lateness or {}
    header = f"{'student':<22}" + "".join(f"{SHORT[f]:>9}" for f in FUNCTIONS) + f"{'late':>7}{'total':>8}  flags"
    lines = [header, "-" * len(header)]
    for r in sorted(results, key=lambda r: r.student):
        late = lateness.get(r.student)
        penalty = late.penalty if late else 0.0
        marks = short_marks(r)
        if late and late.seconds_late:
            marks = "; ".join(filter(None, [late.describe(course_deadlines), marks]))
        lines.append(f"{r.student:<22}" + "".join(f"{r.scores.get(f, 0):>9g}" for f in FUNCTIONS) +
                     f"{(f'-{points_text(penalty)}' if penalty else ''):>7}"
                     f"{points_text(final_total(r.total, penalty)):>8}  " + marks)
    return "\n".join(for_terminal(line) for line in lines)


def write_report(course, results):
    path = course.results_file
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps([r.for_report() for r in results if not r.failed], indent=2))
    return path


def worker_memory(results):
    """{worker: (its own peak MiB, its largest child's peak MiB)} over the Results it produced."""
    peaks = defaultdict(lambda: (0.0, 0.0))
    for r in results:
        if r.worker:
            own, child = peaks[r.worker]
            peaks[r.worker] = (max(own, r.peak_mb), max(child, r.kernel_peak_mb))
    return dict(peaks)


def grade_all(runner, course, students, db_url, grade, *, progress=True):
    """Grade `students` on the runner's workers with grade(course, student, db_url)
    (grading.grader.pipeline.grade_submission) and record each finished grade in the ledger; return Results."""
    from tqdm import tqdm

    course = Course.of(course)
    ledger = Ledger(course, db_url)
    fingerprints = {s: submission_fingerprint(course, s) for s in students}
    results = []
    with tqdm(total=len(students), unit="submission", desc="grading", file=sys.stderr,
              disable=not progress, smoothing=0.1, dynamic_ncols=True) as bar:
        jobs = {student: (course, student, db_url) for student in students}
        for student, result in runner.run(grade, jobs):
            if isinstance(result, Exception):
                result = Result(student, failed=f"{type(result).__name__}: {result}")
            else:
                ledger.record(result, fingerprints[student])
            results.append(result)
            if result.failed or result.flags:
                bar.write(for_terminal(f"{result.student}: {short_marks(result)}"))
            bar.set_postfix(flagged=sum(bool(r.flags) for r in results),
                            failed=sum(bool(r.failed) for r in results), refresh=False)
            bar.update()
    return results


def feedback_missing(course, student):
    """True if the student's feedback HTML is absent or older than their graded notebooks, or its
    folder holds anything but FEEDBACK_FILES (left by an older grader: written again, it goes)."""
    course = Course.of(course)

    def times(kind, suffix):
        folder = course.feedback(student) if kind == "feedback" else course.autograded(student)
        try:
            regular, others = files.regular_files(folder, anchor=course.root)
        except (FileNotFoundError, files.NotRegular):
            return [], False
        foreign = bool(others) or any(name not in FEEDBACK_FILES for name, _ in regular)
        return [os.stat(folder / name, follow_symlinks=False).st_mtime for name, _ in regular
                if name.endswith(suffix) and (kind != "feedback" or name in FEEDBACK_PAGES)], foreign

    (graded, _), (pages, foreign) = times("autograded", ".ipynb"), times("feedback", ".html")
    return not pages or foreign or len(pages) < len(graded) or min(pages) < max(graded, default=0)


def write_all_feedback(runner, course, students, db_url, write, *, progress=True, stale=()):
    """nbgrader's feedback HTML, by write(course, student, db_url) (grading.grader.pipeline.write_feedback),
    of each student whose feedback is missing or older than their graded notebooks, or who is in
    `stale` (their late penalty changed); {student: problem}."""
    from tqdm import tqdm

    todo = [s for s in students if s in stale or feedback_missing(course, s)]
    problems = {}
    jobs = {student: (course, student, db_url) for student in todo}
    for student, problem in tqdm(runner.run(write, jobs), total=len(todo), unit="student",
                                 desc="feedback", file=sys.stderr, disable=not progress or not todo):
        if isinstance(problem, Exception):
            problem = f"the feedback could not be written: {type(problem).__name__}: {problem}"
        if problem:
            problems[student] = problem
    return problems


def export_grades(course, db_url):
    """grades.csv in the course root, as `nbgrader export` writes it (grading.grader.grades_file)."""
    from nbgrader.api import Gradebook

    with Gradebook(db_url, course.course_id) as book:
        grades_file.write(course.grades_csv, book, deadlines.load(course))   # its zone, each student's due date
    return course.grades_csv


def to_grade(course, db_url, students, force=False):
    """(the students to grade now, those unchanged since their last grade): a submission is graded
    again when it is new or changed, its gradebook lost it, or with `force`."""
    ledger = Ledger(course, db_url)
    in_gradebook = gradebook.graded_students(db_url)
    todo = [s for s in students if force or s not in in_gradebook or not ledger.is_current(s)]
    return todo, [s for s in students if s not in todo]


def runner_for(todo, workers, scheduler=None, on_end=None):
    """The runner of a run: the Dask cluster at `scheduler`, else `workers` local processes (no more
    than there are submissions in `todo`; None: a runner kept for runs to come, all `workers`),
    each of which calls on_end() (grading.grader.pipeline.end_current: kill what its submission
    runs) when told to end."""
    if scheduler:
        return runners.DaskCluster(scheduler)
    wanted = workers if todo is None else min(workers, len(todo) or 1)
    return runners.LocalProcesses(max(1, wanted), on_end=on_end)


@dataclass
class ClassRun:
    """What one run did: every student's Result, and how long its parts took."""
    results: list                                   # every student's, sorted: fresh and kept
    fresh: list = field(default_factory=list)       # graded in this run
    kept: list = field(default_factory=list)        # unchanged since their last grade (the ledger's)
    lateness: dict = field(default_factory=dict)    # {student: grading.grader.deadlines.Lateness}
    grading_seconds: float = 0.0
    feedback_seconds: float = 0.0

    @property
    def failed(self):
        return [r for r in self.fresh if r.failed]


def grade_class(runner, course, db_url, students, todo, pipeline, *, feedback=True, progress=True, own_runner=True):
    """Grade `todo` (of `students`) on `runner`, apply the deadlines to everyone, write the feedback
    that is due; the ClassRun, each result with the gradebook's scores as they are now.
    pipeline -- grading.grader.pipeline, which grades a submission and writes its feedback
    own_runner -- start and stop the runner here (False: a runner kept up between runs, --serve)"""
    ledger = Ledger(course, db_url)
    with runner if own_runner else nullcontext(runner):
        started = time.perf_counter()
        fresh = grade_all(runner, course, todo, db_url, pipeline.grade_submission, progress=progress) if todo else []
        grading_seconds = time.perf_counter() - started
        # Every run: a new extension or policy changes penalties without a regrade.
        lateness = deadlines.apply(course, db_url)
        started = time.perf_counter()
        no_feedback = write_all_feedback(runner, course, students, db_url, pipeline.write_feedback, progress=progress,
                                         stale={s for s, late in lateness.items() if late.changed}) \
            if feedback else {}
        feedback_seconds = time.perf_counter() - started
    kept = [ledger.result(s) for s in students if s not in todo]
    results = sorted(fresh + kept, key=lambda r: r.student)
    # The gradebook's scores now, as grades.csv, the formgrader and the LMS read them: an unchanged
    # student's manual scores may have been set in the formgrader since their grade was recorded.
    current = scores(course, db_url)
    for r in results:
        if r.student in current and not r.failed:
            r.scores = current[r.student]
        if r.student in no_feedback:
            r.problems.append(no_feedback[r.student])
        time_flag = lateness[r.student].flag() if r.student in lateness else None
        if time_flag:   # no readable submission time: the instructor looks, and its feedback waits
            r.flags.append(time_flag)
    return ClassRun(results, fresh, kept, lateness, grading_seconds, feedback_seconds)


def write_run_report(course, run, mode, workers):
    """The run's figures (RUN_REPORT), for the benchmark."""
    memory = worker_memory(run.fresh)
    (course.root / RUN_REPORT).write_text(json.dumps({
        "mode": mode, "workers": workers,
        "graded": len(run.fresh), "unchanged": len(run.kept), "failed": len(run.failed),
        "grading_seconds": run.grading_seconds, "feedback_seconds": run.feedback_seconds,
        "worker_peak_mb": {w: {"self": own, "largest_child": child} for w, (own, child) in memory.items()},
    }, indent=2))
