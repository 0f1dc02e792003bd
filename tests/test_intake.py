"""grading.lms.intake: Canvas and Moodle downloads into submitted/ and the gradebook, through the real
`nbgrader db student import` and `nbgrader zip_collect`.

The zips are built here the way each LMS names its files; every notebook in them is distinct, so
that a file in submitted/ can be traced to the one zip member it must come from. Whole classes
through `make intake`, `make autograde` and `make export`, and what each LMS gets back, are in
tests/test_views.py.
"""
import contextlib
import csv
import io
import os
import re
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest
from nbgrader.api import Gradebook

from commands import command_env
from grading.assignment import ASSIGNMENT
from grading.lms import intake, lms_files, uploads
from grading.lms.roster import IntakeError, Student, read_roster
from grading.lms.zip_members import member_problem
from grading.settings import DEFAULTS
from synthetic_class import synthetic

NB1, NB2 = "1_gradient_checking_1d.ipynb", "2_gradient_checking_nd.ipynb"
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
                                capture_output=True, text=True, env=command_env())
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
def canvas(new_course, canvas_zip):
    zip_path, members, roster = canvas_zip
    return run_intake(new_course("canvas"), zip_path, roster), members


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


def test_a_download_shaped_by_a_submitters_name_never_touches_another_students_files(new_course, tmp_path):
    """Mallory (LMS id 23456) sets her display name to "x_12345_1", so Canvas names her file
    "x_12345_1_23456_777_...": it reads as ada's (12345) too. It is collected for neither; ada's
    notebooks, taken in by an earlier download, stay as they were."""
    root = new_course("imitation")
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


def test_a_notebook_the_grader_cannot_read_is_listed_at_intake(new_course, tmp_path):
    """A corrupt notebook is reported while the instructor can still ask for it again; it is
    collected all the same (grading records why it scores 0), and the others are not held up."""
    root = new_course("unreadable")
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


def test_grades_go_back_in_moodle_own_worksheet():
    rows = uploads.filled_rows(MOODLE_WORKSHEET, "moodle", {"12345": "ada", "23456": "grace"}, {"ada": 85.0}, "")
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
def moodle(new_course, tmp_path_factory):
    folder = tmp_path_factory.mktemp("moodle_zip")
    members = zip_members(MOODLE)
    zip_path = make_zip(folder / "GC101-Gradient checking-42.zip", members)
    db_url = f"sqlite:///{folder / 'elsewhere.db'}"
    # The real command line, as an instructor types it.
    run = run_intake(new_course("moodle"), zip_path, write_roster(folder), db_url=db_url, process=True)
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


def test_an_unsafe_member_is_skipped_and_everyone_else_is_collected(new_course, canvas_zip, tmp_path):
    """One member whose path would leave the download's folder (a student's file name cannot make
    that; a tampered zip can) costs that member only, said in a sentence."""
    _, members, roster = canvas_zip
    unsafe = {"../../outside.ipynb": b"{}", "/absolute/evil.ipynb": b"{}", "C:/windows/evil.ipynb": b"{}",
              "lovelaceada_12345_678901_../../../escape.txt": b"x"}
    zip_path = make_zip(tmp_path / "tampered.zip", {**members, **unsafe})
    root = new_course("unsafe_member")
    run = run_intake(root, zip_path, roster)
    assert run.status == 0, run.err
    assert sorted({key.split("/")[0] for key in run.submitted}) == ["ada", "grace"]
    for name in unsafe:
        assert f"skipped, its path leads outside the download's folder (no LMS writes that): {name!r}" in run.out
    assert not (root.parent / "outside.ipynb").exists() and not Path("/absolute/evil.ipynb").exists()
    assert not list(root.parent.rglob("escape.txt"))


def test_zip_abuse_is_skipped_member_by_member_and_everyone_else_is_collected(new_course, canvas_zip, tmp_path):
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
    root = new_course("zip_abuse")
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


def test_a_zip_of_nothing_but_unsafe_members_is_refused(new_course, tmp_path):
    root = new_course("only_unsafe")
    run = run_intake(root, make_zip(tmp_path / "bad.zip", {"../x.ipynb": b"{}"}), write_roster(tmp_path))
    assert run.status == 2 and "holds no file that can be collected" in run.err and "leads outside" in run.err
    assert not (root / "submitted").exists()


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
def test_unusable_input_is_refused_with_a_clear_message(case, new_course, tmp_path):
    root = new_course("errors")
    build, roster_text, options, message = BAD_INPUTS[case]
    zip_path = build(tmp_path / "download.zip")
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
