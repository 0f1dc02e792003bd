"""Grading on submit on a real hub: `make hub GRADE_ON_SUBMIT=1` (hub/grade_on_submit.py).

One hub, started by the project's own `make hub` with the service turned on, accounts of its own
(gch<tag>i, gch<tag>s1..s3). The instructor releases the assignment; then no instructor acts:
s1 fetches, submits and fetches feedback in JupyterLab's Assignments tab in Chromium, the others
with nbgrader's own commands as themselves.

    s1   the one-sided difference (in Chromium), then, once graded, right work: the second grade
         replaces the first
    s2   right work
    s3   a kernel that dies in gradient_check_by_parameter: flagged, its feedback held back until
         the instructor releases it (make hub-release-feedback RELEASE_FLAGGED=1)
"""
import os
import pwd
import re
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest
import requests

from browser_support import CHROMIUM, CHROMIUM_ARGS, HubPerson, fetch_feedback, start_test_hub, submitted_row
from ci import require
from synthetic_class import demo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "hub"))
import submit_queue  # noqa: E402  (hub/ is a folder of scripts)

ASSIGNMENT = "gradient_checking"
DIAGNOSIS = "Your approximation matches a one-sided difference"   # grading/diagnoses.py's sentence
CLEAN_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
SHOTS = ROOT / "artifacts" / "hub" / "on-submit"


def minute():
    """A minute on a machine that has a core for each process that wants one; longer, up to four,
    in proportion, when other work loads the machine (the suite shares its cores)."""
    return 60 * min(4.0, max(1.0, os.getloadavg()[0] / os.cpu_count()))



class Course:
    def __init__(self, home, instructor, students, env):
        self.home, self.instructor, self.students, self.env = home, instructor, students, env
        self.url = f"http://127.0.0.1:{env['HUB_PORT']}"
        self.passwords = dict(line.split() for line in (home / "private" / "passwords").read_text().splitlines())

    def nbgrader(self, user, *args, cwd=None, check=True):
        home = pwd.getpwnam(user).pw_dir
        done = subprocess.run(["runuser", "-u", user, "--", str(self.home / "bin" / "nbgrader"), *args],
                              cwd=cwd or home, capture_output=True, text=True, timeout=300,
                              env={"PATH": CLEAN_PATH, "LANG": "C.UTF-8", "HOME": home})
        assert done.returncode == 0 or not check, f"nbgrader {args} as {user}:\n{done.stdout}{done.stderr}"
        return done

    def submit(self, student, notebooks):
        """The student's work in ~/gradient_checking, then `nbgrader submit` as them; the time it returned."""
        account = pwd.getpwnam(student)
        folder = Path(account.pw_dir) / ASSIGNMENT
        folder.mkdir(exist_ok=True)
        for name, notebook in notebooks.items():
            nbformat.write(notebook, folder / name)
        for path in [folder, *folder.iterdir()]:
            os.chown(path, account.pw_uid, account.pw_gid)
        self.nbgrader(student, "submit", ASSIGNMENT)
        return time.monotonic()

    def feedback(self, student):
        """{submission folder: {page: html}} that fetch_feedback has brought the student so far."""
        fetched = self.nbgrader(student, "fetch_feedback", ASSIGNMENT, check=False)
        if fetched.returncode != 0:   # no feedback folder in the exchange yet: nothing released so far
            assert "Assignment not found" in fetched.stderr, fetched.stderr
            return {}
        folder = Path(pwd.getpwnam(student).pw_dir) / ASSIGNMENT / "feedback"
        found = {}
        for page in sorted(folder.glob("*/*.html")) if folder.is_dir() else []:
            found.setdefault(page.parent.name, {})[page.name] = page.read_text()
        return found

    def finished(self, student):
        """The service's records of the student's submissions that are graded (done or flagged)."""
        records = submit_queue.Queue(self.home / "private" / "grade-on-submit" / "queue").entries.values()
        return sorted((e for e in records if e.student == student and e.state in ("done", "flagged", "failed")),
                      key=lambda e: e.finished)

    def page(self, user):
        """The queue's page, /services/grade-on-submit/, as `user` logged in through the hub's form."""
        session = requests.Session()
        session.trust_env = False   # loopback: no proxy from the environment
        form = session.get(self.url + "/hub/login", timeout=30)
        xsrf = re.search(r'name="_xsrf" value="([^"]+)"', form.text).group(1)
        assert session.post(self.url + "/hub/login", data={"_xsrf": xsrf, "username": user,
                                                           "password": self.passwords[user]},
                            timeout=60, allow_redirects=False).status_code == 302
        return session.get(self.url + "/services/grade-on-submit/", timeout=60)

    def queue(self):
        done = subprocess.run(["make", "-s", "hub-queue"], cwd=ROOT, env=self.env, capture_output=True, text=True,
                              timeout=60)
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout


def score_of(page):
    return float(re.search(r"Score: ([\d.]+) / [\d.]+", page).group(1))


def said(page):
    """A page's text, its tags taken out and its spaces joined, as a student reads it."""
    return " ".join(re.sub(r"<[^>]+>", " ", page).split())


def total(pages):
    """The total of a submission's pages."""
    return sum(score_of(page) for page in pages.values())


@pytest.fixture(scope="module")
def course():
    with start_test_hub("gc-hub-submit-test-", GRADE_ON_SUBMIT="1", WORKERS="2") as (home, instructor, students,
                                                                                    env, said):
        assert "grading on submit" in said
        try:
            yield Course(home, instructor, students, env)
        finally:
            log = home / "hub.log"
            if log.exists():
                print("".join(line for line in log.read_text(errors="replace").splitlines(keepends=True)
                              if "grade-on-submit:" in line)[-6000:])


def wait_for(what, seconds):
    """what() until it gives something true, at most `seconds`; that value (or the last one)."""
    deadline = time.monotonic() + seconds
    while True:
        found = what()
        if found or time.monotonic() > deadline:
            return found
        time.sleep(1)


def test_students_get_their_grade_on_submit_with_no_instructor_action(course):
    require(CHROMIUM.exists(), f"{CHROMIUM} is missing: apt-get install chromium")
    from playwright.sync_api import sync_playwright

    s1, s2, s3 = course.students
    kinds = demo.hub_kinds()
    course.nbgrader(course.instructor, "release_assignment", ASSIGNMENT,
                    cwd=Path(pwd.getpwnam(course.instructor).pw_dir) / "gradient-checking")
    submitted = {}

    # Within a minute of their submit (minute()), the first student's Fetch Feedback brings their
    # own pages; the others, graded in the next batch, within two.
    def wait_graded(student, count, within=1):
        """Until the service has finished `count` of the student's submissions, at most `within` minutes."""
        return wait_for(lambda: len(course.finished(student)) >= count,
                        submitted[student] + within * minute() - time.monotonic())

    def fetched(student, count, within=1):
        """Once the service has finished `count` of the student's submissions: what they fetch."""
        wait_graded(student, count, within)
        return course.feedback(student)

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            # s1 in JupyterLab's Assignments tab: Fetch, their work saved in their server, Submit.
            student = HubPerson(chromium, course, s1, SHOTS)
            page = student.assignments_tab()
            page.locator("#released_assignments_list").get_by_role("button", name="Fetch").click()
            page.locator("#fetched_assignments_list").get_by_text(ASSIGNMENT, exact=True).wait_for()
            student.save(ASSIGNMENT, kinds["mistake"])
            page = student.assignments_tab()
            page.locator("#fetched_assignments_list").get_by_role("button", name="Submit").click()
            submitted_row(page).wait_for()
            submitted[s1] = time.monotonic()
            student.shot("01-mistake-submitted")
            submitted.update({s2: course.submit(s2, kinds["right"]), s3: course.submit(s3, kinds["crashing"])})

            # No instructor acts: once graded, s1's Fetch Feedback brings their score and diagnosis.
            wait_graded(s1, 1)
            first = fetch_feedback(student)
            student.shot("02-mistake-feedback-fetched")
            print(f"{s1}: feedback {time.monotonic() - submitted[s1]:.0f} s after submitting")
            assert first, f"no feedback for {s1} within a minute:\n{course.queue()}"
            assert submitted_row(student.page).get_by_text("(view feedback)").count() == 1
            assert DIAGNOSIS in said(first["1_gradient_checking_1d.html"])
            [graded] = course.finished(s1)
            assert total(first) == graded.score < 100   # the one number: the queue's, grades.csv's, the page's
            [folder] = course.feedback(s1)
            student.page.goto(student.url(f"files/{ASSIGNMENT}/feedback/{folder}/1_gradient_checking_1d.html"))
            student.page.get_by_text(DIAGNOSIS).first.scroll_into_view_if_needed()
            student.shot("03-mistake-feedback-page")
            student.close()
        finally:
            chromium.close()

    # A resubmission is graded again and its feedback replaces the first grade.
    submitted[s1] = course.submit(s1, kinds["right"])
    right = fetched(s2, 1, within=2)   # graded in the batch after the first one
    print(f"{s2}: feedback {time.monotonic() - submitted[s2]:.0f} s after submitting")
    assert len(right) == 1, f"no feedback for {s2} within a minute:\n{course.queue()}"
    assert total(*right.values()) == 100

    # The crashing one is flagged and held for the instructor: no feedback reaches its student.
    assert [entry.state for entry in course.finished(s3)] == ["flagged"], course.queue()
    assert course.feedback(s3) == {}

    both = fetched(s1, 2, within=2)
    print(f"{s1} again: feedback {time.monotonic() - submitted[s1]:.0f} s after submitting")
    assert len(both) == 2, f"no second feedback for {s1}:\n{course.queue()}"
    latest = both[max(both)]
    assert total(latest) == 100 and DIAGNOSIS not in said(latest["1_gradient_checking_1d.html"])
    queue = course.queue()
    assert re.search(r"done 3\b", queue) and "flagged 1" in queue and "last hour: 4 graded" in queue, queue

    # The same for the instructor behind the hub's login; a student may not see it.
    page = course.page(course.instructor)
    assert page.status_code == 200 and "last hour: 4 graded" in page.text and s3 in page.text, page.text[:2000]
    assert course.page(s2).status_code == 403

    # The instructor, having looked at the flagged submission, releases it: only now does its
    # student fetch feedback, with the score the queue recorded.
    released = subprocess.run(["make", "-s", "hub-release-feedback", "RELEASE_FLAGGED=1"], cwd=ROOT, env=course.env,
                              capture_output=True, text=True, timeout=600)
    assert released.returncode == 0, released.stdout + released.stderr
    held = course.feedback(s3)
    assert len(held) == 1, f"no feedback for {s3} after the instructor released it:\n{released.stdout}"
    [flagged] = course.finished(s3)
    assert total(*held.values()) == flagged.score < 100
