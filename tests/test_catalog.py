"""Every catalog entry graded by the real `nbgrader autograde`: mistakes lose their points with the
diagnosis they should get, correct alternatives keep full marks.

Each entry is one student who hands in the notebook that holds the entry's cell, complete
otherwise (nbgrader scores the other notebook 0 without running it). The students are graded
in two course copies at once, one autograde each, to use both cores.

The suite grades a sample of each kind: the first two mistakes of each function and part, and
the first correct alternative of each function (tests/test_checks.py runs every entry through
the hidden tests in-process). `make bench` grades the whole catalog (GC_WHOLE_CATALOG=1).
"""
import os
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import nbformat
import pytest

from grading.assignment import NOTEBOOKS
from grading.checks.provided import ASSIGNMENT, gc_feedback
from grading.grader import course
from synthetic_class import catalog, synthetic

NOTEBOOK_OF = synthetic.notebook_of()
FUNCTIONS = dict(zip(NOTEBOOKS, (catalog.FUNCTIONS_1D, catalog.FUNCTIONS_ND)))
HONEST = "honest_complete"


def sample(variants, per_kind):
    """The first `per_kind` variants of each (cell, part), in catalog order; all under GC_WHOLE_CATALOG=1."""
    if os.environ.get("GC_WHOLE_CATALOG") == "1":
        return list(variants)
    taken, chosen = Counter(), []
    for variant in variants:
        if taken[variant.cell, variant.part] < per_kind:
            taken[variant.cell, variant.part] += 1
            chosen.append(variant)
    return chosen


MISTAKES = sample(catalog.MISTAKES, 2)
ALTERNATIVES = sample(catalog.ALTERNATIVES, 1)


def submission(variant=None):
    """The complete solution with the entry's cell replaced: only the entry's notebook, or both for None."""
    notebooks = synthetic.submission({variant.cell: variant.code} if variant else None)
    return {name: nb for name, nb in notebooks.items() if variant is None or name == NOTEBOOK_OF[variant.cell]}


@pytest.fixture(scope="module")
def graded(grade_batch):
    """(course root of each student, {student: {function: points}}) for the whole catalog."""
    students = {HONEST: submission()}
    students.update({v.name: submission(v) for v in MISTAKES + ALTERNATIVES})
    batches = [dict(list(students.items())[half::2]) for half in range(2)]
    with ThreadPoolExecutor(len(batches)) as pool:
        results = list(pool.map(lambda k: grade_batch(batches[k], name=f"catalog{k}"), range(len(batches))))
    roots = {student: root for batch, (root, _) in zip(batches, results) for student in batch}
    scores = {student: row for _, table in results for student, row in table.items()}
    assert sorted(scores) == sorted(students)
    return roots, scores


def test_honest_student_earns_full_marks(graded):
    _, scores = graded
    assert len(scores[HONEST]) == 6 and sum(scores[HONEST].values()) == 100, scores[HONEST]


@pytest.mark.parametrize("variant", MISTAKES, ids=lambda v: v.name)
def test_mistake_loses_its_points_with_its_diagnosis(graded, variant):
    roots, scores = graded
    notebook = NOTEBOOK_OF[variant.cell]
    row, full = scores[variant.name], scores[HONEST]
    for function in FUNCTIONS[notebook]:
        expected = full[function]
        if function in variant.loses:   # all its points for a wrong value, a minor part's points for that part
            expected = 0 if variant.part == "value" else full[function] - gc_feedback.POINTS[function][variant.part]
        assert row[function] == expected, f"{variant.name}: {function} scored {row[function]}, expected {expected}"
    shown = course.cell_output(roots[variant.name], variant.name, notebook, "test_" + variant.loses[0])
    assert variant.diagnosis in " ".join(shown.split()), f"{variant.name}: {variant.diagnosis!r} not in the feedback:\n{shown}"
    for function in variant.loses[1:]:
        output = course.cell_output(roots[variant.name], variant.name, notebook, "test_" + function)
        assert "Error" in output or "CheckFailed" in output, f"{variant.name}: {function} shows no failure:\n{output}"


@pytest.mark.parametrize("variant", ALTERNATIVES, ids=lambda v: v.name)
def test_alternative_keeps_full_marks(graded, variant):
    _, scores = graded
    for function in FUNCTIONS[NOTEBOOK_OF[variant.cell]]:
        assert scores[variant.name][function] == scores[HONEST][function], (
            f"{variant.name}: {function} scored {scores[variant.name][function]} of {scores[HONEST][function]}")


def test_feedback_shows_the_diagnosis_without_a_grader_file(graded):
    """A hidden test's failure reads as its sentence alone: no traceback through the grader's files."""
    roots, _ = graded
    seen = 0
    for variant in MISTAKES:
        path = roots[variant.name] / "autograded" / variant.name / ASSIGNMENT / NOTEBOOK_OF[variant.cell]
        for cell in nbformat.read(path, as_version=4).cells:
            for output in cell.get("outputs", []):
                if output.output_type == "error" and output.ename == "CheckFailed":
                    seen += 1
                    shown = " ".join(output.traceback)
                    assert shown.split() == f"CheckFailed: {output.evalue}".split(), (variant.name, output.traceback)
                    assert max(map(len, output.traceback)) <= 100, "wrapped, to be read without scrolling"
    assert seen >= sum(variant.part == "value" for variant in MISTAKES)   # the others print theirs
