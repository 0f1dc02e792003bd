"""The course directory object: nbgrader's configured folder names honoured, read once, carried to workers."""
import pickle

import pytest
from nbgrader.coursedir import CourseDirectory

from grading.course_directory import DEFAULT_NAMES, STEPS, Course
from grading.grader import class_grading, course as stock

pytestmark = pytest.mark.fast   # in make check's lane

RENAMED = '\nc.CourseDirectory.submitted_directory = "handins"\nc.CourseDirectory.feedback_directory = "returned"\n'


def renamed_course(tmp_path):
    """A course copy whose nbgrader_config.py renames the submitted and feedback folders."""
    root = stock.make_course_copy(tmp_path / "course")
    with open(root / "nbgrader_config.py", "a") as config:
        config.write(RENAMED)
    return root


def test_the_default_names_are_nbgrader_s():
    traits = CourseDirectory.class_traits()
    assert DEFAULT_NAMES == {step: traits[f"{step}_directory"].default_value for step in STEPS}


def test_a_renamed_folder_is_honoured(tmp_path):
    root = renamed_course(tmp_path)
    for student in ("ada", "bob"):
        (root / "handins" / student / "gradient_checking").mkdir(parents=True)
    (root / "submitted" / "eve" / "gradient_checking").mkdir(parents=True)   # not the course's folder any more
    course = Course(root)
    assert course.submitted("ada") == root / "handins" / "ada" / "gradient_checking"
    assert course.feedback("ada") == root / "returned" / "ada" / "gradient_checking"
    assert course.autograded("ada") == root / "autograded" / "ada" / "gradient_checking"
    assert class_grading.students_to_grade(root) == ["ada", "bob"]   # what make autograde grades


def test_the_configuration_is_read_once_and_stays_home(tmp_path):
    root = renamed_course(tmp_path)
    course = Course(root)
    assert course.folder("submitted") == root / "handins"
    (root / "nbgrader_config.py").write_text("raise SystemExit('read twice')\n")
    assert course.folder("feedback") == root / "returned"        # read once, on first need
    worker = pickle.loads(pickle.dumps(course))                    # what a worker process gets
    assert worker._config is None and worker.submitted("ada") == course.submitted("ada")
    assert worker.course_id == "gradient-checking"
