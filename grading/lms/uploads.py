"""What goes back up to the LMS: the grades in the LMS's own roster file and the feedback pages
named as the LMS takes them back (`make export`, whose command is grading.lms.lms_export).

export() works from what `make intake` kept (downloaded/<assignment>/roster.csv, the roster as the
LMS gave it, and lms.json, how the LMS named each student's files) and the gradebook, writes to
exports/ and returns the lines of a summary. Each grade is the total after the late penalty, the
one number every view shows (grading.results.final_total); a flagged submission's grade and pages
wait for the instructor's review (flagged_students) unless release_flagged. The roster's file goes
back in its own encoding: with the byte order mark it came with, or without one.
"""
import codecs
import csv
import io
import json
import zipfile

from grading.assignment import ASSIGNMENT, COURSE_ROOT, FEEDBACK_PAGES
from grading.course_directory import Course
from grading.grader import gradebook
from grading.lms.lms_files import LMS_RECORD, ROSTER_COPY
from grading.lms.roster import IntakeError, form_of, read_roster
from grading.results import final_total
from grading.sandboxing import files
from grading.untrusted_text import for_spreadsheet, for_terminal

MAX_SCORE = 100


def scores(db_url):
    """{student id: total score} of every graded submission of the assignment, after the late
    penalty (grading.grader.deadlines), as grades.csv's score column has it."""
    from nbgrader.api import Gradebook, MissingEntry

    with Gradebook(db_url) as book:
        try:
            submissions = book.find_assignment(ASSIGNMENT).submissions
        except MissingEntry:
            return {}
        return {s.student.id: final_total(s.score, s.late_submission_penalty) for s in submissions}


def _score_text(score):
    return "" if score is None else f"{score:.2f}"


def filled_rows(text, form, by_lms_id, points, column):
    """The roster's rows (a list of lists, header first) with each student's score written in."""
    rows = [row for row in csv.reader(io.StringIO(text)) if any(cell.strip() for cell in row)]
    header = [cell.strip().lower() for cell in rows[0]]
    if form == "canvas":
        if column.lower() not in header:
            rows[0].append(column)
            header.append(column.lower())
            for row in rows[1:]:
                row.append("")
        where, key = header.index(column.lower()), header.index("id")
    else:
        where, key = header.index("grade"), header.index("identifier")
    for row in rows[1:]:
        row.extend([""] * (len(header) - len(row)))
        if form == "canvas" and row[0].strip().lower() == "points possible":
            row[where] = f"{MAX_SCORE:.2f}"
            continue
        lms_id = "".join(c for c in row[key] if c.isdigit()).lstrip("0")
        row[where] = _score_text(points.get(by_lms_id.get(lms_id)))
    return [[for_spreadsheet(cell) for cell in row] for row in rows]


def write_csv(path, rows, encoding="utf-8"):
    with open(path, "w", newline="", encoding=encoding) as out:
        csv.writer(out).writerows(rows)
    return path


def flagged_students(course):
    """Students whose last grading flagged their submission (reports/autograde.json)."""
    path = Course.of(course).results_file
    results = json.loads(path.read_text()) if path.is_file() else []
    return {r["student"] for r in results if r.get("flags")}


def feedback_pages(course, student, problems=None):
    """{page name: bytes} of the student's feedback: nbgrader's page of each notebook
    (FEEDBACK_PAGES), read as regular files without following a link; nothing else in the folder.
    A page that is there but cannot be sent (a link, a FIFO, too large) is left out, and said in
    `problems` ([sentence]) when given."""
    folder = course.feedback(student)
    pages = {}
    for name in FEEDBACK_PAGES:
        try:
            pages[name] = files.read_regular(folder / name, course.settings.step_file_bytes, anchor=course.root)
        except FileNotFoundError:
            continue
        except (OSError, files.NotRegular, files.TooLarge) as error:
            if problems is not None:
                problems.append(f"{student}: {name} left out ({error})")
    return pages


def feedback_bundle(course, lms, named, held, problems=None):
    """The zip of feedback pages for `lms`, and the students whose pages went into it; a page that
    could not be sent is said in `problems`, and the others go on."""
    course = Course.of(course)
    target = course.exports / f"{lms}_feedback.zip"
    sent = []
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as bundle:
        for student, how in sorted(named.items()):
            pages = feedback_pages(course, student, problems) if student not in held else {}
            if not pages:
                continue
            for name, page in pages.items():
                if lms == "canvas":
                    member = f"{how['name']}_{how['lms_id']}_{how['submission']}_feedback_{name}"
                else:
                    member = f"{how['name']}_{how['lms_id']}_assignsubmission_file_/{name}"
                bundle.writestr(member, page)
            sent.append(student)
    return target, sent


def export(course=COURSE_ROOT, db_url=None, column=ASSIGNMENT, release_flagged=False):
    """Write the exports of the course (a grading.course_directory.Course, or its path); return the
    lines of a summary."""
    course = Course.of(course)
    roster = course.root / ROSTER_COPY
    if not roster.is_file():
        raise IntakeError(f"{roster} is missing: `make export` sends back what `make intake` took in")
    students = read_roster(roster)
    # As the LMS wrote it: a line break inside a quoted cell (a name) goes back unchanged, and so
    # does a byte order mark.
    encoding = "utf-8-sig" if roster.read_bytes().startswith(codecs.BOM_UTF8) else "utf-8"
    with open(roster, newline="", encoding="utf-8-sig") as handle:
        text = handle.read()
    form = form_of([cell.strip().lower() for cell in next(csv.reader(io.StringIO(text)))])
    graded = scores(gradebook.normalized(db_url or course.db_url))
    # A flagged submission's grade waits for the instructor's review, like its feedback.
    held = set() if release_flagged else flagged_students(course) & set(graded)
    points = {student: total for student, total in graded.items() if student not in held}
    course.exports.mkdir(exist_ok=True)
    if form == "course":
        rows = [["id", "lms_id", "score"]] + [[s.id, s.lms_id, _score_text(points.get(s.id))] for s in students]
        grades = write_csv(course.exports / "grades_by_lms_id.csv", [[for_spreadsheet(c) for c in r] for r in rows],
                           encoding)
    else:
        by_lms_id = {s.lms_id: s.id for s in students if s.lms_id}
        name = "canvas_grades.csv" if form == "canvas" else "moodle_grading_worksheet.csv"
        grades = write_csv(course.exports / name, filled_rows(text, form, by_lms_id, points, column), encoding)
    lines = [f"Grades:   {grades}"]
    ungraded = [s.id for s in students if s.id not in graded]
    if ungraded:
        lines.append(f"  no graded submission (grade left empty): {', '.join(ungraded)}")
    record_path = course.root / LMS_RECORD
    record = json.loads(record_path.read_text()) if record_path.is_file() else {}
    lms = record.get("lms") if record.get("lms") in ("canvas", "moodle") else None
    named = record.get("students", {}) if lms else {}
    if lms:
        problems = []
        bundle, sent = feedback_bundle(course, lms, named, held, problems)
        lines.append(f"Feedback: {bundle} ({len(sent)} students)")
        lines.extend(f"  not sent: {problem}" for problem in problems)
    waiting = sorted(held & ({s.id for s in students} | set(named)))
    if waiting:
        what = "grade and feedback" if lms else "grade"
        lines.append(f"  {what} held back, flagged by verification (grade left empty; review them in the "
                     f"formgrader, then make export RELEASE_FLAGGED=1): {', '.join(waiting)}")
    return [for_terminal(line) for line in lines]
