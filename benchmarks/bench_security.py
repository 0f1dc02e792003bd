"""Benchmark: what the sandbox and the verification cost per submission, measured in one run.

Three ways of grading the same --students complete synthetic submissions, each in a fresh
course copy, --repeats times, interleaved so that a change in the machine's load hits all three:

  plain      stock `nbgrader autograde` with the ordinary python3 kernel over TCP (no sandbox)
  sandboxed  stock `nbgrader autograde` as nbgrader_config.py configures it (bubblewrap kernel)
  safe       `python -m grading.autograde --workers 1`: staging, the sandboxed kernel (warm), and
             verification outside the kernel (what `make autograde` runs), in one worker like
             the serial stock command

Prints the median seconds per submission of each and the overhead against `plain`.
The goal of the security issue: `safe` at most 25% over `plain`.

    .venv/bin/python benchmarks/bench_security.py [--students 6] [--repeats 3]
"""
import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from grading import autograde, course, synthetic

PLAIN = ("--Execute.kernel_name=python3", "--KernelManager.transport=tcp", "--KernelManager.ip=127.0.0.1")


def fresh_course(parent, name, students):
    root = course.make_course_copy(Path(parent) / name)
    course.generate_release(root)
    notebooks = synthetic.submission()
    for k in range(students):
        course.add_submission(root, f"s{k:03d}", notebooks)
    return root


def timed(function):
    started = time.perf_counter()
    function()
    return time.perf_counter() - started


def check_full_marks(root, students):
    scores = course.scores(root)
    bad = [s for s, row in scores.items() if sum(row.values()) != 100]
    if len(scores) != students or bad:
        raise SystemExit(f"grading went wrong in {root}: {len(scores)} graded, below 100: {bad}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=6)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    os.environ.pop("GRADEBOOK_URL", None)
    modes = {
        "plain": lambda root: course.autograde(root, *PLAIN),
        "sandboxed": lambda root: course.autograde(root),
        "safe": lambda root: autograde.main(["--root", str(root), "--workers", "1"]),
    }
    seconds = {mode: [] for mode in modes}
    print(f"load average before: {os.getloadavg()[0]:.2f}", flush=True)
    with tempfile.TemporaryDirectory() as parent:
        for repeat in range(args.repeats):
            for mode, grade in modes.items():
                root = fresh_course(parent, f"{mode}{repeat}", args.students)
                elapsed = timed(lambda: grade(root))
                check_full_marks(root, args.students)
                seconds[mode].append(elapsed / args.students)
                print(f"  repeat {repeat + 1} {mode:<10} {elapsed / args.students:6.2f} s per submission", flush=True)
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    base = statistics.median(seconds["plain"])
    print(f"\n{'mode':<10} {'median s/submission':>20} {'min':>7} {'max':>7} {'overhead':>9}")
    for mode, values in seconds.items():
        median = statistics.median(values)
        print(f"{mode:<10} {median:>20.2f} {min(values):>7.2f} {max(values):>7.2f} {100 * (median / base - 1):>8.0f}%")
    return 0


if __name__ == "__main__":
    sys.exit(main())
