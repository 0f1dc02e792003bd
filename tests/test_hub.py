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
import os
import pwd
import re
import secrets
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "hub"))
from hubctl import environ_of  # noqa: E402  (hub/ is a folder of scripts, not a package)

ROOT = Path(__file__).resolve().parent.parent
PYTHON = "/usr/bin/python3.11"
CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
ARTIFACTS = ROOT / "artifacts" / "hub"
VENV = Path(os.environ.get("HUB_TEST_VENV", "/var/tmp/gradient-checking-hub-test-venv"))
ASSIGNMENT = "gradient_checking"
NOTEBOOKS = ["1_gradient_checking_1d.ipynb", "2_gradient_checking_nd.ipynb"]


def require(condition, reason):
    """As tests/test_browser.py: a skip on a developer's machine, a failure in CI."""
    if not condition:
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def processes_with(**variables):
    """pids whose environment holds all these variables with these values."""
    wanted = {key.encode(): value.encode() for key, value in variables.items()}
    return [int(pid) for pid in os.listdir("/proc") if pid.isdigit()
            and all(environ_of(pid).get(key) == value for key, value in wanted.items())]


def uids_of(pid):
    """Real, effective, saved and file-system uid of a process."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Uid:"):
            return {int(number) for number in line.split()[1:]}
    return set()


def account_exists(name):
    try:
        pwd.getpwnam(name)
        return True
    except KeyError:
        return False


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
    require(os.geteuid() == 0, "make hub creates Linux accounts: run the hub tests as root")
    require(Path(PYTHON).exists(), f"{PYTHON} is missing: apt-get install python3.11-venv")
    tag = secrets.token_hex(3)
    instructor, students = f"gch{tag}i", [f"gch{tag}s{number}" for number in (1, 2, 3)]
    assert not any(account_exists(name) for name in [instructor, *students])
    home = Path(tempfile.mkdtemp(prefix="gc-hub-test-", dir="/tmp"))
    os.chmod(home, 0o755)   # the hub's users run its venv and reach its exchange through it
    env = {key: value for key, value in os.environ.items() if not key.startswith("HUB_")}
    env.update({"HUB_HOME": str(home), "HUB_PORT": str(free_port()), "HUB_INSTRUCTOR": instructor,
                "HUB_STUDENTS": " ".join(students), "HUB_VENV": str(VENV)})
    hub = Hub(home, int(env["HUB_PORT"]), instructor, students, env)
    try:
        started = time.monotonic()
        result = subprocess.run(["make", "-s", "hub"], cwd=ROOT, env=env, capture_output=True, text=True,
                                timeout=900)
        assert result.returncode == 0, result.stdout + result.stderr
        print(f"make hub: {time.monotonic() - started:.1f} s\n{result.stdout}")
        hub.passwords = dict(line.split() for line in (home / "private" / "passwords").read_text().splitlines())
        yield hub
    finally:
        stopped = subprocess.run(["make", "-s", "hub-stop"], cwd=ROOT, env=env, capture_output=True, text=True,
                                 timeout=120)
        removed = subprocess.run([PYTHON, "hub/hubctl.py", "remove-users"], cwd=ROOT, env=env,
                                 capture_output=True, text=True, timeout=120)
        leftovers = processes_with(GC_HUB_HOME=str(home))
        accounts = [name for name in [instructor, *students] if account_exists(name)]
        shutil.rmtree(home, ignore_errors=True)
        assert stopped.returncode == 0, stopped.stdout + stopped.stderr
        assert removed.returncode == 0, removed.stdout + removed.stderr
        assert not leftovers, f"processes of the hub left running: {leftovers}"
        assert not accounts, f"accounts left: {accounts}"


@pytest.fixture(scope="module")
def released(hub):
    """The instructor releases the assignment with stock nbgrader, in the course copy."""
    result = hub.nbgrader(hub.instructor, "release_assignment", ASSIGNMENT, cwd=hub.course)
    assert result.returncode == 0, result.stdout + result.stderr
    return hub.home / "exchange" / "gradient-checking" / "outbound" / ASSIGNMENT


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
    assert hub_command[1].decode() == str(VENV / "bin" / "jupyterhub")   # the hub's own venv
    assert os.path.realpath(f"/proc/{hub_pid}/exe") == os.path.realpath(PYTHON)   # Debian's interpreter
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


def test_a_student_fetches_and_submits_through_the_exchange_and_the_instructor_collects(hub, released):
    assert sorted(path.name for path in released.glob("*.ipynb")) == NOTEBOOKS
    inbound = hub.home / "exchange" / "gradient-checking" / "inbound"
    student = hub.students[0]
    uid = pwd.getpwnam(student).pw_uid
    home = Path(pwd.getpwnam(student).pw_dir)
    fetched = hub.nbgrader(student, "fetch_assignment", ASSIGNMENT, cwd=home)
    assert fetched.returncode == 0, fetched.stdout + fetched.stderr
    assert all((home / ASSIGNMENT / name).stat().st_uid == uid for name in NOTEBOOKS)
    submitted = hub.nbgrader(student, "submit", ASSIGNMENT, cwd=home)
    assert submitted.returncode == 0, submitted.stdout + submitted.stderr
    [submission] = inbound.glob(f"{student}+{ASSIGNMENT}+*")
    assert submission.stat().st_uid == uid
    assert sorted(path.name for path in submission.glob("*.ipynb")) == NOTEBOOKS
    assert all(path.stat().st_uid == uid for path in submission.iterdir())
    # Another student cannot list the inbound folder, so never sees whose work is there.
    listing = subprocess.run(["runuser", "-u", hub.students[1], "--", "ls", str(inbound)], capture_output=True)
    assert listing.returncode != 0

    collected = hub.nbgrader(hub.instructor, "collect", ASSIGNMENT, cwd=hub.course)
    assert collected.returncode == 0, collected.stdout + collected.stderr
    folder = hub.course / "submitted" / student / ASSIGNMENT
    assert sorted(path.name for path in folder.glob("*.ipynb")) == NOTEBOOKS
    assert folder.stat().st_uid == pwd.getpwnam(hub.instructor).pw_uid


def test_the_instructor_s_server_opens_the_formgrader_on_the_course_copy(hub, released):
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


def test_a_student_fetches_and_submits_in_the_assignments_tab_of_jupyterlab(hub, released):
    require(CHROMIUM.exists(), f"{CHROMIUM} is missing: apt-get install chromium")
    from playwright.sync_api import sync_playwright

    from browser_support import CHROMIUM_ARGS

    student = hub.students[2]   # one who fetched nothing yet
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            page.set_default_timeout(60_000)
            page.goto(hub.url + "/hub/login")
            page.fill("input[name=username]", student)
            page.fill("input[name=password]", hub.passwords[student])
            page.click("input[type=submit], button[type=submit]")
            page.wait_for_url(re.compile(rf"/user/{student}/lab"), timeout=90_000)
            page.get_by_role("menuitem", name="Nbgrader", exact=True).click()
            menu = page.locator("#jp-mainmenu-nbgrader").inner_text()
            assert "Formgrader" not in menu and "Create assignment" not in menu, menu   # instructors only
            page.get_by_role("menuitem", name="Assignment List", exact=True).click()
            released_list = page.locator("#released_assignments_list")
            released_list.get_by_text(ASSIGNMENT, exact=True).wait_for()
            page.screenshot(path=ARTIFACTS / "student-assignments.png")
            assert "exchange directory does not exist" not in page.content()
            # Fetch, then Submit, from the tab.
            released_list.get_by_role("button", name="Fetch").click()
            fetched_list = page.locator("#fetched_assignments_list")
            fetched_list.get_by_text(ASSIGNMENT, exact=True).wait_for()
            page.screenshot(path=ARTIFACTS / "student-fetched.png")
            fetched_list.get_by_role("button", name="Submit").click()
            page.locator("#submitted_assignments_list").get_by_text(ASSIGNMENT, exact=True).wait_for()
            page.screenshot(path=ARTIFACTS / "student-submitted.png")
        finally:
            browser.close()
    uid = pwd.getpwnam(student).pw_uid
    home = Path(pwd.getpwnam(student).pw_dir)
    assert all((home / ASSIGNMENT / name).stat().st_uid == uid for name in NOTEBOOKS)
    [submission] = (hub.home / "exchange" / "gradient-checking" / "inbound").glob(f"{student}+{ASSIGNMENT}+*")
    assert submission.stat().st_uid == uid and sorted(path.name for path in submission.glob("*.ipynb")) == NOTEBOOKS
