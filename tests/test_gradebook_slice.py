"""One student's slice of the gradebook (grading.sandboxing.gradebook_slice): what nbgrader's
sandboxed step sees, and what it may write back. The slice is a file the step wrote: a slice that
was tampered with changes this student's scores and nothing else."""
import sqlite3

import pytest
from nbgrader.api import Gradebook

from grading.assignment import ASSIGNMENT, NOTEBOOKS
from grading.sandboxing import gradebook_slice

pytestmark = pytest.mark.fast   # in make check's lane

FIRST_TEST = "test_forward_propagation"   # a graded test cell of the first notebook


@pytest.fixture(scope="module")
def gradebook(new_course):
    """The course's gradebook with two submissions, as the instructor left them: ada's first test
    cell scored by hand, bob's graded, both submitted at a time the deadlines step set."""
    root = new_course("slice")
    url = f"sqlite:///{root / 'gradebook.db'}"
    with Gradebook(url) as book:
        for student in ("ada", "bob"):
            book.add_student(student, first_name=student.title())
            book.add_submission(ASSIGNMENT, student, timestamp="2026-01-01 12:00:00")
        mine = book.find_grade(FIRST_TEST, NOTEBOOKS[0].removesuffix(".ipynb"), ASSIGNMENT, "ada")
        mine.manual_score = 1.0
        theirs = book.find_grade(FIRST_TEST, NOTEBOOKS[0].removesuffix(".ipynb"), ASSIGNMENT, "bob")
        theirs.auto_score = 5.0
        book.db.commit()
    return root, url


def rows(path, query, *args):
    with sqlite3.connect(path) as db:
        return db.execute(query, args).fetchall()


def test_the_slice_holds_the_assignment_and_this_student_only_with_no_solution(gradebook, tmp_path):
    root, url = gradebook
    piece = tmp_path / "gradebook.db"
    gradebook_slice.export(url, "course101", ASSIGNMENT, "ada", piece)
    assert rows(piece, "SELECT id FROM student") == [("ada",)]
    assert len(rows(piece, "SELECT id FROM submitted_assignment")) == 1
    course_cells = rows(root / "gradebook.db", "SELECT count(*) FROM grade_cells")[0][0]
    assert rows(piece, "SELECT count(*) FROM grade_cells")[0][0] == course_cells > 0
    solutions = rows(piece, "SELECT s.source FROM source_cell s JOIN base_cell b ON s.name = b.name AND "
                            "s.notebook_id = b.notebook_id JOIN solution_cells c ON c.id = b.id WHERE s.locked = 0")
    assert solutions and all(source == "" for (source,) in solutions)
    assert rows(piece, "SELECT count(*) FROM grade WHERE manual_score = 1.0")[0][0] == 1


def test_what_comes_back_is_this_students_scores_and_never_the_instructors_columns(gradebook, tmp_path):
    root, url = gradebook
    piece = tmp_path / "gradebook.db"
    gradebook_slice.export(url, "course101", ASSIGNMENT, "ada", piece)
    with sqlite3.connect(piece) as db:   # what a step, honest or not, could write there
        db.execute("UPDATE grade SET auto_score = 3.0, manual_score = 10.0")
        db.execute("UPDATE submitted_assignment SET timestamp = '2000-01-01 00:00:00'")
        db.execute("UPDATE submitted_notebook SET flagged = 0, late_submission_penalty = 0")
        db.execute("UPDATE student SET first_name = 'Mallory'")
    gradebook_slice.import_(url, ASSIGNMENT, "ada", piece)
    course = root / "gradebook.db"
    ada = "SELECT g.auto_score, g.manual_score FROM grade g JOIN submitted_notebook n ON g.notebook_id = n.id " \
          "JOIN submitted_assignment a ON n.assignment_id = a.id WHERE a.student_id = ?"
    assert {auto for auto, _ in rows(course, ada, "ada")} == {3.0}             # the step's own column
    assert sorted(manual for _, manual in rows(course, ada, "ada") if manual is not None) == [1.0]
    assert rows(course, "SELECT timestamp FROM submitted_assignment WHERE student_id = 'ada'") == \
        [("2026-01-01 12:00:00.000000",)]
    assert rows(course, "SELECT first_name FROM student WHERE id = 'ada'") == [("Ada",)]


def test_rows_forged_under_another_students_ids_change_nothing_of_theirs(gradebook, tmp_path):
    root, url = gradebook
    course = root / "gradebook.db"
    theirs = "SELECT g.id, g.auto_score FROM grade g JOIN submitted_notebook n ON g.notebook_id = n.id " \
             "JOIN submitted_assignment a ON n.assignment_id = a.id WHERE a.student_id = 'bob' ORDER BY g.id"
    before = rows(course, theirs)
    piece = tmp_path / "gradebook.db"
    gradebook_slice.export(url, "course101", ASSIGNMENT, "ada", piece)
    bob_ids = [grade_id for grade_id, _ in before]
    with sqlite3.connect(piece) as db:   # ada's grade rows renamed to bob's ids, scored 0
        mine = [grade_id for (grade_id,) in db.execute("SELECT id FROM grade ORDER BY id")]
        for own, forged in zip(mine, bob_ids):
            db.execute("UPDATE grade SET id = ?, auto_score = 0 WHERE id = ?", (forged, own))
    gradebook_slice.import_(url, ASSIGNMENT, "ada", piece)
    assert rows(course, theirs) == before
