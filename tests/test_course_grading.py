"""`make autograde` on a whole class: every mode gives stock nbgrader's grades; resume; kill; outputs.

One batch of honest submissions (right, wrong in each function, blank, half done) is graded by
stock serial `nbgrader autograde`, then by grading.grader.autograde in every mode: local worker
processes and a Dask cluster of separate worker processes, each on SQLite and on a real
PostgreSQL server. In every mode nbgrader's own scores (auto_score) equal stock's, cell by
cell. The final scores equal stock's too, except where verification graded a function on its
own (a test that failed only because an earlier function was wrong): each such cell is
flagged with its reason, and is the same in every mode.
"""
import contextlib
import csv
import io
import json
import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from grading.checks.provided import ASSIGNMENT, gc_feedback
from grading.course_directory import Course
from grading.grader import autograde, course, gradebook, ledger
from synthetic_class import catalog, demo, synthetic

MISTAKES = ("fwd_returns_x", "bwd_returns_J", "one_sided_1d", "gcn_one_sided", "bp_same_value_for_all",
            "team_bugs_kept")
MINOR_MISTAKES = ("gc_prints_never", "fixed_changes_cache")   # partial credit: a minor part's points lost


def honest_class():
    """{student: notebooks}: a correct alternative solution, one mistake per function, blank, half done."""
    def variant(name):
        v = catalog.by_name(name)
        return synthetic.submission({v.cell: v.code})

    students = {f"m_{name}": variant(name) for name in MISTAKES + MINOR_MISTAKES}
    students["a_alternative"] = variant(catalog.ALTERNATIVES[0].name)
    students["z_blank"] = synthetic.submission(complete=False)
    return students


# The runners and gradebooks beyond the local SQLite run grade a smaller class: one correct, one
# mistake in each notebook, one blank (the whole class runs locally and in the stock comparison).
SMALL = ("a_alternative", "m_one_sided_1d", "m_team_bugs_kept", "z_blank")


def small_class():
    return {student: notebooks for student, notebooks in honest_class().items() if student in SMALL}


def only_small(scores):
    return {student: row for student, row in scores.items() if student in SMALL}


def class_course(new_course, name, students):
    root = new_course(name)
    for student, notebooks in students.items():
        course.add_submission(root, student, notebooks)
    return root


def run(root, *args):
    """grading.grader.autograde's main in this process; returns (exit status, printed text)."""
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        status = autograde.main(["--root", str(root), "--quiet", *args])
    return status, printed.getvalue()


def assert_stock_grades(root, stock, db_url=None):
    """nbgrader's scores equal stock's; a final score differs only where a flag says why."""
    db_url = db_url or gradebook.configured_url(root)
    assert course.scores(root, db_url, auto=True) == stock
    final = course.scores(root, db_url)
    results = {r["student"]: r for r in autograde_results(root)}
    for student, row in final.items():
        flagged = {flag.split(":")[0] for flag in results[student]["flags"]}
        changed = {f for f, points in row.items() if points != stock[student][f]}
        assert changed == flagged, f"{student}: changed {changed}, flagged {flagged}"
        assert all(row[f] > stock[student][f] and "verified" in " ".join(results[student]["flags"]) for f in changed)
    return final


def autograde_results(root):
    """The run's report: each student's Result as the class report reads it (flags as sentences)."""
    return json.loads(Course(root).results_file.read_text())


@pytest.fixture(scope="module")
def stock(new_course):
    """Stock serial `nbgrader autograde`'s scores of the class: two halves in two courses at once,
    one run each, to use both cores (a run grades one submission at a time)."""
    students = sorted(honest_class().items())
    halves = [dict(students[::2]), dict(students[1::2])]

    def grade(k):
        root = class_course(new_course, f"stock{k}", halves[k])
        course.autograde(root)
        return course.scores(root)

    with ThreadPoolExecutor(max_workers=2) as pool:
        first, second = pool.map(grade, range(2))
    return {**first, **second}


@pytest.fixture(scope="module")
def local_sqlite(new_course):
    root = class_course(new_course, "local", honest_class())
    status, printed = run(root, "--workers", "2")
    return root, status, printed


def test_class_has_full_middle_and_zero_scores(stock):
    totals = {s: sum(row.values()) for s, row in stock.items()}
    assert len(totals) == len(honest_class())
    assert totals["a_alternative"] == 100 and totals["z_blank"] == 0
    assert all(0 < totals[f"m_{name}"] < 100 for name in MISTAKES), totals


def test_local_workers_on_sqlite_equal_stock_nbgrader(stock, local_sqlite):
    root, status, printed = local_sqlite
    assert status == 0, printed
    assert "on 2 local worker process(es)" in printed
    final = assert_stock_grades(root, stock)
    # One bug, one penalty, in stock nbgrader too: gradient_check's tests swap in a known cost, so a
    # wrong forward_propagation costs only its own points.
    assert final["m_fwd_returns_x"]["gradient_check"] == stock["m_fwd_returns_x"]["gradient_check"] == 20
    assert final["m_fwd_returns_x"]["forward_propagation"] == stock["m_fwd_returns_x"]["forward_propagation"] == 0
    workers = {r["worker"] for r in autograde_results(root)}
    assert len(workers) == 2, f"one process graded everything: {workers}"
    # Partial credit: a minor part's points go, in the kernel (nbgrader's partial credit, stock too)
    # and in verification alike, so nothing is flagged; the feedback says which part and why.
    results = {r["student"]: r for r in autograde_results(root)}
    for name in MINOR_MISTAKES:
        v = catalog.by_name(name)
        kept = gc_feedback.points_kept(v.cell, {v.part})
        assert final[f"m_{name}"][v.cell] == stock[f"m_{name}"][v.cell] == kept < sum(gc_feedback.POINTS[v.cell].values())
        assert not results[f"m_{name}"]["flags"], results[f"m_{name}"]["flags"]
        shown = " ".join(course.cell_output(root, f"m_{name}", synthetic.notebook_of()[v.cell], "test_" + v.cell).split())
        assert v.diagnosis in shown and f"keeps {kept:g} of its" in shown, shown


def test_postgresql_gradebook_equals_stock_nbgrader(stock, local_sqlite, new_course, postgres_server, dask_scheduler):
    # PostgreSQL, the gradebook of several machines, with the Dask runner, theirs too (the local
    # runner writes the gradebook through the same code: tested on SQLite above).
    root = class_course(new_course, "pg_dask", small_class())
    url = postgres_server.create_database("gradebook_dask")
    status, printed = run(root, "--db-url", url, "--scheduler", dask_scheduler)   # the URL as an instructor writes it
    assert status == 0, printed
    local = only_small(course.scores(local_sqlite[0]))
    assert assert_stock_grades(root, only_small(stock), gradebook.normalized(url)) == local
    assert not gradebook.graded_students(gradebook.configured_url(root)), "the SQLite gradebook was used"
    with open(root / "grades.csv") as handle:     # nbgrader's export read the PostgreSQL gradebook
        exported = {row["student_id"]: float(row["score"]) for row in csv.DictReader(handle)}
    assert exported == {s: sum(row.values()) for s, row in local.items()}
    # The stock commands, with the URL as the instructor writes it in the environment.
    env = {**os.environ, "GRADEBOOK_URL": url, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    for command in (["export", "--to", "stock_export.csv"], ["db", "student", "list"]):
        done = subprocess.run([str(Path(sys.executable).parent / "nbgrader"), *command], cwd=root, env=env,
                              capture_output=True, text=True)
        assert done.returncode == 0, done.stdout + done.stderr
    assert "z_blank" in done.stdout
    with open(root / "stock_export.csv") as handle:
        assert {row["student_id"]: float(row["score"]) for row in csv.DictReader(handle)} == exported


def test_a_changed_grader_or_gradebook_makes_grades_stale(local_sqlite, tmp_path):
    root, _, _ = local_sqlite
    url = gradebook.configured_url(root)
    assert ledger.Ledger(root, url).is_current("m_one_sided_1d")
    assert not ledger.Ledger(root, "postgresql://someone@elsewhere/db").is_current("m_one_sided_1d")
    config = (root / "nbgrader_config.py").read_text()
    try:
        (root / "nbgrader_config.py").write_text(config + "\nc.Execute.timeout = 61\n")
        assert not ledger.Ledger(root, url).is_current("m_one_sided_1d")
    finally:
        (root / "nbgrader_config.py").write_text(config)
    assert ledger.public_url("postgresql://grader:secret@db.example:5432/course") == \
        "postgresql://grader:***@db.example:5432/course"


def test_instructor_outputs(local_sqlite, stock):
    root, _, printed = local_sqlite
    with open(root / "grades.csv") as handle:
        exported = {row["student_id"]: float(row["score"]) for row in csv.DictReader(handle)}
    assert exported == {s: sum(row.values()) for s, row in course.scores(root).items()}
    assert len(exported) == len(stock)
    # Feedback: the diagnosis is there, the hidden cases are not.
    feedback = root / "feedback" / "m_one_sided_1d" / ASSIGNMENT / "1_gradient_checking_1d.html"
    page = feedback.read_text()
    # (The sentence is wrapped to 100 characters: where its lines break depends on the case's numbers.)
    words = " ".join(page.replace("&#39;", "'").replace("&quot;", '"').split())
    assert catalog.by_name("one_sided_1d").diagnosis in words
    assert "grading.checks.cases" not in page and "np.random.default_rng" not in page
    assert all((root / "feedback" / s / ASSIGNMENT).is_dir() for s in stock)
    # The class report: one page with its plots, every one of them a real PNG.
    report = (root / "reports" / "class_report.html").read_text()
    for image in ("scores.png", "pass_rate.png", "mistakes.png", "flags.png"):
        assert f'src="{image}"' in report
        assert (root / "reports" / image).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def killed_and_resumed(new_course):
    """A class of six whose run was killed (SIGKILL, its whole process group) once two grades were
    finished, then run again: (root, the finished grades' students, processes left 30 s after the
    kill, the second run's status and printed text)."""
    import psutil

    students = {f"s{k}": synthetic.submission() for k in range(6)}
    root = class_course(new_course, "killed", students)
    command = [sys.executable, "-m", "grading.grader.autograde", "--root", str(root), "--workers", "2", "--quiet"]
    process = subprocess.Popen(command, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    entries = root / ledger.LEDGER
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and len(list(entries.glob("*.json"))) < 2:
        time.sleep(0.2)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    finished = sorted(p.stem for p in entries.glob("*.json"))
    scores = course.scores(root)

    def leftovers():
        return [{**p.info, "cmdline": " ".join(p.info["cmdline"])[-160:]}
                for p in psutil.process_iter(["pid", "ppid", "status", "create_time", "cmdline"])
                if any(str(root) in part for part in (p.info["cmdline"] or []))]

    # Workers notice their parent's death on their own (PDEATHSIG, a watch), and every sandbox
    # dies with the process that started it; on a loaded machine that can take a moment, never long.
    ending = time.monotonic() + 30
    while leftovers() and time.monotonic() < ending:
        time.sleep(0.2)
    left = leftovers()
    status, printed = run(root, "--workers", "2")
    return root, finished, scores, left, status, printed


def test_killed_run_loses_no_finished_grade(killed_and_resumed):
    root, finished, scores_at_kill, left, status, printed = killed_and_resumed
    assert 2 <= len(finished) < 6, finished
    assert all(sum(scores_at_kill[s].values()) == 100 for s in finished), scores_at_kill
    assert not left, f"processes of the killed run are still running 30 s later: {left}"
    assert status == 0, printed
    assert f"Grading {6 - len(finished)} of 6 submissions" in printed, printed
    assert all(sum(row.values()) == 100 for row in course.scores(root).values())
    assert len(course.scores(root)) == 6


def test_second_run_grades_only_what_changed(killed_and_resumed):
    root = killed_and_resumed[0]
    before = {p.name: p.stat().st_mtime_ns for p in (root / ledger.LEDGER).iterdir()}
    graded = course.scores(root)
    status, printed = run(root, "--workers", "2")
    assert status == 0 and "Grading 0 of 6 submissions" in printed, printed
    assert {p.name: p.stat().st_mtime_ns for p in (root / ledger.LEDGER).iterdir()} == before
    assert course.scores(root) == graded

    # One student hands in new work with a mistake in it: only that one is graded again.
    mistake = catalog.by_name("one_sided_1d")
    course.add_submission(root, "s0", synthetic.submission({mistake.cell: mistake.code}))
    status, printed = run(root, "--workers", "2")
    assert status == 0 and "Grading 1 of 6 submissions" in printed, printed
    again = course.scores(root)
    assert 0 < sum(again["s0"].values()) < 100, again["s0"]
    assert {s: row for s, row in again.items() if s != "s0"} == {s: row for s, row in graded.items() if s != "s0"}

    status, printed = run(root, "--force", "--student", "s1")
    assert status == 0 and "Grading 1 of 1 submissions" in printed, printed


def test_an_instructors_score_outlives_a_resubmission(copied_class):
    """The instructor sets a function that verification overrode to 0 in the formgrader; the student
    resubmits; `make autograde` keeps the 0 and flags the disagreement, and updates verification's
    own overrides of the functions the instructor never touched."""
    from nbgrader.api import Gradebook

    from grading.grader import verify

    root, _ = copied_class
    student, notebook = "otto_crashing", synthetic.notebook_of()["gradient_check_n"][:-len(".ipynb")]
    url = gradebook.configured_url(root)
    first = course.scores(root, student=student)[student]
    # The kernel died in gradient_check_by_parameter: nbgrader scored none of the notebook's functions.
    assert [first[f] for f in ("gradient_check_n", "gradient_check_by_parameter", "backward_propagation_n_fixed")] \
        == [25, 0, 25]
    with Gradebook(url) as book:   # what the formgrader's grade handler does with a typed score
        grade = book.find_grade("test_gradient_check_n", notebook, ASSIGNMENT, student)
        grade.manual_score, grade.needs_manual_grade = 0.0, False
        book.db.commit()
        comment = book.find_comment("gradient_check_n", notebook, ASSIGNMENT, student).manual_comment
    assert comment.startswith(verify.MARKER), "the comment is left as verification wrote it"

    crash = demo.CRASH.replace("gradient_check_by_parameter(parameters, gradients, X, Y, epsilon=1e-6)",
                               "backward_propagation_n_fixed(X, Y, cache)")
    course.add_submission(root, student, synthetic.submission({"backward_propagation_n_fixed": crash}))
    status, printed = run(root, "--no-feedback")
    assert status == 0 and "Grading 1 of 6 submissions" in printed, printed
    again = course.scores(root, student=student)[student]
    assert again["gradient_check_n"] == 0, "the instructor's 0 was kept"
    assert (again["gradient_check_by_parameter"], again["backward_propagation_n_fixed"]) == (20, 0), \
        "verification's own overrides are brought up to date"
    flags = {r["student"]: r["flags"] for r in autograde_results(root)}[student]
    assert "gradient_check_n: the instructor's manual score 0 was kept, verified 25" in flags[0], flags
    with Gradebook(url) as book:
        assert book.find_comment("gradient_check_n", notebook, ASSIGNMENT, student).manual_comment == comment
        assert book.find_submission_notebook(notebook, ASSIGNMENT, student).flagged
    with open(root / "grades.csv") as handle:
        exported = {row["student_id"]: float(row["score"]) for row in csv.DictReader(handle)}
    assert exported[student] == sum(again.values()) == 5 + 5 + 20 + 0 + 20 + 0
