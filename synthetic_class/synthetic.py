"""Synthetic submissions: the release notebooks with chosen code in their solution cells.

The demo's students and the test suite's mistake catalog are built this way, so every one
of them is a notebook that a student could have handed in.
"""
from pathlib import Path

import nbformat

from grading.assignment import ASSIGNMENT, COURSE_ROOT, NOTEBOOKS
from grading.checks.build_reference import solution_sources


def solutions(course_root=COURSE_ROOT):
    """{grade_id: code} of every solution cell of the source notebooks, markers removed."""
    return {grade_id: code for _, grade_id, code in solution_sources(Path(course_root) / "source" / ASSIGNMENT)}


def notebook_of(course_root=COURSE_ROOT):
    """{grade_id: notebook file name} for every solution cell."""
    return {grade_id: name for name, grade_id, _ in solution_sources(Path(course_root) / "source" / ASSIGNMENT)}


def submission(code=None, course_root=COURSE_ROOT, complete=True):
    """The release notebooks with solution cells filled in.

    code -- {grade_id: source} to put in those cells; None keeps the release's stub
    complete -- start from the instructor's solutions (True) or from the blank release (False)

    Returns {notebook file name: NotebookNode}.
    """
    filled = dict(solutions(course_root)) if complete else {}
    filled.update(code or {})
    release = Path(course_root) / "release" / ASSIGNMENT
    notebooks = {}
    for name in NOTEBOOKS:
        notebook = nbformat.read(release / name, as_version=4)
        for cell in notebook.cells:
            grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
            if cell.metadata.get("nbgrader", {}).get("solution") and filled.get(grade_id) is not None:
                cell.source = filled[grade_id]
        notebooks[name] = notebook
    return notebooks
