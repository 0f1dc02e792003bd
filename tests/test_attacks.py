"""The attack catalog (synthetic_class.attacks) through the real `make autograde`, with canaries outside the course.

One batch: each attack as a student of its own, between two honest students (graded first and
last), graded by `python -m grading.grader.autograde` with two workers, a short deadline and the usual
limits, while an inotify watch sits on canary files outside the course (tests/canaries.py).
Each attack must end with nothing outside its submission changed or revealed, its gamed
function at 0, both honest students at 100, and the run finishing in bounded time; and when
the run is over, no process of it is left, and nothing in the folder where its kernels' sockets
were (jupyter's runtime folder, one of the run's own here).

The suite grades a sample of the catalog: the first three attacks of each kind and every attack a
test below names (tests/sampling.py); `make bench` grades all of them (GC_WHOLE_CATALOG=1).
"""
import json
import os
import re
import subprocess
import sys
import time
import uuid
import zipfile

import nbformat
import pytest
from canaries import Canaries
from commands import autograde, command_env, hash_tree
from sampling import sample

from grading.assignment import ASSIGNMENT, FEEDBACK_PAGES, NOTEBOOKS
from grading.grader import course, verify
from grading.sandboxing.kernels import PACKAGE
from grading.settings import DEFAULTS as LIMITS
from synthetic_class import attacks, synthetic

DEADLINE, CELL_TIMEOUT = 30, 8      # seconds: short, so that the time attacks end soon
HONEST = ("aaa_honest_first", "zzz_honest_last")
POINTS = {f: p for layout in verify.assignment_layout() for f, p in layout.functions.items()}
RUN_BOUND = 900                     # seconds for the whole batch (it takes about a third of that)
OWN_PAGE = "OWN-PAGE-" + uuid.uuid4().hex   # in the pages a student hands in as their feedback
NAMED = {"denied_system_calls", "link_fifo", "link_device", "fill_socket_folder", "deep_tree_in_socket_folder"}
ATTACKS = sample(attacks.ATTACKS, group=lambda a: a.kind, per_group=3,
                 keep=lambda a: a.name in NAMED or a.kind in ("special file", "submitted file"))


def places(root, student, canary_folder):
    kernel_folder = root / "autograded" / student / ASSIGNMENT
    return {"@REL_CANARY@": os.path.relpath(canary_folder, kernel_folder), "@CANARY@": str(canary_folder),
            "@REL_COURSE@": os.path.relpath(root, kernel_folder), "@COURSE@": str(root),
            "@PACKAGE@": str(PACKAGE), "@HONEST@": HONEST[0]}


def plant_submitted(root, attack, canary_folder):
    """What an attack hands in besides notebooks: links, a FIFO, a device (made here, as the LMS
    or the exchange would have stored them)."""
    folder = root / "submitted" / attack.name / ASSIGNMENT
    honest = root / "submitted" / HONEST[0] / ASSIGNMENT
    if attack.submitted == "notebook link":
        (folder / NOTEBOOKS[0]).unlink()
        os.symlink(honest / NOTEBOOKS[0], folder / NOTEBOOKS[0])
    elif attack.submitted == "folder link":
        for path in folder.iterdir():
            path.unlink()
        folder.rmdir()
        os.symlink(honest, folder)
    elif attack.submitted == "fifo":
        os.mkfifo(folder / "data.csv")
    elif attack.submitted == "device":
        os.mknod(folder / "zeros.bin", 0o666 | __import__("stat").S_IFCHR, os.makedev(1, 5))
    elif attack.submitted == "feedback pages":
        (folder / FEEDBACK_PAGES[0]).write_text(f"<html><body><script>alert(1)</script><p>{OWN_PAGE}</p>"
                                                "<p>Score: 50.0 / 50.0</p></body></html>")
        (folder / "notes.html").write_text(f"<html><body><script>alert(2)</script>{OWN_PAGE}</body></html>")
    elif attack.submitted == "lone surrogate":   # nbformat cannot write one: put the escape in the JSON itself
        notebook = folder / NOTEBOOKS[0]
        notebook.write_text(notebook.read_text().replace("LONE_SURROGATE", "LONE \\ud800 SURROGATE"))


def secret_markers(root, canaries, gradebook_marker):
    """Strings that must never appear in an attacker's graded notebooks or feedback: the canary's
    secret, a name in the gradebook, and lines of the hidden tests that no student sees (not in
    the release, not in what `import grading` finds in the kernel)."""
    public = "".join((root / "release" / ASSIGNMENT / name).read_text() for name in NOTEBOOKS)
    public += "".join(p.read_text() for p in (PACKAGE / "inside").rglob("*.py"))
    markers = {canaries.secret: "the canary secret", gradebook_marker: "the gradebook"}
    # (Not reference.py: these synthetic students hand in the instructor's solutions as their own.)
    for module in ("checks_nd.py", "checks_1d.py", "diagnoses.py", "cases.py", "harness.py"):
        lines = [line.strip() for line in (PACKAGE / "checks" / module).read_text().splitlines()]
        distinct = [line for line in lines if len(line) > 40 and line not in public and not line.startswith("#")]
        for line in distinct[:6]:
            markers[line] = f"grading/checks/{module}"
    return markers


def run_processes(root):
    """Processes that belong to a grading run of `root` (by command line or working folder), or a
    step or zygote started from this checkout's Python (other checkouts may grade meanwhile)."""
    import psutil

    found = []
    for process in psutil.process_iter(["pid", "cmdline", "cwd"]):
        text = " ".join(process.info["cmdline"] or []) + " " + str(process.info.get("cwd") or "")
        if str(root) in text or ("step_server" in text or "kernel_zygote" in text) and sys.prefix in text:
            found.append(process.info)
    return found


@pytest.fixture(scope="module")
def batch(new_course, tmp_path_factory):
    root = new_course("attacks")
    canaries = Canaries(tmp_path_factory.mktemp("canaries_outside_the_course"))
    honest_marker = "HONEST-" + uuid.uuid4().hex
    for student in HONEST:
        notebooks = synthetic.submission()
        notebooks[NOTEBOOKS[0]].cells.append(nbformat.v4.new_code_cell(f"# {honest_marker}"))
        course.add_submission(root, student, notebooks)
    for attack in ATTACKS:
        course.add_submission(root, attack.name,
                              attacks.submission(attack, places=places(root, attack.name, canaries.folder)))
        plant_submitted(root, attack, canaries.folder)
    honest_before = {s: hash_tree(root / "submitted" / s) for s in HONEST}
    gradebook_marker = "GRADEBOOK-" + uuid.uuid4().hex   # a name only the gradebook holds
    course.nbgrader(root, "db", "student", "add", "someone", f"--first-name={gradebook_marker}")
    options = ["--workers", "2", "--deadline", str(DEADLINE), "--cell-timeout", str(CELL_TIMEOUT)]
    runtime = tmp_path_factory.mktemp("jupyter_runtime")   # where the kernels' sockets are: the run's own
    env = command_env(JUPYTER_RUNTIME_DIR=str(runtime))
    started = time.monotonic()
    with canaries.watching():
        done = autograde(root, *options, env=env, timeout=RUN_BOUND)
        seconds = time.monotonic() - started
        time.sleep(1)   # late events
    time.sleep(2)
    left = run_processes(root)
    results = {r["student"]: r for r in json.loads((root / "reports" / "autograde.json").read_text())}
    yield {"root": root, "canaries": canaries, "done": done, "seconds": seconds, "results": results, "env": env,
           "runtime_left": sorted(p.name for p in runtime.iterdir()),
           "scores": course.scores(root), "auto": course.scores(root, auto=True), "left": left,
           "honest_before": honest_before, "honest_marker": honest_marker,
           "markers": {**secret_markers(root, canaries, gradebook_marker), honest_marker: "another student's notebook"}}
    canaries.close()


def test_the_catalog_has_at_least_40_attacks_of_every_kind():
    names = [a.name for a in attacks.ATTACKS]
    assert len(names) == len(set(names)) and len(names) >= 40
    kinds = {a.kind for a in attacks.ATTACKS}
    assert {"in-kernel", "secret", "link", "special file", "flood", "time", "memory", "processes",
            "forged reply", "system call", "submitted file"} <= kinds
    assert all(a.games in POINTS for a in attacks.ATTACKS)


def test_the_run_finishes_in_bounded_time_and_grades_everyone(batch):
    done = batch["done"]
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert batch["seconds"] < RUN_BOUND
    assert set(batch["results"]) == set(HONEST) | {a.name for a in ATTACKS}
    slowest = max(batch["results"].values(), key=lambda r: r["seconds"])
    assert slowest["seconds"] < DEADLINE + LIMITS.grace_seconds + 30, (slowest["student"], slowest["seconds"])


def test_nothing_outside_the_course_was_touched(batch):
    canaries = batch["canaries"]
    assert canaries.touched() == [], canaries.touched()[:20]
    assert canaries.changed() == []


def test_no_process_of_the_run_is_left(batch):
    assert batch["left"] == []


@pytest.mark.parametrize("student", HONEST)
def test_the_honest_students_keep_full_marks(batch, student):
    assert sum(batch["scores"][student].values()) == 100, batch["scores"][student]
    assert batch["results"][student]["flags"] == [], batch["results"][student]["flags"]
    assert hash_tree(batch["root"] / "submitted" / student) == batch["honest_before"][student], "a submission changed"


@pytest.mark.parametrize("attack", ATTACKS, ids=lambda a: a.name)
def test_the_attack_gains_nothing_and_reaches_nothing(batch, attack):
    root = batch["root"]
    result = batch["results"][attack.name]
    assert not result["failed"], result["failed"]
    # Its gamed function scores 0; where the kernel was fooled, verification overrode and flagged it.
    assert batch["scores"][attack.name][attack.games] == 0, batch["scores"][attack.name]
    if batch["auto"][attack.name][attack.games] > 0:
        assert any(flag.startswith(attack.games) for flag in map(str, result["flags"])), result["flags"]
    # What comes back to the course from its grading: regular files only, no secret in them.
    for kind in ("autograded", "feedback"):
        folder = root / kind / attack.name
        for path in folder.rglob("*") if folder.exists() else ():
            info = os.lstat(path)
            assert path.is_dir() and not path.is_symlink() or __import__("stat").S_ISREG(info.st_mode), path
            if path.is_file():
                text = path.read_bytes().decode(errors="replace")
                for marker, what in batch["markers"].items():
                    assert marker not in text, f"{what} in {path.relative_to(root)}"
    assert result["seconds"] < DEADLINE + LIMITS.grace_seconds + 30


@pytest.mark.parametrize("attack", [a for a in ATTACKS if a.kind == "flood"], ids=lambda a: a.name)
def test_a_flood_is_cut_to_the_output_budget(batch, attack):
    graded = batch["root"] / "autograded" / attack.name / ASSIGNMENT / NOTEBOOKS[0]
    if graded.exists():   # nbgrader may have given up on the notebook (then nothing is kept)
        assert graded.stat().st_size < LIMITS.output_bytes + 2 * 2 ** 20, graded.stat().st_size
    for page in (batch["root"] / "feedback" / attack.name).rglob("*.html"):
        assert page.stat().st_size < 2 * LIMITS.output_bytes + 4 * 2 ** 20, (page, page.stat().st_size)
    assert batch["results"][attack.name]["peak_mb"] < 1024, "the grading worker itself grew"


@pytest.mark.parametrize("attack", [a for a in ATTACKS if a.kind == "memory"], ids=lambda a: a.name)
def test_memory_is_bounded_for_the_whole_submission(batch, attack):
    peak = batch["results"][attack.name]["kernel_peak_mb"]
    assert 0 < peak <= LIMITS.memory_bytes / 2 ** 20 + 16, peak


def test_denied_system_calls_fail_in_the_kernel(batch):
    printed = course.cell_output(batch["root"], "denied_system_calls", NOTEBOOKS[0], "forward_propagation")
    results = json.loads(re.search(r"SYSCALLS (\{.*\})", printed).group(1))
    assert results and all(value in ("EPERM", "ENOSYS") for value in results.values()), results


def test_submitted_links_and_special_files_are_not_read(batch):
    results = batch["results"]
    assert any("symbolic link" in p for p in results["submits_a_link_to_a_notebook"]["problems"])
    assert any("symbolic link" in p for p in results["submits_a_linked_folder"]["problems"])
    assert any("FIFO" in p for p in results["submits_a_fifo"]["problems"])
    assert any("device" in p for p in results["submits_a_device"]["problems"])
    assert sum(batch["scores"]["submits_a_link_to_a_notebook"].values()) == 0


def test_a_rerun_of_the_special_files_ends_the_same_way(batch):
    root = batch["root"]
    again = [a.name for a in ATTACKS if a.kind in ("special file", "submitted file")] + ["link_fifo", "link_device"]
    done = autograde(root, "--workers", "2", "--force", "--deadline", str(DEADLINE), "--cell-timeout", str(CELL_TIMEOUT),
                     *[f"--student={s}" for s in again], env=batch["env"], timeout=RUN_BOUND)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    scores = course.scores(root)
    assert all(scores[s] == batch["scores"][s] for s in again)
    assert re.search(r"^lone_surrogate_in_comment .* 0 ", done.stdout, re.MULTILINE), done.stdout[-3000:]
    assert "Class report:" in done.stdout and "Similarity:" in done.stdout


def test_the_kernels_socket_folder_is_bounded_and_leaves_nothing(batch):
    """A kernel that fills the one host folder it may write, and one that builds a tree 1,200 deep
    there (a link outside at every level): bounded as root (a small tmpfs), removed after each
    submission without recursion, no mount and no folder left; both graded."""
    printed = course.cell_output(batch["root"], "fill_socket_folder", NOTEBOOKS[0], "forward_propagation")
    mib, made = map(int, re.search(r"SOCKET FOLDER (\d+) MiB (\d+) files", printed).groups())
    if os.geteuid() == 0:   # only root mounts the tmpfs; otherwise the folder is a plain one (docs/security.md)
        assert mib <= LIMITS.socket_area_bytes // 2 ** 20 and made < LIMITS.socket_area_files, printed
    printed = course.cell_output(batch["root"], "deep_tree_in_socket_folder", NOTEBOOKS[0], "forward_propagation")
    assert "DEPTH 1200" in printed, printed
    assert batch["runtime_left"] == []
    with open("/proc/self/mountinfo") as mounts:
        assert "gc-kernel-sockets" not in mounts.read()


def test_feedback_is_only_what_nbgrader_rendered(batch, tmp_path):
    """A student's own `1_gradient_checking_1d.html` and `notes.html` reach neither feedback/ nor
    the LMS's feedback zip, whether nbgrader rendered that page (first notebook handed in) or not;
    a page swapped for a link is named in the export's summary and left out, the others sent."""
    root = batch["root"]
    rendered = {"submits_feedback_pages": {FEEDBACK_PAGES[0]},
                "submits_feedback_pages_without_notebook": {FEEDBACK_PAGES[1]}}
    for student, pages in rendered.items():
        folder = root / "feedback" / student / ASSIGNMENT
        assert {p.name for p in folder.iterdir()} == pages
        assert all(OWN_PAGE not in p.read_text() for p in folder.iterdir())
    # `make export` as a Canvas course: the feedback zip holds the rendered pages only. One student's
    # first page swapped for a link to a file outside the course: named, left out, the rest sent.
    students = [*rendered, *HONEST]
    linked = root / "feedback" / HONEST[1] / ASSIGNMENT / FEEDBACK_PAGES[0]
    kept = linked.read_bytes()
    outside = tmp_path / "outside.html"
    outside.write_text("a file outside the course")
    linked.unlink()
    linked.symlink_to(outside)
    downloaded = root / "downloaded" / ASSIGNMENT
    downloaded.mkdir(parents=True, exist_ok=True)
    (downloaded / "roster.csv").write_text("id,lms_id\n" + "".join(f"{s},{1000 + i}\n" for i, s in enumerate(students)))
    (downloaded / "lms.json").write_text(json.dumps({"lms": "canvas", "students": {
        s: {"lms_id": str(1000 + i), "name": f"name{i}", "submission": str(2000 + i)} for i, s in enumerate(students)}}))
    try:
        done = subprocess.run([sys.executable, "-m", "grading.lms.lms_export", "--root", str(root), "--release-flagged"],
                              capture_output=True, text=True, env=batch["env"])
    finally:
        linked.unlink()
        linked.write_bytes(kept)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"not sent: {HONEST[1]}: {FEEDBACK_PAGES[0]} left out" in done.stdout, done.stdout
    with zipfile.ZipFile(root / "exports" / "canvas_feedback.zip") as bundle:
        members = {name: bundle.read(name) for name in bundle.namelist()}
    sent = {**rendered, HONEST[1]: FEEDBACK_PAGES[1:]}
    expected = {f"name{i}_{1000 + i}_{2000 + i}_feedback_{page}"
                for i, s in enumerate(students) for page in sent.get(s, FEEDBACK_PAGES)}
    assert set(members) == expected
    assert all(OWN_PAGE.encode() not in page and b"outside the course" not in page for page in members.values())


def test_a_lone_surrogate_stops_nobody(batch):
    """`\\ud800` in an answer comment: replaced with a sentence, the run's table, grades.csv, the
    class report and the similarity report all written (and again in the rerun above)."""
    done, root = batch["done"], batch["root"]
    assert re.search(r"^lone_surrogate_in_comment .* 0 ", done.stdout, re.MULTILINE), done.stdout[-3000:]
    assert any("lone surrogate" in p for p in batch["results"]["lone_surrogate_in_comment"]["problems"])
    assert "\ufffd" in (root / "reports" / "class_report.html").read_text(encoding="utf-8")   # its sentence
    assert "lone_surrogate_in_comment" in (root / "reports" / "similarity.html").read_text(encoding="utf-8")
    assert "lone_surrogate_in_comment" in (root / "grades.csv").read_text(encoding="utf-8")
