"""The release is exactly what nbgrader generates from source, and gives nothing away."""
import filecmp
import json

import nbformat
import pytest

from grading.assignment import ASSIGNMENT, COURSE_ROOT
from grading.checks import build_reference, visible_cases

pytestmark = pytest.mark.fast   # in make check's lane

RELEASE = COURSE_ROOT / "release" / ASSIGNMENT


def test_release_equals_a_fresh_generate_assignment(new_course):
    fresh = new_course("fresh") / "release" / ASSIGNMENT
    committed = sorted(p.name for p in RELEASE.iterdir())
    assert committed == sorted(p.name for p in fresh.iterdir()), "release/ has other files than a fresh generate"
    for name in committed:
        if name.endswith(".ipynb"):
            assert nbformat.read(RELEASE / name, 4) == nbformat.read(fresh / name, 4), (
                f"release/{ASSIGNMENT}/{name} is out of date: run `make release`")
        else:
            assert filecmp.cmp(RELEASE / name, fresh / name, shallow=False), f"release/{ASSIGNMENT}/{name} is out of date"


def test_release_contains_no_solution_hidden_test_or_grader():
    for path in RELEASE.iterdir():
        text = path.read_text()
        for marker in ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "HIDDEN TESTS",
                       "import grading", "grading.check"):
            assert marker not in text, f"{path.name} contains {marker!r}"
    solutions = build_reference.render()
    # The bodies of the solutions must not leak: look for their distinctive lines.
    for line in ("theta_plus[i] += epsilon", "differences[name] = float(numerator / denominator)",
                 "dW2 = dZ2 @ A1.T / m  # was multiplied by 2"):
        assert line in solutions
        for path in RELEASE.glob("*.ipynb"):
            assert line not in path.read_text(), f"{path.name} leaks the solution line {line!r}"
    assert not (RELEASE / "grading").exists()


def test_release_stubs_every_solution_cell():
    stubs = 0
    for path in sorted(RELEASE.glob("*.ipynb")):
        for cell in nbformat.read(path, 4).cells:
            if cell.metadata.get("nbgrader", {}).get("solution"):
                assert "raise NotImplementedError()" in cell.source, f"{path.name}: {cell.metadata['nbgrader']['grade_id']}"
                stubs += 1
    assert stubs == 6


def test_points_add_up_to_100():
    points = {}
    for path in sorted((COURSE_ROOT / "source" / ASSIGNMENT).glob("*.ipynb")):
        for cell in json.loads(path.read_text())["cells"]:
            meta = cell["metadata"].get("nbgrader", {})
            if meta.get("grade"):
                points[meta["grade_id"]] = meta["points"]
    assert sorted(points) == sorted("test_" + f for f in (
        "forward_propagation", "backward_propagation", "gradient_check",
        "gradient_check_n", "gradient_check_by_parameter", "backward_propagation_n_fixed"))
    assert sum(points.values()) == 100


def test_reference_and_visible_table_are_generated_from_the_current_source():
    assert build_reference.main(["--check"]) == 0, \
        "grading/checks/reference.py or gc_feedback_cases.json is stale: run python -m grading.checks.build_reference"


def test_the_visible_table_is_stale_when_a_case_changes_not_when_round_off_does():
    """Another machine's BLAS moves finite differences at round-off level; a changed case moves them."""
    text = (COURSE_ROOT / "source" / ASSIGNMENT / "gc_feedback_cases.json").read_text()
    table = json.loads(text)
    network = table["gradient_check_by_parameter"]["cases"]["network"][0]["central"]["1e-07"]
    assert visible_cases.same_tables(text, text)

    def edited(change):
        copy = json.loads(text)
        change(copy["gradient_check_by_parameter"]["cases"]["network"][0]["central"]["1e-07"])
        return json.dumps(copy)

    def set_first(value):
        return lambda numbers: numbers.__setitem__(0, value)

    assert visible_cases.same_tables(text, edited(set_first(network[0] + 1e-9)))        # round-off
    assert not visible_cases.same_tables(text, edited(set_first(network[0] + 1e-3)))    # another case
    assert not visible_cases.same_tables(text, edited(lambda numbers: numbers.pop()))   # another shape


PART_WORDS = {"value": "value", "print_msg": "message", "inputs": "inputs unchanged"}


def test_the_points_table_shows_each_functions_split():
    """gc_feedback.POINTS (what the checks take off) adds up to each test cell's points, and the
    table of notebook 1 and README shows the same split, row by row."""
    from grading.grader.course import points_per_function
    from grading.checks.provided import gc_feedback

    cells = points_per_function()
    assert list(gc_feedback.POINTS) == list(cells), "one entry of POINTS per graded function, in notebook order"
    notebook = nbformat.read(COURSE_ROOT / "source" / ASSIGNMENT / build_reference.NOTEBOOKS[0], 4).cells[0].source
    readme = (COURSE_ROOT / "README.md").read_text()
    for exercise, (function, parts) in enumerate(gc_feedback.POINTS.items(), start=1):
        assert sum(parts.values()) == cells[function], f"{function}: its parts do not add up to its test cell's points"
        assert "value" in parts and set(parts) <= set(PART_WORDS), function
        split = ", ".join(f"{PART_WORDS[part]} {points:g}" for part, points in parts.items())
        row = f"| {exercise} | `{function}` | {cells[function]:g} | {split} |"
        assert row in notebook, f"notebook 1's points table lacks {row!r}"
        assert row in readme, f"README's points table lacks {row!r}"
