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
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

if __package__:
    from .sandbox import INSTALL_HINT, SANDBOX_GID, SandboxUnavailable, available, require, wrap
else:  # run by path (the kernelspec does this so that starting a kernel does not import numpy)
    from sandbox import INSTALL_HINT, SANDBOX_GID, SandboxUnavailable, available, require, wrap

KERNEL_NAME = "gradient-checking-sandbox"
ASSIGNMENT = "gradient_checking"
PACKAGE = Path(__file__).resolve().parent
PORTS = ("shell_port", "iopub_port", "stdin_port", "control_port", "hb_port")
PR_SET_PDEATHSIG = 1  # prctl(2)
OUTPUT_BUDGET = 64 * 2 ** 10  # bytes of the kernel's own stdout/stderr passed on to the grader
FONT_CACHE = "GRADING_SANDBOX_FONT_CACHE"  # set in kernel.json: matplotlib's font list, made at install


def course_of(folder):
    """(course root, assignment) for a notebook folder, autograded/<student>/<assignment>/ of a course.

    Any other folder (say `nbgrader validate` on a source notebook) belongs to the course named
    by GRADING_COURSE_ROOT, or else the course that holds this package.
    """
    folder = Path(folder).resolve()
    if folder.parent.parent.name == "autograded":
        return folder.parents[2], folder.name
    return Path(os.environ.get("GRADING_COURSE_ROOT", PACKAGE.parent)).resolve(), ASSIGNMENT


def sandboxed_kernel(connection_file, extra_args, folder, private):
    """(command line, links to make) that start ipykernel in the sandbox, its sockets in `private`."""
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
    fonts = Path(os.environ.get(FONT_CACHE, "/nonexistent"))
    for cached in fonts.glob("fontlist-*.json"):
        shutil.copy(cached, private)
    root, assignment = course_of(folder)
    release = root / "release" / assignment
    command = wrap([sys.executable, "-m", "ipykernel_launcher", "-f", str(inner), *extra_args],
                   workdir=folder, readonly=[release, PACKAGE], writable=[folder, private],
                   env={"GRADING_COURSE_ROOT": root, "GRADING_HELPERS": release / "gc_utils.py",
                        "MPLCONFIGDIR": private,
                        # The kernel's parent is the sandbox's init, PID 1: ipykernel then
                        # neither watches for its parent's death nor prints a console banner.
                        "JPY_PARENT_PID": "1"})
    return command, links


def die_with_parent():
    """Be sent SIGTERM when the grading process that started this launcher dies, even by kill -9.

    Jupyter starts kernels in a session of their own, out of reach of a signal to the grader's
    process group; without this a killed grading run would leave its kernels running. On SIGTERM
    the launcher stops bwrap, which takes the kernel with it (--die-with-parent).
    """
    parent = os.getppid()
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != parent:   # the parent died before the request took effect
        sys.exit("gradient-checking-sandbox: the grading process is gone")


def run(connection_file, extra_args):
    """Run the kernel until it exits; return its exit status."""
    die_with_parent()
    try:
        require()
    except SandboxUnavailable as error:
        sys.exit(f"gradient-checking-sandbox: {error}")
    private = tempfile.mkdtemp(prefix="gc-kernel-")
    links = {}
    try:
        command, links = sandboxed_kernel(connection_file, extra_args, os.getcwd(), private)
        for name, target in links.items():
            os.makedirs(os.path.dirname(name), mode=0o700, exist_ok=True)
            os.symlink(target, name)
        # Interrupts arrive as messages (interrupt_mode in kernel.json); a SIGINT sent to the
        # process group must not stop the launcher. A handler, not SIG_IGN, which the kernel
        # would inherit and then ignore the interrupt itself.
        signal.signal(signal.SIGINT, lambda *_: None)
        kernel = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT)
        signal.signal(signal.SIGTERM, lambda *_: kernel.terminate())
        # Pass on the start of what the kernel writes to its own stdout and stderr (ipykernel's
        # crash reports) and drop the rest: a submission must not be able to flood the log.
        budget = OUTPUT_BUDGET
        while chunk := kernel.stdout.read1(2 ** 16):
            if budget > 0:
                sys.stderr.buffer.write(chunk[:budget])
                sys.stderr.flush()
            budget -= len(chunk)
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
    folder = Path(prefix) / "share" / "jupyter" / "kernels" / KERNEL_NAME
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
