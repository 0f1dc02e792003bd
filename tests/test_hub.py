"""The course on a real JupyterHub: `make hub` / `make hub-stop` (hub/, docs/hub.md).

One hub for the module, started by the project's own `make hub` on a free port, with a state
folder of its own under /tmp and accounts of its own (gch<random>i, gch<random>s1..s3), which the
module removes at the end with the script's `remove-users`. Nothing is mocked: Linux accounts made
with useradd, PAM logins through JupyterHub's login form, servers spawned as those users,
configurable-http-proxy from hub/node_modules, nbgrader's exchange used by runuser as each user.

Needs root, as `make hub` does (useradd, and a hub that spawns servers as other users); CI runs as
root. The hub's Python environment is built once into HUB_TEST_VENV (default
/var/tmp/gradient-checking-hub-test-venv, about a minute) and reused by later runs while
requirements.txt is unchanged.
"""
import csv
import os
import pwd
import re
import shutil
import stat
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests
from browser_support import (CHROMIUM_ARGS, HUB_PYTHON, HUB_VENV, HubPerson, fetch_feedback, processes_with,
                             start_test_hub, submitted_row)
from canaries import Canaries
from ci import require

from grading.lms.uploads import flagged_students
from grading.plugins.formgrader_guard import AUTOGRADE_ELSEWHERE
from synthetic_class import demo

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
ARTIFACTS = ROOT / "artifacts" / "hub"
ASSIGNMENT = "gradient_checking"
NOTEBOOKS = ["1_gradient_checking_1d.ipynb", "2_gradient_checking_nd.ipynb"]


def uids_of(pid):
    """Real, effective, saved and file-system uid of a process."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Uid:"):
            return {int(number) for number in line.split()[1:]}
    return set()



@dataclass
class Hub:
    home: Path
    port: int
    instructor: str
    students: list
    env: dict
    passwords: dict = field(default_factory=dict)

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    @property
    def course(self):
        return Path(pwd.getpwnam(self.instructor).pw_dir) / "gradient-checking"

    def nbgrader(self, user, *args, cwd):
        """nbgrader as `user` (runuser), with the hub's settings (its bin/nbgrader wrapper)."""
        return subprocess.run(["runuser", "-u", user, "--", str(self.home / "bin" / "nbgrader"), *args],
                              cwd=cwd, capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def hub():
    with start_test_hub("gc-hub-test-") as (home, instructor, students, env, _):
        hub = Hub(home, int(env["HUB_PORT"]), instructor, students, env)
        hub.passwords = dict(line.split() for line in (home / "private" / "passwords").read_text().splitlines())
        yield hub


class Browser:
    """A person at the hub over HTTP: the login form, then their own server."""

    def __init__(self, hub, user):
        self.hub, self.user = hub, user
        self.session = requests.Session()
        self.session.trust_env = False   # loopback: no proxy from the environment

    def login(self, password):
        page = self.session.get(self.hub.url + "/hub/login", timeout=30)
        xsrf = re.search(r'name="_xsrf" value="([^"]+)"', page.text).group(1)
        return self.session.post(self.hub.url + "/hub/login", timeout=60,
                                 data={"_xsrf": xsrf, "username": self.user, "password": password})

    def open_lab(self, timeout=90):
        """Open /user/<name>/lab as a browser would (following the spawn page and the server's
        OAuth round trip with the hub) until JupyterLab itself answers."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            page = self.session.get(f"{self.hub.url}/user/{self.user}/lab", timeout=30)
            if page.status_code == 200 and page.url.endswith(f"/user/{self.user}/lab") and "JupyterLab" in page.text:
                return page
            time.sleep(0.5)
        raise AssertionError(f"{self.user}'s JupyterLab did not open: {page.status_code} {page.url}")

    def get(self, path, **kwargs):
        """A request to the user's server, with the XSRF header its API wants."""
        token = next((cookie.value for cookie in self.session.cookies
                      if cookie.name == "_xsrf" and cookie.path.startswith(f"/user/{self.user}")), "")
        return self.session.get(f"{self.hub.url}/user/{self.user}/{path}", timeout=60,
                                headers={"X-XSRFToken": token}, **kwargs)


def test_the_hub_answers_through_configurable_http_proxy_from_hub_node_modules(hub):
    health = requests.get(hub.url + "/hub/health", timeout=10, proxies={"http": None})
    assert health.status_code == 200
    hub_pid = int((hub.home / "hub.pid").read_text())
    hub_command = Path(f"/proc/{hub_pid}/cmdline").read_bytes().split(b"\0")
    assert hub_command[1].decode() == str(HUB_VENV / "bin" / "jupyterhub")   # the hub's own venv
    assert os.path.realpath(f"/proc/{hub_pid}/exe") == os.path.realpath(HUB_PYTHON)   # Debian's interpreter
    proxy_pid = int((hub.home / "private" / "proxy.pid").read_text())
    command = [part.decode() for part in Path(f"/proc/{proxy_pid}/cmdline").read_bytes().split(b"\0") if part]
    package = ROOT / "hub" / "node_modules" / "configurable-http-proxy"
    assert command[1] == str(package / "bin" / "configurable-http-proxy"), command
    assert command[command.index("--port") + 1] == str(hub.port) and command[command.index("--ip") + 1] == "127.0.0.1"
    pinned = re.search(r'"configurable-http-proxy": "([\d.]+)"', (ROOT / "hub" / "package.json").read_text()).group(1)
    assert f'"version": "{pinned}"' in (package / "package.json").read_text()
    # The public port is the proxy's, not the hub's: only the proxy listens on it.
    listening = subprocess.run(["ss", "-Hltnp", f"sport = :{hub.port}"], capture_output=True, text=True).stdout
    assert f"pid={proxy_pid}," in listening and f"pid={hub_pid}," not in listening, listening


def test_a_student_logs_in_with_their_pam_password_and_their_server_runs_as_them(hub):
    student = hub.students[0]
    wrong = Browser(hub, student).login(hub.passwords[student] + "x")
    assert wrong.status_code == 403 and "Invalid username or password" in wrong.text
    assert not processes_with(GC_HUB_HOME=str(hub.home), JUPYTERHUB_USER=student)

    browser = Browser(hub, student)
    assert browser.login(hub.passwords[student]).status_code == 200
    browser.open_lab()
    account = pwd.getpwnam(student)
    servers = [pid for pid in processes_with(GC_HUB_HOME=str(hub.home), JUPYTERHUB_USER=student)
               if b"jupyterhub-singleuser" in Path(f"/proc/{pid}/cmdline").read_bytes()]
    assert len(servers) == 1, servers
    assert uids_of(servers[0]) == {account.pw_uid}
    # The server serves the student's home, and the contents API answers as them.
    assert browser.get("api/contents").status_code == 200
    assert os.path.realpath(f"/proc/{servers[0]}/cwd") == account.pw_dir
    # A student's server has no formgrader (nbgrader's docs: instructors only).
    assert browser.get("formgrader").status_code == 404


def test_the_instructor_s_server_opens_the_formgrader_on_the_course_copy(hub):
    course = hub.course
    assert stat.S_IMODE(course.stat().st_mode) == 0o700 and course.stat().st_uid == pwd.getpwnam(hub.instructor).pw_uid
    browser = Browser(hub, hub.instructor)
    assert browser.login(hub.passwords[hub.instructor]).status_code == 200
    browser.open_lab()
    names = {item["name"] for item in browser.get("api/contents").json()["content"]}
    assert {"source", "release", "nbgrader_config.py", "deadlines.toml"} <= names
    page = browser.get("formgrader")
    assert page.status_code == 200 and "Manage Assignments" in page.text
    assignments = browser.get("formgrader/api/assignments").json()
    assert [item["name"] for item in assignments] == [ASSIGNMENT]


# ------------------------------------------------------------------------------------ the round trip
# The course from release to feedback, as its people do it in Chromium: the instructor in the
# formgrader, each student in JupyterLab's Assignments tab; between them, the course's own commands
# (make hub-autograde, make hub-release-feedback) in the instructor's terminal.
ROUND_TRIP = ARTIFACTS / "round-trip"
DIAGNOSIS = "Your approximation matches a one-sided difference"   # grading/checks/diagnoses.py's sentence
VERIFIED = "Verified outside the notebook"                         # grading/grader/verify.py's MARKER


def class_of(hub):
    """{student: (their notebooks, what their Validate says)}: one right, one with the catalog's
    one-sided difference in gradient_check, one whose kernel dies in gradient_check_by_parameter
    (flagged by verification: the instructor must look before its feedback goes out)."""
    kinds = demo.hub_kinds()
    right, wrong, crashing = hub.students
    return {right: (kinds["right"], "Success! Your notebook passes all the tests."),
            wrong: (kinds["mistake"], DIAGNOSIS),
            crashing: (kinds["crashing"], None)}


def score_of(feedback_page):
    """A feedback page's total: its first "Score: X / Y"."""
    return float(re.search(r"Score: ([\d.]+) / [\d.]+", feedback_page).group(1))


def test_the_course_round_trip_in_the_browser_from_release_to_feedback(hub):
    """Release in the formgrader; three students fetch, complete, Validate and Submit in the
    Assignments tab; the instructor collects in the formgrader, grades with make hub-autograde,
    finds the flagged submission in the formgrader with the table's score and the verification's
    comment, releases feedback (the flagged one held back until reviewed); each student fetches
    their own feedback, which is the course's page for them and no one else's."""
    require(CHROMIUM.exists(), f"{CHROMIUM} is missing: apt-get install chromium")
    from playwright.sync_api import sync_playwright

    people = class_of(hub)
    right, wrong, crashing = hub.students
    roles = {right: "right", wrong: "mistake", crashing: "crashing"}
    began = time.monotonic()

    def step(name):
        print(f"{time.monotonic() - began:6.1f} s  {name}")

    exchange = hub.home / "exchange" / "gradient-checking"
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            # 1. The instructor releases the assignment from the formgrader's Manage Assignments.
            instructor = HubPerson(chromium, hub, hub.instructor, ROUND_TRIP)
            formgrader = instructor.page
            formgrader.goto(instructor.url("formgrader"))
            formgrader.locator("td.release a").click()
            formgrader.get_by_text(f"Successfully released '{ASSIGNMENT}'").wait_for()
            instructor.shot("01-instructor-released")
            assert sorted(path.name for path in (exchange / "outbound" / ASSIGNMENT).glob("*.ipynb")) == NOTEBOOKS

            step("released")
            # 2. Each student fetches, completes, validates part 1 and submits, in JupyterLab.
            for number, (user, (notebooks, validate_says)) in enumerate(people.items(), start=2):
                student = HubPerson(chromium, hub, user, ROUND_TRIP)
                page = student.assignments_tab()
                assert "exchange directory does not exist" not in page.content()
                assert "Formgrader" not in student.menu and "Create assignment" not in student.menu, student.menu
                page.locator("#released_assignments_list").get_by_role("button", name="Fetch").click()
                fetched = page.locator("#fetched_assignments_list")
                fetched.get_by_text(ASSIGNMENT, exact=True).wait_for()
                student.shot(f"{number:02d}-{roles[user]}-fetched")
                student.save(ASSIGNMENT, notebooks)   # the student's finished work, saved in their server
                if validate_says:   # nbgrader's Validate button in the notebook's toolbar
                    notebook_page = student.context.new_page()
                    notebook_page.goto(student.url(f"lab/workspaces/{user}-validate/tree/{ASSIGNMENT}/{NOTEBOOKS[0]}"))
                    notebook_page.locator(".jp-Notebook .jp-Cell").first.wait_for()
                    notebook_page.locator(".validate-button").click()
                    dialog = notebook_page.locator(".jp-Dialog").filter(has_text="Validation Results")
                    dialog.wait_for(timeout=180_000)
                    said = " ".join(dialog.inner_text().split())
                    student.shot(f"{number:02d}-{roles[user]}-validated", notebook_page)
                    assert validate_says in said, said
                    notebook_page.close()
                page = student.assignments_tab()
                page.locator("#fetched_assignments_list").get_by_role("button", name="Submit").click()
                submitted_row(page).wait_for()
                student.shot(f"{number:02d}-{roles[user]}-submitted")
                student.close()
            uids = {pwd.getpwnam(user).pw_uid for user in people}
            inbound = sorted(exchange.joinpath("inbound").iterdir())
            assert {path.stat().st_uid for path in inbound} == uids and len(inbound) == 3
            # Another student cannot list the inbound folder, so never sees whose work is there.
            assert subprocess.run(["runuser", "-u", right, "--", "ls", str(exchange / "inbound")],
                                  capture_output=True).returncode != 0

            step("three students submitted")
            # 3. The instructor collects in the formgrader, and grades with the course's pipeline.
            formgrader.goto(instructor.url("formgrader"))
            formgrader.locator("td.collect a").click()
            formgrader.get_by_text(f"Successfully collected submissions of '{ASSIGNMENT}'").wait_for()
            instructor.shot("05-instructor-collected")
            graded = subprocess.run(["make", "-s", "hub-autograde"], cwd=ROOT, env=hub.env, capture_output=True,
                                    text=True, timeout=600)
            assert graded.returncode == 0, graded.stdout + graded.stderr
            course, owner = hub.course, pwd.getpwnam(hub.instructor).pw_uid
            assert not [path for path in course.rglob("*") if path.lstat().st_uid != owner]   # all given back
            with open(course / "grades.csv", newline="") as table:
                grades = {row["student_id"]: float(row["score"]) for row in csv.DictReader(table)}
            assert grades[right] == 100 and grades[wrong] < 100 and grades[crashing] < 100, grades
            # The table make hub-autograde prints: each student's six functions, then the total.
            rows = [line.split() for line in graded.stdout.splitlines() if line.split()[:1] and line.split()[0] in people]
            assert {row[0]: float(row[7]) for row in rows} == {student: grades[student] for student in people}, graded.stdout
            assert flagged_students(course) == {crashing}, graded.stdout

            step("collected and graded")
            # 4. The formgrader shows the table's scores, and why the flagged submission scores so.
            listed = {item["student"]: item for item in instructor.api(
                "GET", f"formgrader/api/submissions/{ASSIGNMENT}").json()}
            assert {student: listed[student]["score"] for student in people} == {s: grades[s] for s in people}
            assert all(listed[student]["autograded"] for student in people)
            notebook = NOTEBOOKS[1].removesuffix(".ipynb")
            rows = instructor.api("GET", f"formgrader/api/submitted_notebooks/{ASSIGNMENT}/{notebook}").json()
            [crashed] = [row for row in rows if row["student"] == crashing]
            assert crashed["flagged"]
            formgrader.goto(instructor.url(f"formgrader/submissions/{crashed['id']}/?index=0"))
            comments = formgrader.locator("textarea")
            comments.first.wait_for()
            # The comment on the function that lost its points (the kernel died in it) says why;
            # the page fills its comment boxes after it loads (formgrade.js fetches the comments).
            formgrader.wait_for_function(
                "([start, part]) => [...document.querySelectorAll('textarea')]"
                ".some(box => box.value.startsWith(start) && box.value.includes(part))",
                arg=[VERIFIED, " earned 0 of 20 points"])
            [verified] = [box for box in comments.all() if box.input_value().startswith(VERIFIED)
                          and " earned 0 of 20 points" in box.input_value()]
            verified.scroll_into_view_if_needed()
            instructor.shot("06-instructor-reviews-flagged")
            # Its Autograde button would regrade outside the pipeline: refused, with the sentence.
            refused = instructor.api("POST", f"formgrader/api/submission/{ASSIGNMENT}/{crashing}/autograde").json()
            assert refused == {"success": False, "log": "", "error": AUTOGRADE_ELSEWHERE}

            step("reviewed")
            # 5. Feedback goes out; the flagged submission's waits for the instructor.
            released = subprocess.run(["make", "-s", "hub-release-feedback"], cwd=ROOT, env=hub.env,
                                      capture_output=True, text=True, timeout=300)
            assert released.returncode == 0, released.stdout + released.stderr
            assert f"held back, flagged by verification (review them, then RELEASE_FLAGGED=1): {crashing}" in released.stdout
            assert f"released: {right}, {wrong}" in released.stdout, released.stdout
            assert subprocess.run(["runuser", "-u", right, "--", "ls", str(exchange / "feedback")],
                                  capture_output=True).returncode != 0   # nobody lists whose feedback is there

            step("feedback released")
            # 6. Each student fetches their feedback in the Assignments tab: their own pages.
            def own_feedback(user, number, show=None):
                """What `user` gets from Fetch Feedback; the page of notebook 1 shown, at `show`."""
                student = HubPerson(chromium, hub, user, ROUND_TRIP)
                pages = fetch_feedback(student)
                student.shot(f"{number:02d}-{roles[user]}-feedback-fetched")
                assert (submitted_row(student.page).get_by_text("(view feedback)").count() == 1) == bool(pages)
                if pages:
                    folder = student.api("GET", f"api/contents/{ASSIGNMENT}/feedback").json()["content"][0]["path"]
                    student.page.goto(student.url(f"files/{folder}/{NOTEBOOKS[0].replace('.ipynb', '.html')}"))
                    if show:
                        student.page.get_by_text(show).first.scroll_into_view_if_needed()
                    student.shot(f"{number:02d}-{roles[user]}-feedback-page")
                student.close()
                return pages

            courses_pages = {user: {path.name: path.read_text() for path in (course / "feedback" / user / ASSIGNMENT).glob("*.html")}
                             for user in people}
            for number, user in enumerate([right, wrong], start=7):
                pages = own_feedback(user, number, show=DIAGNOSIS if user == wrong else None)
                assert pages == courses_pages[user], f"{user} got other pages than the course's for them"
                assert all(pages != courses_pages[other] for other in people if other != user)
                assert sum(score_of(page) for page in pages.values()) == grades[user]
            assert DIAGNOSIS in " ".join(re.sub(r"<[^>]+>", " ", courses_pages[wrong][NOTEBOOKS[0].replace(".ipynb", ".html")]).split())
            assert own_feedback(crashing, 9) == {}   # held back

            reviewed = subprocess.run(["make", "-s", "hub-release-feedback", "RELEASE_FLAGGED=1"], cwd=ROOT,
                                      env=hub.env, capture_output=True, text=True, timeout=300)
            assert reviewed.returncode == 0, reviewed.stdout + reviewed.stderr
            assert re.search(rf"^released: .*\b{crashing}\b", reviewed.stdout, re.M), reviewed.stdout
            pages = own_feedback(crashing, 10)
            assert pages == courses_pages[crashing]
            assert sum(score_of(page) for page in pages.values()) == grades[crashing]
            assert VERIFIED in pages[NOTEBOOKS[1].replace(".ipynb", ".html")]
            step("feedback fetched")
            instructor.close()
        finally:
            chromium.close()


# ------------------------------------------------------------------ grading never works in the course
# After the round trip, the course copy holds a class's results. make hub-autograde grades a private
# copy of it as root; the course is read and written only by a program run as the instructor
# (hub/private_copy.py, hub/as_instructor.py). The instructor's account, or a script in a page open
# in their JupyterLab, plants links in the course and swaps folders for links: root must follow none.

def as_instructor(hub, *command, **kwargs):
    return subprocess.run(["runuser", "-u", hub.instructor, "--", *command], capture_output=True, text=True,
                          timeout=60, **kwargs)


def make(hub, *target):
    return subprocess.run(["make", "-s", *target], cwd=ROOT, env=hub.env, capture_output=True, text=True,
                          timeout=600, stdin=subprocess.DEVNULL)


def open_canaries():
    """Canaries in a folder everyone may enter, of files only root may write: an instructor's
    process that followed a link to them would show in the inotify watch as well as root would."""
    folder = Path(tempfile.mkdtemp(prefix="gc-hub-canaries-", dir="/tmp"))
    os.chmod(folder, 0o755)
    return Canaries(folder / "canaries")


def all_the_instructor_s(hub):
    """Paths in the course copy that are not the instructor's (links included, by their own owner)."""
    owner = pwd.getpwnam(hub.instructor).pw_uid
    return [str(path) for path in hub.course.rglob("*") if path.lstat().st_uid != owner]


def right_student_s_grade(hub):
    with open(hub.course / "grades.csv", newline="") as table:
        return {row["student_id"]: float(row["score"]) for row in csv.DictReader(table)}[hub.students[0]]


def test_hub_autograde_follows_no_link_the_instructor_planted(hub):
    """A link at every place root used to write in the course (grades.csv, reports/ and its files,
    autograded/<student>, feedback/, the gradebook's journal, .grading/) and one where grading reads
    (release/), each to a canary outside the course that only root may write: make hub-autograde
    touches none of them, leaves every file of the course the instructor's, and the grades right."""
    course, right = hub.course, hub.students[0]
    assert (course / "grades.csv").is_file(), "the round trip (above) grades the class first"
    canaries = open_canaries()
    folder, target, secret, mode = (str(canaries.folder / name) for name in ("folder", "target.txt", "secret.txt", "mode.txt"))
    reports = sorted(path.name for path in (course / "reports").iterdir() if path.is_file())
    plant = [("grades.csv", target), ("feedback", folder), (f"autograded/{right}", folder), (".grading", folder),
             ("gradebook.db-journal", target), ("release/gradient_checking/linked.py", target)]
    plant += [(f"reports/{name}", [target, secret, mode][number % 3]) for number, name in enumerate(reports)]
    assert {"autograde.json", "similarity.html"} <= set(reports), reports
    for name, points_at in plant:
        planted = as_instructor(hub, "sh", "-c", 'rm -rf "$1" && ln -s "$2" "$1"', "plant", str(course / name), points_at)
        assert planted.returncode == 0, planted.stderr
        assert (course / name).is_symlink()
    try:
        with canaries.watching():
            graded = make(hub, "hub-autograde")
        print(graded.stdout, graded.stderr)
        assert not canaries.touched() and not canaries.changed(), canaries.touched() + canaries.changed()
        assert not all_the_instructor_s(hub), all_the_instructor_s(hub)
        assert graded.returncode == 0, graded.stdout + graded.stderr
        assert right_student_s_grade(hub) == 100
        # The results replaced the links where they go; the others are left as they were.
        for name in ("grades.csv", "feedback", f"autograded/{right}", *(f"reports/{name}" for name in reports)):
            assert not (course / name).is_symlink() and (course / name).exists(), name
        assert (course / ".grading").is_symlink() and not (course / "gradebook.db-journal").exists()
        assert "left out of grading: release/gradient_checking/linked.py: a link, left out" in graded.stdout
        assert "gradebook.db-journal: a link where SQLite keeps its journal, removed" in graded.stdout
        # What it prints names the course, never the private copy.
        assert f"Grades:       {course / 'grades.csv'}" in graded.stdout and "private" not in graded.stdout
    finally:
        canaries.close()
        shutil.rmtree(canaries.folder.parent, ignore_errors=True)
        as_instructor(hub, "rm", "-f", str(course / "release/gradient_checking/linked.py"), str(course / ".grading"))


def test_hub_autograde_follows_no_folder_swapped_for_a_link_while_it_runs(hub):
    """A process of the instructor's account swaps the course's folders for links to a canary
    folder, over and over, while make hub-autograde runs: no file outside the course changes owner
    or content, none is even opened, and every file in the course stays the instructor's."""
    course = hub.course
    canaries = open_canaries()
    swapped = ["autograded", "feedback", "reports", "submitted", "release", f"autograded/{hub.students[1]}",
               f"feedback/{hub.students[1]}"]
    # One loop per folder: each is a link to the canary folder about half of the time.
    loop = ('for d in "$@"; do while true; do mv "$d" "$d.swap" 2>/dev/null && ln -s "$0" "$d" && sleep 0.02; '
            'rm -f "$d" 2>/dev/null; mv "$d.swap" "$d" 2>/dev/null; sleep 0.02; done & done; wait')
    swapper = subprocess.Popen(["runuser", "-u", hub.instructor, "--", "sh", "-c", loop,
                                str(canaries.folder / "folder"), *swapped],
                               cwd=course, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        with canaries.watching():
            graded = make(hub, "hub-autograde")
        print(graded.stdout, graded.stderr)
        touched, changed = canaries.touched(), canaries.changed()
    finally:
        os.killpg(swapper.pid, 9)
        swapper.wait()
        for name in swapped:   # the course as it was, for whoever looks at it after
            as_instructor(hub, "sh", "-c", '[ -e "$1.swap" ] && { rm -rf "$1"; mv "$1.swap" "$1"; }; true', "fix",
                          name, cwd=course)
        canaries.close()
        shutil.rmtree(canaries.folder.parent, ignore_errors=True)
    assert not touched and not changed, touched + changed
    assert not all_the_instructor_s(hub), all_the_instructor_s(hub)


def test_hub_autograde_refuses_helpers_changed_in_the_course_until_accepted(hub, tmp_path):
    """The course's source/gradient_checking/gc_feedback.py runs in the grader's processes. Changed
    by the instructor's account (to write a canary when imported), make hub-autograde refuses, says
    why and prints the difference, and the canary is never written, until make hub-review-config
    ACCEPT=1 accepts the change. make hub recorded the course copy as reviewed when it made it."""
    course = hub.course
    assert make(hub, "hub-review-config").returncode == 0   # as make hub recorded it
    helpers = course / "source" / ASSIGNMENT / "gc_feedback.py"
    reviewed = helpers.read_text()
    canary = tmp_path / "canary-helpers-ran"
    attack = reviewed + f"\nopen({str(canary)!r}, 'w').write('the grader ran this')\n"

    def write_helpers(text):
        written = as_instructor(hub, "sh", "-c", 'cat > "$1"', "write", str(helpers), input=text)
        assert written.returncode == 0, written.stderr

    write_helpers(attack)
    refused = make(hub, "hub-autograde")
    assert "Error 3" in refused.stderr, refused.stdout + refused.stderr   # make's word for the refusal's status
    assert f"+open({str(canary)!r}" in refused.stderr and "Nothing was graded" in refused.stderr
    assert f"{helpers} (reviewed)" in refused.stderr and "make hub-review-config" in refused.stderr
    shown = make(hub, "hub-review-config")   # shown, not accepted, when nobody answers
    assert "Error 1" in shown.stderr and f"+open({str(canary)!r}" in shown.stdout and "Not accepted" in shown.stdout
    assert "Error 3" in make(hub, "hub-autograde").stderr
    assert not canary.exists(), "the changed helpers ran in the grader"

    accepted = make(hub, "hub-review-config", "ACCEPT=1")
    assert accepted.returncode == 0 and "Accepted" in accepted.stdout, accepted.stdout + accepted.stderr
    graded = make(hub, "hub-autograde")
    assert graded.returncode == 0, graded.stdout + graded.stderr
    assert canary.exists(), "once accepted, the course's helpers are the ones the grader runs"
    assert right_student_s_grade(hub) == 100
    write_helpers(reviewed)
    assert make(hub, "hub-review-config", "ACCEPT=1").returncode == 0
