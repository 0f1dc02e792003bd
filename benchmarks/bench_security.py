"""Benchmark: what the sandbox and the verification cost per submission, measured in one run.

Three ways of grading the same --students complete synthetic submissions, each in a fresh
course copy, --repeats times, interleaved so that a change in the machine's load hits all three:

  plain      stock `nbgrader autograde` with the ordinary python3 kernel over TCP (no sandbox)
  sandboxed  stock `nbgrader autograde` as nbgrader_config.py configures it (the bubblewrap kernel,
             a kernel zygote per kernel)
  safe       `python -m grading.grader.autograde --workers 1` (what `make autograde` runs): staging,
             nbgrader's step in its sandbox, kernels forked from the submission's zygote in its
             cgroup, verification outside the kernel, feedback, export and report; in one worker,
             like the serial stock command

Each command runs in a cgroup of its own (benchmarks/cpu.py), so its CPU time counts every process
it starts. Prints the median seconds and CPU seconds per submission of each, and both against
`plain`. The goal of the security issue: `safe` at most 25% over `plain` in time.

    .venv/bin/python benchmarks/bench_security.py [--students 6] [--repeats 3]
"""
import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from cpu import cpu_counted   # benchmarks/cpu.py, next to this script

from grading.grader import course

from synthetic_class import synthetic

PLAIN = ("--Execute.kernel_name=python3", "--KernelManager.transport=tcp", "--KernelManager.ip=127.0.0.1")


def fresh_course(parent, name, students):
    root = course.make_course_copy(Path(parent) / name)
    course.generate_release(root)
    notebooks = synthetic.submission()
    for k in range(students):
        course.add_submission(root, f"s{k:03d}", notebooks)
    return root


def check_full_marks(root, students):
    scores = course.scores(root)
    bad = [s for s, row in scores.items() if sum(row.values()) != 100]
    if len(scores) != students or bad:
        raise SystemExit(f"grading went wrong in {root}: {len(scores)} graded, below 100: {bad}")


def ours(root, prefix):
    done = subprocess.run(prefix + [sys.executable, "-m", "grading.grader.autograde", "--root", str(root), "--workers", "1",
                                    "--quiet"], capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"make autograde failed in {root}:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=6)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    os.environ.pop("GRADEBOOK_URL", None)
    modes = {
        "plain": lambda root, prefix: course.autograde(root, *PLAIN, prefix=prefix),
        "sandboxed": lambda root, prefix: course.autograde(root, prefix=prefix),
        "safe": ours,
    }
    seconds, cpu = {mode: [] for mode in modes}, {mode: [] for mode in modes}
    print(f"load average before: {os.getloadavg()[0]:.2f}", flush=True)
    with tempfile.TemporaryDirectory() as parent:
        for repeat in range(args.repeats):
            for mode, grade in modes.items():
                root = fresh_course(parent, f"{mode}{repeat}", args.students)
                started = time.perf_counter()
                with cpu_counted() as counter:
                    grade(root, counter["prefix"])
                elapsed = time.perf_counter() - started
                check_full_marks(root, args.students)
                seconds[mode].append(elapsed / args.students)
                if counter["cpu"] is not None:
                    cpu[mode].append(counter["cpu"] / args.students)
                used = f", {counter['cpu'] / args.students:6.2f} CPU-s" if counter["cpu"] is not None else ""
                print(f"  repeat {repeat + 1} {mode:<10} {elapsed / args.students:6.2f} s per submission{used}", flush=True)
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    base, base_cpu = statistics.median(seconds["plain"]), statistics.median(cpu["plain"]) if cpu["plain"] else None
    print(f"\n{'mode':<10} {'median s/submission':>20} {'min':>7} {'max':>7} {'over plain':>11} "
          f"{'CPU-s/submission':>17} {'CPU x plain':>12}")
    for mode, values in seconds.items():
        median = statistics.median(values)
        used = statistics.median(cpu[mode]) if cpu[mode] else None
        cpu_text = f"{used:>17.2f} {used / base_cpu:>12.2f}" if used is not None and base_cpu else f"{'-':>17} {'-':>12}"
        print(f"{mode:<10} {median:>20.2f} {min(values):>7.2f} {max(values):>7.2f} {100 * (median / base - 1):>10.0f}% "
              + cpu_text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
