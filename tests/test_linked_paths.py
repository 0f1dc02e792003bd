"""A course, and a Python environment, reached through symbolic links grade like any other.

Course servers often reach a course or its .venv through a link (a mounted home, a deploy
folder). The sandbox binds each path where the grader names it, and resolves only the source,
so a sandboxed Python started as /link/to/.venv/bin/python finds itself.
"""
import os
import subprocess
import sys
from pathlib import Path

import pytest

from grading.grader import course
from grading.sandboxing import sandbox
from synthetic_class import synthetic

pytestmark = pytest.mark.fast   # in make check's lane

VENV = Path(sys.prefix)


def test_a_sandbox_runs_the_python_of_a_linked_environment(tmp_path):
    linked = tmp_path / "venv-link"
    os.symlink(VENV, linked)
    code = "import sys, numpy; print(sys.prefix)"
    done = subprocess.run([str(linked / "bin" / "python"), "-c",
                           "from grading.sandboxing import sandbox; import sys; "
                           f"r = sandbox.run(sandbox.wrap([sys.executable, '-c', {code!r}], workdir='/tmp'), "
                           "capture_output=True, text=True); print(r.returncode, r.stdout.strip(), r.stderr[-300:])"],
                          capture_output=True, text=True, timeout=120)
    assert done.stdout.split()[:2] == ["0", str(linked)], done.stdout + done.stderr


def test_make_autograde_grades_a_linked_course_with_a_linked_environment(new_course, tmp_path):
    root = new_course("linked_course")
    course.add_submission(root, "ada", synthetic.submission())
    links = tmp_path / "links"
    links.mkdir()
    os.symlink(VENV, links / "venv")
    os.symlink(root, links / "course")
    done = subprocess.run([str(links / "venv" / "bin" / "python"), "-m", "grading.grader.autograde", "--root",
                           str(links / "course"), "--workers", "1", "--quiet"],
                          capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert sum(course.scores(root)["ada"].values()) == 100
    assert sandbox.python_paths()   # (the environment as this process names it is bound too)
