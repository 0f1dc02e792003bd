"""A kernel zygote: one Python, inside one submission's sandbox, that starts that submission's kernels.

    python grading/kernel_zygote.py SOCKET      # inside the sandbox (grading.warm_kernels starts it)

Starting an IPython kernel costs about 0.4 CPU-seconds (Python, then ipykernel, IPython and
debugpy), and each notebook's first cell another 0.3 (NumPy and pyplot): for a two-notebook
submission, half of what the kernels do. The zygote imports all of that once; each kernel is
then a fork of it that only has to set itself up. It never runs a student's code itself, so every
forked kernel starts as fresh as a new process would.

Its sandbox is the submission's own (grading.sandbox: the folder autograded/<student>/, the
release and this package read-only, the Python environment; no network, the same limits), so a
kernel sees exactly what a kernel started by grading/sandbox_kernel.py sees. Kernels of one
submission run one after another; when one ends, the zygote kills whatever it left running.

The protocol, over a Unix SOCK_SEQPACKET socket, one connection per kernel (client: launch(),
which grading/sandbox_kernel.py calls in place of starting bwrap):
    client -> zygote   {"connection_file", "argv", "cwd", "env"} with the fd for the kernel's stdout
    zygote -> client   {"pid": n}, later {"exit": status}
    client -> zygote   b"kill", or closing the connection: the kernel is killed
"""
import json
import os
import select
import signal
import socket
import sys
import time

PRELOAD = ("ipykernel.kernelapp", "ipykernel.ipkernel", "ipykernel.zmqshell", "ipykernel.debugger",
           "numpy", "matplotlib", "matplotlib.pyplot")
INLINE = "module://matplotlib_inline.backend_inline"   # what ipykernel sets, before pyplot reads it
MESSAGE = 2 ** 16
PR_SET_PDEATHSIG = 1


# --- the zygote (in the sandbox) ---

def preload():
    """Import what every kernel needs, the way a kernel would (pyplot with ipykernel's backend)."""
    import importlib

    os.environ.setdefault("MPLBACKEND", INLINE)
    for name in PRELOAD:
        importlib.import_module(name)


def in_sandbox():
    """True inside a bubblewrap sandbox's PID namespace, whose first process is bwrap itself."""
    try:
        with open("/proc/1/comm") as comm:
            return comm.read().strip() == "bwrap"
    except OSError:
        return False


def serve(path):
    """Listen at `path`, then preload, then start one kernel per connection, one at a time."""
    if not in_sandbox():   # kill(-1) below would reach every process of the user
        sys.exit("kernel_zygote: runs only inside the grading sandbox (grading.warm_kernels starts it)")
    # This script's folder (the grading package) must not be on a kernel's sys.path.
    if sys.path and os.path.abspath(sys.path[0]) == os.path.dirname(os.path.abspath(__file__)):
        del sys.path[0]
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    listener.bind(path)        # before the imports: a launcher may connect while they run
    listener.listen(8)
    preload()
    while True:
        connection, _ = listener.accept()
        with connection:
            serve_one(connection, listener)
        clear_strays()


def serve_one(connection, listener):
    try:
        data, fds, _, _ = socket.recv_fds(connection, MESSAGE, 1)
        request = json.loads(data)
    except (OSError, ValueError):
        return
    pid = os.fork()
    if pid == 0:                # the kernel
        code = 1
        try:
            listener.close()
            connection.close()
            code = become_kernel(request, fds[0] if fds else None)
        except BaseException:   # said on the kernel's stderr, which the launcher passes on
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
    for kill in (lambda: os.killpg(pid, signal.SIGKILL), lambda: os.kill(pid, signal.SIGKILL)):
        try:
            kill()
        except ProcessLookupError:
            pass


def clear_strays():
    """Kill every process a kernel left behind: kill(-1) reaches all the sandbox's processes but
    the zygote itself and the sandbox's init."""
    try:
        os.kill(-1, signal.SIGKILL)
    except ProcessLookupError:
        pass


def become_kernel(request, output):
    """In the forked child: become what `python -m ipykernel_launcher -f FILE` would be."""
    import ctypes

    os.setsid()                                  # its own process group, killed as one
    # Die with the zygote: a kernel must never outlive its sandbox's grader.
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() == 1:
        return 1
    for number in (signal.SIGINT, signal.SIGTERM, signal.SIGCHLD, signal.SIGPIPE):
        signal.signal(number, signal.default_int_handler if number == signal.SIGINT else signal.SIG_DFL)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    if output is not None:
        os.dup2(output, 1)
        os.dup2(output, 2)
        os.close(output)
    os.chdir(request["cwd"])
    os.environ.update(request["env"])
    if "numpy.random" in sys.modules:            # a fork would share its state with its siblings
        sys.modules["numpy.random"].seed()
    import importlib.util

    from ipykernel import kernelapp

    sys.argv = [importlib.util.find_spec("ipykernel_launcher").origin, "-f", request["connection_file"],
                *request["argv"]]
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


# --- the client (grading/sandbox_kernel.py, on the grader's side) ---

def connect(path, wait=5.0):
    """A connection to the zygote at `path`, or None if there is none (the caller starts a kernel
    the usual way). Waits up to `wait` seconds for a zygote that is still starting."""
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


def launch(client, connection_file, argv, cwd, env, output):
    """Ask the zygote for a kernel; `output` is the fd its stdout and stderr go to.
    Returns the kernel's pid inside the sandbox, or None if the zygote did not start one."""
    socket.send_fds(client, [json.dumps({"connection_file": connection_file, "argv": list(argv),
                                         "cwd": cwd, "env": env}).encode()], [output])
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
    return json.loads(data) if data else None


if __name__ == "__main__":
    serve(sys.argv[1])
