"""nbgrader configuration of the gradient-checking course.

Every stock command works from the repository root, which is the course directory:
    nbgrader generate_assignment gradient_checking
    nbgrader autograde gradient_checking
    nbgrader generate_feedback gradient_checking
    nbgrader export
"""
import importlib.util
import os

from jupyter_core.paths import jupyter_runtime_dir

c = get_config()  # noqa: F821 (provided by nbgrader when it loads this file)

COURSE_ROOT = os.path.dirname(os.path.abspath(__file__))

c.CourseDirectory.course_id = "gradient-checking"
c.CourseDirectory.root = COURSE_ROOT
# The embedded SQLite gradebook by default; a PostgreSQL URL works too.
c.CourseDirectory.db_url = os.environ.get("GRADEBOOK_URL", "sqlite:///" + os.path.join(COURSE_ROOT, "gradebook.db"))
# Files that never travel with the assignment.
c.CourseDirectory.ignore = [".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback", ".DS_Store"]

# Students who are not on the roster yet are created at autograde time.
c.Autograde.create_student = True

# Test cells that a student deleted come back from the source notebook.
c.OverwriteCells.add_missing_cells = True

# Stop a cell that runs forever; the hidden tests of one function take well under a second.
c.Execute.timeout = 60
c.Execute.interrupt_on_timeout = True
c.Execute.raise_on_iopub_timeout = True

# Keep huge outputs out of the graded notebooks and the feedback.
c.LimitOutput.max_lines = 500
c.LimitOutput.max_traceback = 60

# Late penalties follow deadlines.toml (grading/grader/deadlines.py), in a stock `nbgrader autograde` too.
c.AssignLatePenalties.plugin_class = "grading.plugins.late_plugin.CourseLatePenalty"

c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"

# Every submission's kernel runs in the grading sandbox (grading/sandboxing/sandbox.py, docs/security.md):
# it sees only its own folder, the released files and the Python environment; no source/, no
# gradebook, no other student, no network; memory, CPU, processes and file size are limited.
# Set here, so that a plain `nbgrader autograde` is as safe as the course's own commands; the
# notebook's own kernelspec metadata cannot choose another kernel. `make` installs the kernelspec.
c.Execute.kernel_name = "gradient-checking-sandbox"
# The sandbox has no network, not even the host's loopback: kernel and grader talk over Unix
# sockets, named <ip>-<port>. An absolute prefix in the grader's private runtime folder, one per
# grading process (nbgrader's default is relative to the working directory, the course root).
c.KernelManager.transport = "ipc"
c.KernelManager.ip = os.path.join(jupyter_runtime_dir(), f"gradient-checking-{os.getpid()}")

# Student-controlled text stays data in what nbgrader writes for the instructor and the students
# (docs/security.md, "Student-controlled text"), where the grading package is installed:
# - `nbgrader export` writes grades.csv with the csv module and no cell a spreadsheet would run
#   (grading/plugins/grades_csv.py); stock nbgrader joins names with commas, so a comma or a line break
#   in a name shifts columns and rows;
# - every page that shows a notebook (the feedback, the formgrader's grading page) shows its
#   markdown and outputs sanitized: outputs by nbconvert, markdown and comments by the filter that
#   every such template applies to them (grading.untrusted_text.markdown_for_page, with formulas
#   as MathML: grading.plugins.page_math); the names in the grading page's heading escaped
#   (grading.plugins.page_names); each feedback page states the assignment's notebooks and its
#   total after the late penalty (grading.plugins.feedback_page);
# - feedback pages carry a Content-Security-Policy that lets no script run at all (none is needed):
#   grading/plugins/templates/feedback/safe_page.html.j2, over nbgrader's own feedback template. nbgrader
#   chooses the template's name ("feedback" for feedback, "formgrade" in the formgrader), this
#   file names the page in it: each of our two folders has a safe_page.html.j2 that extends
#   nbgrader's page of that name, and they are searched first.
c.HTMLExporter.sanitize_html = True
_GRADING = importlib.util.find_spec("grading")   # None where only the student's side is installed
if _GRADING:
    # The instructor's side of nbgrader's exchange trusts nothing a student's client wrote
    # (grading/exchange/, docs/security.md): collect checks each inbound folder's owner, takes the
    # time its files last changed and regular files only; feedback goes out as the pages grading
    # rendered, student by student. `nbgrader collect`, the formgrader's buttons and `make
    # release-feedback` all use these.
    c.ExchangeFactory.collect = "grading.exchange.collect.CheckedCollect"
    c.ExchangeFactory.release_feedback = "grading.exchange.release_feedback.CheckedReleaseFeedback"
    _NBGRADER = importlib.util.find_spec("nbgrader").submodule_search_locations[0]
    c.ExportApp.plugin_class = "grading.plugins.grades_csv.SafeCsvExport"
    c.HTMLExporter.filters = {"strip_files_prefix": "grading.plugins.page_math.markdown_for_page",
                              "exercise_label": "grading.plugins.feedback_page.exercise_label",
                              "self_contained_head": "grading.plugins.feedback_page.self_contained_head"}
    c.HTMLExporter.template_file = "safe_page.html.j2"
    # The feedback page is written to be read anywhere, with no script and no network: formulas as
    # MathML (grading/plugins/page_math.py), the whole assignment at its top and each test named
    # by its function (grading/plugins/feedback_page.py), after nbgrader's own GetGrades.
    from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor
    from nbgrader.preprocessors import GetGrades

    from grading.plugins.feedback_page import AssignmentSummary
    c.GenerateFeedback.preprocessors = [GetGrades, CSSHTMLHeaderPreprocessor, AssignmentSummary]
    c.HTMLExporter.preprocessors = ["grading.plugins.page_names.EscapeNames"]   # the formgrader's heading
    c.HTMLExporter.extra_template_basedirs = [
        os.path.join(_GRADING.submodule_search_locations[0], "plugins", "templates"),
        os.path.join(_NBGRADER, "server_extensions", "formgrader", "templates")]
