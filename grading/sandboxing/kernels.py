"""Kernels in the sandbox, started so that nothing a kernel leaves behind is ever followed (host side).

Every kernel is forked from a kernel zygote (grading/inside/kernel_zygote.py) that runs in a
sandbox (grading.sandboxing.sandbox) of its own:

    with Zygote(course, work_area=folder.parent, package=PACKAGE) as zygote:
        started = zygote.start_kernel(connection, argv, cwd=folder, output=write_end)
        status = started.wait()

What goes in. The kernel's working folder is a tmpfs inside its sandbox, rebuilt for each kernel
from the regular files of the folder nbgrader gave it (read here without following links,
sent as descriptors). Read-only: the Python environment, the released assignment, and what
`import grading` is to find there (`package`: this package for a plain `nbgrader autograde`, the
verdict-reading stand-in grading/inside/kernel_grading for `make autograde`).

What comes back. Only Unix sockets: the zygote's listening socket and each kernel's five, which
the zygote and the kernel bind in a sockets folder of the host. Before anyone connects, each
socket is moved (renamed) out of that folder to where its client looks for it, a folder the
sandbox cannot reach, and checked there to be a socket: so a kernel that put a link, a FIFO or
another socket in its place is refused, and a later swap inside the sandbox changes nothing
outside. The folder itself is removed without following anything in it.
"""
import json
import os
import selectors
import stat
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from grading.assignment import ASSIGNMENT, PACKAGE
from grading.course_directory import Course
from grading.inside import kernel_zygote
from grading.sandboxing import files
from grading.sandboxing.sandbox import INSIDE, SCRIPTS, popen, wrap
from grading.settings import DEFAULTS

ZYGOTE_SCRIPT = SCRIPTS / "kernel_zygote.py"
PARENT_DEATH = SCRIPTS / "parent_death.py"   # the helper the zygote imports from beside it
VERDICT_READER = SCRIPTS / "kernel_grading"   # what `import grading` finds under make autograde
VERDICTS = INSIDE / "verdicts"          # where a kernel reads the verdicts (kernel_grading)
SOCKETS = Path("/run/sockets")          # where the zygote and its kernels bind their sockets
FONTS = INSIDE / "fonts"
PORTS = ("shell_port", "iopub_port", "stdin_port", "control_port", "hb_port")
FONT_CACHE = "GRADING_SANDBOX_FONT_CACHE"   # set in kernel.json: matplotlib's font list, made at install


class KernelStartFailed(RuntimeError):
    """The kernel did not start, or started with something that is not its sockets."""


def private_folder(near, prefix):
    """A new 0700 folder next to `near` (on the same filesystem, so that a socket can be renamed
    from one to the other)."""
    parent = Path(near)
    parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    return Path(tempfile.mkdtemp(prefix=prefix, dir=parent))


def connection_info(path):
    """The connection file at `path`, which must use Unix sockets (the sandbox has no network)."""
    info = json.loads(Path(path).read_text())
    if info.get("transport") != "ipc" or not os.path.isabs(info.get("ip", "")):
        raise KernelStartFailed("the kernel has no network; set c.KernelManager.transport = 'ipc' "
                                f"(connection file {path} has transport {info.get('transport')!r}, ip {info.get('ip')!r})")
    return info


def working_files(folder, anchor=None, settings=DEFAULTS):
    """([relative names], [read-only descriptors]) of the regular files of a kernel's folder, at
    most settings.kernel_folder_files of at most settings.kernel_folder_file_bytes each; links,
    FIFOs and devices are left out.
    anchor -- a trusted folder that holds `folder` (see grading.sandboxing.files.open_folder)"""
    names, fds = [], []
    try:
        regular, _ = files.regular_files(folder, skip=(".ipynb_checkpoints", "__pycache__"), anchor=anchor)
    except (FileNotFoundError, files.NotRegular):
        return names, fds
    for relative, size in regular[:settings.kernel_folder_files]:
        if size > settings.kernel_folder_file_bytes:
            continue
        try:
            fds.append(files.open_regular(Path(folder) / relative, anchor=anchor or folder))
        except (files.NotRegular, OSError):
            continue
        names.append(relative)
    return names, fds


def seal(folder, moves, *, alive=lambda: True, timeout=DEFAULTS.kernel_start_seconds, inner=None):
    """Move the sockets named in `moves` ({name: destination}) to their destinations as they
    appear in `folder` (or in its subfolder `inner`, entered without following a link); each
    must be a socket, at its destination too."""
    pending = dict(moves)
    deadline = time.monotonic() + timeout
    top = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    where = None
    try:
        while pending:
            if where is None:
                where = top if inner is None else _enter(top, inner)
            for name, destination in list(pending.items()) if where is not None else ():
                try:
                    mode = os.stat(name, dir_fd=where, follow_symlinks=False).st_mode
                except FileNotFoundError:
                    continue
                if not stat.S_ISSOCK(mode):
                    raise KernelStartFailed(f"the kernel put {files.kind(mode)} where its socket {name} belongs")
                os.rename(name, destination, src_dir_fd=where)
                mode = os.lstat(destination).st_mode
                if not stat.S_ISSOCK(mode):   # swapped between the two calls: not ours
                    os.unlink(destination)
                    raise KernelStartFailed(f"the kernel swapped its socket {name} for {files.kind(mode)}")
                del pending[name]
            if not pending:
                return
            if not alive():
                raise KernelStartFailed("the kernel ended before it was ready")
            if time.monotonic() > deadline:
                raise KernelStartFailed(f"the kernel did not open its sockets within {timeout:g} seconds")
            time.sleep(0.002)
    finally:
        if where is not None and where != top:
            os.close(where)
        os.close(top)


def _enter(top, name):
    """A descriptor of the folder `name` in `top`, or None while there is none; a link or any other
    file there is refused."""
    try:
        return os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=top)
    except FileNotFoundError:
        return None
    except OSError as error:   # ELOOP: a link; ENOTDIR: a file, a FIFO, ...
        raise KernelStartFailed(f"the kernel's socket folder {name} is not a folder ({error.strerror})") from None


class StartedKernel:
    """A kernel the zygote started: its pid in the sandbox, and the connection that reports its end."""

    def __init__(self, connection, pid):
        self.connection, self.pid = connection, pid

    def exit_status(self):
        """Wait for the kernel to end; its exit status (1 when the zygote is gone)."""
        ended = kernel_zygote.receive(self.connection)
        self.connection.close()
        return ended["exit"] if ended and isinstance(ended.get("exit"), int) else 1

    def kill(self):
        kernel_zygote.ask_kill(self.connection)


class Zygote:
    """A kernel zygote in a sandbox of its own, from start() (or `with`) to stop().

    course, assignment -- the course (a grading.course_directory.Course, or its path) and the
                 assignment, whose release is shown read-only
    work_area -- the path, inside, of the tmpfs in which kernels' folders are rebuilt; every
                 kernel's folder must lie in it
    package -- the folder shown read-only at this package's path (`import grading` inside)
    verdicts -- a folder of verdicts shown read-only to kernel_grading, or None
    cgroup, settings -- as for grading.sandboxing.sandbox.wrap (settings: grading.settings.GradingSettings)
    """

    def __init__(self, course, assignment=ASSIGNMENT, *, work_area, package=PACKAGE, verdicts=None, cgroup=None,
                 settings=DEFAULTS, sockets_near=None):
        self.course, self.assignment = Course.of(course), assignment
        self.work_area, self.package, self.verdicts = Path(work_area), Path(package), verdicts
        self.cgroup, self.settings = cgroup, settings
        self.sockets_near = sockets_near or tempfile.gettempdir()
        self.process = self.sockets = self.control = None
        self._listener = None
        self._kernels = 0

    def start(self):
        self.sockets = private_folder(self.sockets_near, "gc-zygote-")   # the sandbox writes here
        self.control = private_folder(self.sockets_near, "gc-control-")  # its listener is moved here
        release = self.course.release(self.assignment)
        fonts = Path(os.environ.get(FONT_CACHE) or installed_font_cache())
        readonly = [release, (self.package, PACKAGE), (ZYGOTE_SCRIPT, INSIDE / ZYGOTE_SCRIPT.name),
                    (PARENT_DEATH, INSIDE / PARENT_DEATH.name)]
        if fonts.is_dir():
            readonly.append((fonts, FONTS))
        env = {"GRADING_COURSE_ROOT": str(self.course.root), "GRADING_HELPERS": str(release / "gc_utils.py"),
               "MPLCONFIGDIR": "/tmp/matplotlib", kernel_zygote.FONT_CACHE: str(FONTS),
               # The kernel's parent is the zygote: ipykernel then neither watches for its
               # parent's death nor prints a console banner.
               "JPY_PARENT_PID": "1"}
        if self.verdicts is not None:
            readonly.append((self.verdicts, VERDICTS))
            env["GRADING_VERDICTS"] = str(VERDICTS)
        command = wrap([sys.executable, str(INSIDE / ZYGOTE_SCRIPT.name), str(SOCKETS)],
                       workdir=self.work_area, tmpfs=[self.work_area], writable=[(self.sockets, SOCKETS)],
                       readonly=readonly, env=env, cgroup=self.cgroup, settings=self.settings)
        # Its own output goes nowhere: each kernel's goes where its launcher says.
        self.process = popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
        return self

    def alive(self):
        return self.process is not None and self.process.poll() is None

    def _listening(self):
        """The path of the zygote's listening socket, moved out of the sandbox's reach (once)."""
        if self._listener is None:
            target = self.control / kernel_zygote.LISTENER
            seal(self.sockets, {kernel_zygote.LISTENER: target}, alive=self.alive,
                 timeout=self.settings.kernel_start_seconds)
            self._listener = target
        return self._listener

    def start_kernel(self, connection, argv, *, cwd, output, env=None, folder=None, anchor=None):
        """Fork a kernel: `connection` is the connection file's content (its ip is where the
        client will look for the sockets), `cwd` its working folder inside, `output` the
        descriptor its stdout and stderr go to; `folder` the host folder whose regular files
        make up its working folder (default: none), below the trusted `anchor`. Returns a
        StartedKernel."""
        client = kernel_zygote.connect(str(self._listening()), wait=0)
        if client is None:
            raise KernelStartFailed("the kernel zygote is gone")
        self._kernels += 1
        name = f"k{self._kernels}"
        names, fds = working_files(folder, anchor, self.settings) if folder is not None else ([], [])
        request = {"connection": {key: value for key, value in connection.items() if key != "ip"},
                   "argv": list(argv), "cwd": str(cwd), "env": dict(env or {}), "files": names, "sockets": name}
        try:
            pid = kernel_zygote.launch(client, request, [output, *fds])
        finally:
            for fd in fds:
                os.close(fd)
        if pid is None:
            client.close()
            raise KernelStartFailed("the kernel zygote did not start a kernel")
        started = StartedKernel(client, pid)
        ended = selectors.DefaultSelector()
        ended.register(client, selectors.EVENT_READ)
        try:
            seal(self.sockets, {f"ipc-{connection[p]}": f"{connection['ip']}-{connection[p]}" for p in PORTS},
                 alive=lambda: not ended.select(0) and self.alive(), inner=name,
                 timeout=self.settings.kernel_start_seconds)
        except KernelStartFailed:
            started.kill()
            client.close()
            raise
        finally:
            ended.close()
        return started

    def stop(self):
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()      # bwrap; --die-with-parent takes the sandbox with it
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        for folder in (self.sockets, self.control):
            if folder is not None:
                files.remove_tree(folder)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        return False


def installed_font_cache(prefix=sys.prefix):
    """Where `make` put matplotlib's font list for sandboxed kernels (grading.sandboxing.sandbox_kernel --install)."""
    return Path(prefix) / "share" / "jupyter" / "kernels" / "gradient-checking-sandbox" / "matplotlib"


def remove_sealed(connection):
    """Remove the sockets a kernel's client connected to (they were moved there by seal)."""
    for port in PORTS:
        path = f"{connection['ip']}-{connection[port]}"
        try:
            if stat.S_ISSOCK(os.lstat(path).st_mode):
                os.unlink(path)
        except FileNotFoundError:
            pass

