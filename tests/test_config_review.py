"""Nothing the instructor's browser does changes how grading runs without the instructor seeing it.

A script that ran in a page of the instructor's Jupyter could write the course's
nbgrader_config.py through the server's contents API, and nbgrader executes that file in the
grader's own process. The grader refuses a configuration that differs from the one last reviewed
(grading/grader/reviewed_config.py): here the file is changed through a real Jupyter server's API, as such
a script would, and the real commands refuse to run it until the instructor accepts a change.
"""
import json
import os
import shutil
import sys
import urllib.request
from pathlib import Path

from browser_support import JupyterLab, LOOPBACK
from commands import autograde as autograde_command, run

from grading.grader import course, gradebook, reviewed_config
from synthetic_class import synthetic


ROOT = Path(__file__).resolve().parent.parent


def autograde(root):
    return autograde_command(root, "--no-feedback", "--workers", "1")


def put_file(lab, path, text):
    """Write `path` (relative to the server's root) through the Jupyter contents API."""
    body = json.dumps({"type": "file", "format": "text", "content": text}).encode()
    request = urllib.request.Request(lab.api_url(f"contents/{path}"), data=body, method="PUT",
                                     headers={"Content-Type": "application/json"})
    with LOOPBACK.open(request, timeout=30) as response:
        assert response.status in (200, 201)


def graded_students(root):
    return set(gradebook.graded_students(gradebook.normalized(gradebook.configured_url(root))))


def test_a_configuration_changed_through_the_browser_is_refused_until_accepted(new_course, tmp_path):
    root = new_course("config_review")
    first = autograde(root)   # nothing to grade yet: the configuration is recorded all the same
    assert first.returncode == 0, first.stderr
    assert "First run in this course" in first.stdout
    reviewed = (root / "nbgrader_config.py").read_text()

    canary = tmp_path / "canary-config-ran"
    attack = reviewed + f"\nopen({str(canary)!r}, 'w').write('the grader ran this')\n"
    lab = JupyterLab(root, tmp_path / "home", tmp_path / "lab.log").start()
    try:
        put_file(lab, "nbgrader_config.py", attack)
        assert (root / "nbgrader_config.py").read_text() == attack

        course.add_submission(root, "second", synthetic.submission())
        refused = autograde(root)
        assert refused.returncode == 3, refused.stdout + refused.stderr
        assert f"+open({str(canary)!r}" in refused.stderr and "Nothing was graded" in refused.stderr
        intake = run(sys.executable, "-m", "grading.lms.intake", str(tmp_path / "any.zip"),
                     "--roster", str(tmp_path / "any.csv"), "--root", str(root))
        assert intake.returncode == 3 and "Nothing was graded" in intake.stderr, intake.stderr
        # Shown, not accepted, when nobody answers.
        review = run(sys.executable, "-m", "grading.grader.config_review", "--root", str(root))
        assert review.returncode == 1 and "+open(" in review.stdout and "Not accepted" in review.stdout
        assert autograde(root).returncode == 3
        assert not canary.exists(), "the changed configuration ran in the grader"

        put_file(lab, "nbgrader_config.py", reviewed)   # the instructor undoes the change
    finally:
        lab.stop()
    assert graded_students(root) == set()   # checked only once the file is the reviewed one again
    again = autograde(root)
    assert again.returncode == 0, again.stderr
    assert graded_students(root) == {"second"}

    # A change the instructor makes on purpose runs once accepted (the class report, which loads the
    # configuration too, stands for every command here: grading again would take a while).
    (root / "nbgrader_config.py").write_text(reviewed + "\n# the cell timeout is fine as it is\n")
    report = [sys.executable, "-m", "grading.grader.report", "--root", str(root)]
    assert run(*report).returncode == 3 and autograde(root).returncode == 3
    accepted = run(sys.executable, "-m", "grading.grader.config_review", "--root", str(root), "--accept")
    assert accepted.returncode == 0 and "Accepted" in accepted.stdout, accepted.stdout
    assert run(*report).returncode == 0
    assert not canary.exists()


def test_the_difference_is_printed_without_control_characters(tmp_path):
    shown = reviewed_config.difference({"a.py": "x = 1\n"}, {"a.py": "x = 1\n# \x1b[2K\x1b[1Afake\n"})
    assert "\x1b" not in shown and "+# \\x1b[2K\\x1b[1Afake" in shown


def test_the_record_is_kept_outside_the_course(tmp_path):
    assert tmp_path not in reviewed_config.record_path(tmp_path).parents
    assert Path(os.environ["XDG_STATE_HOME"]) in reviewed_config.record_path(tmp_path).parents


def repository_copy(destination):
    """What make release and make autograde use of the repository, copied, its .venv the real one
    (linked): a course of its own, for the real make commands."""
    destination.mkdir()
    for name in ("Makefile", "nbgrader_config.py", "deadlines.toml", "pyproject.toml", "requirements.txt"):
        shutil.copy2(ROOT / name, destination / name)
    for name in ("grading", "source", "release", "jupyter-config"):
        shutil.copytree(ROOT / name, destination / name, ignore=shutil.ignore_patterns("__pycache__", ".ipynb_checkpoints"))
    (destination / ".venv").symlink_to(ROOT / ".venv")
    return destination


def test_helpers_of_source_are_recorded_by_make_release_and_refused_changed_until_accepted(tmp_path):
    """The grader imports source/gradient_checking/gc_feedback.py and gc_utils.py in its own
    processes. make release records them as reviewed; changed afterwards (through the instructor's
    Jupyter, say: here to write a canary when imported), make autograde refuses before importing
    them, with the difference, until make review-config accepts the change; make release again
    accepts a change too."""
    repository = repository_copy(tmp_path / "repository")
    canary = tmp_path / "canary-helpers-ran"

    def make(*target):
        return run("make", "-s", "-o", ".venv/bin/.installed", *target, cwd=repository)

    released = make("release")
    assert released.returncode == 0 and "Recorded as reviewed (make release)" in released.stdout, released.stderr
    assert make("autograde").returncode == 0   # nothing to grade: the configuration is recorded all the same

    helpers = repository / "source" / "gradient_checking" / "gc_feedback.py"
    reviewed = helpers.read_text()
    helpers.write_text(reviewed + f"\nopen({str(canary)!r}, 'w').write('the grader ran this')\n")
    refused = make("autograde")
    assert "Error 3" in refused.stderr, refused.stdout + refused.stderr   # make's word for the refusal's status
    assert f"{helpers} (reviewed)" in refused.stderr and f"+open({str(canary)!r}" in refused.stderr
    assert "Nothing was graded" in refused.stderr and "make review-config" in refused.stderr
    shown = make("review-config")   # shown, not accepted, when nobody answers
    assert "Error 1" in shown.stderr and f"+open({str(canary)!r}" in shown.stdout and "Not accepted" in shown.stdout
    assert not canary.exists(), "the changed helpers ran before they were reviewed"
    accepted = make("review-config", "ACCEPT=1")
    assert accepted.returncode == 0 and "Accepted" in accepted.stdout
    assert make("autograde").returncode == 0 and canary.exists(), "accepted, they are the grader's"

    helpers.write_text(reviewed + "\n# worded better\n")
    assert "Error 3" in make("autograde").stderr
    released = make("release")
    assert released.returncode == 0, released.stderr
    assert f"changed since last recorded: {helpers} (-1 +1 lines)" in released.stdout, released.stdout
    assert make("autograde").returncode == 0
