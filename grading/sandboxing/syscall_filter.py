"""The seccomp filter of every sandbox: system calls that grading never needs fail with EPERM.

bubblewrap loads it (`bwrap --seccomp FD`) right before it starts the sandboxed program, so it
binds that program and everything it starts; a filter can only be made stricter later, never
lifted. The filter is built with libseccomp (Debian's libseccomp2, through the PyPI package
pyseccomp), once per process, and handed to bwrap as a file descriptor:

    fd = filter_fd()          # an open, inheritable descriptor of the compiled filter
    command = ["bwrap", "--seccomp", str(fd), ...]; subprocess.Popen(command, pass_fds=[fd])

What it denies, and why a Python kernel never misses it:
- ptrace, process_vm_readv/writev, kcmp: reading or steering another process (the verification
  broker, the kernel zygote) from student code;
- mount, umount2, pivot_root, chroot, the new mount API (fsopen, fsmount, fspick, move_mount,
  open_tree, mount_setattr): rearranging what the sandbox sees;
- unshare, setns, and clone or clone3 asking for a new namespace: a user namespace inside the
  sandbox gives back capabilities, a large part of the kernel's attack surface;
- bpf, perf_event_open, userfaultfd, io_uring_*: interfaces with a long record of kernel bugs;
- keyctl, add_key, request_key: the kernel keyring, shared beyond the sandbox;
- open_by_handle_at, name_to_handle_at: opening files by handle, around the mount view;
- kexec_*, init/finit/delete_module, reboot, swapon/off, acct, quotactl, syslog, sethostname,
  setdomainname, settimeofday, clock_settime, adjtimex, clock_adjtime, iopl, ioperm, vhangup:
  the machine's own controls (root only anyway; defence in depth).
clone3 fails with ENOSYS instead of EPERM: its flags sit in memory a filter cannot read, and
glibc then falls back to clone, whose flags it can.
"""
import errno
import os
import tempfile

DENIED = (
    "ptrace", "process_vm_readv", "process_vm_writev", "kcmp",
    "mount", "umount2", "pivot_root", "chroot",
    "fsopen", "fsmount", "fspick", "fsconfig", "move_mount", "open_tree", "mount_setattr",
    "unshare", "setns",
    "bpf", "perf_event_open", "userfaultfd", "io_uring_setup", "io_uring_enter", "io_uring_register",
    "keyctl", "add_key", "request_key",
    "open_by_handle_at", "name_to_handle_at",
    "kexec_load", "kexec_file_load", "init_module", "finit_module", "delete_module", "reboot",
    "swapon", "swapoff", "acct", "quotactl", "syslog", "sethostname", "setdomainname",
    "settimeofday", "clock_settime", "adjtimex", "clock_adjtime", "iopl", "ioperm", "vhangup",
)
# clone(2) flags that make a new namespace (linux/sched.h).
NAMESPACE_FLAGS = {"CLONE_NEWNS": 0x00020000, "CLONE_NEWCGROUP": 0x02000000, "CLONE_NEWUTS": 0x04000000,
                   "CLONE_NEWIPC": 0x08000000, "CLONE_NEWUSER": 0x10000000, "CLONE_NEWPID": 0x20000000,
                   "CLONE_NEWNET": 0x40000000, "CLONE_NEWTIME": 0x00000080}

_compiled = {}


def build():
    """The filter as a pyseccomp SyscallFilter (default: allow)."""
    import pyseccomp as seccomp

    rules = seccomp.SyscallFilter(defaction=seccomp.ALLOW)
    for name in DENIED:
        try:
            rules.add_rule(seccomp.ERRNO(errno.EPERM), name)
        except (ValueError, OSError):   # a call this kernel or architecture does not have
            pass
    for flag in NAMESPACE_FLAGS.values():
        rules.add_rule(seccomp.ERRNO(errno.EPERM), "clone", seccomp.Arg(0, seccomp.MASKED_EQ, flag, flag))
    rules.add_rule(seccomp.ERRNO(errno.ENOSYS), "clone3")
    return rules


def compiled():
    """The filter as the BPF program bwrap loads (bytes), built once per process."""
    if "bpf" not in _compiled:
        with tempfile.TemporaryFile() as out:
            build().export_bpf(out)
            out.seek(0)
            _compiled["bpf"] = out.read()
    return _compiled["bpf"]


def filter_fd():
    """A new inheritable descriptor from which bwrap reads the filter (it reads it to the end)."""
    read, write = os.pipe()
    program = compiled()
    # A pipe holds 64 KiB; the program is a few hundred bytes, so this never blocks.
    os.write(write, program)
    os.close(write)
    os.set_inheritable(read, True)
    return read
