"""Run an untrusted command inside a bubblewrap sandbox.

    argv = wrap(["python", "-c", "..."], workdir=folder, readonly=[...], writable=[folder])
    subprocess.run(argv)

The sandbox starts from an empty root and shows only: the system's programs and libraries
(/usr and the /bin, /lib links), a minimal /etc, the Python environment, the `readonly` paths
(read-only), the `writable` paths (read-write), a private size-limited /tmp, and fresh /proc
and /dev. It has its own user, PID, IPC, UTS and network namespaces: the only network is a
loopback interface of its own, so nothing on the host (not even the host's 127.0.0.1) is
reachable. Resource limits (SandboxLimits) are set with `prlimit` inside the sandbox.

Grading as root. Root is exempt from the process-count limit (RLIMIT_NPROC), even inside a user
namespace that maps to it. So when the caller is root, the sandbox runs as the unprivileged
user nobody (65534): a small stage (grading/sandbox_stage.py) opens the bound paths while still
root, mounts them in a private mount namespace where nobody can reach them (the Python
installation may sit in /root, a course copy in a 0700 temporary folder), drops to nobody and
only then starts bwrap. wrap() therefore makes each writable path writable by
nobody (group nogroup, group-writable and sticky: the sticky bit keeps the files the grader
put there from being deleted or replaced, say by a symlink that the grader would later write
through).
"""
import os
import shutil
import stat
import sys
from dataclasses import dataclass
from pathlib import Path

SANDBOX_UID = 65534   # nobody
SANDBOX_GID = 65534   # nogroup
INSTALL_HINT = "install Debian's bubblewrap: apt-get install bubblewrap"
STAGE = str(Path(__file__).resolve().parent / "sandbox_stage.py")  # root's first step, by path


class SandboxUnavailable(RuntimeError):
    """bwrap is missing: grading without the sandbox is not allowed."""


@dataclass(frozen=True)
class SandboxLimits:
    memory_bytes: int = 3 * 2 ** 30      # address space (RLIMIT_AS) of each process
    cpu_seconds: int = 300               # CPU time of each process (RLIMIT_CPU)
    max_processes: int = 64              # processes and threads of the sandbox user (RLIMIT_NPROC)
    file_size_bytes: int = 64 * 2 ** 20  # largest file a process may write (RLIMIT_FSIZE)
    open_files: int = 256                # open file descriptors (RLIMIT_NOFILE)
    tmp_bytes: int = 64 * 2 ** 20        # size of the private /tmp (and /dev/shm) tmpfs


def available():
    """True when bubblewrap is installed."""
    return shutil.which("bwrap") is not None


def require():
    """The path of bwrap, or SandboxUnavailable with what to do."""
    path = shutil.which("bwrap")
    if path is None:
        raise SandboxUnavailable(f"the grading sandbox needs bwrap, which is not installed: {INSTALL_HINT}")
    return path


def python_paths():
    """Directories of the running Python: the environment and the installation it was made from."""
    # The parent of bin/python too: under `python -S` (the kernel launcher) sys.prefix is
    # the base installation, not the virtual environment.
    candidates = {sys.prefix, sys.exec_prefix, sys.base_prefix, sys.base_exec_prefix,
                  str(Path(sys.executable).absolute().parent.parent),
                  str(Path(os.path.realpath(sys.executable)).parent.parent)}
    paths = sorted({os.path.realpath(p) for p in candidates})
    # Keep the outermost: a nested path is already visible through its parent.
    return [p for p in paths if not any(p != q and p.startswith(q.rstrip("/") + "/") for q in paths)]


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


def grant_write(path):
    """Let the sandbox user write to `path` through its group (needed only when grading as root).

    A directory also gets the sticky bit: the sandbox may add files, but not delete, rename or
    replace the root-owned files that are already there.
    """
    if os.path.islink(path):  # chown and chmod would change whatever the link points to
        raise ValueError(f"sandbox: a writable path must not be a symlink: {path}")
    mode = stat.S_IMODE(os.stat(path).st_mode) | 0o060
    if os.path.isdir(path):
        mode |= 0o1010
    os.chown(path, 0, SANDBOX_GID)
    os.chmod(path, mode)


def wrap(argv, *, workdir, readonly=(), writable=(), env=None, limits=SandboxLimits()):
    """The command line that runs `argv` in the sandbox, with `workdir` as working directory.

    readonly, writable -- host paths shown at the same path inside; writable ones read-write
    env -- extra environment variables; the environment starts empty apart from PATH, HOME=/tmp,
           LANG, and single-threaded BLAS (which keeps the address space small)
    Side effect when called as root: each writable path is given to group nogroup, group-writable
    and (directories) sticky; see grant_write.
    """
    bwrap = require()
    root = os.geteuid() == 0
    binds = _system_binds()
    for path in python_paths():
        binds += ["--ro-bind", path, path]
    for path in readonly:
        binds += ["--ro-bind", str(path), str(path)]
    for path in writable:
        if root:
            grant_write(path)
        binds += ["--bind", str(path), str(path)]
    environment = {
        "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin", "HOME": "/tmp", "TMPDIR": "/tmp",
        "LANG": "C.UTF-8", "PYTHONDONTWRITEBYTECODE": "1",
        "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
        **(env or {})}
    # --disable-userns (no user namespaces inside, a large kernel attack surface) wants an
    # explicit --unshare-user. The fresh mounts come first: a bound path below /tmp must not be
    # hidden by the tmpfs.
    command = [bwrap, "--unshare-all", "--unshare-user", "--disable-userns", "--die-with-parent",
               "--new-session", "--proc", "/proc", "--dev", "/dev",
               "--size", str(limits.tmp_bytes), "--tmpfs", "/tmp",
               "--size", str(limits.tmp_bytes), "--tmpfs", "/dev/shm",
               *binds, "--chdir", str(workdir), "--clearenv"]
    for name, value in environment.items():
        command += ["--setenv", name, str(value)]
    # prlimit runs inside, after bwrap made the user namespace: the process count is then
    # per sandbox, not shared by every sandbox that runs as nobody at the same time.
    command += ["--", "prlimit", f"--as={limits.memory_bytes}", f"--cpu={limits.cpu_seconds}",
                f"--nproc={limits.max_processes}", f"--fsize={limits.file_size_bytes}",
                f"--nofile={limits.open_files}", "--core=0", "--", *map(str, argv)]
    if root:
        # The stage dies with this process, which must be the one that starts the command.
        return [sys.executable, "-I", "-S", STAGE, str(SANDBOX_UID), str(SANDBOX_GID), str(os.getpid()), *command]
    return command
