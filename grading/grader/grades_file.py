"""grades.csv: nbgrader's CSV export, with student-controlled text kept as data, every time with
its zone, each student's own due date, and the course's one total.

nbgrader 0.9's CsvExportPlugin joins the fields with commas, so a name holding a comma, a quote
or a line break adds columns or rows (a row can then carry another student's score), and a cell
starting with `=` becomes a formula in a spreadsheet or an LMS import. `write` writes the same
columns and rows with the csv module, quoting as CSV requires, and neutralizes formulas
(grading.untrusted_text.for_spreadsheet). `make autograde` writes grades.csv with it, and so does
`nbgrader export` through the plugin nbgrader_config.py names (grading.plugins.grades_csv).

Where nbgrader writes its gradebook's naive UTC times, these rows have them in the course's
zone (deadlines.toml's `timezone`) with their offset ("2026-12-02 02:00:00+01:00"), and the
`duedate` of a row is that student's own (an extension of deadlines.toml included). `score` is
the raw score less the late penalty by the course's one rule (grading.results.final_total).
"""
import csv
from datetime import timezone

from grading.grader import deadlines
from grading.results import final_total
from grading.untrusted_text import for_spreadsheet

COLUMNS = ("assignment", "duedate", "timestamp", "student_id", "last_name", "first_name", "email",
           "raw_score", "late_submission_penalty", "score", "max_score")


def zoned(moment, zone):
    """An aware time, or one of the gradebook's naive UTC times, in `zone` with its offset; None stays None."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(zone).isoformat(sep=" ")


def rows(gradebook, students=(), assignments=(), course=None):
    """One dict per (assignment, student) of the gradebook, as nbgrader's export computes it: a
    student without a submission scores 0; the score is the raw score less the late penalty.

    course -- the course's grading.grader.deadlines.Deadlines (its zone and each student's due date);
              without it, times are in UTC and the due date is the gradebook's."""
    from nbgrader.api import MissingEntry

    course = course or deadlines.Deadlines()
    for assignment in gradebook.assignments:
        if assignments and assignment.name not in assignments:
            continue
        for student in gradebook.students:
            if students and student.id not in students:
                continue
            due = course.due_for(student.id) if course.due is not None else assignment.duedate
            row = {"assignment": assignment.name, "duedate": zoned(due, course.zone), "student_id": student.id,
                   "last_name": student.last_name, "first_name": student.first_name, "email": student.email,
                   "max_score": assignment.max_score}
            try:
                submission = gradebook.find_submission(assignment.name, student.id)
            except MissingEntry:
                row.update(timestamp=None, raw_score=0.0, late_submission_penalty=0.0, score=0.0)
            else:
                penalty = submission.late_submission_penalty
                row.update(timestamp=zoned(submission.timestamp, course.zone), raw_score=submission.score,
                           late_submission_penalty=penalty, score=final_total(submission.score, penalty))
            yield row


def write(path, gradebook, course, students=(), assignments=()):
    """Write grades.csv at `path` from an open nbgrader Gradebook; `course`: its Deadlines
    (grading.grader.deadlines.load); `students`, `assignments`: only these, if given."""
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, quoting=csv.QUOTE_MINIMAL)
        writer.writerow(COLUMNS)
        for row in rows(gradebook, students, assignments, course):
            writer.writerow(["" if row[key] is None else for_spreadsheet(row[key]) for key in COLUMNS])
