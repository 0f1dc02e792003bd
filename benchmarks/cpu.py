"""CPU time of a whole command, every process it starts included: a cgroup of its own.

    with cpu_counted() as counter:
        subprocess.run(counter["prefix"] + command)
    counter["cpu"]    # CPU seconds, or None where no cgroup with CPU accounting is writable

grading.sandboxing.cgroups makes the cgroup (cpuacct under cgroup v1, cpu.stat under v2); the command joins
it through `sh -c 'echo $$ > cgroup.procs; exec "$@"'`, before its first instruction.
"""
from contextlib import contextmanager

from grading.sandboxing.cgroups import Cgroup


def in_cgroup(group, command):
    """`command`, run as a member of `group` from its first instruction (unchanged if group is None)."""
    if group is None:
        return list(command)
    joins = "".join(f"echo $$ > '{procs}'; " for procs in group.procs_files)
    return ["sh", "-c", joins + 'exec "$@"', "sh", *command]


@contextmanager
def cpu_counted():
    """A fresh CPU-counting cgroup for one command: {"prefix": words to put before the command,
    "cpu": its CPU seconds once the block is left (None where cgroups are unavailable)}."""
    group = Cgroup.create("bench")
    counter = {"prefix": in_cgroup(group, []), "cpu": None}
    try:
        yield counter
    finally:
        if group is not None:
            counter["cpu"] = group.cpu_seconds()
            group.remove()
