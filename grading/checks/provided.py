"""The modules that students receive (gc_utils.py, gc_feedback.py), loaded from the course's source folder.

The grader never imports the copy that sits in a student's folder: a submission could have
changed it. Loading the instructor's file by path also means that the notebooks' helpers and
the grader's cannot drift apart: there is only one file.
"""
import importlib.util
import os
from pathlib import Path

from grading.assignment import ASSIGNMENT, COURSE_ROOT
# Inside the grading sandbox source/ is not visible; the sandbox points this at the
# read-only released copy, which `make release` keeps identical (tests/test_release.py).
HELPERS_PATH = Path(os.environ.get("GRADING_HELPERS", COURSE_ROOT / "source" / ASSIGNMENT / "gc_utils.py"))


def _load(path, name):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


gc_utils = _load(HELPERS_PATH, "grading._gc_utils")
# The checks the visible tests run, and the sentences of every test: the hidden tests use them too.
gc_feedback = _load(HELPERS_PATH.with_name("gc_feedback.py"), "grading._gc_feedback")
