"""The instructor's side of nbgrader's exchange (grading/exchange/), piece by piece, without a hub:
the time a submission counts from, whose it is, what is copied, and the real `nbgrader collect`
on a folder of inbound submissions. The same as real students on a real exchange, through the
hub's commands: tests/test_exchange_hub.py. The feedback side: tests/test_release_feedback.py."""
import json
import os
import pwd
import shutil
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from nbgrader.api import Gradebook

from canaries import Canaries
from ci import require
from grading.assignment import ASSIGNMENT, NOTEBOOKS
from grading.exchange import inbound
from grading.exchange.collect import RECORD, claim_differs, latest
from grading.grader import deadlines
from grading.grader.gradebook import alembic_on_path
from grading.settings import DEFAULTS

ROOT = Path(__file__).resolve().parent.parent
ME = pwd.getpwuid(os.getuid()).pw_name
OTHER = "nobody" if ME != "nobody" else "root"
OLD_CLAIM = "2020-01-01 00:00:00.000000 UTC"
NEW_CLAIM = "2099-01-01 00:00:00.000000 UTC"


def submission(inbox, student, claim, files, tag="x"):
    """An inbound folder as `nbgrader submit` leaves it: {name: text} and the client's timestamp.txt."""
    folder = inbox / f"{student}+{ASSIGNMENT}+{claim}+{tag}"
    folder.mkdir(parents=True)
    for name, text in {**files, "timestamp.txt": claim}.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text)
    return folder


def read(folder, **options):
    fd = os.open(folder.parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        return inbound.read_inbound(fd, folder.name, **options)
    finally:
        os.close(fd)


def test_a_submission_counts_from_when_its_files_last_changed_not_from_what_its_client_wrote(tmp_path):
    started = datetime.now(timezone.utc) - timedelta(seconds=1)
    folder = submission(tmp_path / "inbound", ME, OLD_CLAIM, {NOTEBOOKS[0]: "{}", "sub/helper.py": "x = 1\n"})
    old = datetime(2020, 1, 1, tzinfo=timezone.utc).timestamp()
    for path in [*folder.rglob("*"), folder]:
        os.utime(path, (old, old))   # the modification times set back: each change time moves forward
    found = read(folder)
    assert not found.refused and found.student == ME and found.owner == ME
    assert found.changed >= started, "the client's time or the modification times were taken"
    claimed = datetime(2020, 1, 1, tzinfo=timezone.utc)
    assert found.claimed() == {"its name": claimed, "timestamp.txt": claimed}
    assert claim_differs(found, found.changed) == [("its name", claimed), ("timestamp.txt", claimed)]
    # A change anywhere, deep in a folder too, moves the time later; so does removing a file.
    time.sleep(0.05)
    (folder / "sub" / "helper.py").write_text("x = 2\n")
    assert read(folder).changed > found.changed
    time.sleep(0.05)
    later = read(folder).changed
    (folder / "sub" / "helper.py").unlink()
    assert read(folder).changed > later
    # Work finished earlier and moved into inbound/ later is handed in when it is moved.
    prepared = submission(tmp_path / "elsewhere", ME, OLD_CLAIM, {NOTEBOOKS[0]: "{}"}, tag="prepared")
    time.sleep(0.05)
    moved = datetime.now(timezone.utc) - timedelta(milliseconds=10)
    prepared.rename(tmp_path / "inbound" / prepared.name)
    assert read(tmp_path / "inbound" / prepared.name).changed >= moved


def test_a_folder_is_refused_unless_the_account_it_names_owns_it(tmp_path):
    assert inbound.owner_problem(ME, os.getuid()) == ""
    assert inbound.owner_problem(OTHER, os.getuid()) == f"it is named for {OTHER} but belongs to {ME}"
    assert inbound.owner_problem("no-such-account-7q", os.getuid()) == \
        f"it is named for 'no-such-account-7q', who has no account here, and belongs to {ME}"
    found = read(submission(tmp_path / "inbound", OTHER, NEW_CLAIM, {NOTEBOOKS[0]: "{}"}))
    assert found.refused == f"it is named for {OTHER} but belongs to {ME}"
    unnamed = tmp_path / "inbound" / f"{ASSIGNMENT}+x"
    unnamed.mkdir()
    assert "its name is not <student>+<assignment>+<time>+<random>" in read(unnamed).refused
    # A link in inbound/ itself is no folder, whoever it points at.
    linked = tmp_path / "inbound" / f"{ME}+{ASSIGNMENT}+{OLD_CLAIM}+link"
    linked.symlink_to(tmp_path / "inbound" / f"{OTHER}+{ASSIGNMENT}+{NEW_CLAIM}+x")
    assert read(linked).refused == f"it is a symbolic link to {linked.readlink()}, not a folder"


def test_collect_copies_regular_files_only_and_says_why_it_left_out_each_other_entry(tmp_path):
    require(os.geteuid() == 0, "the canaries' device and the FIFO's watch need root")
    canaries = Canaries(tmp_path / "canaries")
    folder = submission(tmp_path / "inbound", ME, OLD_CLAIM, {
        NOTEBOOKS[0]: "my notebook", "sub/helper.py": "x = 1\n", "submission_secret.txt": "ab12",
        "notes.html": "<p>my notes</p>", "1_gradient_checking_1d.html": "<p>a page of my own</p>",
        "sub/nbgrader_config.py": "open('/tmp/ran', 'w')\n", ".ipynb_checkpoints/old.ipynb": "{}"})
    (folder / NOTEBOOKS[1]).symlink_to(canaries.folder / "secret.txt")
    (folder / "solutions.html").symlink_to(canaries.folder / "target.txt")
    (folder / "linked").symlink_to(canaries.folder / "folder")
    (folder / "zero").symlink_to(canaries.folder / "zero")
    os.mkfifo(folder / "pipe")
    with open(folder / "big.bin", "wb") as big:
        big.truncate(DEFAULTS.inbound_file_bytes + 1)
    (folder / "planted.py").write_text("written by another account into the world-writable folder")
    shutil.chown(folder / "planted.py", OTHER)
    into = tmp_path / "collected"
    into.mkdir()
    fd = os.open(into, os.O_RDONLY | os.O_DIRECTORY)
    try:
        with canaries.watching():
            found = read(folder, into=fd, ignore=[".ipynb_checkpoints"])
    finally:
        os.close(fd)
    assert canaries.touched() == [] and canaries.changed() == [], canaries.touched() + canaries.changed()
    copied = sorted(str(p.relative_to(into)) for p in into.rglob("*") if p.is_file())
    assert copied == [NOTEBOOKS[0], "notes.html", "sub/helper.py", "submission_secret.txt"]
    assert (into / NOTEBOOKS[0]).read_text() == "my notebook" and not found.refused
    left = dict(found.left_out)
    assert sorted(left) == sorted(["1_gradient_checking_1d.html", NOTEBOOKS[1], "big.bin", "linked", "pipe",
                                   "planted.py", "solutions.html", "sub/nbgrader_config.py", "zero"])
    assert left["planted.py"] == f"it belongs to {OTHER}, not to {ME}, whose submission this is"
    assert left[NOTEBOOKS[1]] == f"it is a symbolic link to {canaries.folder / 'secret.txt'}: only regular files are collected"
    assert left["pipe"] == "it is a FIFO: only regular files are collected"
    assert left["big.bin"] == f"it is {DEFAULTS.inbound_file_bytes + 1} bytes, more than the {DEFAULTS.inbound_file_bytes} a file may have"
    assert left["1_gradient_checking_1d.html"] == "nbgrader names the feedback page of a notebook so: only grading writes it"
    assert left["sub/nbgrader_config.py"] == "nbgrader runs a file of that name as its configuration"
    # The copy kept for the instructor's review keeps nbgrader's names too, still regular files only.
    kept = tmp_path / "kept"
    kept.mkdir()
    fd = os.open(kept, os.O_RDONLY | os.O_DIRECTORY)
    try:
        read(folder, into=fd, evidence=True)
    finally:
        os.close(fd)
    assert {"timestamp.txt", "1_gradient_checking_1d.html", "sub/nbgrader_config.py"} <= \
        {str(p.relative_to(kept)) for p in kept.rglob("*") if p.is_file()}
    assert not any(p.is_symlink() or p.is_fifo() for p in kept.rglob("*"))
    canaries.close()


def test_a_folder_with_more_entries_than_a_submission_has_is_refused_whole(tmp_path):
    folder = submission(tmp_path / "inbound", ME, OLD_CLAIM,
                        {f"f{n}.txt": "" for n in range(DEFAULTS.inbound_entries + 1)})
    assert read(folder).refused.startswith(f"it holds more than {DEFAULTS.inbound_entries} files and folders")


def test_the_latest_submission_is_the_one_whose_files_changed_last_whatever_the_names_say():
    early = inbound.Inspection(f"{ME}+{ASSIGNMENT}+{NEW_CLAIM}+a", ME, changed_ns=10 ** 18)
    late = inbound.Inspection(f"{ME}+{ASSIGNMENT}+{OLD_CLAIM}+b", ME, changed_ns=10 ** 18 + 10 ** 12)
    assert latest([early, late]) is late
    due = inbound.moment(10 ** 18 + 10 ** 9)   # nbgrader's before_duedate: the last one before it
    assert latest([early, late], due) is early and latest([late], due) is late


def collect(course, exchange, *options):
    env = {key: value for key, value in os.environ.items() if key != "GRADEBOOK_URL"}
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env["PATH"]
    return subprocess.run([sys.executable, "-m", "nbgrader", "collect", ASSIGNMENT, f"--Exchange.root={exchange}",
                           *options], cwd=course, env=env, capture_output=True, text=True, timeout=120)


def test_nbgrader_collect_in_the_course_files_the_latest_change_of_the_owner_s_folders_only(tmp_path):
    """The course's nbgrader_config.py makes `nbgrader collect` the checked one: of three folders
    named for this account, the one whose name claims the latest time is older, and the newest
    belongs to another account (it is refused and kept in quarantine); the one that changed last
    among the account's own is filed, with the time it changed as nbgrader's timestamp.txt."""
    require(os.geteuid() == 0, "a folder owned by another account takes root to make")
    course, exchange = tmp_path / "course", tmp_path / "exchange"
    course.mkdir()
    shutil.copy(ROOT / "nbgrader_config.py", course)
    inbox = exchange / "gradient-checking" / "inbound"
    submission(inbox, ME, NEW_CLAIM, {NOTEBOOKS[0]: "first"}, tag="a")
    time.sleep(0.05)
    started = datetime.now(timezone.utc)
    second = submission(inbox, ME, OLD_CLAIM, {NOTEBOOKS[0]: "second"}, tag="b")
    time.sleep(0.05)
    forged = submission(inbox, ME, NEW_CLAIM, {NOTEBOOKS[0]: "forged"}, tag="c")
    shutil.chown(forged / NOTEBOOKS[0], OTHER)
    shutil.chown(forged, OTHER)

    done = collect(course, exchange)
    assert done.returncode == 0, done.stderr
    filed = course / "submitted" / ME / ASSIGNMENT
    assert (filed / NOTEBOOKS[0]).read_text() == "second"
    assert started <= deadlines.read_timestamp(filed) == read(second).changed
    log = " ".join(done.stderr.split())
    assert f"Refused inbound/{forged.name}: it is named for {ME} but belongs to {OTHER}; it was not collected, " \
           f"and its regular files are kept for review in quarantine/{ASSIGNMENT}/{forged.name}/." in log, log
    assert f"{ME}: the student's client claimed 2020-01-01 00:00:00 UTC in its name" in log
    assert "Collect summary for 'gradient_checking': collected 1" in log
    assert (course / "quarantine" / ASSIGNMENT / forged.name / NOTEBOOKS[0]).read_text() == "forged"
    record = [json.loads(line) for line in (course / RECORD).read_text().splitlines()]
    assert sorted((entry["inbound"][-1], entry["decision"], entry["owner"]) for entry in record) == \
        [("a", "not the latest", ME), ("b", "collected", ME), ("c", "refused", OTHER)]
    # Again, with --update: nothing newer, nothing changed.
    again = collect(course, exchange, "--update")
    assert again.returncode == 0 and "No newer submission to collect" in again.stderr, again.stderr
    assert (filed / NOTEBOOKS[0]).read_text() == "second"


def test_a_submission_without_a_readable_time_counts_from_when_its_files_arrived_and_is_flagged(tmp_path):
    alembic_on_path()
    root, url = tmp_path, f"sqlite:///{tmp_path / 'gradebook.db'}"
    folder = root / "submitted" / "ada" / ASSIGNMENT
    folder.mkdir(parents=True)
    started = datetime.now(timezone.utc) - timedelta(seconds=1)
    (folder / NOTEBOOKS[0]).write_text("{}")
    for text in (None, "2026-12-02" + " " * 200, "yesterday"):
        if text is not None:
            (folder / "timestamp.txt").write_text(text)
        moment, problem = deadlines.submission_time(root, "ada")
        assert moment >= started and problem.startswith("no readable timestamp.txt: counted as submitted when its "
                                                        "files arrived in the course")
    written = datetime(2026, 12, 2, 11, tzinfo=timezone.utc)
    deadlines.write_timestamp(folder, written)
    assert deadlines.submission_time(root, "ada") == (written, "")
    # As `make autograde` applies it: a due date before the files arrived makes it late, never on time.
    (root / "deadlines.toml").write_text(f"[{ASSIGNMENT}]\ndue = 2026-01-01T00:00:00Z\npenalty_percent_per_day = 10\n")
    with Gradebook(url) as book:
        book.add_assignment(ASSIGNMENT)
        book.add_student("ada")
        book.add_submission(ASSIGNMENT, "ada")
    (folder / "timestamp.txt").unlink()
    late = deadlines.apply(root, url)["ada"]
    assert late.seconds_late > 0 and late.submitted >= started
    assert late.flag().function == "submission time" and late.flag().reason == late.time_problem
    with Gradebook(url) as book:
        assert book.find_submission(ASSIGNMENT, "ada").timestamp == deadlines.as_gradebook_time(late.submitted)
    assert deadlines.recorded(root, url)["ada"].time_problem   # the report sees it too
