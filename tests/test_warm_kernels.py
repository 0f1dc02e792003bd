"""Kernels forked from the kernel zygote (grading.warm_kernels, grading/kernel_zygote.py).

`make autograde` starts each submission's kernels from a zygote in that submission's sandbox.
Such a kernel must be as confined as one started the usual way (the sandbox probe of
test_sandbox.py, run as a cell that our pipeline grades), look like a fresh kernel to the
notebook (same sys.path, working directory, environment and __name__), leave nothing running
for the next notebook, answer interrupts, and give way to a usual kernel whenever there is no
zygote for its folder.
"""
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from jupyter_client import KernelManager

from grading import autograde, course, synthetic
from grading.build_reference import NOTEBOOKS
from grading.provided import ASSIGNMENT
from grading.sandbox_kernel import KERNEL_NAME, SERVES, ZYGOTE
from grading.warm_kernels import ZYGOTE_SCRIPT, KernelZygote
from test_sandbox import assert_course_and_host_hidden, assert_limits_bind, host_server, probe_code, probe_results  # noqa: F401

FINGERPRINT = ("import json as _json, os as _os, sys as _sys\n"
               "print('KERNEL ' + _json.dumps({'pid': _os.getpid(), 'ppid': _os.getppid(), 'path': _sys.path,"
               " 'cwd': _os.getcwd(), 'env': sorted(_os.environ), 'main': __name__, 'argv0': _sys.argv[0]}))\n")
# Left running by notebook 1; notebook 2 looks for it and for any process besides its own.
STRAY = ("import subprocess as _sp\n"
         "_stray = _sp.Popen(['sleep', '600'], start_new_session=True)\n"
         "open('stray.pid', 'w').write(str(_stray.pid))\n")
# (Verification runs these cells too, in a folder of its own: there is no stray.pid there.)
LOOK = ("import os as _os\n"
        "if _os.path.exists('stray.pid'):\n"
        "    _pid = int(open('stray.pid').read())\n"
        "    _others = sorted(int(p) for p in _os.listdir('/proc') if p.isdigit() and int(p) not in (1, 2, _os.getpid()))\n"
        "    print('LOOK stray alive=%s others=%s' % (_os.path.exists(f'/proc/{_pid}'), _others))\n")


def fingerprint(text):
    return json.loads(text.split("KERNEL ", 1)[1].splitlines()[0])


def grade_ours(root):
    status = autograde.main(["--root", str(root), "--workers", "1", "--quiet", "--no-feedback"])
    assert status == 0


@pytest.fixture(scope="module")
def graded(new_course, host_server):  # noqa: F811 (the fixture imported from test_sandbox)
    """The same class graded by stock `nbgrader autograde` (usual kernels) and by ours (forked)."""
    solutions = synthetic.solutions()
    students = {
        "aaron": synthetic.submission(),
        "mallory": None,   # the sandbox probe, made per course (it names the course's paths)
        "finn": synthetic.submission({"forward_propagation": FINGERPRINT + solutions["forward_propagation"],
                                      "gradient_check_n": FINGERPRINT + solutions["gradient_check_n"]}),
        "stan": synthetic.submission({"gradient_check": STRAY + solutions["gradient_check"],
                                      "gradient_check_n": LOOK + solutions["gradient_check_n"]}),
    }
    roots = {}
    for way in ("stock", "ours"):
        root = roots[way] = new_course(f"warm_{way}")
        for student, notebooks in students.items():
            if student == "mallory":
                probe = probe_code(root, host_server, "aaron")
                notebooks = synthetic.submission({"forward_propagation": probe + solutions["forward_propagation"]})
            course.add_submission(root, student, notebooks)
        course.autograde(root) if way == "stock" else grade_ours(root)
    return roots


def test_a_forked_kernel_is_as_sandboxed_as_a_usual_one(graded):
    root = graded["ours"]
    results = probe_results(course.cell_output(root, "mallory", NOTEBOOKS[0], "forward_propagation"))
    assert_course_and_host_hidden(results)
    assert_limits_bind(results)
    assert results["write_own_folder"] == "ok: 4"
    assert results["read_release"].startswith("ok")
    assert (root / "autograded" / "mallory" / ASSIGNMENT / "probe.txt").stat().st_uid == 65534
    scores = course.scores(root)
    assert sum(scores["aaron"].values()) == 100 and sum(scores["mallory"].values()) == 100, scores


@pytest.mark.parametrize("notebook, cell", [(NOTEBOOKS[0], "forward_propagation"), (NOTEBOOKS[1], "gradient_check_n")])
def test_a_forked_kernel_looks_fresh_to_the_notebook(graded, notebook, cell):
    usual = fingerprint(course.cell_output(graded["stock"], "finn", notebook, cell))
    forked = fingerprint(course.cell_output(graded["ours"], "finn", notebook, cell))
    assert usual["ppid"] == 1, "stock nbgrader's kernel is the first process of its own sandbox"
    assert forked["ppid"] == 2 and forked["pid"] > 2, "our kernel is a child of the zygote"
    for key in ("path", "env", "main", "argv0"):
        assert forked[key] == usual[key], key
    assert Path(forked["cwd"]).relative_to(graded["ours"]) == Path(usual["cwd"]).relative_to(graded["stock"])


def test_nothing_a_notebook_left_running_reaches_the_next(graded):
    printed = course.cell_output(graded["ours"], "stan", NOTEBOOKS[1], "gradient_check_n")
    assert "LOOK stray alive=False others=[]" in printed, printed
    assert sum(course.scores(graded["ours"])["stan"].values()) == 100


def test_forked_kernels_draw_the_same_outputs_as_usual_ones(graded):
    import nbformat

    def kinds(root, name):
        """Per cell: (type, stream name, MIME types, error name) of each output. Consecutive
        writes to one stream count once: how many messages they arrive in depends on timing."""
        notebook = nbformat.read(root / "autograded" / "aaron" / ASSIGNMENT / name, as_version=4)
        cells = []
        for cell in notebook.cells:
            outputs = []
            for o in cell.get("outputs", []):
                kind = (o.output_type, o.get("name"), sorted(o.get("data", {})), o.get("ename"))
                if not (outputs and kind == outputs[-1] and o.output_type == "stream"):
                    outputs.append(kind)
            cells.append(outputs)
        return cells

    for name in NOTEBOOKS:
        ours = kinds(graded["ours"], name)
        assert ours == kinds(graded["stock"], name), name
        assert any(("display_data", None, ["image/png", "text/plain"], None) in cell for cell in ours), f"no plot in {name}"


# --- the launcher and the zygote, without nbgrader ---

@pytest.fixture
def folder(new_course):
    root = new_course("warm_unit")
    path = root / "autograded" / "eve" / ASSIGNMENT
    path.mkdir(parents=True)
    return root, path


def start(path):
    """A kernel of the sandbox kernelspec in `path`, and its client."""
    manager = KernelManager(kernel_name=KERNEL_NAME, transport="ipc", ip=tempfile.mkdtemp() + "/kernel")
    manager.start_kernel(cwd=str(path))
    client = manager.client()
    client.start_channels()
    client.wait_for_ready(timeout=60)
    return manager, client


def run_code(client, code, timeout=60):
    """(printed text, error name or None) of one execution."""
    printed, errors = [], []

    def hook(message):
        if message["msg_type"] == "stream":
            printed.append(message["content"]["text"])
        elif message["msg_type"] == "error":
            errors.append(message["content"]["ename"])

    client.execute_interactive(code, output_hook=hook, timeout=timeout)
    return "".join(printed), (errors[0] if errors else None)


def parent_of_kernel(path):
    manager, client = start(path)
    try:
        return int(run_code(client, "import os; print(os.getppid())")[0])
    finally:
        client.stop_channels()
        manager.shutdown_kernel()


def test_the_launcher_starts_a_usual_kernel_when_the_zygote_cannot_serve(folder, monkeypatch, tmp_path):
    root, path = folder
    # No zygote, a dead one (its socket file is left, nobody listens), one for another student.
    assert parent_of_kernel(path) == 1
    dead = tmp_path / "zygote.sock"
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    listener.bind(str(dead))
    listener.close()
    (tmp_path / SERVES).write_text(str(root / "autograded" / "eve"))
    monkeypatch.setenv(ZYGOTE, str(dead))
    assert parent_of_kernel(path) == 1
    monkeypatch.delenv(ZYGOTE)
    with KernelZygote(root, "someone_else"):
        assert parent_of_kernel(path) == 1
    with KernelZygote(root, "eve"):
        assert parent_of_kernel(path) == 2
        assert parent_of_kernel(path) == 2, "the zygote serves one kernel after another"
    assert ZYGOTE not in os.environ


def test_a_forked_kernel_can_be_interrupted_and_goes_on(folder):
    root, path = folder
    with KernelZygote(root, "eve") as zygote:
        manager, client = start(path)
        try:
            client.execute("import time\nwhile True: time.sleep(0.01)")
            time.sleep(1)
            manager.interrupt_kernel()
            reply = client.get_shell_msg(timeout=30)
            assert reply["content"]["status"] == "error" and reply["content"]["ename"] == "KeyboardInterrupt"
            assert run_code(client, "print(6 * 7)") == ("42\n", None)
        finally:
            client.stop_channels()
            manager.shutdown_kernel()
        assert zygote.process.poll() is None, "the zygote outlived its kernel"
    assert zygote.process.poll() is not None and not zygote.private.exists()


def test_a_kernel_that_closes_its_output_does_not_keep_the_launcher_busy(tmp_path):
    """The launcher waits for the zygote's word that the kernel has exited; output ending earlier
    (a kernel may close its stdout and stderr) must not make that wait a busy loop."""
    import signal
    import threading

    from grading import sandbox_kernel

    launcher, zygote = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)

    def fake_zygote():
        _, fds, _, _ = socket.recv_fds(zygote, 2 ** 16, 1)
        os.write(fds[0], b"kernel says goodbye\n")
        os.close(fds[0])                        # end of the kernel's output ...
        zygote.send(json.dumps({"pid": 7}).encode())
        time.sleep(2)                           # ... while the kernel still runs
        zygote.send(json.dumps({"exit": 3}).encode())

    thread = threading.Thread(target=fake_zygote)
    thread.start()
    handler = signal.getsignal(signal.SIGTERM)
    started = time.process_time()
    try:
        status = sandbox_kernel.run_forked(launcher, tmp_path / "kernel.json", [], tmp_path, tmp_path)
    finally:
        signal.signal(signal.SIGTERM, handler)
        thread.join()
    used = time.process_time() - started
    assert status == 3
    assert used < 0.5, f"the launcher used {used:.2f} CPU-seconds waiting 2 s for the kernel's exit"


def test_the_zygote_refuses_to_run_outside_the_sandbox(tmp_path):
    where = tmp_path / "zygote.sock"
    done = subprocess.run([sys.executable, str(ZYGOTE_SCRIPT), str(where)], capture_output=True, text=True, timeout=60)
    assert done.returncode != 0 and "only inside the grading sandbox" in done.stderr
    assert not where.exists()
