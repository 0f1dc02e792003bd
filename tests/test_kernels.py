"""Kernels forked from a kernel zygote (grading.sandboxing.kernels, grading/inside/kernel_zygote.py).

`make autograde` starts each submission's kernels from one zygote in that submission's sandbox,
through the grading worker's kernel service; a plain `nbgrader autograde` starts a zygote for
each kernel. Either kernel must be as confined as the sandbox probe of test_sandbox.py says,
look the same to the notebook (same sys.path, working directory, environment and __name__),
leave nothing running for the next notebook, write nothing to the host, answer interrupts; and
nothing but a socket is ever taken from where the sandbox could have put it.
"""
import json
import os
import socket
import stat
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from jupyter_client import KernelManager

from grading.assignment import ASSIGNMENT, NOTEBOOKS
from grading.grader import autograde, course
from grading.sandboxing import kernels
from grading.sandboxing.kernels import ZYGOTE_SCRIPT
from grading.sandboxing.sandbox_kernel import KERNEL_NAME
from sandbox_probe import assert_course_and_host_hidden, assert_limits_bind, probe_code, probe_results
from synthetic_class import synthetic

FINGERPRINT = ("import json as _json, os as _os, sys as _sys\n"
               "print('KERNEL ' + _json.dumps({'pid': _os.getpid(), 'ppid': _os.getppid(), 'path': _sys.path,"
               " 'cwd': _os.getcwd(), 'env': sorted(_os.environ), 'main': __name__, 'argv0': _sys.argv[0]}))\n")
# Left running by notebook 1; notebook 2 looks for it and for any process besides its own. The
# note goes to /tmp, which the kernels of one submission share (their folders are rebuilt).
STRAY = ("import subprocess as _sp\n"
         "_stray = _sp.Popen(['sleep', '600'], start_new_session=True)\n"
         "open('/tmp/stray.pid', 'w').write(str(_stray.pid))\n")
# (Verification runs these cells too, in a sandbox of its own: there is no stray.pid there.)
LOOK = ("import os as _os\n"
        "if _os.path.exists('/tmp/stray.pid'):\n"
        "    _pid = int(open('/tmp/stray.pid').read())\n"
        "    _others = sorted(int(p) for p in _os.listdir('/proc') if p.isdigit() and int(p) not in (1, 2, _os.getpid()))\n"
        "    print('LOOK stray alive=%s others=%s' % (_os.path.exists(f'/proc/{_pid}'), _others))\n")


def fingerprint(text):
    return json.loads(text.split("KERNEL ", 1)[1].splitlines()[0])


def grade_ours(root):
    status = autograde.main(["--root", str(root), "--workers", "1", "--quiet", "--no-feedback"])
    assert status == 0


@pytest.fixture(scope="module")
def graded(new_course, host_server):
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
    with ThreadPoolExecutor(max_workers=1) as beside:   # both at once: each grades on one core
        stock = beside.submit(course.autograde, roots["stock"])
        grade_ours(roots["ours"])
        stock.result()
    return roots


def test_a_forked_kernel_is_as_sandboxed_as_a_usual_one(graded):
    root = graded["ours"]
    results = probe_results(course.cell_output(root, "mallory", NOTEBOOKS[0], "forward_propagation"))
    assert_course_and_host_hidden(results)
    assert_limits_bind(results)
    assert results["write_own_folder"] == "ok: 4"
    assert results["read_release"].startswith("ok")
    assert not (root / "autograded" / "mallory" / ASSIGNMENT / "probe.txt").exists(), "a kernel's writes stay inside"
    scores = course.scores(root)
    assert sum(scores["aaron"].values()) == 100 and sum(scores["mallory"].values()) == 100, scores


@pytest.mark.parametrize("notebook, cell", [(NOTEBOOKS[0], "forward_propagation"), (NOTEBOOKS[1], "gradient_check_n")])
def test_a_forked_kernel_looks_fresh_to_the_notebook(graded, notebook, cell):
    usual = fingerprint(course.cell_output(graded["stock"], "finn", notebook, cell))
    forked = fingerprint(course.cell_output(graded["ours"], "finn", notebook, cell))
    assert usual["ppid"] == forked["ppid"] == 2, "either kernel is a child of its zygote, the sandbox's first program"
    for key in ("path", "main", "argv0"):
        assert forked[key] == usual[key], key
    # The same environment, but where make autograde's kernels find their verdicts.
    assert sorted(set(forked["env"]) - {"GRADING_VERDICTS"}) == usual["env"]
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
    root = new_course("kernels_unit")
    path = root / "autograded" / "eve" / ASSIGNMENT
    path.mkdir(parents=True)
    (path / "data.txt").write_text("the kernel's own copy\n")
    return root, path


def start(path):
    """A kernel of the sandbox kernelspec in `path` (the launcher's own zygote), and its client."""
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


def test_a_plain_kernel_works_on_a_private_copy_of_its_folder(folder):
    root, path = folder
    manager, client = start(path)
    try:
        assert run_code(client, "import os; print(os.getppid(), open('data.txt').read().strip())") == \
            ("2 the kernel's own copy\n", None)
        assert run_code(client, "open('data.txt', 'w').write('changed'); os.symlink('/etc/passwd', 'link')")[1] is None
    finally:
        client.stop_channels()
        manager.shutdown_kernel()
    assert (path / "data.txt").read_text() == "the kernel's own copy\n" and not os.path.lexists(path / "link")


def test_a_forked_kernel_can_be_interrupted_and_goes_on(folder):
    root, path = folder
    manager, client = start(path)
    try:
        sent = client.execute("import time\nwhile True: time.sleep(0.01)")
        time.sleep(1)
        manager.interrupt_kernel()
        reply = client.get_shell_msg(timeout=30)
        while reply["parent_header"].get("msg_id") != sent:   # replies to wait_for_ready's kernel_info
            reply = client.get_shell_msg(timeout=30)
        assert reply["content"]["status"] == "error" and reply["content"]["ename"] == "KeyboardInterrupt"
        assert run_code(client, "print(6 * 7)") == ("42\n", None)
    finally:
        client.stop_channels()
        manager.shutdown_kernel()


def test_one_zygote_serves_kernel_after_kernel_and_goes_with_its_block(folder, tmp_path):
    root, path = folder
    with kernels.Zygote(root, ASSIGNMENT, work_area=path.parent, sockets_near=tmp_path) as zygote:
        for round in range(2):
            connection = {"transport": "ipc", "ip": str(tmp_path / f"k{round}"), "key": "", "signature_scheme": "hmac-sha256",
                          "shell_port": 1, "iopub_port": 2, "stdin_port": 3, "control_port": 4, "hb_port": 5}
            read, write = os.pipe()
            started = zygote.start_kernel(connection, [], cwd=path, output=write, folder=path)
            os.close(write)
            for port in range(1, 6):   # moved out of the sandbox's folder, to where the client looks
                assert stat.S_ISSOCK(os.lstat(f"{connection['ip']}-{port}").st_mode)
            started.kill()
            assert started.exit_status() != 0
            os.close(read)
        assert zygote.alive()
    assert not zygote.alive() and not zygote.sockets.exists()


@pytest.mark.parametrize("planted", ["symlink", "fifo", "file"])
def test_seal_takes_only_a_socket(tmp_path, planted):
    """A kernel that puts something else where its socket belongs is refused, and nothing is followed."""
    inside, outside = tmp_path / "inside", tmp_path / "outside"
    inside.mkdir()
    outside.mkdir()
    canary = tmp_path / "canary"
    canary.write_text("untouched")
    if planted == "symlink":
        os.symlink(canary, inside / "ipc-1")
    elif planted == "fifo":
        os.mkfifo(inside / "ipc-1")
    else:
        (inside / "ipc-1").write_text("not a socket")
    with pytest.raises(kernels.KernelStartFailed, match="where its socket"):
        kernels.seal(inside, {"ipc-1": str(outside / "kernel-1")}, timeout=1)
    assert not os.path.lexists(outside / "kernel-1") and canary.read_text() == "untouched"
    assert oct(canary.stat().st_mode & 0o777) != oct(0o666)


def test_a_kernel_that_closes_its_output_does_not_keep_the_launcher_busy():
    """The launcher waits for the zygote's word that the kernel has exited; output ending earlier
    (a kernel may close its stdout and stderr) must not make that wait a busy loop."""
    import signal
    import threading

    from grading.sandboxing import sandbox_kernel

    launcher, zygote = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    read, write = os.pipe()

    def fake_zygote():
        os.write(write, b"kernel says goodbye\n")
        os.close(write)                        # end of the kernel's output ...
        time.sleep(2)                          # ... while the kernel still runs
        zygote.send(json.dumps({"exit": 3}).encode())

    thread = threading.Thread(target=fake_zygote)
    thread.start()
    handler = signal.getsignal(signal.SIGTERM)
    started = time.process_time()
    try:
        status = sandbox_kernel.wait_relaying(launcher, read)
    finally:
        signal.signal(signal.SIGTERM, handler)
        thread.join()
    used = time.process_time() - started
    assert status == 3
    assert used < 0.5, f"the launcher used {used:.2f} CPU-seconds waiting 2 s for the kernel's exit"


def test_the_zygote_refuses_to_run_outside_the_sandbox(tmp_path):
    done = subprocess.run([sys.executable, str(ZYGOTE_SCRIPT), str(tmp_path)], capture_output=True, text=True, timeout=60)
    assert done.returncode != 0 and "only inside the grading sandbox" in done.stderr
    assert not (tmp_path / "zygote.sock").exists()
