"""Nothing the instructor's browser does changes how grading runs without the instructor seeing it.

A script that ran in a page of the instructor's Jupyter could write the course's
nbgrader_config.py through the server's contents API, and nbgrader executes that file in the
grader's own process. The grader refuses a configuration that differs from the one last reviewed
(grading/grader/config_review.py): here the file is changed through a real Jupyter server's API, as such
a script would, and the real commands refuse to run it until the instructor accepts a change.
"""
import json
import os
import subprocess
import sys
import urllib.request
from pathlib import Path

from browser_support import JupyterLab, LOOPBACK
from grading.grader import config_review, course, gradebook
from synthetic_class import synthetic


def run(*command):
    env = {key: value for key, value in os.environ.items() if key != "GRADEBOOK_URL"}
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    return subprocess.run(command, env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL)


def autograde(root):
    return run(sys.executable, "-m", "grading.grader.autograde", "--root", str(root), "--quiet", "--no-feedback",
               "--workers", "1")


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
    shown = config_review.difference({"a.py": "x = 1\n"}, {"a.py": "x = 1\n# \x1b[2K\x1b[1Afake\n"})
    assert "\x1b" not in shown and "+# \\x1b[2K\\x1b[1Afake" in shown


def test_the_record_is_kept_outside_the_course(tmp_path):
    assert tmp_path not in config_review.record_path(tmp_path).parents
    assert Path(os.environ["XDG_STATE_HOME"]) in config_review.record_path(tmp_path).parents
