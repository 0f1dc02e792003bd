"""What a student's feedback page says besides nbgrader's own: the whole assignment at its top, and
each test named by its exercise and function.

nbgrader writes one page per graded notebook, with that notebook's score and its test cells as
"Test cell" or "Grade cell: test_gradient_check". A student who sent only notebook 1 got one page
saying 30 / 30, and nothing said that notebook 2 was missing and its 70 points lost. Here:

- AssignmentSummary, a preprocessor of nbgrader's GenerateFeedback (nbgrader_config.py adds it
  after GetGrades), gives the page every notebook of the assignment with its score from the
  gradebook, the total, and for a notebook without a graded copy why: the grader says why
  (`absent`, per student: grading.grader.ungraded.why_absent), a stock `nbgrader
  generate_feedback` says only that it was not graded. It also passes on why a notebook did not
  run to its end in grading (the mark grading.grader.ungraded leaves on such a copy);
- exercise_label, a template filter: a test cell's grade_id as "Exercise 3 — gradient_check";
- self_contained_head, a template filter: nbgrader's head of the page without what would run or
  load (MathJax's scripts, the web fonts of the Bootstrap it inlines), so that the page runs no
  script and asks for nothing, wherever it is opened.

templates/feedback/safe_page.html.j2 uses all three. A reason may quote what staging found in a
student's file: the template escapes every text it is given.
"""
import os
import re

from nbgrader.preprocessors import NbGraderPreprocessor
from traitlets import Dict

from grading.assignment import FUNCTIONS, NOTEBOOKS, function_of
from grading.grader.ungraded import MARK
from grading.results import final_total

NOT_GRADED = "it was not graded: no readable notebook of that name was in your submission"
# In nbgrader's head (the template's own markup, nothing of a student): scripts, MathJax's comments,
# and Bootstrap's icon font, which Chromium fetches even where no icon is shown.
SCRIPT = re.compile(r"<script\b.*?</script\s*>", re.S | re.I)
MATHJAX_COMMENT = re.compile(r"<!--[^>]*mathjax[^>]*-->", re.I)
FONT_FACE = re.compile(r"@font-face\s*\{[^}]*\}", re.I)


def self_contained_head(head):
    """nbgrader's head of the feedback page, with no script, no MathJax and no web font in it."""
    return FONT_FACE.sub("", MATHJAX_COMMENT.sub("", SCRIPT.sub("", str(head))))


def exercise_label(grade_id):
    """'Exercise 3 — gradient_check' for the test cell of a graded function, '' for any other cell."""
    function = function_of(str(grade_id or ""))
    if function not in FUNCTIONS:
        return ""
    return f"Exercise {FUNCTIONS.index(function) + 1} \u2014 {function}"


class AssignmentSummary(NbGraderPreprocessor):
    """resources["grading"]: the assignment's notebooks with their scores, the late penalty and the
    total after it (by the course's one rule, grading.results.final_total, the number every other
    view shows), for the page's top."""

    absent = Dict(help="{notebook file name: why it has no graded copy}, for one student (set by the grader)"
                  ).tag(config=True)

    def preprocess(self, nb, resources):
        from nbgrader.api import Gradebook

        info = resources["nbgrader"]
        folder = resources.get("metadata", {}).get("path") or "."
        with Gradebook(info["db_url"]) as gradebook:
            submission = gradebook.find_submission(info["assignment"], info["student"])
            scored = {notebook.name: notebook for notebook in submission.notebooks}
            rows = [self._row(name, scored.get(name.removesuffix(".ipynb")), folder) for name in NOTEBOOKS]
            penalty = float(submission.late_submission_penalty or 0.0)
            summary = {"notebooks": [row for row in rows if row is not None], "late_penalty": penalty,
                       "score": final_total(submission.score, penalty), "max_score": float(submission.max_score)}
        mark = nb.metadata.get(MARK)
        not_run = mark.get("not_run") if isinstance(mark, dict) else None
        summary["not_run"] = not_run if isinstance(not_run, str) else ""
        resources["grading"] = summary
        return nb, resources

    def _row(self, name, notebook, folder):
        if notebook is None:   # not in the gradebook (another assignment's layout): nothing to say
            return None
        graded = os.path.isfile(os.path.join(folder, name))
        # Its score before the late penalty: the table adds the notebooks, then takes the penalty off.
        return {"name": notebook.name, "score": float(notebook.score), "max_score": float(notebook.max_score),
                "absent": "" if graded else str(self.absent.get(name) or NOT_GRADED)}
