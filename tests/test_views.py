"""One number in every view, for the classes instructors really have (issue 26): a Canvas class and
a Moodle class, each taken in, graded and exported by the documented commands (`make intake` of
each download, `make autograde`, `make export`), and each student's total after the late penalty
found the same in the six views: the grading table, grades.csv, the class report, the formgrader
(its API and its pages in Chromium), the LMS's file and every feedback page (tests/views.py).

Both classes are due 30 November 23:59 in Berlin, with 10 minutes' grace and 10% a started day
(demo.deadlines_toml). The Canvas class comes in two downloads, kept in a folder whose name holds
quotes, `$` and an umlaut: `submissions.zip`, then the newer one, which a browser names
`submissions (1).zip`, then the first again (older: nobody's newer work is rolled back). Its
students: Beatriz Núñez-Åström, 2 d 3 h late (30%: 66.5 of 95); Cy within the grace, her older
notebook 1 with a mistake beside a newer `1_gradient_checking_1d (1).ipynb`, her notebook 2
titled with her name; Dee within her extension, with Jupyter's `-Copy1` and Google Drive's
`Copy of ...`, stripped of its metadata; Eli, who resubmitted (Canvas names the files
`-1`) 31 minutes late; Otto, whose kernel crashes (flagged: his grade and feedback wait); Kim, who
sent notebook 1 only; and Canvas's Test Student, in the roster and the downloads, left out. The
roster is Canvas's export saved by Excel (a byte order mark) under a name with quotes and `$`,
and so is the grade column's name. The Moodle class, from Moodle's downloads and grading
worksheet, is smaller: Ana's renamed notebooks within her extension, Ben's resubmission in the
second download (late), Ole's crash, Kit's notebook 1 alone within the grace.

One graded batch and one formgrader per class; the flagged grades released once. The last Canvas
tests change the course (deadlines.toml, an older download taken): they come last.
"""
import codecs
import csv
import json
import re
import shutil
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import pytest
from nbgrader.api import Gradebook

from browser_support import LOOPBACK, JupyterLab
from grading.assignment import ASSIGNMENT, NOTEBOOKS
from grading.grader import autograde
from grading.lms.lms_files import EXTRACTED, PREVIOUS, ROSTER_COPY
from grading.plugins.formgrader_guard import AUTOGRADE_ELSEWHERE
from lms_downloads import (NB1, NB2, canvas_member, make, make_download, moodle_member, notebook_bytes, stripped, work,
                           write_csv)
from synthetic_class import demo
from views import disagreements, lms_totals, read_views, table_totals

DUE = (2026, 11, 30, 23, 59, 0)   # Berlin
ON_TIME = (2026, 11, 30, 21, 58, 0)
STRANGE = "Kurs \"GC\" $HOME 'x' Ü"                     # the folder the instructor downloads to
# Every view read_views gives a student with both notebooks graded (feedback: a page per notebook).
VIEWS = {"table", "grades.csv", "class report", "formgrader API", "formgrader API notebooks", "formgrader submissions",
         "formgrader students", "formgrader student", "formgrader notebooks", "LMS", "feedback notebooks",
         *(f"feedback {name.removesuffix('.ipynb')}" for name in NOTEBOOKS)}

# ---------------------------------------------------------------------------------------------
# The Canvas class

COLUMN = "Gradient checking \"Teil 1\" $HOME (4242)"
NUNEZ = "Núñez-Åström, Beatriz"
CANVAS_ROSTER = [   # Canvas's gradebook export: the SIS Login IDs are the course's ids; its test student last
    ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", COLUMN],
    ["    Points Possible", "", "", "", "", "100.00"],
    [NUNEZ, "102", "S102", "bea", "A", ""],
    ["Young, Cy", "103", "S103", "cy", "A", ""],
    ["Dee, Dee", "104", "S104", "dee", "A", ""],
    ["Eliot, Eli", "105", "S105", "eli", "A", ""],
    ["Otto, Crash", "106", "S106", "otto", "A", ""],
    ["Kim, Part", "107", "S107", "kim", "A", ""],
    ["Student, Test", "199", "", "", "A", ""],
]
# The names students' notebooks really have: a browser's second download, a title with the student's
# own name, Jupyter's "Duplicate", Google Drive's "Copy of"; Canvas's names for files sent again.
SECOND_1D, TITLED_ND = "1_gradient_checking_1d (1).ipynb", "Gradient Checking Teil 2 – Cy Young.ipynb"
COPY_1D, COPY_OF_ND = "1_gradient_checking_1d-Copy1.ipynb", "Copy of 2_gradient_checking_nd.ipynb"
RESENT_1D, RESENT_ND = "1_gradient_checking_1d-1.ipynb", "2_gradient_checking_nd-1.ipynb"
IN_GRACE, EXTENDED, LATE_31, LATE_2D = (2026, 12, 1, 0, 4, 0), (2026, 12, 2, 12, 0, 0), (2026, 12, 1, 0, 30, 0), \
    (2026, 12, 3, 3, 0, 0)
# Each file of a download: (sortable name, user id, attachment id, file name, work, notebook, time)
FIRST = [
    ("youngcy", 103, 7003, NB1, "mistake", NB1, (2026, 11, 30, 21, 0, 0)),   # her older notebook 1
    ("youngcy", 103, 7004, SECOND_1D, "complete", NB1, IN_GRACE),
    ("youngcy", 103, 7005, TITLED_ND, "complete", NB2, IN_GRACE),
    ("elioteli", 105, 7006, NB1, "mistake", NB1, (2026, 11, 30, 23, 41, 0)),  # before he resubmitted
    ("elioteli", 105, 7007, NB2, "complete", NB2, (2026, 11, 30, 23, 41, 0)),
    ("ottocrash", 106, 7008, NB1, "crashing", NB1, ON_TIME),
    ("ottocrash", 106, 7009, NB2, "crashing", NB2, ON_TIME),
    ("kimpart", 107, 7010, NB1, "part one", NB1, ON_TIME),
    ("studenttest", 199, 7011, NB1, "complete", NB1, ON_TIME),
]
SECOND = [row for row in FIRST if row[0] != "elioteli"] + [
    ("nunezastrombeatriz", 102, 7020, NB1, "partly", NB1, LATE_2D),
    ("nunezastrombeatriz", 102, 7021, NB2, "partly", NB2, LATE_2D),
    ("deedee", 104, 7022, COPY_1D, "complete", NB1, EXTENDED),
    ("deedee", 104, 7023, COPY_OF_ND, "stripped", NB2, EXTENDED),
    ("elioteli", 105, 7024, RESENT_1D, "complete", NB1, LATE_31),
    ("elioteli", 105, 7025, RESENT_ND, "complete", NB2, LATE_31),
]
CANVAS_TOTALS = {"bea": 66.5, "cy": 100, "dee": 100, "eli": 90, "otto": 80, "kim": 30}
CANVAS_DEADLINES = demo.deadlines_toml({"dee": "2026-12-03T23:59:00"})


def notebook_of(kind, notebook):
    if kind == "stripped":
        return stripped(notebook_bytes(work("complete")[notebook]))
    return notebook_bytes(work(kind)[notebook])


def canvas_download(path, rows):
    """Canvas's download of `rows`, each file marked late (LATE_) when its time is after the due date."""
    return make_download(path, {canvas_member(name, lms_id, attachment, file, late=when > DUE):
                                (notebook_of(kind, notebook), when)
                                for name, lms_id, attachment, file, kind, notebook, when in rows})


@dataclass
class Graded:
    """A class taken in, graded and exported."""
    root: Path
    folder: Path        # where its downloads and roster are
    roster: Path
    lms_file: Path      # the grades make export wrote for the LMS (a copy: the flagged grade held back)
    bundle: Path        # the feedback pages make export zipped for the LMS (a copy, as lms_file)
    column: str
    printed: dict       # {step: the CompletedProcess of its make}
    views: dict         # read_views(...), the flagged grade held back
    refusal: dict       # the formgrader's answer to Autograde
    released: dict      # after make export RELEASE_FLAGGED=1: {"LMS": lms_totals(...), "bundle": its member names}


@pytest.fixture(scope="module", autouse=True)
def default_gradebook():
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("GRADEBOOK_URL", raising=False)
        yield


def take_in_grade_and_export(root, folder, roster, downloads, column, lms, flagged):
    """`make intake` of each of `downloads` ((step, zip)), `make autograde`, `make export` (for
    `lms`: "canvas" or "moodle"); the views read with the formgrader served once, and the LMS's
    files kept aside; then the LMS's files as `make export RELEASE_FLAGGED=1` writes them. Returns Graded."""
    exported = root / "exports" / ("canvas_grades.csv" if lms == "canvas" else "moodle_grading_worksheet.csv")
    lms_file, bundle = folder / "held back" / exported.name, folder / "held back" / f"{lms}_feedback.zip"
    columns = [f"COLUMN={column}"] if column else []
    printed = {step: make(root, "intake", f"ZIP={download}", f"ROSTER={roster}") for step, download in downloads}
    printed["autograde"] = make(root, "autograde", "WORKERS=2", "SIMILARITY=0.5")
    printed["export"] = make(root, "export", *columns)
    lab = JupyterLab(root, folder / "home", folder / "lab.log").start()
    try:
        views = read_views(root, table=printed["autograde"].stdout, lms_file=exported,
                           lms_column=column or ASSIGNMENT, lab=lab)
        request = urllib.request.Request(
            f"http://127.0.0.1:{lab.port}/formgrader/api/submission/{ASSIGNMENT}/{flagged}/autograde?token={lab.token}",
            data=b"", method="POST")
        with LOOPBACK.open(request) as response:
            refusal = json.load(response)
    finally:
        lab.stop()
    lms_file.parent.mkdir()
    for kept in (lms_file, bundle):
        shutil.copy(root / "exports" / kept.name, kept)
    printed["released"] = make(root, "export", *columns, "RELEASE_FLAGGED=1")
    with zipfile.ZipFile(root / "exports" / bundle.name) as pages:
        released = {"LMS": lms_totals(root, exported, column or ASSIGNMENT), "bundle": pages.namelist()}
    return Graded(root, folder, roster, lms_file, bundle, column, printed, views, refusal, released)


@pytest.fixture(scope="module")
def canvas(new_course, tmp_path_factory):
    root = new_course("canvas")
    (root / "deadlines.toml").write_text(CANVAS_DEADLINES)
    folder = tmp_path_factory.mktemp("canvas") / STRANGE
    folder.mkdir()
    roster = write_csv(folder / "Roster \"2026\" $USER Ü.csv", CANVAS_ROSTER, "utf-8-sig")   # Excel's "CSV UTF-8"
    first = canvas_download(folder / "submissions.zip", FIRST)
    second = canvas_download(folder / "submissions (1).zip", SECOND)
    return take_in_grade_and_export(root, folder, roster, [("first", first), ("second", second), ("older", first)],
                                    COLUMN, "canvas", "otto")


def expected_views(totals, flagged, part_one):
    """{student: {view: total}} as a class's views must read: every view, one total; the flagged
    student's LMS cell empty; no page of notebook 2 for the student who sent notebook 1 only."""
    no_page = f"feedback {NB2.removesuffix('.ipynb')}"
    return {student: {view: None if (student, view) == (flagged, "LMS") else total
                      for view in VIEWS if (student, view) != (part_one, no_page)}
            for student, total in totals.items()}


def test_canvas_every_student_has_one_total_in_every_view(canvas):
    """The issue's one assertion: every student across the six views, one number, the penalty
    taken; the flagged student's LMS cell empty until make export RELEASE_FLAGGED=1, then the same."""
    assert canvas.views == expected_views(CANVAS_TOTALS, "otto", "kim"), disagreements(canvas.views, {"LMS"})
    assert canvas.released["LMS"] == CANVAS_TOTALS


def flagged_waits(graded, flagged, pages_of):
    """A flagged student's feedback, like their grade, is out of the LMS's files until released."""
    assert f"grade and feedback held back, flagged by verification (grade left empty; review them in the " \
           f"formgrader, then make export RELEASE_FLAGGED=1): {flagged}" in graded.printed["export"].stdout
    with zipfile.ZipFile(graded.bundle) as bundle:
        assert not [name for name in bundle.namelist() if pages_of in name]
    assert "held back" not in graded.printed["released"].stdout
    assert len([name for name in graded.released["bundle"] if pages_of in name]) == 2


def test_canvas_a_flagged_grade_waits_for_the_instructor_like_its_feedback(canvas):
    flagged_waits(canvas, "otto", "_106_")


def missing_notebook_said(graded, student):
    """The page of notebook 1 of a student who sent no notebook 2 names it with its 70 points and
    states the total; there is no page of notebook 2."""
    folder = graded.root / "feedback" / student / ASSIGNMENT
    assert [p.name for p in folder.glob("*.html")] == [NB1.replace(".ipynb", ".html")]
    words = " ".join(re.sub(r"<[^>]+>", " ", (folder / NB1.replace(".ipynb", ".html")).read_text()).split())
    assert f"{NB2.removesuffix('.ipynb')} 0 / 70 Not graded: it was not in your submission. Its 70 points are " \
           f"lost." in words and "Total 30 / 100" in words, words[:2000]


def test_canvas_a_missing_notebook_is_named_with_its_points(canvas):
    missing_notebook_said(canvas, "kim")
    assert f"kim sent no {NB2}" in canvas.printed["second"].stdout


def test_canvas_the_lms_file_keeps_the_rosters_byte_order_mark_and_its_cells(canvas):
    data = canvas.lms_file.read_bytes()
    assert data.startswith(codecs.BOM_UTF8) and data.count(codecs.BOM_UTF8) == 1
    rows = list(csv.reader(data.decode("utf-8-sig").splitlines()))
    assert [row[:5] for row in rows] == [row[:5] for row in CANVAS_ROSTER] and rows[0] == CANVAS_ROSTER[0]
    # The column named with quotes and `$`, filled; the flagged student's and the test student's empty.
    assert [row[-1] for row in rows[1:]] == ["100.00", "66.50", "100.00", "100.00", "90.00", "", "30.00", ""]
    assert "no graded submission" not in canvas.printed["export"].stdout


def test_canvas_the_class_report_counts_after_the_penalty(canvas):
    words = " ".join((canvas.root / "reports" / "class_report.html").read_text().split())
    mean = sum(CANVAS_TOTALS.values()) / len(CANVAS_TOTALS)   # 77.75; before the penalty it would be 84.17
    assert f"6 submissions, mean score after the late penalty {mean:.2f} / 100" in words
    # The histogram's bars, as its caption states them: whole students, the last bin ends at 100.
    assert "scores after the late penalty: 30–35: 1, 65–70: 1, 80–85: 1, 90–95: 1, 95–100: 2." in words


def grades_csv(root):
    with open(root / "grades.csv", newline="", encoding="utf-8") as handle:
        return {row["student_id"]: row for row in csv.DictReader(handle)}


def test_canvas_grades_csv_times_carry_their_zone_and_each_students_own_due_date(canvas):
    rows = grades_csv(canvas.root)
    assert rows["bea"]["timestamp"] == "2026-12-03 03:00:00+01:00"
    assert rows["bea"]["duedate"] == rows["cy"]["duedate"] == "2026-11-30 23:59:00+01:00"
    assert rows["dee"]["duedate"] == "2026-12-03 23:59:00+01:00", "the extension is her due date"
    assert (rows["bea"]["raw_score"], rows["bea"]["late_submission_penalty"]) == ("95.0", "28.5")


def flags_and_warnings(graded, flagged):
    """A normal run says nothing that reads like lost data, and verification flags only where it
    changed points: the crashed notebook, no other student."""
    grading = graded.printed["autograde"]
    assert "Warning" not in grading.stdout + grading.stderr, grading.stderr
    rows = [line.split() for line in grading.stdout.splitlines()]
    assert {row[0] for row in rows if row and row[0] in graded.views and "FLAGGED" in row} == {flagged}, grading.stdout


def test_canvas_a_normal_run_says_nothing_that_reads_like_lost_data(canvas):
    flags_and_warnings(canvas, "otto")


def test_canvas_the_formgrader_refuses_autograde_naming_the_commands_that_grade(canvas):
    assert canvas.refusal == {"success": False, "log": "", "error": AUTOGRADE_ELSEWHERE}
    assert re.search(r"In the repository's course: make autograde FORCE=1, .* On the project's JupyterHub, "
                     r"whose course copy has no Makefile: make hub-autograde FORCE=1, run by root",
                     canvas.refusal["error"])


def table_row(graded, student):
    [row] = [line for line in graded.printed["autograde"].stdout.splitlines() if line.startswith(f"{student} ")]
    return row


def test_canvas_renamed_notebooks_are_graded_as_the_notebooks_they_are(canvas):
    """Cy's and Dee's notebooks, whatever their names or metadata, score what Eli's do; of Cy's
    two notebooks 1 the newer is graded, not the older one with a mistake, and both are named;
    intake, the table and the report say which file was graded as which notebook; the similarity
    report reads the same files."""
    said = {"cy": ("first", [f"{SECOND_1D} graded as {NB1}; not graded: {NB1} (older).",
                             f"{TITLED_ND} graded as {NB2} (found by its cells)."]),
            "dee": ("second", [f"{COPY_1D} graded as {NB1} (found by its cells).",
                               f"{COPY_OF_ND} graded as {NB2} (found by its cells)."])}
    results = {r["student"]: r for r in json.loads((canvas.root / "reports" / "autograde.json").read_text())}
    for student, (intake, sentences) in said.items():
        for sentence in sentences:
            assert f"\n    {sentence}\n" in canvas.printed[intake].stdout, canvas.printed[intake].stdout
            assert sentence in results[student]["problems"], results[student]
        assert sentences[0][:40] in table_row(canvas, student) and not results[student]["flags"]
    assert f"{NB2} had lost the nbgrader metadata of 7 cells: it was given back from the assignment, by their " \
           "cell ids." in results["dee"]["problems"]
    # make autograde SIMILARITY=0.5 hands its threshold on; the renamed notebooks are compared too.
    assert re.search(r"Similarity: .*\(\d+ pairs at or above 50%\)", canvas.printed["autograde"].stdout)
    page = " ".join((canvas.root / "reports" / "similarity.html").read_text().split())
    assert "cy and dee: 100%" in page and "cy and eli: 100%" in page
    assert '<a href="similarity.html">' in (canvas.root / "reports" / "class_report.html").read_text()
    with pytest.raises(SystemExit):   # a percentage is refused, not taken for "never"
        autograde.parse_args(["--similarity-threshold", "75"])


def test_canvas_resubmission_replaces_the_older_work(canvas):
    """Eli's second submission, named by Canvas with -1, replaces his first: graded (late), his first
    kept aside as the download it came in."""
    second = canvas.printed["second"].stdout
    assert f"  eli: 2 files: {NB1} (resubmission 1), {NB2} (resubmission 1), submitted 2026-12-01 00:30 CET  [late]" \
        in second, second
    assert "Collected 6 students into submitted/ (2 new, 1 updated, 3 unchanged):" in second
    assert re.search(r"The updated students' earlier files are saved in \S+/\.", second)


def test_canvas_make_takes_any_path_and_the_test_student_is_left_out(canvas):
    root, second = canvas.root, canvas.printed["second"].stdout
    assert "Canvas download, kept as downloaded/gradient_checking/archive/submissions_1.zip" in second
    # The first download, taken in again, is archive/'s now; the second went to previous/.
    [kept] = (root / PREVIOUS).glob("*_submissions_1.zip")
    assert kept.read_bytes() == (canvas.folder / "submissions (1).zip").read_bytes()
    assert (root / ROSTER_COPY).read_bytes() == canvas.roster.read_bytes()
    # Canvas's test student: in neither the gradebook nor submitted/, named with its files at every intake.
    for step, stem in (("first", "submissions"), ("second", "submissions_1"), ("older", "submissions")):
        assert (f"Left out: Test Student (LMS id 199, roster line 9), Canvas's test student (Student View): named "
                f"Student, Test, without a login; not a student, not in the gradebook; its files left in "
                f"downloaded/: {EXTRACTED.as_posix()}/{stem}/studenttest_199_7011_{NB1}") in canvas.printed[step].stdout
        assert "not on the roster" not in canvas.printed[step].stdout
    assert sorted(p.name for p in (root / "submitted").iterdir()) == sorted(CANVAS_TOTALS)
    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as book:
        names = {s.id: (s.first_name, s.last_name, s.lms_user_id) for s in book.students}
    assert sorted(names) == sorted(CANVAS_TOTALS) and names["bea"] == ("Beatriz", "Núñez-Åström", None)


def test_canvas_lateness_is_the_course_rule_wherever_it_is_said(canvas):
    """Intake's late list applies the grace and the extension as grading does: Cy (within the
    grace) and Dee (extended) are on time in both, though Canvas marks them late; Beatriz and Eli
    are late in both, and their penalty is stated in the table, the class report and their pages
    only."""
    second = canvas.printed["second"].stdout
    assert ("\nLate: bea (2 d 3 h after 2026-11-30 23:59 CET), eli (31 min after 2026-11-30 23:59 CET)\n"
            "On time by their extension or the grace in deadlines.toml: cy (5 min after 2026-11-30 23:59 CET, within "
            "the 10 minutes' grace), dee (extended to 2026-12-03 23:59 CET)\n") in second, second
    assert second.count("[late]") == 2
    penalties = {s: float(row["late_submission_penalty"]) for s, row in grades_csv(canvas.root).items()}
    assert {s: penalties[s] for s in ("bea", "cy", "dee", "eli")} == {"bea": 28.5, "cy": 0.0, "dee": 0.0, "eli": 10.0}
    # The zip's Berlin time, in UTC as nbgrader keeps it.
    assert (canvas.root / "submitted" / "bea" / ASSIGNMENT / "timestamp.txt").read_text() == "2026-12-03 02:00:00"
    assert re.search(r" -28.5 +66.5  2 d 3 h late \(due 2026-11-30 23:59 CET\): -28.5 points$",
                     table_row(canvas, "bea"))
    report = (canvas.root / "reports" / "class_report.html").read_text()
    assert "2 d 3 h late (due 2026-11-30 23:59 CET): -28.5 points</td><td>66.5</td>" in report
    assert "late policy: 10% of the score per day late (or part of a day), no credit after 7 days, 10 minutes&#x27; " \
           "grace; totals are after the late penalty." in report
    penalised = {page.parent.parent.name for page in (canvas.root / "feedback").glob(f"*/{ASSIGNMENT}/*.html")
                 if "Late submission penalty" in page.read_text()}
    assert penalised == {"bea", "eli"}


def test_canvas_the_table_says_on_time_within_the_grace_as_intake_does(canvas):
    row = table_row(canvas, "cy")
    assert "on time within the 10 minutes' grace" in row and "late" not in row, row


def test_canvas_an_older_download_keeps_the_newer_work(canvas):
    """The first download taken in again after the second: Eli's resubmission stays (and is what
    every view shows: 90, not his first submission's 80), and the summary says so."""
    older = canvas.printed["older"].stdout
    assert ("  eli: this download's submission (2026-11-30 23:41 CET) is older than the one in the course "
            "(2026-12-01 00:30 CET): the newer one is kept; to take the older one: make intake ... OLDER=1 "
            "(--take-older)\n") in older, older
    assert "(0 new, 0 updated, 3 unchanged)" in older and "no submission in this download: eli" not in older
    assert "  no submission in this download: bea (the earlier one in submitted/ is kept)\n" in older
    assert (canvas.root / "submitted" / "eli" / ASSIGNMENT / "timestamp.txt").read_text() == "2026-11-30 23:30:00"
    assert CANVAS_TOTALS["eli"] == canvas.views["eli"]["grades.csv"]


def canvas_reupload_reading(member):
    """(user id, attachment id) that Canvas's "Re-Upload Submissions" reads from a zip member, or
    None where it ignores the file: the first two all-digit `_`-separated tokens of the base name
    (Assignment#infer_comment_context_from_filename), no attachment for a last token starting with
    "link" or a name starting with "._". Written here from Canvas's rule, not with the intake's parser."""
    name = PurePosixPath(member).name
    tokens = name.split("_")
    ids = [int(token) for token in tokens if re.fullmatch(r"[0-9]+", token)][:2]
    if len(ids) < 2 or tokens[-1].startswith("link") or name.startswith("._"):
        return None
    return tuple(ids)


def pages_by_lms_id(graded, students):
    """{(LMS id, page name): bytes} of the feedback pages of `students` ({LMS id: student})."""
    return {(lms_id, page.name): page.read_bytes() for lms_id, student in students.items()
            for page in (graded.root / "feedback" / student / ASSIGNMENT).glob("*.html")}


def test_canvas_feedback_goes_back_named_as_canvas_named_the_download(canvas):
    """Canvas files each page under the student and the submitted file its name carries: one of the
    files of the student's latest download; every page but the flagged student's."""
    attachments = {}
    for _, lms_id, attachment, *_ in SECOND:
        attachments.setdefault(lms_id, set()).add(attachment)
    filed = {}
    with zipfile.ZipFile(canvas.bundle) as bundle:
        for member in bundle.namelist():
            lms_id, attachment = canvas_reupload_reading(member)
            assert attachment in attachments[lms_id], member
            filed[(lms_id, member.split("_feedback_")[1])] = bundle.read(member)
    students = {int(row[1]): row[3] for row in CANVAS_ROSTER[2:] if row[3] in CANVAS_TOTALS and row[3] != "otto"}
    assert filed == pages_by_lms_id(canvas, students) and len(filed) == 9   # Kim's one page


def change_deadlines(root, text):
    """Write deadlines.toml and accept the change: make review-config ACCEPT=1."""
    (root / "deadlines.toml").write_text(text)
    assert "deadlines.toml (now)" in make(root, "review-config", "ACCEPT=1").stdout


def test_canvas_a_mistake_in_deadlines_toml_stops_intake_and_grading_with_its_line(canvas):
    root, before = canvas.root, (canvas.root / "grades.csv").read_bytes()
    try:
        change_deadlines(root, CANVAS_DEADLINES.replace("penalty_percent_per_day = 10",
                                                        'penalty_percent_per_day = "ten"'))
        graded = make(root, "autograde", check=False)
        assert "deadlines.toml: gradient_checking.penalty_percent_per_day = 'ten' must be a number" in graded.stderr \
            and "] Error 2" in graded.stderr, graded.stderr
        taken = make(root, "intake", f"ZIP={canvas.folder / 'submissions (1).zip'}", f"ROSTER={canvas.roster}",
                     check=False)
        assert "penalty_percent_per_day = 'ten'" in taken.stderr and "] Error 2" in taken.stderr, taken.stderr
        assert (root / "grades.csv").read_bytes() == before
    finally:
        change_deadlines(root, CANVAS_DEADLINES)


# The last Canvas tests change the course.

def test_canvas_an_extension_lifts_the_penalty_without_regrading(canvas):
    """An extension for Beatriz: refused until reviewed (a script in a browser page could write the
    file); accepted from a pipe, `echo y | make review-config` (no terminal; an empty stdin accepts
    nothing); then her penalty goes at the next make autograde, which grades nothing again."""
    root = canvas.root
    extended = demo.deadlines_toml({"dee": "2026-12-03T23:59:00", "bea": "2026-12-03T12:00:00"})
    (root / "deadlines.toml").write_text(extended)
    refused = make(root, "autograde", check=False)
    assert "+bea = 2026-12-03T12:00:00" in refused.stderr and "] Error 3" in refused.stderr, refused.stderr
    assert grades_csv(root)["bea"]["score"] == "66.5"
    unanswered = make(root, "review-config", check=False)
    assert unanswered.returncode != 0 and "Not accepted" in unanswered.stdout, unanswered.stdout
    accepted = make(root, "review-config", answer="y\n")
    assert "+bea = 2026-12-03T12:00:00" in accepted.stdout, accepted.stdout
    assert "Accept it? [y/N] y\nAccepted: recorded in " in accepted.stdout
    assert "The configuration is as last reviewed" in make(root, "review-config").stdout
    graded = make(root, "autograde")
    assert "Grading 0 of 6 submissions" in graded.stdout, "nothing is graded again"
    assert grades_csv(root)["bea"]["score"] == "95.0" and table_totals(graded.stdout)["bea"] == 95
    page = root / "feedback" / "bea" / ASSIGNMENT / NB2.replace(".ipynb", ".html")
    assert "Late submission penalty" not in page.read_text()


def submitted_files(root, student):
    folder = root / "submitted" / student / ASSIGNMENT
    return {p.name: p.read_bytes() for p in folder.iterdir() if p.name != "timestamp.txt"}


def test_canvas_older_download_taken_when_asked(canvas):
    """Last of the Canvas tests, since it changes the course: `make intake ... OLDER=1` takes Eli's
    older submission all the same."""
    taken = make(canvas.root, "intake", f"ZIP={canvas.folder / 'submissions.zip'}", f"ROSTER={canvas.roster}",
                 "OLDER=1").stdout
    assert "taken all the same (--take-older)" in taken and "(0 new, 1 updated, 3 unchanged)" in taken
    with zipfile.ZipFile(canvas.folder / "submissions.zip") as download:
        assert submitted_files(canvas.root, "eli") == {
            NB1: download.read(canvas_member("elioteli", 105, 7006, NB1)),
            NB2: download.read(canvas_member("elioteli", 105, 7007, NB2))}
    assert "Updated since their last grade: eli." in taken


# ---------------------------------------------------------------------------------------------
# The Moodle class

WORKSHEET_HEADER = ["Identifier", "Full name", "Email address", "Status", "Grade", "Maximum grade",
                    "Grade can be changed", "Last modified (submission)", "Last modified (grade)", "Feedback comments"]
MOODLE_ROSTER = [WORKSHEET_HEADER] + [   # Moodle's grading worksheet: the course's ids from the addresses
    [f"Participant {participant}", name, f"{name.split()[0].lower()}@uni.example", "Submitted for grading", "",
     "100.00", "Yes", "", "", comment]
    for participant, name, comment in ((201, "Ana Alves", ""), (202, "Ben Brandt", 'Resubmitted, "see" below'),
                                       (204, "Ole Olsen", ""), (205, "Kit Kahn", ""))]
ANA_1D, ANA_ND = "1_gradient_checking_1d (1).ipynb", "Übung 2 – Gradienten (Ana)-Copy1.ipynb"
# Each file of a download: (full name, participant id, file name, work, notebook, time)
MOODLE_FIRST = [
    ("Ben Brandt", 202, NB1, "mistake", NB1, (2026, 11, 30, 22, 0, 0)),   # before he resubmitted
    ("Ben Brandt", 202, NB2, "mistake", NB2, (2026, 11, 30, 22, 0, 0)),
    ("Ole Olsen", 204, NB1, "crashing", NB1, ON_TIME),
    ("Ole Olsen", 204, NB2, "crashing", NB2, ON_TIME),
    ("Kit Kahn", 205, NB1, "part one", NB1, (2026, 12, 1, 0, 7, 0)),       # within the grace
]
MOODLE_SECOND = [row for row in MOODLE_FIRST if row[0] != "Ben Brandt"] + [
    ("Ana Alves", 201, ANA_1D, "complete", NB1, (2026, 12, 2, 10, 0, 0)),     # her extension: 2 December 23:59
    ("Ana Alves", 201, ANA_ND, "complete", NB2, (2026, 12, 2, 10, 0, 0)),
    ("Ben Brandt", 202, NB1, "partly", NB1, (2026, 12, 2, 2, 0, 0)),         # 1 d 2 h late: 20% of 95
    ("Ben Brandt", 202, NB2, "partly", NB2, (2026, 12, 2, 2, 0, 0)),
]
MOODLE_TOTALS = {"ana": 100, "ben": 76, "ole": 80, "kit": 30}


def moodle_download(path, rows):
    return make_download(path, {moodle_member(name, participant, file): (notebook_of(kind, notebook), when)
                                for name, participant, file, kind, notebook, when in rows})


@pytest.fixture(scope="module")
def moodle(new_course, tmp_path_factory):
    root = new_course("moodle")
    (root / "deadlines.toml").write_text(demo.deadlines_toml({"ana": "2026-12-02T23:59:00"}))
    folder = tmp_path_factory.mktemp("moodle")
    roster = write_csv(folder / "GC101 grades.csv", MOODLE_ROSTER)
    # Moodle names every download of an assignment alike; the browser numbers the second.
    first = moodle_download(folder / "GC101-Gradient checking-42.zip", MOODLE_FIRST)
    second = moodle_download(folder / "GC101-Gradient checking-42 (1).zip", MOODLE_SECOND)
    return take_in_grade_and_export(root, folder, roster, [("first", first), ("second", second)], None, "moodle",
                                    "ole")


def test_moodle_every_student_has_one_total_in_every_view(moodle):
    assert moodle.views == expected_views(MOODLE_TOTALS, "ole", "kit"), disagreements(moodle.views, {"LMS"})
    assert moodle.released["LMS"] == MOODLE_TOTALS


def test_moodle_a_flagged_grade_waits_for_the_instructor_like_its_feedback(moodle):
    flagged_waits(moodle, "ole", "_204_assignsubmission_file_/")


def test_moodle_the_worksheet_keeps_every_other_cell(moodle):
    with open(moodle.lms_file, newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    grade = WORKSHEET_HEADER.index("Grade")
    assert [row[:grade] + row[grade + 1:] for row in rows] == [row[:grade] + row[grade + 1:] for row in MOODLE_ROSTER]
    assert [row[grade] for row in rows[1:]] == ["100.00", "76.00", "", "30.00"]


# The plugins of a Moodle assignment that a folder name can name (assign::get_plugin_by_type).
MOODLE_PLUGINS = {("assignsubmission", "file"), ("assignsubmission", "onlinetext"), ("assignfeedback", "file")}


def moodle_feedback_reading(member, participants):
    """(participant id, file name) under which Moodle's "Upload multiple feedback files in a zip"
    files a zip member, or None where it ignores the member: the first path part that, split at
    `_` into at most five pieces, reads <name>_<participant id>_<plugin type>_<plugin name>[_<rest>]
    with a participant of the assignment and one of its plugins
    (assignfeedback_file_zip_importer::is_valid_filename_for_import). Written here from Moodle's rule."""
    name = PurePosixPath(member).name
    if member.endswith("/") or name.startswith((".", "~")):
        return None
    parts = member.split("/")
    while parts:
        info = parts.pop(0).split("_", 4)
        if len(info) < 4 or not re.fullmatch(r"[0-9]+", info[1]) or int(info[1]) not in participants \
                or (info[2], info[3]) not in MOODLE_PLUGINS:
            continue
        return int(info[1]), "/".join([info[4] if len(info) == 5 else "", *parts])
    return None


def test_moodle_feedback_goes_back_where_moodle_files_it(moodle):
    """Each page in the folder of the participant it is for, at the top of it; every page but the
    flagged student's."""
    participants = {int(row[0].split()[1]): row[2].split("@")[0] for row in MOODLE_ROSTER[1:]}
    filed = {}
    with zipfile.ZipFile(moodle.bundle) as bundle:
        for member in bundle.namelist():
            reading = moodle_feedback_reading(member, participants=set(participants))
            assert reading, f"Moodle would ignore {member}"
            lms_id, filename = reading
            assert PurePosixPath(filename).parent in (PurePosixPath("/"), PurePosixPath(".")), filename
            filed[(lms_id, PurePosixPath(filename).name)] = bundle.read(member)
    del participants[204]   # Ole, flagged
    assert filed == pages_by_lms_id(moodle, participants) and len(filed) == 5   # Kit's one page


def test_moodle_intake_says_what_became_of_each_submission(moodle):
    """The second download: Ana's renamed notebooks found by their cells, Ben's resubmission
    replacing his first, who is late by the course's rule (Moodle marks nobody), Kit's missing
    notebook."""
    second = moodle.printed["second"].stdout
    assert "Moodle download, kept as downloaded/gradient_checking/archive/GC101-Gradient_checking-42_1.zip" in second
    assert "Collected 4 students into submitted/ (1 new, 1 updated, 2 unchanged):" in second
    assert f"  ben: 2 files: {NB1}, {NB2}, submitted 2026-12-02 02:00 CET  [late]\n" in second
    for sentence in (f"{ANA_1D} graded as {NB1} (found by its cells).",
                     f"{ANA_ND} graded as {NB2} (found by its cells)."):
        assert f"\n    {sentence}\n" in second, second
    assert ("\nLate: ben (1 d 2 h after 2026-11-30 23:59 CET)\nOn time by their extension or the grace in "
            "deadlines.toml: ana (extended to 2026-12-02 23:59 CET), kit (8 min after 2026-11-30 23:59 CET, within the "
            "10 minutes' grace)\n") in second, second
    assert f"kit sent no {NB2}" in second
    assert "Updated since their last grade" not in second and "not on the roster" not in second
    assert re.search(r"The updated students' earlier files are saved in \S+/\.", second)
    grades = grades_csv(moodle.root)
    assert (grades["ben"]["timestamp"], grades["ben"]["late_submission_penalty"]) == \
        ("2026-12-02 02:00:00+01:00", "19.0")


def test_moodle_a_missing_notebook_is_named_with_its_points(moodle):
    missing_notebook_said(moodle, "kit")


def test_moodle_a_normal_run_says_nothing_that_reads_like_lost_data(moodle):
    flags_and_warnings(moodle, "ole")
