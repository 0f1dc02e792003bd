"""What a submission's notebooks hold for grading: the assignment's layout and a notebook's answers.

The trusted notebooks (source/ for setup cells and points, release/ for what students were given)
say where each function's answer is; a submitted notebook is read as data, through staging's
reader and policy (grading.grader.staging), and its answers are taken by the release's grade_ids,
whatever the student's own metadata says, plus the code cells the student added:

    layouts = assignment_layout(course)
    reading = read_submitted_notebook(course.staged("ada") / layouts[0].name, layouts[0], anchor=course.root)
    reading.cells     # [(grade_id or "added cell 7", code)], in notebook order, IPython magics removed

Verification (grading.grader.verify) runs these cells of the staged copy, where each notebook has
the assignment's name (staging found it, whatever the student called it; in a folder where it has
another name, read_submitted_notebook finds it as staging does); the similarity report
(grading.grader.similarity_report) compares them in the files staging.find_notebooks finds, so that both
see the same code.
"""
import json
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from grading.assignment import COURSE_ROOT, NOTEBOOKS, function_of
from grading.course_directory import Course
from grading.grader import staging
from grading.sandboxing import files
from grading.settings import DEFAULTS

# Cell magics whose body is Python; the body of any other (%%bash, %%writefile, ...) is not run.
PYTHON_CELL_MAGICS = {"time", "timeit", "capture", "prun"}


# ---------------------------------------------------------------------------------- the assignment
@dataclass
class NotebookLayout:
    """What the trusted notebooks say about one notebook of the assignment."""
    name: str                                       # file name
    setup: list = field(default_factory=list)       # [(grade_id, code)] from the source, magics removed
    functions: dict = field(default_factory=dict)   # function -> points, in notebook order
    solutions: list = field(default_factory=list)   # solution grade_ids
    locked: dict = field(default_factory=dict)      # grade_id -> (cell type, source) as released
    demo_ids: set = field(default_factory=set)      # ids of the release's own unmarked code cells
    demo_sources: set = field(default_factory=set)  # and their sources
    released: object = None                         # staging.ReleasedNotebook: staging.tidy's view of the release
    assignment: tuple = ()                          # every notebook's: what staging.find_notebooks matches files to

    @property
    def id(self):
        return self.name[:-len(".ipynb")] if self.name.endswith(".ipynb") else self.name


def _source(cell):
    source = cell.get("source", "")
    if isinstance(source, list):
        if not all(isinstance(line, str) for line in source):
            return None
        source = "".join(source)
    return source if isinstance(source, str) else None


def _nbgrader(cell):
    metadata = cell.get("metadata")
    meta = metadata.get("nbgrader") if isinstance(metadata, dict) else None
    return meta if isinstance(meta, dict) else {}


def assignment_layout(course=COURSE_ROOT):
    """[NotebookLayout] of the assignment, from source/ (setup, points) and release/ (what students
    got) of the course (a grading.course_directory.Course, or its path)."""
    course = Course.of(course)
    return _layout(course.source(), course.release())


@lru_cache(maxsize=8)
def _layout(source_folder, release_folder):
    released = staging.released_notebooks(release_folder)
    layouts = []
    for name, released_notebook in zip(NOTEBOOKS, released):
        source = json.loads((source_folder / name).read_text())
        release = json.loads((release_folder / name).read_text())
        layout = NotebookLayout(name, released=released_notebook, assignment=released)
        for cell in source["cells"]:
            meta = _nbgrader(cell)
            grade_id = meta.get("grade_id")
            if cell["cell_type"] != "code" or grade_id is None:
                continue
            if meta.get("solution"):
                layout.solutions.append(grade_id)
            elif meta.get("grade") and function_of(grade_id):
                layout.functions[function_of(grade_id)] = float(meta.get("points", 0))
            elif meta.get("locked"):
                layout.setup.append((grade_id, without_magics(_source(cell))))
        for cell in release["cells"]:
            meta = _nbgrader(cell)
            if meta.get("locked") and meta.get("grade_id"):
                layout.locked[meta["grade_id"]] = (cell["cell_type"], _source(cell))
            elif cell["cell_type"] == "code" and not meta:
                if cell.get("id"):
                    layout.demo_ids.add(cell["id"])
                layout.demo_sources.add(_source(cell).strip())
        missing = [f for f in layout.functions if f not in layout.solutions]
        if missing:
            raise ValueError(f"{name}: no solution cell named like the functions {missing}")
        layouts.append(layout)
    return layouts


def without_magics(code):
    """IPython-only lines made harmless for plain Python: line magics and shell escapes become `pass`.

    A cell magic whose body is Python (%%time, ...) keeps its body; any other cell magic, None.
    """
    if code is None:
        return None
    lines = code.splitlines()
    first = next((i for i, line in enumerate(lines) if line.strip()), None)
    if first is not None and lines[first].lstrip().startswith("%%"):
        magic = lines[first].lstrip()[2:].split(maxsplit=1)
        if not magic or magic[0] not in PYTHON_CELL_MAGICS:
            return None
        lines = lines[first + 1:]
    return "\n".join(re.sub(r"^(\s*)[%!].*$", r"\1pass", line) for line in lines)


# ---------------------------------------------------------------------------------- the submission
@dataclass
class NotebookReading:
    """What verification takes from one submitted notebook."""
    cells: list = field(default_factory=list)      # [(name, code)] to run, in notebook order
    problem: str = ""                              # why none of its functions can be verified
    function_problems: dict = field(default_factory=dict)  # function -> why it scores 0
    warnings: dict = field(default_factory=dict)   # function -> [tampering seen]


def read_submitted_notebook(path, layout, anchor=None, settings=DEFAULTS):
    """Read a submitted notebook as data, through staging's reader and policy (grading.grader.staging:
    the first of duplicated cells, retyped cells as released); never raises for a bad notebook.

    anchor -- a trusted folder that holds it (see grading.sandboxing.files.open_folder)
    settings -- grading.settings.GradingSettings: the bounds of what staging reads
    """
    path = Path(path)
    try:
        notebook, _ = staging.read_notebook(path, anchor, settings)
    except FileNotFoundError:   # under another name, as staging finds it (a staged copy has the released names)
        return _found_elsewhere(path.parent, layout, anchor, settings)
    except (ValueError, OSError) as reason:
        return NotebookReading(problem=f"{layout.name} could not be graded: {reason}.")
    return reading_of(notebook, layout)


def _found_elsewhere(folder, layout, anchor, settings):
    """The NotebookReading of the file staging.find_notebooks takes for `layout` in `folder`, or why none."""
    try:
        found = staging.find_notebooks(folder, layout.assignment, anchor, settings)
    except (files.NotRegular, OSError):
        found = staging.Found()
    if layout.name in found.taken:
        return reading_of(found.taken[layout.name][1], layout)
    if layout.name in found.unreadable:
        candidate = found.unreadable[layout.name]
        return NotebookReading(problem=f"{layout.name} ({candidate.path}) could not be graded: {candidate.problem}.")
    others = [candidate.path for candidate in found.not_part]
    hint = f" (the folder has {', '.join(others)}: none of them holds its cells or its name)" if others else ""
    return NotebookReading(problem=f"The notebook {layout.name} is missing from the submission{hint}.")


def reading_of(notebook, layout):
    """The NotebookReading of a notebook that staging.read_notebook has read: tidied in place as
    staging tidies it, then its code taken as verification runs it. Whatever the student's metadata
    says, the answers are the cells whose grade_id the release gives a solution cell and the code
    cells the student added (not the release's own), so the similarity report reads code through
    this function too (grading.grader.similarity_report)."""
    reading = NotebookReading()
    staging.tidy(notebook, layout.released)   # what staging reports, it does not report twice
    cells = notebook.cells

    solutions = set()                                             # the solution cells present
    locked = {}                                                   # grade_id -> (cell type, source)
    for index, cell in enumerate(cells):
        cell_type, code = cell.get("cell_type"), _source(cell)
        grade_id = _nbgrader(cell).get("grade_id")
        if grade_id in layout.solutions:
            solutions.add(grade_id)
            if cell_type == "code" and code is not None:
                reading.cells.append((grade_id, code))
        elif grade_id in layout.locked:
            locked[grade_id] = (cell_type, code)
        elif cell_type == "code" and code is not None:
            if cell.get("id") in layout.demo_ids or code.strip() in layout.demo_sources:
                continue  # the release's own example cells: not the student's work
            reading.cells.append((f"added cell {index + 1}", code))
    reading.cells = [(name, code) for name, code in
                     ((name, without_magics(code)) for name, code in reading.cells) if code is not None]

    for function in layout.functions:
        if function not in solutions:
            reading.function_problems[function] = (
                f"The cell of {function} is missing from {layout.name}: it was deleted, or its nbgrader "
                "metadata was removed, so there is no answer to grade.")
    for grade_id, (_, released_source) in layout.locked.items():
        if grade_id not in locked:
            change = f"the locked cell {grade_id} was deleted"
        elif (locked[grade_id][1] or "").strip() != (released_source or "").strip():
            change = f"the locked cell {grade_id} was edited"
        else:
            continue
        change += " (nbgrader grades with the original)"
        function = function_of(grade_id)
        for name in ([function] if function in layout.functions else layout.functions):
            reading.warnings.setdefault(name, []).append(change)
    return reading
