"""The kernel `gradient-checking-sandbox`: an IPython kernel that runs inside the grading sandbox.

    python grading/sandbox_kernel.py -f CONNECTION_FILE [ipykernel options]   # what Jupyter runs
    python -m grading.sandbox_kernel --install                                 # write the kernelspec

nbgrader starts the kernel with the notebook's folder, autograded/<student>/<assignment>/, as
working directory. Inside the sandbox (grading.sandbox) the kernel sees that folder
(writable), the released assignment release/<assignment>/ and the grading package (read-only),
the Python environment, and nothing else of the course: no source/, gradebook, or other student.

The sandbox has no network, so the kernel talks to nbclient over Unix sockets (the "ipc"
transport, set in nbgrader_config.py). Jupyter names the sockets <ip>-<port>, next to the
connection files of every other kernel; the launcher gives this kernel a private folder for its
sockets instead, and links the names that Jupyter expects to them.
"""
import ctypes
import json
import os
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

if __package__:
    from . import kernel_zygote
    from .sandbox import INSTALL_HINT, SANDBOX_GID, SandboxUnavailable, available, grant_write, require, wrap
else:  # run by path (the kernelspec does this so that starting a kernel does not import numpy)
    import kernel_zygote
    from sandbox import INSTALL_HINT, SANDBOX_GID, SandboxUnavailable, available, grant_write, require, wrap

KERNEL_NAME = "gradient-checking-sandbox"
ASSIGNMENT = "gradient_checking"
PACKAGE = Path(__file__).resolve().parent
PORTS = ("shell_port", "iopub_port", "stdin_port", "control_port", "hb_port")
PR_SET_PDEATHSIG = 1  # prctl(2)
OUTPUT_BUDGET = 64 * 2 ** 10  # bytes of the kernel's own stdout/stderr passed on to the grader
FONT_CACHE = "GRADING_SANDBOX_FONT_CACHE"  # set in kernel.json: matplotlib's font list, made at install
ZYGOTE = "GRADING_KERNEL_ZYGOTE"   # the socket of the kernel zygote for this submission (grading.warm_kernels)
SERVES = "serves"                  # file next to that socket: the folder whose kernels the zygote may start


def course_of(folder):
    """(course root, assignment) for a notebook folder, autograded/<student>/<assignment>/ of a course.

    Any other folder (say `nbgrader validate` on a source notebook) belongs to the course named
    by GRADING_COURSE_ROOT, or else the course that holds this package.
    """
    folder = Path(folder).resolve()
    if folder.parent.parent.name == "autograded":
        return folder.parents[2], folder.name
    return Path(os.environ.get("GRADING_COURSE_ROOT", PACKAGE.parent)).resolve(), ASSIGNMENT


def kernel_environment(root, assignment, private):
    """The variables a sandboxed kernel gets on top of the sandbox's own (grading.sandbox.wrap)."""
    release = Path(root) / "release" / assignment
    return {"GRADING_COURSE_ROOT": str(root), "GRADING_HELPERS": str(release / "gc_utils.py"),
            "MPLCONFIGDIR": str(private),
            # The kernel's parent is the sandbox's init, PID 1 (or the zygote): ipykernel then
            # neither watches for its parent's death nor prints a console banner.
            "JPY_PARENT_PID": "1"}


def readonly_paths(root, assignment):
    """What a kernel may read besides the Python environment: the release and this package."""
    return [Path(root) / "release" / assignment, PACKAGE]


def copy_font_cache(private):
    """Put matplotlib's font list (made at install, see build_font_cache) into a kernel's MPLCONFIGDIR."""
    fonts = Path(os.environ.get(FONT_CACHE) or installed_spec_folder() / "matplotlib")
    for cached in fonts.glob("fontlist-*.json"):
        shutil.copy(cached, private)


def installed_spec_folder(prefix=sys.prefix):
    return Path(prefix) / "share" / "jupyter" / "kernels" / KERNEL_NAME


def private_connection(connection_file, private):
    """(the kernel's own connection file in `private`, {name Jupyter expects: socket in private})."""
    info = json.loads(Path(connection_file).read_text())
    if info.get("transport") != "ipc" or not os.path.isabs(info.get("ip", "")):
        sys.exit("gradient-checking-sandbox: the kernel has no network; set c.KernelManager.transport = 'ipc' "
                 f"(connection file {connection_file} has transport {info.get('transport')!r}, ip {info.get('ip')!r})")
    links = {f"{info['ip']}-{info[p]}": f"{private}/ipc-{info[p]}" for p in PORTS}
    inner = Path(private) / "kernel.json"
    inner.write_text(json.dumps({**info, "ip": f"{private}/ipc"}))
    inner.chmod(0o640)
    if os.geteuid() == 0:
        os.chown(inner, 0, SANDBOX_GID)
    return inner, links


def sandboxed_kernel(inner, extra_args, folder, private):
    """The command line that starts ipykernel in a sandbox of its own, its sockets in `private`."""
    copy_font_cache(private)
    root, assignment = course_of(folder)
    return wrap([sys.executable, "-m", "ipykernel_launcher", "-f", str(inner), *extra_args],
                workdir=folder, readonly=readonly_paths(root, assignment), writable=[folder, private],
                env=kernel_environment(root, assignment, private))


def die_with_parent():
    """Be sent SIGTERM when the grading process that started this launcher dies, even by kill -9.

    Jupyter starts kernels in a session of their own, out of reach of a signal to the grader's
    process group; without this a killed grading run would leave its kernels running. On SIGTERM
    the launcher stops bwrap, which takes the kernel with it (--die-with-parent).
    """
    parent = os.getppid()
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    # jupyter_client names the process that started the kernel. If that is not our parent, it
    # died while this Python was starting and we already belong to init (or the name is an
    # outer kernel's, inherited: then that process is still alive).
    named = int(os.environ.get("JPY_PARENT_PID") or 0)
    if os.getppid() != parent or (named > 1 and named != parent and not _alive(named)):
        sys.exit("gradient-checking-sandbox: the grading process is gone")


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return True


def zygote_for(folder):
    """A connection to the kernel zygote that serves `folder`, or None.

    The grading pipeline (grading.warm_kernels) names one in the environment for the submission
    it grades; a plain `nbgrader autograde` has none and starts every kernel in a new sandbox.
    """
    path = os.environ.get(ZYGOTE)
    if not path:
        return None
    served = Path(path).parent / SERVES
    try:
        if not Path(folder).resolve().is_relative_to(Path(served.read_text()).resolve()):
            return None
    except OSError:
        return None
    return kernel_zygote.connect(path)


def private_folder(zygote):
    """The kernel's private folder: inside the zygote's (which its sandbox sees), or a new one."""
    if zygote is None:
        return tempfile.mkdtemp(prefix="gc-kernel-")
    private = tempfile.mkdtemp(prefix="kernel-", dir=Path(os.environ[ZYGOTE]).parent)
    if os.geteuid() == 0:
        grant_write(private)
    return private


def forward(chunk, budget):
    """Pass on the start of what the kernel writes to its own stdout and stderr (ipykernel's crash
    reports) and drop the rest: a submission must not be able to flood the log. Returns the
    budget left."""
    if budget > 0:
        sys.stderr.buffer.write(chunk[:budget])
        sys.stderr.flush()
    return budget - len(chunk)


def relay(read, budget=OUTPUT_BUDGET):
    """Forward what can be read from `read`: up to end of file, or (non-blocking) what is there."""
    try:
        while chunk := os.read(read, 2 ** 16):
            budget = forward(chunk, budget)
    except BlockingIOError:
        pass
    return budget


def run_forked(zygote, inner, extra_args, folder, private):
    """Let the zygote fork the kernel; wait for it to exit; return its exit status, or None if
    the zygote could not start one."""
    read, write = os.pipe()
    try:
        # HOME: IPython's profile and history are this kernel's own, not shared with the
        # submission's other kernels.
        env = {"MPLCONFIGDIR": str(private), "HOME": str(private), "PWD": str(folder)}
        if kernel_zygote.launch(zygote, str(inner), extra_args, str(folder), env, write) is None:
            return None
    finally:
        os.close(write)
    signal.signal(signal.SIGTERM, lambda *_: kernel_zygote.ask_kill(zygote))
    os.set_blocking(read, False)
    budget = OUTPUT_BUDGET
    with selectors.DefaultSelector() as waiting:
        waiting.register(read, selectors.EVENT_READ)
        waiting.register(zygote, selectors.EVENT_READ)
        while True:
            for key, _ in waiting.select():
                if key.fileobj != read:
                    ended = kernel_zygote.receive(zygote)
                    relay(read, budget)
                    os.close(read)
                    return ended["exit"] if ended and "exit" in ended else 1
                try:
                    chunk = os.read(read, 2 ** 16)
                except BlockingIOError:
                    continue
                if chunk:
                    budget = forward(chunk, budget)
                else:                 # the kernel closed its output; it may still be running
                    waiting.unregister(read)


def run(connection_file, extra_args):
    """Run the kernel until it exits; return its exit status."""
    die_with_parent()
    try:
        require()
    except SandboxUnavailable as error:
        sys.exit(f"gradient-checking-sandbox: {error}")
    folder = os.getcwd()
    zygote = zygote_for(folder)
    private = private_folder(zygote)
    links = {}
    try:
        inner, links = private_connection(connection_file, private)
        for name, target in links.items():
            os.makedirs(os.path.dirname(name), mode=0o700, exist_ok=True)
            os.symlink(target, name)
        # Interrupts arrive as messages (interrupt_mode in kernel.json); a SIGINT sent to the
        # process group must not stop the launcher. A handler, not SIG_IGN, which the kernel
        # would inherit and then ignore the interrupt itself.
        signal.signal(signal.SIGINT, lambda *_: None)
        if zygote is not None:
            if os.geteuid() == 0:
                grant_write(folder)
            status = run_forked(zygote, inner, extra_args, folder, private)
            zygote.close()
            if status is not None:
                return status
        kernel = subprocess.Popen(sandboxed_kernel(inner, extra_args, folder, private),
                                  stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        signal.signal(signal.SIGTERM, lambda *_: kernel.terminate())
        relay(kernel.stdout.fileno())
        return kernel.wait()
    finally:
        for name in links:
            if os.path.islink(name):
                os.remove(name)
        shutil.rmtree(private, ignore_errors=True)


def build_font_cache(folder):
    """Let matplotlib list the fonts once, inside the sandbox, into `folder`; False without bwrap.

    Every kernel starts with an empty private folder, where matplotlib would spend 0.15 s
    listing the fonts again; the launcher copies this list there instead.
    """
    if not available():
        print(f"note: no font list for the sandboxed kernel: {INSTALL_HINT}", file=sys.stderr)
        return False
    folder.mkdir(parents=True, exist_ok=True)
    command = wrap([sys.executable, "-c", "import matplotlib.font_manager"], workdir=folder,
                   writable=[folder], env={"MPLCONFIGDIR": folder})
    subprocess.run(command, check=True)
    if os.geteuid() == 0:  # made by the sandbox user; from now on read-only for it
        for path in folder.iterdir():
            os.chown(path, 0, 0)
        folder.chmod(0o755)
    return True


def install(prefix=sys.prefix):
    """Write the kernelspec into <prefix>/share/jupyter/kernels/; return its folder."""
    folder = installed_spec_folder(prefix)
    folder.mkdir(parents=True, exist_ok=True)
    fonts = folder / "matplotlib"
    build_font_cache(fonts)
    spec = {"argv": [sys.executable, "-E", "-S", str(PACKAGE / "sandbox_kernel.py"), "-f", "{connection_file}"],
            "display_name": "Python 3 (grading sandbox)", "language": "python",
            "interrupt_mode": "message", "env": {FONT_CACHE: str(fonts)}, "metadata": {}}
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
