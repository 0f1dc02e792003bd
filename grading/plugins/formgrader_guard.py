"""A Jupyter server extension: the formgrader's pages show what they are given, and a link cannot
point the formgrader at another folder's configuration.

- nbgrader's formgrader renders its pages with a Jinja environment made without autoescaping,
  and some of its pages write a value from the address into a script (`var assignment_id =
  "..."`). A link that a student sends the instructor, with a quote and script in the
  assignment's or the student's place, then runs that script in the instructor's Jupyter session,
  which can read and write the whole course. With autoescaping on, such a value is inert text;
  the pages look the same for every ordinary value.
- `/formgrader?path=FOLDER` makes the formgrader load FOLDER's nbgrader_config.py, which is
  Python, in the server's process: a plain GET, so a link or an image in any page the instructor
  opens is enough, and a student's own folder can hold such a file. The guard refuses the
  request with a sentence; the course's formgrader is the one whose root the server serves.
- The formgrader's Autograde button runs the stock `nbgrader autograde` in the server: the hidden
  tests in the student's kernel, nothing verified, and on failure it deletes the student's graded
  folder. The guard answers it with a sentence instead: grading goes through `make autograde`.
- Its "release all feedback" button would release flagged submissions' feedback too; the guard
  runs `make release-feedback`'s rule instead (grading.lms.exchange_feedback).
- Its scores are before the late penalty, every other view's after it: the guard loads
  grading.plugins.formgrader_totals, which makes them the course's one total.

`make` enables it for the course's environment (jupyter-config/grading.json).
"""
import functools
import json

from tornado import web
from tornado.ioloop import IOLoop

from grading.assignment import ASSIGNMENT
from grading.plugins import formgrader_totals

SETTING = "nbgrader_jinja2_env"   # where nbgrader's formgrader keeps its Jinja environment
OTHER_COURSE = ("This formgrader serves one course: opening another folder's configuration "
                "(/formgrader?path=...) would run that folder's nbgrader_config.py in this server.")


def _jupyter_server_extension_points():
    return [{"module": "grading.plugins.formgrader_guard"}]


def escape_formgrader_pages(settings, log):
    environment = settings.get(SETTING)
    if environment is None:
        log.warning("formgrader_guard: the formgrader is not loaded; nothing to guard")
        return
    environment.autoescape = True
    log.info("formgrader_guard: the formgrader's pages escape the values they show")


def refuse_other_courses(handler_class):
    """Wrap the formgrader's entry page so that a request naming a folder is refused (403)."""
    get = handler_class.get
    if getattr(get, "guarded", False):
        return

    @functools.wraps(get)
    def guarded_get(self, *args, **kwargs):
        if self.get_argument("path", ""):
            raise web.HTTPError(403, OTHER_COURSE)
        return get(self, *args, **kwargs)

    guarded_get.guarded = True
    handler_class.get = guarded_get


# The formgrader serves either the repository's course (its Makefile beside it) or the instructor's
# course copy on the project's JupyterHub, which has no Makefile: root grades it from the repository.
AUTOGRADE_ELSEWHERE = (
    "This course does not grade from the formgrader: its Autograde button would run the stock "
    "nbgrader autograde, with the hidden tests in the student's own kernel and no verification, "
    "and replace the verified grade. Grade with the course's own pipeline instead. In the "
    "repository's course: make autograde FORCE=1, in a terminal in the course folder. On the "
    "project's JupyterHub, whose course copy has no Makefile: make hub-autograde FORCE=1, run by "
    "root in the repository that runs the hub (docs/hub.md).")


def refuse_stock_autograde(handler_class):
    """Make the formgrader's Autograde action answer, in the form its page shows, that grading
    happens in `make autograde`; nothing is graded or removed."""
    if getattr(handler_class.post, "guarded", False):
        return

    @web.authenticated
    def refused_post(self, assignment_id, student_id):
        self.write(json.dumps({"success": False, "log": "", "error": AUTOGRADE_ELSEWHERE}))

    refused_post.guarded = True
    handler_class.post = refused_post


def hold_back_flagged_feedback(handler_class):
    """Make the formgrader's "release all feedback" follow `make release-feedback`: the feedback of
    submissions that verification flagged waits until the instructor has reviewed them (and
    releases it, per student in the formgrader or with RELEASE_FLAGGED=1)."""
    if getattr(handler_class.post, "guarded", False):
        return
    stock = handler_class.post

    @web.authenticated
    def guarded_post(self, assignment_id):
        if assignment_id != ASSIGNMENT:
            return stock(self, assignment_id)
        from grading.lms.exchange_feedback import release  # on first use: it loads the course's grading modules

        status, lines = release(self.api.coursedir.root)
        log = "\n".join(lines)
        self.write(json.dumps({"success": status == 0, "log": log, "error": "" if status == 0 else log}))

    guarded_post.guarded = True
    handler_class.post = guarded_post


def guard_pages(settings, log):
    """What the formgrader's Jinja environment needs: autoescaping, and the late penalty shown."""
    escape_formgrader_pages(settings, log)
    if settings.get(SETTING) is not None:
        formgrader_totals.show_penalties(settings[SETTING], log)


def _load_jupyter_server_extension(serverapp):
    from nbgrader.apps.api import NbGraderAPI
    from nbgrader.server_extensions.formgrader.apihandlers import AutogradeHandler, ReleaseAllFeedbackHandler
    from nbgrader.server_extensions.formgrader.handlers import FormgraderHandler

    refuse_other_courses(FormgraderHandler)
    refuse_stock_autograde(AutogradeHandler)
    hold_back_flagged_feedback(ReleaseAllFeedbackHandler)
    formgrader_totals.show_totals_after_penalty(NbGraderAPI)
    # Extensions load in the order of their names, so the formgrader's environment does not exist
    # yet; the loop runs this once every extension is loaded, before the first request.
    IOLoop.current().add_callback(guard_pages, serverapp.web_app.settings, serverapp.log)
