"""The gradebook that a grading run writes to: SQLite in the course folder, or PostgreSQL.

nbgrader takes any SQLAlchemy URL as `CourseDirectory.db_url`. nbgrader_config.py chooses
the course's gradebook (the environment variable GRADEBOOK_URL overrides it); `--db-url` on
the command line overrides both. Workers never create tables or the assignment: two workers
doing so at once would collide, so `prepare` does it once, before any worker starts.
"""
import os
import sys
from pathlib import Path

from grading.assignment import ASSIGNMENT

SCRATCH_RELEASE = ".grading/release-for-gradebook"   # where prepare() lets nbgrader write a release
STAGING = ".grading/staged"     # relative to the course root; nbgrader's submitted_directory


def course_config(root):
    """The traitlets Config of the course's nbgrader_config.py."""
    from traitlets.config.loader import PyFileConfigLoader

    return PyFileConfigLoader("nbgrader_config.py", path=str(root)).load_config()


def load_config(root, db_url):
    """The course's nbgrader configuration for a grading run: submissions read from the staging area."""
    config = course_config(root)
    config.CourseDirectory.root = str(root)
    config.CourseDirectory.submitted_directory = STAGING
    config.CourseDirectory.db_url = db_url
    config.Execute.kernel_manager_class = "grading.sandboxing.warm_kernels.PromptKernelManager"
    return config


def configured_url(root):
    """The db_url that the course's nbgrader_config.py sets."""
    return course_config(root).CourseDirectory.db_url


def configured_course_id(root):
    """The course_id that the course's nbgrader_config.py sets (nbgrader's gradebook checks it)."""
    return course_config(root).CourseDirectory.course_id


def alembic_on_path():
    """nbgrader runs `alembic` by name when it creates a gradebook: put this environment's bin first."""
    os.environ["PATH"] = str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", "")


def normalized(db_url):
    """db_url with a PostgreSQL URL written as SQLAlchemy reads it with the course's driver,
    psycopg 3 (requirements.txt): a `postgres://` scheme, or one that names another driver
    (`postgresql+psycopg2://`), becomes `postgresql+psycopg://`. A plain `postgresql://` means
    the same to SQLAlchemy already, so the stock commands take it as it is."""
    scheme, separator, rest = db_url.partition("://")
    if separator and (scheme == "postgres" or scheme.split("+")[0] == "postgresql"):
        return "postgresql+psycopg://" + rest
    return db_url


def is_sqlite(db_url):
    return db_url.startswith("sqlite:")


def has_assignment(db_url):
    from nbgrader.api import Gradebook, MissingEntry

    with Gradebook(db_url) as gradebook:
        try:
            return bool(gradebook.find_assignment(ASSIGNMENT).notebooks)
        except MissingEntry:
            return False


def prepare(root, db_url):
    """Make sure the gradebook has nbgrader's tables and the assignment with its cells.

    A new gradebook (a fresh PostgreSQL database, say) gets the assignment the way nbgrader
    records it, by generating the assignment from source/; the release goes to a scratch
    folder so that release/ is not touched.
    """
    alembic_on_path()
    if has_assignment(db_url):   # the first connection also creates nbgrader's tables
        return
    from nbgrader.apps.api import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory

    config = load_config(root, db_url)
    config.CourseDirectory.release_directory = SCRATCH_RELEASE
    api = NbGraderAPI(coursedir=CourseDirectory(config=config), config=config)
    outcome = api.generate_assignment(ASSIGNMENT, force=True, create=True)
    if not outcome["success"]:
        raise RuntimeError(f"could not put the assignment into the gradebook {db_url}:\n{outcome.get('error', '')}")


def graded_students(db_url):
    """Ids of the students who have a submission of the assignment in the gradebook."""
    from nbgrader.api import Gradebook, MissingEntry

    with Gradebook(db_url) as gradebook:
        try:
            return {submission.student.id for submission in gradebook.find_assignment(ASSIGNMENT).submissions}
        except MissingEntry:
            return set()
