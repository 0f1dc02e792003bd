"""JupyterHub's configuration for the gradient-checking course (make hub; docs/hub.md).

hub/hubctl.py writes this run's settings (ports, folders, accounts) to <HUB_HOME>/private/
settings.json and starts JupyterHub with this file. Everything here is JupyterHub's stock parts:
PAM logins against the Linux accounts, each user's server a local process under their own uid,
configurable-http-proxy from hub/node_modules in front, all on 127.0.0.1.
"""
import json
import os

c = get_config()  # noqa: F821 (provided by JupyterHub when it loads this file)

with open(os.environ["GC_HUB_SETTINGS"]) as settings_file:
    S = json.load(settings_file)
PRIVATE = S["private"]
CONFIG = S["config"]
INSTRUCTORS = {S["instructor"]}
STUDENTS = set(S["students"])

# Loopback only: the public port of the proxy, the hub's own API and the proxy's API.
c.JupyterHub.bind_url = f"http://127.0.0.1:{S['port']}"
c.JupyterHub.hub_bind_url = f"http://127.0.0.1:{S['hub_port']}"
c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{S['proxy_api_port']}"
c.ConfigurableHTTPProxy.command = S["proxy_command"]   # node + hub/node_modules' configurable-http-proxy
c.ConfigurableHTTPProxy.pid_file = os.path.join(PRIVATE, "proxy.pid")
c.JupyterHub.db_url = "sqlite:///" + os.path.join(PRIVATE, "jupyterhub.sqlite")
c.JupyterHub.cookie_secret_file = os.path.join(PRIVATE, "jupyterhub_cookie_secret")
# On SIGTERM (make hub-stop) the hub stops every server it spawned, and its proxy.
c.JupyterHub.cleanup_servers = True
c.JupyterHub.cleanup_proxy = True

# Who may log in: the course's accounts, with their Linux passwords (PAM's "login" service).
c.JupyterHub.authenticator_class = "pam"
c.Authenticator.allowed_users = INSTRUCTORS | STUDENTS
c.JupyterHub.load_groups = {
    "instructors": {"users": sorted(INSTRUCTORS)},
    "students": {"users": sorted(STUDENTS)},
}

# Each user's JupyterLab runs as that user, from the hub's venv (which every user can run).
c.JupyterHub.spawner_class = "localprocess"
c.Spawner.cmd = [os.path.join(S["venv"], "bin", "jupyterhub-singleuser")]
c.Spawner.default_url = "/lab"
c.Spawner.start_timeout = 120
c.Spawner.http_timeout = 90
# Older OpenBLAS builds need these on some processors (set by the machine, when set at all).
c.Spawner.env_keep = ["PATH", "LANG", "LC_ALL", "JUPYTERHUB_SINGLEUSER_APP", "OPENBLAS_CORETYPE",
                      "OPENBLAS_L2_SIZE"]


def config_path(spawner):
    """The hub's Jupyter configuration folders for this user: the role's own first (a student's
    turns the formgrader off), then what everyone reads (the course id and the exchange)."""
    role = "instructors" if spawner.user.name in INSTRUCTORS else "students"
    return os.pathsep.join([os.path.join(CONFIG, role), os.path.join(CONFIG, "common")])


def for_instructors(value):
    """An environment value that only the instructors' servers get ("" for everyone else)."""
    return lambda spawner: value if spawner.user.name in INSTRUCTORS else ""


c.Spawner.environment = {
    "JUPYTER_CONFIG_PATH": config_path,
    # The formgrader's guard and the feedback release, from root's copy of the grading package
    # (hubctl.py ensure_instructor_lib), reading the helper modules of the instructor's course.
    "PYTHONPATH": for_instructors(S["instructor_lib"]),
    "GRADING_COURSE_ROOT": for_instructors(S["course"]),
    # Marks every process of this hub (servers, kernels, terminals): make hub-stop finds them by it.
    "GC_HUB_HOME": S["home"],
}


def pre_spawn_hook(spawner):
    """The instructor's server opens on the course copy, where the formgrader finds the course."""
    if spawner.user.name in INSTRUCTORS:
        spawner.notebook_dir = S["course"]


c.Spawner.pre_spawn_hook = pre_spawn_hook


# Grading on submit (make hub GRADE_ON_SUBMIT=1; hub/grade_on_submit.py): a service the hub starts
# as root, and starts again if it ends; it grades each submission as it arrives.
# Its queue is a page for instructors only (hub/queue_page.py): /services/grade-on-submit/.
if S.get("grade_on_submit"):
    c.JupyterHub.services = [{
        "name": "grade-on-submit",
        "url": f"http://127.0.0.1:{S['grade_on_submit_port']}",
        "oauth_no_confirm": True,
        "command": S["grade_on_submit"],
        "cwd": os.path.dirname(os.path.dirname(S["grade_on_submit"][1])),
        "environment": {"GC_HUB_HOME": S["home"], "GC_HUB_SETTINGS": os.environ["GC_HUB_SETTINGS"],
                        "PYTHONUNBUFFERED": "1", "HOME": "/root"},
    }]
    c.JupyterHub.load_roles = [{"name": "grade-on-submit-viewers", "groups": ["instructors"],
                                "scopes": ["access:services!service=grade-on-submit"]}]
