"""grading.lms.intake: Canvas and Moodle downloads into submitted/ and the gradebook, through the real
`nbgrader db student import` and `nbgrader zip_collect`.

The zips are built here the way each LMS names its files; every notebook in them is distinct, so
that a file in submitted/ can be traced to the one zip member it must come from.
"""
import contextlib
import csv
import io
import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import nbformat
import pytest
from nbgrader.api import Gradebook

from grading.assignment import ASSIGNMENT
from grading.grader import autograde
from grading.lms import downloads, intake, intake_summary, lms_export, lms_files
from grading.lms.roster import IntakeError, Student, read_roster
from grading.lms.zip_members import member_problem
from grading.settings import DEFAULTS
from synthetic_class import catalog, synthetic

NB1, NB2 = "1_gradient_checking_1d.ipynb", "2_gradient_checking_nd.ipynb"
REPOSITORY = Path(__file__).resolve().parent.parent   # its Makefile and .venv
EXTRACTED = f"downloaded/{ASSIGNMENT}/extracted"

ROSTER = """id,first_name,last_name,email,lms_id
ada,Ada,Lovelace,ada@example.org,12345
grace,Grace,Hopper,grace@example.org,23456
alan,Alan,Turing,,34567
"""
IN_GRADEBOOK = {
    "ada": ("Ada", "Lovelace", "ada@example.org", None),
    "grace": ("Grace", "Hopper", "grace@example.org", None),
    "alan": ("Alan", "Turing", None, None),
}


@pytest.fixture(scope="module", autouse=True)
def default_gradebook():
    """The course's own gradebook, whatever the environment of the test run says."""
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("GRADEBOOK_URL", raising=False)
        yield


@pytest.fixture(scope="module")
def course_copy(new_course, tmp_path_factory):
    """Factory: a copy of one fresh course (release generated once: it takes seconds)."""
    pristine = new_course("intake")

    def copy(name):
        return Path(shutil.copytree(pristine, tmp_path_factory.mktemp(name) / "course"))
    return copy


_SOLUTIONS = {}


def notebook(name, tag):
    """The bytes of a complete notebook `name` whose code carries the comment `tag`."""
    if not _SOLUTIONS:
        _SOLUTIONS.update(synthetic.solutions())
    grade_id = "forward_propagation" if name == NB1 else "gradient_check_n"
    notebooks = synthetic.submission({grade_id: _SOLUTIONS[grade_id] + f"\n# {tag}\n"})
    return nbformat.writes(notebooks[name]).encode()


def make_zip(path, members):
    """A zip at `path` holding {member name: bytes}."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


@dataclass
class Run:
    """What one intake printed, and what the course held right after it."""
    root: Path
    status: int
    out: str
    err: str
    submitted: dict    # {"student/file": bytes} of submitted/*/gradient_checking/
    students: dict     # {id: (first name, last name, email, lms_user_id)} in the gradebook
    downloaded: dict   # {file under downloaded/, relative to the course: bytes}
    times: dict        # {student: the text of submitted/<student>/gradient_checking/timestamp.txt}


def gradebook_students(url):
    if url.startswith("sqlite:///") and not Path(url[len("sqlite:///"):]).exists():
        return {}
    with Gradebook(url) as gradebook:
        return {s.id: (s.first_name, s.last_name, s.email, s.lms_user_id) for s in gradebook.students}


def run_intake(root, zip_path, roster_path, *options, db_url=None, process=False):
    """Run the intake's command line, in this process or (process=True) as `python -m grading.lms.intake`."""
    argv = [str(zip_path), "--roster", str(roster_path), "--root", str(root), *options]
    argv += [f"--db-url={db_url}"] if db_url else []
    if process:
        result = subprocess.run([sys.executable, "-m", "grading.lms.intake", *argv],
                                capture_output=True, text=True, env=course_env())
        status, out, err = result.returncode, result.stdout, result.stderr
    else:
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            status = intake.main(argv)
        out, err = out.getvalue(), err.getvalue()
    submitted = {f"{p.parent.parent.name}/{p.name}": p.read_bytes()
                 for p in sorted((root / "submitted").glob(f"*/{ASSIGNMENT}/*")) if p.is_file()
                 and p.name != "timestamp.txt"}   # the intake's own record, not a student's file (Run.times)
    times = {p.parent.parent.name: p.read_text().strip()
             for p in sorted((root / "submitted").glob(f"*/{ASSIGNMENT}/timestamp.txt"))}
    downloaded = {p.relative_to(root).as_posix(): p.read_bytes()
                  for p in (root / "downloaded").rglob("*") if p.is_file()}
    return Run(root, status, out, err, submitted,
               gradebook_students(db_url or f"sqlite:///{root / 'gradebook.db'}"), downloaded, times)


def write_roster(folder, text=ROSTER):
    path = Path(folder) / "roster.csv"
    path.write_text(text)
    return path


# ---------------------------------------------------------------------------------------------
# Canvas

CANVAS_V1 = {
    # Ada sent the 1d notebook three times: Canvas numbers the later files -2, -10 (-10 is latest).
    "lovelaceada_12345_678901_1_gradient_checking_1d.ipynb": ("ada", NB1, "ada 1d first"),
    "lovelaceada_12345_678901_1_gradient_checking_1d-2.ipynb": ("ada", NB1, "ada 1d second"),
    "lovelaceada_12345_678901_1_gradient_checking_1d-10.ipynb": ("ada", NB1, "ada 1d latest"),
    "lovelaceada_12345_678901_2_gradient_checking_nd.ipynb": ("ada", NB2, "ada nd"),
    "lovelaceada_12345_678901_notes.txt": ("ada", "notes.txt", None),
    # Grace was late; Canvas writes the marker in either case.
    "hopper grace_LATE_23456_678902_1_gradient_checking_1d.ipynb": ("grace", NB1, "grace 1d"),
    "hopper grace_late_23456_678902_2_gradient_checking_nd.ipynb": ("grace", NB2, "grace nd"),
    # Not on the roster, and a name that fits no format.
    "babbagecharles_99999_678903_1_gradient_checking_1d.ipynb": (None, NB1, "babbage 1d"),
    "1_gradient_checking_1d.ipynb": (None, NB1, "nameless 1d"),
}


def zip_members(spec):
    return {name: (notebook(file, tag) if tag else f"{name}\n".encode()) for name, (_, file, tag) in spec.items()}


@pytest.fixture(scope="module")
def canvas_zip(tmp_path_factory):
    folder = tmp_path_factory.mktemp("canvas_zip")
    members = zip_members(CANVAS_V1)
    return make_zip(folder / "submissions.zip", members), members, write_roster(folder)


@pytest.fixture(scope="module")
def canvas(course_copy, canvas_zip):
    zip_path, members, roster = canvas_zip
    return run_intake(course_copy("canvas"), zip_path, roster), members


def test_canvas_download_lands_in_submitted_under_the_students_ids(canvas):
    run, members = canvas
    assert run.status == 0, run.err
    assert run.submitted == {
        f"ada/{NB1}": members["lovelaceada_12345_678901_1_gradient_checking_1d-10.ipynb"],
        f"ada/{NB2}": members["lovelaceada_12345_678901_2_gradient_checking_nd.ipynb"],
        "ada/notes.txt": members["lovelaceada_12345_678901_notes.txt"],
        f"grace/{NB1}": members["hopper grace_LATE_23456_678902_1_gradient_checking_1d.ipynb"],
        f"grace/{NB2}": members["hopper grace_late_23456_678902_2_gradient_checking_nd.ipynb"],
    }
    assert "Canvas download" in run.out
    assert "Collected 2 students into submitted/ (2 new, 0 updated, 0 unchanged)" in run.out


def test_canvas_resubmission_keeps_the_highest_number(canvas):
    run, members = canvas
    assert run.submitted[f"ada/{NB1}"] == members["lovelaceada_12345_678901_1_gradient_checking_1d-10.ipynb"]
    assert f"ada: 3 files: {NB1} (resubmission 10), {NB2}, notes.txt" in run.out
    older = run.out.split("Older versions, not collected:\n")[1].splitlines()
    assert older == [f"  ada: {EXTRACTED}/submissions/lovelaceada_12345_678901_1_gradient_checking_1d-2.ipynb",
                     f"  ada: {EXTRACTED}/submissions/lovelaceada_12345_678901_1_gradient_checking_1d.ipynb"]


def test_canvas_roster_is_in_the_gradebook_without_lms_ids(canvas):
    run, _ = canvas
    assert run.students == IN_GRADEBOOK


def test_canvas_late_and_missing_students_are_listed(canvas):
    run, _ = canvas
    assert "  grace: 2 files: " in run.out and run.out.count("[late]") == 1
    # No deadlines.toml in this course: Canvas's marker is all there is, and the summary says so.
    assert "Late: grace (marked late by Canvas) (no due date in deadlines.toml to check Canvas's markers)\n" in run.out
    assert set(run.times) == {"ada", "grace"}, "each collected student's submission time is recorded"
    assert "  no submission in this download: alan\n" in run.out


def test_canvas_unknown_id_and_unknown_name_are_reported_and_kept(canvas):
    run, members = canvas
    assert (f"  not on the roster: LMS id 99999 (babbagecharles), left in downloaded/: "
            f"{EXTRACTED}/submissions/babbagecharles_99999_678903_1_gradient_checking_1d.ipynb\n") in run.out
    assert f"  not recognised: {EXTRACTED}/submissions/1_gradient_checking_1d.ipynb, left in downloaded/\n" in run.out
    # Nothing is lost: every member of the zip is still in downloaded/, next to the zip itself.
    assert set(run.downloaded) == {f"{EXTRACTED}/submissions/{name}" for name in members} | {
        f"downloaded/{ASSIGNMENT}/archive/submissions.zip", f"downloaded/{ASSIGNMENT}/roster.csv",
        f"downloaded/{ASSIGNMENT}/lms.json"}   # the last two: what `make export` sends back with
    for name, data in members.items():
        assert run.downloaded[f"{EXTRACTED}/submissions/{name}"] == data
    assert sorted(p.name for p in (run.root / "submitted").iterdir()) == ["ada", "grace"]


@pytest.fixture(scope="module")
def canvas_again(canvas, canvas_zip, tmp_path_factory):
    """The Canvas course after a later download: Grace's latest submission holds only a new nd
    notebook, Alan has submitted, Ada is not in it. Grace was graded in between."""
    first, _ = canvas
    (first.root / "autograded" / "grace" / ASSIGNMENT).mkdir(parents=True)
    members = {
        "hopper grace_LATE_23456_678910_2_gradient_checking_nd-1.ipynb": notebook(NB2, "grace nd again"),
        "turingalan_34567_678911_1_gradient_checking_1d.ipynb": notebook(NB1, "alan 1d"),
    }
    zip_path = make_zip(tmp_path_factory.mktemp("canvas_zip_2") / "submissions (1).zip", members)
    return run_intake(first.root, zip_path, canvas_zip[2]), members, zip_path


def test_newer_download_replaces_the_students_in_it_and_keeps_the_others(canvas, canvas_again):
    first, _ = canvas
    second, members, _ = canvas_again
    assert second.status == 0, second.err
    assert second.submitted == {
        **{key: data for key, data in first.submitted.items() if key.startswith("ada/")},
        f"grace/{NB2}": members["hopper grace_LATE_23456_678910_2_gradient_checking_nd-1.ipynb"],
        f"grace/{NB1}": first.submitted[f"grace/{NB1}"],   # a download never takes a notebook away
        f"alan/{NB1}": members["turingalan_34567_678911_1_gradient_checking_1d.ipynb"],
    }
    assert "(1 new, 1 updated, 0 unchanged)" in second.out
    assert "no submission in this download: ada (the earlier one in submitted/ is kept)" in second.out
    assert f"grace sent no {NB1} this time: the earlier one is kept" in second.out
    assert f"alan sent no {NB2}\n" in second.out
    assert "Updated since their last grade: grace." in second.out
    assert second.students == IN_GRADEBOOK
    # grace's folder as it was before, saved where the summary says
    [saved] = re.findall(r"earlier files are saved in (\S+)/\.", second.out)
    assert {p.name: p.read_bytes() for p in (second.root / saved / "grace").iterdir()} == {
        **{name.split("/")[1]: data for name, data in first.submitted.items() if name.startswith("grace/")},
        "timestamp.txt": first.times["grace"].encode()}


def test_newer_download_is_the_only_one_collected_from(canvas, canvas_again):
    first, _ = canvas
    second, members, zip_path = canvas_again
    archived = {path: data for path, data in second.downloaded.items()
                if "/extracted/" not in path and "/replaced/" not in path and not path.endswith((".csv", ".json"))}
    previous = [path for path in archived if path.startswith(f"downloaded/{ASSIGNMENT}/previous/")]
    assert len(archived) == 2 and len(previous) == 1
    assert archived[f"downloaded/{ASSIGNMENT}/archive/submissions_1.zip"] == zip_path.read_bytes()
    assert archived[previous[0]] == first.downloaded[f"downloaded/{ASSIGNMENT}/archive/submissions.zip"]
    assert {p for p in second.downloaded if "/extracted/" in p} == {
        f"{EXTRACTED}/submissions_1/{name}" for name in members}


def test_a_download_shaped_by_a_submitters_name_never_touches_another_students_files(course_copy, tmp_path):
    """Mallory (LMS id 23456) sets her display name to "x_12345_1", so Canvas names her file
    "x_12345_1_23456_777_...": it reads as ada's (12345) too. It is collected for neither; ada's
    notebooks, taken in by an earlier download, stay as they were."""
    root = course_copy("imitation")
    roster = write_roster(tmp_path, "id,lms_id\nada,12345\nmallory,23456\n")
    honest = {f"lovelaceada_12345_600_{NB1}": notebook(NB1, "ada 1d"),
              f"lovelaceada_12345_600_{NB2}": notebook(NB2, "ada nd")}
    first = run_intake(root, make_zip(tmp_path / "first.zip", honest), roster)
    assert first.status == 0, first.err
    forged = {f"x_12345_1_23456_777_{NB1}": notebook(NB1, "mallory as ada")}
    second = run_intake(root, make_zip(tmp_path / "second.zip", forged), roster, process=True)
    assert second.status == 0, second.err
    assert second.submitted == first.submitted == {f"ada/{NB1}": honest[f"lovelaceada_12345_600_{NB1}"],
                                                   f"ada/{NB2}": honest[f"lovelaceada_12345_600_{NB2}"]}
    assert (f"not collected, its name reads as a file of ada, mallory (LMS ids 12345, 23456)" in second.out
            and f"x_12345_1_23456_777_{NB1}, left in downloaded/" in second.out)
    assert "(0 new, 0 updated, 0 unchanged)" in second.out


def test_a_notebook_the_grader_cannot_read_is_listed_at_intake(course_copy, tmp_path):
    """A corrupt notebook is reported while the instructor can still ask for it again; it is
    collected all the same (grading records why it scores 0), and the others are not held up."""
    root = course_copy("unreadable")
    members = {f"lovelaceada_12345_600_{NB1}": b'{"cells": [oops',
               f"lovelaceada_12345_600_{NB2}": notebook(NB2, "ada nd"),
               f"hoppergrace_23456_601_{NB1}": notebook(NB1, "grace 1d"),
               f"hoppergrace_23456_601_{NB2}": b"\x89PNG not a notebook"}
    done = run_intake(root, make_zip(tmp_path / "corrupt.zip", members), write_roster(tmp_path))
    assert done.status == 0, done.err
    problems = [line for line in done.out.splitlines() if "cannot be graded" in line]
    assert len(problems) == 2, done.out
    assert problems[0].startswith(f"  ada's {NB1} cannot be graded, it is not a readable notebook (JSONDecodeError")
    assert problems[1].startswith(f"  grace's {NB2} cannot be graded, it is not a readable notebook (")
    assert all(line.endswith("ask for it again before grading") for line in problems)
    assert set(done.submitted) == {f"ada/{NB1}", f"ada/{NB2}", f"grace/{NB1}", f"grace/{NB2}"}


CANVAS_EXPORT = (  # Grades -> Export in Canvas, as it writes it: a Points Possible row, the assignment's column
    "Student,ID,SIS User ID,SIS Login ID,Section,Gradient checking (4242)\n"
    "    Points Possible,,,,,100.00\n"
    '"Lovelace, Ada",12345,S001,ada@uni.example,GC 101,\n'
    '"Hopper, Grace",23456,S002,ghopper,GC 101,\n'
    '"Turing, Alan",34567,,,GC 102,\n')
MOODLE_WORKSHEET = (  # Download grading worksheet in a Moodle assignment
    "Identifier,Full name,Email address,Status,Grade,Maximum grade,Grade can be changed,"
    "Last modified (submission),Last modified (grade),Feedback comments\n"
    "Participant 12345,Ada Lovelace,ada@uni.example,Submitted for grading,,100.00,Yes,,,\n"
    "Participant 23456,Grace Brewster Hopper,grace@uni.example,No submission,,100.00,Yes,-,-,\n")


def test_the_roster_can_be_the_lms_own_export(tmp_path):
    canvas = read_roster(write_roster(tmp_path, CANVAS_EXPORT))
    assert canvas == [Student("ada", "12345", "Ada", "Lovelace", "ada@uni.example"),
                      Student("ghopper", "23456", "Grace", "Hopper"),
                      Student("canvas-34567", "34567", "Alan", "Turing")]
    moodle = read_roster(write_roster(tmp_path, MOODLE_WORKSHEET))
    assert moodle == [Student("ada", "12345", "Ada", "Lovelace", "ada@uni.example"),
                      Student("grace", "23456", "Grace Brewster", "Hopper", "grace@uni.example")]


def test_two_lms_rows_that_would_share_an_id_are_refused(tmp_path):
    export = CANVAS_EXPORT + '"Lovelace, Augusta",45678,S009,ada@other.example,GC 101,\n'
    with pytest.raises(IntakeError, match=r"line 6: the id 'ada' appears twice .*first on line 3"):
        read_roster(write_roster(tmp_path, export))


def test_a_canvas_download_with_canvas_own_roster(exported, canvas_zip):
    _, _, run, _ = exported
    _, members, _ = canvas_zip
    assert sorted({key.split("/")[0] for key in run.submitted}) == ["ada", "ghopper"]
    assert run.submitted[f"ghopper/{NB2}"] == members["hopper grace_late_23456_678902_2_gradient_checking_nd.ipynb"]
    assert run.students["ghopper"] == ("Grace", "Hopper", None, None)
    assert "no submission in this download: canvas-34567" in run.out


# The round trip's course file: due on 30 November at 23:59 in Berlin (CET, UTC+1), 10% per day late.
ROUND_TRIP_DEADLINES = """timezone = "Europe/Berlin"
[gradient_checking]
due = 2026-11-30T23:59:00
penalty_percent_per_day = 10
no_credit_after_days = 7
"""
# The times Canvas gave the files in the zip (Berlin time): Ada's before the due date, Grace's
# 1 d 2 h 1 min after it, so 2 started days late: 20% of each notebook's score.
ON_TIME, LATE = (2026, 11, 30, 22, 0, 0), (2026, 12, 2, 2, 0, 0)


def make_timed_zip(path, members):
    """make_zip, each member carrying the time Canvas gives it: LATE for Grace's files, else ON_TIME."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(zipfile.ZipInfo(name, date_time=LATE if name.startswith("hopper") else ON_TIME), data)
    return path


def course_env():
    """This environment without GRADEBOOK_URL: the commands use the course's own gradebook."""
    return {key: value for key, value in os.environ.items() if key != "GRADEBOOK_URL"}


# The instructor's own similarity threshold, not the default (0.75): the report must be written with it.
SIMILARITY = "0.5"


def run_autograde(root):
    """`python -m grading.grader.autograde` on the course, whatever its exit status."""
    return subprocess.run([sys.executable, "-m", "grading.grader.autograde", "--root", str(root), "--quiet",
                           "--workers", "2", "--similarity-threshold", SIMILARITY],
                          env=course_env(), capture_output=True, text=True)


def autograde_course(root):
    graded = run_autograde(root)
    assert graded.returncode == 0, graded.stdout + graded.stderr
    return graded.stdout


def grades_csv(root):
    return {row["student_id"]: row for row in csv.DictReader((root / "grades.csv").open(newline=""))}


@pytest.fixture(scope="module")
def exported(course_copy, canvas_zip, tmp_path_factory):
    """A class taken in with Canvas's own roster and the LMS's submission times, graded by
    `make autograde` against the course's deadlines.toml, exported by `make export`."""
    _, members, _ = canvas_zip
    folder = tmp_path_factory.mktemp("export")
    root = course_copy("round_trip")
    (root / "deadlines.toml").write_text(ROUND_TRIP_DEADLINES)
    taken = run_intake(root, make_timed_zip(folder / "submissions.zip", members), write_roster(folder, CANVAS_EXPORT))
    assert taken.status == 0, taken.err
    table = autograde_course(root)

    def export(*options):
        done = subprocess.run([sys.executable, "-m", "grading.lms.lms_export", "--root", str(root), *options],
                              env=course_env(), capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        return done.stdout
    return root, export, taken, table


def test_submission_times_from_the_download_reach_every_view(exported):
    root, export, taken, table = exported
    # The zip's Berlin times, in UTC as nbgrader keeps them.
    assert taken.times == {"ada": "2026-11-30 21:00:00", "ghopper": "2026-12-02 01:00:00"}
    assert "Late: ghopper (1 d 2 h after 2026-11-30 23:59 CET)\n" in taken.out
    assert "ada: 3 files: " in taken.out and ", submitted 2026-11-30 22:00 CET\n" in taken.out
    grades = grades_csv(root)
    # In the course's zone, with its offset.
    assert (grades["ghopper"]["timestamp"], grades["ghopper"]["duedate"]) == ("2026-12-02 02:00:00+01:00",
                                                                              "2026-11-30 23:59:00+01:00")
    assert (float(grades["ghopper"]["late_submission_penalty"]), float(grades["ghopper"]["score"])) == (20.0, 80.0)
    assert (float(grades["ada"]["late_submission_penalty"]), float(grades["ada"]["score"])) == (0.0, 100.0)
    [line] = [line for line in table.splitlines() if line.startswith("ghopper ")]
    assert re.search(r" -20 +80  1 d 2 h late \(due 2026-11-30 23:59 CET\): -20 points$", line), line
    pages = {p.parent.parent.name + "/" + p.name: p.read_text() for p in (root / "feedback").glob("*/*/*.html")}
    assert len(pages) == 4
    for name, page in pages.items():
        assert ("Late submission penalty" in page) == name.startswith("ghopper/"), name
    report = (root / "reports" / "class_report.html").read_text()
    assert "1 d 2 h late (due 2026-11-30 23:59 CET): -20 points</td><td>80</td>" in report
    assert "late policy: 10% of the score per day late (or part of a day), no credit after 7 days" in report


def test_make_autograde_writes_the_similarity_report_that_the_class_report_links(exported):
    root, _, _, table = exported
    page = root / "reports" / "similarity.html"
    # Ada and Grace handed in the same solutions (comments aside): a pair, at the instructor's threshold.
    assert f"Similarity:   {page} (1 pairs at or above 50%)" in table
    words = " ".join(page.read_text().split())
    assert "1 pairs share at least 50% of one side's answer tokens" in words and "ada and ghopper: 100%" in words
    report = root / "reports" / "class_report.html"
    assert '<a href="similarity.html">' in report.read_text() and (report.parent / "similarity.html").is_file()
    # (`make autograde SIMILARITY=...` hands the threshold on: test_renamed_notebooks_...); a percentage is
    # refused, not taken for "never".
    with pytest.raises(SystemExit):
        autograde.parse_args(["--similarity-threshold", "75"])


def change_deadlines(root, text):
    """Write deadlines.toml and accept the change, as `make review-config ACCEPT=1` does."""
    (root / "deadlines.toml").write_text(text)
    accepted = subprocess.run([sys.executable, "-m", "grading.grader.config_review", "--root", str(root), "--accept"],
                              capture_output=True, text=True)
    assert accepted.returncode == 0 and "deadlines.toml (now)" in accepted.stdout, accepted.stdout + accepted.stderr


def test_an_extension_lifts_the_penalty_without_regrading(exported):
    root, *_ = exported
    try:
        # A change nobody reviewed changes no grade (a script in a browser page could write the file).
        (root / "deadlines.toml").write_text(ROUND_TRIP_DEADLINES + '[gradient_checking.extensions]\nghopper = 2027-01-01T00:00:00\n')
        refused = run_autograde(root)
        assert refused.returncode == 3 and "+ghopper = 2027-01-01T00:00:00" in refused.stderr, refused.stderr
        assert float(grades_csv(root)["ghopper"]["score"]) == 80.0
        change_deadlines(root, ROUND_TRIP_DEADLINES + "[gradient_checking.extensions]\nghopper = 2026-12-03T12:00:00\n")
        table = autograde_course(root)
        assert "Grading 0 of 2 submissions" in table, "nothing is graded again"
        assert float(grades_csv(root)["ghopper"]["score"]) == 100.0
        assert "Late submission penalty" not in (root / "feedback" / "ghopper" / ASSIGNMENT / NB2).with_suffix(".html").read_text()
    finally:
        change_deadlines(root, ROUND_TRIP_DEADLINES)
        autograde_course(root)
    assert float(grades_csv(root)["ghopper"]["score"]) == 80.0, "the penalty is back with the class's due date"


def test_a_mistake_in_deadlines_toml_stops_intake_and_grading_with_its_line(exported, tmp_path):
    root, *_ = exported
    before = (root / "grades.csv").read_bytes()
    try:
        change_deadlines(root, ROUND_TRIP_DEADLINES.replace("= 10", "= \"ten\""))
        graded = run_autograde(root)
        assert graded.returncode == 2
        assert "deadlines.toml: gradient_checking.penalty_percent_per_day = 'ten' must be a number" in graded.stderr
        taken = run_intake(root, make_zip(tmp_path / "again.zip", {"lovelaceada_12345_678901_notes.txt": b"x"}),
                           write_roster(tmp_path, CANVAS_EXPORT))
        assert taken.status == 2 and "penalty_percent_per_day = 'ten'" in taken.err
        assert (root / "grades.csv").read_bytes() == before
    finally:
        change_deadlines(root, ROUND_TRIP_DEADLINES)


def test_grades_go_back_in_canvas_own_file(exported):
    root, export, *_ = exported
    printed = export("--column", "Gradient checking (4242)")
    rows = list(csv.reader((root / "exports" / "canvas_grades.csv").open(newline="")))
    sent = list(csv.reader(io.StringIO(CANVAS_EXPORT)))
    assert rows[0] == sent[0], "Canvas's own header, the assignment's column among it"
    assert [row[:5] for row in rows] == [row[:5] for row in sent], "every identifying cell as Canvas wrote it"
    # Points Possible, ada, grace (20 points off: late), alan
    assert [row[5] for row in rows[1:]] == ["100.00", "100.00", "80.00", ""]
    assert "no graded submission (grade left empty): canvas-34567" in printed


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


def test_feedback_goes_back_named_as_canvas_named_the_download(exported):
    root, export, *_ = exported
    export()
    with zipfile.ZipFile(root / "exports" / "canvas_feedback.zip") as bundle:
        names = sorted(bundle.namelist())
    # Canvas finds each page's student and submitted file (the download's attachment ids) in its name.
    assert sorted(canvas_reupload_reading(name) for name in names) == \
        [(12345, 678901)] * 2 + [(23456, 678902)] * 2
    assert names == sorted(f"{who}_{lms_id}_{attachment}_feedback_{page}"
                           for who, lms_id, attachment in [("lovelaceada", 12345, 678901), ("hopper grace", 23456, 678902)]
                           for page in ("1_gradient_checking_1d.html", "2_gradient_checking_nd.html"))


def test_feedback_of_a_flagged_submission_waits_for_the_instructor(exported):
    """Its grade too: the LMS cell stays empty until the instructor releases it."""
    root, export, *_ = exported
    results_path = root / "reports" / "autograde.json"
    before = results_path.read_text()
    results = json.loads(before)
    for r in results:
        r["flags"] = ["gradient_check: in-kernel score 20, verified 0"] if r["student"] == "ghopper" else []
    results_path.write_text(json.dumps(results))
    column = ("--column", "Gradient checking (4242)")
    try:
        printed = export(*column)
        assert ("grade and feedback held back, flagged by verification (grade left empty; review them in the "
                "formgrader, then make export RELEASE_FLAGGED=1): ghopper") in printed
        with zipfile.ZipFile(root / "exports" / "canvas_feedback.zip") as bundle:
            assert not [n for n in bundle.namelist() if "_23456_" in n]
        rows = list(csv.reader((root / "exports" / "canvas_grades.csv").open(newline="")))
        assert [row[5] for row in rows[1:]] == ["100.00", "100.00", "", ""]   # Points Possible, ada, grace, alan
        export("--release-flagged", *column)
        with zipfile.ZipFile(root / "exports" / "canvas_feedback.zip") as bundle:
            assert len([n for n in bundle.namelist() if "_23456_" in n]) == 2
        rows = list(csv.reader((root / "exports" / "canvas_grades.csv").open(newline="")))
        assert [row[5] for row in rows[1:]] == ["100.00", "100.00", "80.00", ""]
    finally:
        results_path.write_text(before)


# The graded class of `exported` as Moodle knows it: the worksheet's participants are the class's
# students (ids from the addresses), one without a submission; a comment with a comma and a quote.
MOODLE_CLASS_WORKSHEET = MOODLE_WORKSHEET.splitlines(keepends=True)[0] + (
    "Participant 12345,Ada Lovelace,ada@uni.example,Submitted for grading,,100.00,Yes,,,\n"
    'Participant 23456,Grace Hopper,ghopper@uni.example,Submitted for grading,,100.00,Yes,,,"Late, ""see"" below"\n'
    "Participant 34567,Alan Turing,alan@uni.example,No submission,,100.00,Yes,-,-,\n")
MOODLE_CLASS_DOWNLOAD = [f"{who}_assignsubmission_file_/{notebook}" for who in ("Ada Lovelace_12345", "Grace Hopper_23456")
                         for notebook in (NB1, NB2)]
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


def test_moodle_gets_its_worksheet_and_feedback_zip_back_from_a_graded_class(exported, tmp_path):
    """The class of `exported`, taken in from Moodle instead: what intake keeps for a Moodle
    download, with the class's gradebook and feedback pages, exported for Moodle's two uploads."""
    graded, *_ = exported
    root = tmp_path / "moodle_course"
    shutil.copytree(graded / "feedback", root / "feedback")
    (root / lms_files.DOWNLOADED).mkdir(parents=True)
    roster = write_roster(tmp_path, MOODLE_CLASS_WORKSHEET)
    students = read_roster(roster)
    entries = lms_files.plan(MOODLE_CLASS_DOWNLOAD, students, "moodle")
    summary = intake_summary.Summary("moodle", Path("download.zip"), students, entries, released_notebooks=[])
    downloads.remember_for_export(root, roster, "moodle", summary)   # what intake keeps of a Moodle download
    printed = lms_export.export(root, db_url=f"sqlite:///{graded / 'gradebook.db'}")
    assert "no graded submission (grade left empty): alan" in "\n".join(printed)

    # The worksheet: Moodle's own rows and columns, cell for cell, with the Grade column filled.
    rows = list(csv.reader((root / "exports" / "moodle_grading_worksheet.csv").open(newline="", encoding="utf-8")))
    sent = list(csv.reader(io.StringIO(MOODLE_CLASS_WORKSHEET)))
    grade = sent[0].index("Grade")
    assert rows[0] == sent[0] and len(rows) == len(sent)
    assert [row[:grade] + row[grade + 1:] for row in rows] == [row[:grade] + row[grade + 1:] for row in sent]
    assert [row[grade] for row in rows[1:]] == ["100.00", "80.00", ""]   # Grace's late penalty: 20

    # The feedback zip: each page where Moodle files it, for the participant whose folder it is in.
    pages = {(lms_id, page.name): page.read_bytes() for lms_id, student in ((12345, "ada"), (23456, "ghopper"))
             for page in (graded / "feedback" / student / ASSIGNMENT).glob("*.html")}
    assert len(pages) == 4
    with zipfile.ZipFile(root / "exports" / "moodle_feedback.zip") as bundle:
        filed = {}
        for member in bundle.namelist():
            reading = moodle_feedback_reading(member, participants={12345, 23456, 34567})
            assert reading, f"Moodle would ignore {member}"
            lms_id, filename = reading
            assert PurePosixPath(filename).parent in (PurePosixPath("/"), PurePosixPath(".")), filename
            filed[(lms_id, PurePosixPath(filename).name)] = bundle.read(member)
    assert filed == pages


def test_grades_go_back_in_moodle_own_worksheet():
    from grading.lms import lms_export
    rows = lms_export.filled_rows(MOODLE_WORKSHEET, "moodle", {"12345": "ada", "23456": "grace"}, {"ada": 85.0}, "")
    sent = list(csv.reader(io.StringIO(MOODLE_WORKSHEET)))
    assert rows[0] == sent[0]
    assert [row[4] for row in rows[1:]] == ["85.00", ""]
    assert [row[:4] + row[5:] for row in rows[1:]] == [row[:4] + row[5:] for row in sent[1:]]


# ---------------------------------------------------------------------------------------------
# Moodle

MOODLE = {
    # The usual form: a folder per student.
    f"Ada Lovelace_12345_assignsubmission_file_/{NB1}": ("ada", NB1, "ada moodle 1d"),
    f"Ada Lovelace_12345_assignsubmission_file_/{NB2}": ("ada", NB2, "ada moodle nd"),
    # The older flat form.
    f"Grace Hopper_23456_assignsubmission_file_{NB1}": ("grace", NB1, "grace moodle 1d"),
    f"Grace Hopper_23456_assignsubmission_file_{NB2}": ("grace", NB2, "grace moodle nd"),
    f"Charles Babbage_99999_assignsubmission_file_/{NB1}": (None, NB1, "babbage moodle"),
    "Alan Turing_34567_assignsubmission_onlinetext_/onlinetext.html": (None, "onlinetext.html", None),
}


@pytest.fixture(scope="module")
def moodle(course_copy, tmp_path_factory):
    folder = tmp_path_factory.mktemp("moodle_zip")
    members = zip_members(MOODLE)
    zip_path = make_zip(folder / "GC101-Gradient checking-42.zip", members)
    db_url = f"sqlite:///{folder / 'elsewhere.db'}"
    # The real command line, as an instructor types it.
    run = run_intake(course_copy("moodle"), zip_path, write_roster(folder), db_url=db_url, process=True)
    return run, members


def test_moodle_download_lands_in_submitted_under_the_students_ids(moodle):
    run, members = moodle
    assert run.status == 0, run.err
    assert run.submitted == {f"{student}/{file}": members[name]
                             for name, (student, file, _) in MOODLE.items() if student}
    assert "Moodle download" in run.out
    assert "Late: not known" in run.out   # Moodle's download does not say


def test_moodle_roster_goes_to_the_gradebook_of_db_url(moodle):
    run, _ = moodle
    assert run.students == IN_GRADEBOOK
    assert gradebook_students(f"sqlite:///{run.root / 'gradebook.db'}") == {}


def test_moodle_unknown_id_and_other_plugins_are_reported(moodle):
    run, _ = moodle
    stem = "GC101-Gradient_checking-42"
    assert (f"not on the roster: LMS id 99999 (Charles Babbage), left in downloaded/: "
            f"{EXTRACTED}/{stem}/Charles Babbage_99999_assignsubmission_file_/{NB1}") in run.out
    assert (f"not recognised: {EXTRACTED}/{stem}/Alan Turing_34567_assignsubmission_onlinetext_/onlinetext.html"
            in run.out)
    assert "no submission in this download: alan" in run.out
    assert set(run.downloaded) >= {f"{EXTRACTED}/{stem}/{name}" for name in MOODLE}


def test_an_unsafe_member_is_skipped_and_everyone_else_is_collected(course_copy, canvas_zip, tmp_path):
    """One member whose path would leave the download's folder (a student's file name cannot make
    that; a tampered zip can) costs that member only, said in a sentence."""
    _, members, roster = canvas_zip
    unsafe = {"../../outside.ipynb": b"{}", "/absolute/evil.ipynb": b"{}", "C:/windows/evil.ipynb": b"{}",
              "lovelaceada_12345_678901_../../../escape.txt": b"x"}
    zip_path = make_zip(tmp_path / "tampered.zip", {**members, **unsafe})
    root = course_copy("unsafe_member")
    run = run_intake(root, zip_path, roster)
    assert run.status == 0, run.err
    assert sorted({key.split("/")[0] for key in run.submitted}) == ["ada", "grace"]
    for name in unsafe:
        assert f"skipped, its path leads outside the download's folder (no LMS writes that): {name!r}" in run.out
    assert not (root.parent / "outside.ipynb").exists() and not Path("/absolute/evil.ipynb").exists()
    assert not list(root.parent.rglob("escape.txt"))


def test_zip_abuse_is_skipped_member_by_member_and_everyone_else_is_collected(course_copy, canvas_zip, tmp_path):
    """A zip bomb, a member too large, a path too deep and a name too long, in the class's own
    download: each is skipped with a sentence, never unpacked, and the class is collected."""
    _, members, roster = canvas_zip
    abuse = {
        "lovelaceada_12345_678901_bomb.txt": bytes(10 * 2 ** 20),           # 10 MiB of zeros: ~10 KiB zipped
        "lovelaceada_12345_678901_huge.bin": os.urandom(2 ** 20) * 65,      # 65 MiB, not compressible much
        "/".join(["deep"] * 12) + "/lovelaceada_12345_678901_x.txt": b"x",
        "lovelaceada_12345_678901_" + "n" * 300 + ".txt": b"x",
    }
    zip_path = make_zip(tmp_path / "abuse.zip", {**members, **abuse})
    root = course_copy("zip_abuse")
    run = run_intake(root, zip_path, roster)
    assert run.status == 0, run.err
    assert sorted({key.split("/")[0] for key in run.submitted}) == ["ada", "grace"]
    assert f"it unpacks to more than {DEFAULTS.zip_ratio} times its size in the zip (a zip bomb): " \
           f"'lovelaceada_12345_678901_bomb.txt'" in run.out
    assert "more than the 64 MiB allowed: 'lovelaceada_12345_678901_huge.bin'" in run.out
    assert run.out.count("is deeper than 8 folders or has a name longer than 255 bytes") == 2
    assert not [p for p in (root / "downloaded").rglob("*") if p.is_file() and p.stat().st_size > 2 ** 20
                and p.suffix != ".zip"], "a skipped member was unpacked"


def test_an_id_is_read_in_its_normalized_form(tmp_path):
    """Full-width letters (what some keyboards type) are the same id as the ASCII ones."""
    students = read_roster(write_roster(tmp_path, "id,lms_id\n\uff41\uff44\uff41,12345\n"))
    assert [s.id for s in students] == ["ada"]


def test_a_download_of_too_many_files_is_cut_at_the_bound():
    info = zipfile.ZipInfo("lovelaceada_12345_678901_notes.txt")
    assert member_problem(info, kept_members=DEFAULTS.zip_files - 1) == ""
    assert "more than 5000 files" in member_problem(info, kept_members=DEFAULTS.zip_files)
    info.file_size = 2 ** 20
    assert "more than 2 GiB" in member_problem(info, kept_bytes=DEFAULTS.zip_total_bytes - 2 ** 19)


def test_a_zip_of_nothing_but_unsafe_members_is_refused(course_copy, tmp_path):
    root = course_copy("only_unsafe")
    run = run_intake(root, make_zip(tmp_path / "bad.zip", {"../x.ipynb": b"{}"}), write_roster(tmp_path))
    assert run.status == 2 and "holds no file that can be collected" in run.err and "leads outside" in run.err
    assert not (root / "submitted").exists()


# ---------------------------------------------------------------------------------------------
# The files students really send: a class of four (and Canvas's test student) through the real
# `make intake`, `make autograde` and `make export`, from paths that a browser and a shell make hard

# Canvas's gradebook export as Canvas writes it: its test student last, without a login.
CLASS_EXPORT = (
    "Student,ID,SIS User ID,SIS Login ID,Section,Gradient checking (4242)\n"
    "    Points Possible,,,,,100.00\n"
    '"Lovelace, Ada",101,S101,ada,GC 101,\n'
    '"Bauer, Bea",102,S102,bea,GC 101,\n'
    '"Celik, Cem",103,S103,cem,GC 101,\n'
    '"Eliot, Eli",105,S105,eli,GC 101,\n'
    '"Student, Test",199,,,GC 101,\n')
# Due 30 November 23:59 in Berlin, 10 minutes' grace, 10% a started day; Cem has an extension.
CLASS_DEADLINES = """timezone = "Europe/Berlin"
[gradient_checking]
due = 2026-11-30T23:59:00
grace_minutes = 10
penalty_percent_per_day = 10
no_credit_after_days = 7
[gradient_checking.extensions]
cem = 2026-12-02T23:59:00
"""
# The names students' notebooks really have: a browser's second download, a title of the student's
# own, Jupyter's "Duplicate".
SECOND_1D, TITLED_ND, COPY_1D = "1_gradient_checking_1d (1).ipynb", "Gradient Checking – Teil 2 (José).ipynb", \
    "1_gradient_checking_1d-Copy1.ipynb"
STRANGE = "Kurs \"GC\" $HOME 'x' Ü"                     # a folder, for the download and the roster
COLUMN = "Gradient checking \"Teil 1\" $HOME (4242)"
ON_TIME, IN_GRACE, EXTENDED, LATE_31 = (2026, 11, 30, 22, 0, 0), (2026, 12, 1, 0, 6, 0), (2026, 12, 1, 12, 0, 0), \
    (2026, 12, 1, 0, 30, 0)


def stripped(data):
    """A notebook's bytes with its metadata stripped as nbconvert's ClearMetadataPreprocessor strips
    it (every cell's, nbgrader's included, and the notebook's); the cell ids stay."""
    from nbconvert.preprocessors import ClearMetadataPreprocessor
    notebook, _ = ClearMetadataPreprocessor().preprocess(nbformat.reads(data.decode(), as_version=4), {})
    return nbformat.writes(notebook).encode()


def class_download():
    """{Canvas's member name: (bytes, the time Canvas gave it)}: Ada's notebooks named as released;
    Bea's 1d notebook twice, an older one with a mistake and a newer correct one that her browser
    named as a second download, and a title of her own (7 min after the due date: within the
    grace); Cem's a Jupyter copy and a notebook with its metadata stripped (after the due date,
    before his extension); Eli 31 minutes late; Canvas's test student. Canvas marks Bea, Cem and
    Eli late."""
    mistake = catalog.by_name("one_sided_1d")
    older_1d = nbformat.writes(synthetic.submission({mistake.cell: mistake.code})[NB1]).encode()
    return {
        f"lovelaceada_101_7001_{NB1}": (notebook(NB1, "ada 1d"), ON_TIME),
        f"lovelaceada_101_7002_{NB2}": (notebook(NB2, "ada nd"), ON_TIME),
        f"bauerbea_102_7003_{NB1}": (older_1d, (2026, 11, 30, 21, 0, 0)),
        f"bauerbea_LATE_102_7004_{SECOND_1D}": (notebook(NB1, "bea 1d"), IN_GRACE),
        f"bauerbea_LATE_102_7005_{TITLED_ND}": (notebook(NB2, "bea nd"), IN_GRACE),
        f"celikcem_LATE_103_7006_{COPY_1D}": (notebook(NB1, "cem 1d"), EXTENDED),
        f"celikcem_LATE_103_7007_{NB2}": (stripped(notebook(NB2, "cem nd")), EXTENDED),
        f"elioteli_LATE_105_7010_{NB1}": (notebook(NB1, "eli 1d"), LATE_31),
        f"elioteli_LATE_105_7011_{NB2}": (notebook(NB2, "eli nd"), LATE_31),
        f"studenttest_199_7012_{NB1}": (notebook(NB1, "test student"), ON_TIME),
    }


def make_download(path, members):
    """A zip at `path` holding {member name: (bytes, time)}, each member with its time."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, (data, when) in members.items():
            archive.writestr(zipfile.ZipInfo(name, date_time=when), data)
    return path


def make(root, *arguments, answer=None):
    """The repository's real `make`, on the course `root` (GRADING_COURSE_ROOT names it); `answer`
    is its stdin (none: an empty one)."""
    env = {key: value for key, value in course_env().items() if key not in ("MAKEFLAGS", "MAKELEVEL")}
    env["GRADING_COURSE_ROOT"] = str(root)
    stdin = {"input": answer} if answer is not None else {"stdin": subprocess.DEVNULL}
    done = subprocess.run(["make", "-s", "-C", str(REPOSITORY), "-o", ".venv/bin/.installed", *arguments],
                          env=env, capture_output=True, text=True, **stdin)
    return done


def submitted_files(root, student):
    folder = root / "submitted" / student / ASSIGNMENT
    return {p.name: p.read_bytes() for p in folder.iterdir() if p.name != "timestamp.txt"}


@pytest.fixture(scope="module")
def real_class(course_copy, tmp_path_factory):
    """The class taken in (`make intake` of "submissions (1) "x" $HOME 'y' Ümlaut.zip" and a roster
    of such a name), graded (`make autograde SIMILARITY=0.5`) and exported (`make export
    COLUMN=...`, a column name with quotes and `$`). Returns (course, download, roster, what each
    command printed)."""
    root = course_copy("real_class")
    (root / "deadlines.toml").write_text(CLASS_DEADLINES)
    folder = tmp_path_factory.mktemp("real_class") / STRANGE
    folder.mkdir()
    download = make_download(folder / "submissions (1) \"x\" $HOME 'y' Ümlaut.zip", class_download())
    roster = folder / "Roster \"2026\" $USER Ü.csv"
    roster.write_text(CLASS_EXPORT)
    printed = {}
    for command in (["intake", f"ZIP={download}", f"ROSTER={roster}"], ["autograde", "SIMILARITY=0.5"],
                    ["export", f"COLUMN={COLUMN}"]):
        done = make(root, *command)
        assert done.returncode == 0, f"make {command[0]}:\n{done.stdout}\n{done.stderr}"
        printed[command[0]] = done.stdout
    return root, download, roster, printed


def test_renamed_notebooks_are_graded_as_the_notebooks_they_are(real_class):
    """Bea's and Cem's notebooks, whatever their names or metadata, score what Ada's do; of Bea's
    two 1d notebooks the newer is graded, not the older one with a mistake, and both are named;
    intake, the table and the report say which file was graded as which notebook; the similarity
    report reads the same files."""
    root, _, _, printed = real_class
    grades = grades_csv(root)
    assert {student: float(row["score"]) for student, row in grades.items()} == {
        "ada": 100.0, "bea": 100.0, "cem": 100.0, "eli": 90.0}   # Eli: late, 10 points
    said = {
        "bea": [f"{SECOND_1D} graded as {NB1}; not graded: {NB1} (older).",
                f"{TITLED_ND} graded as {NB2} (found by its cells)."],
        "cem": [f"{COPY_1D} graded as {NB1} (found by its cells)."]}
    results = {r["student"]: r for r in json.loads((root / "reports" / "autograde.json").read_text())}
    for student, sentences in said.items():
        for sentence in sentences:
            assert f"\n    {sentence}\n" in printed["intake"], printed["intake"]
            assert sentence in results[student]["problems"], results[student]
        [line] = [line for line in printed["autograde"].splitlines() if line.startswith(f"{student} ")]
        assert sentences[0][:40] in line and not results[student]["flags"], line
    assert f"{NB2} had lost the nbgrader metadata of 7 cells: it was given back from the assignment, by their " \
           "cell ids." in results["cem"]["problems"]
    assert not results["ada"]["problems"]
    assert "Similarity:" in printed["autograde"] and "(6 pairs at or above 50%)" in printed["autograde"]
    page = " ".join((root / "reports" / "similarity.html").read_text().split())
    assert "ada and bea: 100%" in page and "ada and cem: 100%" in page


def test_make_takes_any_path_and_the_test_student_is_left_out(real_class):
    root, download, roster, printed = real_class
    assert "Canvas download, kept as downloaded/gradient_checking/archive/submissions_1_x_HOME_y_Ümlaut.zip" \
        in printed["intake"]
    assert (root / f"downloaded/{ASSIGNMENT}/archive/submissions_1_x_HOME_y_Ümlaut.zip").read_bytes() == \
        download.read_bytes()
    assert (root / lms_files.ROSTER_COPY).read_text() == roster.read_text()
    assert "Collected 4 students into submitted/ (4 new, 0 updated, 0 unchanged):" in printed["intake"]
    # Canvas's test student: in neither the gradebook nor submitted/, named with its files.
    assert (f"Left out: Test Student (LMS id 199, roster line 7), Canvas's test student (Student View): named "
            f"Student, Test, without a login; not a student, not in the gradebook; its files left in downloaded/: "
            f"{EXTRACTED}/submissions_1_x_HOME_y_Ümlaut/studenttest_199_7012_{NB1}") in printed["intake"]
    assert "not on the roster" not in printed["intake"] and "Problems: none" in printed["intake"]
    assert set(gradebook_students(f"sqlite:///{root / 'gradebook.db'}")) == {"ada", "bea", "cem", "eli"}
    assert sorted(p.name for p in (root / "submitted").iterdir()) == ["ada", "bea", "cem", "eli"]
    # The column named with quotes and `$`, filled; the test student's row left as it was.
    rows = list(csv.reader((root / "exports" / "canvas_grades.csv").open(newline="", encoding="utf-8")))
    assert rows[0][-1] == COLUMN and [row[-1] for row in rows[1:]] == ["100.00"] * 4 + ["90.00", ""]
    assert "no graded submission" not in printed["export"]


def test_the_late_list_is_the_course_rule(real_class):
    """Intake's late list applies the grace and the extension as grading does: Bea (within the
    grace) and Cem (extended) are on time in both, though Canvas marks them late; Eli is late in both."""
    root, _, _, printed = real_class
    assert ("\nLate: eli (31 min after 2026-11-30 23:59 CET)\n"
            "On time by their extension or the grace in deadlines.toml: bea (7 min after 2026-11-30 23:59 CET, within "
            "the 10 minutes' grace), cem (extended to 2026-12-02 23:59 CET)\n") in printed["intake"]
    assert printed["intake"].count("[late]") == 1 and "  eli: 2 files: " in printed["intake"]
    grades = grades_csv(root)
    assert {s: float(grades[s]["late_submission_penalty"]) for s in ("bea", "cem", "eli")} == \
        {"bea": 0.0, "cem": 0.0, "eli": 10.0}


@pytest.fixture(scope="module")
def older_again(real_class):
    """After grading: a download made before Eli resubmitted (his files of 23:41 and Ada's
    unchanged) taken in as it comes, then with `make intake ... OLDER=1`."""
    root, _, roster, _ = real_class
    newer = submitted_files(root, "eli")
    members = {name: member for name, member in class_download().items() if name.startswith("lovelaceada_")}
    members.update({f"elioteli_105_6001_{NB1}": (notebook(NB1, "eli 1d older"), (2026, 11, 30, 23, 41, 0)),
                    f"elioteli_105_6002_{NB2}": (notebook(NB2, "eli nd older"), (2026, 11, 30, 23, 41, 0))})
    older = make_download(roster.parent / "submissions.zip", members)
    kept = make(root, "intake", f"ZIP={older}", f"ROSTER={roster}")
    after = submitted_files(root, "eli"), (root / "submitted" / "eli" / ASSIGNMENT / "timestamp.txt").read_text()
    taken = make(root, "intake", f"ZIP={older}", f"ROSTER={roster}", "OLDER=1")
    return root, newer, members, kept, after, taken


def test_an_older_download_keeps_the_newer_work_unless_asked(older_again):
    root, newer, members, kept, (files_kept, time_kept), taken = older_again
    assert kept.returncode == 0, kept.stdout + kept.stderr
    assert files_kept == newer and time_kept == "2026-11-30 23:30:00"   # 00:30 in Berlin, the newer download's
    assert ("  eli: this download's submission (2026-11-30 23:41 CET) is older than the one in the course "
            "(2026-12-01 00:30 CET): the newer one is kept; to take the older one: make intake ... OLDER=1 "
            "(--take-older)\n") in kept.stdout
    assert "(0 new, 0 updated, 1 unchanged)" in kept.stdout and "no submission in this download: eli" not in kept.stdout
    assert taken.returncode == 0, taken.stdout + taken.stderr
    assert "taken all the same (--take-older)" in taken.stdout and "(0 new, 1 updated, 1 unchanged)" in taken.stdout
    assert submitted_files(root, "eli") == {NB1: members[f"elioteli_105_6001_{NB1}"][0],
                                            NB2: members[f"elioteli_105_6002_{NB2}"][0]}
    assert "Updated since their last grade: eli." in taken.stdout


def test_review_config_takes_its_answer_from_a_pipe(real_class):
    """`echo y | make review-config`: no terminal, and the answer is read all the same."""
    root, *_ = real_class
    (root / "deadlines.toml").write_text(CLASS_DEADLINES + "bea = 2026-12-03T23:59:00\n")
    unanswered = make(root, "review-config")   # an empty stdin: no answer, nothing accepted
    assert unanswered.returncode != 0 and "Not accepted" in unanswered.stdout, unanswered.stdout
    accepted = make(root, "review-config", answer="y\n")
    assert accepted.returncode == 0 and "+bea = 2026-12-03T23:59:00" in accepted.stdout, accepted.stdout
    assert "Accept it? [y/N] y\nAccepted: recorded in " in accepted.stdout
    assert "The configuration is as last reviewed" in make(root, "review-config").stdout


# ---------------------------------------------------------------------------------------------
# Unusable input: a clear message, exit status 2, and the course untouched

def good_zip(path):
    return make_zip(path, {"lovelaceada_12345_678901_1_gradient_checking_1d.ipynb": b"{}"})


def html_page(path):   # what a browser saves when the LMS session has expired
    path.write_text("<html><body>Please log in</body></html>")
    return path


def truncated_zip(path):
    good_zip(path)
    path.write_bytes(path.read_bytes()[:60])
    return path


BAD_INPUTS = {
    "no zip": (lambda p: p, ROSTER, [], "download.zip: no such file"),
    "not a zip": (html_page, ROSTER, [], "is not a zip file"),
    "truncated zip": (truncated_zip, ROSTER, [], "is not a zip file (or an incomplete download)"),
    "empty zip": (lambda p: make_zip(p, {}), ROSTER, [], "holds no files"),
    "no LMS names": (lambda p: make_zip(p, {"notes.txt": b"x"}), ROSTER, [], "fits the Canvas or the Moodle format"),
    "wrong LMS": (good_zip, ROSTER, ["--lms", "moodle"], "fits the Moodle format (try --lms auto)"),
    "no lms_id column": (good_zip, "id,first_name,last_name,email\nada,Ada,Lovelace,\n", [],
                         "lacks the column lms_id; it needs id and lms_id"),
    "no columns": (good_zip, "", [], "lacks the columns id and lms_id"),
    "lms_id twice": (good_zip, "id,lms_id\nada,12345\ngrace,012345\n", [], "the lms_id 12345 is also that of 'ada'"),
    "lms_id not a number": (good_zip, "id,lms_id\nada,lovelaceada\n", [], "the lms_id 'lovelaceada' is not a number"),
    "id not a folder name": (good_zip, "id,lms_id\n../ada,12345\n", [], "the id '../ada' is not of the form"),
    "id with a space": (good_zip, "id,lms_id\nada lovelace,12345\n", [], "is not of the form this course accepts"),
    "id with a Cyrillic a": (good_zip, "id,lms_id\n\u0430da,12345\n", [], "the id '\u0430da' is not of the form"),
    "id with an escape": (good_zip, "id,lms_id\nada\x1b[2K,12345\n", [], "the id 'ada\\x1b[2K' is not of the form"),
    "id with a zero-width space": (good_zip, "id,lms_id\nada\u200b,12345\n", [], "is not of the form"),
    "id too long": (good_zip, "id,lms_id\n" + "a" * 65 + ",12345\n", [], "1 to 64 ASCII letters"),
    "ids differing by case": (good_zip, "id,lms_id\nada,12345\nAda,23456\n", [],
                              "the id 'Ada' appears twice (letter case aside; first on line 2)"),
    "lms_id too long": (good_zip, "id,lms_id\nada," + "1" * 21 + "\n", [], "is not a number (of at most 20 digits)"),
    "a cell too long": (good_zip, "id,lms_id,first_name\nada,12345,Ada\ngrace,23456," + "G" * 200_000 + "\n", [],
                        "roster.csv, line 3, column 'first_name': the cell holds 200000 characters, more than the "
                        "131072 a roster cell may have"),
}


@pytest.mark.parametrize("case", BAD_INPUTS)
def test_unusable_input_is_refused_with_a_clear_message(case, course_copy, tmp_path):
    root = course_copy("errors")
    make, roster_text, options, message = BAD_INPUTS[case]
    zip_path = make(tmp_path / "download.zip")
    gradebook = (root / "gradebook.db").read_bytes()
    run = run_intake(root, zip_path, write_roster(tmp_path, roster_text), *options)
    assert run.status == 2
    assert run.err.startswith("intake: error: ") and message in run.err, run.err
    assert run.out == ""
    assert not (root / "downloaded").exists() and not (root / "submitted").exists()
    assert (root / "gradebook.db").read_bytes() == gradebook


# ---------------------------------------------------------------------------------------------
# File names, without nbgrader

def test_canvas_names():
    assert lms_files.parse_canvas("x/lovelaceada_12345_678901_1_gradient_checking_1d.ipynb") == [
        lms_files.Parsed("12345", "lovelaceada", NB1, late=False, submission=678901),
        lms_files.Parsed("678901", "lovelaceada_12345", "gradient_checking_1d.ipynb", submission=1)]
    assert lms_files.parse_canvas("hopper grace_LATE_023456_678902_2_gradient_checking_nd-1.ipynb")[0] == lms_files.Parsed(
        "23456", "hopper grace", "2_gradient_checking_nd-1.ipynb", late=True, submission=678902)
    assert lms_files.parse_canvas("late_7_8_notes.txt") == [lms_files.Parsed("7", "late", "notes.txt", submission=8)]
    assert lms_files.parse_canvas("o_brien_7_8_1_x.txt")[0] == lms_files.Parsed("7", "o_brien", "1_x.txt", submission=8)
    for name in (NB1, "lovelaceada_12345_gradient_checking_1d.ipynb", "lovelaceada_12345_678901_", "a/b_1_2"):
        assert lms_files.parse_canvas(name) == [], name


def test_moodle_names():
    assert lms_files.parse_moodle(f"Ada Lovelace_12345_assignsubmission_file_/{NB1}") == [lms_files.Parsed(
        "12345", "Ada Lovelace", NB1)]
    assert lms_files.parse_moodle(f"Ada Lovelace_12345_assignsubmission_file_/extra/{NB1}")[0].original == f"extra/{NB1}"
    assert lms_files.parse_moodle(f"Grace Hopper_23456_assignsubmission_file_{NB2}")[0].original == NB2
    for name in ("Alan Turing_34567_assignsubmission_onlinetext_/onlinetext.html",
                 "Alan Turing_34567_assignsubmission_file_", f"Alan Turing_assignsubmission_file_/{NB1}"):
        assert lms_files.parse_moodle(name) == [], name


ROSTER_IDS = [Student("ada", "12345"), Student("grace", "23456")]


@pytest.mark.parametrize("lms, path", [
    # grace's display name imitates ada's ids, in front of grace's own
    ("canvas", f"x_12345_1_23456_777_{NB1}"),
    # the file grace sent is named like ada's
    ("canvas", f"hoppergrace_23456_777_a_12345_778_{NB1}"),
    ("moodle", f"Eve_12345_assignsubmission_file_x_23456_assignsubmission_file_{NB1}"),
    ("moodle", f"Grace_23456_assignsubmission_file_Ada_12345_assignsubmission_file_{NB1}"),
])
def test_a_name_that_imitates_another_students_ids_is_not_collected(lms, path):
    """A file that reads as the file of two students on the roster goes to neither."""
    [entry] = lms_files.plan([path], ROSTER_IDS, lms)
    assert (entry.status, entry.student, entry.lms_id) == (lms_files.AMBIGUOUS, "ada, grace", "12345, 23456")


def test_a_reading_off_the_roster_does_not_make_a_file_ambiguous():
    """Every Canvas name reads a second way (the submission id as a user id); only ids on the
    roster count."""
    entries = lms_files.plan([f"lovelaceada_12345_678901_{NB1}", f"o_brien_23456_8_1_x.txt"], ROSTER_IDS, "canvas")
    assert [(e.status, e.student, e.file_id) for e in entries] == [
        (lms_files.COLLECTED, "ada", NB1), (lms_files.COLLECTED, "grace", "1_x.txt")]
    # Moodle's folder form ends the name where the folder ends: the imitation reads one way only.
    [entry] = lms_files.plan([f"Eve_12345_assignsubmission_file_x_23456_assignsubmission_file_/{NB1}"], ROSTER_IDS,
                          "moodle")
    assert (entry.status, entry.student, entry.file_id) == (lms_files.COLLECTED, "grace", NB1)


def test_lms_is_recognised_by_the_names_most_files_fit():
    assert lms_files.detect_lms([f"Ada_1_assignsubmission_file_/{NB1}", "readme.txt"]) == "moodle"
    assert lms_files.detect_lms([f"ada_1_2_{NB1}", f"ada_1_2_{NB2}", f"Ada_1_assignsubmission_file_/{NB1}"]) == "canvas"
    assert lms_files.detect_lms(["readme.txt", NB1]) is None


def test_canvas_numbers_are_resubmissions_only_where_they_can_be():
    roster = [Student("ada", "1")]
    paths = ["ada_1_5_data-2023.csv", "ada_1_5_plot.png", "ada_1_5_plot-1.png", "ada_1_5_plot-3.png",
             f"ada_1_5_{NB2[:-6]}-4.ipynb", "ada_1_5_gc_utils-1.py"]
    entries = lms_files.plan(paths, roster, "canvas", released={NB1, NB2, "gc_utils.py"})
    collected = {e.file_id: e.path for e in entries if e.status == lms_files.COLLECTED}
    assert collected == {"data-2023.csv": "ada_1_5_data-2023.csv", "plot.png": "ada_1_5_plot-3.png",
                         NB2: f"ada_1_5_{NB2[:-6]}-4.ipynb", "gc_utils.py": "ada_1_5_gc_utils-1.py"}
    assert sorted(e.path for e in entries if e.status == lms_files.SUPERSEDED) == ["ada_1_5_plot-1.png",
                                                                               "ada_1_5_plot.png"]


def test_a_student_cannot_send_nbgraders_timestamp_or_configuration_file():
    """nbgrader takes timestamp.txt for the submission time, and runs an nbgrader_config.py of the
    folder it starts in (at any depth a student's folder could become that)."""
    roster = [Student("ada", "1")]
    entries = lms_files.plan(["ada_1_5_timestamp.txt", f"ada_1_5_{NB1}", "ada_1_5_nbgrader_config.py",
                           "ada_1_5_nbgrader_config.json"], roster, "canvas")
    assert {e.path: e.status for e in entries} == {
        "ada_1_5_timestamp.txt": lms_files.RESERVED, f"ada_1_5_{NB1}": lms_files.COLLECTED,
        "ada_1_5_nbgrader_config.py": lms_files.RESERVED, "ada_1_5_nbgrader_config.json": lms_files.RESERVED}
    [entry] = lms_files.plan(["Ada_1_assignsubmission_file_/deeper/nbgrader_config.py"], roster, "moodle")
    assert entry.status == lms_files.RESERVED
