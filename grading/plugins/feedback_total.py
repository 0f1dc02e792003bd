"""An nbconvert preprocessor: each feedback page states the assignment's total, after the late penalty.

nbgrader's feedback page is one notebook's: its heading shows that notebook's points after that
notebook's late penalty, and its list the penalty, but nowhere the assignment's total, which is
the number the student is told everywhere else (the LMS, grades.csv, the formgrader). This
preprocessor reads the student's submission from the gradebook nbgrader renders the page from
(`resources["nbgrader"]`, which nbgrader's feedback converter fills; in `make autograde`, the
student's slice of the gradebook) and hands the template the total by the course's one rule
(grading.results.final_total), the points of the assignment and the penalty, as text. The
feedback template (grading/plugins/templates/feedback/safe_page.html.j2, its `body` block) writes
them under the heading. nbgrader_config.py adds it to every HTMLExporter; pages that are not
feedback (the formgrader's) have no such resources and are left alone.
"""
from nbconvert.preprocessors import Preprocessor

from grading.results import final_total, points_text


class AssignmentTotal(Preprocessor):
    """resources["nbgrader"]["assignment_total"], ["assignment_max"] and ["assignment_penalty"], as text."""

    def preprocess(self, nb, resources):
        found = resources.get("nbgrader")
        if not isinstance(found, dict) or not all(found.get(key) for key in ("db_url", "assignment", "student")):
            return nb, resources
        from nbgrader.api import Gradebook, MissingEntry

        with Gradebook(found["db_url"]) as book:
            try:
                submission = book.find_submission(found["assignment"], found["student"])
            except MissingEntry:
                return nb, resources
            found["assignment_total"] = points_text(final_total(submission.score, submission.late_submission_penalty))
            found["assignment_max"] = points_text(submission.max_score)
            found["assignment_penalty"] = points_text(submission.late_submission_penalty or 0)
        return nb, resources
