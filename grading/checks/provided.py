"""The modules that students receive (gc_utils.py, gc_feedback.py), loaded from the course's source folder.

The grader never imports the copy that sits in a student's folder: a submission could have
changed it. Loading the instructor's file by path also means that the notebooks' helpers and
the grader's cannot drift apart: there is only one file. The grader runs them in its own
processes, outside every sandbox, so it starts only once they are as last reviewed
(grading/grader/reviewed_config.py), before anything imports this module.
"""
import importlib.util

from grading.assignment import ASSIGNMENT, COURSE_ROOT, HELPERS_PATH  # noqa: F401 (ASSIGNMENT, COURSE_ROOT: for importers)


def _load(path, name):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


gc_utils = _load(HELPERS_PATH, "grading._gc_utils")
# The checks the visible tests run, and the sentences of every test: the hidden tests use them too.
gc_feedback = _load(HELPERS_PATH.with_name("gc_feedback.py"), "grading._gc_feedback")
