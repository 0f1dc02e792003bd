"""The grading sandbox, tried for real: bubblewrap, a real kernel, a real `nbgrader autograde`.

One probe tries what a hostile submission would: read the gradebook, source/, another student's
work and the project notes, reach a server on the host's loopback, allocate too much memory,
fork without end, write a huge file. It runs three ways: without the sandbox (where it must
succeed, so that the probe is known to detect access), through wrap(), and as a cell of a
submission graded by nbgrader. CI grades as root, the case where the process limit needs care; the tests
of that case are skipped elsewhere (tests/ci.py).
"""
import os
import subprocess
import sys
import textwrap

import pytest

from ci import require_root
from grading.assignment import ASSIGNMENT, NOTEBOOKS
from grading.grader import course
from grading.sandboxing import sandbox
from sandbox_probe import assert_course_and_host_hidden, assert_limits_bind, probe_code, probe_results
from synthetic_class import synthetic

@pytest.fixture(scope="module")
def fake_course(tmp_path_factory):
    """A course layout with a gradebook, source/, release/ and two students' folders."""
    root = tmp_path_factory.mktemp("sandbox_course")
    for folder in ("source", "release", "submitted/other", "submitted/mallory"):
        (root / folder / ASSIGNMENT).mkdir(parents=True)
    (root / "gradebook.db").write_bytes(b"SQLite format 3\0")
    (root / "source" / ASSIGNMENT / "solutions.py").write_text("answer = 42\n")
    (root / "release" / ASSIGNMENT / "gc_utils.py").write_text("# helpers\n")
    (root / "submitted" / "other" / ASSIGNMENT / "work.ipynb").write_text("{}")
    return root


def run_probe(fake_course, host_server, sandboxed):
    folder = fake_course / "autograded" / ("mallory" if sandboxed else "plain") / ASSIGNMENT
    folder.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-c", probe_code(fake_course, host_server, "other")]
    if sandboxed:
        command = sandbox.wrap(command, workdir=folder, writable=[folder],
                               readonly=[fake_course / "release" / ASSIGNMENT])
        result = sandbox.run(command, cwd=folder, capture_output=True, text=True, timeout=120)
    else:
        result = subprocess.run(command, cwd=folder, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return probe_results(result.stdout)


def test_the_sandbox_is_installed():
    assert sandbox.available(), sandbox.INSTALL_HINT


def test_root_ignores_the_process_limit_without_the_sandbox():
    """Why the sandbox drops to nobody: for root, prlimit --nproc alone stops nothing."""
    require_root()
    code = textwrap.dedent('''
        import os, time
        kids = []
        for _ in range(20):
            pid = os.fork()
            if pid == 0:
                time.sleep(30)
                os._exit(0)
            kids.append(pid)
        for pid in kids:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
        print(len(kids))
    ''')
    result = subprocess.run(["prlimit", "--nproc=8", sys.executable, "-c", code],
                            capture_output=True, text=True, timeout=60)
    assert result.stdout.strip() == "20", result.stderr


def test_the_probe_detects_access_when_there_is_no_sandbox(fake_course, host_server):
    results = run_probe(fake_course, host_server, sandboxed=False)
    assert results["gradebook"].startswith("ok")
    assert results["source"] == "ok: ['solutions.py']"
    assert results["other_student"] == "ok: ['work.ipynb']"
    assert results["host_loopback"] == "ok: b'hello'"
    assert results["fork_bomb"] == "ok: 200"


@pytest.fixture(scope="module")
def sandboxed_probe(fake_course, host_server):
    return run_probe(fake_course, host_server, sandboxed=True)


def test_wrap_hides_the_course_and_the_host(sandboxed_probe):
    assert_course_and_host_hidden(sandboxed_probe)
    assert sandboxed_probe["write_own_folder"] == "ok: 4"
    assert sandboxed_probe["read_release"] == "ok: 10"


def test_wrap_limits_bind_although_the_grader_is_root(sandboxed_probe, fake_course):
    require_root()
    assert_limits_bind(sandboxed_probe)
    # nobody inside, and nobody on the host: what it writes belongs to uid 65534.
    assert (fake_course / "autograded" / "mallory" / ASSIGNMENT / "probe.txt").stat().st_uid == 65534


def test_a_sandbox_goes_when_its_grader_dies_while_starting_it(tmp_path):
    """A grader killed right after it started a sandbox (before bwrap asked to die with it, in
    the root entry step) leaves nothing running."""
    import time

    import psutil

    marker = tmp_path / "orphan"
    marker.mkdir()
    starter = textwrap.dedent(f'''
        import os, subprocess
        from grading.sandboxing import sandbox
        sandbox.popen(sandbox.wrap(["sleep", "60"], workdir="{marker}", writable=["{marker}"]))
        os.kill(os.getpid(), 9)   # gone long before the entry step, a new Python, gets anywhere
    ''')
    assert subprocess.run([sys.executable, "-c", starter], timeout=60).returncode == -9
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        left = [p.info for p in psutil.process_iter(["pid", "cmdline"])
                if str(marker) in " ".join(p.info["cmdline"] or [])]
        if not left:
            break
        time.sleep(0.2)
    assert not left, f"the sandbox outlived its grader: {left}"


def test_the_kernel_launcher_starts_nothing_for_a_grader_that_is_gone(tmp_path):
    """A grader killed while its kernel launcher was still starting: Jupyter named it in
    JPY_PARENT_PID, and the launcher, now init's child, must not start a sandbox for nobody."""
    gone = subprocess.Popen(["true"])
    gone.wait()
    launcher = [sys.executable, "-I", "-m", "grading.sandboxing.sandbox_kernel", "-f", str(tmp_path / "kernel.json")]
    done = subprocess.run(launcher, env={**os.environ, "JPY_PARENT_PID": str(gone.pid)},
                          capture_output=True, text=True, timeout=60)
    assert done.returncode != 0 and "the grading process is gone" in done.stderr, done.stderr


def test_wrap_says_how_to_install_bubblewrap_when_it_is_missing(monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    assert not sandbox.available()
    with pytest.raises(sandbox.SandboxUnavailable, match="apt-get install bubblewrap"):
        sandbox.wrap(["true"], workdir="/")


def test_nbgrader_autograde_runs_every_submission_in_the_sandbox(new_course, host_server):
    """A cell of a real submission, graded by the stock `nbgrader autograde`, probes the sandbox."""
    root = new_course("sandboxed_autograde")
    honest = synthetic.submission()
    reference = synthetic.solutions()["forward_propagation"]
    attack = synthetic.submission({"forward_propagation": probe_code(root, host_server, "aaron") + reference})
    course.add_submission(root, "aaron", honest)
    course.add_submission(root, "mallory", attack)
    course.autograde(root)

    results = probe_results(course.cell_output(root, "mallory", NOTEBOOKS[0], "forward_propagation"))
    assert_course_and_host_hidden(results)
    assert_limits_bind(results)
    assert results["write_own_folder"] == "ok: 4"
    assert results["read_release"].startswith("ok")
    # The sandbox costs no points: both students pass every hidden test (they import `grading`).
    table = course.scores(root)
    assert sum(table["aaron"].values()) == 100, table["aaron"]
    assert sum(table["mallory"].values()) == 100, table["mallory"]
    # The kernel worked in a private copy of its folder: what it wrote never reached the host.
    assert not (root / "autograded" / "mallory" / ASSIGNMENT / "probe.txt").exists()
