"""Die with the parent: the one way every process of the grading asks not to outlive its starter.

    python -I script.py    # a script here, started by path, imports this file from beside it
    from grading.inside.parent_death import die_with_parent   # the grader's own processes

Linux sends a process a chosen signal when its parent ends (prctl PR_SET_PDEATHSIG), even when the
parent is killed with SIGKILL. The request comes too late if the parent ended while the process was
starting, so the caller learns that too. Standard library only: it runs inside the sandboxes.
"""
import ctypes
import os
import signal

PR_SET_PDEATHSIG = 1   # prctl(2)
_libc = ctypes.CDLL(None, use_errno=True)


def die_with_parent(signal_number=signal.SIGKILL, parent=None):
    """Be sent `signal_number` when the parent process ends; True while that parent is still the parent.

    parent -- the pid the parent must have (the one that started this process); by default the
              parent at the time of the call. False means it has already gone: the caller should end.
    Raises OSError if the kernel refuses.
    """
    parent = os.getppid() if parent is None else parent
    if _libc.prctl(PR_SET_PDEATHSIG, int(signal_number), 0, 0, 0) != 0:
        error = ctypes.get_errno()
        raise OSError(error, f"prctl(PR_SET_PDEATHSIG): {os.strerror(error)}")
    return os.getppid() == parent
