"""Feedback through nbgrader's exchange: the stock `nbgrader release_feedback`, run by
`make release-feedback`, holds back what verification flagged until the instructor releases it,
releases only the pages grading rendered, and one student's files never stop the others."""
import json
import os
import shutil
import subprocess
import sys

from nbgrader.utils import notebook_hash

from grading.assignment import ASSIGNMENT, NOTEBOOKS
from grading.lms import exchange_feedback


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

    # Grading on submit releases one student's grade alone (--student): no one else's goes out.
    feedback_folder(root, "bo", secret="b3")
    status, lines = exchange_feedback.release(root, options=options, only=["ada"])
    assert status == 0 and lines == ["released: ada"], lines
    assert released_pages(exchange) == pages_of("ada", "a1")
    shutil.rmtree(root / "feedback" / "bo")

    status, lines = exchange_feedback.release(root, options=options)
    assert status == 0, lines
    assert released_pages(exchange) == pages_of("ada", "a1")
    assert "held back, flagged by verification (review them, then RELEASE_FLAGGED=1): mallory" in lines
    assert any(line.startswith("not submitted through the exchange") and "lms_student" in line for line in lines)

    status, lines = exchange_feedback.release(root, release_flagged=True, options=options)
    assert status == 0, lines
    assert released_pages(exchange) == {**pages_of("ada", "a1"), **pages_of("mallory", "m2")}
    assert "released: ada, mallory" in lines


def test_only_the_rendered_pages_go_out_and_one_student_s_files_stop_no_one_else(tmp_path):
    """Each student on their own: a submission_secret.txt that is not text (stock nbgrader stopped
    the whole class there), no timestamp, a page that is a link to a file outside: named, with
    why; everyone else's pages go out, and of a feedback folder only the pages of the
    assignment's notebooks ever do (a page released before by stock nbgrader is withdrawn)."""
    root, exchange = tmp_path / "course", tmp_path / "exchange"
    outside = tmp_path / "outside.html"
    outside.write_text("<p>the instructor's solutions</p>")
    for student, secret in (("ada", "a1"), ("bob", "b2"), ("cy", "c3"), ("dee", "d4"), ("eve", "e5")):
        feedback_folder(root, student, secret=secret)
    folder = lambda student: root / "feedback" / student / ASSIGNMENT   # noqa: E731
    (folder("ada") / "notes.html").write_text("<p>ada's own notes</p>")
    (folder("ada") / "solutions.html").write_text("<p>what a link in ada's submission read</p>")
    with open(bytes(folder("ada")) + b"/\xff.html", "w") as page:   # a name that is not UTF-8: printed escaped
        page.write("<p>ada's page with a name no terminal can print</p>")
    (folder("bob") / "submission_secret.txt").write_bytes(b"\xff\xfe not text")
    (folder("cy") / "timestamp.txt").unlink()
    page = folder("dee") / NOTEBOOKS[0].replace(".ipynb", ".html")
    page.unlink()
    page.symlink_to(outside)
    exchange.mkdir()
    exchange.chmod(0o777)
    options = [f"--Exchange.root={exchange}", "--CourseDirectory.course_id=gc"]
    (exchange / "gc" / "feedback").mkdir(parents=True)
    stale = notebook_hash(secret="a1", notebook_id="notes") + ".html"   # what stock nbgrader released before
    (exchange / "gc" / "feedback" / stale).write_text("<p>ada's own notes</p>")

    status, lines = exchange_feedback.release(root, options=options)
    assert status == 0, lines
    assert released_pages(exchange) == {**pages_of("ada", "a1"), **pages_of("eve", "e5")}
    assert "released: ada, eve" in lines
    [named] = [line for line in lines if line.startswith("not released")]
    assert "bob (its submission_secret.txt is not short printable ASCII" in named
    assert "cy (its timestamp.txt holds no readable submission time)" in named
    assert f"dee ({NOTEBOOKS[0].replace('.ipynb', '.html')} is a symbolic link, not a regular file)" in named

    # The exchange class on its own, as the formgrader's buttons run it: the same, in its log.
    for name in released_pages(exchange):
        (exchange / "gc" / "feedback" / name).unlink()
    done = subprocess.run([sys.executable, "-m", "nbgrader", "release_feedback", ASSIGNMENT, *options,
                           exchange_feedback.CHECKED], cwd=root, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert released_pages(exchange) == {**pages_of("ada", "a1"), **pages_of("eve", "e5")}
    refused = dict(exchange_feedback.REFUSED_LINE.findall(done.stderr))
    assert sorted(refused) == ["bob", "cy", "dee"] and "not short printable ASCII" in refused["bob"]
    assert "Not released: ada's notes.html is no feedback page" in done.stderr
    assert "Not released: ada's \\udcff.html is no feedback page" in done.stderr


FAILING_CLASS = '''
from grading.exchange.release_feedback import CheckedReleaseFeedback


class FailsForBob(CheckedReleaseFeedback):
    """Fails for the whole class and for bob alone, as nbgrader did at an unreadable file."""
    def copy_files(self):
        if self.coursedir.student_id in ("*", "bob"):
            raise RuntimeError("something nobody checked for")
        return super().copy_files()
'''


def test_when_nbgrader_fails_anyway_each_student_is_released_on_their_own(tmp_path):
    root, exchange = tmp_path / "course", tmp_path / "exchange"
    for student, secret in (("ada", "a1"), ("bob", "b2")):
        feedback_folder(root, student, secret=secret)
    (root / "failing_release.py").write_text(FAILING_CLASS)   # nbgrader imports from the course folder
    exchange.mkdir()
    exchange.chmod(0o777)
    options = [f"--Exchange.root={exchange}", "--CourseDirectory.course_id=gc",
               "--ExchangeFactory.release_feedback=failing_release.FailsForBob"]
    status, lines = exchange_feedback.release(root, options=options)
    assert status == 1
    assert released_pages(exchange) == pages_of("ada", "a1")
    assert "released: ada" in lines
    assert any("bob (nbgrader release_feedback failed: RuntimeError: something nobody checked for)" in line
               for line in lines), lines


def test_a_name_that_is_not_utf8_is_printed_escaped_and_stops_nothing(tmp_path):
    """A folder name that is not UTF-8 (Python's lone surrogates) cannot be printed as it is: the
    summary shows it escaped and the others' feedback goes out."""
    root, exchange = tmp_path / "course", tmp_path / "exchange"
    odd = os.fsdecode(b"b\xffb")
    feedback_folder(root, "ada", secret="a1")
    folder = root / "feedback" / odd / ASSIGNMENT
    folder.mkdir(parents=True)
    (folder / NOTEBOOKS[0].replace(".ipynb", ".html")).write_text("<p>feedback</p>")
    (folder / "timestamp.txt").write_text("2026-11-30 20:59:00")
    (folder / "submission_secret.txt").write_bytes(b"\xfe")
    exchange.mkdir()
    exchange.chmod(0o777)
    env = {key: value for key, value in os.environ.items() if not key.startswith("PYTHONIO")}
    done = subprocess.run([sys.executable, "-m", "grading.lms.release_feedback", "--root", str(root),
                           f"--Exchange.root={exchange}", "--CourseDirectory.course_id=gc"],
                          capture_output=True, text=True, errors="replace", env={**env, "LANG": "C.UTF-8"})
    assert done.returncode == 0, done.stdout + done.stderr
    assert "b\\udcffb (its submission_secret.txt is not short printable ASCII" in done.stdout
    assert "released: ada" in done.stdout and released_pages(exchange) == pages_of("ada", "a1")
