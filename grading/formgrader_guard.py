"""A Jupyter server extension: the formgrader's own pages escape every value they show.

nbgrader's formgrader renders its pages with a Jinja environment made without autoescaping, and
some of its pages write a value from the address into a script (`var assignment_id = "..."`).
A link that a student sends the instructor, with a quote and script in the assignment's or the
student's place, then runs that script in the instructor's Jupyter session, which can read and
write the whole course. Turned on here, autoescaping writes such a value as inert text; the
formgrader's pages look the same for every ordinary value.

`make` enables it for the course's environment:
    jupyter server extension enable --sys-prefix grading.formgrader_guard
"""
from tornado.ioloop import IOLoop

SETTING = "nbgrader_jinja2_env"   # where nbgrader's formgrader keeps its Jinja environment


def _jupyter_server_extension_points():
    return [{"module": "grading.formgrader_guard"}]


def escape_formgrader_pages(settings, log):
    environment = settings.get(SETTING)
    if environment is None:
        log.warning("formgrader_guard: the formgrader is not loaded; nothing to guard")
        return
    environment.autoescape = True
    log.info("formgrader_guard: the formgrader's pages escape the values they show")


def _load_jupyter_server_extension(serverapp):
    # Extensions load in the order of their names, so the formgrader's environment does not exist
    # yet; the loop runs this once every extension is loaded, before the first request.
    settings = serverapp.web_app.settings
    IOLoop.current().add_callback(escape_formgrader_pages, settings, serverapp.log)
