"""Shared fixtures: throwaway copies of the course, graded with the real nbgrader commands."""
import os
import tempfile

import pytest

from grading import course
from pgserver import postgres_server  # noqa: F401  (a real PostgreSQL server on loopback)

# The reviewed copies of the throwaway courses' configurations (grading/config_review.py) go to a
# folder of this run, not the tester's own state folder; commands the tests start inherit it.
os.environ["XDG_STATE_HOME"] = tempfile.mkdtemp(prefix="grading-state-")


@pytest.fixture(scope="session")
def new_course(tmp_path_factory):
    """Factory: a fresh course directory (source, config, generated release, empty gradebook)."""
    def make(name="course"):
        root = course.make_course_copy(tmp_path_factory.mktemp(name))
        course.generate_release(root)
        return root
    return make


@pytest.fixture(scope="session")
def grade_batch(new_course):
    """Factory: autograde {student: notebooks} in one fresh course; return (root, scores)."""
    def grade(students, name="batch"):
        root = new_course(name)
        for student, notebooks in students.items():
            course.add_submission(root, student, notebooks)
        course.autograde(root)
        return root, course.scores(root)
    return grade
