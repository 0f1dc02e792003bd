"""Run an untrusted command inside a bubblewrap sandbox.

    command = wrap(["python", "-c", "..."], workdir="/work", tmpfs=["/work"], readonly=[...])
    process = popen(command, stdin=..., stdout=...)

The sandbox starts from an empty root and shows only: the system's programs and libraries
(/usr and the /bin, /lib links), a minimal /etc, the Python environment, the `readonly` paths
(read-only), the `writable` paths (read-write), private size-limited folders (`tmpfs`, /tmp and
/dev/shm) that vanish with it, and fresh /proc and /dev. It has its own user, PID, IPC, UTS and
network namespaces: the only network is a loopback interface of its own, so nothing on the host
(not even the host's 127.0.0.1) is reachable. Resource limits (grading.settings) are set with
`prlimit` inside; a seccomp filter (grading.sandboxing.syscall_filter) denies system calls that grading
never needs; and a cgroup (grading.sandboxing.cgroups), when given, bounds memory and processes of
everything in it together.

What comes back. A sandbox that grades a submission gets no writable folder of the host: it
works in its own tmpfs folders, and whatever it leaves there is gone with it. The one exception
is a folder for Unix sockets (the kernel's), whose entries the grader moves out of the sandbox's
reach before it connects (grading.sandboxing.kernels). So nothing a submission plants, no link, FIFO or
device, is ever in a place the grader later reads.

Paths. A bound path appears inside at the path given, even where that path goes through a
symbolic link on the host (a course or a .venv reached through a link): the source is resolved,
the destination is not. A pair (source, destination) shows a host folder at another path.

Grading as root. Root is exempt from the process-count limit (RLIMIT_NPROC), even inside a user
namespace that maps to it. So when the caller is root, the sandbox runs as an unprivileged user
(nobody, 65534, for student code): a small entry step (grading/inside/sandbox_entry.py) joins the cgroup,
opens the bound paths while still root, mounts them in a private mount namespace where the
unprivileged user can reach them (the Python installation may sit in /root, a course copy in a
0700 temporary folder), drops to that user and only then starts bwrap, as the first process of
a PID namespace of its own: when it dies, for whatever reason, so does everything it started.
"""
import os
import shutil
import stat
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from grading.assignment import PACKAGE
from grading.settings import DEFAULTS

SANDBOX_UID = 65534   # nobody: student code
SANDBOX_GID = 65534   # nogroup
GRADER_UID = 65533    # nbgrader's own steps (grading.sandboxing.nbgrader_step): no passwd entry needed
GRADER_GID = 65533
INSTALL_HINT = "install Debian's bubblewrap: apt-get install bubblewrap"
SCRIPTS = PACKAGE / "inside"     # the scripts that run in a sandbox, started by path (grading/inside/)
INSIDE = Path("/run/grading")    # where a sandbox is shown the scripts it runs, and what they read
ENTRY = str(SCRIPTS / "sandbox_entry.py")  # the first step, run by path


class SandboxUnavailable(RuntimeError):
    """bwrap is missing: grading without the sandbox is not allowed."""


@dataclass(frozen=True)
class Command:
    """A sandboxed command line and the descriptors it must inherit (the seccomp filter)."""
    argv: list
    pass_fds: tuple = field(default=())

    def close(self):
        """Close this process's copies of the descriptors (once the command has started)."""
        for fd in self.pass_fds:
            try:
                os.close(fd)
            except OSError:
                pass


def popen(command, **kwargs):
    """subprocess.Popen for a Command; the descriptors it passes on are closed here afterwards."""
    try:
        return subprocess.Popen(command.argv, pass_fds=command.pass_fds, **kwargs)
    finally:
        command.close()


def run(command, **kwargs):
    """subprocess.run for a Command."""
    try:
        return subprocess.run(command.argv, pass_fds=command.pass_fds, **kwargs)
    finally:
        command.close()


def available():
    """True when bubblewrap is installed."""
    return shutil.which("bwrap") is not None


def require():
    """The path of bwrap, or SandboxUnavailable with what to do."""
    path = shutil.which("bwrap")
    if path is None:
        raise SandboxUnavailable(f"the grading sandbox needs bwrap, which is not installed: {INSTALL_HINT}")
    return path


def _outermost(paths):
    """The paths that are not below another one of them (a nested path is visible through its parent)."""
    paths = sorted(set(paths))
    return [p for p in paths if not any(p != q and p.startswith(q.rstrip("/") + "/") for q in paths)]


def python_paths():
    """Directories of the running Python: the environment and the installation it was made from,
    each as this process names it and as it really is (they differ when a link leads there)."""
    # The parent of bin/python too: under `python -S` (the kernel launcher) sys.prefix is
    # the base installation, not the virtual environment.
    named = {sys.prefix, sys.exec_prefix, sys.base_prefix, sys.base_exec_prefix,
             str(Path(sys.executable).absolute().parent.parent)}
    real = {os.path.realpath(p) for p in named} | {str(Path(os.path.realpath(sys.executable)).parent.parent)}
    return _outermost({os.path.normpath(p) for p in named | real})


def _system_binds():
    """bwrap arguments that show the system's programs and libraries, and a minimal /etc."""
    args = ["--ro-bind", "/usr", "/usr"]
    for top in ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"):
        if os.path.islink(top):            # merged /usr (Debian 12): keep the link
            args += ["--symlink", os.readlink(top), top]
        elif os.path.isdir(top):
            args += ["--ro-bind", top, top]
    # Only what the dynamic loader, time zones and fontconfig need: no passwd, hosts or credentials.
    for name in ("ld.so.cache", "ld.so.conf", "localtime", "fonts"):
        if os.path.exists(f"/etc/{name}"):
            args += ["--ro-bind", os.path.realpath(f"/etc/{name}"), f"/etc/{name}"]
    return args


def grant_write(path, gid=SANDBOX_GID):
    """Let the sandbox user write to `path` through its group (needed only when grading as root).

    A directory also gets the sticky bit: the sandbox may add files, but not delete, rename or
    replace the root-owned files that are already there.
    """
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)  # chown and chmod through a link: never
    try:
        info = os.fstat(fd)
        mode = stat.S_IMODE(info.st_mode) | 0o060
        if stat.S_ISDIR(info.st_mode):
            mode |= 0o1010
        os.fchown(fd, 0, gid)
        os.fchmod(fd, mode)
    finally:
        os.close(fd)


def _pair(path):
    """(source, destination) of a bind: a pair as given, or one path shown at its own name."""
    if isinstance(path, (tuple, list)):
        source, destination = path
    else:
        source = destination = path
    return str(source), os.path.normpath(os.path.abspath(str(destination)))


def _depth(destination):
    return destination.rstrip("/").count("/")


def wrap(argv, *, workdir, readonly=(), writable=(), tmpfs=(), env=None, settings=DEFAULTS,
         uid=SANDBOX_UID, gid=SANDBOX_GID, cgroup=None):
    """The Command that runs `argv` in the sandbox, with `workdir` as working directory.

    readonly, writable -- host paths, or (host path, path inside) pairs; writable ones read-write
    tmpfs -- paths inside that are private, writable, empty folders (settings.work_folder_bytes each)
    settings -- grading.settings.GradingSettings: each process's limits, the tmpfs folders' sizes
    env -- extra environment variables; the environment starts empty apart from PATH, HOME=/tmp,
           LANG, and single-threaded BLAS (which keeps the address space small)
    uid, gid -- whom the sandbox runs as when the caller is root (nobody, or GRADER_UID)
    cgroup -- a grading.sandboxing.cgroups.Cgroup that the sandbox joins before it starts
    Side effect when called as root: each writable path is given to group `gid`, group-writable
    and (directories) sticky; see grant_write.
    """
    bwrap = require()
    root = os.geteuid() == 0
    mounts = [("--ro-bind", *_pair(p)) for p in python_paths()]
    mounts += [("--ro-bind", *_pair(p)) for p in readonly]
    for path in writable:
        source, destination = _pair(path)
        if root:
            grant_write(source, gid)
        mounts.append(("--bind", source, destination))
    for destination in tmpfs:
        mounts.append(("--tmpfs", None, os.path.normpath(str(destination))))
    # Parents before children: a path bound inside another bound folder must come after it.
    # Fresh tmpfs folders before binds at the same depth: a bind below a tmpfs must not be hidden.
    mounts.sort(key=lambda m: (_depth(m[2]), m[0] != "--tmpfs"))
    binds = _system_binds()
    for option, source, destination in mounts:
        if option == "--tmpfs":
            binds += ["--size", str(settings.work_folder_bytes), "--tmpfs", destination]
        else:
            binds += [option, source, destination]
    environment = {
        "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin", "HOME": "/tmp", "TMPDIR": "/tmp",
        "LANG": "C.UTF-8", "PYTHONDONTWRITEBYTECODE": "1",
        "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
        **(env or {})}
    from grading.sandboxing import syscall_filter  # builds the filter once per process
    seccomp = syscall_filter.filter_fd()
    # --disable-userns (no user namespaces inside, a large kernel attack surface) wants an
    # explicit --unshare-user. The fresh mounts come first: a bound path below /tmp must not be
    # hidden by the tmpfs.
    command = [bwrap, "--unshare-all", "--unshare-user", "--disable-userns", "--die-with-parent",
               "--new-session", "--proc", "/proc", "--dev", "/dev",
               "--size", str(settings.tmp_bytes), "--tmpfs", "/tmp",
               "--size", str(settings.tmp_bytes), "--tmpfs", "/dev/shm",
               *binds, "--chdir", str(workdir), "--clearenv"]
    for name, value in environment.items():
        command += ["--setenv", name, str(value)]
    command += ["--seccomp", str(seccomp)]
    # prlimit runs inside, after bwrap made the user namespace: the process count is then
    # per sandbox, not shared by every sandbox that runs as nobody at the same time.
    command += ["--", "prlimit", f"--as={settings.process_memory_bytes}", f"--cpu={settings.process_cpu_seconds}",
                f"--nproc={settings.sandbox_processes}", f"--fsize={settings.process_file_bytes}",
                f"--nofile={settings.process_open_files}", "--core=0", "--", *map(str, argv)]
    joins = ",".join(cgroup.procs_files) if cgroup is not None else "-"
    # The entry step dies with this process, which must be the one that starts the command; as root
    # it also drops to `uid`.
    identity = [str(uid), str(gid)] if root else ["-", "-"]
    return Command([sys.executable, "-I", "-S", ENTRY, *identity, str(os.getpid()), joins, *command], (seccomp,))
