"""The assignment model: its name, notebooks, graded functions, their points and short names, and
the rule that ties a test cell to its function. Every other module reads these from here.

Standard library only and no side effect on import: code that runs where the course's source/
is not visible (nbgrader's sandboxed steps, the kernel launcher) reads it too.
The source notebooks' metadata must agree with FUNCTIONS (tests/test_layout.py checks it).
"""
import os
from dataclasses import dataclass
from pathlib import Path

ASSIGNMENT = "gradient_checking"
PACKAGE = Path(__file__).resolve().parent   # the grading package's folder
# The course directory: the one that holds this package, unless the grader names another.
COURSE_ROOT = Path(os.environ.get("GRADING_COURSE_ROOT", PACKAGE.parent))
# The course's source/<assignment>/ by nbgrader's default folder name, found without running the
# course's configuration: what the package's reference is generated from (grading/checks/build_reference.py).
SOURCE = COURSE_ROOT / "source" / ASSIGNMENT
# The students' helpers (gc_utils.py; gc_feedback.py and gc_feedback_cases.json beside it), which the
# grader loads from the course's source/ (grading/checks/provided.py) once they are reviewed
# (grading/grader/reviewed_config.py). Inside the grading sandbox source/ is not visible; the sandbox
# points this at the read-only released copy, which `make release` keeps identical (tests/test_release.py).
HELPERS_PATH = Path(os.environ.get("GRADING_HELPERS", SOURCE / "gc_utils.py"))
NOTEBOOKS = ("1_gradient_checking_1d.ipynb", "2_gradient_checking_nd.ipynb")
# A student's feedback: nbgrader's page of each notebook, and the two files beside them that
# nbgrader's exchange reads to release it. Nothing else a student handed in goes back as feedback.
FEEDBACK_PAGES = tuple(name.removesuffix(".ipynb") + ".html" for name in NOTEBOOKS)
EXCHANGE_FILES = ("timestamp.txt", "submission_secret.txt")
FEEDBACK_FILES = (*FEEDBACK_PAGES, *EXCHANGE_FILES)


@dataclass(frozen=True)
class Function:
    """One graded function: the student writes it in `notebook`; its test cell is worth `points`."""
    name: str
    notebook: str      # file name, one of NOTEBOOKS
    short: str         # its column in the instructor's table
    points: float


GRADED = (
    Function("forward_propagation", NOTEBOOKS[0], "fwd", 5),
    Function("backward_propagation", NOTEBOOKS[0], "bwd", 5),
    Function("gradient_check", NOTEBOOKS[0], "check", 20),
    Function("gradient_check_n", NOTEBOOKS[1], "check_n", 25),
    Function("gradient_check_by_parameter", NOTEBOOKS[1], "by_param", 20),
    Function("backward_propagation_n_fixed", NOTEBOOKS[1], "fixed", 25),
)
FUNCTIONS = tuple(f.name for f in GRADED)    # in notebook order
SHORT = {f.name: f.short for f in GRADED}

# The grade_id rule: the test cell of function f is named "test_f" (its solution cell, "f").
TEST_CELL_PREFIX = "test_"


def grade_id_of_tests(function):
    """The grade_id of the test cell of `function`."""
    return TEST_CELL_PREFIX + function


def function_of(grade_id):
    """The function whose test cell is `grade_id`, or None for any other cell."""
    return grade_id[len(TEST_CELL_PREFIX):] if grade_id.startswith(TEST_CELL_PREFIX) else None


def functions_in(notebook):
    """The graded functions of one notebook (a file name of NOTEBOOKS), in order."""
    return tuple(f.name for f in GRADED if f.notebook == notebook)
