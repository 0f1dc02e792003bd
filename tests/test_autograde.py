"""Real `nbgrader autograde`: the instructor's solutions earn everything, the blank release nothing."""
import nbformat
import pytest

from grading import CHECKS
from grading.assignment import ASSIGNMENT, COURSE_ROOT, NOTEBOOKS
from grading.grader import course
from synthetic_class import synthetic

pytestmark = pytest.mark.fast   # in make check's lane

FUNCTIONS = tuple(CHECKS)  # the graded functions, in notebook order


def test_source_earns_full_marks_and_release_earns_zero(grade_batch):
    source = {name: nbformat.read(COURSE_ROOT / "source" / ASSIGNMENT / name, 4) for name in NOTEBOOKS}
    release = {name: nbformat.read(COURSE_ROOT / "release" / ASSIGNMENT / name, 4) for name in NOTEBOOKS}
    root, table = grade_batch({"instructor": source, "filled": synthetic.submission(),
                               "untouched": release}, name="source_release")
    assert sorted(table) == ["filled", "instructor", "untouched"]
    for student in ("instructor", "filled"):
        assert sorted(table[student]) == sorted(FUNCTIONS)
        assert sum(table[student].values()) == 100, table[student]
    assert all(points == 0 for points in table["untouched"].values()), table["untouched"]
    assert len(table["untouched"]) == 6
    # The hidden tests really ran in the graded copy, and said so.
    assert "passes the hidden tests" in course.cell_output(root, "filled", NOTEBOOKS[1], "test_backward_propagation_n_fixed")
    # The blank release tells the student what is missing.
    assert "NotImplementedError" in course.cell_output(root, "untouched", NOTEBOOKS[0], "test_forward_propagation")


def test_source_notebooks_run_start_to_finish_without_error(new_course):
    from nbclient import NotebookClient

    for name in NOTEBOOKS:
        notebook = nbformat.read(COURSE_ROOT / "source" / ASSIGNMENT / name, 4)
        NotebookClient(notebook, timeout=120, kernel_name="python3",
                       resources={"metadata": {"path": str(COURSE_ROOT / "source" / ASSIGNMENT)}}).execute()
        errors = [o for c in notebook.cells for o in c.get("outputs", []) if o.output_type == "error"]
        assert not errors, f"{name}: {errors[0]['ename']}: {errors[0]['evalue']}"
        images = [o for c in notebook.cells for o in c.get("outputs", []) if "image/png" in o.get("data", {})]
        assert len(images) >= (1 if name.startswith("1") else 4), f"{name} drew {len(images)} plots"


def test_a_feedback_folder_with_anything_but_the_pages_is_written_again(tmp_path):
    """Feedback older graders left with a student's own files (notes.html) counts as missing, so the
    next `make autograde` writes it again, with nbgrader's pages only (the step brings back no more)."""
    import os
    import time

    from grading.assignment import FEEDBACK_PAGES
    from grading.grader.class_grading import feedback_missing

    graded = tmp_path / "autograded" / "ada" / ASSIGNMENT
    pages = tmp_path / "feedback" / "ada" / ASSIGNMENT
    graded.mkdir(parents=True)
    pages.mkdir(parents=True)
    for name in NOTEBOOKS:
        (graded / name).write_text("{}")
    past = time.time() - 60
    for name in NOTEBOOKS:
        os.utime(graded / name, (past, past))
    for name in (*FEEDBACK_PAGES, "timestamp.txt"):
        (pages / name).write_text("page")
    assert not feedback_missing(tmp_path, "ada")
    (pages / "notes.html").write_text("<script>alert(1)</script>")
    assert feedback_missing(tmp_path, "ada")
