"""The class roster: who the students are, under which id the course knows them, and which LMS id
names their files in a submissions download.

Three forms are read, told apart by their columns (matched without regard to case or spaces):

- the course's own CSV: `id`, `lms_id`, optionally `first_name`, `last_name`, `email`;
- Canvas's gradebook export (Grades → Export): `Student` ("Last, First"), `ID` (the Canvas user id
  that the submissions download puts in its file names), `SIS User ID`, `SIS Login ID`, `Section`,
  then one column per assignment. Its "Points Possible" row and rows without an ID are skipped;
- Moodle's grading worksheet (Assignment → View all submissions → Download grading worksheet):
  `Identifier` ("Participant 123456", the participant id of the download's folder names),
  `Full name`, `Email address`, and `ID number` where the site shows it.

The course id of an LMS row is the first of these that has the course's form (STUDENT_ID):
Canvas: the SIS Login ID (before its @ if it is an address), the SIS User ID, then "canvas-<ID>";
Moodle: the ID number, the address before its @, then "participant-<id>". Two rows that would get
the same id are an error that names both, never a silent merge.

Canvas's test student (the account of its Student View) is in Canvas's gradebook export, last,
as "Student, Test" without a SIS Login ID: no real account lacks a login. Such a row, and in any
form a row whose role column says StudentViewEnrollment, is left out and reported (LeftOut).
Moodle has no test student (an instructor's "Switch role to student" is no participant).

A cell longer than the csv module's field limit is refused with the line and column, and a file
the csv module cannot read with the line: never with csv's own error.
"""
import csv
import io
import re
import sys
import unicodedata
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

# The one form of student id the course accepts (after Unicode NFKC normalization): it is a folder
# name in submitted/, a pattern in nbgrader's globs, a row in every table, so only ASCII letters,
# digits, '.', '_' and '-', starting with a letter or digit. Confusable letters (a Cyrillic 'а'),
# control and invisible characters, spaces and path separators are refused by the form itself.
STUDENT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
STUDENT_ID_RULE = "1 to 64 ASCII letters, digits, '.', '_' or '-', starting with a letter or digit"
MAX_LMS_ID_DIGITS = 20
COURSE_COLUMNS = ("id", "lms_id")
OPTIONAL_COLUMNS = ("first_name", "last_name", "email")
CANVAS_COLUMNS = ("student", "id", "sis user id", "sis login id", "section")
MOODLE_COLUMNS = ("identifier", "full name", "email address")
# A roster cell is a name, an id or an address: the csv module's own bound (128 Ki characters)
# is already far more than any needs; a longer cell means the wrong file or a damaged one.
MAX_CELL_CHARS = csv.field_size_limit()
TEST_STUDENT_NAMES = ("student, test", "test student")   # Canvas's sortable and display names of it
TEST_STUDENT_ROLE = "studentviewenrollment"               # its enrollment type in Canvas's own exports
ROLE_COLUMNS = ("role", "course role", "type")


class IntakeError(Exception):
    """Input that cannot be used; the message says what is wrong."""


@dataclass(frozen=True)
class Student:
    id: str
    lms_id: str = ""        # digits without leading zeros; "" when the roster gives none
    first_name: str = ""
    last_name: str = ""
    email: str = ""


@dataclass(frozen=True)
class LeftOut:
    """A roster row that is no student of the class: the LMS's test student."""
    lms_id: str
    name: str
    why: str
    line: int


def test_student(values, form):
    """Why the roster row `values` (lower-cased column names) is the LMS's test student, or ""."""
    role = next((values[c] for c in ROLE_COLUMNS if values.get(c)), "")
    if role.replace(" ", "").casefold() == TEST_STUDENT_ROLE:
        return f"its role is {role}: Canvas's test student (Student View)"
    if form == "canvas" and values["student"].casefold() in TEST_STUDENT_NAMES and not values["sis login id"]:
        return "Canvas's test student (Student View): named Student, Test, without a login"
    return ""


def _course_row(values):
    """(id, lms_id, first, last, email) of a row of the course's own roster."""
    return (values["id"], values["lms_id"], values.get("first_name", ""), values.get("last_name", ""),
            values.get("email", ""))


def _first_of_form(*candidates):
    """The first candidate that has the course's id form after NFKC normalization, or ""."""
    for candidate in candidates:
        candidate = unicodedata.normalize("NFKC", candidate or "").strip()
        if STUDENT_ID.fullmatch(candidate):
            return candidate
    return ""


def _canvas_row(values):
    """As _course_row, for a row of Canvas's gradebook export; None for a row that is no student."""
    canvas_id = values["id"]
    if not canvas_id or values["student"].strip().lower() == "points possible":
        return None
    login = values["sis login id"]
    student_id = _first_of_form(login.split("@")[0] if "@" in login else login, values["sis user id"],
                                f"canvas-{canvas_id}")
    last, _, first = values["student"].partition(",")
    return student_id, canvas_id, first.strip(), last.strip(), login if "@" in login else ""


def _moodle_row(values):
    """As _course_row, for a row of Moodle's grading worksheet; None for a row that is no student."""
    match = re.fullmatch(r"\D*?(\d+)", values["identifier"])
    if not match:
        return None
    participant, email = match[1], values["email address"]
    student_id = _first_of_form(values.get("id number", ""), email.split("@")[0], f"participant-{participant}")
    first, _, last = values["full name"].rpartition(" ")
    return student_id, participant, first or last, last if first else "", email


FORMATS = {   # the columns that tell a form, what reads one of its rows, how to name it
    "course": (COURSE_COLUMNS, _course_row, "the course's roster (id, lms_id)"),
    "canvas": (CANVAS_COLUMNS, _canvas_row, "Canvas's gradebook export"),
    "moodle": (MOODLE_COLUMNS, _moodle_row, "Moodle's grading worksheet"),
}


def form_of(header):
    """The FORMATS name of a roster whose lower-cased column names are `header`, or None."""
    return next((name for name in ("canvas", "moodle", "course") if all(c in header for c in FORMATS[name][0])), None)


@contextmanager
def _longer_cells():
    """The csv module reads cells of any length meanwhile (its limit is the process's): read_roster
    measures them itself, so that a long one is named, not met with csv's own error."""
    limit = csv.field_size_limit(sys.maxsize)
    try:
        yield
    finally:
        csv.field_size_limit(limit)


def _rows(text, path):
    """(header, [(line number, row)]) of the CSV `text`, every cell within MAX_CELL_CHARS; IntakeError
    names the line and the column of a longer one."""
    with _longer_cells():
        reader = csv.reader(io.StringIO(text))
        try:
            header = next(reader, [])
            rows = [(reader.line_num, row) for row in reader]
        except csv.Error as error:   # a NUL byte, say: not a text file
            raise IntakeError(f"roster {path}, near line {reader.line_num + 1}: it cannot be read as CSV ({error}): is "
                              "this the roster, saved as CSV?") from None
    for line, row in [(1, header)] + rows:
        for index, cell in enumerate(row):
            if len(cell) > MAX_CELL_CHARS:
                column = (header[index] if index < len(header) else "") or f"number {index + 1}"
                raise IntakeError(f"roster {path}, line {line}, column {column[:80]!r}: the cell holds {len(cell)} "
                                  f"characters, more than the {MAX_CELL_CHARS} a roster cell may have (a name, an id "
                                  "or an address): is this the roster, saved as CSV?")
    return header, rows


def read_roster(path, left_out=None):
    """The students of the roster CSV at `path` (any form in FORMATS), checked; IntakeError says
    what is wrong.

    left_out -- a list, given a LeftOut for each row that is the LMS's test student (test_student);
    those rows are no students.
    Blank lines are skipped. An id must have the form STUDENT_ID after NFKC normalization and
    appear once, case aside; an lms_id must be a number and appear once, or be empty (that
    student's files cannot be recognised).
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")   # Excel's "CSV UTF-8" starts with a BOM
    except FileNotFoundError:
        raise IntakeError(f"roster {path}: no such file") from None
    except UnicodeDecodeError:
        raise IntakeError(f"roster {path} is not UTF-8 text: save it as CSV (UTF-8)") from None
    except OSError as error:
        raise IntakeError(f"roster {path}: {error.strerror}") from None
    fieldnames, rows = _rows(text, path)
    header = [(name or "").strip().lower() for name in fieldnames]
    form = form_of(header)
    if form is None:
        missing = [name for name in COURSE_COLUMNS if name not in header]
        raise IntakeError(
            f"roster {path} lacks the column{'s' if len(missing) > 1 else ''} {' and '.join(missing)}; "
            f"it needs id and lms_id (and may have first_name, last_name, email), or must be Canvas's "
            f"gradebook export (Student, ID, SIS User ID, SIS Login ID, Section) or Moodle's grading "
            f"worksheet (Identifier, Full name, Email address); "
            f"its columns are: {', '.join(header) if any(header) else 'none'}")
    _, read_row, described = FORMATS[form]
    students, ids, lms_ids = [], {}, {}
    for line, row in rows:
        values = {key: (value or "").strip() for key, value in zip(header, row)}
        values.update({key: "" for key in header if key not in values})   # a short row, as DictReader reads it
        if not any(values.values()):
            continue
        read = read_row(values)
        if read is None:
            continue
        where = f"roster {path} ({described}), line {line}"
        student_id, lms_id, first, last, email = read
        why = test_student(values, form)
        if why:
            if left_out is not None:
                left_out.append(LeftOut(lms_id, " ".join(filter(None, (first, last))) or student_id, why, line))
            continue
        student_id = unicodedata.normalize("NFKC", student_id)
        if not student_id:
            raise IntakeError(f"{where}: the id is empty")
        if not STUDENT_ID.fullmatch(student_id):
            raise IntakeError(f"{where}: the id {student_id!r} is not of the form this course accepts "
                              f"({STUDENT_ID_RULE})")
        if student_id.casefold() in ids:   # folders that differ by case alone collide on many file systems
            raise IntakeError(f"{where}: the id {student_id!r} appears twice (letter case aside; "
                              f"first on line {ids[student_id.casefold()]})")
        if lms_id:
            if not re.fullmatch(r"[0-9]{1,%d}" % MAX_LMS_ID_DIGITS, lms_id):
                raise IntakeError(f"{where}: the lms_id {lms_id!r} is not a number (of at most {MAX_LMS_ID_DIGITS} "
                                  "digits); it must be the Canvas user id or the Moodle participant id that the "
                                  "LMS puts in the file names")
            lms_id = str(int(lms_id))
            if lms_id in lms_ids:
                raise IntakeError(f"{where}: the lms_id {lms_id} is also that of {lms_ids[lms_id]!r}")
            lms_ids[lms_id] = student_id
        ids[student_id.casefold()] = line
        students.append(Student(student_id, lms_id, first, last, email))
    if not students:
        raise IntakeError(f"roster {path} has no students")
    return students


def write_gradebook_roster(students, path):
    """Write the CSV that `nbgrader db student import` reads: the ids and names, no LMS id."""
    with open(path, "w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(("id",) + OPTIONAL_COLUMNS)
        for s in students:
            writer.writerow((s.id, s.first_name, s.last_name, s.email))
    return path
