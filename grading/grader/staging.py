"""Check a submission and stage a clean copy of it for nbgrader; the one reader of submitted notebooks.

Stock `nbgrader autograde` gives up on a whole submission when one notebook is malformed or
has a duplicated cell id (nbgrader issue #1083), and copies whatever files a student sent.
Staging keeps the student's folder untouched and writes, for each submission, a copy that
nbgrader can always process: unreadable notebooks are left out (nbgrader then scores that
notebook 0 and grades the others), duplicated cells are left out, retyped cells get their type
back (as nbgrader itself does), metadata of the wrong type is removed (a student can
edit a notebook's JSON, and nbgrader would stop on it), unexpected and oversized files stay
behind. Every such change is recorded as a problem in plain words.

read_notebook and tidy are the one reader and the one policy for a submitted notebook: staging
writes what they give, and verification (grading.grader.verify) reads a notebook through them too,
so that both grade the same cells (the first of duplicated cells, retyped cells as released).

Nothing in the student's folder is followed: a notebook or file that is a symbolic link, a FIFO
or a device is left out with a sentence (grading.sandboxing.files), and the copy holds regular files only.
"""
import json
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from grading.assignment import ASSIGNMENT, COURSE_ROOT, NOTEBOOKS
from grading.sandboxing import files
from grading.untrusted_text import SURROGATE_ESCAPE, encodable_data

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


# Notebook metadata that nbformat's schema or nbgrader reads as an object.
OBJECT_METADATA = ("kernelspec", "language_info", "nbgrader")


def repair_metadata(notebook):
    """Remove metadata of the wrong type, in place: a notebook's kernelspec, language_info or nbgrader
    entry that is not an object, and a cell's nbgrader entry that is not an object or whose
    grade_id is not a string (that cell is then an ordinary cell). Returns sentences saying what."""
    said = []
    metadata = notebook.get("metadata")
    if not isinstance(metadata, dict):
        notebook["metadata"] = {}
        said.append("its metadata was not an object and was removed")
    else:
        for key in OBJECT_METADATA:
            if key in metadata and not isinstance(metadata[key], dict):
                del metadata[key]
                said.append(f"its '{key}' metadata was not an object and was removed")
    for index, cell in enumerate(notebook.get("cells") or []):
        if not isinstance(cell, dict):
            continue   # nbformat's validation names it
        if not isinstance(cell.get("metadata"), dict):
            cell["metadata"] = {}
            said.append(f"cell {index + 1}'s metadata was not an object and was removed")
            continue
        grading = cell["metadata"].get("nbgrader")
        if "nbgrader" in cell["metadata"] and not (isinstance(grading, dict) and isinstance(grading.get("grade_id", ""), str)):
            del cell["metadata"]["nbgrader"]
            said.append(f"cell {index + 1}'s nbgrader metadata had the wrong type and was removed; "
                        "that cell was graded as an ordinary cell")
    return said


def _unreadable(error):
    return ValueError(f"it is not a readable notebook ({type(error).__name__}: {str(error)[:200]})")


def read_notebook(path, anchor=None):
    """(the notebook at path, [a sentence for each repair of its metadata (repair_metadata)]),
    or raise ValueError with a reason a person can act on."""
    try:
        data = files.read_regular(path, MAX_NOTEBOOK_BYTES, anchor=anchor)
    except files.TooLarge:
        raise ValueError(f"it is more than the {MAX_NOTEBOOK_BYTES // 2 ** 20} MiB allowed") from None
    except files.NotRegular as error:
        raise ValueError(str(error).replace(str(path), "it")) from None
    try:
        raw = json.loads(data.decode("utf-8"))
    except Exception as error:  # bad bytes, bad JSON, or nested too deeply (RecursionError)
        raise _unreadable(error) from None
    cells = raw.get("cells") if isinstance(raw, dict) else None
    if isinstance(cells, list) and len(cells) > MAX_CELLS:
        raise ValueError(f"it has {len(cells)} cells, more than the {MAX_CELLS} allowed")
    said = repair_metadata(raw) if isinstance(raw, dict) else []   # before nbformat, which trips on them
    if SURROGATE_ESCAPE.search(data):
        before = json.dumps(raw)
        raw = encodable_data(raw)
        if json.dumps(raw) != before:
            said.append("text in it that is not valid Unicode (a lone surrogate, such as \\ud800) was replaced by \ufffd")
    try:
        notebook = nbformat.reads(json.dumps(raw), as_version=4)
    except Exception as error:  # nbformat raises several kinds for what is not a notebook
        raise _unreadable(error) from None
    try:
        nbformat.validate(notebook)
    except nbformat.ValidationError as error:
        raise ValueError(f"it is not a valid notebook ({str(error).splitlines()[0][:200]})") from None
    return notebook, said


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


def forget_unknown_grade_ids(notebook, cell_types):
    """Remove the nbgrader metadata of cells whose grade_id the release does not have (nbgrader would
    look for them in the gradebook and stop); those cells are then ordinary ones. Returns the ids."""
    forgotten = []
    for cell in notebook.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id is not None and grade_id not in cell_types:
            del cell.metadata["nbgrader"]
            forgotten.append(grade_id)
    return forgotten


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


def tidy(notebook, cell_types):
    """The policy for a notebook's graded cells, in place: the grade ids the release does not have are
    forgotten, the first cell of each grade id is kept, retyped cells get their released type back.

    cell_types -- {grade_id: cell type} of the released notebook (release_cell_types)
    Returns {"forgotten": [grade_id], "duplicated": [grade_id], "retyped": [grade_id]}: what changed.
    """
    return {"forgotten": forget_unknown_grade_ids(notebook, cell_types),
            "duplicated": deduplicate_cells(notebook),
            "retyped": restore_cell_types(notebook, cell_types)}


def release_cell_types(release_folder, name):
    """{grade_id: cell type} of the released notebook `name`."""
    notebook = nbformat.read(Path(release_folder) / name, as_version=4)
    return {c.metadata["nbgrader"]["grade_id"]: c.cell_type for c in notebook.cells if "nbgrader" in c.metadata}


def stage(submission, destination, release_folder=COURSE_ROOT / "release" / ASSIGNMENT, anchor=None,
          destination_anchor=None):
    """Stage the submission folder `submission` into `destination` (replaced); return Staged.

    anchor, destination_anchor -- trusted folders that hold the submission (submitted/) and the
              destination: no folder between them may be a link (grading.sandboxing.files.open_folder)
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
            notebook, repaired = read_notebook(submission / name, anchor)
        except ValueError as reason:
            staged.problems.append(f"{name} could not be graded: {reason}. Its functions score 0.")
            continue
        staged.problems.extend(f"{name}: {sentence}." for sentence in repaired)
        changed = tidy(notebook, release_cell_types(release_folder, name))
        for grade_id in changed["forgotten"]:
            staged.problems.append(f"{name}: a cell claimed the grade id '{grade_id}', which the assignment does "
                                   "not have; it was graded as an ordinary cell.")
        for grade_id in changed["duplicated"]:
            staged.problems.append(f"{name} has more than one cell '{grade_id}': only the first one is graded.")
        for grade_id in changed["retyped"]:
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
