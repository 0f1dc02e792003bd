"""grades.csv: nbgrader's CSV export, with student-controlled text kept as data.

nbgrader 0.9's CsvExportPlugin joins the fields with commas, so a name holding a comma, a quote
or a line break adds columns or rows (a row can then carry another student's score), and a cell
starting with `=` becomes a formula in a spreadsheet or an LMS import. This plugin writes the
same columns and rows with the csv module, quoting as CSV requires, and neutralizes formulas
(grading.untrusted_text.for_spreadsheet). nbgrader_config.py makes it what `nbgrader export`
uses; `make autograde` writes grades.csv with it too.
"""
import csv

from nbgrader.api import MissingEntry
from nbgrader.plugins import CsvExportPlugin

from grading.untrusted_text import for_spreadsheet

COLUMNS = ("assignment", "duedate", "timestamp", "student_id", "last_name", "first_name", "email",
           "raw_score", "late_submission_penalty", "score", "max_score")


def rows(gradebook, students=(), assignments=()):
    """One dict per (assignment, student) of the gradebook, as nbgrader's export computes it: a
    student without a submission scores 0; the score is the raw score less the late penalty."""
    for assignment in gradebook.assignments:
        if assignments and assignment.name not in assignments:
            continue
        for student in gradebook.students:
            if students and student.id not in students:
                continue
            row = {"assignment": assignment.name, "duedate": assignment.duedate, "student_id": student.id,
                   "last_name": student.last_name, "first_name": student.first_name, "email": student.email,
                   "max_score": assignment.max_score}
            try:
                submission = gradebook.find_submission(assignment.name, student.id)
            except MissingEntry:
                row.update(timestamp=None, raw_score=0.0, late_submission_penalty=0.0, score=0.0)
            else:
                penalty = submission.late_submission_penalty
                row.update(timestamp=submission.timestamp, raw_score=submission.score,
                           late_submission_penalty=penalty, score=max(0.0, submission.score - penalty))
            yield row


class SafeCsvExport(CsvExportPlugin):
    """nbgrader's CSV export, quoted by the csv module, with no cell a spreadsheet runs."""

    def export(self, gradebook):
        destination = self.to or "grades.csv"
        self.log.info("Exporting grades to %s", destination)
        with open(destination, "w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle, quoting=csv.QUOTE_MINIMAL)
            writer.writerow(COLUMNS)
            for row in rows(gradebook, [str(s) for s in self.student], [str(a) for a in self.assignment]):
                writer.writerow(["" if row[key] is None else for_spreadsheet(row[key]) for key in COLUMNS])
