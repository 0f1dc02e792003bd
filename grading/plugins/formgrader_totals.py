"""The formgrader shows the course's one total: after the late penalty, as every other view.

nbgrader's formgrader (0.9.6) shows each submission's and each notebook's points before the late
penalty, and the penalty nowhere, while grades.csv, the LMS and the feedback take it off: an
instructor saw 95 where the class was told 76. Its pages draw what its API answers (the JSON of
NbGraderAPI's methods), so this module changes the answers, not the pages' code:

- every score of a submission, of a notebook and of a student becomes the total after the late
  penalty by the course's one rule (grading.results.final_total), with `late_submission_penalty`
  and `score_before_penalty` beside it; the averages of the gradebook pages are of those totals;
- the formgrader's base page gets a short script that writes the penalty next to each score it
  changed ("76 / 100 (late: -19; 95 before)"), in the submissions list, the students' list, each
  student's pages and the gradebook's notebook pages.

The formgrader's grading page (one notebook's cells) shows each cell's points, which the penalty
does not change. formgrader_guard loads this module when the server starts.
"""
import functools
import inspect

from jinja2 import BaseLoader

from grading.results import final_total, to_the_cent

MARK = "late_submission_penalty"   # a dict that has it was adjusted already (one method calls another)

# Shown after the score of every row whose model carries a penalty. The formgrader's page scripts
# define their row views (Backbone views) as globals before the page's load event builds them.
SCRIPT = """{% raw %}<script>
/* grading/plugins/formgrader_totals.py: each score is the total after the late penalty; say so. */
(function () {
  ["SubmissionUI", "StudentUI", "StudentSubmissionUI", "StudentSubmittedNotebookUI", "SubmittedNotebookUI"]
    .forEach(function (name) {
      var view = window[name];
      if (!view || !view.prototype.render) return;
      var render = view.prototype.render;
      view.prototype.render = function () {
        var shown = render.apply(this, arguments);
        var penalty = this.model.get("late_submission_penalty");
        if (penalty > 0 && this.$score && this.$score.text()) {
          var before = roundToPrecision(this.model.get("score_before_penalty"), 2);
          this.$score.append($("<span/>").addClass("text-danger late-penalty")
            .text(" (late: -" + roundToPrecision(penalty, 2) + "; " + before + " before)"));
        }
        return shown;
      };
    });
})();
</script>{% endraw %}"""


def penalties(api):
    """[(submitted notebook id, student, assignment, notebook, penalty)] of every notebook in the
    gradebook that has a late penalty: one query."""
    from nbgrader.api import Assignment, Notebook, SubmittedAssignment, SubmittedNotebook

    with api.gradebook as book:
        return book.db.query(SubmittedNotebook.id, SubmittedAssignment.student_id, Assignment.name, Notebook.name,
                             SubmittedNotebook.late_submission_penalty) \
            .join(SubmittedAssignment, SubmittedNotebook.assignment_id == SubmittedAssignment.id) \
            .join(Assignment, SubmittedAssignment.assignment_id == Assignment.id) \
            .join(Notebook, SubmittedNotebook.notebook_id == Notebook.id) \
            .filter(SubmittedNotebook.late_submission_penalty > 0).all()


def penalty_by(api, key):
    """{key(row): the sum of its penalties} over penalties(api)."""
    sums = {}
    for row in penalties(api):
        sums[key(row)] = sums.get(key(row), 0.0) + float(row[4])
    return sums


def after_penalty(item, penalty):
    """The formgrader's dict of a submission, notebook or student with its score after `penalty`."""
    if isinstance(item, dict) and MARK not in item and item.get("score") is not None:
        item["score_before_penalty"] = item["score"]
        item[MARK] = to_the_cent(penalty)
        item["score"] = final_total(item["score"], penalty)
    return item


def mean_total(submissions):
    """The mean total after the late penalty of gradebook rows (SubmittedAssignment or SubmittedNotebook)."""
    totals = [final_total(s.score, s.late_submission_penalty) for s in submissions]
    return sum(totals) / len(totals) if totals else 0.0


def _wrap(api_class, name, adjust):
    """Make api_class.<name> return what it returned, passed through adjust(api, answer, **its arguments)."""
    method = getattr(api_class, name)
    if getattr(method, "after_penalty", False):
        return
    signature = inspect.signature(method)

    @functools.wraps(method)
    def wrapped(self, *args, **kwargs):
        arguments = signature.bind(self, *args, **kwargs).arguments
        arguments.pop("self")
        return adjust(self, method(self, *args, **kwargs), **arguments)

    wrapped.after_penalty = True
    setattr(api_class, name, wrapped)


def _submission(api, answer, assignment_id, student_id, **_):
    return after_penalty(answer, penalty_by(api, lambda row: (row[1], row[2])).get((student_id, assignment_id), 0.0))


def _submissions(api, answer, assignment_id, **_):
    found = penalty_by(api, lambda row: (row[1], row[2]))
    return [after_penalty(item, found.get((item.get("student"), assignment_id), 0.0)) for item in answer]


def _notebooks_of_submissions(api, answer, **_):
    found = penalty_by(api, lambda row: row[0])
    return [after_penalty(item, found.get(item.get("id"), 0.0)) if item.get("id") else item for item in answer]


def _students(api, answer, **_):
    found = penalty_by(api, lambda row: row[1])
    return [after_penalty(item, found.get(item.get("id"), 0.0)) for item in answer]


def _student(api, answer, **_):
    return _students(api, [answer])[0] if answer else answer


def _assignment(api, answer, assignment_id, **_):
    from nbgrader.api import MissingEntry

    if answer and answer.get("average_score"):
        with api.gradebook as book:
            try:
                answer["average_score"] = mean_total(book.find_assignment(assignment_id).submissions)
            except MissingEntry:
                pass
    return answer


def _notebooks(api, answer, assignment_id, **_):
    with api.gradebook as book:
        for item in answer:
            if item.get("average_score"):
                item["average_score"] = mean_total(book.notebook_submissions(item["name"], assignment_id))
    return answer


ADJUSTED = {   # NbGraderAPI's methods whose answers the formgrader's pages show
    "get_submission": _submission,                                # a student's pages; one submission
    "get_submissions": _submissions,                              # the submissions list
    "get_student_notebook_submissions": _notebooks_of_submissions,   # a student's notebooks
    "get_notebook_submissions": _notebooks_of_submissions,        # the gradebook's notebook page
    "get_students": _students,                                    # the students list
    "get_student": _student,
    "get_assignment": _assignment,                                # the gradebook's averages
    "get_notebooks": _notebooks,
}


def show_totals_after_penalty(api_class):
    """Wrap NbGraderAPI's methods of ADJUSTED (once)."""
    for name, adjust in ADJUSTED.items():
        _wrap(api_class, name, adjust)


class _WithPenaltyScript(BaseLoader):
    """A Jinja loader that serves the formgrader's templates, with SCRIPT at the end of the head
    of base.tpl, which every formgrader page extends."""

    def __init__(self, loader):
        self.loader = loader

    def get_source(self, environment, template):
        source, filename, uptodate = self.loader.get_source(environment, template)
        if template == "base.tpl":
            source = source.replace("</head>", SCRIPT + "\n</head>", 1)
        return source, filename, uptodate

    def list_templates(self):
        return self.loader.list_templates()


def show_penalties(environment, log):
    """Add SCRIPT to the formgrader's pages (its Jinja environment, before the first page)."""
    if isinstance(environment.loader, _WithPenaltyScript):
        return
    environment.loader = _WithPenaltyScript(environment.loader)
    log.info("formgrader_totals: the formgrader's scores are totals after the late penalty")
