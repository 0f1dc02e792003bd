"""A kernel zygote: one Python, inside one submission's sandbox, that starts that submission's kernels.

    python kernel_zygote.py SOCKETS     # inside the sandbox; grading.sandboxing.kernels starts it

Starting an IPython kernel costs about 0.4 CPU-seconds (Python, then ipykernel, IPython and
debugpy), and each notebook's first cell another 0.3 (NumPy and pyplot). The zygote imports all
of that once; each kernel is then a fork of it that only has to set itself up. It never runs a
student's code itself, so every forked kernel starts as fresh as a new process would.

Its sandbox (grading.sandboxing.sandbox) shows it the Python environment, the released assignment and, read
only, what `import grading` is to find; it works in a private tmpfs folder (the "work area", the
graded folder's parent) and writes to the host nowhere but SOCKETS, a folder for Unix sockets:
its own listening socket and each kernel's. The grader moves every socket out of that folder
before it connects to it (grading.sandboxing.kernels), so nothing planted there is ever followed.

Each kernel gets its working folder rebuilt from scratch in the work area, from the files the
grader sends as descriptors: what a kernel of an earlier notebook left there is gone. When a
kernel ends, the zygote kills whatever it left running. Standard library only: this file is
run by path and never imports the grading package.

The protocol, over a Unix SOCK_SEQPACKET socket, one connection per kernel:
    client -> zygote   {"connection": {...}, "argv": [...], "cwd": path, "env": {...},
                        "files": [relative paths], "sockets": name}
                       with descriptors [the kernel's stdout, one per file, in order]
    zygote -> client   {"pid": n}, later {"exit": status}
    client -> zygote   b"kill", or closing the connection: the kernel is killed
The kernel binds its sockets in SOCKETS/<name>/; "connection" is its connection file, whose
"ip" the zygote points there.
"""
import json
import os
import select
import shutil
import signal
import socket
import sys
import time

if __package__:   # imported by the grader, for the client half of the protocol
    from grading.inside.parent_death import die_with_parent
else:             # started by path (python -I does not put this folder on sys.path): the helper is beside it
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from parent_death import die_with_parent
    del sys.path[0]

PRELOAD = ("ipykernel.kernelapp", "ipykernel.ipkernel", "ipykernel.zmqshell", "ipykernel.debugger",
           "numpy", "matplotlib", "matplotlib.pyplot")
INLINE = "module://matplotlib_inline.backend_inline"   # what ipykernel sets, before pyplot reads it
LISTENER = "zygote.sock"
MESSAGE = 2 ** 16
MAX_FDS = 250              # SCM_RIGHTS carries at most 253 descriptors
FONT_CACHE = "GRADING_FONT_CACHE"   # a read-only folder with matplotlib's font list


# --- the zygote (in the sandbox) ---

def in_sandbox():
    """True inside a bubblewrap sandbox's PID namespace, whose first process is bwrap itself."""
    try:
        with open("/proc/1/comm") as comm:
            return comm.read().strip() == "bwrap"
    except OSError:
        return False


def preload():
    """Import what every kernel needs, the way a kernel would (pyplot with ipykernel's backend)."""
    import importlib

    fonts, config = os.environ.get(FONT_CACHE), os.environ.get("MPLCONFIGDIR")
    if fonts and config:   # matplotlib would list the fonts again (0.15 s) without its cache
        os.makedirs(config, exist_ok=True)
        for name in os.listdir(fonts):
            if name.startswith("fontlist-"):
                shutil.copy(os.path.join(fonts, name), config)
    os.environ.setdefault("MPLBACKEND", INLINE)
    for name in PRELOAD:
        importlib.import_module(name)


def serve(sockets):
    """Listen in `sockets`, then preload, then start one kernel per connection, one at a time."""
    if not in_sandbox():   # kill(-1) below would reach every process of the user
        sys.exit("kernel_zygote: runs only inside the grading sandbox (grading.sandboxing.kernels starts it)")
    # This script's folder must not be on a kernel's sys.path.
    if sys.path and os.path.abspath(sys.path[0]) == os.path.dirname(os.path.abspath(__file__)):
        del sys.path[0]
    work_area = os.getcwd()
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    # Under its final name only once it listens (the grader connects as soon as the name is
    # there), and before the imports, so that the grader does not wait for them.
    listener.bind(os.path.join(sockets, LISTENER + ".new"))
    listener.listen(8)
    os.rename(os.path.join(sockets, LISTENER + ".new"), os.path.join(sockets, LISTENER))
    preload()
    while True:
        connection, _ = listener.accept()
        with connection:
            serve_one(connection, listener, sockets, work_area)
        clear_strays()


def serve_one(connection, listener, sockets, work_area):
    try:
        data, fds, _, _ = socket.recv_fds(connection, MESSAGE, MAX_FDS + 1)
        request = json.loads(data)
    except (OSError, ValueError):
        return
    zygote = os.getpid()
    pid = os.fork()
    if pid == 0:                # the kernel
        code = 1
        try:
            listener.close()
            connection.close()
            code = become_kernel(request, fds, sockets, work_area, zygote)
        except BaseException:   # said on the kernel's stderr, which the grader passes on
            import traceback

            traceback.print_exc()
        finally:
            for stream in (sys.__stdout__, sys.__stderr__):
                try:
                    stream.flush()
                except (OSError, ValueError):
                    pass
            os._exit(code)
    for fd in fds:
        os.close(fd)
    _send(connection, {"pid": pid})
    status = wait_or_kill(pid, connection)
    _send(connection, {"exit": status})


def wait_or_kill(pid, connection):
    """The kernel's exit status; it is killed first if the client asks or goes away."""
    process = os.pidfd_open(pid)
    poller = select.poll()
    poller.register(process, select.POLLIN)
    poller.register(connection, select.POLLIN | select.POLLHUP)
    try:
        while True:
            ready = dict(poller.poll())
            if process in ready:
                break
            if connection.fileno() in ready:
                try:
                    asked = connection.recv(MESSAGE)
                except OSError:
                    asked = b""
                if asked in (b"kill", b""):
                    _kill_group(pid)
                    poller.unregister(connection)
        return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
    finally:
        os.close(process)


def _kill_group(pid):
    """SIGKILL the kernel's process group, or the kernel alone if it has not made one yet."""
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def clear_strays():
    """Kill every process a kernel left behind: kill(-1) reaches all the sandbox's processes but
    the zygote itself and the sandbox's init."""
    try:
        os.kill(-1, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _inside(path, folder):
    path, folder = os.path.normpath(path), os.path.normpath(folder)
    return path == folder or path.startswith(folder.rstrip("/") + "/")


def rebuild_folder(cwd, names, fds, work_area):
    """Make `cwd` (in the work area) hold exactly the files sent: names[i] gets the bytes of fds[i]."""
    if not _inside(cwd, work_area) or os.path.normpath(cwd) == os.path.normpath(work_area):
        raise ValueError(f"the kernel's folder {cwd} is not in the work area {work_area}")
    shutil.rmtree(cwd, ignore_errors=True)
    os.makedirs(cwd)
    for name, fd in zip(names, fds):
        target = os.path.normpath(os.path.join(cwd, name))
        if os.path.isabs(name) or not _inside(target, cwd) or target == os.path.normpath(cwd):
            raise ValueError(f"a file name that leaves the kernel's folder: {name!r}")
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with os.fdopen(fd, "rb") as source, open(target, "wb") as copy:
            shutil.copyfileobj(source, copy)


def become_kernel(request, fds, sockets, work_area, zygote):
    """In the forked child: become what `python -m ipykernel_launcher -f FILE` would be."""
    import tempfile

    os.setsid()                                  # its own process group, killed as one
    # Die with the zygote: a kernel must never outlive its sandbox's grader.
    if not die_with_parent(signal.SIGKILL, zygote):
        return 1
    for number in (signal.SIGINT, signal.SIGTERM, signal.SIGCHLD, signal.SIGPIPE):
        signal.signal(number, signal.default_int_handler if number == signal.SIGINT else signal.SIG_DFL)
    output, files = (fds[0], fds[1:]) if fds else (None, [])
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    if output is not None:
        os.dup2(output, 1)
        os.dup2(output, 2)
        os.close(output)
    names = request.get("files", [])
    if len(names) != len(files):
        raise ValueError(f"{len(names)} file names for {len(files)} files")
    rebuild_folder(request["cwd"], names, files, work_area)
    # The kernel's own sockets, connection file, HOME and matplotlib folder (IPython's profile and
    # history are its own, not shared with the submission's other kernels).
    name = str(request["sockets"])
    if not name.isalnum():
        raise ValueError(f"a sockets folder name that is not plain: {name!r}")
    os.mkdir(os.path.join(sockets, name), 0o755)
    home = tempfile.mkdtemp(prefix="kernel-")
    connection = dict(request["connection"], ip=os.path.join(sockets, name, "ipc"))
    connection_file = os.path.join(home, "kernel.json")
    with open(connection_file, "w") as out:
        json.dump(connection, out)
    os.chdir(request["cwd"])
    # Sockets that anyone may connect to: the grader moves them out of the sandbox's reach, and
    # nbgrader's step (another user) connects. Files stay in the sandbox's own tmpfs.
    os.umask(0)
    os.environ.update(request.get("env", {}))
    os.environ.update({"HOME": home, "PWD": request["cwd"]})
    if "numpy.random" in sys.modules:            # a fork would share its state with its siblings
        sys.modules["numpy.random"].seed()
    import importlib.util

    from ipykernel import kernelapp

    sys.argv = [importlib.util.find_spec("ipykernel_launcher").origin, "-f", connection_file, *request["argv"]]
    try:
        kernelapp.launch_new_instance()
    except SystemExit as stop:
        return stop.code if isinstance(stop.code, int) else 1
    return 0


def _send(connection, message):
    try:
        connection.send(json.dumps(message).encode())
    except OSError:
        pass


# --- the client (grading.sandboxing.kernels, on the grader's side) ---

def connect(path, wait=5.0):
    """A connection to the zygote listening at `path`, or None if there is none. Waits up to
    `wait` seconds for a zygote that is still starting."""
    deadline = time.monotonic() + wait
    while not os.path.exists(path):
        if time.monotonic() > deadline:
            return None
        time.sleep(0.005)
    client = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    try:
        client.connect(path)
    except OSError:            # the zygote is gone (a kernel may have killed it)
        client.close()
        return None
    return client


def launch(client, request, fds):
    """Ask the zygote for a kernel: `request` as in the protocol, `fds` [stdout, files...].
    Returns the kernel's pid inside the sandbox, or None if the zygote did not start one."""
    socket.send_fds(client, [json.dumps(request).encode()], list(fds))
    reply = receive(client)
    return reply.get("pid") if reply else None


def ask_kill(client):
    """Ask the zygote to kill the kernel it started for this connection (a signal handler's job)."""
    try:
        client.send(b"kill")
    except OSError:
        pass


def receive(client):
    """The zygote's next message, or None when it has gone."""
    try:
        data = client.recv(MESSAGE)
    except OSError:
        return None
    try:
        return json.loads(data) if data else None
    except ValueError:
        return None


if __name__ == "__main__":
    serve(sys.argv[1])
