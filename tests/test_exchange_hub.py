"""nbgrader's exchange attacked by students, on the hub's real exchange with real Linux accounts.

The hub's state is made by hub/hubctl.py's own steps (`make hub` without starting JupyterHub: no
browser is needed to submit or collect): accounts made with useradd, the exchange (1777), the
configuration every user reads, the instructors' copy of the grading package and bin/nbgrader.
Every student acts as themselves (`runuser -u <student> -- <HUB_HOME>/bin/nbgrader ...` and
plain shell commands in their own inbound folder, whose name their submit printed); the
instructor collects with the same command as themselves; then `make hub-autograde` and `make
hub-release-feedback RELEASE_FLAGGED=1`, and each student fetches their feedback.

One class, one run, five students:
    victim      submits right work, on time (an extension); the impostor names a folder for them
    late        3 days late without an extension; forges the time in the name and timestamp.txt,
                and sets every file's modification time back
    impostor    `nbgrader submit --student <victim>` with a time far in the future, blank work
    linker      right work, then, in the inbound folder: the second notebook replaced by a link
                to the instructor's source notebook, solutions.html a link to the first, a link to
                a canary outside the course, a FIFO, a file over the size bound; their own
                1_gradient_checking_1d.html and notes.html handed in with the work
    badsecret   right work, then a submission_secret.txt that is not UTF-8
    byhand      right work the instructor copied into submitted/ by hand, without a timestamp.txt
Canary files outside the course are watched (inotify) from the collect to the last fetch.
"""
import csv
import os
import pwd
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from types import SimpleNamespace

import nbformat
import pytest
from nbgrader.utils import notebook_hash

from canaries import Canaries
from ci import require
from grading.lms.uploads import flagged_students
from synthetic_class import synthetic

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "hub"))
import hubctl  # noqa: E402  (hub/ is a folder of scripts, not a package)

VENV = Path(os.environ.get("HUB_TEST_VENV", "/var/tmp/gradient-checking-hub-test-venv"))
ASSIGNMENT = "gradient_checking"
NOTEBOOKS = ["1_gradient_checking_1d.ipynb", "2_gradient_checking_nd.ipynb"]
PAGES = [name.replace(".ipynb", ".html") for name in NOTEBOOKS]
ROLES = ("victim", "late", "impostor", "linker", "badsecret", "byhand")
MINE = "A PAGE THE STUDENT WROTE"
FUTURE = "2099-01-01 00:00:00.000000 UTC"
SOLUTION = "BEGIN SOLUTION"   # the marker of solution code: in the instructor's source notebooks only
CLEAN_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def run(*command, **kwargs):
    return subprocess.run(command, capture_output=True, text=True, timeout=600, **kwargs)


class Exchange:
    """The hub's state for one class, and its people's commands."""

    def __init__(self, home, instructor, students):
        self.home, self.instructor, self.students = home, instructor, students
        self.env = {key: value for key, value in os.environ.items() if not key.startswith("HUB_")}
        self.env.update({"HUB_HOME": str(home), "HUB_PORT": str(hubctl.free_port()), "HUB_VENV": str(VENV),
                         "HUB_INSTRUCTOR": instructor, "HUB_STUDENTS": " ".join(students.values())})
        self.settings = hubctl.Settings(self.env)

    @property
    def course(self):
        return self.settings.course_dir()

    @property
    def feedback(self):
        return self.home / "exchange" / hubctl.COURSE_ID / "feedback"

    def as_user(self, user, *command, cwd=None):
        """`command` as `user`, in their home unless `cwd`, with a plain environment."""
        home = pwd.getpwnam(user).pw_dir
        return run("runuser", "-u", user, "--", *command, cwd=cwd or home,
                   env={"PATH": CLEAN_PATH, "LANG": "C.UTF-8", "HOME": home})

    def nbgrader(self, user, *args, cwd=None):
        done = self.as_user(user, str(self.home / "bin" / "nbgrader"), *args, cwd=cwd)
        assert done.returncode == 0, f"nbgrader {args} as {user}:\n{done.stdout}{done.stderr}"
        return done.stdout + done.stderr

    def make(self, *target):
        done = run("make", "-s", *target, cwd=ROOT, env=self.env)
        assert done.returncode == 0, f"make {target}:\n{done.stdout}{done.stderr}"
        return done.stdout

    def work(self, student, notebooks, extra=None):
        """The student's finished work in ~/gradient_checking, as saved by their own server."""
        account = pwd.getpwnam(student)
        folder = Path(account.pw_dir) / ASSIGNMENT
        folder.mkdir()
        for name, notebook in notebooks.items():
            nbformat.write(notebook, folder / name)
        for name, text in (extra or {}).items():
            (folder / name).write_text(text)
        for path in [folder, *folder.iterdir()]:
            os.chown(path, account.pw_uid, account.pw_gid)

    def submit(self, student, *options):
        """`nbgrader submit` as the student; the inbound folder it made, as its log names it."""
        said = self.nbgrader(student, "submit", ASSIGNMENT, *options)
        return Path(re.search(r"Destination: (.+)", said).group(1).strip())

    def secret_of(self, student):
        """The submission's secret, from the student's own cache, as their fetch_feedback reads it."""
        cache = Path(pwd.getpwnam(student).pw_dir) / ".local/share/jupyter/nbgrader_cache" / hubctl.COURSE_ID
        [secret] = cache.glob(f"*+{ASSIGNMENT}+*/submission_secret.txt")
        return secret.read_text()

    def fetched(self, student):
        """{page name: html} that the student's fetch_feedback brought."""
        self.nbgrader(student, "fetch_feedback", ASSIGNMENT)
        folder = Path(pwd.getpwnam(student).pw_dir) / ASSIGNMENT / "feedback"
        return {page.name: page.read_text() for page in folder.glob("*/*")} if folder.is_dir() else {}


def deadlines_toml(due, extended, on_time):
    lines = [f"[{ASSIGNMENT}]", f"due = {due:%Y-%m-%dT%H:%M:%SZ}", "penalty_percent_per_day = 10",
             f"[{ASSIGNMENT}.extensions]"]
    return "\n".join(lines + [f"{student} = {on_time:%Y-%m-%dT%H:%M:%SZ}" for student in extended]) + "\n"


@pytest.fixture(scope="module")
def played():
    """The class above from release to fetched feedback; what each step said and left."""
    require(os.geteuid() == 0, "real accounts and an exchange between them: run the exchange tests as root")
    require(Path(hubctl.Settings({}).python).exists(), "/usr/bin/python3.11 is missing: apt-get install python3.11-venv")
    tag = secrets.token_hex(3)
    students = {role: f"gcx{tag}{role[:3]}" for role in ROLES}
    assert not any(hubctl.NAME.match(name) is None for name in students.values())
    home = Path(tempfile.mkdtemp(prefix="gc-exchange-test-", dir="/tmp"))
    os.chmod(home, 0o755)
    hub = Exchange(home, f"gcx{tag}ins", students)
    began = time.monotonic()
    try:
        settings = hub.settings
        hubctl.ensure_home(settings)
        hubctl.ensure_venv(settings)
        hubctl.ensure_users(settings)
        course = hubctl.ensure_course(settings)
        hubctl.ensure_instructor_lib(settings)
        hubctl.ensure_state(settings, course)
        yield play(hub, students, began)
    finally:
        hubctl.remove_users(hub.settings)
        shutil.rmtree(home, ignore_errors=True)
        left = [name for name in [hub.instructor, *students.values()] if account_of(name)]
        assert not left, f"accounts left: {left}"


def account_of(name):
    try:
        return pwd.getpwnam(name)
    except KeyError:
        return None


def play(hub, students, began):
    victim, late, impostor, linker, badsecret, byhand = (students[role] for role in ROLES)
    course, instructor = hub.course, pwd.getpwnam(hub.instructor)
    source = course / "source" / ASSIGNMENT
    canaries = Canaries(hub.home / "canaries")   # outside the course, within the instructor's reach (0755)
    started = datetime.now(timezone.utc).replace(microsecond=0)
    due = started - timedelta(days=3) + timedelta(hours=1)   # the late student: just under 3 days late, 30%
    (course / "deadlines.toml").write_text(deadlines_toml(due, [victim, linker, badsecret, impostor],
                                                          started + timedelta(days=2)))
    os.chown(course / "deadlines.toml", instructor.pw_uid, instructor.pw_gid)
    hub.make("hub-review-config", "ACCEPT=1")   # the instructor's new deadlines, reviewed by root

    hub.nbgrader(hub.instructor, "release_assignment", ASSIGNMENT, cwd=course)
    right, blank = synthetic.submission(), synthetic.submission(complete=False)
    hub.work(victim, right)
    hub.submit(victim)
    # The late student claims an hour before the due date, in the folder's name and timestamp.txt,
    # and sets every modification time back to it.
    claim = due - timedelta(hours=1)
    hub.work(late, right)
    forged = hub.submit(late, f"--Exchange.timestamp_format={claim:%Y-%m-%d %H:%M:%S.%f} UTC")
    done = hub.as_user(late, "sh", "-c", 'rm -f "$1/timestamp.txt" && printf %s "$2" > "$1/timestamp.txt" && '
                       'touch -d "@$3" "$1"/* "$1"', "sh", str(forged), f"{claim:%Y-%m-%d %H:%M:%S.%f} UTC",
                       str(int(claim.timestamp())))
    assert done.returncode == 0, done.stderr
    # The impostor hands in blank work in the victim's name, as the latest of all.
    hub.work(impostor, blank)
    posing = hub.submit(impostor, f"--student={victim}", f"--Exchange.timestamp_format={FUTURE}")
    assert posing.name.startswith(f"{victim}+{ASSIGNMENT}+2099")
    # The linker's own pages go with the work; then links, a FIFO and a large file in inbound.
    hub.work(linker, right, extra={PAGES[0]: f"<p>{MINE}</p>", "notes.html": f"<p>{MINE}: notes</p>"})
    linked = hub.submit(linker)
    done = hub.as_user(linker, "sh", "-c", 'cd "$1" && rm -f "$3" && ln -s "$2/$3" "$3" && '
                       'ln -s "$2/$4" solutions.html && ln -s "$5" canary.txt && mkfifo pipe && truncate -s 25M big.bin',
                       "sh", str(linked), str(source), NOTEBOOKS[1], NOTEBOOKS[0], str(canaries.folder / "target.txt"))
    assert done.returncode == 0, done.stderr
    hub.work(badsecret, right)
    bad = hub.submit(badsecret)
    done = hub.as_user(badsecret, "sh", "-c", r'rm -f "$1/submission_secret.txt" && printf "\377\376 not text" '
                       r'> "$1/submission_secret.txt"', "sh", str(bad))
    assert done.returncode == 0, done.stderr

    print(f"{time.monotonic() - began:6.1f} s  set up, released, five students submitted")
    with canaries.watching():
        clock = time.monotonic()
        collected = hub.nbgrader(hub.instructor, "collect", ASSIGNMENT, cwd=course)
        collect_seconds = time.monotonic() - clock
        # Work that reached the instructor some other way, copied in by hand with no time of its own.
        by_hand = course / "submitted" / byhand / ASSIGNMENT
        by_hand.mkdir(parents=True)
        for name, notebook in right.items():
            nbformat.write(notebook, by_hand / name)
        for path in [by_hand.parent, by_hand, *by_hand.iterdir()]:
            os.chown(path, instructor.pw_uid, instructor.pw_gid)
        arrived = max(path.stat().st_ctime for path in [by_hand, *by_hand.iterdir()])
        time.sleep(1.5)   # so that grading's own moment (its private copy's change times) is another second
        graded = hub.make("hub-autograde")
        print(f"{time.monotonic() - began:6.1f} s  collected ({time.monotonic() - clock:.1f} s with grading)")
        after_grading = {student: solution_in(course, student) for student in students.values()}
        # Whatever else grading leaves in the linker's feedback folder, and what a followed link
        # would have read there: the exchange must refuse them on its own.
        folder = course / "feedback" / linker / ASSIGNMENT
        (folder / "solutions.html").write_text((source / NOTEBOOKS[0]).read_text())
        if not (folder / "notes.html").exists():
            (folder / "notes.html").write_text(f"<p>{MINE}: notes</p>")
        for name in ("solutions.html", "notes.html"):
            os.chown(folder / name, instructor.pw_uid, instructor.pw_gid)
        released = hub.make("hub-release-feedback", "RELEASE_FLAGGED=1")
        print(f"{time.monotonic() - began:6.1f} s  feedback released")
        fetched = {student: hub.fetched(student) for student in (victim, late, linker)}
        print(f"{time.monotonic() - began:6.1f} s  feedback fetched")
    with open(course / "grades.csv", newline="") as table:
        grades = {row["student_id"]: row for row in csv.DictReader(table)}
    return SimpleNamespace(
        hub=hub, students=students, course=course, source=source, canaries=canaries, started=started,
        collected=" ".join(collected.split()), collect_seconds=collect_seconds, graded=graded, arrived=arrived,
        released=released, fetched=fetched, grades=grades, after_grading=after_grading,
        exchange=sorted(page.name for page in hub.feedback.iterdir()), inbound={"late": forged, "posing": posing,
                                                                                "linked": linked, "bad": bad},
        seconds=time.monotonic() - began)


def solution_in(course, student):
    """Files of the student's under submitted/, autograded/ and feedback/ that hold the source's solutions."""
    found = []
    for kind in ("submitted", "autograded", "feedback"):
        for path in (course / kind / student).rglob("*"):
            if path.is_file() and not path.is_symlink() and SOLUTION in path.read_text(errors="replace"):
                found.append(str(path.relative_to(course)))
    return found


def score(played, role):
    row = played.grades[played.students[role]]
    return float(row["raw_score"]), float(row["late_submission_penalty"] or 0), float(row["score"])


def expected_pages(played, pages):
    """The names in the exchange of {role: [page]}, as each student's client computes them."""
    return sorted(notebook_hash(secret=played.hub.secret_of(played.students[role]), notebook_id=page[:-5]) + ".html"
                  for role, theirs in pages.items() for page in theirs)


def test_a_late_student_who_forges_their_time_gets_the_real_penalty(played):
    late = played.students["late"]
    assert score(played, "late") == (100.0, 30.0, 70.0), played.grades[late]
    written = (played.course / "submitted" / late / ASSIGNMENT / "timestamp.txt").read_text()
    assert datetime.fromisoformat(written.strip()).replace(tzinfo=timezone.utc) >= played.started
    assert f"{late}: the student's client claimed" in played.collected and "which is the time that counts" in played.collected
    assert re.search(rf"^{late} .* 2 d 2\d h late .*: -30 points", played.graded, re.M), played.graded


def test_a_folder_named_for_another_student_is_refused_kept_for_review_and_the_victim_keeps_theirs(played):
    victim, impostor = played.students["victim"], played.students["impostor"]
    posing = played.inbound["posing"].name
    assert f"Refused inbound/{posing}: it is named for {victim} but belongs to {impostor}; it was not collected, " \
           f"and its regular files are kept for review in quarantine/{ASSIGNMENT}/{posing}/." in played.collected
    kept = played.course / "quarantine" / ASSIGNMENT / posing
    assert sorted(path.name for path in kept.iterdir()) == sorted([*NOTEBOOKS, "submission_secret.txt", "timestamp.txt"])
    assert score(played, "victim") == (100.0, 0.0, 100.0)
    assert impostor not in played.grades
    home = Path(pwd.getpwnam(victim).pw_dir) / ASSIGNMENT
    for name in NOTEBOOKS:   # the victim's own work, as they saved it
        assert (played.course / "submitted" / victim / ASSIGNMENT / name).read_bytes() == (home / name).read_bytes()


def test_links_fifos_and_large_files_in_inbound_are_refused_and_nothing_of_source_gets_out(played):
    linker = played.students["linker"]
    said = played.collected
    for sentence in (f"{NOTEBOOKS[1]}: it is a symbolic link to {played.source / NOTEBOOKS[1]}",
                     f"solutions.html: it is a symbolic link to {played.source / NOTEBOOKS[0]}",
                     f"canary.txt: it is a symbolic link to {played.canaries.folder / 'target.txt'}",
                     "pipe: it is a FIFO: only regular files are collected",
                     f"big.bin: it is {25 * 2 ** 20} bytes, more than the",
                     f"{PAGES[0]}: nbgrader names the feedback page of a notebook so"):
        assert f"Left out of {linker}'s submission: {sentence}" in said, sentence
    assert played.canaries.touched() == [] and played.canaries.changed() == [], played.canaries.touched()
    assert all(found == [] for found in played.after_grading.values()), played.after_grading
    submitted = played.course / "submitted" / linker / ASSIGNMENT
    assert sorted(path.name for path in submitted.iterdir()) == \
        sorted([NOTEBOOKS[0], "notes.html", "submission_secret.txt", "timestamp.txt"])
    assert score(played, "linker") == (30.0, 0.0, 30.0)   # the first notebook's 30 points, no solutions' 70
    # As the student would look for it: the hash of their secret and the name of each file.
    secret = played.hub.secret_of(linker)
    for name in ("solutions", "notes", "canary", "pipe", "big"):
        assert notebook_hash(secret=secret, notebook_id=name) + ".html" not in played.exchange, name
    pages = played.fetched[linker]   # the second notebook was a link: not collected, so not graded
    assert sorted(pages) == PAGES[:1] and not any(SOLUTION in page for page in pages.values())
    assert not any(SOLUTION in (played.hub.feedback / name).read_text(errors="replace") for name in played.exchange)


def test_a_student_s_own_pages_never_reach_the_exchange(played):
    linker = played.students["linker"]
    pages = played.fetched[linker]
    assert MINE not in pages[PAGES[0]] and "Score:" in pages[PAGES[0]], "the student's own page was released"
    assert played.exchange == expected_pages(played, {"victim": PAGES, "late": PAGES, "linker": PAGES[:1]})


def test_a_secret_that_is_not_text_is_named_and_everyone_else_s_feedback_goes_out(played):
    victim, late, linker, bad = (played.students[role] for role in ("victim", "late", "linker", "badsecret"))
    assert score(played, "badsecret") == (100.0, 0.0, 100.0)
    assert re.search(rf"not released, their feedback folder is not as grading writes it: .*{bad} \(its "
                     r"submission_secret.txt is not short printable ASCII", played.released), played.released
    assert re.search(rf"^released: {', '.join(sorted([victim, late, linker]))}$", played.released, re.M), played.released
    assert not set(expected_pages(played, {"badsecret": PAGES})) & set(played.exchange)
    for student, pages in ((victim, PAGES), (late, PAGES), (linker, PAGES[:1])):
        assert sorted(played.fetched[student]) == pages, student


def test_a_submission_without_a_readable_time_is_late_from_when_it_arrived_and_flagged(played):
    byhand = played.students["byhand"]
    assert score(played, "byhand") == (100.0, 30.0, 70.0), played.grades[byhand]   # never on time for want of a time
    assert byhand in flagged_students(played.course)   # so its feedback waits for the instructor
    assert re.search(rf"^{byhand} .*FLAGGED submission time", played.graded, re.M), played.graded
    # From when the files arrived in the instructor's course, not when grading copied them.
    counted = datetime.fromisoformat(played.grades[byhand]["timestamp"]).replace(tzinfo=timezone.utc)
    assert abs(counted.timestamp() - played.arrived) < 1, (counted, played.arrived)


def test_honest_work_is_whole_and_the_exchange_s_checks_cost_little(played):
    pages = played.fetched[played.students["victim"]]
    assert sum(float(re.search(r"Score: ([\d.]+) / [\d.]+", page).group(1)) for page in pages.values()) == 100
    assert played.collect_seconds < 60, played.collect_seconds
    print(f"collect {played.collect_seconds:.1f} s; the whole class from set-up to fetched feedback "
          f"{played.seconds:.1f} s")
