"""Synthetic submissions: the release notebooks with chosen code in their solution cells.

The demo's students and the test suite's mistake catalog are built this way, so every one
of them is a notebook that a student could have handed in.
"""
from copy import deepcopy

import nbformat

from grading.assignment import COURSE_ROOT, NOTEBOOKS
from grading.checks.build_reference import solution_sources
from grading.course_directory import Course


def solutions(course_root=COURSE_ROOT):
    """{grade_id: code} of every solution cell of the source notebooks, markers removed."""
    return {grade_id: code for _, grade_id, code in solution_sources(Course.of(course_root).source())}


def notebook_of(course_root=COURSE_ROOT):
    """{grade_id: notebook file name} for every solution cell."""
    return {grade_id: name for name, grade_id, _ in solution_sources(Course.of(course_root).source())}


def submission(code=None, course_root=COURSE_ROOT, complete=True):
    """The release notebooks with solution cells filled in.

    code -- {grade_id: source} to put in those cells; None keeps the release's stub
    complete -- start from the instructor's solutions (True) or from the blank release (False)

    Returns {notebook file name: NotebookNode}.
    """
    filled = dict(solutions(course_root)) if complete else {}
    filled.update(code or {})
    release = Course.of(course_root).release()
    notebooks = {}
    for name in NOTEBOOKS:
        notebook = nbformat.read(release / name, as_version=4)
        for cell in notebook.cells:
            grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
            if cell.metadata.get("nbgrader", {}).get("solution") and filled.get(grade_id) is not None:
                cell.source = filled[grade_id]
        notebooks[name] = notebook
    return notebooks


def without_solution_flags(notebooks):
    """A verbatim copy of `notebooks` ({name: NotebookNode}) whose cells no longer say they are
    solutions: every nbgrader `solution` flag cleared (a copy hiding from a report that trusts it)."""
    copy = {name: nbformat.from_dict(deepcopy(notebook)) for name, notebook in notebooks.items()}
    for notebook in copy.values():
        for cell in notebook.cells:
            if cell.metadata.get("nbgrader", {}).get("solution"):
                cell.metadata.nbgrader.solution = False
    return copy


def in_added_cells(notebooks, course_root=COURSE_ROOT, keep_stubs=(NOTEBOOKS[0],)):
    """A copy of `notebooks` whose answers sit in code cells of the student's own, each right after
    the release's solution cell, which keeps its stub (in the notebooks `keep_stubs`) or is deleted."""
    copy = submission(course_root=course_root, complete=False)
    for name, notebook in copy.items():
        answers = {cell.metadata.nbgrader.grade_id: cell.source for cell in notebooks[name].cells
                   if cell.cell_type == "code" and cell.metadata.get("nbgrader", {}).get("solution")}
        cells = []
        for cell in notebook.cells:
            grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
            if grade_id not in answers:
                cells.append(cell)
                continue
            if name in keep_stubs:
                cells.append(cell)
            cells.append(nbformat.v4.new_code_cell(answers[grade_id]))
        notebook.cells = cells
    return copy
