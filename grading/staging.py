"""Check a submission and stage a clean copy of it for nbgrader.

Stock `nbgrader autograde` gives up on a whole submission when one notebook is malformed or
has a duplicated cell id (nbgrader issue #1083), and copies whatever files a student sent.
Staging keeps the student's folder untouched and writes, for each submission, a copy that
nbgrader can always process: unreadable notebooks are left out (nbgrader then scores that
notebook 0 and grades the others), duplicated cells are left out, retyped cells get their type
back (as nbgrader itself does), unexpected
and oversized files stay behind. Every such change is recorded as a problem in plain words.
"""
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from .build_reference import NOTEBOOKS
from .provided import ASSIGNMENT, COURSE_ROOT

MAX_EXTRA_FILE_BYTES = 5 * 2 ** 20
MAX_NOTEBOOK_BYTES = 20 * 2 ** 20


@dataclass
class Staged:
    """What staging found; `problems` are sentences for the instructor and the student."""
    folder: Path
    notebooks: list = field(default_factory=list)   # notebook names that nbgrader will grade
    problems: list = field(default_factory=list)


def read_notebook(path):
    """The notebook at path, or raise ValueError with a reason a person can act on."""
    size = path.stat().st_size
    if size > MAX_NOTEBOOK_BYTES:
        raise ValueError(f"it is {size / 2 ** 20:.0f} MiB, more than the {MAX_NOTEBOOK_BYTES // 2 ** 20} MiB allowed")
    try:
        notebook = nbformat.read(path, as_version=4)
    except Exception as error:  # nbformat raises several kinds for broken JSON
        raise ValueError(f"it is not a readable notebook ({type(error).__name__}: {str(error)[:200]})") from None
    try:
        nbformat.validate(notebook)
    except nbformat.ValidationError as error:
        raise ValueError(f"it is not a valid notebook ({str(error).splitlines()[0][:200]})") from None
    return notebook


def deduplicate_cells(notebook):
    """Keep the first cell of each grade_id and leave later copies out. Returns the duplicated ids."""
    seen, kept, duplicated = set(), [], []
    for cell in notebook.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in seen:
            duplicated.append(grade_id)
            continue
        if grade_id is not None:
            seen.add(grade_id)
        kept.append(cell)
    notebook.cells = kept
    return duplicated


def restore_cell_types(notebook, cell_types):
    """Give graded cells back the type they have in the release (as nbgrader does). Returns the ids."""
    restored = []
    for index, cell in enumerate(notebook.cells):
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        wanted = cell_types.get(grade_id)
        if wanted and cell.cell_type != wanted:
            make = nbformat.v4.new_code_cell if wanted == "code" else nbformat.v4.new_markdown_cell
            notebook.cells[index] = make(cell.source, metadata=cell.metadata, id=cell.get("id"))
            restored.append(grade_id)
    return restored


def release_cell_types(release_folder, name):
    """{grade_id: cell type} of the released notebook `name`."""
    notebook = nbformat.read(Path(release_folder) / name, as_version=4)
    return {c.metadata["nbgrader"]["grade_id"]: c.cell_type for c in notebook.cells if "nbgrader" in c.metadata}


def stage(submission, destination, release_folder=COURSE_ROOT / "release" / ASSIGNMENT):
    """Stage the submission folder `submission` into `destination` (replaced); return Staged."""
    submission, destination = Path(submission), Path(destination)
    if destination.exists():
        shutil.rmtree(destination)
    destination.mkdir(parents=True)
    staged = Staged(destination)
    for name in NOTEBOOKS:
        path = submission / name
        if not path.is_file():
            staged.problems.append(f"{name} is missing: its functions score 0.")
            continue
        try:
            notebook = read_notebook(path)
        except ValueError as reason:
            staged.problems.append(f"{name} could not be graded: {reason}. Its functions score 0.")
            continue
        for grade_id in deduplicate_cells(notebook):
            staged.problems.append(f"{name} has more than one cell '{grade_id}': only the first one is graded.")
        for grade_id in restore_cell_types(notebook, release_cell_types(release_folder, name)):
            staged.problems.append(f"{name}: the cell '{grade_id}' had been changed to another type; "
                                   "it is graded as the type it has in the assignment.")
        nbformat.write(notebook, destination / name)
        staged.notebooks.append(name)
    for path in sorted(submission.rglob("*")):
        relative = path.relative_to(submission)
        if not path.is_file() or path.is_symlink() or relative.as_posix() in NOTEBOOKS:
            continue
        if path.suffix == ".ipynb":
            staged.problems.append(f"{relative} is not part of the assignment and was not graded.")
        elif relative.name == "timestamp.txt" or path.stat().st_size <= MAX_EXTRA_FILE_BYTES:
            (destination / relative).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, destination / relative)
        else:
            staged.problems.append(f"{relative} is larger than {MAX_EXTRA_FILE_BYTES // 2 ** 20} MiB and was left out.")
    return staged
