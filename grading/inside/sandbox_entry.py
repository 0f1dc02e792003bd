"""The first step into the sandbox: join the cgroup, (as root) make the bound paths reachable and
drop to an unprivileged user, die with the grader, start bwrap (as root, as the first process of
a PID namespace of its own, whose end the kernel makes the end of everything in it).

    python -I -S sandbox_entry.py UID GID GRADER_PID CGROUP_PROCS bwrap [bwrap options] -- command...

UID and GID are "-" when the grader is not root (nothing to drop); CGROUP_PROCS is a
comma-separated list of cgroup.procs files to join, or "-". grading.sandboxing.sandbox.wrap() puts this in
front of every bwrap command line.

Joining the cgroup here, before bwrap exists, puts every process of the sandbox in it from its
first instruction on. As root, the paths to bind may not be reachable for the unprivileged user
(the Python installation in /root, a course copy in a 0700 temporary folder), so the entry, still
root, opens them, bind-mounts them under a tmpfs in a mount namespace of its own (the machine's
mounts do not change), rewrites the command to use those mounts, and drops to UID/GID; it is root
because root is exempt from the process limit even inside a user namespace. It imports only what
it needs: it runs once for every sandbox, and Python's start-up is most of its cost.
"""
import ctypes
import os
import select
import signal
import stat
import sys

if __package__:   # imported by the grader, for the client half of the protocol
    from grading.inside.parent_death import die_with_parent
else:             # started by path (python -I does not put this folder on sys.path): the helper is beside it
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from parent_death import die_with_parent
    del sys.path[0]

ENTRY_MOUNT = "/mnt"  # covered by the entry's tmpfs, in its own mount namespace only
CLONE_NEWNS, CLONE_NEWPID, MS_BIND, MS_REC, MS_PRIVATE = 0x20000, 0x20000000, 0x1000, 0x4000, 0x40000
# How many values follow each bwrap option that wrap() uses, to find the bind sources.
ARITY = {"--bind": 2, "--ro-bind": 2, "--symlink": 2, "--setenv": 2,
         "--size": 1, "--tmpfs": 1, "--proc": 1, "--dev": 1, "--chdir": 1, "--seccomp": 1}

libc = ctypes.CDLL(None, use_errno=True)


def require_zero(result, what):
    """Raise OSError with errno's reason unless the libc call gave 0."""
    if result != 0:
        error = ctypes.get_errno()
        raise OSError(error, f"sandbox entry: {what}: {os.strerror(error)}")


def bind_sources(command):
    """Indices in a bwrap command line of the source path of every --bind and --ro-bind."""
    i = 1
    while command[i] != "--":
        if command[i] in ("--bind", "--ro-bind"):
            yield i + 1
        i += 1 + ARITY.get(command[i], 0)


def join_cgroups(procs_files):
    for procs in procs_files:
        with open(procs, "w") as handle:
            handle.write(str(os.getpid()))


def reach_as(uid, gid, command):
    """As root: bind every source where `uid` can reach it, then become uid/gid."""
    require_zero(libc.unshare(CLONE_NEWNS), "unshare")
    require_zero(libc.mount(b"none", b"/", None, MS_REC | MS_PRIVATE, None), "make the mounts private")
    # Open every source first, so that one below ENTRY_MOUNT stays reachable once it is covered.
    sources = {i: os.open(command[i], os.O_PATH | os.O_CLOEXEC) for i in bind_sources(command)}
    require_zero(libc.mount(b"sandbox-entry", ENTRY_MOUNT.encode(), b"tmpfs", 0, b"mode=0755"), "tmpfs")
    for index, fd in sources.items():
        target = f"{ENTRY_MOUNT}/{index}"
        if stat.S_ISDIR(os.fstat(fd).st_mode):
            os.mkdir(target)
        else:
            os.close(os.open(target, os.O_CREAT | os.O_WRONLY, 0o644))
        require_zero(libc.mount(f"/proc/self/fd/{fd}".encode(), target.encode(), None, MS_BIND | MS_REC, None),
              f"bind {command[index]}")
        command[index] = target
        os.close(fd)
    os.setgroups([])
    os.setresgid(gid, gid, gid)
    os.setresuid(uid, uid, uid)


def die_with(grader):
    """Be killed when `grader`, this process's parent, dies; exit now if it already has."""
    if not die_with_parent(signal.SIGKILL, grader):
        sys.exit("sandbox entry: the grading process that started this sandbox is gone")


def enter(uid, gid, grader, procs_files, command):
    # Die with the grader, the process that made this command (wrap) and started it. bwrap's
    # --die-with-parent takes effect only once bwrap runs, and only if the grader is still
    # alive then: a grader killed during the entry would leave a sandbox behind.
    if uid is None:
        join_cgroups(procs_files)
        die_with(grader)
        os.execv(command[0], command)
    die_with(grader)
    # bwrap's first child waits for a word from bwrap before it asks to die with it: a bwrap
    # killed in between (its grader died) left that child asleep for good. So, as root, bwrap
    # starts as the first process of a PID namespace of its own: when that process dies, the
    # kernel kills every process of the namespace, nested namespaces included, whatever they
    # were doing. This process stays, as bwrap's parent, to pass on its end and its exit status.
    require_zero(libc.unshare(CLONE_NEWPID), "unshare the process IDs")
    alive, keep_alive = os.pipe()
    child = os.fork()
    if child == 0:
        try:
            os.close(keep_alive)
            join_cgroups(procs_files)
            reach_as(uid, gid, command)  # which clears the death signal: asked again below
            die_with_parent(signal.SIGKILL)
            # getppid() is 0 in a new namespace; the pipe's far end closes when the entry dies.
            if select.select([alive], [], [], 0)[0]:
                os._exit(1)
            os.close(alive)
            os.execv(command[0], command)
        except BaseException as error:  # never return into the entry's own code as a second entry
            print(f"sandbox entry: {error}", file=sys.stderr, flush=True)
        os._exit(127)
    os.close(alive)
    supervise(child)


def supervise(child):
    """Wait for bwrap, end it if this process is told to end, and exit as it did."""
    def end(signum, frame):
        # SIGKILL: a namespace's first process ignores any other signal it has no handler for.
        os.kill(child, signal.SIGKILL)
    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, end)
    _, status = os.waitpid(child, 0)
    if os.WIFSIGNALED(status):
        signum = os.WTERMSIG(status)
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)
    os._exit(os.waitstatus_to_exitcode(status) if os.WIFEXITED(status) else 1)


def main(argv):
    uid, gid, grader, joins, command = argv[0], argv[1], argv[2], argv[3], argv[4:]
    enter(None if uid == "-" else int(uid), None if gid == "-" else int(gid), int(grader),
          [] if joins == "-" else joins.split(","), command)


if __name__ == "__main__":
    main(sys.argv[1:])
