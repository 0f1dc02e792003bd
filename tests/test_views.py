"""One number in every view: a Canvas class through `make intake`, `make autograde` and `make export`,
each student's total after the late penalty the same in the grading table, grades.csv, the class
report, the formgrader (its API and its pages in Chromium), Canvas's file and every feedback page
(read by tests/views.py). The class: due 30 November 23:59 in Berlin, 10% a started day after 10
minutes' grace; one student on time, one 2 d 3 h late (30%: 66.5 of 95), one within the grace,
one within her extension, one whose kernel crashes (flagged: grade and feedback wait), one blank.
The roster is Canvas's export saved by Excel (a byte order mark), with a name Excel garbles
without it. One graded batch, the formgrader started once.
"""
import codecs
import csv
import json
import os
import re
import subprocess
import sys
import urllib.request
import zipfile
from pathlib import Path

import pytest

from browser_support import LOOPBACK, JupyterLab
from grading.assignment import ASSIGNMENT, NOTEBOOKS
from grading.plugins.formgrader_guard import AUTOGRADE_ELSEWHERE
from synthetic_class import catalog, demo, synthetic
from views import disagreements, lms_totals, read_views

REPO = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
COLUMN = "Gradient checking (4242)"
DEADLINES = """timezone = "Europe/Berlin"
[gradient_checking]
due = 2026-11-30T23:59:00
grace_minutes = 10
penalty_percent_per_day = 10
no_credit_after_days = 7

[gradient_checking.extensions]
dee = 2026-12-03T23:59:00
"""
NUNEZ = "Núñez-Åström, Beatriz"
# Canvas's gradebook export: the SIS Login IDs are the course's ids.
ROSTER = [["Student", "ID", "SIS User ID", "SIS Login ID", "Section", COLUMN],
          ["    Points Possible", "", "", "", "", "100.00"],
          ["Lovelace, Ada", "1001", "S1", "ada", "A", ""],
          [NUNEZ, "1002", "S2", "bea", "A", ""],
          ["Young, Cy", "1003", "S3", "cy", "A", ""],
          ["Dee, Dee", "1004", "S4", "dee", "A", ""],
          ["Otto, Crash", "1005", "S5", "otto", "A", ""],
          ["Lin, Blank", "1006", "S6", "lin", "A", ""]]
# {student: (LMS id, the name part of Canvas's file names, when Canvas stored the files (Berlin), work)}
ON_TIME = (2026, 11, 30, 21, 58, 0)
CLASS = {
    "ada": ("1001", "lovelaceada", ON_TIME, "complete"),
    "bea": ("1002", "nunezastrombeatriz_late", (2026, 12, 3, 3, 0, 0), "partly"),   # 2 d 3 h late: 30%
    "cy": ("1003", "youngcy_late", (2026, 12, 1, 0, 4, 0), "complete"),              # 5 minutes: the grace
    "dee": ("1004", "deedee_late", (2026, 12, 2, 12, 0, 0), "complete"),             # her extension
    "otto": ("1005", "ottocrash", ON_TIME, "crashing"),
    "lin": ("1006", "linblank", ON_TIME, "blank"),
}
TOTALS = {"ada": 100, "bea": 66.5, "cy": 100, "dee": 100, "otto": 80, "lin": 0}
FLAGGED = "otto"


@pytest.fixture(scope="module", autouse=True)
def default_gradebook():
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("GRADEBOOK_URL", raising=False)
        yield


def work(kind):
    if kind == "crashing":
        return demo.hub_kinds()["crashing"]
    if kind == "partly":   # gradient_check prints nothing: 15 of its 20 points, 95 in all
        mistake = catalog.by_name("gc_prints_never")
        return synthetic.submission({mistake.cell: mistake.code})
    return synthetic.submission(complete=kind != "blank")


def make(root, target, *variables):
    """The course's Makefile target on the course at `root`, with this test's .venv (a course
    copy has none of its own) and the course found through GRADING_COURSE_ROOT, as its commands
    find the repository's."""
    env = {key: value for key, value in os.environ.items() if key != "GRADEBOOK_URL"}
    env["GRADING_COURSE_ROOT"] = str(root)
    done = subprocess.run(["make", "-s", "-C", str(root), "-f", str(REPO / "Makefile"), f"BIN={VENV_BIN}",
                           "-o", f"{VENV_BIN}/.installed", target, *variables], env=env, capture_output=True, text=True)
    assert done.returncode == 0, f"make {target}:\n{done.stdout}\n{done.stderr}"
    return done


@pytest.fixture(scope="module")
def graded(new_course, tmp_path_factory):
    """The class taken in, graded and exported; its views read once, the formgrader's included."""
    folder = tmp_path_factory.mktemp("views")
    root = new_course("views_course")
    (root / "deadlines.toml").write_text(DEADLINES)
    roster = folder / "canvas_export.csv"
    with open(roster, "w", newline="", encoding="utf-8-sig") as handle:   # Excel's "CSV UTF-8"
        csv.writer(handle).writerows(ROSTER)
    archive = folder / "submissions.zip"
    with zipfile.ZipFile(archive, "w") as bundle:
        for student, (lms_id, name, when, kind) in CLASS.items():
            for notebook, content in work(kind).items():
                member = f"{name}_{lms_id}_{7000 + int(lms_id)}_{notebook}"   # Canvas: name, user, attachment
                bundle.writestr(zipfile.ZipInfo(member, date_time=when), json.dumps(content))
    make(root, "intake", f"ZIP={archive}", f"ROSTER={roster}")
    grading = make(root, "autograde", "WORKERS=2")
    exported = make(root, "export", f"COLUMN={COLUMN}")
    lab = JupyterLab(root, folder / "home", folder / "lab.log").start()
    try:
        views = read_views(root, table=grading.stdout, lms_file=root / "exports" / "canvas_grades.csv",
                           lms_column=COLUMN, lab=lab)
        request = urllib.request.Request(
            f"http://127.0.0.1:{lab.port}/formgrader/api/submission/{ASSIGNMENT}/{FLAGGED}/autograde?token={lab.token}",
            data=b"", method="POST")
        with LOOPBACK.open(request) as response:
            refusal = json.load(response)
    finally:
        lab.stop()
    return root, grading, exported, views, refusal


def test_every_view_shows_each_student_the_same_total_after_the_late_penalty(graded):
    _, _, _, views, _ = graded
    assert sorted(views) == sorted(CLASS)
    expected = {"table", "grades.csv", "class report", "formgrader API", "formgrader API notebooks",
                "formgrader submissions", "formgrader students", "formgrader student", "formgrader notebooks",
                "LMS", "feedback notebooks", *(f"feedback {name.removesuffix('.ipynb')}" for name in NOTEBOOKS)}
    for student, found in views.items():
        assert set(found) == expected, (student, expected ^ set(found))
    # The flagged student's LMS cell waits for review; every other view shows the same number.
    assert disagreements(views, allow_missing={"LMS"}) == {}, disagreements(views, allow_missing={"LMS"})
    assert {student: found["grades.csv"] for student, found in views.items()} == TOTALS
    assert {student: found["LMS"] for student, found in views.items()} == {**TOTALS, FLAGGED: None}


def test_a_flagged_grade_waits_for_the_instructor_like_its_feedback(graded):
    root, _, exported, views, _ = graded
    assert f"grade and feedback held back, flagged by verification (grade left empty; review them in the " \
           f"formgrader, then make export RELEASE_FLAGGED=1): {FLAGGED}" in exported.stdout
    with zipfile.ZipFile(root / "exports" / "canvas_feedback.zip") as bundle:
        assert not [name for name in bundle.namelist() if "_1005_" in name]
    try:
        released = make(root, "export", f"COLUMN={COLUMN}", "RELEASE_FLAGGED=1")
        assert "held back" not in released.stdout
        assert lms_totals(root, root / "exports" / "canvas_grades.csv", COLUMN)[FLAGGED] == TOTALS[FLAGGED] \
            == views[FLAGGED]["grades.csv"] == views[FLAGGED]["formgrader submissions"]
        with zipfile.ZipFile(root / "exports" / "canvas_feedback.zip") as bundle:
            assert len([name for name in bundle.namelist() if "_1005_" in name]) == 2
    finally:
        make(root, "export", f"COLUMN={COLUMN}")


def test_the_lms_file_keeps_the_rosters_byte_order_mark(graded):
    root, *_ = graded
    data = (root / "exports" / "canvas_grades.csv").read_bytes()
    assert data.startswith(codecs.BOM_UTF8) and data.count(codecs.BOM_UTF8) == 1
    rows = list(csv.reader(data.decode("utf-8-sig").splitlines()))
    assert rows[0] == ROSTER[0] and rows[3][0] == NUNEZ


def test_the_class_report_counts_after_the_penalty(graded):
    root, *_ = graded
    words = " ".join((root / "reports" / "class_report.html").read_text().split())
    mean = sum(TOTALS.values()) / len(TOTALS)   # 74.42; before the penalty it would be 79.17
    assert f"6 submissions, mean score after the late penalty {mean:.2f} / 100" in words
    # The histogram's bars, as its caption states them: whole students, the last bin ends at 100.
    assert "scores after the late penalty: 0–5: 1, 65–70: 1, 80–85: 1, 95–100: 3." in words


def test_grades_csv_times_carry_their_zone_and_each_students_own_due_date(graded):
    root, *_ = graded
    with open(root / "grades.csv", newline="", encoding="utf-8") as handle:
        rows = {row["student_id"]: row for row in csv.DictReader(handle)}
    assert rows["bea"]["timestamp"] == "2026-12-03 03:00:00+01:00"
    assert rows["bea"]["duedate"] == rows["ada"]["duedate"] == "2026-11-30 23:59:00+01:00"
    assert rows["dee"]["duedate"] == "2026-12-03 23:59:00+01:00", "the extension is her due date"
    assert (rows["bea"]["raw_score"], rows["bea"]["late_submission_penalty"]) == ("95.0", "28.5")


def test_a_normal_run_says_nothing_that_reads_like_lost_data(graded):
    _, grading, *_ = graded
    assert "Warning" not in grading.stdout + grading.stderr, grading.stderr
    # Verification flags only where it changed points: the crashed notebook, no other student.
    rows = [line.split() for line in grading.stdout.splitlines()]
    flagged = {row[0] for row in rows if row and row[0] in CLASS and "FLAGGED" in row}
    assert flagged == {FLAGGED}, grading.stdout


def test_the_formgrader_refuses_autograde_naming_the_commands_that_grade(graded):
    *_, refusal = graded
    assert refusal == {"success": False, "log": "", "error": AUTOGRADE_ELSEWHERE}
    assert re.search(r"In the repository's course: make autograde FORCE=1, .* On the project's JupyterHub, "
                     r"whose course copy has no Makefile: make hub-autograde FORCE=1, run by root", refusal["error"])


def test_the_table_says_on_time_within_the_grace_as_intake_does(graded):
    _, grading, *_ = graded
    [row] = [line for line in grading.stdout.splitlines() if line.startswith("cy ")]
    assert "on time within the 10 minutes' grace" in row and "late" not in row, row
