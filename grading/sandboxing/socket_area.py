"""The one host folder a kernel may write, bounded: a small tmpfs of the grading process (host side).

The kernel zygote and its kernels bind their Unix sockets in a folder of the host that is bound
writable into their sandbox (grading.sandboxing.kernels), and the grader renames each socket
from there to where its client connects. A plain folder there would let a kernel write
gigabytes, or millions of files, onto the host for as long as nobody removes them. So, as root,
the grading process mounts a tmpfs of a bounded size and number of files instead
(grading.settings: socket_area_bytes, socket_area_files), and makes in it every
folder a socket is renamed between (a rename does not cross filesystems): each zygote's folder and
control folder, and the nbgrader step's sealed folder.

    area = SocketArea.create(runtime_folder(), settings)   # .path: the tmpfs, or a plain folder (not root)
    zygote = Zygote(..., sockets_near=area.path)
    area.close()                                  # unmounted; the mount point removed

The mount is made in a mount namespace private to the grading process (unshared by its main
thread, whose later threads and children share it): no other process sees it, and it goes with
the process however that ends, SIGKILL included. A grading process that runs its jobs off the main
thread (a Dask worker: a namespace unshared there would be that thread's alone, unseen by the
worker's other threads) mounts it in the machine's namespace instead, under a name that carries its pid; it is unmounted
at close, and what a worker killed with SIGKILL left mounted is unmounted by the next grading
process on that machine (`sweep`). A grading process that is not root keeps a plain folder
(`why_not` says why): then a kernel's writes there are bounded by the sandbox's per-process file
size only, and removed when its submission ends (docs/security.md).
"""
import ctypes
import os
import threading
from pathlib import Path

from grading.sandboxing import files
from grading.sandboxing.kernels import private_folder
from grading.settings import DEFAULTS

CLONE_NEWNS = 0x00020000
MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REC, MS_PRIVATE = 0x2, 0x4, 0x8, 0x4000, 0x40000
MNT_DETACH = 0x2
SOURCE = "gc-kernel-sockets"   # the tmpfs's name in /proc/self/mountinfo; -<pid> in the machine's namespace

_private = {"done": False}   # this process's mount namespace is its own (per process: the main thread's)


def _libc():
    return ctypes.CDLL(None, use_errno=True)


def _require_zero(value, what):
    """Raise OSError with errno's reason unless the libc call gave 0."""
    if value != 0:
        error = ctypes.get_errno()
        raise OSError(error, f"{what}: {os.strerror(error)}")


def why_not():
    """Why the area cannot be a tmpfs in this process, or "" when it can."""
    if os.geteuid() != 0:
        return "the grader is not root, and only root mounts a tmpfs"
    return ""


def _in_own_namespace():
    """Whether this process may have a mount namespace of its own: from its main thread only."""
    return _private["done"] or threading.current_thread() is threading.main_thread()


def private_mounts():
    """Give this process a mount namespace of its own, once: mounts made from now on are seen by
    it and its children only, and vanish with them."""
    if not _private["done"]:
        libc = _libc()
        _require_zero(libc.unshare(CLONE_NEWNS), "unshare the mount namespace")
        _require_zero(libc.mount(b"none", b"/", None, MS_REC | MS_PRIVATE, None), "make the mounts private")
        _private["done"] = True


class SocketArea:
    """A folder for kernels' sockets: a tmpfs of settings.socket_area_bytes (sockets take none) and
    settings.socket_area_files files where we may, else a plain 0700 folder (`bounded` says which)."""

    def __init__(self, path, bounded):
        self.path, self.bounded = Path(path), bounded

    @classmethod
    def create(cls, near, settings=DEFAULTS):
        path = private_folder(near, "gc-kernels-")
        if why_not():
            return cls(path, False)
        source = SOURCE
        try:
            if _in_own_namespace():
                private_mounts()
            else:   # the machine's namespace: named for this process, swept if it is killed
                sweep()
                source = f"{SOURCE}-{os.getpid()}"
            options = f"size={settings.socket_area_bytes},nr_inodes={settings.socket_area_files},mode=0700".encode()
            _require_zero(_libc().mount(source.encode(), str(path).encode(), b"tmpfs",
                                 MS_NOSUID | MS_NODEV | MS_NOEXEC, options), "mount the sockets' tmpfs")
        except OSError:   # no mount namespace or mount here (a container without the right): a folder
            return cls(path, False)
        return cls(path, True)

    def close(self):
        """Unmount the tmpfs (with all the kernels left there) and remove the mount point."""
        if self.bounded:
            try:
                _require_zero(_libc().umount2(str(self.path).encode(), MNT_DETACH), "unmount the sockets' tmpfs")
            except OSError:
                pass
            self.bounded = False
        files.remove_tree(self.path)


def _mounts():
    """[(source, mount point)] of this process's mount namespace."""
    found = []
    with open("/proc/self/mountinfo") as info:
        for line in info:
            fields = line.split()
            separator = fields.index("-")
            found.append((fields[separator + 2], fields[4].replace("\\040", " ")))
    return found


def sweep():
    """Unmount the socket areas that grading processes now gone left in the machine's mount
    namespace (a Dask worker killed with SIGKILL cannot unmount its own), and remove their mount
    points; returns how many."""
    removed = 0
    for source, point in _mounts():
        owner = source[len(SOURCE) + 1:] if source.startswith(SOURCE + "-") else ""
        if not owner.isdigit() or int(owner) == os.getpid() or Path(f"/proc/{owner}").exists():
            continue
        try:
            _require_zero(_libc().umount2(point.encode(), MNT_DETACH), "unmount a left-over sockets' tmpfs")
            files.remove_tree(point)
            removed += 1
        except OSError:
            continue
    return removed
