"""JupyterLab on loopback and Debian's headless Chromium, driven like a student would.

Used by tests/test_browser.py, and by the hub tests (start_test_hub and HubPerson, at the
bottom). Nothing here is downloaded: the server is the pinned JupyterLab of .venv (with nbgrader's
lab extensions), the browser is /usr/bin/chromium (apt), driven through Playwright's Python
package with `executable_path`.
"""
import contextlib
import json
import os
import pwd
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import nbformat
from ci import require
from commands import free_port

CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
# No network but loopback: without the background-networking flags Chromium stalls on its own
# update, sync and component requests.
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage",
]
BIN = Path(sys.executable).parent

# JupyterLab's own settings for the test user: no news or update toasts, and every cell rendered
# (the default windowing leaves cells that are off screen out of the page).
LAB_SETTINGS = {
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {"fetchNews": "false", "checkForUpdates": False},
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
}

# Requests to the server on 127.0.0.1 never go through a proxy from the environment.
LOOPBACK = urllib.request.build_opener(urllib.request.ProxyHandler({}))

KERNEL_IDLE = """() => {
    const kernel = window.jupyterapp?.shell.currentWidget?.sessionContext?.session?.kernel;
    return !!kernel && kernel.connectionStatus === 'connected' && kernel.status === 'idle';
}"""
FIRST_START_STATE = """() => {
    if (document.querySelector('.jp-Dialog')) return 'dialog';
    if (document.body.textContent.includes('official Jupyter news?')) return 'news';
    return (""" + KERNEL_IDLE + """)() && 'idle';
}"""
CODE_PROMPTS = "() => [...document.querySelectorAll('.jp-Notebook .jp-CodeCell .jp-InputPrompt')].map(e => e.textContent.trim())"


def student_env(home):
    """Environment of a student's session: the course's .venv first, Jupyter's state in `home`."""
    home = Path(home)
    env = dict(os.environ)
    env.update({
        "PATH": f"{BIN}{os.pathsep}{env.get('PATH', '')}",
        "JUPYTER_CONFIG_DIR": str(home / "config"),
        "JUPYTER_DATA_DIR": str(home / "data"),
        "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
        "IPYTHONDIR": str(home / "ipython"),
        "MPLCONFIGDIR": str(home / "matplotlib"),
        "JUPYTER_PLATFORM_DIRS": "1",
    })
    env.pop("MPLBACKEND", None)
    return env


class JupyterLab:
    """`jupyter lab` serving `root` on 127.0.0.1 with a token, no browser, its log in `log_path`."""

    def __init__(self, root, home, log_path):
        self.root, self.home, self.log_path = Path(root), Path(home), Path(log_path)
        self.port = free_port()
        self.token = secrets.token_hex(16)
        self.process = None

    def start(self, timeout=60, attempts=3):
        settings = self.home / "lab-settings"
        for name, values in LAB_SETTINGS.items():
            path = settings / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(values))
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        for attempt in range(attempts):
            command = [
                str(BIN / "jupyter-lab"), "--no-browser", "--allow-root",
                "--ip=127.0.0.1", f"--port={self.port}", "--ServerApp.port_retries=0",
                f"--IdentityProvider.token={self.token}",
                f"--ServerApp.root_dir={self.root}",
                f"--LabApp.user_settings_dir={settings}",
                f"--LabApp.workspaces_dir={self.home / 'workspaces'}",
                "--LabApp.news_url=None",
                "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
                "--ServerApp.terminals_enabled=False",
                # window.jupyterapp, to tell when the notebook's kernel is connected (as Galata does)
                "--LabApp.expose_app_in_browser=True",
            ]
            self._log = open(self.log_path, "w")
            # The server's own session: stop() can end it and everything it started, and nothing else.
            self.process = subprocess.Popen(command, cwd=self.root, env=student_env(self.home),
                                            stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True)
            if self._wait_ready(timeout):
                return self
            if self.process.poll() is not None and "already in use" in self.log_tail() and attempt + 1 < attempts:
                self._log.close()
                self.port = free_port()   # another process took the free port first: take another
                continue
            self.stop()
            raise RuntimeError(f"jupyter lab did not start: {self.log_tail()}")

    def _wait_ready(self, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.process.poll() is None:
            try:
                with LOOPBACK.open(self.api_url("status"), timeout=2) as response:
                    if response.status == 200:
                        return True
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.25)
        return False

    def api_url(self, path):
        return f"http://127.0.0.1:{self.port}/api/{path}?token={self.token}"

    def notebook_url(self, path, workspace):
        # A workspace of its own per page: no tabs restored from an earlier page.
        return f"http://127.0.0.1:{self.port}/lab/workspaces/{workspace}/tree/{path}?token={self.token}"

    def log_tail(self, lines=30):
        try:
            return "\n".join(self.log_path.read_text().splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self):
        """Shut the server down through its API (it stops its kernels first); signal its process
        group only if that fails."""
        if self.process is None:
            return
        try:
            if self.process.poll() is None:
                try:
                    request = urllib.request.Request(self.api_url("shutdown"), method="POST")
                    LOOPBACK.open(request, timeout=5).close()
                    self.process.wait(timeout=15)
                except Exception:
                    self._signal(signal.SIGTERM)
                    try:
                        self.process.wait(timeout=10)
                    except subprocess.TimeoutExpired:
                        self._signal(signal.SIGKILL)
                        self.process.wait(timeout=10)
        finally:
            self._log.close()

    def _signal(self, number):
        try:
            os.killpg(self.process.pid, number)
        except ProcessLookupError:
            pass


class NotebookPage:
    """One notebook open in JupyterLab in one browser tab."""

    def __init__(self, page):
        self.page = page

    @classmethod
    def open(cls, context, lab, path, workspace, timeout=60_000):
        page = context.new_page()
        page.set_default_timeout(timeout)
        page.goto(lab.notebook_url(path, workspace))
        self = cls(page)
        page.locator(".jp-Notebook .jp-Cell").first.wait_for()
        self.dismiss_first_start_dialogs()
        return self

    def dismiss_first_start_dialogs(self):
        """Answer what JupyterLab may ask on a first start, until the kernel is connected and idle.
        (The settings of JupyterLab.start turn the news question off; a notebook whose kernel is
        not installed would ask which kernel to use.)"""
        from playwright.sync_api import TimeoutError as PlaywrightTimeout

        page = self.page
        for _ in range(10):
            state = page.wait_for_function(FIRST_START_STATE).json_value()
            if state == "news":
                try:
                    page.get_by_role("button", name="No", exact=True).click(timeout=5_000)
                except PlaywrightTimeout:
                    continue   # a dialog came up in front of it: answer that first
            elif state == "dialog":
                dialog = page.locator(".jp-Dialog")
                if "Select Kernel" not in dialog.inner_text():
                    raise AssertionError(f"unexpected dialog: {dialog.inner_text()}")
                dialog.locator("select").select_option(label="Python 3 (ipykernel)")
                dialog.locator(".jp-mod-accept").click()
            else:
                break
        self.wait_idle()

    def wait_idle(self):
        """Wait until the notebook's kernel is connected and idle. (The toolbar's indicator says
        idle before the kernel has even started, and a cell run then is silently dropped.)"""
        self.page.wait_for_function(KERNEL_IDLE)
        self.page.locator(".jp-Notebook-ExecutionIndicator[data-status='idle']").wait_for()

    def code_prompts(self):
        """The prompts of the code cells: '[3]:' ran, '[*]:' queued or running, '[ ]:' not run."""
        return self.page.evaluate(CODE_PROMPTS)

    def toolbar_button(self, command):
        return self.page.locator(f".jp-NotebookPanel jp-button[data-command='{command}']")

    def wait_until_run(self, timeout=120_000):
        """Wait until no cell is queued or running, and every code cell has run or one failed."""
        self.page.wait_for_function(
            """() => {
                const prompts = [...document.querySelectorAll('.jp-Notebook .jp-CodeCell .jp-InputPrompt')]
                    .map(e => e.textContent.trim());
                // A failed cell shows an error output (a traceback, or a test's sentence alone).
                const failed = document.querySelector(
                    '.jp-Notebook .jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]');
                return prompts.length > 0 && !prompts.some(t => t.includes('*')) &&
                    (prompts.every(t => /^\\[\\d+\\]:$/.test(t)) || failed !== null);
            }""", timeout=timeout)
        self.wait_idle()

    def run_all(self):
        """Run → Run All Cells; wait until it finished or stopped at an error."""
        page = self.page
        page.get_by_role("menuitem", name="Run", exact=True).click()
        page.get_by_role("menuitem", name=re.compile(r"^Run All Cells")).click()
        self.wait_until_run()

    def restart_and_run_all(self):
        """Kernel → Restart Kernel and Run All Cells…, what the notebook asks before submitting."""
        page = self.page
        page.get_by_role("menuitem", name="Kernel", exact=True).click()
        page.get_by_role("menuitem", name=re.compile(r"^Restart Kernel and Run All Cells")).click()
        page.locator(".jp-Dialog").filter(has_text="Restart").locator(".jp-mod-accept").click()
        self.wait_until_run()

    def run_cell_by_cell(self, timeout=60_000):
        """Select each code cell in turn and press the toolbar's ▶ (run this cell and advance),
        waiting for it to finish before the next: a student working down the notebook.
        (The mouse, not Shift+Enter: keystrokes go wherever JupyterLab put the focus.)"""
        page = self.page
        cells = page.locator(".jp-Notebook .jp-Cell")
        run = self.toolbar_button("notebook:run-cell-and-select-next")
        for index in range(cells.count()):
            cell = cells.nth(index)
            if "jp-CodeCell" not in (cell.get_attribute("class") or ""):
                continue   # markdown is rendered already
            cell.locator(".jp-InputPrompt").click()
            run.click()
            page.wait_for_function(
                """index => {
                    const cell = document.querySelectorAll('.jp-Notebook .jp-Cell')[index];
                    return /^\\[\\d+\\]:$/.test(cell.querySelector('.jp-InputPrompt').textContent.trim());
                }""", arg=index, timeout=timeout)
        self.wait_idle()

    def cell_outputs(self):
        """The text of every cell's outputs, in notebook order ('' for cells without output)."""
        return self.page.evaluate(
            "() => [...document.querySelectorAll('.jp-Notebook .jp-Cell')]"
            ".map(c => [...c.querySelectorAll('.jp-OutputArea-output')].map(o => o.textContent).join('\\n'))")

    def output_text(self):
        return "\n".join(self.cell_outputs())

    def count_images(self):
        """Rendered PNG outputs: <img> elements of image/png outputs that the browser has decoded."""
        return self.page.evaluate(
            "() => [...document.querySelectorAll(\".jp-Notebook .jp-OutputArea-output[data-mime-type='image/png'] img\")]"
            ".filter(img => img.complete && img.naturalWidth > 0).length")

    def count_stderr(self):
        return self.page.locator(".jp-Notebook .jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']").count()

    def save(self):
        """The toolbar's save button; wait until the document is no longer marked changed."""
        self.toolbar_button("docmanager:save").click()
        self.page.locator(".jp-mod-dirty").first.wait_for(state="detached")

    def validate(self, timeout=120_000):
        """Click nbgrader's Validate button in the notebook toolbar; return the results dialog's text."""
        page = self.page
        page.locator(".validate-button").click()
        dialog = page.locator(".jp-Dialog").filter(has_text="Validation Results")
        dialog.wait_for(timeout=timeout)
        return dialog

    def screenshot(self, path, max_height=16_000):
        """The whole notebook in one image: the file browser hidden, the window grown to the
        height of the cells, scrolled to the top. Taller notebooks come in several parts."""
        page = self.page
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        current_tab = page.locator(".jp-SideBar.jp-mod-left .lm-TabBar-tab.lm-mod-current")
        if current_tab.count():
            current_tab.click()   # collapse the file browser
        outer = ".jp-Notebook .jp-WindowedPanel-outer"
        measure = f"""() => {{
            const outer = document.querySelector('{outer}');
            const cells = outer.querySelector('.jp-WindowedPanel-viewport');
            return [cells.getBoundingClientRect().height, window.innerHeight - outer.clientHeight, outer.clientHeight];
        }}"""
        width, height = page.viewport_size["width"], None
        for _ in range(5):   # a taller window can reflow the notebook: repeat until stable
            cells, chrome, _ = page.evaluate(measure)
            wanted = min(int(cells + chrome + 40), max_height)
            if wanted == height:
                break
            height = wanted
            page.set_viewport_size({"width": width, "height": height})
            page.wait_for_timeout(300)
        cells, _, visible = page.evaluate(measure)
        shots, offset = [], 0
        while True:
            page.evaluate(f"() => {{ document.querySelector('{outer}').scrollTop = {offset}; }}")
            page.wait_for_timeout(200)
            shot = path if not shots else path.with_name(f"{path.stem}-part{len(shots) + 1}{path.suffix}")
            page.screenshot(path=shot, full_page=True)
            shots.append(shot)
            offset += visible
            if offset >= cells:
                return shots


# ---------------------------------------------------------------- on a JupyterHub (tests/test_hub*.py)

REPO = Path(__file__).resolve().parent.parent
HUB_PYTHON = "/usr/bin/python3.11"   # Debian's interpreter, which make hub builds the hub's venv with
HUB_VENV = Path(os.environ.get("HUB_TEST_VENV", "/var/tmp/gradient-checking-hub-test-venv"))


def account_exists(name):
    try:
        pwd.getpwnam(name)
        return True
    except KeyError:
        return False


def processes_with(**variables):
    """pids whose environment holds all these variables with these values (a hub's processes:
    GC_HUB_HOME=<its home>)."""
    sys.path.insert(0, str(REPO / "hub"))
    from hubctl import environ_of   # hub/ is a folder of scripts, not a package
    wanted = {key.encode(): value.encode() for key, value in variables.items()}
    return [int(pid) for pid in os.listdir("/proc") if pid.isdigit()
            and all(environ_of(pid).get(key) == value for key, value in wanted.items())]


@contextlib.contextmanager
def start_test_hub(prefix, **extra_env):
    """A hub of the test's own, started by the project's `make hub` on a free port: a state folder
    under /tmp (named from `prefix`), fresh accounts (gch<random>i, gch<random>s1..s3), `extra_env`
    for make (say GRADE_ON_SUBMIT="1"). Yields (home, instructor, students, env, make hub's output);
    then stops the hub, removes the accounts and the folder, and fails if any of its processes or
    accounts is left."""
    require(os.geteuid() == 0, "make hub creates Linux accounts: run the hub tests as root")
    require(Path(HUB_PYTHON).exists(), f"{HUB_PYTHON} is missing: apt-get install python3.11-venv")
    tag = secrets.token_hex(3)
    instructor, students = f"gch{tag}i", [f"gch{tag}s{number}" for number in (1, 2, 3)]
    assert not any(account_exists(name) for name in [instructor, *students])
    home = Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))
    os.chmod(home, 0o755)   # the hub's users run its venv and reach its exchange through it
    env = {key: value for key, value in os.environ.items() if not key.startswith("HUB_")}
    env.update({"HUB_HOME": str(home), "HUB_PORT": str(free_port()), "HUB_INSTRUCTOR": instructor,
                "HUB_STUDENTS": " ".join(students), "HUB_VENV": str(HUB_VENV), **extra_env})
    try:
        began = time.monotonic()
        started = subprocess.run(["make", "-s", "hub"], cwd=REPO, env=env, capture_output=True, text=True,
                                 timeout=900)
        assert started.returncode == 0, started.stdout + started.stderr
        print(f"make hub: {time.monotonic() - began:.1f} s\n{started.stdout}")
        yield home, instructor, students, env, started.stdout
    finally:
        stopped = subprocess.run(["make", "-s", "hub-stop"], cwd=REPO, env=env, capture_output=True, text=True,
                                 timeout=120)
        removed = subprocess.run([HUB_PYTHON, "hub/hubctl.py", "remove-users"], cwd=REPO, env=env,
                                 capture_output=True, text=True, timeout=120)
        leftovers = processes_with(GC_HUB_HOME=str(home))
        accounts = [name for name in [instructor, *students] if account_exists(name)]
        shutil.rmtree(home, ignore_errors=True)
        assert stopped.returncode == 0, stopped.stdout + stopped.stderr
        assert removed.returncode == 0, removed.stdout + removed.stderr
        assert not leftovers, f"processes of the hub left running: {leftovers}"
        assert not accounts, f"accounts left: {accounts}"


class HubPerson:
    """One user of a hub (anything with .url and .passwords) in a browser context of their own,
    logged in through the hub's form; screenshots go to `shots`."""

    def __init__(self, chromium, hub, user, shots):
        self.hub, self.user, self.shots = hub, user, Path(shots)
        self.context = chromium.new_context(viewport={"width": 1280, "height": 860})
        self.page = self.context.new_page()
        self.page.set_default_timeout(90_000)
        self.page.goto(hub.url + "/hub/login")
        self.page.fill("input[name=username]", user)
        self.page.fill("input[name=password]", hub.passwords[user])
        self.page.click("input[type=submit], button[type=submit]")
        self.page.wait_for_url(re.compile(rf"/user/{user}/lab"), timeout=120_000)

    def url(self, path):
        return f"{self.hub.url}/user/{self.user}/{path}"

    def api(self, method, path, **kwargs):
        """A request to the user's server from their page, with the XSRF header it wants."""
        xsrf = next((cookie["value"] for cookie in self.context.cookies(self.url(""))
                     if cookie["name"] == "_xsrf"), "")
        return self.page.request.fetch(self.url(path), method=method, headers={"X-XSRFToken": xsrf}, **kwargs)

    def shot(self, name, page=None):
        self.shots.mkdir(parents=True, exist_ok=True)
        (page or self.page).screenshot(path=self.shots / f"{name}.png")

    def assignments_tab(self):
        """Nbgrader → Assignment List, as a student opens it; returns the tab's page."""
        page = self.page
        page.goto(self.url("lab"))
        page.get_by_role("menuitem", name="Nbgrader", exact=True).click()
        self.menu = page.locator("#jp-mainmenu-nbgrader").inner_text()
        page.get_by_role("menuitem", name="Assignment List", exact=True).click()
        page.locator("#released_assignments_list, #fetched_assignments_list, #submitted_assignments_list").first.wait_for()
        return page

    def save(self, folder, notebooks):
        """The student's finished work, {name: notebook}, saved in their server under `folder`."""
        for name, notebook in notebooks.items():
            saved = self.api("PUT", f"api/contents/{folder}/{name}", data={
                "type": "notebook", "format": "json", "content": json.loads(nbformat.writes(notebook))})
            assert saved.ok, saved.text()

    def close(self):
        self.context.close()


def submitted_row(page, assignment="gradient_checking"):
    return page.locator("#submitted_assignments_list .list_item").filter(has_text=assignment)


def fetch_feedback(student, assignment="gradient_checking"):
    """The Assignments tab's Fetch Feedback button; returns the feedback pages the student then
    has, {name: html} (none when nothing was released to them)."""
    page = student.assignments_tab()
    with page.expect_response(lambda response: "assignments/fetch_feedback" in response.url) as answer:
        submitted_row(page, assignment).get_by_role("button", name="Fetch Feedback").click()
    assert answer.value.ok, answer.value.text()
    page.wait_for_timeout(300)   # the list is drawn again from the answer
    listing = student.api("GET", f"api/contents/{assignment}/feedback")
    if listing.status == 404 or not listing.json()["content"]:
        return {}
    [folder] = listing.json()["content"]   # one submission, so one folder of feedback
    return {item["name"]: student.api("GET", f"files/{item['path']}").text()
            for item in student.api("GET", f"api/contents/{folder['path']}").json()["content"]}
