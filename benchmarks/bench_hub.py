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
and N students who fetch before it, then submit at even intervals over the window (the same work
as above, several submits at once when they overlap, as on students' own servers); for each
submission the latency from when it reached the exchange to when its feedback was released (or it
was held, flagged), from the service's queue (hub/submit_queue.py): p50, p95, max, and the rate at
which the queue drained (graded submissions per minute, from the first arrival to the last one
graded). Each student's fetch and submit is nbgrader's own, run as that student in a child forked
from this process (as_student: what the Assignments tab's buttons do inside their server, which is
up already), not a new `nbgrader` process: starting one per command on these loaded cores kept
100 submissions from arriving within 5 minutes. With --baseline, after each rush: make
autograde's submissions per minute on the same notebooks, the ratio of the drain rate to it, the
service's serial share (its batches' seconds outside the grading runs' own grading) and Amdahl's
projection of the drain rate to 16 workers.

Needs root (accounts, servers as other users), as `make hub` does.

    .venv/bin/python benchmarks/bench_hub.py [--sizes 2,30] [--repeats 3] [--rush 30] [--window 300]
    .venv/bin/python benchmarks/bench_hub.py --sizes '' --rush 30     # the rush alone
    .venv/bin/python benchmarks/bench_hub.py --sizes '' --rush 100 --baseline
"""
import argparse
import json
import os
import pwd
import re
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

import nbformat
from nbgrader.apps.nbgraderapp import NbGraderApp

from grading.assignment import ASSIGNMENT
from grading.grader import course as make_course
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


def as_student(hub, student, action, log):
    """action() in a child forked from this process as `student` (their uid, gid and groups, in their
    home, with the students' nbgrader configuration of the hub); returns its pid. This is what
    their server does when they press a button of the Assignments tab: nbgrader's exchange runs in
    the server's own process, already up, as them. The files it leaves in the exchange are theirs
    and pass the exchange's checks as any submission does; only the start of a Python with
    nbgrader for each command (seconds on these loaded cores, which kept the 100 from arriving
    within 5 minutes) is left out. What it says goes to the open file `log`."""
    account = pwd.getpwnam(student)
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid:
        return pid
    status = 1
    try:
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
        os.setgroups(os.getgrouplist(student, account.pw_gid))
        os.setgid(account.pw_gid)
        os.setuid(account.pw_uid)
        os.umask(0o022)
        os.chdir(account.pw_dir)
        os.environ.update({"HOME": account.pw_dir, "USER": student, "LOGNAME": student,
                           "JUPYTER_CONFIG_PATH": str(hub.home / "config" / "common")})
        os.environ.pop("JUPYTER_CONFIG_DIR", None)
        action()
        status = 0
    except SystemExit as leaving:
        status = leaving.code if isinstance(leaving.code, int) else 1
    except BaseException:
        traceback.print_exc()
    finally:
        os._exit(status)


def fetch():
    NbGraderApp.launch_instance(["fetch_assignment", ASSIGNMENT])


def submit(folder):
    """The student's finished notebooks saved into their assignment, then handed in."""
    for notebook in sorted(folder.glob("*.ipynb")):
        shutil.copyfile(notebook, Path(ASSIGNMENT) / notebook.name)
    NbGraderApp.launch_instance(["submit", ASSIGNMENT])


def wait_all(children, log):
    failed = [pid for pid in children if os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) != 0]
    if failed:
        log.flush()
        raise SystemExit(f"{len(failed)} of the students' nbgrader commands failed; what they said:\n"
                         + Path(log.name).read_text(errors="replace")[-4000:])


def rush(size, window, scratch):
    """Grading on submit: `size` students submit at even intervals over `window` seconds; returns
    the latencies (seconds) of the submissions and the rate the queue drained at (per minute)."""
    hub = Hub(size, GRADE_ON_SUBMIT="1")
    try:
        hub.make("hub")
        work = class_work(hub.students, scratch / f"rush-{secrets.token_hex(3)}")
        hub.nbgrader(hub.instructor, "release_assignment", ASSIGNMENT, cwd=hub.course())

        log = open(scratch / f"students-{secrets.token_hex(3)}.log", "a")
        for student in work:   # before the rush: students fetch long before they hand in
            wait_all([as_student(hub, student, fetch, log)], log)
        print(f"load average before the rush (1, 5, 15 min): {', '.join(f'{v:.1f}' for v in os.getloadavg())}")
        started, children = time.monotonic(), []
        for number, (student, folder) in enumerate(work.items()):
            time.sleep(max(0.0, started + number * window / size - time.monotonic()))
            children.append(as_student(hub, student, lambda folder=folder: submit(folder), log))
        wait_all(children, log)
        log.close()
        print(f"the {size} submissions were handed in within {time.monotonic() - started:.0f} s", flush=True)
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
        # The class report and similarity are written once the batches stopped (the service's views
        # run): their seconds count too, as make autograde's count its one report.
        deadline = time.monotonic() + 120
        while "grade-on-submit: seconds: views-" not in (hub.home / "hub.log").read_text(errors="replace"):
            if time.monotonic() > deadline:
                raise SystemExit("the service wrote no class report after the rush")
            time.sleep(2)
        return latencies, len(finished) / span * 60, batches(hub.home / "hub.log")
    finally:
        hub.stop()


def batches(log):
    """Where the service's batches spent their time: its log's "seconds:" lines, per step the median
    and the largest, and the sizes of its batches; returns (seconds in grading, all of the batches'
    seconds but the release's), the grading being the runs' own "Grading: N submissions in X s ...;
    feedback: Y s" (the work the workers share)."""
    steps, sizes, grading = {}, [], 0.0
    for line in log.read_text(errors="replace").splitlines():
        if "grade-on-submit: grading " in line and "broke off" not in line:
            sizes.append(line.count("+" + ASSIGNMENT + "+"))
        elif "grade-on-submit: seconds: " in line:
            for part in line.split("seconds: ", 1)[1].split(", "):
                step, seconds = part.rsplit(" ", 1)
                steps.setdefault(step, []).append(float(seconds))
        elif re.match(r"Grading: \d+ submissions in [\d.]+ s", line):   # and its feedback: on the workers too
            grading += sum(float(seconds) for seconds in re.findall(r"(?:in|feedback:) ([\d.]+) s", line))
    print(f"{len(sizes)} batches of {min(sizes, default=0)} to {max(sizes, default=0)} submissions (median "
          f"{statistics.median(sizes or [0]):g}); seconds per batch, median (max): "
          + ", ".join(f"{step} {statistics.median(v):.1f} ({max(v):.1f})" for step, v in steps.items()))
    return grading, sum(sum(v) for step, v in steps.items() if step != "release")


def autograde_rate(size, scratch):
    """make autograde's submissions per minute on the rush's notebooks (`size` students), on this
    machine now: python -m grading.grader.autograde over a fresh course copy, the whole command."""
    root = make_course.make_course_copy(scratch / f"baseline-{secrets.token_hex(3)}")
    make_course.generate_release(root)
    work = class_work([f"student{k}" for k in range(1, size + 1)], scratch / f"baseline-work-{secrets.token_hex(3)}")
    for student, folder in work.items():
        make_course.add_submission(root, student, {path.name: nbformat.read(path, as_version=4)
                                                   for path in sorted(folder.glob("*.ipynb"))})
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "grading.grader.autograde", "--root", str(root), "--quiet"],
                          cwd=root, capture_output=True, text=True)
    seconds = time.monotonic() - started
    if done.returncode not in (0, 1):
        raise SystemExit(f"make autograde's baseline failed ({done.returncode}):\n{done.stdout[-3000:]}{done.stderr[-3000:]}")
    shutil.rmtree(root, ignore_errors=True)
    return size / seconds * 60


def compare(rate, own, grading, busy, baseline, workers, wider=16):
    """The rush's drain rate, and the service's own (submissions per second of its batches, the
    release aside: it runs beside the next batch), against make autograde's rate; the service's
    serial share (its batches' seconds outside the workers' grading and feedback) and Amdahl's
    projection of its own rate on `wider` workers."""
    serial = (busy - grading) / busy if busy else 1.0
    projected = own / (serial + (1 - serial) * workers / wider)
    print(f"make autograde on the same notebooks: {baseline:.1f} submissions per minute; the rush "
          f"drained at {rate:.1f}, {rate / baseline:.0%} of it; the service graded {own:.1f} per minute of its "
          f"batches, {own / baseline:.0%} of it", flush=True)
    print(f"serial share of the service: {serial:.0%} ({busy - grading:.0f} s of its batches' {busy:.0f} s outside "
          f"grading and feedback); Amdahl on {wider} workers: {projected:.1f} submissions per minute "
          f"({projected / own:.1f}x its own rate on {workers})", flush=True)


def percentile(values, share):
    return values[max(0, -(-share * len(values) // 100) - 1)]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="2,30", help="class sizes, the first one the baseline")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--rush", default="30", help="grading on submit: students who submit within --window (0: none)")
    parser.add_argument("--window", type=float, default=300, help="seconds over which the rush's submissions arrive")
    parser.add_argument("--baseline", action="store_true", help="after each rush, make autograde's rate on the "
                        "same notebooks, the ratio, the service's serial share and a projection to 16 workers")
    parser.add_argument("--workers", type=int, default=len(os.sched_getaffinity(0)),
                        help="the workers the rush's grading ran on (for the projection)")
    args = parser.parse_args(argv)
    if os.geteuid() != 0:
        raise SystemExit("the hub benchmark runs as root, as make hub does")
    sizes = [int(size) for size in args.sizes.split(",") if size]
    medians = {}
    with tempfile.TemporaryDirectory(prefix="gc-hub-bench-work-") as scratch:
        os.chmod(scratch, 0o755)   # the students copy their notebooks from here
        for size in [int(size) for size in args.rush.split(",") if int(size)]:
            latencies, rate, (grading, busy) = rush(size, args.window, Path(scratch))
            print(f"rush of {size} submissions in {args.window:g} s, grading on submit: submit to feedback "
                  f"p50 {percentile(latencies, 50):.1f} s, p95 {percentile(latencies, 95):.1f} s, "
                  f"max {latencies[-1]:.1f} s; "
                  f"drained at {rate:.1f} submissions per minute", flush=True)
            if args.baseline:
                compare(rate, size / busy * 60 if busy else 0, grading, busy, autograde_rate(size, Path(scratch)),
                        args.workers)
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
