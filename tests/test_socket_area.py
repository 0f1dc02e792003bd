"""The kernels' socket area (grading.sandboxing.socket_area): a small tmpfs wherever a root grader
runs its jobs, on its main thread (a mount namespace of its own) or off it (a Dask worker: the
machine's namespace, named for its pid), and nothing left mounted by a grader killed with SIGKILL."""
import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from ci import require_root

from grading.sandboxing import socket_area
from grading.settings import DEFAULTS

pytestmark = pytest.mark.fast   # in make check's lane

FILL = """
import errno, sys
from pathlib import Path
written = 0
try:
    with open(Path(sys.argv[1]) / "fill", "wb") as out:
        while written < 64 * 2 ** 20:
            out.write(b"x" * 2 ** 16)
            out.flush()
            written += 2 ** 16
except OSError as error:
    print(errno.errorcode[error.errno], written)
else:
    print("unbounded", written)
"""


def mounted(source_prefix):
    return [(source, point) for source, point in socket_area._mounts() if source.startswith(source_prefix)]


def fill(folder):
    """What a process (like a kernel, another process) can write into `folder`."""
    done = subprocess.run([sys.executable, "-c", FILL, str(folder)], capture_output=True, text=True, timeout=60)
    return done.stdout.split()


OFF_THE_MAIN_THREAD = """
import json, os, subprocess, sys, threading
from grading.sandboxing import socket_area
made = {}
thread = threading.Thread(target=lambda: made.update(area=socket_area.SocketArea.create(sys.argv[1])))
thread.start(); thread.join()
area = made["area"]
made["bounded"] = area.bounded
mounts = socket_area._mounts()
filled = subprocess.run([sys.executable, "-c", sys.argv[2], str(area.path)], capture_output=True, text=True)
area.close()
print(json.dumps({"path": str(area.path), "bounded": made["bounded"], "mounts": mounts, "filled": filled.stdout.split(), "pid": os.getpid(), "after": socket_area._mounts()}))
"""


def test_off_the_main_thread_the_area_is_a_bounded_tmpfs_of_the_machine_named_for_its_process(tmp_path):
    # In a process of its own, which fills the area from a child as a kernel would: the suite's
    # process may already have a private mount namespace, made by an earlier test that ran the
    # nbgrader step on its main thread, where a machine-wide mount is not seen.
    require_root()
    worker = subprocess.run([sys.executable, "-c", OFF_THE_MAIN_THREAD, str(tmp_path), FILL],
                            capture_output=True, text=True, timeout=120)
    assert worker.returncode == 0, worker.stderr
    made = json.loads(worker.stdout)
    assert made["bounded"]
    sources = [found for found, point in made["mounts"] if point == made["path"]]
    assert sources == [f"{socket_area.SOURCE}-{made['pid']}"], made["mounts"]   # named for its pid
    said, written = made["filled"]
    assert said == "ENOSPC" and int(written) <= DEFAULTS.socket_area_bytes, (said, written)
    assert not [point for _, point in made["after"] if point == made["path"]]
    assert not Path(made["path"]).exists()


SIGKILLED = """
import os, sys, threading, time
from grading.sandboxing import socket_area
made = {}
thread = threading.Thread(target=lambda: made.update(area=socket_area.SocketArea.create(sys.argv[1])))
thread.start(); thread.join()
print(made["area"].path, made["area"].bounded, flush=True)
time.sleep(600)
"""


def test_an_area_a_killed_worker_left_mounted_is_swept_by_the_next(tmp_path):
    require_root()
    worker = subprocess.Popen([sys.executable, "-c", SIGKILLED, str(tmp_path)], stdout=subprocess.PIPE, text=True)
    try:
        path, bounded = worker.stdout.readline().split()
        assert bounded == "True"
        source = f"{socket_area.SOURCE}-{worker.pid}"
        assert (source, path) in socket_area._mounts()
        (Path(path) / "left-by-a-kernel").write_bytes(b"x" * 1000)
    finally:
        worker.send_signal(signal.SIGKILL)
        worker.wait()
    assert (source, path) in socket_area._mounts()   # nobody unmounted it: the worker died at once
    assert socket_area.sweep() >= 1
    assert (source, path) not in socket_area._mounts() and not Path(path).exists()


def test_a_live_process_s_area_is_never_swept(tmp_path):
    require_root()
    worker = subprocess.Popen([sys.executable, "-c", SIGKILLED, str(tmp_path)], stdout=subprocess.PIPE, text=True)
    try:
        path, _ = worker.stdout.readline().split()
        socket_area.sweep()
        assert (f"{socket_area.SOURCE}-{worker.pid}", path) in socket_area._mounts()
    finally:
        worker.kill()
        worker.wait()
        socket_area.sweep()
    assert not Path(path).exists()
