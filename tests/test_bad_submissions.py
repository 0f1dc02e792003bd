"""Bad submissions, one batch through the real pipeline (staging, sandboxed nbgrader autograde,
verification): each gets a clear recorded result, zero only for what it broke, and an honest
student graded after all of them keeps full marks. No other student's data changes."""
import copy

import nbformat
import pytest

from commands import hash_tree

from grading.assignment import ASSIGNMENT, NOTEBOOKS
from grading.grader import class_grading, course, gradebook, pipeline, runners
from synthetic_class import synthetic

NB1, NB2 = NOTEBOOKS
PART_ONE = ("forward_propagation", "backward_propagation", "gradient_check")


def replaced(code):
    return lambda notebooks: notebooks.update(synthetic.submission(code)) or notebooks


def without_cells(notebook_name, *grade_ids):
    def edit(notebooks):
        nb = notebooks[notebook_name]
        nb.cells = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") not in grade_ids]
        return notebooks
    return edit


def duplicated(notebook_name, grade_id, wrong_code):
    def edit(notebooks):
        nb = notebooks[notebook_name]
        cell = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)
        twin = copy.deepcopy(cell)
        twin.source = wrong_code
        twin.id = "twin0001"
        nb.cells.append(twin)
        return notebooks
    return edit


def retyped(notebook_name, grade_id):
    def edit(notebooks):
        nb = notebooks[notebook_name]
        k = next(i for i, c in enumerate(nb.cells) if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)
        old = nb.cells[k]
        nb.cells[k] = nbformat.v4.new_markdown_cell(old.source, metadata=old.metadata)
        return notebooks
    return edit


def wrong_metadata_types(notebooks):
    """Metadata a student edited in the JSON: a kernelspec that is a list, a test cell whose nbgrader
    entry is a string, an added cell that claims a grade id the assignment does not have."""
    nb = notebooks[NB1]
    nb.metadata["kernelspec"] = ["python3"]
    next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "test_forward_propagation"
         ).metadata["nbgrader"] = "locked"
    nb.cells.append(nbformat.v4.new_code_cell("x = 1", metadata={"nbgrader": {
        "grade": True, "grade_id": "bonus", "points": "all of them", "solution": False, "locked": False}}))
    return notebooks


def renamed(notebooks):
    notebooks["my_work.ipynb"] = notebooks.pop(NB1)
    return notebooks


def dropped(notebooks):
    del notebooks[NB1]
    return notebooks


FORK_BOMB = '''
import os, time

def backward_propagation(x, theta):
    children = []
    try:
        while True:
            pid = os.fork()
            if pid == 0:
                time.sleep(3)
                os._exit(0)
            children.append(pid)
    except OSError:
        pass
    return len(children)
'''

# name: (how the complete submission is broken, functions that must score 0, text the result must show;
#        None: no text of its own: what it did is checked below, test_no_submission_changed_and_outputs_stay_small)
BAD = {
    "b01_malformed_json": (None, PART_ONE, f"{NB1} could not be graded"),
    "b02_missing_notebook": (dropped, PART_ONE, f"{NB1} is missing"),
    "b03_renamed_notebook": (renamed, (), f"my_work.ipynb graded as {NB1} (found by its cells)"),
    "b04_deleted_cells": (without_cells(NB1, "gradient_check", "test_forward_propagation"), ("gradient_check",),
                          "cell of gradient_check is missing"),
    "b05_duplicated_cells": (duplicated(NB1, "forward_propagation", "def forward_propagation(x, theta):\n    return 0\n"),
                             (), "more than one cell 'forward_propagation'"),
    "b06_retyped_cell": (retyped(NB2, "backward_propagation_n_fixed"), (), "changed to another type"),
    "b07_syntax_error": (replaced({"gradient_check": "def gradient_check(x, theta:\n    return 0.0\n"}),
                         ("gradient_check",), "SyntaxError"),
    "b08_exception": (replaced({"backward_propagation_n_fixed":
                                "def backward_propagation_n_fixed(X, Y, cache):\n    raise ValueError('boom')\n"}),
                      ("backward_propagation_n_fixed",), "ValueError: boom"),
    "b09_infinite_loop": (replaced({"forward_propagation": "def forward_propagation(x, theta):\n    while True:\n        pass\n"}),
                          ("forward_propagation",), "did not finish"),
    "b10_sys_exit": (replaced({"gradient_check_by_parameter":
                               "import sys\n\ndef gradient_check_by_parameter(parameters, gradients, X, Y, epsilon=1e-7):\n    sys.exit(3)\n"}),
                     ("gradient_check_by_parameter",), "SystemExit"),
    "b11_os_exit": (replaced({"gradient_check_by_parameter":
                              "import os\n\ndef gradient_check_by_parameter(parameters, gradients, X, Y, epsilon=1e-7):\n    os._exit(1)\n"}),
                    ("gradient_check_by_parameter",), "crashed"),
    "b12_segfault": (replaced({"backward_propagation_n_fixed":
                               "import ctypes\n\ndef backward_propagation_n_fixed(X, Y, cache):\n    return ctypes.string_at(0)\n"}),
                     ("backward_propagation_n_fixed",), "crashed"),
    "b13_memory_bomb": (replaced({"gradient_check_n": synthetic.solutions()["gradient_check_n"].replace(
                            "    grad = gradients_to_vector(gradients)", "    hog = np.ones(2 ** 31)\n    grad = gradients_to_vector(gradients)")}),
                        ("gradient_check_n",), "MemoryError"),
    "b14_fork_bomb": (replaced({"backward_propagation": FORK_BOMB}), ("backward_propagation",), "backward_propagation"),
    "b15_output_flood": (replaced({"forward_propagation": "for i in range(2_000_000):\n    print(i)\n\n"
                                   "def forward_propagation(x, theta):\n    return theta * x\n"}), (), None),
    "b16_huge_file": (replaced({"gradient_check_by_parameter":
                                "def gradient_check_by_parameter(parameters, gradients, X, Y, epsilon=1e-7):\n"
                                "    with open('huge.bin', 'wb') as f:\n        f.write(b'0' * 200 * 2 ** 20)\n    return {}\n"}),
                      ("gradient_check_by_parameter",), "File too large"),
    "b17_wrong_metadata_types": (wrong_metadata_types, (), "'kernelspec' metadata was not an object"),
}


@pytest.fixture(scope="module")
def graded(new_course):
    root = new_course("bad")
    # A short cell timeout keeps the infinite loop's cost low; production uses the config's value.
    with open(root / "nbgrader_config.py", "a") as handle:
        handle.write("\nc.Execute.timeout = 15\n")
    for student, (breaks, _, _) in BAD.items():
        notebooks = synthetic.submission()
        if breaks is not None:
            notebooks = breaks(notebooks)
        course.add_submission(root, student, notebooks)
    (root / "submitted" / "b01_malformed_json" / ASSIGNMENT / NB1).write_text('{"cells": [oops')
    course.add_submission(root, "zz_honest", synthetic.submission())
    before = hash_tree(root / "submitted")
    # Two worker processes, as `make autograde` runs them: one bad submission must not spoil its neighbours.
    db_url = gradebook.configured_url(root)
    gradebook.prepare(root, db_url)
    with runners.LocalProcesses(2, on_end=pipeline.end_current) as two:
        graded = class_grading.grade_all(two, root, class_grading.students_to_grade(root), db_url,
                                         pipeline.grade_submission, progress=False)
    results = {r.student: r for r in graded}
    assert not [r.failed for r in graded if r.failed]
    honest_graded_alone = course.scores(root)["zz_honest"]
    return root, results, before, honest_graded_alone


@pytest.mark.parametrize("student", sorted(BAD))
def test_each_bad_submission_loses_only_what_it_broke(graded, student):
    root, results, _, _ = graded
    _, loses, text = BAD[student]
    result = results[student]
    points = course.points_per_function()
    for function, full in points.items():
        expected = 0 if function in loses else full
        assert result.scores.get(function) == expected, (
            f"{student}: {function} scored {result.scores.get(function)}, expected {expected}; {result}")
    everything = " ".join(result.problems + list(map(str, result.flags)) + list(result.diagnoses.values()))
    if text is not None:
        assert text in everything, f"{student}: {text!r} not in {everything!r}"


def test_honest_student_after_the_bad_ones_keeps_full_marks(graded):
    root, results, _, alone = graded
    assert results["zz_honest"].total == 100 and not results["zz_honest"].flags
    assert sum(alone.values()) == 100


def test_no_submission_changed_and_outputs_stay_small(graded):
    root, _, before, _ = graded
    assert hash_tree(root / "submitted") == before
    flood = root / "autograded" / "b15_output_flood" / ASSIGNMENT / NB1
    assert flood.stat().st_size < 2 * 2 ** 20
    # The flood's cell keeps its first lines and says that the rest was cut. (Whether the flood also
    # outlasts the cell's timeout in the kernel depends on the machine; verification grades it either way.)
    shown = course.cell_output(root, "b15_output_flood", NB1, "forward_propagation")
    assert shown.startswith("0\n1\n2\n") and "Output truncated" in shown, shown[-300:]
    huge = root / "autograded" / "b16_huge_file" / ASSIGNMENT / "huge.bin"
    assert not huge.exists() or huge.stat().st_size <= 64 * 2 ** 20


CRASHED = ("b11_os_exit", "b12_segfault")   # the kernel died: nbgrader could not finish these


def test_a_crashed_submission_shows_one_score_everywhere(graded):
    """The verified scores of a submission nbgrader could not finish are what the formgrader shows
    too: listed as graded (not "needs autograding"), with the table's total, in the Manual Grading
    list of each notebook, and its feedback page written."""
    from nbgrader.apps.api import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory
    from traitlets.config import Config

    from grading.grader import pipeline

    root, results, _, _ = graded
    config = Config()
    config.CourseDirectory.root = str(root)
    config.CourseDirectory.db_url = gradebook.configured_url(root)
    api = NbGraderAPI(coursedir=CourseDirectory(config=config), config=config)
    listed = {s["student"]: s for s in api.get_submissions(ASSIGNMENT)}
    for student in CRASHED:
        assert "nbgrader could not finish" in " ".join(results[student].problems), results[student]
        assert listed[student]["autograded"], f"{student} shows as needing autograding"
        assert listed[student]["score"] == results[student].total, (listed[student], results[student])
        for notebook in NOTEBOOKS:
            manual = {s["student"] for s in api.get_notebook_submissions(ASSIGNMENT, notebook.removesuffix(".ipynb"))}
            assert student in manual, f"{student} missing from the Manual Grading list of {notebook}"
        assert pipeline.write_feedback(root, student, config.CourseDirectory.db_url) == ""
        assert (root / "feedback" / student / ASSIGNMENT / NB2.replace(".ipynb", ".html")).is_file()
