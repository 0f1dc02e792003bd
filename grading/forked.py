"""A function run in a child process forked from this one, its output captured: what
`subprocess.run([sys.executable, "-m", ...], capture_output=True)` gives, without starting Python
and importing nbgrader once more (seconds, on a machine whose cores are busy grading).

The child is a copy of this process at the fork: what it changes (nbgrader's application
singletons, logging, the working folder) ends with it, so each call starts from the same state,
as a fresh interpreter would. Call it from a process with a single thread.
"""
import os
import sys
import tempfile
import traceback


def run_forked(function, *args, cwd=None):
    """function(*args) in a forked child, as `python -m` would run it in `cwd` (that folder first
    on sys.path), stdin /dev/null: (exit status, stdout, stderr),
    the texts decoded as subprocess.run(text=True, errors="replace") does. What it returns or
    raises is the child's status as sys.exit takes it (None: 0; an uncaught exception: 1, its
    traceback on stderr); killed by a signal N: -N."""
    sys.stdout.flush()
    sys.stderr.flush()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        pid = os.fork()
        if pid == 0:   # the child: never returns
            status = 1
            try:
                nothing = os.open(os.devnull, os.O_RDONLY)
                os.dup2(nothing, 0)
                os.dup2(out.fileno(), 1)
                os.dup2(err.fileno(), 2)
                # Python's own streams onto them (whatever this process had made of its streams)
                sys.stdout = open(1, "w", encoding="utf-8", errors="backslashreplace", closefd=False)
                sys.stderr = open(2, "w", encoding="utf-8", errors="backslashreplace", buffering=1, closefd=False)
                if cwd is not None:
                    os.chdir(cwd)
                sys.path.insert(0, os.getcwd())   # as `python -m` puts it first
                status = exit_status(function, args)
            finally:
                os._exit(status)
        _, waited = os.waitpid(pid, 0)
        texts = []
        for captured in (out, err):
            captured.seek(0)
            texts.append(captured.read().decode("utf-8", "replace"))
    return os.waitstatus_to_exitcode(waited), *texts


def exit_status(function, args):
    """Run function(*args) as a program's main; its exit status, its output flushed."""
    try:
        code = function(*args)
    except SystemExit as leaving:
        code = leaving.code
    except BaseException:
        traceback.print_exc()
        code = 1
    if code is not None and not isinstance(code, int):
        print(code, file=sys.stderr)   # as the interpreter does with sys.exit("a message")
        code = 1
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except OSError:
        pass
    return (code or 0) & 0xFF
