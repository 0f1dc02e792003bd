"""nbgrader's step inside its sandbox: one job per line of stdin, nbgrader's outcome per line of stdout.

    python -I -m grading.sandboxing.step_server serve

The host side (grading.sandboxing.nbgrader_step) starts this in the step's sandbox, where the course
directory is the scratch copy of one student's part of it, and writes one job per line:

    {"op": "autograde" | "feedback", "student", "assignment", "sockets": the sealed folder,
     "deadline_seconds", "cell_seconds", "output_bytes", "message_bytes",
     "absent": {notebook: why it has no graded copy}}

Each job runs nbgrader's own API with the course's configuration (the scratch copy of
nbgrader_config.py), its Execute bounded (grading.sandboxing.bounded_execute) and its kernels
asked of the grader's kernel service through the sealed folder (grading.sandboxing.warm_kernels,
grading.sandboxing.sandbox_kernel). The answer is nbgrader's outcome, {"success", "error", "log"},
its log cut to LOG_BYTES; nbgrader's own failure is an outcome too, never a hang. nbgrader and
what a job needs are imported once, before the first job (PRELOAD).
"""
import json
import os
import sys
import time

from grading.course_directory import Course

KERNEL_PREFIX = "kernel"                 # the step's KernelManager.ip is <sealed folder>/kernel
RUNTIME = "/tmp/runtime"                 # Jupyter's runtime folder in the step's sandbox (its private /tmp)
LOG_BYTES = 64 * 2 ** 10                 # of nbgrader's log, kept per job
PRELOAD = ("nbgrader.apps.api", "nbgrader.apps.autogradeapp", "nbgrader.apps.generatefeedbackapp",
           "nbconvert.exporters.html", "nbclient", "jupyter_client", "sqlalchemy",
           "grading.sandboxing.bounded_execute", "grading.sandboxing.warm_kernels", "grading.plugins.late_plugin",
           "grading.plugins.feedback_page", "grading.plugins.page_math", "latex2mathml.converter")


def _outcome(outcome):
    """nbgrader's outcome, with its log cut to LOG_BYTES."""
    return {"success": bool(outcome.get("success")), "error": str(outcome.get("error") or "")[-LOG_BYTES:],
            "log": str(outcome.get("log") or "")[-LOG_BYTES:]}


def job_config(job):
    """The course's configuration (the scratch copy of nbgrader_config.py) for one job."""
    from nbgrader.preprocessors import Execute
    from nbgrader.converters.autograde import Autograde

    from grading.sandboxing.bounded_execute import BoundedExecute

    course = Course(os.getcwd())   # the scratch copy, at the course's path: its folders by the course's names
    config = course.config
    config.CourseDirectory.root = str(course.root)
    config.CourseDirectory.db_url = course.sqlite_gradebook
    config.Execute.kernel_manager_class = "grading.sandboxing.warm_kernels.PromptKernelManager"
    config.KernelManager.ip = os.path.join(job["sockets"], KERNEL_PREFIX)
    config.KernelManager.transport = "ipc"
    config.PromptKernelManager.max_message_bytes = int(job["message_bytes"])
    stock = config.Autograde.get("autograde_preprocessors") or \
        Autograde.class_traits()["autograde_preprocessors"].default()
    config.Autograde.autograde_preprocessors = [BoundedExecute if p is Execute else p for p in stock]
    config.BoundedExecute.deadline = time.time() + float(job["deadline_seconds"])
    config.BoundedExecute.output_bytes = int(job["output_bytes"])
    config.AssignmentSummary.absent = dict(job.get("absent") or {})
    if job.get("cell_seconds"):
        config.Execute.timeout = int(job["cell_seconds"])
    return config


def run_job(job):
    """nbgrader's outcome of one job."""
    from nbgrader.apps.api import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory

    config = job_config(job)
    api = NbGraderAPI(coursedir=CourseDirectory(config=config), config=config)
    if job["op"] == "autograde":
        return _outcome(api.autograde(job["assignment"], job["student"], force=True, create=True))
    if job["op"] == "feedback":
        return _outcome(api.generate_feedback(job["assignment"], job["student"], force=True))
    return {"success": False, "error": f"unknown job {job['op']!r}", "log": ""}


def answer(job):
    """nbgrader's outcome of one job; a failure of nbgrader itself becomes an outcome too."""
    try:
        return run_job(job)
    except Exception as error:   # nbgrader's own failure: say so, never hang the grader
        import traceback

        return {"success": False, "error": f"{type(error).__name__}: {error}", "log": traceback.format_exc()[-LOG_BYTES:]}


def serve():
    """Import nbgrader once, then run one job per line of stdin, answering on stdout."""
    import importlib
    import warnings

    channel = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)                  # nothing but the answers on the channel
    from sqlalchemy.exc import SAWarning

    warnings.filterwarnings("ignore", category=SAWarning)   # nbgrader 0.9.6's harmless session warnings
    os.makedirs(os.environ.get("JUPYTER_RUNTIME_DIR", RUNTIME), exist_ok=True)
    for name in PRELOAD:
        importlib.import_module(name)
    for line in sys.stdin:
        channel.write(json.dumps(answer(json.loads(line))) + "\n")
        channel.flush()


if __name__ == "__main__":
    if sys.argv[1:] == ["serve"]:
        serve()
    else:
        sys.exit(__doc__)
