"""A cgroup per submission: memory and processes bounded for everything that submission runs.

Resource limits (setrlimit) bind each process on its own: three processes of one sandbox could
hold three times the memory limit. A cgroup bounds them together, whatever they fork, and lets
the grader end them all at once:

    with SubmissionCgroup.create("ada", memory_bytes=2 * 2**30, max_processes=128) as group:
        group.procs_files     # what the sandbox stage joins before it starts bwrap
        ...
        group.peak_memory()   # bytes, the most the submission held at once
    # on leaving: every process still in it is killed, then it is removed

cgroup v2 is used where this process's cgroup can hand the memory and pids controllers to a
child (a delegated subtree); otherwise cgroup v1's memory and pids hierarchies, which root can
always write where they are mounted. When neither is writable (grading as an ordinary user
without delegation), create() returns None and only the per-process limits apply; `why_not()`
says why. Cgroups are made inside this process's own, so limits set above it still hold.

CPU accounting for benchmarks (cpu_seconds) reads cpuacct (v1) or cpu.stat (v2).
"""
import itertools
import os
import signal
import time
from pathlib import Path

PREFIX = "gradient-checking"
_counter = itertools.count()


def _mounts():
    """{controller or "unified": mount point} of the cgroup filesystems."""
    found = {}
    with open("/proc/self/mountinfo") as info:
        for line in info:
            fields = line.split()
            separator = fields.index("-")
            fstype, options, mount_point = fields[separator + 1], fields[separator + 3], fields[4]
            if fstype == "cgroup2":
                found.setdefault("unified", mount_point)
            elif fstype == "cgroup":
                for option in options.split(","):
                    if option in ("memory", "pids", "cpuacct"):
                        found.setdefault(option, mount_point)
    return found


def _own_paths():
    """{controller or "unified": this process's cgroup path} from /proc/self/cgroup."""
    paths = {}
    with open("/proc/self/cgroup") as groups:
        for line in groups:
            number, controllers, path = line.rstrip("\n").split(":", 2)
            if number == "0" and controllers == "":
                paths["unified"] = path
            for controller in controllers.split(","):
                paths[controller] = path
    return paths


def _writable_dir(path):
    return path.is_dir() and os.access(path, os.W_OK | os.X_OK)


def locate(controllers=("memory", "pids")):
    """("v2", [parent folder]) or ("v1", [parent folder per controller]) where child cgroups with
    `controllers` can be made, or (None, reason)."""
    mounts, own = _mounts(), _own_paths()
    if "unified" in mounts and "unified" in own:
        parent = Path(mounts["unified"] + own["unified"])
        try:
            available = (parent / "cgroup.controllers").read_text().split()
            enabled = (parent / "cgroup.subtree_control").read_text().split()
        except OSError:
            available = enabled = []
        if set(controllers) <= set(available) and _writable_dir(parent):
            missing = [c for c in controllers if c not in enabled]
            try:
                if missing:
                    (parent / "cgroup.subtree_control").write_text(" ".join("+" + c for c in missing))
                return "v2", [parent]
            except OSError:
                pass   # processes live in this cgroup itself: v2 forbids controllers below it
    if all(c in mounts and c in own for c in controllers):
        parents = [Path(mounts[c] + own[c]) for c in controllers]
        if all(_writable_dir(p) for p in parents):
            return "v1", parents
        return None, f"cgroup v1 {', '.join(controllers)} hierarchies are not writable by uid {os.geteuid()}"
    return None, f"no writable cgroup with the {' and '.join(controllers)} controllers (no delegated cgroup v2 subtree, no cgroup v1 mounts)"


def why_not():
    """Why per-submission cgroups are unavailable here, or "" if they are available."""
    version, where = locate()
    return "" if version else where


class SubmissionCgroup:
    """One cgroup (one per controller under v1) that bounds a submission."""

    def __init__(self, version, folders):
        self.version, self.folders = version, folders

    @classmethod
    def create(cls, label, *, memory_bytes, max_processes):
        """A new cgroup named after `label`, with its limits set; None where cgroups are unavailable."""
        version, parents = locate()
        if version is None:
            return None
        safe = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in label)[:40]
        name = f"{PREFIX}-{os.getpid()}-{next(_counter)}-{safe}"
        folders = [parent / name for parent in parents]
        for folder in folders:
            folder.mkdir()
        group = cls(version, folders)
        try:
            group._limit(memory_bytes, max_processes)
        except OSError:
            group.remove()
            raise
        return group

    def _limit(self, memory_bytes, max_processes):
        if self.version == "v2":
            folder = self.folders[0]
            (folder / "memory.max").write_text(str(memory_bytes))
            if (folder / "memory.swap.max").exists():
                (folder / "memory.swap.max").write_text("0")
            (folder / "pids.max").write_text(str(max_processes))
            return
        memory, pids = self.folders
        (memory / "memory.limit_in_bytes").write_text(str(memory_bytes))
        if (memory / "memory.memsw.limit_in_bytes").exists():   # no escape into swap
            try:
                (memory / "memory.memsw.limit_in_bytes").write_text(str(memory_bytes))
            except OSError:
                pass
        (pids / "pids.max").write_text(str(max_processes))

    @property
    def procs_files(self):
        """The cgroup.procs files a process writes its pid to, to join (the sandbox stage does)."""
        return [str(folder / "cgroup.procs") for folder in self.folders]

    def join(self, pid=0):
        """Move process `pid` (0: this one) into the cgroup."""
        for procs in self.procs_files:
            Path(procs).write_text(str(pid or os.getpid()))

    def pids(self):
        found = set()
        for procs in self.procs_files:
            try:
                found.update(int(p) for p in Path(procs).read_text().split())
            except OSError:
                pass
        return found

    def kill(self, wait=5.0):
        """SIGKILL every process in the cgroup, again until none is left (a fork may race the kill)."""
        killer = self.folders[0] / "cgroup.kill"
        if self.version == "v2" and killer.exists():
            killer.write_text("1")
        deadline = time.monotonic() + wait
        while (left := self.pids()) and time.monotonic() < deadline:
            for pid in left:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            time.sleep(0.01)
        return not self.pids()

    def peak_memory(self):
        """The most memory (bytes) the cgroup's processes held at once, or None if not recorded."""
        name = "memory.peak" if self.version == "v2" else "memory.max_usage_in_bytes"
        try:
            return int((self.folders[0] / name).read_text())
        except (OSError, ValueError):
            return None

    def memory_events(self):
        """How often the memory limit killed a process (OOM kills), or None if not recorded."""
        try:
            if self.version == "v2":
                for line in (self.folders[0] / "memory.events").read_text().splitlines():
                    if line.startswith("oom_kill "):
                        return int(line.split()[1])
            else:
                for line in (self.folders[0] / "memory.oom_control").read_text().splitlines():
                    if line.startswith("oom_kill "):
                        return int(line.split()[1])
        except (OSError, ValueError):
            pass
        return None

    def remove(self):
        """Kill what is left and remove the cgroup."""
        self.kill()
        for folder in self.folders:
            for _ in range(100):
                try:
                    folder.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:    # a process is still on its way out
                    time.sleep(0.01)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()
        return False


def sweep():
    """Remove the cgroups that grading runs which no longer exist left behind (a run killed with
    SIGKILL cannot remove its own); returns how many were removed."""
    version, parents = locate()
    if version is None:
        return 0
    removed = 0
    for parent in parents:
        for folder in parent.glob(f"{PREFIX}-*"):
            try:
                owner = int(folder.name.split("-")[2])
            except (IndexError, ValueError):
                continue
            if owner != os.getpid() and not Path(f"/proc/{owner}").exists():
                group = SubmissionCgroup(version, [folder])
                group.remove()
                removed += not folder.exists()
    return removed


def cpu_seconds_of(folder):
    """CPU seconds used so far by the processes of the cgroup at `folder` (cpuacct or cpu.stat)."""
    folder = Path(folder)
    if (folder / "cpuacct.usage").exists():
        return int((folder / "cpuacct.usage").read_text()) / 1e9
    for line in (folder / "cpu.stat").read_text().splitlines():
        if line.startswith("usage_usec "):
            return int(line.split()[1]) / 1e6
    raise OSError(f"no CPU accounting in {folder}")
