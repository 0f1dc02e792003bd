"""The kernel `gradient-checking-sandbox`: an IPython kernel that runs inside the grading sandbox.

    python -I -m grading.sandboxing.sandbox_kernel -f CONNECTION_FILE [ipykernel options]   # what Jupyter runs
    python -m grading.sandboxing.sandbox_kernel --install                                   # write the kernelspec

nbgrader starts the kernel with the notebook's folder, autograded/<student>/<assignment>/, as
working directory. The kernel runs in a sandbox (grading.sandboxing.sandbox) where that path holds a private
copy of the folder's regular files (grading.sandboxing.kernels): it sees the released assignment, what
`import grading` finds, and the Python environment; no source/, gradebook, other student or
network; and nothing it writes reaches the host.

Two ways to get there:
- Under `make autograde`, nbgrader itself runs in a sandbox of its own (grading.sandboxing.nbgrader_step),
  and the grading worker names its kernel service in GRADING_KERNEL_SERVICE: the launcher asks
  the service for the kernel, and the service forks it from the submission's kernel zygote,
  where `import grading` finds only the verified verdicts.
- Otherwise (a plain `nbgrader autograde`, `nbgrader validate`), the launcher starts a kernel
  zygote for this one kernel, with this package read-only: the hidden tests run in the kernel,
  as nbgrader does it.
Either way the launcher passes on the start of what the kernel writes to its own stdout and stderr
(crash reports; grading.settings: kernel_log_bytes), waits for the kernel to end and ends with it.
It reads no course configuration: a kernel's start cannot wait for it, so the zygote it starts for
a plain nbgrader has the default settings.
"""
import json
import os
import selectors
import signal
import sys
from pathlib import Path

from grading.assignment import ASSIGNMENT, PACKAGE
from grading.course_directory import DEFAULT_NAMES, Course
from grading.inside import kernel_zygote, parent_death
from grading.sandboxing import kernels
from grading.sandboxing.sandbox import INSTALL_HINT, SandboxUnavailable, available, require, run as run_sandboxed, wrap
from grading.settings import DEFAULTS

KERNEL_NAME = "gradient-checking-sandbox"
KERNEL_SERVICE = "GRADING_KERNEL_SERVICE"   # the socket of the grading worker's kernel service


def course_of(folder):
    """(Course, assignment) for a notebook folder, autograded/<student>/<assignment>/ of a course.

    Any other folder (say `nbgrader validate` on a source notebook) belongs to the course named
    by GRADING_COURSE_ROOT, or else the course that holds this package. The course has nbgrader's
    default folder names: a kernel's start cannot wait for the course's configuration to be read.
    """
    folder = Path(folder).resolve()
    if folder.parent.parent.name == DEFAULT_NAMES["autograded"]:
        return Course.with_default_names(folder.parents[2]), folder.name
    return Course.with_default_names(Path(os.environ.get("GRADING_COURSE_ROOT", PACKAGE.parent)).resolve()), ASSIGNMENT


def die_with_parent():
    """Be sent SIGTERM when the grading process that started this launcher dies, even by kill -9.

    Jupyter starts kernels in a session of their own, out of reach of a signal to the grader's
    process group; without this a killed grading run would leave its kernels running. On SIGTERM
    the launcher has the kernel killed.
    """
    parent = os.getppid()
    still_parent = parent_death.die_with_parent(signal.SIGTERM, parent)
    # jupyter_client names the process that started the kernel. If that is not our parent, it
    # died while this Python was starting and we already belong to init (or the name is an
    # outer kernel's, inherited: then that process is still alive).
    named = int(os.environ.get("JPY_PARENT_PID") or 0)
    if not still_parent or (named > 1 and named != parent and not _alive(named)):
        sys.exit("gradient-checking-sandbox: the grading process is gone")


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return True


def forward(chunk, budget):
    """Pass on the start of what the kernel writes to its own stdout and stderr (ipykernel's crash
    reports) and drop the rest: a submission must not be able to flood the log. Returns the
    budget left."""
    if budget > 0:
        sys.stderr.buffer.write(chunk[:budget])
        sys.stderr.flush()
    return budget - len(chunk)


def relay(read, budget=DEFAULTS.kernel_log_bytes):
    """Forward what can be read from `read`: up to end of file, or (non-blocking) what is there."""
    try:
        while chunk := os.read(read, 2 ** 16):
            budget = forward(chunk, budget)
    except BlockingIOError:
        pass
    return budget


def wait_relaying(control, read):
    """Relay the kernel's output from `read` until `control` (a zygote or service connection)
    reports its exit; return the exit status. SIGTERM has the kernel killed."""
    signal.signal(signal.SIGTERM, lambda *_: kernel_zygote.ask_kill(control))
    os.set_blocking(read, False)
    budget = DEFAULTS.kernel_log_bytes
    with selectors.DefaultSelector() as waiting:
        waiting.register(read, selectors.EVENT_READ)
        waiting.register(control, selectors.EVENT_READ)
        while True:
            for key, _ in waiting.select():
                if key.fileobj != read:
                    ended = kernel_zygote.receive(control)
                    relay(read, budget)
                    os.close(read)
                    control.close()
                    return ended["exit"] if ended and isinstance(ended.get("exit"), int) else 1
                try:
                    chunk = os.read(read, 2 ** 16)
                except BlockingIOError:
                    continue
                if chunk:
                    budget = forward(chunk, budget)
                else:                 # the kernel closed its output; it may still be running
                    waiting.unregister(read)


def run_via_service(service, info, extra_args, folder):
    """Ask the grading worker's kernel service for the kernel (make autograde)."""
    client = kernel_zygote.connect(service, wait=0)
    if client is None:
        sys.exit(f"gradient-checking-sandbox: the grading run's kernel service at {service} is gone")
    read, write = os.pipe()
    try:
        pid = kernel_zygote.launch(client, {"connection": info, "argv": list(extra_args), "cwd": folder}, [write])
    finally:
        os.close(write)
    if pid is None:
        sys.exit("gradient-checking-sandbox: the grading run's kernel service did not start the kernel")
    return wait_relaying(client, read)


def run_own_zygote(info, extra_args, folder):
    """Start a kernel zygote for this one kernel, with the real grading package (plain nbgrader)."""
    try:
        require()
    except SandboxUnavailable as error:
        sys.exit(f"gradient-checking-sandbox: {error}")
    course, assignment = course_of(folder)
    with kernels.Zygote(course, assignment, work_area=Path(folder).parent,
                        sockets_near=os.path.dirname(info["ip"])) as zygote:
        read, write = os.pipe()
        try:
            started = zygote.start_kernel(info, extra_args, cwd=folder, output=write, folder=folder)
        except kernels.KernelStartFailed as error:
            os.close(read)
            sys.exit(f"gradient-checking-sandbox: {error}")
        finally:
            os.close(write)
        try:
            return wait_relaying(started.connection, read)
        finally:
            kernels.remove_sealed(info)


def run(connection_file, extra_args):
    """Run the kernel until it exits; return its exit status."""
    die_with_parent()
    # Interrupts arrive as messages (interrupt_mode in kernel.json); a SIGINT sent to the
    # process group must not stop the launcher.
    signal.signal(signal.SIGINT, lambda *_: None)
    try:
        info = kernels.connection_info(connection_file)
    except kernels.KernelStartFailed as error:
        sys.exit(f"gradient-checking-sandbox: {error}")
    folder = os.getcwd()
    service = os.environ.get(KERNEL_SERVICE)
    if service:
        return run_via_service(service, info, extra_args, folder)
    return run_own_zygote(info, extra_args, folder)


def build_font_cache(folder):
    """Let matplotlib list the fonts once, inside the sandbox, into `folder`; False without bwrap.

    Every kernel starts with an empty matplotlib folder, where matplotlib would spend 0.15 s
    listing the fonts again; the zygote copies this list there instead.
    """
    if not available():
        print(f"note: no font list for the sandboxed kernel: {INSTALL_HINT}", file=sys.stderr)
        return False
    folder.mkdir(parents=True, exist_ok=True)
    command = wrap([sys.executable, "-c", "import matplotlib.font_manager"], workdir=folder,
                   writable=[folder], env={"MPLCONFIGDIR": folder})
    run_sandboxed(command, check=True)
    if os.geteuid() == 0:  # made by the sandbox user; from now on read-only for it
        for path in folder.iterdir():
            os.chown(path, 0, 0, follow_symlinks=False)
        folder.chmod(0o755)
    return True


def install(prefix=sys.prefix):
    """Write the kernelspec into <prefix>/share/jupyter/kernels/; return its folder."""
    folder = kernels.installed_font_cache(prefix).parent
    folder.mkdir(parents=True, exist_ok=True)
    fonts = kernels.installed_font_cache(prefix)
    build_font_cache(fonts)
    # -I: neither the working directory (a student's folder) nor PYTHON* variables reach sys.path.
    spec = {"argv": [sys.executable, "-I", "-m", "grading.sandboxing.sandbox_kernel", "-f", "{connection_file}"],
            "display_name": "Python 3 (grading sandbox)", "language": "python",
            "interrupt_mode": "message", "env": {kernels.FONT_CACHE: str(fonts)}, "metadata": {}}
    (folder / "kernel.json").write_text(json.dumps(spec, indent=1) + "\n")
    return folder


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--install"]:
        print(f"installed kernelspec {KERNEL_NAME} in {install(*argv[1:2])}")
        return 0
    if argv[:1] != ["-f"] or len(argv) < 2:
        sys.exit(__doc__)
    return run(argv[1], argv[2:])


if __name__ == "__main__":
    sys.exit(main())
