"""The probe of a hostile submission, shared by the sandbox's tests (test_sandbox.py, test_kernels.py).

The probe tries what a hostile submission would: read the gradebook, source/, another student's
work and the project notes, reach a server on the host's loopback (the fixture host_server, in
conftest.py), allocate too much memory, fork without end, write a huge file; it prints one line
`PROBE {json}` with what each attempt gave.
"""
import json
import textwrap
from pathlib import Path

from grading.assignment import ASSIGNMENT
from grading.sandboxing import sandbox
from grading.settings import DEFAULTS

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
                        memory=DEFAULTS.process_memory_bytes + 2 ** 30,
                        file_mib=DEFAULTS.process_file_bytes // 2 ** 20)


def probe_results(text):
    return json.loads(text.split("PROBE ", 1)[1].splitlines()[0])


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
