"""`make demo` leaves the course alone, and the cleanup commands cannot delete real students by accident."""
import json
import subprocess
from pathlib import Path

import pytest

from grading.assignment import ASSIGNMENT, FUNCTIONS
from grading.course_directory import RESULTS_FILE as REPORT
from grading.grader import course, reviewed_config
from synthetic_class import demo, synthetic

MAKEFILE = Path(__file__).resolve().parent.parent / "Makefile"
# What `make demo` printed before the package was laid out by trust zones (issue 11), in FUNCTIONS'
# order: the same submissions keep the same grades, and the same functions are flagged.
DEMO_SCORES = {
    "ada_complete": (5, 5, 20, 25, 20, 25),
    "grace_partly_wrong": (5, 5, 0, 25, 20, 0),
    "kim_part_one_only": (5, 5, 20, 0, 0, 0),
    "lin_blank": (0, 0, 0, 0, 0, 0),
    "mallory_cheating": (0, 5, 20, 25, 20, 25),
    "otto_crashing": (5, 5, 20, 25, 0, 25),
}
DEMO_FLAGGED = {"mallory_cheating": ["forward_propagation"],
                "otto_crashing": ["gradient_check_n", "gradient_check_by_parameter", "backward_propagation_n_fixed"]}


@pytest.fixture(scope="module")
def origin(new_course):
    return new_course("demo_origin")


def test_the_demo_course_is_a_fresh_copy_beside_the_course(origin, tmp_path):
    course.add_submission(origin, "a_real_student", {})
    before = sorted(p.relative_to(origin) for p in origin.rglob("*"))
    root = demo.make_demo_course(tmp_path / "demo", origin)
    stale = root / "submitted" / "left_from_last_time"
    stale.mkdir(parents=True)
    root = demo.make_demo_course(tmp_path / "demo", origin)   # made afresh on every run
    assert sorted(p.name for p in root.iterdir()) == ["nbgrader_config.py", "release", "source"]
    assert (root / "release" / ASSIGNMENT).is_dir() and not stale.exists()
    assert sorted(p.relative_to(origin) for p in origin.rglob("*")) == before, "the course is untouched"
    assert reviewed_config.require_reviewed(root) == "", "its configuration is the course's, reviewed"


def test_the_demo_refuses_a_course_configuration_nobody_reviewed(origin, tmp_path):
    reviewed_config.require_reviewed(origin)
    reviewed = (origin / "nbgrader_config.py").read_text()
    try:
        (origin / "nbgrader_config.py").write_text(reviewed + "\n# changed\n")
        with pytest.raises(reviewed_config.ConfigNotReviewed):
            demo.make_demo_course(tmp_path / "demo", origin)
        assert not (tmp_path / "demo").exists()
    finally:
        (origin / "nbgrader_config.py").write_text(reviewed)


def test_the_demo_grades_into_its_own_gradebook_whatever_gradebook_url_says(origin, tmp_path, monkeypatch):
    """An instructor who exported GRADEBOOK_URL for the course's PostgreSQL gradebook runs `make
    demo`: the synthetic class goes to demo/gradebook.db and the course's gradebook gets nothing."""
    course_gradebook = tmp_path / "course_gradebook.db"   # stands in for the course's PostgreSQL database
    monkeypatch.setenv("GRADEBOOK_URL", f"sqlite:///{course_gradebook}")
    # One blank student, no feedback pages: enough to see where grades go, in a fraction of the demo's time.
    monkeypatch.setattr(demo, "demo_students", lambda: {"lin_blank": synthetic.submission(complete=False)})
    grade = demo.autograde.main
    monkeypatch.setattr(demo.autograde, "main", lambda argv: grade([*argv, "--no-feedback", "--quiet"]))
    assert demo.main(tmp_path / "demo", origin) == 0
    assert not course_gradebook.exists(), "the demo wrote into the course's gradebook"
    assert course.scores(tmp_path / "demo")["lin_blank"], "the demo's own gradebook holds its class"


def test_the_demo_class_gets_the_grades_it_always_got(origin, tmp_path, monkeypatch):
    # demo.main points GRADEBOOK_URL at the demo's gradebook; set here too, it is undone afterwards.
    monkeypatch.setenv("GRADEBOOK_URL", f"sqlite:///{tmp_path / 'demo' / 'gradebook.db'}")
    grade = demo.autograde.main
    monkeypatch.setattr(demo.autograde, "main", lambda argv: grade([*argv, "--no-feedback", "--quiet"]))
    assert demo.main(tmp_path / "demo", origin) == 0
    scores = course.scores(tmp_path / "demo")
    assert {s: tuple(row[f] for f in FUNCTIONS) for s, row in scores.items()} == DEMO_SCORES
    report = json.loads((tmp_path / "demo" / REPORT).read_text())
    flagged = {r["student"]: [flag.split(":")[0] for flag in r["flags"]] for r in report if r["flags"]}
    assert flagged == DEMO_FLAGGED


def test_clean_students_deletes_nothing_unless_confirmed(tmp_path):
    work = tmp_path / "submitted" / "ada" / ASSIGNMENT / "1_gradient_checking_1d.ipynb"
    work.parent.mkdir(parents=True)
    work.write_text("{}")
    refused = subprocess.run(["make", "-s", "-C", str(tmp_path), "-f", str(MAKEFILE), "clean-students"],
                             capture_output=True, text=True)
    assert refused.returncode != 0 and "CONFIRM=yes" in refused.stdout
    assert work.exists()
    done = subprocess.run(["make", "-s", "-C", str(tmp_path), "-f", str(MAKEFILE), "clean-students", "CONFIRM=yes"],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert not (tmp_path / "submitted").exists()
