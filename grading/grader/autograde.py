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
   (grading.grader.similarity_report, pairs from --similarity-threshold up) and the class report, which links it.

--serve keeps the run up for a caller that grades again and again (grading on submit, hub/
grade_on_submit.py): each line read on stdin is one run as above, over the course as it is then,
on the same worker processes (their imports and sandboxed nbgrader start once, not once a run);
after each it prints SERVED and the run's exit status. A line VIEWS_LATER asks for a run that leaves
the similarity report and the class report to a later one (grading on submit has them written once
no batch came for a while: once after a rush, not once a batch).
Configuration, helpers or the assignment changed since it started: it ends with RESTART (its
workers loaded the old ones) for a fresh one.

The run ends cleanly whatever ends it: Ctrl-C, SIGTERM or a closed output pipe stop the workers
and everything they started (grading.grader.runners); grades finished before stay in the ledger.

This is the command only: grading a class is grading.grader.class_grading.

Exit status: 0; 1 when a submission could not be graded (the grading machinery failed: the next
run tries it again); 2 for a mistake in deadlines.toml (nothing graded); 3 when the configuration
changed since it was last reviewed (grading.grader.config_review; nothing graded); 141 when the
output pipe closed; 143 on SIGTERM.
"""
import argparse
import os
import signal
import sys

from grading.assignment import ASSIGNMENT
from grading.command_line import course_argument, course_of, gradebook_argument
from grading.grader import class_grading, class_report, deadlines, gradebook, reviewed_config, similarity_report
from grading.grader.class_grading import students_to_grade
from grading.grader.ledger import public_url
from grading.sandboxing import cgroups
from grading.untrusted_text import for_terminal

SERVED = "@@autograde-run-ended"            # --serve: this, a space, the run's exit status
RESTART = 4                                 # --serve: what it loaded changed; start a fresh one
VIEWS_LATER = "grade-views-later"           # --serve: a run without the similarity and class reports


def parse_args(argv):
    parser = argparse.ArgumentParser(description="Grade every submission in submitted/ in the sandbox, "
                                                 "verified outside it, in parallel and resumably.")
    course_argument(parser)
    parser.add_argument("--student", action="append", help="grade only this student (repeatable)")
    parser.add_argument("--workers", type=int, default=len(os.sched_getaffinity(0)),
                        help="local worker processes (default: one per core)")
    parser.add_argument("--scheduler", help="grade on the Dask cluster with this scheduler, e.g. tcp://host:8786")
    gradebook_argument(parser)
    parser.add_argument("--force", action="store_true", help="grade again what was graded already")
    parser.add_argument("--no-feedback", dest="feedback", action="store_false", help="do not write feedback HTML")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.add_argument("--serve", action="store_true", help="a run for each line read on stdin, on workers kept "
                                                             f"up between runs; after each, '{SERVED} <status>'")
    parser.add_argument("--deadline", type=float, help="seconds for one whole submission, both notebooks and "
                                                       "verification (default: the course's "
                                                       "GradingSettings.deadline_seconds, 300 unless set)")
    parser.add_argument("--cell-timeout", type=float, help="seconds for one cell (default: the course's "
                                                           "GradingSettings.cell_seconds, else Execute.timeout)")
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
    course = course_of(args)
    return serve(args, course) if args.serve else grade_course(args, course)


def loaded(course):
    """What a grading process loads once and keeps: the configuration and helpers (as reviewed),
    and the assignment's source/ and release/ notebooks (grading.grader.answers caches them)."""
    notebooks = {str(path): path.read_bytes() for part in ("source", "release")
                 for path in sorted((course.root / part / ASSIGNMENT).glob("*.ipynb"))}
    return reviewed_config.current(course.root), notebooks


def serve(args, course):
    """--serve: grade_course() for each line on stdin, on one runner kept up; see the docstring."""
    refused = reviewed_config.refusal_status(course.root)
    if refused:
        return refused
    from grading.grader import pipeline
    started_with = loaded(course)
    runner = class_grading.runner_for(None, args.workers, args.scheduler,
                                      on_end=pipeline.end_current)
    with runner:
        for line in sys.stdin:
            if loaded(course) != started_with:
                print(f"{SERVED} {RESTART}", flush=True)
                return RESTART
            status = grade_course(args, course, runner, views=line.strip() != VIEWS_LATER)
            print(f"{SERVED} {status}", flush=True)
            if getattr(runner, "broken", lambda: False)():
                return RESTART   # a worker died outright: the next run needs fresh ones
    return 0


def grade_course(args, course, kept=None, views=True):
    """One run over the course; its exit status. `kept`: a runner already up (--serve); `views`:
    False leaves the similarity and class reports to the next run."""
    refused = reviewed_config.refusal_status(course.root)   # before anything loads nbgrader_config.py here
    if refused:
        return refused
    # Only now: the pipeline imports the helpers of source/ (grading/checks/provided.py), which
    # run in this process, so they are imported once reviewed.
    from grading.grader import pipeline
    course = course.with_settings(**{name: value for name, value in (("deadline_seconds", args.deadline),
                                                                      ("cell_seconds", args.cell_timeout))
                                     if value is not None})
    db_url = gradebook.normalized(args.db_url or course.db_url)
    students = students_to_grade(course, args.student)
    if not students:
        print(f"No submissions in {course.folder('submitted')}/<student>/{ASSIGNMENT}/")
        return 0
    if args.scheduler and gradebook.is_sqlite(db_url):
        print("Note: a SQLite gradebook works only if every Dask worker runs on this machine; "
              "use --db-url postgresql://... for several machines.")
    try:
        course_deadlines = deadlines.load(course)   # a mistake in deadlines.toml stops the run before it grades
    except deadlines.DeadlinesError as error:
        print(f"autograde: {error}", file=sys.stderr)
        return 2
    gradebook.prepare(course, db_url)
    cgroups.sweep()   # what runs killed with SIGKILL left behind
    todo, unchanged = class_grading.to_grade(course, db_url, students, args.force)
    runner = kept or class_grading.runner_for(todo, args.workers, args.scheduler, on_end=pipeline.end_current)
    print(f"Grading {len(todo)} of {len(students)} submissions on {runner.describe()}, "
          f"gradebook {public_url(db_url)}"
          + (f"; {len(unchanged)} unchanged since their last grade (--force grades them again)" if unchanged else ""),
          flush=True)
    graded = class_grading.grade_class(runner, course, db_url, students, todo, pipeline, feedback=args.feedback,
                                       progress=not args.quiet, own_runner=kept is None)
    print_run(graded, course_deadlines)
    class_grading.write_report(course, graded.results)
    class_grading.write_run_report(course, graded, "dask" if args.scheduler else "local",
                                   getattr(runner, "workers", None))
    print(f"\nGrades:       {class_grading.export_grades(course, db_url)}")
    if args.feedback:
        print(f"Feedback:     {course.folder('feedback')}/<student>/{ASSIGNMENT}/*.html")
    if views:
        threshold = similarity_report.THRESHOLD if args.similarity_threshold is None else args.similarity_threshold
        similar, pairs = similarity_report.write(course, threshold)   # before the class report, which links it
        print(f"Class report: {class_report.write(course, db_url)}")
        print(f"Similarity:   {similar} ({len(pairs)} pairs at or above {threshold:.0%})")
    else:
        print("Class report and similarity: left to a later run")
    print(f"Details:      {course.results_file}")
    return 1 if graded.failed else 0


def print_run(graded, course_deadlines):
    """The table, the counts and timings of the run, each worker's memory, what could not be graded."""
    fresh, failed = graded.fresh, graded.failed
    print(class_grading.format_table(graded.results, graded.lateness, course_deadlines))
    print(f"\nGraded {len(fresh) - len(failed)}, unchanged {len(graded.kept)}, not graded {len(failed)}; "
          f"flagged {sum(bool(r.flags) for r in graded.results)}, "
          f"with problems {sum(bool(r.problems) for r in graded.results)}.")
    if fresh:
        print(f"Grading: {len(fresh)} submissions in {graded.grading_seconds:.1f} s, "
              f"{len(fresh) / graded.grading_seconds:.2f} per second; feedback: {graded.feedback_seconds:.1f} s.")
    for worker, (own, child) in sorted(class_grading.worker_memory(fresh).items()):
        print(f"  worker {worker}: peak {own:.0f} MiB itself, {child:.0f} MiB its largest submission (all its processes)")
    for r in failed:
        print(for_terminal(f"\nNOT GRADED {r.student} (the next run tries again):\n{r.failed}", keep_newlines=True))


if __name__ == "__main__":
    sys.exit(main())
