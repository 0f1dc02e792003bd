"""`make hub` and `make hub-stop`: the course on a real JupyterHub on 127.0.0.1 (docs/hub.md).

    hubctl.py start          set everything up that is missing, start the hub in the background
    hubctl.py stop           stop the hub, its proxy and every server it spawned
    hubctl.py remove-users   delete the Linux accounts that `start` created (the hub stopped first)
    hubctl.py autograde [OPTION ...]
                             grade the instructor's course copy with the course's pipeline
                             (python -m grading.grader.autograde OPTION ...) as root, in a private copy
                             of it; what grading reads comes in, and what it writes goes out, through
                             a program run as the instructor (hub/private_copy.py)
    hubctl.py review-config [--accept]
                             show how the course copy's configuration or helpers differ from those
                             last reviewed, and accept them (python -m grading.grader.config_review)
    hubctl.py release-feedback [--release-flagged]
                             release feedback through the exchange as the instructor, flagged
                             submissions held back (python -m grading.lms.release_feedback)
    hubctl.py queue          the queue of grading on submit (hub/grade_on_submit.py): waiting,
                             grading, done, flagged, failed, and the latency of the last hour

Runs as root, with Debian's python3.11 and its standard library only (the course's .venv lives
under root's own interpreter, which the hub's users cannot run). Settings, from the environment
(the Makefile passes `make hub HUB_PORT=8001 ...` through):

    HUB_HOME        the hub's state folder            /srv/gradient-checking-hub
    HUB_PORT        the public port on 127.0.0.1      8000
    HUB_INSTRUCTOR  the instructor's account          instructor
    HUB_STUDENTS    the students' accounts            "student1 student2 student3"
    HUB_COURSE      the instructor's course copy      ~instructor/gradient-checking
    HUB_VENV        the hub's Python environment      $HUB_HOME/venv
    HUB_PYTHON      the interpreter of that venv      /usr/bin/python3.11
    GRADE_ON_SUBMIT 1: the hub runs the grading service (hub/grade_on_submit.py), with the
                    grading options WORKERS and SCHEDULER

The state folder (root's, 0755):
    venv/                        the pinned requirements.txt for Debian's python3.11, built once
    exchange/                    nbgrader's exchange (1777, as nbgrader makes it)
    config/common/               nbgrader_config.py: course id and exchange, read by every server
    config/students/             the formgrader, course list and create-assignment turned off
    config/instructors/          the course copy named for the formgrader, its guard
                                 (grading.plugins.formgrader_guard) turned on, and the checked
                                 exchange classes (grading.exchange) for collect and feedback
    instructors/lib/ (0750)      a copy of the grading package that the instructors' servers
                                 import (the guard, the feedback release); root's, read by the
                                 instructor's group only: it holds the hidden tests
    bin/nbgrader                 nbgrader with that configuration, for the command line (an
                                 instructor's with config/instructors and instructors/lib)
    hub.pid, hub.log             the running hub
    private/ (0700)              passwords (0600), the hub's database and cookie secret, the
                                 proxy's pid, the accounts this script created
    private/grading/<key>/course the private copy that make hub-autograde grades, with its ledger
    private/grading/state/       the reviewed configuration and helpers of each course copy
    private/grade-on-submit/     the grading service's queue, one record per submission
"""
import hashlib
import json
import os
import pwd
import re
import secrets
import shutil
import signal
import socket
import string
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import private_copy   # hub/private_copy.py, beside this script

REPO = Path(__file__).resolve().parent.parent
HUB_DIR = REPO / "hub"
COURSE_ID = "gradient-checking"
ASSIGNMENT = "gradient_checking"
# What the instructor's copy of the course holds: what nbgrader and the formgrader need.
COURSE_FILES = ["source", "release", "nbgrader_config.py", "deadlines.toml"]
# Pins of requirements.txt that Debian bookworm's python3.11 (3.11.2) cannot install, and what the
# hub's venv takes instead: soupsieve 3 and later need Python >= 3.11.5 (it is used by
# beautifulsoup4, which nbconvert uses to clean HTML; 2.10 is the last release for 3.11.2).
OVERRIDES = {"soupsieve": "soupsieve==2.10"}
# The nbgrader extensions a student's server does without (nbgrader's docs, "One Class, One
# Grader" / the table of "Multiple Graders"): they only make sense for a course directory.
STUDENT_SERVER_EXTENSIONS_OFF = ["nbgrader.server_extensions.formgrader", "nbgrader.server_extensions.course_list"]
STUDENT_LAB_PLUGINS_OFF = ["@jupyter/nbgrader:formgrader", "@jupyter/nbgrader:create-assignment",
                           "@jupyter/nbgrader:course-list"]
NAME = re.compile(r"^[a-z_][a-z0-9_-]{0,31}$")   # a Linux account name JupyterHub keeps as it is
# The instructor's side of nbgrader's exchange (grading/exchange/): nbgrader's classes by name.
CHECKED_COLLECT = "grading.exchange.collect.CheckedCollect"
CHECKED_RELEASE = "grading.exchange.release_feedback.CheckedReleaseFeedback"
CLEAN_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
LOOPBACK = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def say(*words):
    print("hub:", *words, flush=True)


def fail(message):
    print(f"hub: {message}", file=sys.stderr, flush=True)
    sys.exit(1)


class Settings:
    def __init__(self, env=os.environ):
        self.home = Path(env.get("HUB_HOME") or "/srv/gradient-checking-hub").absolute()
        self.port = int(env.get("HUB_PORT") or 8000)
        self.instructor = env.get("HUB_INSTRUCTOR") or "instructor"
        self.students = (env.get("HUB_STUDENTS") or "student1 student2 student3").replace(",", " ").split()
        self.venv = Path(env.get("HUB_VENV") or self.home / "venv").absolute()
        self.python = env.get("HUB_PYTHON") or "/usr/bin/python3.11"
        self.course = Path(env["HUB_COURSE"]).absolute() if env.get("HUB_COURSE") else None
        for name in [self.instructor, *self.students]:
            if not NAME.match(name):
                fail(f"{name!r} is not a usable account name (lower case letters, digits, _ and -)")
        if self.instructor in self.students or len(set(self.students)) != len(self.students):
            fail("the instructor and the students must be different accounts")
        self.private = self.home / "private"
        self.exchange = self.home / "exchange"
        self.config = self.home / "config"
        self.pid_file = self.home / "hub.pid"
        self.log_file = self.home / "hub.log"
        self.passwords = self.private / "passwords"
        self.created = self.private / "created-users"
        self.instructor_lib = self.home / "instructors" / "lib"

    @property
    def users(self):
        return [self.instructor, *self.students]

    def course_dir(self):
        return self.course or Path(pwd.getpwnam(self.instructor).pw_dir) / COURSE_ID

    def url(self):
        return f"http://127.0.0.1:{self.port}/"


# ---------------------------------------------------------------- processes

def read_pid(path):
    try:
        return int(Path(path).read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def alive(pid):
    if not pid:
        return False
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def environ_of(pid):
    try:
        raw = Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return {}
    return dict(item.split(b"=", 1) for item in raw.split(b"\0") if b"=" in item)


def hub_processes(settings):
    """Every process of this hub: the hub, its proxy, the spawned servers and their kernels all
    carry GC_HUB_HOME=<this state folder> in their environment (set here and by the config)."""
    marker = str(settings.home).encode()
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) != os.getpid() and environ_of(entry).get(b"GC_HUB_HOME") == marker:
            found.append(int(entry))
    return found


def running_hub(settings):
    pid = read_pid(settings.pid_file)
    if alive(pid) and environ_of(pid).get(b"GC_HUB_HOME") == str(settings.home).encode():
        return pid
    return None


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def port_taken(port):
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def run(command, **kwargs):
    kwargs.setdefault("check", True)
    return subprocess.run(command, **kwargs)


# ---------------------------------------------------------------- what the hub needs

def ensure_proxy():
    """configurable-http-proxy, pinned in hub/package-lock.json, into hub/node_modules (npm ci)."""
    lock = HUB_DIR / "package-lock.json"
    stamp = HUB_DIR / "node_modules" / ".gc-lock-sha256"
    digest = hashlib.sha256(lock.read_bytes()).hexdigest()
    if stamp.exists() and stamp.read_text() == digest and proxy_script().exists():
        return
    npm = shutil.which("npm")
    if not npm:
        fail("npm is missing: the hub's proxy (configurable-http-proxy) is installed with npm ci")
    say("installing configurable-http-proxy (npm ci in hub/)")
    run([npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error"], cwd=HUB_DIR)
    stamp.write_text(digest)


def proxy_script():
    return HUB_DIR / "node_modules" / "configurable-http-proxy" / "bin" / "configurable-http-proxy"


def hub_requirements():
    """requirements.txt with the OVERRIDES for Debian's interpreter: the hub's exact pins."""
    lines = []
    for line in (REPO / "requirements.txt").read_text().splitlines():
        name = re.split(r"[=<>!~;\s\[]", line.strip(), maxsplit=1)[0].lower().replace("_", "-")
        lines.append(OVERRIDES.get(name, line))
    return "\n".join(lines) + "\n"


def ensure_venv(settings):
    """The hub's own Python environment, from Debian's interpreter, which every user can run:
    requirements.txt's pins (OVERRIDES aside), without the grading package (instructor-only:
    students run this venv). Built once; again only when the pins or the interpreter change."""
    python = settings.python
    if not os.access(python, os.X_OK):
        fail(f"{python} is missing: apt-get install python3.11 python3.11-venv (or set HUB_PYTHON)")
    version = run([python, "-c", "import sys; print(sys.version)"], capture_output=True, text=True).stdout
    requirements = hub_requirements()
    digest = hashlib.sha256((python + version + requirements).encode()).hexdigest()
    venv = settings.venv
    stamp = venv / ".gc-hub-installed"
    if venv.exists():
        info = venv.stat()
        if info.st_uid != 0 or info.st_mode & 0o022:
            fail(f"{venv} is not root's alone (owner {info.st_uid}, mode {oct(info.st_mode & 0o777)}): "
                 "remove it or choose another HUB_VENV")
        if stamp.exists() and stamp.read_text() == digest:
            return
    say(f"building the hub's Python environment in {venv} (once; about a minute)")
    started = time.monotonic()
    run([python, "-m", "venv", "--clear", str(venv)])
    os.chmod(venv, 0o755)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "--quiet", "--disable-pip-version-check"]
    run(pip + ["install", "--upgrade", "pip==26.3"])
    pinned = venv / "requirements-hub.txt"
    pinned.write_text(requirements)
    run(pip + ["install", "-r", str(pinned)])
    stamp.write_text(digest)
    say(f"built in {time.monotonic() - started:.0f} s")


def make_folder(path, mode, owner=0, group=None):
    path.mkdir(parents=True, exist_ok=True)
    os.chown(path, owner, owner if group is None else group)
    os.chmod(path, mode)


def write(path, text, mode=0o644):
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w") as out:
        out.write(text)
    os.chmod(tmp, mode)
    os.replace(tmp, path)


def ensure_home(settings):
    """The state folder: made here, or root's alone already (never a shared folder like /tmp)."""
    home = settings.home
    if home.exists():
        info = home.stat()
        if not home.is_dir() or info.st_uid != 0 or info.st_mode & 0o022:
            fail(f"HUB_HOME={home} must be a folder of root's that no one else may write to")
    make_folder(home, 0o755)
    make_folder(settings.private, 0o700)


def ensure_instructor_lib(settings):
    """A fresh copy of the grading package for the instructors' servers, made at every start: the
    formgrader's guard and the feedback release run from it. Root's, readable by the instructor's
    group only (it holds the hidden tests); never the instructor's to change, so what their
    server runs is what this checkout holds."""
    group = pwd.getpwnam(settings.instructor).pw_gid
    lib = settings.instructor_lib
    make_folder(lib.parent, 0o750, group=group)
    fresh = lib.with_name(lib.name + ".partial")
    shutil.rmtree(fresh, ignore_errors=True)
    shutil.copytree(REPO / "grading", fresh / "grading",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    for folder, _, files in os.walk(fresh):
        os.chown(folder, 0, group)
        os.chmod(folder, 0o750)
        for name in files:
            os.chown(Path(folder, name), 0, group)
            os.chmod(Path(folder, name), 0o640)
    shutil.rmtree(lib, ignore_errors=True)
    fresh.rename(lib)


def ensure_state(settings, course):
    # nbgrader's exchange root: every user writes into it (release_assignment makes it 0777 when
    # it makes it); the sticky bit keeps one user from removing another's course folder.
    make_folder(settings.exchange, 0o1777)
    common, students, instructors = (settings.config / part for part in ("common", "students", "instructors"))
    for folder in (settings.config, common, students, instructors, settings.home / "bin"):
        make_folder(folder, 0o755)
    write(common / "nbgrader_config.py", (
        "# Written by make hub (hub/hubctl.py): the nbgrader settings of every user of the hub.\n"
        "# Every single-user server reads it (JUPYTER_CONFIG_PATH), and so does bin/nbgrader.\n"
        "c = get_config()  # noqa: F821\n"
        f"c.CourseDirectory.course_id = {COURSE_ID!r}\n"
        f"c.Exchange.root = {str(settings.exchange)!r}\n"))
    # No news or update checks from JupyterLab: the hub needs no network beyond loopback.
    write(common / "jupyter_server_config.json", json.dumps({"LabApp": {
        "news_url": None, "check_for_updates_class": "jupyterlab.NeverCheckForUpdate"}}, indent=1) + "\n")
    # ... nor asks every user whether it may (JupyterLab's settings overrides, in the hub's venv).
    write(settings.venv / "share" / "jupyter" / "lab" / "settings" / "overrides.d" / "gradient-checking-hub.json",
          json.dumps({"@jupyterlab/apputils-extension:notification": {
              "fetchNews": "false", "checkForUpdates": False}}, indent=1) + "\n")
    write(students / "jupyter_server_config.json", json.dumps({"ServerApp": {"jpserver_extensions": {
        name: False for name in STUDENT_SERVER_EXTENSIONS_OFF}}}, indent=1) + "\n")
    write(students / "labconfig" / "page_config.json", json.dumps({"disabledExtensions": {
        name: True for name in STUDENT_LAB_PLUGINS_OFF}}, indent=1) + "\n")
    write(instructors / "jupyter_server_config.json", json.dumps({"ServerApp": {"jpserver_extensions": {
        "grading.plugins.formgrader_guard": True}}}, indent=1) + "\n")
    write(instructors / "nbgrader_config.py", (
        "# Written by make hub (hub/hubctl.py): the instructors' servers and command line. The formgrader\n"
        "# reads the configuration of its server's working folder, which is the instructor's home: this\n"
        "# names the course (nbgrader's docs, \"One Class, One Grader\") and loads the course's own settings.\n"
        "c = get_config()  # noqa: F821\n"
        f"load_subconfig({str(course / 'nbgrader_config.py')!r})  # noqa: F821\n"
        f"c.CourseDirectory.root = {str(course)!r}\n"
        "# The exchange is a trust boundary (grading/exchange/, docs/hub.md): collect checks owners, takes\n"
        "# the time the files last changed and regular files only; feedback goes out as rendered pages,\n"
        "# student by student. Set here, after the course's settings and in root's file, so that a course\n"
        "# copy without these lines collects the same way (nbgrader reads the course's own file once more\n"
        "# afterwards: what that file names, the instructor chose).\n"
        f"c.ExchangeFactory.collect = {CHECKED_COLLECT!r}\n"
        f"c.ExchangeFactory.release_feedback = {CHECKED_RELEASE!r}\n"))
    # The instructor's command line gets what their server gets (the instructors' configuration and
    # root's copy of the grading package), whoever else runs it gets the students' side: the test
    # is whether the caller may read that copy (its group is the instructor's).
    lib = settings.instructor_lib
    write(settings.home / "bin" / "nbgrader", (
        "#!/bin/sh\n"
        "# nbgrader with the hub's settings (course id, exchange): what the hub's servers run.\n"
        f"if [ -r '{lib}/grading/exchange/collect.py' ]; then\n"
        f"    JUPYTER_CONFIG_PATH='{instructors}:{common}'; PYTHONPATH='{lib}'\n"
        f"    GRADING_COURSE_ROOT='{course}'; export PYTHONPATH GRADING_COURSE_ROOT\n"
        "else\n"
        f"    JUPYTER_CONFIG_PATH='{common}'\n"
        "fi\n"
        "export JUPYTER_CONFIG_PATH\n"
        f"PATH='{settings.venv}/bin':$PATH; export PATH\n"
        f"exec '{settings.venv}/bin/nbgrader' \"$@\"\n"), mode=0o755)


def random_password():
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(20))


def read_table(path):
    try:
        return [line.split() for line in path.read_text().splitlines() if line.strip()]
    except FileNotFoundError:
        return []


def ensure_users(settings):
    """A Linux account for each user. The ones made here get a random password (PAM checks it at
    login), kept in private/passwords; an account that existed already keeps its own."""
    passwords = dict(read_table(settings.passwords))
    created = [row[0] for row in read_table(settings.created)]
    for name in settings.users:
        try:
            pwd.getpwnam(name)
        except KeyError:
            run(["useradd", "--create-home", "--shell", "/bin/bash", name])
            os.chmod(pwd.getpwnam(name).pw_dir, 0o700)   # nobody reads another's work
            created.append(name)
            write(settings.created, "".join(f"{user}\n" for user in created), mode=0o600)
            passwords.pop(name, None)
        if name in created and name not in passwords:
            passwords[name] = random_password()
            run(["chpasswd"], input=f"{name}:{passwords[name]}\n", text=True)
            write(settings.passwords, "".join(f"{user} {word}\n" for user, word in passwords.items()), mode=0o600)
    for name in settings.users:
        if name not in created:
            say(f"{name}: an account that existed already, with its own password")


def ensure_course(settings):
    """The instructor's copy of the course, made once and then theirs: never overwritten. Root
    builds it from the repository in its private folder and records its configuration and helpers
    as reviewed there (they are the repository's); the instructor's side writes it into place
    (hub/private_copy.py), so root writes nothing in the instructor's home."""
    course = settings.course_dir()
    if os.path.lexists(course):
        return course
    account = instructor_account(settings)
    say(f"copying the course for {settings.instructor} into {course}")
    try:
        with private_copy.PrivateCopy(settings.private, course) as copy:
            build = copy.folder / "new-course"
            shutil.rmtree(build, ignore_errors=True)
            build.mkdir(mode=0o700)
            ignore = shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__", "*.pyc")
            for name in COURSE_FILES:
                source = REPO / name
                if source.is_dir():
                    shutil.copytree(source, build / name, ignore=ignore)
                else:
                    shutil.copy2(source, build / name)
            recorded = review(copy, ["--accept"], root=build, capture_output=True, text=True)
            if recorded.returncode != 0:
                fail(f"the course copy's configuration could not be recorded as reviewed:\n{recorded.stdout}{recorded.stderr}")
            written = private_copy.send_out(copy, account, create=True, parts=COURSE_FILES, source=build)
            shutil.rmtree(build)
    except private_copy.TransferRefused as refusal:
        fail(f"the course copy was not made: {refusal}")
    if written["refused"]:
        fail("the course copy is incomplete:\n  " + "\n  ".join(written["refused"]))
    return course


def instructor_account(settings):
    return private_copy.Account(pwd.getpwnam(settings.instructor), settings.python)


def grading_python():
    python = REPO / ".venv" / "bin" / "python"
    if not os.access(python, os.X_OK):
        fail(f"{python} is missing: make builds it (make hub, make hub-autograde)")
    return python


def review(copy, options, root=None, **kwargs):
    """python -m grading.grader.config_review on a copy of the course (the private copy, or the one
    make hub builds), keyed to the course: its record, its paths."""
    root = root or copy.copy
    env = {**os.environ, **copy.environment(), "GRADING_COURSE_ROOT": str(root)}
    return subprocess.run([str(grading_python()), "-m", "grading.grader.config_review", "--root", str(root), *options],
                          cwd=REPO, env=env, **kwargs)


def world_readable_repo():
    """Whether every account, a student's too, can read the repository (source/ holds the
    solutions, grading/ the hidden tests): every folder above it lets others through, and it
    lets them read."""
    folders = [*REPO.parents, REPO]
    return all(folder.stat().st_mode & 0o001 for folder in folders) and bool(REPO.stat().st_mode & 0o004)


# ---------------------------------------------------------------- commands

def start(settings):
    if os.geteuid() != 0:
        fail("make hub runs as root: it creates Linux accounts and the hub spawns servers as them")
    if running_hub(settings):
        say(f"already running at {settings.url()} (pid {read_pid(settings.pid_file)})")
        print_access(settings)
        return
    if port_taken(settings.port):
        fail(f"port {settings.port} on 127.0.0.1 is taken: make hub HUB_PORT=<another port>, or stop what "
             "holds it (a hub left running: make hub-stop, with its HUB_HOME)")
    begun = time.monotonic()
    ensure_home(settings)
    ensure_proxy()
    ensure_venv(settings)
    ensure_users(settings)
    course = ensure_course(settings)
    ensure_instructor_lib(settings)
    ensure_state(settings, course)
    node = shutil.which("node") or fail("node is missing: the proxy runs on Node.js")
    hub_settings = {
        "home": str(settings.home), "port": settings.port, "hub_port": free_port(),
        "proxy_api_port": free_port(), "venv": str(settings.venv), "private": str(settings.private),
        "config": str(settings.config), "instructor": settings.instructor, "students": settings.students,
        "course": str(course), "proxy_command": [node, str(proxy_script())],
        "instructor_lib": str(settings.instructor_lib),
    }
    if os.environ.get("GRADE_ON_SUBMIT") == "1":   # the grading service (hub/grade_on_submit.py), as root
        hub_settings["grade_on_submit"] = [str(grading_python()), str(HUB_DIR / "grade_on_submit.py")]
        hub_settings["grade_on_submit_options"] = grade_on_submit_options(os.environ)
        hub_settings["grade_on_submit_port"] = free_port()   # its page for instructors
    write(settings.private / "settings.json", json.dumps(hub_settings, indent=1) + "\n", mode=0o600)
    env = {
        "PATH": f"{settings.venv / 'bin'}:{CLEAN_PATH}", "LANG": "C.UTF-8", "HOME": "/root",
        "GC_HUB_HOME": str(settings.home), "GC_HUB_SETTINGS": str(settings.private / "settings.json"),
    }
    env.update({key: value for key, value in os.environ.items() if key.startswith("OPENBLAS_")})
    log = os.open(settings.log_file, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    process = subprocess.Popen(
        [str(settings.venv / "bin" / "jupyterhub"), "-f", str(HUB_DIR / "jupyterhub_config.py")],
        cwd=settings.private, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
        start_new_session=True)   # its own session: it outlives make, and no terminal signal reaches it
    os.close(log)
    write(settings.pid_file, f"{process.pid}\n")
    up, deadline = False, time.monotonic() + 90
    while not up and time.monotonic() < deadline and process.poll() is None:
        try:
            with LOOPBACK.open(settings.url() + "hub/health", timeout=2) as response:
                up = response.status == 200
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.3)
    if not up:
        tail = "\n".join(settings.log_file.read_text(errors="replace").splitlines()[-25:])
        stop(settings, quiet=True)
        fail(f"JupyterHub did not start; the end of {settings.log_file}:\n{tail}")
    say(f"JupyterHub {settings.url()} is up (pid {process.pid}, {time.monotonic() - begun:.1f} s); "
        f"log {settings.log_file}")
    if "grade_on_submit" in hub_settings:
        say("grading on submit: each submission is graded as it arrives and its feedback released "
            "(make hub-queue shows the queue)")
    print_access(settings)
    if world_readable_repo():
        say(f"warning: {REPO} can be read by every account, the students' too (solutions, hidden "
            "tests): keep the repository where they cannot, e.g. chmod o-rx on a folder above it")


def grade_on_submit_options(env):
    """The grading options of the service (make hub GRADE_ON_SUBMIT=1 WORKERS=2 SCHEDULER=tcp://...)."""
    options = []
    if env.get("WORKERS"):
        options += ["--workers", str(int(env["WORKERS"]))]
    if env.get("SCHEDULER"):
        options += ["--scheduler", env["SCHEDULER"]]
    return options


def queue(settings):
    """make hub-queue: the grading service's queue, as it is on disk."""
    import submit_queue   # beside this script
    folder = settings.private / "grade-on-submit" / "queue"
    if not folder.is_dir():
        fail(f"no queue in {folder.parent}: the hub never graded on submit here (make hub GRADE_ON_SUBMIT=1)")
    print(submit_queue.describe(submit_queue.Queue(folder)))


def print_access(settings):
    say(f"instructor {settings.instructor} (course: {settings.course_dir()}), "
        f"students {' '.join(settings.students)}")
    say(f"passwords (root only): {settings.passwords}")
    say(f"release as the instructor: cd {settings.course_dir()} && "
        f"runuser -u {settings.instructor} -- {settings.home / 'bin' / 'nbgrader'} release_assignment {ASSIGNMENT}")


def stop(settings, quiet=False):
    """SIGTERM to the hub: it stops every server it spawned and its proxy (JupyterHub's
    cleanup_servers and cleanup_proxy). Whatever of this hub is still there after that (found by
    GC_HUB_HOME in its environment) is ended by its pid."""
    pid = running_hub(settings)
    if pid:
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 30
        while alive(pid) and time.monotonic() < deadline:
            time.sleep(0.2)
    leftovers = hub_processes(settings)
    for number in (signal.SIGTERM, signal.SIGKILL):
        for process in leftovers:
            try:
                os.kill(process, number)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            leftovers = [process for process in leftovers if alive(process)]
            if not leftovers:
                break
            time.sleep(0.2)
    if leftovers:
        fail(f"processes of the hub would not end: {leftovers}")
    settings.pid_file.unlink(missing_ok=True)
    if not quiet:
        say("stopped" if pid else "not running")


def remove_users(settings):
    """userdel -r for the accounts `start` created (those in private/created-users), no other."""
    if running_hub(settings) or hub_processes(settings):
        fail("the hub is running: make hub-stop first")
    created = [row[0] for row in read_table(settings.created)]
    for name in created:
        try:
            pwd.getpwnam(name)
        except KeyError:
            continue
        run(["userdel", "--remove", name], stderr=subprocess.DEVNULL)
        say(f"removed the account {name} and its home")
    settings.created.unlink(missing_ok=True)
    settings.passwords.unlink(missing_ok=True)


def option_value(options, name):
    """The value of `name` among command-line options (`--name value` or `--name=value`), or None."""
    for number, option in enumerate(options):
        if option == name and number + 1 < len(options):
            return options[number + 1]
        if option.startswith(name + "="):
            return option.split("=", 1)[1]
    return None


def autograde(settings, options):
    """The course's own grading (sandboxed, verified) of the instructor's course copy, as root in a
    private copy of it (hub/private_copy.py): the course's inputs come in, read as the instructor;
    root grades with this checkout's .venv and grading package, the course's own helpers and
    configuration once reviewed; the results go out, written as the instructor. Root never reads
    or writes in the course, which the instructor's account can fill with links."""
    course = settings.course_dir()
    python = grading_python()
    if not os.path.lexists(course):
        fail(f"no course copy at {course}: make hub first")
    db_url = option_value(options, "--db-url")
    if db_url and db_url.startswith("sqlite"):
        fail("DB=sqlite:... is not for the hub: make hub-autograde grades the course copy's own gradebook.db "
             "(or a PostgreSQL gradebook, DB=postgresql://...)")
    parts = private_copy.INPUTS if db_url is None else [part for part in private_copy.INPUTS
                                                         if part != private_copy.GRADEBOOK]
    account = instructor_account(settings)
    try:
        with private_copy.PrivateCopy(settings.private, course) as copy:
            came = private_copy.bring_in(copy, account, parts)
            for note in came.notes:
                say(note)
            for left_out in came.left_out:
                say(f"left out of grading: {left_out}")
            for student, why in came.held_out.items():
                say(f"not graded this time: {private_copy.plain(student)} ({private_copy.plain(why)}); "
                    "their grade, if any, stays as it was")
            if db_url is None:
                options = [*options, "--db-url", f"sqlite:///{copy.copy / private_copy.GRADEBOOK}"]
            status = grade(copy, python, options)
            if status not in (0, 1):
                say(f"nothing was written into {course}")
                return status
            written = private_copy.send_out(copy, account, {"expected": came.gradebook} if db_url is None else None)
    except private_copy.TransferRefused as refusal:
        fail(f"{refusal}")
    return tell_written(written, course, settings.instructor, status)


def grade(copy, python, options):
    """python -m grading.grader.autograde on the private copy; what it prints names the course's
    paths, not the private copy's. Returns its exit status."""
    env = {**os.environ, **copy.environment(), "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen([str(python), "-m", "grading.grader.autograde", "--root", str(copy.copy), *options],
                               cwd=REPO, env=env, stdout=subprocess.PIPE)
    private, course = str(copy.copy).encode(), str(copy.course).encode()
    try:
        for line in process.stdout:
            sys.stdout.buffer.write(line.replace(private, course))
            sys.stdout.buffer.flush()
    except KeyboardInterrupt:
        process.wait()
        return 130
    return process.wait()


def tell_written(written, course, instructor, status):
    """Say what the instructor's side wrote into the course; the exit status of make hub-autograde."""
    for note in written["notes"]:
        say(note)
    if written["gradebook"] == "changed":
        say(f"the gradebook in {course} changed while grading (the formgrader saved a grade or a comment, say): "
            "nothing was written into the course, which stays as it was, with that change. Run make "
            "hub-autograde again once nobody is saving in the formgrader: it grades again what this run "
            "graded, and takes the rest from its ledger.")
        return 1
    say(f"wrote the results into {course} as {instructor}: {written['written']} files written, "
        f"{written['unchanged']} unchanged" + (f"; the gradebook {written['gradebook']}" if written["gradebook"] else ""))
    for refused in written["refused"]:
        say(f"not written: {refused}")
    return 1 if written["refused"] else status


def review_config(settings, options):
    """make hub-review-config [ACCEPT=1]: the course copy's configuration and helpers, as they are
    now (brought in as the instructor), against those last reviewed; accepted when asked."""
    if any(option != "--accept" for option in options):
        fail("usage: hubctl.py review-config [--accept]")
    course = settings.course_dir()
    if not os.path.lexists(course):
        fail(f"no course copy at {course}: make hub first")
    try:
        with private_copy.PrivateCopy(settings.private, course) as copy:
            private_copy.bring_in(copy, instructor_account(settings), private_copy.REVIEWED_INPUTS)
            return review(copy, options).returncode
    except private_copy.TransferRefused as refusal:
        fail(f"{refusal}")


def release_feedback(settings, options):
    """grading.lms.release_feedback as the instructor, from the instructors' copy of the grading
    package, with the hub's exchange: the files it leaves there are the instructor's, as when
    the formgrader releases feedback."""
    if not settings.instructor_lib.is_dir():
        fail("the hub was never started here: make hub first")
    course = settings.course_dir()
    released = subprocess.run(["runuser", "-u", settings.instructor, "--", str(settings.venv / "bin" / "python"),
                               "-m", "grading.lms.release_feedback", "--root", str(course), *options], cwd=course,
                              env=instructor_environment(settings))
    return released.returncode


def instructor_environment(settings):
    """The environment of the grading package's commands run as the instructor, as their own
    server runs them: the instructors' copy of the package, the hub's configuration, the course."""
    return {"PATH": f"{settings.venv / 'bin'}:{CLEAN_PATH}", "LANG": "C.UTF-8",
            "HOME": pwd.getpwnam(settings.instructor).pw_dir, "PYTHONPATH": str(settings.instructor_lib),
            "GRADING_COURSE_ROOT": str(settings.course_dir()),
            "JUPYTER_CONFIG_PATH": os.pathsep.join(str(settings.config / part) for part in ("instructors", "common"))}


def main(argv):
    commands = {"start": start, "stop": stop, "remove-users": remove_users, "venv": ensure_venv, "queue": queue}
    with_options = {"autograde": autograde, "release-feedback": release_feedback, "review-config": review_config}
    if len(argv) < 2 or argv[1] not in {**commands, **with_options} or (argv[1] in commands and len(argv) != 2):
        fail(f"usage: {argv[0]} {'|'.join([*commands, *with_options])}")
    if os.geteuid() != 0:
        fail("run as root (make hub / make hub-stop)")
    if argv[1] in with_options:
        sys.exit(with_options[argv[1]](Settings(), argv[2:]))
    commands[argv[1]](Settings())


if __name__ == "__main__":
    main(sys.argv)
