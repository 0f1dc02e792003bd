"""What a student is told about the notebooks that grading could not run.

When a kernel dies or the submission's time runs out, nbgrader stops and removes the graded copy
of the whole submission; the pipeline then keeps the staged notebooks as the graded copy
(NbgraderStep.keep_ungraded), so that the formgrader and the feedback show the verified scores.
Those notebooks hold the outputs of the student's own run: "… passes the visible tests" right
under a score of 0. graded_copy is the copy kept instead: each code cell says that it did not
run in grading and why, each test cell adds what the hidden tests said when verification ran
them again, and none of the student's own outputs is left.

A notebook with no graded copy at all (not handed in, or unreadable) gets no page from
nbgrader; why_absent says why, for the pages of the other notebooks
(grading.plugins.feedback_page).
"""

import nbformat

from grading.assignment import function_of
from grading.grader.staging import read_notebook

# The key of the notebook metadata that marks a kept copy (what the page says at its top).
MARK = "grading"
TIME_RAN_OUT = "the time for grading your submission ran out"
KERNEL_STOPPED = ("the Python process running your notebooks died or stopped answering (a crash, or code that "
                  "ends its own process)")


def why_unfinished(outcome):
    """Why nbgrader could not finish, in a student's words, from nbgrader's step outcome."""
    return TIME_RAN_OUT if outcome.get("timed_out") else KERNEL_STOPPED


def note(why, function=None, verdict=None):
    """The output a cell of a kept copy shows instead of the student's."""
    said = f"Not run in grading: {why}. What this cell showed when you ran it is not shown: it is not what grading saw."
    if function and verdict is not None:
        said += (f"\nThe hidden tests of {function}, run again in a separate process, "
                 f"gave {verdict.points:g} of {verdict.max_points:g} points: {verdict.message}")
    return said + "\n"


def graded_copy(data, why, verdicts):
    """The graded copy of one staged notebook that nbgrader could not finish (bytes to bytes).

    why -- why_unfinished(...); verdicts -- {function: grading.results.Verdict} of verification"""
    notebook = nbformat.reads(data.decode("utf-8"), as_version=4)   # staging wrote it: a valid notebook
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        cell.execution_count = None
        cell.outputs = []
        if cell.source.strip():   # nbgrader runs no empty cell either
            grading = cell.metadata.get("nbgrader", {})
            function = function_of(grading.get("grade_id", "")) if grading.get("grade") and not grading.get("solution") \
                else None
            cell.outputs = [nbformat.v4.new_output("stream", name="stderr", text=note(why, function, verdicts.get(function)))]
    notebook.metadata[MARK] = {"not_run": why}
    return nbformat.writes(notebook).encode("utf-8")


def why_absent(course, student, name):
    """Why the notebook `name` of a graded student has no graded copy: read again as staging read it.
    course -- a grading.course_directory.Course"""
    try:
        read_notebook(course.submitted(student) / name, anchor=course.folder("submitted"), settings=course.settings)
    except FileNotFoundError:
        return "it was not in your submission"
    except ValueError as reason:
        return f"it could not be read: {reason}"
    except OSError as error:
        return f"it could not be read ({error.strerror or type(error).__name__})"
    return "grading kept no copy of it"
