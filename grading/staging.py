"""Check a submission and stage a clean copy of it for nbgrader.

Stock `nbgrader autograde` gives up on a whole submission when one notebook is malformed or
has a duplicated cell id (nbgrader issue #1083), and copies whatever files a student sent.
Staging keeps the student's folder untouched and writes, for each submission, a copy that
nbgrader can always process: unreadable notebooks are left out (nbgrader then scores that
notebook 0 and grades the others), duplicated cells are left out, retyped cells get their type
back (as nbgrader itself does), unexpected
and oversized files stay behind. Every such change is recorded as a problem in plain words.

Nothing in the student's folder is followed: a notebook or file that is a symbolic link, a FIFO
or a device is left out with a sentence (grading.files), and the copy holds regular files only.
"""
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from . import files
from .build_reference import NOTEBOOKS
from .provided import ASSIGNMENT, COURSE_ROOT

MAX_EXTRA_FILE_BYTES = 5 * 2 ** 20
MAX_EXTRA_FILES = 50                  # files besides the notebooks that are copied
MAX_NOTEBOOK_BYTES = 20 * 2 ** 20
MAX_CELLS = 1000                      # the assignment's notebooks have about 40 cells each
SKIPPED = (".ipynb_checkpoints", "__pycache__", ".DS_Store")


@dataclass
class Staged:
    """What staging found; `problems` are sentences for the instructor and the student."""
    folder: Path
    notebooks: list = field(default_factory=list)   # notebook names that nbgrader will grade
    problems: list = field(default_factory=list)


def read_notebook(path, anchor=None):
    """The notebook at path, or raise ValueError with a reason a person can act on."""
    try:
        data = files.read_regular(path, MAX_NOTEBOOK_BYTES, anchor=anchor)
    except files.TooLarge:
        raise ValueError(f"it is more than the {MAX_NOTEBOOK_BYTES // 2 ** 20} MiB allowed") from None
    except files.NotRegular as error:
        raise ValueError(str(error).replace(str(path), "it")) from None
    try:
        notebook = nbformat.reads(data.decode("utf-8"), as_version=4)
    except Exception as error:  # nbformat raises several kinds for broken JSON
        raise ValueError(f"it is not a readable notebook ({type(error).__name__}: {str(error)[:200]})") from None
    cells = notebook.get("cells")
    if isinstance(cells, list) and len(cells) > MAX_CELLS:
        raise ValueError(f"it has {len(cells)} cells, more than the {MAX_CELLS} allowed")
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


def stage(submission, destination, release_folder=COURSE_ROOT / "release" / ASSIGNMENT, anchor=None,
          destination_anchor=None):
    """Stage the submission folder `submission` into `destination` (replaced); return Staged.

    anchor, destination_anchor -- trusted folders that hold the submission (submitted/) and the
              destination: no folder between them may be a link (grading.files.open_folder)
    """
    submission, destination = Path(submission), Path(destination)
    destination_anchor = Path(destination_anchor or destination.parent)
    files.remove_tree(destination, anchor=destination_anchor)
    files.make_folders(destination_anchor, destination.relative_to(destination_anchor))
    staged = Staged(destination)
    try:
        present, others = files.regular_files(submission, skip=SKIPPED, anchor=anchor)
    except files.NotRegular:
        staged.problems.append("The submission folder is a symbolic link: nothing in it was graded.")
        return staged
    except FileNotFoundError:
        present, others = [], []
    present = dict(present)
    for relative, what in others:
        staged.problems.append(f"{relative} is {what}: it was not read.")
    for name in NOTEBOOKS:
        if name not in present:
            if not any(relative == name for relative, _ in others):
                staged.problems.append(f"{name} is missing: its functions score 0.")
            continue
        try:
            notebook = read_notebook(submission / name, anchor)
        except ValueError as reason:
            staged.problems.append(f"{name} could not be graded: {reason}. Its functions score 0.")
            continue
        for grade_id in deduplicate_cells(notebook):
            staged.problems.append(f"{name} has more than one cell '{grade_id}': only the first one is graded.")
        for grade_id in restore_cell_types(notebook, release_cell_types(release_folder, name)):
            staged.problems.append(f"{name}: the cell '{grade_id}' had been changed to another type; "
                                   "it is graded as the type it has in the assignment.")
        files.write_new(destination / name, nbformat.writes(notebook).encode("utf-8"))
        staged.notebooks.append(name)
    extras = [(relative, size) for relative, size in present.items() if relative not in NOTEBOOKS]
    copied = 0
    for relative, size in extras:
        if relative.endswith(".ipynb"):
            staged.problems.append(f"{relative} is not part of the assignment and was not graded.")
        elif size > MAX_EXTRA_FILE_BYTES:
            staged.problems.append(f"{relative} is larger than {MAX_EXTRA_FILE_BYTES // 2 ** 20} MiB and was left out.")
        elif copied >= MAX_EXTRA_FILES:
            staged.problems.append(f"{relative} was left out: only {MAX_EXTRA_FILES} files besides the notebooks are copied.")
        else:
            try:
                data = files.read_regular(submission / relative, MAX_EXTRA_FILE_BYTES, anchor=anchor)
            except (files.NotRegular, files.TooLarge, OSError) as error:
                staged.problems.append(f"{relative} was left out: {error}.")
                continue
            (destination / relative).parent.mkdir(parents=True, exist_ok=True)
            files.write_new(destination / relative, data)
            copied += 1
    return staged
