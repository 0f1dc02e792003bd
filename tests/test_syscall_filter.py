"""The sandbox's seccomp filter (grading.sandboxing.syscall_filter), loaded into a process of its
own as bwrap loads it: each call grading never needs fails with EPERM (clone3 with ENOSYS, so glibc
falls back to clone, whose flags the filter reads), and what a kernel needs still works."""
import json
import os
import subprocess
import sys

import pytest

from grading.sandboxing import syscall_filter

pytestmark = pytest.mark.fast   # in make check's lane

PROBE = r"""
import ctypes, errno, json, os, sys
from grading.sandboxing import syscall_filter

libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long

def attempt(number, *args):
    ctypes.set_errno(0)
    result = libc.syscall(ctypes.c_long(number), *[ctypes.c_long(a) for a in args])
    return "ok" if result >= 0 else errno.errorcode[ctypes.get_errno()]

# x86-64 numbers, as in linux/unistd_64.h; each call is harmless even if it were allowed: the
# probe is root in a throwaway process, so the EPERM seen is the filter's, not the kernel's.
CALLS = {"unshare a user namespace": (272, 0x10000000), "unshare the mounts": (272, 0x00020000),
         "setns": (308, -1, 0), "mount": (165, 0, 0, 0, 0, 0), "ptrace (PTRACE_TRACEME)": (101, 0, 0, 0, 0),
         "bpf": (321, 0, 0, 0), "keyctl": (250, 0, 0, 0, 0, 0), "userfaultfd": (323, 0),
         "io_uring_setup": (425, 1, 0), "clone with a new network": (56, 0x40000000 | 17, 0, 0, 0, 0),
         "clone3": (435, 0, 0), "getpid": (39,)}
syscall_filter.build().load()
found = {name: attempt(*call) for name, call in CALLS.items()}
pid = os.fork()   # a plain fork (clone without namespace flags) still works
if pid == 0:
    os._exit(7)
found["fork"] = os.waitpid(pid, 0)[1] >> 8
print(json.dumps(found))
"""


def test_each_denied_call_fails_and_what_a_kernel_needs_works():
    done = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout)
    denied = {name: said for name, said in found.items() if name not in ("clone3", "getpid", "fork")}
    assert set(denied.values()) == {"EPERM"}, denied
    assert found["clone3"] == "ENOSYS"
    assert found["getpid"] == "ok" and found["fork"] == 7


def test_bwrap_reads_the_filter_from_an_inheritable_descriptor_to_its_end():
    fd = syscall_filter.filter_fd()
    try:
        assert os.get_inheritable(fd)
        program = b""
        while chunk := os.read(fd, 4096):
            program += chunk
    finally:
        os.close(fd)
    assert program == syscall_filter.compiled() and len(program) % 8 == 0   # BPF instructions: 8 bytes each
