"""The helper module that students receive (gc_utils.py), loaded from the course's source folder.

The grader never imports the copy that sits in a student's folder: a submission could have
changed it. Loading the instructor's file by path also means that the notebooks' helpers and
the grader's cannot drift apart: there is only one file.
"""
import importlib.util
import os
from pathlib import Path

COURSE_ROOT = Path(os.environ.get("GRADING_COURSE_ROOT", Path(__file__).resolve().parent.parent))
from .assignment import ASSIGNMENT  # noqa: F401 (re-exported)
# Inside the grading sandbox source/ is not visible; the sandbox points this at the
# read-only released copy, which `make release` keeps identical (tests/test_release.py).
HELPERS_PATH = Path(os.environ.get("GRADING_HELPERS", COURSE_ROOT / "source" / ASSIGNMENT / "gc_utils.py"))


def _load_helpers(path=HELPERS_PATH):
    spec = importlib.util.spec_from_file_location("grading._gc_utils", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


gc_utils = _load_helpers()
