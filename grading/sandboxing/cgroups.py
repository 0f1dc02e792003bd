"""A cgroup per submission: memory and processes bounded for everything that submission runs.

Resource limits (setrlimit) bind each process on its own: three processes of one sandbox could
hold three times the memory limit. A cgroup bounds them together, whatever they fork, lets the
grader end them all at once, and counts their CPU time:

    with Cgroup.create("ada", memory_bytes=2 * 2**30, max_processes=128) as group:
        group.procs_files     # what the sandbox entry joins before it starts bwrap
        ...
        group.peak_memory()   # bytes, the most the submission held at once
        group.cpu_seconds()   # CPU time of all its processes
    # on leaving: every process still in it is killed, then it is removed

cgroup v2 is used where this process's cgroup can hand the memory and pids controllers to a
child (a delegated subtree); otherwise cgroup v1's memory and pids hierarchies (and cpuacct,
for CPU time), which root can always write where they are mounted. When neither is writable
(grading as an ordinary user without delegation), create() returns None and only the
per-process limits apply; `why_not()` says why. Cgroups are made inside this process's own, so
limits set above it still hold. A cgroup without limits (Cgroup.create(label)) only counts CPU.
"""
import itertools
import os
import signal
import time
from pathlib import Path

PREFIX = "gradient-checking"
LIMITING = ("memory", "pids")
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


def locate(controllers=LIMITING):
    """("v2", {"unified": parent}) or ("v1", {controller: parent}) where child cgroups with
    `controllers` can be made (v1 adds cpuacct where it can, for CPU time), or (None, reason)."""
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
                return "v2", {"unified": parent}
            except OSError:
                pass   # processes live in this cgroup itself: v2 forbids controllers below it
    wanted = [*controllers, "cpuacct"]
    parents = {c: Path(mounts[c] + own[c]) for c in wanted if c in mounts and c in own}
    if all(c in parents for c in controllers):
        parents = {c: parent for c, parent in parents.items() if _writable_dir(parent)}
        if all(c in parents for c in controllers) and parents:
            return "v1", parents
        return None, f"cgroup v1 {', '.join(controllers) or 'cpuacct'} hierarchies are not writable by uid {os.geteuid()}"
    return None, (f"no writable cgroup with the {' and '.join(controllers)} controllers (no delegated cgroup v2 "
                  "subtree, no cgroup v1 mounts)")


def why_not():
    """Why per-submission cgroups are unavailable here, or "" if they are available."""
    version, where = locate()
    return "" if version else where


class Cgroup:
    """One cgroup (one per controller under v1): limits for a submission, or CPU counting only."""

    def __init__(self, version, folders):
        self.version, self.folders = version, dict(folders)

    @classmethod
    def create(cls, label, *, memory_bytes=None, max_processes=None):
        """A new cgroup named after `label`; with memory_bytes and max_processes, bounded.
        None where cgroups are unavailable."""
        limited = memory_bytes is not None or max_processes is not None
        version, parents = locate(LIMITING if limited else ())
        if version is None:
            return None
        safe = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in label)[:40]
        name = f"{PREFIX}-{os.getpid()}-{next(_counter)}-{safe}"
        group = cls(version, {})
        try:
            for controller, parent in parents.items():
                (parent / name).mkdir()
                group.folders[controller] = parent / name
            if limited:
                group._limit(memory_bytes, max_processes)
        except OSError:
            group.remove()
            raise
        return group

    def _limit(self, memory_bytes, max_processes):
        if self.version == "v2":
            folder = self.folders["unified"]
            (folder / "memory.max").write_text(str(memory_bytes))
            if (folder / "memory.swap.max").exists():
                (folder / "memory.swap.max").write_text("0")
            (folder / "pids.max").write_text(str(max_processes))
            return
        memory = self.folders["memory"]
        (memory / "memory.limit_in_bytes").write_text(str(memory_bytes))
        if (memory / "memory.memsw.limit_in_bytes").exists():   # no escape into swap
            try:
                (memory / "memory.memsw.limit_in_bytes").write_text(str(memory_bytes))
            except OSError:
                pass
        (self.folders["pids"] / "pids.max").write_text(str(max_processes))

    @property
    def procs_files(self):
        """The cgroup.procs files a process writes its pid to, to join (the sandbox entry does)."""
        return [str(folder / "cgroup.procs") for folder in self.folders.values()]

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
        killer = self.folders.get("unified", Path("/nonexistent")) / "cgroup.kill"
        if killer.exists():
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

    def _read(self, controller, name):
        try:
            return (self.folders[controller] / name).read_text()
        except (KeyError, OSError):
            return None

    def peak_memory(self):
        """The most memory (bytes) the cgroup's processes held at once, or None if not recorded."""
        text = self._read("unified", "memory.peak") if self.version == "v2" else \
            self._read("memory", "memory.max_usage_in_bytes")
        return int(text) if text and text.strip().isdigit() else None

    def cpu_seconds(self):
        """CPU time of the cgroup's processes so far, or None if not counted."""
        if self.version == "v2":
            for line in (self._read("unified", "cpu.stat") or "").splitlines():
                if line.startswith("usage_usec "):
                    return int(line.split()[1]) / 1e6
            return None
        text = self._read("cpuacct", "cpuacct.usage")
        return int(text) / 1e9 if text else None

    def remove(self):
        """Kill what is left and remove the cgroup."""
        self.kill()
        for folder in self.folders.values():
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
    SIGKILL cannot remove its own), in every hierarchy; returns how many were removed."""
    mounts, own = _mounts(), _own_paths()
    removed = 0
    for controller, mount_point in mounts.items():
        parent = Path(mount_point + own.get(controller, "/"))
        if not _writable_dir(parent):
            continue
        for folder in parent.glob(f"{PREFIX}-*"):
            try:
                owner = int(folder.name.split("-")[2])
            except (IndexError, ValueError):
                continue
            if owner != os.getpid() and not Path(f"/proc/{owner}").exists():
                Cgroup("v2" if controller == "unified" else "v1", {controller: folder}).remove()
                removed += not folder.exists()
    return removed
