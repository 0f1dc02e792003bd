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
from grading.course_directory import Course


def load_config(course, db_url):
    """The course's nbgrader configuration for a grading run: submissions read from the staging area."""
    course = Course.of(course)
    config = course.config_copy()
    config.CourseDirectory.root = str(course.root)
    config.CourseDirectory.submitted_directory = str(course.relative(course.staging))
    config.CourseDirectory.db_url = db_url
    config.Execute.kernel_manager_class = "grading.sandboxing.warm_kernels.PromptKernelManager"
    return config


def configured_url(course):
    """The db_url that the course's nbgrader_config.py sets (a Course, or its path)."""
    return Course.of(course).db_url


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


def prepare(course, db_url):
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

    course = Course.of(course)
    config = load_config(course, db_url)
    # nbgrader writes a release as it records the assignment: into the grader's state, not release/.
    config.CourseDirectory.release_directory = str(course.relative(course.state / "release-for-gradebook"))
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
