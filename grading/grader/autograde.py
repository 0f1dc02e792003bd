"""`make autograde`: grade every submission in submitted/, in parallel, resumably and safely.

    python -m grading.grader.autograde [--workers N | --scheduler tcp://host:8786] [--db-url URL]
                                [--force] [--student ID ...] [--no-feedback] [--quiet]
                                [--deadline SECONDS] [--cell-timeout SECONDS] [--similarity-threshold X]

1. The gradebook gets nbgrader's tables and the assignment, once (grading.grader.gradebook).
2. Each submission that is new or changed since its last grade (grading.grader.ledger) is graded by
   grading.grader.pipeline (staging, nbgrader's Autograde in the sandboxed kernel, verification outside
   the kernel), in local worker processes or on a Dask cluster (grading.grader.runners), with a
   progress bar.
3. A grade goes into the ledger as soon as it is finished, so a killed run loses none and the
   next run takes up where it stopped.
4. Due dates, submission times and late penalties go into the gradebook (grading.grader.deadlines),
   for every student at every run.
5. The same workers write nbgrader's feedback HTML of every student whose feedback is missing
   or older than their graded notebooks, or whose late penalty changed.
6. A table of every student, then grades.csv (nbgrader's CSV export), the similarity report
   (grading.grader.similarity, pairs from --similarity-threshold up) and the class report, which links it.

--serve keeps the run up for a caller that grades again and again (grading on submit, hub/
grade_on_submit.py): each line read on stdin is one run as above, over the course as it is then,
on the same worker processes (their imports and sandboxed nbgrader start once, not once a run);
after each it prints SERVED and the run's exit status. Configuration, helpers or the assignment
changed since it started: it ends with RESTART (its workers loaded the old ones) for a fresh one.

The run ends cleanly whatever ends it: Ctrl-C, SIGTERM or a closed output pipe stop the workers
and everything they started (grading.grader.runners); grades finished before stay in the ledger.
"""
import argparse
import json
import os
import signal
import sys
import time
from collections import defaultdict
from contextlib import nullcontext
from pathlib import Path

from grading.assignment import ASSIGNMENT, COURSE_ROOT, FEEDBACK_FILES, FEEDBACK_PAGES, FUNCTIONS, SHORT
from grading.grader import config_review, course, deadlines, gradebook, report, runners, similarity
from grading.grader.ledger import Ledger, public_url, submission_fingerprint
from grading.grader.report import REPORT
from grading.results import Result, final_total, points_text
from grading.sandboxing import cgroups, files
from grading.sandboxing.limits import GradingLimits
from grading.untrusted_text import for_terminal

RUN_REPORT = "reports/autograde_run.json"   # figures of the last run (read by the benchmark)
SERVED = "@@autograde-run-ended"            # --serve: this, a space, the run's exit status
RESTART = 4                                 # --serve: what it loaded changed; start a fresh one


def students_to_grade(root, only=None):
    folder = Path(root) / "submitted"
    found = sorted(p.parent.name for p in folder.glob(f"*/{ASSIGNMENT}") if p.is_dir())
    return [s for s in found if not only or s in only]


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


def write_report(root, results):
    path = Path(root) / REPORT
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


def grade_all(runner, root, students, db_url, *, progress=True, limits=GradingLimits()):
    """Grade `students` on the runner's workers and record each finished grade in the ledger; return Results."""
    from tqdm import tqdm

    from grading.grader import pipeline   # after the review: it loads the helpers (see run())

    ledger = Ledger(root, db_url)
    fingerprints = {s: submission_fingerprint(root, s) for s in students}
    results = []
    with tqdm(total=len(students), unit="submission", desc="grading", file=sys.stderr,
              disable=not progress, smoothing=0.1, dynamic_ncols=True) as bar:
        jobs = {student: (str(root), student, db_url, limits) for student in students}
        for student, result in runner.run(pipeline.grade_submission, jobs):
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


def feedback_missing(root, student):
    """True if the student's feedback HTML is absent or older than their graded notebooks, or its
    folder holds anything but FEEDBACK_FILES (left by an older grader: written again, it goes)."""
    def times(kind, suffix):
        folder = Path(root) / kind / student / ASSIGNMENT
        try:
            regular, others = files.regular_files(folder, anchor=root)
        except (FileNotFoundError, files.NotRegular):
            return [], False
        foreign = bool(others) or any(name not in FEEDBACK_FILES for name, _ in regular)
        return [os.stat(folder / name, follow_symlinks=False).st_mtime for name, _ in regular
                if name.endswith(suffix) and (kind != "feedback" or name in FEEDBACK_PAGES)], foreign

    (graded, _), (pages, foreign) = times("autograded", ".ipynb"), times("feedback", ".html")
    return not pages or foreign or len(pages) < len(graded) or min(pages) < max(graded, default=0)


def write_all_feedback(runner, root, students, db_url, *, progress=True, limits=GradingLimits(), stale=()):
    """nbgrader's feedback HTML of each student whose feedback is missing or older than their
    graded notebooks, or who is in `stale` (their late penalty changed); {student: problem}."""
    from tqdm import tqdm

    from grading.grader import pipeline

    todo = [s for s in students if s in stale or feedback_missing(root, s)]
    problems = {}
    jobs = {student: (str(root), student, db_url, limits) for student in todo}
    for student, problem in tqdm(runner.run(pipeline.write_feedback, jobs), total=len(todo), unit="student",
                                 desc="feedback", file=sys.stderr, disable=not progress or not todo):
        if isinstance(problem, Exception):
            problem = f"the feedback could not be written: {type(problem).__name__}: {problem}"
        if problem:
            problems[student] = problem
    return problems


def export_grades(root, db_url):
    """grades.csv in the course root, as `nbgrader export` writes it (grading.plugins.grades_csv)."""
    from nbgrader.api import Gradebook
    from traitlets.config import Config

    from grading.plugins.grades_csv import SafeCsvExport

    path = Path(root) / "grades.csv"
    config = Config()
    config.CourseDirectory.root = str(root)   # its deadlines.toml: the zone of the times, each student's due date
    with Gradebook(db_url, gradebook.configured_course_id(root)) as book:
        SafeCsvExport(to=str(path), config=config).export(book)
    return path


def parse_args(argv):
    parser = argparse.ArgumentParser(description="Grade every submission in submitted/ in the sandbox, "
                                                 "verified outside it, in parallel and resumably.")
    parser.add_argument("--root", default=str(COURSE_ROOT), help="the course directory (default: this repository)")
    parser.add_argument("--student", action="append", help="grade only this student (repeatable)")
    parser.add_argument("--workers", type=int, default=len(os.sched_getaffinity(0)),
                        help="local worker processes (default: one per core)")
    parser.add_argument("--scheduler", help="grade on the Dask cluster with this scheduler, e.g. tcp://host:8786")
    parser.add_argument("--db-url", help="the gradebook, e.g. postgresql://user@host/db "
                                         "(default: nbgrader_config.py's, or $GRADEBOOK_URL)")
    parser.add_argument("--force", action="store_true", help="grade again what was graded already")
    parser.add_argument("--no-feedback", dest="feedback", action="store_false", help="do not write feedback HTML")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.add_argument("--serve", action="store_true", help="a run for each line read on stdin, on workers kept "
                                                             f"up between runs; after each, '{SERVED} <status>'")
    parser.add_argument("--deadline", type=float, default=GradingLimits.deadline_seconds,
                        help="seconds for one whole submission, both notebooks and verification "
                             f"(default {GradingLimits.deadline_seconds:g})")
    parser.add_argument("--cell-timeout", type=float, default=0,
                        help="seconds for one cell (default: nbgrader_config.py's Execute.timeout)")
    parser.add_argument("--similarity-threshold", type=similarity_threshold, default=None, metavar="X",
                        help="list pairs of submissions from this similarity up, 0 to 1 (default 0.75)")
    return parser.parse_args(argv)


def similarity_threshold(text):
    """A share between 0 and 1, as the similarity report compares it."""
    value = float(text)
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"{text} is not between 0 and 1")
    return value


class Stopped(Exception):
    """The run was told to stop (SIGTERM)."""


def _stop(*_):
    raise Stopped()


def main(argv=None):
    """Run `make autograde`; SIGTERM and a closed output pipe end it, and its workers with it."""
    previous = signal.signal(signal.SIGTERM, _stop)
    try:
        return run(argv)
    except Stopped:
        print("Stopped (SIGTERM): finished grades are kept; the next run grades the rest.", file=sys.stderr)
        return 143
    except BrokenPipeError:
        # Whoever read our output has gone; nothing more can be said there.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    finally:
        signal.signal(signal.SIGTERM, previous)


def run(argv=None):
    args = parse_args(argv)
    root = Path(args.root).resolve()
    return serve(args, root) if args.serve else grade_course(args, root)


def loaded(root):
    """What a grading process loads once and keeps: the configuration and helpers (as reviewed),
    and the assignment's source/ and release/ notebooks (grading.grader.answers caches them)."""
    notebooks = {str(path): path.read_bytes() for part in ("source", "release")
                 for path in sorted((root / part / ASSIGNMENT).glob("*.ipynb"))}
    return config_review.current(root), notebooks


def serve(args, root):
    """--serve: grade_course() for each line on stdin, on one runner kept up; see the docstring."""
    refused = config_review.refusal_status(root)
    if refused:
        return refused
    from grading.grader import pipeline
    started_with = loaded(root)
    runner = runners.DaskCluster(args.scheduler) if args.scheduler else \
        runners.LocalProcesses(max(1, args.workers), on_end=pipeline.end_current)
    with runner:
        for _ in sys.stdin:
            if loaded(root) != started_with:
                print(f"{SERVED} {RESTART}", flush=True)
                return RESTART
            status = grade_course(args, root, runner)
            print(f"{SERVED} {status}", flush=True)
            if getattr(runner, "broken", lambda: False)():
                return RESTART   # a worker died outright: the next run needs fresh ones
    return 0


def grade_course(args, root, kept=None):
    """One run over the course at `root`; its exit status. `kept`: a runner already up (--serve)."""
    refused = config_review.refusal_status(root)   # before anything loads nbgrader_config.py here
    if refused:
        return refused
    # Only now: the pipeline imports the helpers of source/ (grading/checks/provided.py), which
    # run in this process, so they are imported once reviewed.
    from grading.grader import pipeline
    db_url = gradebook.normalized(args.db_url or gradebook.configured_url(root))
    students = students_to_grade(root, args.student)
    if not students:
        print(f"No submissions in {root / 'submitted'}/<student>/{ASSIGNMENT}/")
        return 0
    if args.scheduler and gradebook.is_sqlite(db_url):
        print("Note: a SQLite gradebook works only if every Dask worker runs on this machine; "
              "use --db-url postgresql://... for several machines.")
    limits = GradingLimits(deadline_seconds=args.deadline, cell_seconds=args.cell_timeout)
    try:
        course_deadlines = deadlines.load(root)   # a mistake in deadlines.toml stops the run before it grades
    except deadlines.DeadlinesError as error:
        print(f"autograde: {error}", file=sys.stderr)
        return 2
    gradebook.prepare(root, db_url)
    cgroups.sweep()   # what runs killed with SIGKILL left behind
    ledger = Ledger(root, db_url)
    in_gradebook = gradebook.graded_students(db_url)
    todo = [s for s in students if args.force or s not in in_gradebook or not ledger.is_current(s)]
    unchanged = [s for s in students if s not in todo]
    runner = kept or (runners.DaskCluster(args.scheduler) if args.scheduler else
                      runners.LocalProcesses(max(1, min(args.workers, len(todo) or 1)), on_end=pipeline.end_current))
    print(f"Grading {len(todo)} of {len(students)} submissions on {runner.describe()}, "
          f"gradebook {public_url(db_url)}"
          + (f"; {len(unchanged)} unchanged since their last grade (--force grades them again)" if unchanged else ""),
          flush=True)

    with nullcontext(runner) if kept else runner:
        started = time.perf_counter()
        fresh = grade_all(runner, root, todo, db_url, progress=not args.quiet, limits=limits) if todo else []
        grading_seconds = time.perf_counter() - started
        # Every run: a new extension or policy changes penalties without a regrade.
        lateness = deadlines.apply(root, db_url)
        started = time.perf_counter()
        no_feedback = write_all_feedback(runner, root, students, db_url, progress=not args.quiet, limits=limits,
                                         stale={s for s, late in lateness.items() if late.changed}) \
            if args.feedback else {}
        feedback_seconds = time.perf_counter() - started
    kept = [ledger.result(s) for s in unchanged]
    results = sorted(fresh + kept, key=lambda r: r.student)
    # The gradebook's scores now, as grades.csv, the formgrader and the LMS read them: an unchanged
    # student's manual scores may have been set in the formgrader since their grade was recorded.
    current = course.scores(root, db_url)
    for r in results:
        if r.student in current and not r.failed:
            r.scores = current[r.student]
        if r.student in no_feedback:
            r.problems.append(no_feedback[r.student])
        time_flag = lateness[r.student].flag() if r.student in lateness else None
        if time_flag:   # no readable submission time: the instructor looks, and its feedback waits
            r.flags.append(time_flag)
    failed = [r for r in fresh if r.failed]

    print(format_table(results, lateness, course_deadlines))
    print(f"\nGraded {len(fresh) - len(failed)}, unchanged {len(kept)}, not graded {len(failed)}; "
          f"flagged {sum(bool(r.flags) for r in results)}, with problems {sum(bool(r.problems) for r in results)}.")
    if fresh:
        print(f"Grading: {len(fresh)} submissions in {grading_seconds:.1f} s, "
              f"{len(fresh) / grading_seconds:.2f} per second; feedback: {feedback_seconds:.1f} s.")
    memory = worker_memory(fresh)
    for worker, (own, child) in sorted(memory.items()):
        print(f"  worker {worker}: peak {own:.0f} MiB itself, {child:.0f} MiB its largest submission (all its processes)")
    for r in failed:
        print(for_terminal(f"\nNOT GRADED {r.student} (the next run tries again):\n{r.failed}", keep_newlines=True))

    write_report(root, results)
    (root / RUN_REPORT).write_text(json.dumps({
        "mode": "dask" if args.scheduler else "local", "workers": getattr(runner, "workers", None),
        "graded": len(fresh), "unchanged": len(kept), "failed": len(failed),
        "grading_seconds": grading_seconds, "feedback_seconds": feedback_seconds,
        "worker_peak_mb": {w: {"self": own, "largest_child": child} for w, (own, child) in memory.items()},
    }, indent=2))
    print(f"\nGrades:       {export_grades(root, db_url)}")
    if args.feedback:
        print(f"Feedback:     {root / 'feedback'}/<student>/{ASSIGNMENT}/*.html")
    threshold = similarity.THRESHOLD if args.similarity_threshold is None else args.similarity_threshold
    similar, pairs = similarity.write(root, threshold)   # before the class report, which links it
    print(f"Class report: {report.write(root, db_url)}")
    print(f"Similarity:   {similar} ({len(pairs)} pairs at or above {threshold:.0%})")
    print(f"Details:      {root / REPORT}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
