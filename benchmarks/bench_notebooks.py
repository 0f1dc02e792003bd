"""Benchmark: how long the notebooks take to run, and how long stock `nbgrader autograde` takes.

Measures, in one run, on this machine:

1. Run-all time of each source notebook, executed with nbclient on the `python3` kernel with the
   notebook's folder as working directory (kernel start and shutdown included), beside the run-all
   time of an empty notebook (one `pass` cell): the floor set by starting a kernel. Prints
   min/median/max of --runs runs, the ratio of each median to the floor, the difference
   (the time spent in the notebook's own cells), and how many runs had a failing cell.
2. Autograde time per submission: a throwaway course copy with a generated release and --students
   complete synthetic submissions, graded by the real `nbgrader autograde` CLI (only that command
   is timed; a fresh copy each of --repeats repetitions). Prints the median seconds per submission
   and per notebook, beside the floor estimate of 2 empty-notebook runs per submission, and how
   many of these complete submissions were graded below 100 points. Autograde runs the kernel that
   nbgrader_config.py names (the grading sandbox), which starts slower than the python3 floor.

Beside the notebooks' wall-clock seconds it prints their CPU seconds (this process and the kernel):
on a busy machine wall time grows with the load, CPU time much less. (Not for autograde: the CPU
time of its sandboxed kernels does not reliably reach this process's child-process accounting.)
The load average before and after is printed, so that a run on a busy machine is recognisable.

Run from the repository root (not part of the test suite):
    make bench                                    # same as the line below
    .venv/bin/python benchmarks/bench_notebooks.py [--runs 5] [--students 6] [--repeats 3]
    .venv/bin/python benchmarks/bench_notebooks.py --quick   # smoke run: 1 run, 1 student, 1 repeat
"""
import argparse
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from grading.grader import course

from synthetic_class import synthetic
from grading.assignment import COURSE_ROOT, NOTEBOOKS
from grading.course_directory import Course

SOURCE = Course(COURSE_ROOT).source()


def cpu_seconds():
    """CPU seconds of this process and of its children that have been waited for (the kernels)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def run_all(notebook, folder):
    """(wall, cpu, failing cells) of executing a copy of `notebook` on a fresh python3 kernel.

    Every cell runs even after one fails (as in autograde), so each run times the whole notebook.
    """
    copy = nbformat.from_dict(notebook)
    wall, cpu = time.perf_counter(), cpu_seconds()
    NotebookClient(copy, timeout=300, kernel_name="python3", allow_errors=True,
                   resources={"metadata": {"path": str(folder)}}).execute()
    wall, cpu = time.perf_counter() - wall, cpu_seconds() - cpu
    return wall, cpu, sum(o.output_type == "error" for c in copy.cells for o in c.get("outputs", []))


def empty_notebook():
    notebook = nbformat.v4.new_notebook()
    notebook.cells.append(nbformat.v4.new_code_cell("pass"))
    return notebook


def time_notebooks(runs):
    """{label: [(wall, cpu, failing cells) per run]}; the notebooks take turns, so drift hits all alike."""
    notebooks = {"empty (floor)": empty_notebook()}
    notebooks.update({name: nbformat.read(SOURCE / name, as_version=4) for name in NOTEBOOKS})
    results = {label: [] for label in notebooks}
    for _ in range(runs):
        for label, notebook in notebooks.items():
            results[label].append(run_all(notebook, SOURCE))
    return results


def time_autograde(students, repeats):
    """([seconds of one `nbgrader autograde` of `students` submissions] per repetition,
    number of these complete submissions graded below full marks)."""
    results, short = [], 0
    for _ in range(repeats):
        with tempfile.TemporaryDirectory(prefix="bench_course_") as tmp:
            root = course.make_course_copy(tmp)
            course.generate_release(root)
            for i in range(students):
                course.add_submission(root, f"s{i}", synthetic.submission())
            start = time.perf_counter()
            course.autograde(root, "--force")
            results.append(time.perf_counter() - start)
            totals = [sum(row.values()) for row in course.scores(root).values()]
            assert len(totals) == students, f"graded {len(totals)} submissions, expected {students}"
            short += sum(total < 100 for total in totals)
    return results, short


def median(runs, i):
    """Median of column i (0 wall, 1 cpu) of a list of runs."""
    return statistics.median(run[i] for run in runs)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="runs of each notebook (default 5)")
    parser.add_argument("--students", type=int, default=6, help="synthetic submissions per autograde (default 6)")
    parser.add_argument("--repeats", type=int, default=3, help="autograde repetitions (default 3)")
    parser.add_argument("--quick", action="store_true", help="smoke run: 1 run, 1 student, 1 repeat")
    args = parser.parse_args(argv)
    if args.quick:
        args.runs = args.students = args.repeats = 1
    os.environ["PATH"] = str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", "")
    os.environ.pop("GRADEBOOK_URL", None)  # each throwaway course grades into its own SQLite file

    load_before = os.getloadavg()[0]
    print(f"machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}; "
          f"runs={args.runs} students={args.students} repeats={args.repeats}", flush=True)
    notebook_runs = time_notebooks(args.runs)
    grade_times, short = time_autograde(args.students, args.repeats)
    floor = median(notebook_runs["empty (floor)"], 0)

    print(f"\nNotebook run-all time (nbclient, python3 kernel, {args.runs} runs, seconds)")
    header = (f"{'notebook':<32}{'min':>7}{'median':>8}{'max':>7}{'x floor':>9}{'own cells':>11}"
              f"{'cpu med':>9}{'runs w/ error':>15}")
    print(header + "\n" + "-" * len(header))
    for label, runs in notebook_runs.items():
        walls = [run[0] for run in runs]
        wall = median(runs, 0)
        print(f"{label:<32}{min(walls):>7.2f}{wall:>8.2f}{max(walls):>7.2f}{wall / floor:>9.2f}"
              f"{wall - floor:>11.2f}{median(runs, 1):>9.2f}{sum(run[2] > 0 for run in runs):>15}")

    n, grade = len(NOTEBOOKS), statistics.median(grade_times)
    print(f"\nAutograde time (nbgrader autograde, {args.students} submissions x {n} notebooks, "
          f"{args.repeats} repeats, seconds)")
    header = f"{'measure':<40}{'seconds':>9}"
    print(header + "\n" + "-" * len(header))
    rows = [("whole autograde, min", min(grade_times)),
            ("whole autograde, median", grade),
            ("whole autograde, max", max(grade_times)),
            ("per submission (median)", grade / args.students),
            ("per notebook (median)", grade / args.students / n),
            (f"floor per submission ({n} x empty)", n * floor)]
    for label, seconds in rows:
        print(f"{label:<40}{seconds:>9.2f}")
    print(f"{'per submission / floor':<40}{grade / args.students / (n * floor):>8.2f}x")
    print(f"complete submissions graded below 100: {short} of {args.students * args.repeats}")
    print(f"load average (1 min): {load_before:.2f} before, {os.getloadavg()[0]:.2f} after, on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
