"""The grading sandbox, tried for real: bubblewrap, a real kernel, a real `nbgrader autograde`.

One probe tries what a hostile submission would: read the gradebook, source/, another student's
work and the project notes, reach a server on the host's loopback, allocate too much memory,
fork without end, write a huge file. It runs three ways: without the sandbox (where it must
succeed, so that the probe is known to detect access), through wrap(), and as a cell of a
submission graded by nbgrader. CI grades as root, the case where the process limit needs care.
"""
import json
import os
import socket
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from grading import course, sandbox, synthetic
from grading.build_reference import NOTEBOOKS
from grading.provided import ASSIGNMENT

LIMITS = sandbox.SandboxLimits()
PROBE = textwrap.dedent('''
    import json, os, socket, time

    def attempt(action):
        try:
            return "ok: " + repr(action())[:200]
        except BaseException as error:
            return (type(error).__name__ + ": " + str(error))[:200]

    def write_big_file():
        with open("big.bin", "wb") as handle:
            for _ in range({file_mib} + 8):
                handle.write(bytes(2 ** 20))
        return os.path.getsize("big.bin")

    def fork_bomb(attempts=200):
        children = []
        try:
            for _ in range(attempts):
                pid = os.fork()
                if pid == 0:
                    time.sleep(60)
                    os._exit(0)
                children.append(pid)
            return len(children)
        finally:
            for pid in children:
                os.kill(pid, 9)
                os.waitpid(pid, 0)

    results = {{
        "gradebook": attempt(lambda: open("{root}/gradebook.db", "rb").read(16)),
        "source": attempt(lambda: os.listdir("{root}/source/{assignment}")),
        "submitted": attempt(lambda: os.listdir("{root}/submitted")),
        "other_student": attempt(lambda: os.listdir("{root}/submitted/{other}/{assignment}")),
        "autograded": attempt(lambda: sorted(os.listdir("{root}/autograded"))),
        "shared_notes": attempt(lambda: os.listdir("/work/shared")),
        "root_home": attempt(lambda: sorted(os.listdir("/root"))),
        "home": attempt(lambda: os.listdir("/home")),
        "host_loopback": attempt(lambda: socket.create_connection(("127.0.0.1", {port}), timeout=5).recv(5)),
        "write_own_folder": attempt(lambda: open("probe.txt", "w").write("mine")),
        "read_release": attempt(lambda: len(open("{root}/release/{assignment}/gc_utils.py").read())),
        "memory": attempt(lambda: len(bytearray({memory}))),
        "file_size": attempt(write_big_file),
        "fork_bomb": attempt(fork_bomb),
        "uid": attempt(os.getuid),
    }}
    if os.path.exists("big.bin"):
        os.remove("big.bin")
    print("PROBE " + json.dumps(results))
''')


def probe_code(root, port, other):
    return PROBE.format(root=root, assignment=ASSIGNMENT, other=other, port=port,
                        memory=LIMITS.memory_bytes + 2 ** 30, file_mib=LIMITS.file_size_bytes // 2 ** 20)


def probe_results(text):
    return json.loads(text.split("PROBE ", 1)[1].splitlines()[0])


@pytest.fixture(scope="module")
def host_server():
    """A TCP server on the host's 127.0.0.1 that greets every client: its port."""
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.5)
    stop = threading.Event()

    def serve():
        while not stop.is_set():
            try:
                client, _ = server.accept()
            except OSError:
                continue
            client.sendall(b"hello")
            client.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join()
    server.close()


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


def assert_course_and_host_hidden(results):
    for name in ("gradebook", "source", "submitted", "other_student", "shared_notes", "home"):
        assert results[name].startswith("FileNotFoundError"), (name, results[name])
    assert results["autograded"] == "ok: ['mallory']"  # its own folder, nobody else's
    # Under /root, only the Python installation, if it lives there (pyenv puts it there).
    visible = sorted({Path(p).relative_to("/root").parts[0] for p in sandbox.python_paths() if p.startswith("/root/")})
    assert results["root_home"].startswith(f"ok: {visible!r}" if visible else "FileNotFoundError"), results["root_home"]
    assert results["host_loopback"].startswith("ConnectionRefusedError"), results["host_loopback"]


def assert_limits_bind(results):
    assert results["uid"] == "ok: 65534"
    assert results["memory"].startswith("MemoryError"), results["memory"]
    assert results["file_size"] == "OSError: [Errno 27] File too large", results["file_size"]
    assert results["fork_bomb"] == "BlockingIOError: [Errno 11] Resource temporarily unavailable"


def test_grading_runs_as_root_as_in_ci():
    # The situation under test: root is exempt from RLIMIT_NPROC, so the sandbox must drop it.
    assert os.geteuid() == 0
    assert sandbox.available(), sandbox.INSTALL_HINT


def test_root_ignores_the_process_limit_without_the_sandbox():
    """Why the sandbox drops to nobody: for root, prlimit --nproc alone stops nothing."""
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
    assert_limits_bind(sandboxed_probe)
    # nobody inside, and nobody on the host: what it writes belongs to uid 65534.
    assert (fake_course / "autograded" / "mallory" / ASSIGNMENT / "probe.txt").stat().st_uid == 65534


def test_a_sandbox_goes_when_its_grader_dies_while_starting_it(tmp_path):
    """A grader killed right after it started a sandbox (before bwrap asked to die with it, in
    the root stage) leaves nothing running."""
    import time

    import psutil

    marker = tmp_path / "orphan"
    marker.mkdir()
    starter = textwrap.dedent(f'''
        import os, subprocess
        from grading import sandbox
        sandbox.popen(sandbox.wrap(["sleep", "60"], workdir="{marker}", writable=["{marker}"]))
        os.kill(os.getpid(), 9)   # gone long before the stage, a new Python, gets anywhere
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
    launcher = [sys.executable, "-I", "-m", "grading.sandbox_kernel", "-f", str(tmp_path / "kernel.json")]
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
