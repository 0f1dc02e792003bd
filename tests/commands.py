"""The course's commands as the tests start them: in this run's .venv, on the course's own
gradebook, never on a GRADEBOOK_URL or a make of the tester's shell.

    done = autograde(root, "--workers", "2")          # python -m grading.grader.autograde --quiet
    printed = autograded(root, "--no-feedback")        # the same, asserted to succeed: its output
    done = run(sys.executable, "-m", "grading.lms.intake", ...)
"""
import hashlib
import os
import socket
import subprocess
import sys
from pathlib import Path

VENV_BIN = Path(sys.executable).parent   # this test run's .venv


def command_env(**extra):
    """This environment for a course command: no GRADEBOOK_URL (the commands use the course's own
    gradebook), no make of the caller's (MAKEFLAGS, MAKELEVEL), the run's .venv first on PATH."""
    env = {key: value for key, value in os.environ.items() if key not in ("GRADEBOOK_URL", "MAKEFLAGS", "MAKELEVEL")}
    env["PATH"] = str(VENV_BIN) + os.pathsep + env.get("PATH", "")
    env.update(extra)
    return env


def run(*command, cwd=None, env=None, timeout=None):
    """Run `command` in command_env() (or `env`), its output captured as text, no terminal input."""
    return subprocess.run([str(part) for part in command], cwd=cwd, env=command_env() if env is None else env,
                          capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=timeout)


def autograde(root, *options, quiet=True, env=None, timeout=None):
    """`python -m grading.grader.autograde --root <root> [--quiet] <options>`: what `make autograde`
    runs; the CompletedProcess, whatever its exit status."""
    command = [sys.executable, "-m", "grading.grader.autograde", "--root", str(root), *(["--quiet"] if quiet else []),
               *options]
    return run(*command, env=env, timeout=timeout)


def autograded(root, *options, **keywords):
    """autograde(), which must succeed: what it printed."""
    done = autograde(root, *options, **keywords)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done.stdout


def free_port():
    """A TCP port on 127.0.0.1 that nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def hash_tree(folder):
    """{relative path: SHA-256} of the regular files below `folder` (links are not followed)."""
    folder = Path(folder)
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file() and not p.is_symlink()}
