"""A grading run ends with everything it started, whatever ends it.

`make autograde` (python -m grading.grader.autograde) grades a small class with two workers; once its
kernels run, the run is ended: SIGTERM to the main process, SIGKILL to the main process alone
(its workers are not told), its output pipe closed, or Ctrl-C (SIGINT to its process group).
Within seconds no process of the run may be left: none that carries the run's mark in its
environment (the main process, workers, sandbox entries, bwrap), none in a cgroup of the run.
The grades finished before the end are kept (the ledger), so the next run does the rest.
"""
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest

from grading.grader import course
from grading.sandboxing import cgroups
from synthetic_class import synthetic

MARK = "GRADING_TEST_RUN"


def marked(mark):
    """Pids of the processes whose environment carries `mark`."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if f"{MARK}={mark}".encode() in (entry / "environ").read_bytes().split(b"\0"):
                found.append(int(entry.name))
        except OSError:
            pass
    return found


def described(pids):
    """Each pid with its command line, for a failure message."""
    lines = []
    for pid in pids:
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            status = Path(f"/proc/{pid}/status").read_text().split("\n")[:8]
        except OSError:
            command, status = "(gone)", []
        lines.append(f"{pid}: {command[:300]} {[s for s in status if s.startswith(('State', 'PPid'))]}")
    return "\n".join(lines)


def run_cgroups(pids):
    """{cgroup folder: its pids} of the cgroups that the run's workers made."""
    version, parents = cgroups.locate()
    found = {}
    for parent in (parents or {}).values():
        for folder in parent.glob(f"{cgroups.PREFIX}-*"):
            if int(folder.name.split("-")[2]) in pids:
                procs = (folder / "cgroup.procs").read_text().split() if (folder / "cgroup.procs").exists() else []
                found[str(folder)] = procs
    return found


def wait_for(condition, seconds):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return condition()


@pytest.fixture(scope="module")
def class_of_six(new_course):
    root = new_course("hygiene")
    for number in range(6):
        course.add_submission(root, f"student{number}", synthetic.submission())
    return root


@pytest.mark.parametrize("how", ["SIGTERM", "SIGKILL of the main process alone", "a closed output pipe", "Ctrl-C"])
def test_nothing_outlives_the_run(class_of_six, how):
    root = class_of_six
    mark = uuid.uuid4().hex
    command = [sys.executable, "-m", "grading.grader.autograde", "--root", str(root), "--workers", "2", "--force"]
    run = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
                           env={**os.environ, MARK: mark})
    # Wait until the run's submissions are being graded: sandboxes live in its cgroups.
    seen = set()

    def grading():
        seen.update(marked(mark))
        return any(run_cgroups(seen).values())

    assert wait_for(grading, 90), "the run never started grading"
    if how != "a closed output pipe":   # read what the run writes, as a terminal would: none blocks on a full pipe
        for stream in (run.stdout, run.stderr):
            threading.Thread(target=stream.read, daemon=True).start()
    if how == "SIGTERM":
        run.send_signal(signal.SIGTERM)
    elif how == "SIGKILL of the main process alone":
        run.kill()
    elif how == "a closed output pipe":
        run.stdout.close()
        run.stderr.close()
    else:
        os.killpg(run.pid, signal.SIGINT)
    try:
        run.wait(timeout=60)
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGKILL)
    assert wait_for(lambda: not marked(mark), 30), f"left running:\n{described(marked(mark))}"
    assert wait_for(lambda: not any(run_cgroups(seen).values()), 20), run_cgroups(seen)
    if how != "SIGKILL of the main process alone":
        assert run.returncode != 0
        assert not run_cgroups(seen), "a run that ended itself removes its cgroups"


STARTER = """
import sys, time
from grading.sandboxing import sandbox
sandbox.popen(sandbox.wrap(["sleep", "60"], workdir="/tmp", tmpfs=["/tmp/work"]))
print("started", flush=True)
time.sleep(60)
"""


@pytest.mark.skipif(os.geteuid() != 0, reason="the sandbox entry makes a PID namespace only as root; bwrap alone has a window")
def test_a_grader_killed_while_its_sandbox_starts_leaves_nothing():
    # bwrap's first child waits for a word from bwrap before it asks to die with it; a grader
    # killed in that window left the child asleep for good (16 runs of 100 before the sandbox entry
    # gave bwrap a PID namespace of its own). Killed at random moments of the start, 30 times.
    import random
    left = []
    for attempt in range(30):
        mark = f"start-{uuid.uuid4().hex}"
        grader = subprocess.Popen([sys.executable, "-c", STARTER], cwd=Path(__file__).resolve().parents[1],
                                  env={**os.environ, MARK: mark}, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        assert grader.stdout.readline() == b"started\n"
        time.sleep(random.uniform(0, 0.02))
        grader.kill()
        grader.wait()
        if not wait_for(lambda: not marked(mark), 3):
            left.append(described(marked(mark)))
            for pid in marked(mark):
                os.kill(pid, signal.SIGKILL)
    assert not left, "left running after the grader died:\n" + "\n".join(left)
