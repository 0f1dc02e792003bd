"""Feedback through nbgrader's exchange: the stock `nbgrader release_feedback`, run by
`make release-feedback`, holds back what verification flagged until the instructor releases it."""
import json

from nbgrader.utils import notebook_hash

from grading.assignment import ASSIGNMENT, NOTEBOOKS
from grading.lms import release_feedback


def feedback_folder(root, student, secret=None):
    """A student's feedback pages as nbgrader's generate_feedback leaves them (with the exchange's
    submission secret when the submission came through the exchange)."""
    folder = root / "feedback" / student / ASSIGNMENT
    folder.mkdir(parents=True)
    for notebook in NOTEBOOKS:
        (folder / notebook.replace(".ipynb", ".html")).write_text(f"<p>feedback of {student}</p>")
    (folder / "timestamp.txt").write_text("2026-11-30 20:59:00")
    if secret:
        (folder / "submission_secret.txt").write_text(secret)


def released_pages(exchange):
    return {page.name: page.read_text() for page in (exchange / "gc" / "feedback").glob("*.html")}


def pages_of(student, secret):
    return {notebook_hash(secret=secret, notebook_id=notebook.removesuffix(".ipynb")) + ".html":
            f"<p>feedback of {student}</p>" for notebook in NOTEBOOKS}


def test_flagged_feedback_waits_for_the_instructor(tmp_path):
    root, exchange = tmp_path / "course", tmp_path / "exchange"
    feedback_folder(root, "ada", secret="a1")
    feedback_folder(root, "mallory", secret="m2")
    feedback_folder(root, "lms_student")   # taken in from an LMS download: no exchange submission
    (root / "reports").mkdir()
    (root / "reports" / "autograde.json").write_text(json.dumps([
        {"student": "ada", "flags": []}, {"student": "mallory", "flags": ["forward_propagation: in-kernel 5, verified 0"]}]))
    exchange.mkdir(mode=0o777)   # nbgrader's exchange root: there before any command, writable by all
    exchange.chmod(0o777)
    options = [f"--Exchange.root={exchange}", "--CourseDirectory.course_id=gc"]

    status, lines = release_feedback.release(root, options=options)
    assert status == 0, lines
    assert released_pages(exchange) == pages_of("ada", "a1")
    assert "held back, flagged by verification (review them, then RELEASE_FLAGGED=1): mallory" in lines
    assert any(line.startswith("not submitted through the exchange") and "lms_student" in line for line in lines)

    status, lines = release_feedback.release(root, release_flagged=True, options=options)
    assert status == 0, lines
    assert released_pages(exchange) == {**pages_of("ada", "a1"), **pages_of("mallory", "m2")}
    assert "released: ada, mallory" in lines
