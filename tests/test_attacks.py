"""The attack catalog (grading.attacks) through the real pipeline: nbgrader autograde, then verification.

Every attack is graded in one batch with an honest student. Stock nbgrader gives most of them the
points for the function they game; verification gives that function 0, records it as nbgrader's
manual score with a comment, and flags it. The honest student keeps 100 and is not flagged.
"""
import time

import pytest

from grading import attacks, course, remote, synthetic, verify
from grading.provided import ASSIGNMENT

SANDBOXED = remote.sandbox_module() is not None
ATTACKS = [a for a in attacks.ATTACKS if SANDBOXED or not a.needs_sandbox]
POINTS = {f: p for layout in verify.assignment_layout() for f, p in layout.functions.items()}


def gradebook_rows(root, students):
    """{student: {function: (auto score, final score, manual comment)}} and {student: total}."""
    from nbgrader.api import Gradebook

    rows, totals = {}, {}
    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gb:
        for student in students:
            submission = gb.find_submission(ASSIGNMENT, student)
            totals[student] = submission.score
            row = rows[student] = {}
            for function in POINTS:
                notebook = synthetic.notebook_of()[function][:-len(".ipynb")]
                grade = gb.find_grade("test_" + function, notebook, ASSIGNMENT, student)
                comment = gb.find_comment(function, notebook, ASSIGNMENT, student)
                row[function] = (grade.auto_score, grade.score, comment.manual_comment)
    return rows, totals


@pytest.fixture(scope="module")
def batch(new_course):
    root = new_course("attacks")
    students = {"honest": synthetic.submission()}
    students.update({attack.name: attacks.submission(attack) for attack in ATTACKS})
    for student, notebooks in students.items():
        course.add_submission(root, student, notebooks)
    course.autograde(root)
    started = time.perf_counter()
    flags = {}
    for student in students:
        verdicts = verify.verify_submission(root / "submitted" / student / ASSIGNMENT)
        flags[student] = verify.record_verdicts(f"sqlite:///{root / 'gradebook.db'}", ASSIGNMENT, student, verdicts)
    seconds = time.perf_counter() - started
    rows, totals = gradebook_rows(root, students)
    return {"root": root, "flags": flags, "rows": rows, "totals": totals, "seconds": seconds}


def test_the_catalog_has_at_least_15_attacks_that_beat_stock_nbgrader():
    assert len({a.name for a in attacks.ATTACKS}) == len(attacks.ATTACKS)
    assert sum(a.beats_nbgrader for a in attacks.ATTACKS) >= 15
    assert all(a.games in POINTS for a in attacks.ATTACKS)


@pytest.mark.parametrize("attack", ATTACKS, ids=lambda a: a.name)
def test_the_gamed_function_earns_nothing_and_is_flagged(batch, attack):
    auto, final, comment = batch["rows"][attack.name][attack.games]
    if attack.beats_nbgrader:
        assert auto == POINTS[attack.games], f"{attack.name} no longer fools the in-kernel grading (auto score {auto})"
        assert comment.startswith(verify.MARKER), comment
    assert final == 0, f"{attack.name} kept {final} points for {attack.games}"
    flagged = [f for f in batch["flags"][attack.name] if f.function == attack.games]
    assert flagged and flagged[0].verified == 0 and flagged[0].reason, batch["flags"][attack.name]
    if attack.beats_nbgrader:
        assert flagged[0].startswith(f"{attack.games}: in-kernel score {POINTS[attack.games]:g}, verified 0: ")


def test_the_honest_student_keeps_full_marks_and_is_not_flagged(batch):
    assert batch["flags"]["honest"] == []
    assert batch["totals"]["honest"] == 100
    assert all(auto == final == POINTS[f] and comment is None
               for f, (auto, final, comment) in batch["rows"]["honest"].items())


def test_totals_are_the_verified_points(batch):
    for student, row in batch["rows"].items():
        assert batch["totals"][student] == sum(final for _, final, _ in row.values()), student


def test_the_feedback_tells_the_student_why(batch):
    root = batch["root"]
    course.nbgrader(root, "generate_feedback", ASSIGNMENT, "--student", "input_transformer", "--force")
    html = (root / "feedback" / "input_transformer" / ASSIGNMENT / "1_gradient_checking_1d.html").read_text()
    assert verify.MARKER in html


def test_verification_is_fast(batch):
    # Most attack submissions hand in one notebook; the bound is loose for busy CI machines.
    assert batch["seconds"] / len(batch["flags"]) < 3.0, batch["seconds"]
