"""Benchmark: the course's round trip on a real JupyterHub, for a class of 2 and one of 30.

Each run starts a hub of its own with `make hub` (fresh accounts and state, not timed), then times
the round trip step by step, as docs/hub.md runs it:

    release          the instructor releases the assignment (nbgrader release_assignment)
    students         each student fetches it, saves their finished notebooks and submits
                     (nbgrader fetch_assignment / submit as that user: what the Assignments tab's
                     buttons run on their server; the browser's own drawing is left out)
    collect          the instructor collects (nbgrader collect)
    autograde        make hub-autograde: sandboxed, verified grading of the whole class
    feedback         make hub-release-feedback (flagged submissions held back)
    fetch feedback   each student fetches their feedback (nbgrader fetch_feedback)

Every student hands in complete work except every fifth, who makes the catalog's one-sided
difference, and one whose kernel dies (flagged: its feedback waits). Students act one after
another. The figures are medians of --repeats runs per class size; the small class is the
baseline, and the ratio says how the time per student grows with the class.

The rush (--rush N, --window SECONDS): a hub with grading on submit (make hub GRADE_ON_SUBMIT=1)
and N students who submit at even intervals over the window (the same work as above, several
submits at once when they overlap, as on students' own servers); for each submission the
latency from when it reached the exchange to when its feedback was released (or it was held,
flagged), from the service's queue (hub/submit_queue.py): p50, p95, max, and the rate at which the
queue drained (graded submissions per minute, from the first arrival to the last one graded).

Needs root (accounts, servers as other users), as `make hub` does.

    .venv/bin/python benchmarks/bench_hub.py [--sizes 2,30] [--repeats 3] [--rush 30] [--window 300]
    .venv/bin/python benchmarks/bench_hub.py --sizes '' --rush 30     # the rush alone
"""
import argparse
import json
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat

from grading.assignment import ASSIGNMENT
from synthetic_class import demo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "hub"))
from hubctl import free_port  # noqa: E402  (hub/ is a folder of scripts, not a package)

PYTHON = "/usr/bin/python3.11"
VENV = os.environ.get("HUB_TEST_VENV", "/var/tmp/gradient-checking-hub-test-venv")
STEPS = ("release", "students", "collect", "autograde", "feedback", "fetch feedback")


def class_work(students, folder):
    """Write each student's notebooks to folder/<kind>/ and return {student: that folder}."""
    for kind, notebooks in demo.hub_kinds().items():
        (folder / kind).mkdir(parents=True)
        for name, notebook in notebooks.items():
            nbformat.write(notebook, folder / kind / name)
    os.chmod(folder, 0o755)
    for path in folder.rglob("*"):
        os.chmod(path, 0o755 if path.is_dir() else 0o644)
    chosen = {}
    for number, student in enumerate(students):
        chosen[student] = folder / ("crashing" if number == len(students) - 1 else
                                    "mistake" if number % 5 == 4 else "right")
    return chosen


class Hub:
    def __init__(self, size, **settings):
        tag = secrets.token_hex(3)
        self.instructor, self.students = f"gcb{tag}i", [f"gcb{tag}s{k}" for k in range(1, size + 1)]
        self.home = Path(tempfile.mkdtemp(prefix="gc-hub-bench-", dir="/tmp"))
        os.chmod(self.home, 0o755)
        self.env = {key: value for key, value in os.environ.items() if not key.startswith("HUB_")}
        self.env.update({"HUB_HOME": str(self.home), "HUB_PORT": str(free_port()), "HUB_VENV": VENV,
                         "HUB_INSTRUCTOR": self.instructor, "HUB_STUDENTS": " ".join(self.students)})
        self.env.update(settings)

    def make(self, *target):
        done = subprocess.run(["make", "-s", *target], cwd=ROOT, env=self.env, capture_output=True, text=True)
        if done.returncode != 0:
            raise SystemExit(f"make {' '.join(target)} failed:\n{done.stdout}{done.stderr}")
        return done.stdout

    def nbgrader(self, user, *args, cwd):
        done = subprocess.run(["runuser", "-u", user, "--", str(self.home / "bin" / "nbgrader"), *args],
                              cwd=cwd, capture_output=True, text=True)
        if done.returncode != 0:
            raise SystemExit(f"nbgrader {args[0]} as {user} failed:\n{done.stdout}{done.stderr}")

    def as_user(self, user, *command):
        subprocess.run(["runuser", "-u", user, "--", *command], check=True)

    def course(self):
        return Path(f"~{self.instructor}").expanduser() / "gradient-checking"

    def stop(self):
        self.make("hub-stop")
        subprocess.run([PYTHON, "hub/hubctl.py", "remove-users"], cwd=ROOT, env=self.env, capture_output=True)
        shutil.rmtree(self.home, ignore_errors=True)


def round_trip(size, scratch):
    """One run for a class of `size`; returns {step: seconds}."""
    hub = Hub(size)
    try:
        hub.make("hub")
        work = class_work(hub.students, scratch / f"work-{secrets.token_hex(3)}")
        times = {}

        def timed(step, action):
            started = time.perf_counter()
            action()
            times[step] = time.perf_counter() - started

        course = hub.course()
        timed("release", lambda: hub.nbgrader(hub.instructor, "release_assignment", ASSIGNMENT, cwd=course))

        def students():
            for student, folder in work.items():
                home = Path(f"~{student}").expanduser()
                hub.nbgrader(student, "fetch_assignment", ASSIGNMENT, cwd=home)
                hub.as_user(student, "cp", *map(str, sorted(folder.glob("*.ipynb"))), str(home / ASSIGNMENT))
                hub.nbgrader(student, "submit", ASSIGNMENT, cwd=home)

        timed("students", students)
        timed("collect", lambda: hub.nbgrader(hub.instructor, "collect", ASSIGNMENT, cwd=course))
        timed("autograde", lambda: hub.make("hub-autograde"))
        timed("feedback", lambda: hub.make("hub-release-feedback"))

        def fetch_feedback():
            for student in hub.students:
                hub.nbgrader(student, "fetch_feedback", ASSIGNMENT, cwd=Path(f"~{student}").expanduser())

        timed("fetch feedback", fetch_feedback)
        fetched = [s for s in hub.students if (Path(f"~{s}").expanduser() / ASSIGNMENT / "feedback").is_dir()]
        if len(fetched) != size - 1:   # everyone but the flagged student
            raise SystemExit(f"{len(fetched)} of {size} students got feedback, expected {size - 1}")
        return times
    finally:
        hub.stop()


def rush(size, window, scratch):
    """Grading on submit: `size` students submit at even intervals over `window` seconds; returns
    the latencies (seconds) of the submissions and the rate the queue drained at (per minute)."""
    hub = Hub(size, GRADE_ON_SUBMIT="1")
    try:
        hub.make("hub")
        work = class_work(hub.students, scratch / f"rush-{secrets.token_hex(3)}")
        hub.nbgrader(hub.instructor, "release_assignment", ASSIGNMENT, cwd=hub.course())

        def submit(student, folder):
            home = Path(f"~{student}").expanduser()
            hub.nbgrader(student, "fetch_assignment", ASSIGNMENT, cwd=home)
            hub.as_user(student, "cp", *map(str, sorted(folder.glob("*.ipynb"))), str(home / ASSIGNMENT))
            hub.nbgrader(student, "submit", ASSIGNMENT, cwd=home)

        print(f"load average before the rush (1, 5, 15 min): {', '.join(f'{v:.1f}' for v in os.getloadavg())}")
        started = time.monotonic()
        with ThreadPoolExecutor(max_workers=8) as pool:
            for number, (student, folder) in enumerate(work.items()):
                time.sleep(max(0.0, started + number * window / size - time.monotonic()))
                pool.submit(submit, student, folder)
        queue = hub.home / "private" / "grade-on-submit" / "queue"
        deadline = time.monotonic() + 1800
        while time.monotonic() < deadline:
            records = [json.loads(path.read_text()) for path in queue.glob("*.json")]
            finished = [r for r in records if r["state"] in ("done", "flagged", "failed")]
            if len(finished) >= size:
                break
            time.sleep(2)
        else:
            raise SystemExit(f"the queue did not drain: {len(finished)} of {size} graded")
        latencies = sorted(r["finished"] - r["arrived"] for r in finished)
        span = max(r["finished"] for r in finished) - min(r["arrived"] for r in finished)
        failed = [r["student"] for r in finished if r["state"] == "failed"]
        if failed:
            print(f"failed: {failed}")
        print(f"load average at the end (1, 5, 15 min): {', '.join(f'{v:.1f}' for v in os.getloadavg())}")
        batches(hub.home / "hub.log")
        return latencies, len(finished) / span * 60
    finally:
        hub.stop()


def batches(log):
    """Where the service's batches spent their time: its log's "seconds:" lines, per step the median
    and the largest, and the sizes of its batches."""
    steps, sizes = {}, []
    for line in log.read_text(errors="replace").splitlines():
        if "grade-on-submit: grading " in line and "broke off" not in line:
            sizes.append(line.count("+" + ASSIGNMENT + "+"))
        elif "grade-on-submit: seconds: " in line:
            for part in line.split("seconds: ", 1)[1].split(", "):
                step, seconds = part.rsplit(" ", 1)
                steps.setdefault(step, []).append(float(seconds))
    print(f"{len(sizes)} batches of {min(sizes, default=0)} to {max(sizes, default=0)} submissions (median "
          f"{statistics.median(sizes or [0]):g}); seconds per batch, median (max): "
          + ", ".join(f"{step} {statistics.median(v):.1f} ({max(v):.1f})" for step, v in steps.items()))


def percentile(values, share):
    return values[max(0, -(-share * len(values) // 100) - 1)]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="2,30", help="class sizes, the first one the baseline")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--rush", default="30", help="grading on submit: students who submit within --window (0: none)")
    parser.add_argument("--window", type=float, default=300, help="seconds over which the rush's submissions arrive")
    args = parser.parse_args(argv)
    if os.geteuid() != 0:
        raise SystemExit("the hub benchmark runs as root, as make hub does")
    sizes = [int(size) for size in args.sizes.split(",") if size]
    medians = {}
    with tempfile.TemporaryDirectory(prefix="gc-hub-bench-work-") as scratch:
        os.chmod(scratch, 0o755)   # the students copy their notebooks from here
        for size in [int(size) for size in args.rush.split(",") if int(size)]:
            latencies, rate = rush(size, args.window, Path(scratch))
            print(f"rush of {size} submissions in {args.window:g} s, grading on submit: submit to feedback "
                  f"p50 {percentile(latencies, 50):.1f} s, p95 {percentile(latencies, 95):.1f} s, "
                  f"max {latencies[-1]:.1f} s; "
                  f"drained at {rate:.1f} submissions per minute", flush=True)
        for size in sizes:
            runs = [round_trip(size, Path(scratch)) for _ in range(args.repeats)]
            medians[size] = {step: statistics.median(run[step] for run in runs) for step in STEPS}
            medians[size]["total"] = statistics.median(sum(run.values()) for run in runs)
            print(f"{size} students: round trip {medians[size]['total']:.1f} s "
                  f"(median of {args.repeats}; totals {', '.join(f'{sum(r.values()):.1f}' for r in runs)})", flush=True)
    if not sizes:
        return 0
    print(f"\nRound trip on a real JupyterHub, seconds (median of {args.repeats} runs each):")
    print(f"{'step':<16}" + "".join(f"{f'{size} students':>14}" for size in sizes))
    for step in (*STEPS, "total"):
        print(f"{step:<16}" + "".join(f"{medians[size][step]:>14.1f}" for size in sizes))
    base = sizes[0]
    per_student = {size: medians[size]["total"] / size for size in sizes}
    for size in sizes[1:]:
        print(f"per student: {per_student[size]:.2f} s with {size}, {per_student[base]:.2f} s with {base} "
              f"(ratio {per_student[size] / per_student[base]:.2f}); whole class: {medians[size]['total'] / medians[base]['total']:.1f}x "
              f"the time for {size / base:.0f}x the students")
    return 0


if __name__ == "__main__":
    sys.exit(main())
