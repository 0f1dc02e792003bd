"""One student's part of the gradebook, as a gradebook of its own: what nbgrader's sandboxed steps see.

nbgrader's autograde and feedback need a gradebook: the assignment (its notebooks and cells) to
restore test cells and to know the points, and the student's submission to record scores in or
to show them. Under `make autograde` they run in a sandbox (grading.sandboxing.nbgrader_step) that must not
reach the course's gradebook, which holds every student's grades. So each gets a slice:

    export(db_url, course_id, "gradient_checking", "ada", "scratch/gradebook.db")
    ... nbgrader autograde in the sandbox, on scratch/gradebook.db ...
    import_(db_url, "gradient_checking", "ada", "scratch/gradebook.db")

export copies into a new SQLite file the course row, the assignment with its notebooks and cells
(the source of solution cells blanked: nbgrader never needs it there), and this student's rows.
import_ copies this student's rows back, by id, into the course's gradebook (SQLite or
PostgreSQL). The columns an instructor sets (manual scores and comments, extra credit, flags,
the student's name and email) and those grading.grader.deadlines sets (the submission time and the
late penalty) keep the course's values: the step has no say over them, and the instructor may
have set them while it ran. Nothing else is read back, and a row the slice carries under the id
of another student's row is dropped: the slice is a file the step wrote.
"""
import atexit
import shutil
import tempfile
from pathlib import Path

ASSIGNMENT_TABLES = ("course", "assignment", "notebook", "base_cell", "grade_cells", "solution_cells",
                     "task_cells", "source_cell")
STUDENT_TABLES = ("student", "submitted_assignment", "submitted_notebook", "grade", "comment")
INSTRUCTOR_COLUMNS = {"student": {"first_name", "last_name", "email", "lms_user_id"},
                      "submitted_assignment": {"timestamp"},   # grading.grader.deadlines sets these two
                      "submitted_notebook": {"flagged", "late_submission_penalty"},
                      "grade": {"manual_score", "extra_credit"},
                      "comment": {"manual_comment"}}

_engines = {}
_template = {}


def _engine(url):
    """One SQLAlchemy engine per gradebook URL and process (an engine keeps its compiled statements)."""
    from sqlalchemy import create_engine
    from sqlalchemy.pool import NullPool

    if url not in _engines:
        # SQLite files (slices come and go): no pooled connection outlives its file.
        options = {"poolclass": NullPool} if url.startswith("sqlite") else {}
        _engines[url] = create_engine(url, future=True, **options)
    return _engines[url]


def _tables():
    from nbgrader.api import Base

    return Base.metadata.tables


def empty_gradebook(path, alembic_version):
    """Write a gradebook with nbgrader's tables, stamped with `alembic_version`, and nothing in
    them to `path` (nbgrader would run `alembic heads` to learn the version: we take the course's)."""
    from nbgrader.api import Base
    from sqlalchemy import text

    if alembic_version not in _template:
        folder = Path(tempfile.mkdtemp(prefix="gc-gradebook-template-"))
        atexit.register(shutil.rmtree, folder, True)
        template = folder / "gradebook.db"
        engine = _engine(f"sqlite:///{template}")
        Base.metadata.create_all(bind=engine)
        with engine.begin() as connection:
            connection.execute(text("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)"))
            connection.execute(text("INSERT INTO alembic_version (version_num) VALUES (:v)"), {"v": alembic_version})
        _template[alembic_version] = template
    shutil.copyfile(_template[alembic_version], path)


def _rows(connection, table, column, values):
    from sqlalchemy import select

    if not values:
        return []
    return [dict(row._mapping) for row in connection.execute(select(table).where(table.c[column].in_(values)))]


def _ids(rows):
    return [row["id"] for row in rows]


def read(connection, course_id, assignment, student):
    """{table name: [row dicts]} of the assignment and of the student's submission of it."""
    tables = _tables()
    found = {"course": _rows(connection, tables["course"], "id", [course_id])}
    found["assignment"] = _rows(connection, tables["assignment"], "name", [assignment])
    notebooks = found["notebook"] = _rows(connection, tables["notebook"], "assignment_id", _ids(found["assignment"]))
    cells = found["base_cell"] = _rows(connection, tables["base_cell"], "notebook_id", _ids(notebooks))
    for name in ("grade_cells", "solution_cells", "task_cells"):
        found[name] = _rows(connection, tables[name], "id", _ids(cells))
    found["source_cell"] = _rows(connection, tables["source_cell"], "notebook_id", _ids(notebooks))
    found.update(read_student(connection, found["assignment"], student))
    return found


def read_student(connection, assignments, student):
    """{table name: [row dicts]} of the student and their submission of `assignments`."""
    from sqlalchemy import select

    tables = _tables()
    found = {"student": _rows(connection, tables["student"], "id", [student])}
    submitted = tables["submitted_assignment"]
    found["submitted_assignment"] = [
        dict(row._mapping) for row in connection.execute(
            select(submitted).where(submitted.c.student_id == student,
                                    submitted.c.assignment_id.in_(_ids(assignments) or [""])))]
    notebooks = found["submitted_notebook"] = _rows(connection, tables["submitted_notebook"], "assignment_id",
                                                    _ids(found["submitted_assignment"]))
    found["grade"] = _rows(connection, tables["grade"], "notebook_id", _ids(notebooks))
    found["comment"] = _rows(connection, tables["comment"], "notebook_id", _ids(notebooks))
    return found


def export(db_url, course_id, assignment, student, path):
    """Write the slice of the course gradebook at `db_url` for `student` to a new SQLite file `path`."""
    from sqlalchemy import insert

    from sqlalchemy import text

    tables = _tables()
    with _engine(db_url).connect() as source:
        rows = read(source, course_id, assignment, student)
        version = source.execute(text("SELECT version_num FROM alembic_version")).scalar_one()
    if not rows["assignment"]:
        raise LookupError(f"the gradebook {db_url} has no assignment {assignment!r}")
    solutions = {cell["id"] for cell in rows["solution_cells"]}
    solution_names = {(cell["name"], cell["notebook_id"]) for cell in rows["base_cell"] if cell["id"] in solutions}
    for cell in rows["source_cell"]:
        if (cell["name"], cell["notebook_id"]) in solution_names and not cell["locked"]:
            cell["source"] = ""
    empty_gradebook(path, version)
    with _engine(f"sqlite:///{path}").begin() as slice_:
        for name in ASSIGNMENT_TABLES + STUDENT_TABLES:
            if rows[name]:
                slice_.execute(insert(tables[name]), rows[name])


def import_(db_url, assignment, student, path):
    """Copy `student`'s rows from the slice at `path` into the course gradebook at `db_url`."""
    from sqlalchemy import insert, select, update

    tables = _tables()
    with _engine(f"sqlite:///{path}").connect() as slice_:
        assignments = _rows(slice_, tables["assignment"], "name", [assignment])
        rows = read_student(slice_, assignments, student)
    with _engine(db_url).begin() as course:
        # The step wrote the slice: a row under the id of another student's row is a forgery, and
        # is dropped; only rows that are this student's in the course are updated.
        course_assignments = _rows(course, tables["assignment"], "name", [assignment])
        own = {name: set(_ids(found)) for name, found in read_student(course, course_assignments, student).items()}
        for name in STUDENT_TABLES:
            table = tables[name]
            present = {row.id for row in course.execute(select(table.c.id).where(table.c.id.in_(_ids(rows[name]))))} \
                if rows[name] else set()
            kept = INSTRUCTOR_COLUMNS.get(name, set())
            for row in rows[name]:
                if row["id"] in present and row["id"] not in own[name]:
                    continue
                if row["id"] in present:
                    values = {key: value for key, value in row.items() if key != "id" and key not in kept}
                    if values:
                        course.execute(update(table).where(table.c.id == row["id"]).values(**values))
                else:
                    course.execute(insert(table).values(**row))
