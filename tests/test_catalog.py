"""Every catalog entry graded by the real `nbgrader autograde`: mistakes lose their points with the
diagnosis they should get, correct alternatives keep full marks.

Each entry is one student who hands in the notebook that holds the entry's cell, complete
otherwise (nbgrader scores the other notebook 0 without running it). The students are graded
in two course copies at once, one autograde each, to use both cores.

The suite grades a sample of each kind: the first two mistakes of each function and part, and
the first correct alternative of each function (tests/test_checks.py runs every entry through
the hidden tests in-process). `make bench` grades the whole catalog (GC_WHOLE_CATALOG=1).

Last, the real `nbgrader validate` that a student runs before submitting, on a few entries.
"""
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor

import nbformat
import pytest

from browser_support import BIN, student_env
from sampling import sample
from grading.assignment import COURSE_ROOT, NOTEBOOKS
from grading.checks.provided import ASSIGNMENT, gc_feedback
from grading.grader import course
from synthetic_class import catalog, synthetic

NOTEBOOK_OF = synthetic.notebook_of()
FUNCTIONS = dict(zip(NOTEBOOKS, (catalog.FUNCTIONS_1D, catalog.FUNCTIONS_ND)))
HONEST = "honest_complete"


MISTAKES = sample(catalog.MISTAKES, group=lambda v: (v.cell, v.part), per_group=2)
ALTERNATIVES = sample(catalog.ALTERNATIVES, group=lambda v: (v.cell, v.part), per_group=1)


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


# `nbgrader validate` as the student runs it, on notebooks holding catalog entries:
# {file: (entries, {tested function: words its test cell shows}, or None: "Success")}.
VALIDATED = {
    # gradapprox_n left as released, its work done in gradient_check_n; nan for a block at 0/0
    "stub_and_nan.ipynb": (("gcn_gradapprox_left_stub", "bp_nan_for_zero_block"), {
        "gradient_check_n": catalog.by_name("gcn_gradapprox_left_stub").diagnosis,
        "gradient_check_by_parameter": catalog.by_name("bp_nan_for_zero_block").diagnosis}),
    "in_place.ipynb": (("gcn_in_place_restored", "bp_in_place_restored"), None),
    # Validate shows a cell with partial credit by its source and nbgrader's own words only
    "reversed.ipynb": (("gc_verdict_reversed",), {"gradient_check": "Partial credit; passed some but not all"}),
}


def test_nbgrader_validate_says_success_only_to_a_right_notebook(tmp_path):
    """The real `nbgrader validate`: a helper left as released, a nan for 0/0 and a reversed verdict
    each fail the test cell of their function, with its sentence; correct variants (parameters
    shifted in place and back, in two exercises) pass. Two processes, to use both cores."""
    folder = tmp_path / ASSIGNMENT
    shutil.copytree(COURSE_ROOT / "release" / ASSIGNMENT, folder)
    for name, (entries, _) in VALIDATED.items():
        variants = [catalog.by_name(entry) for entry in entries]
        notebooks = synthetic.submission({v.cell: v.code for v in variants})
        nbformat.write(notebooks[NOTEBOOK_OF[variants[0].cell]], folder / name)
    names = list(VALIDATED)
    running = [subprocess.Popen([str(BIN / "nbgrader"), "validate", "--Validator.width=120", *names[half::2]],
                                cwd=folder, env=student_env(tmp_path / "home"), stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True) for half in range(2)]
    output = "".join(process.communicate(timeout=300)[0] for process in running)
    for name, (_, failing) in VALIDATED.items():
        shown = output.split(f"Validating '{folder / name}'")[1].split("Validating '")[0]
        if failing is None:
            assert "Success! Your notebook passes all the tests." in shown, f"{name}:\n{shown}"
            continue
        assert f"VALIDATION FAILED ON {len(failing)} CELL(S)" in shown, f"{name}:\n{shown}"
        cells = shown.split("The following cell failed:")[1:]
        for function, words in failing.items():
            (cell,) = [cell for cell in cells if f'visible_tests("{function}", globals())' in cell]
            assert words in " ".join(cell.split()), f"{name}: {words!r} not in\n{cell}"
