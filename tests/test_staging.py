"""Staging: a broken submission becomes a copy nbgrader can grade, and the original is untouched."""
import copy
import json
import os

import nbformat
import pytest

from commands import hash_tree

from grading.assignment import NOTEBOOKS
from grading.grader import staging
from grading.grader.staging import stage
from synthetic_class import synthetic

pytestmark = pytest.mark.fast   # in make check's lane

NB1, NB2 = NOTEBOOKS


def write(folder, notebooks):
    folder.mkdir(parents=True, exist_ok=True)
    for name, notebook in notebooks.items():
        nbformat.write(notebook, folder / name)
    return folder


def test_a_complete_submission_is_staged_unchanged(tmp_path):
    source = write(tmp_path / "in", synthetic.submission())
    (source / "timestamp.txt").write_text("2026-11-26 10:00:00")
    staged = stage(source, tmp_path / "out")
    assert staged.notebooks == list(NOTEBOOKS) and staged.problems == []
    assert (tmp_path / "out" / "timestamp.txt").read_text() == "2026-11-26 10:00:00"
    for name in NOTEBOOKS:
        assert nbformat.read(tmp_path / "out" / name, 4) == nbformat.read(source / name, 4)


def test_malformed_missing_and_unrelated_notebooks_are_left_out_and_explained(tmp_path):
    notebooks = synthetic.submission()
    source = write(tmp_path / "in", {"my_notes.ipynb": nbformat.v4.new_notebook()})
    (source / NB1).write_text('{"cells": [ this is not json')
    before = hash_tree(source)
    staged = stage(source, tmp_path / "out")
    assert staged.notebooks == []
    text = " ".join(staged.problems)
    assert f"{NB1} could not be graded: it is not a readable notebook" in text
    assert f"{NB2} is missing" in text
    assert "my_notes.ipynb is not part of the assignment" in text
    assert hash_tree(source) == before, "staging changed the student's folder"


def test_notebooks_are_found_by_their_cells_whatever_their_names(tmp_path):
    """A renamed notebook is graded under the assignment's name; of two whole copies the newer;
    a scratch notebook with one of the assignment's cells never over the whole notebook, even
    newer; a newer copy that cannot be read gives way to the older one; stripped nbgrader
    metadata comes back by cell id."""
    notebooks = synthetic.submission()
    blank = synthetic.submission(complete=False)
    scratch = nbformat.v4.new_notebook(cells=[copy.deepcopy(c) for c in notebooks[NB2].cells
                                              if c.metadata.get("nbgrader", {}).get("grade_id") == "gradient_check_n"])
    stripped = copy.deepcopy(notebooks[NB2])
    for cell in stripped.cells:
        cell.metadata = {}
    source = write(tmp_path / "in", {NB1: blank[NB1], "1_gradient_checking_1d-Copy1.ipynb": notebooks[NB1],
                                     "Teil 2 (José).ipynb": stripped, "scratch.ipynb": scratch})
    (source / "1_gradient_checking_1d (1).ipynb").write_text("{")
    for age, name in enumerate([NB1, "1_gradient_checking_1d-Copy1.ipynb", "Teil 2 (José).ipynb", "scratch.ipynb",
                                "1_gradient_checking_1d (1).ipynb"]):
        os.utime(source / name, (1_000_000 + age, 1_000_000 + age))
    staged = stage(source, tmp_path / "out")
    assert staged.notebooks == list(NOTEBOOKS)
    assert nbformat.read(tmp_path / "out" / NB1, 4) == notebooks[NB1]
    def graded(notebook):
        return [(c.cell_type, c.source, c.metadata.get("nbgrader")) for c in notebook.cells]
    assert graded(nbformat.read(tmp_path / "out" / NB2, 4)) == graded(notebooks[NB2]), "the release's metadata"
    assert staged.problems == [
        f"1_gradient_checking_1d-Copy1.ipynb graded as {NB1}; not graded: {NB1} (older), "
        "1_gradient_checking_1d (1).ipynb (it is not a readable notebook (JSONDecodeError: Expecting property "
        "name enclosed in double quotes: line 1 column 2 (char 1))).",
        f"Teil 2 (José).ipynb graded as {NB2}; not graded: scratch.ipynb (it holds fewer of the notebook's cells).",
        f"{NB2} had lost the nbgrader metadata of 7 cells: it was given back from the assignment, by their cell ids."]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == list(NOTEBOOKS)


def test_copy_marks_of_browsers_and_jupyter_are_not_part_of_a_name():
    assert {staging.plain_name(name) for name in (
        NB1, "1_Gradient_Checking_1d (1).ipynb", "1_gradient_checking_1d-Copy1.ipynb", "1_gradient_checking_1d - Copy (2).ipynb",
        "work/1_gradient_checking_1d copy 2.ipynb", "1_gradient_checking_1d-3.ipynb")} == {"1_gradient_checking_1d"}
    assert staging.plain_name("gradient_checking_1d_v2.ipynb") != staging.plain_name(NB1)


def test_duplicated_cells_keep_only_the_first_graded_copy(tmp_path):
    notebooks = synthetic.submission()
    cells = notebooks[NB1].cells
    solution = next(c for c in cells if c.metadata.get("nbgrader", {}).get("grade_id") == "gradient_check")
    cells.append(copy.deepcopy(solution))
    cells.append(copy.deepcopy(solution))
    staged = stage(write(tmp_path / "in", notebooks), tmp_path / "out")
    staged_cells = nbformat.read(tmp_path / "out" / NB1, 4).cells
    ids = [c.metadata.get("nbgrader", {}).get("grade_id") for c in staged_cells]
    assert ids.count("gradient_check") == 1 and len(staged_cells) == len(cells) - 2
    assert staged.problems == [f"{NB1} has more than one cell 'gradient_check': only the first one is graded."] * 2


def test_invalid_structure_oversized_files_and_symlinks_stay_behind(tmp_path):
    notebooks = synthetic.submission()
    source = write(tmp_path / "in", notebooks)
    raw = (source / NB2).read_text().replace('"cell_type": "code"', '"cell_type": "bogus"', 1)
    (source / NB2).write_text(raw)
    with open(source / "big.bin", "wb") as handle:
        handle.truncate(6 * 2 ** 20)
    (source / "notes.txt").write_text("my notes")
    os.symlink("/etc/hostname", source / "link.txt")
    staged = stage(source, tmp_path / "out")
    assert staged.notebooks == [NB1]
    assert any(p.startswith(f"{NB2} could not be graded") for p in staged.problems)
    assert any("big.bin is larger than" in p for p in staged.problems)
    assert (tmp_path / "out" / "notes.txt").read_text() == "my notes"
    assert not (tmp_path / "out" / "big.bin").exists() and not (tmp_path / "out" / "link.txt").exists()


def test_a_retyped_graded_cell_gets_its_type_back(tmp_path):
    notebooks = synthetic.submission()
    cells = notebooks[NB2].cells
    k = next(i for i, c in enumerate(cells) if c.metadata.get("nbgrader", {}).get("grade_id") == "gradient_check_n")
    cells[k] = nbformat.v4.new_markdown_cell(cells[k].source, metadata=cells[k].metadata)
    staged = stage(write(tmp_path / "in", notebooks), tmp_path / "out")
    cell = nbformat.read(tmp_path / "out" / NB2, 4).cells[k]
    assert cell.cell_type == "code" and "def gradient_check_n" in cell.source
    assert staged.problems == [f"{NB2}: the cell 'gradient_check_n' had been changed to another type; "
                               "it is graded as the type it has in the assignment."]


def _raw(notebook):
    return json.loads(nbformat.writes(notebook))


def _cell_of(raw, grade_id):
    return next(c for c in raw["cells"] if isinstance(c["metadata"].get("nbgrader"), dict)
                and c["metadata"]["nbgrader"].get("grade_id") == grade_id)


# name: (how the notebook's JSON is edited, the sentence staging must say)
WRONG_TYPES = {
    "notebook metadata a string": (lambda raw: raw.update(metadata="oops"),
                                   "its metadata was not an object and was removed"),
    "kernelspec a list": (lambda raw: raw["metadata"].update(kernelspec=["python3"]),
                          "its 'kernelspec' metadata was not an object and was removed"),
    "cell metadata a list": (lambda raw: _cell_of(raw, "forward_propagation").update(metadata=[1]),
                             "metadata was not an object and was removed"),
    "nbgrader metadata a string": (lambda raw: _cell_of(raw, "forward_propagation")["metadata"].update(nbgrader="x"),
                                   "nbgrader metadata had the wrong type and was removed"),
    "grade_id a list": (lambda raw: _cell_of(raw, "forward_propagation")["metadata"]["nbgrader"].update(grade_id=[1]),
                        "nbgrader metadata had the wrong type and was removed"),
    "grade_id unknown": (lambda raw: _cell_of(raw, "forward_propagation")["metadata"]["nbgrader"].update(grade_id="mine"),
                         "claimed the grade id 'mine', which the assignment does not have"),
}


@pytest.mark.parametrize("case", sorted(WRONG_TYPES))
def test_metadata_of_the_wrong_type_is_removed_with_a_sentence(tmp_path, case):
    """A student can edit the notebook's JSON; nbformat and nbgrader would stop on a wrong type."""
    edit, sentence = WRONG_TYPES[case]
    notebooks = synthetic.submission()
    source = write(tmp_path / "in", notebooks)
    raw = _raw(notebooks[NB1])
    edit(raw)
    (source / NB1).write_text(json.dumps(raw))
    staged = stage(source, tmp_path / "out")
    assert staged.notebooks == list(NOTEBOOKS), staged.problems
    assert any(p.startswith(f"{NB1}: ") and sentence in p for p in staged.problems), staged.problems
    nbformat.validate(nbformat.read(tmp_path / "out" / NB1, 4))
