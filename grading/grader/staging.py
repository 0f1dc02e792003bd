"""Check a submission and stage a clean copy of it for nbgrader; the one reader of submitted notebooks.

Stock `nbgrader autograde` gives up on a whole submission when one notebook is malformed or
has a duplicated cell id (nbgrader issue #1083), grades a notebook only under its released name,
and copies whatever files a student sent. Staging keeps the student's folder untouched and
writes, for each submission, a copy that nbgrader can always process: each of the assignment's
notebooks is found by what it is, not by what it is called (find_notebooks: the release's graded
cells it holds, by their grade_id, or by its name where its metadata was stripped; the newest of
two copies), and written under the assignment's own name; unreadable notebooks are left out
(nbgrader then scores that notebook 0 and grades the others), duplicated cells are left out,
retyped cells get their type back (as nbgrader itself does), stripped nbgrader metadata comes
back from the release by cell id, metadata of the wrong type is removed (a student can edit a
notebook's JSON, and nbgrader would stop on it), unexpected and oversized files stay behind.
Every such change is recorded as a problem in plain words.

find_notebooks, read_notebook and tidy are the one reader and the one policy for submitted
notebooks: staging writes what they give; verification (grading.grader.verify) reads the staged
copy through read_notebook and tidy; the similarity report (grading.grader.similarity_report) and the
intake's summary (grading.lms.intake) find a submission's notebooks through find_notebooks. So
all of them grade, compare and name the same files and cells.

Nothing in the student's folder is followed: a notebook or file that is a symbolic link, a FIFO
or a device is left out with a sentence (grading.sandboxing.files), and the copy holds regular files only.
"""
import copy
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import nbformat

from grading.assignment import COURSE_ROOT, NOTEBOOKS
from grading.course_directory import Course
from grading.sandboxing import files
from grading.settings import DEFAULTS
from grading.untrusted_text import SURROGATE_ESCAPE, encodable_data

# Its bounds (a notebook's bytes and cells, the notebooks looked into, the other files copied) are
# the course's settings (grading.settings: notebook_bytes, notebook_cells, notebook_files,
# extra_files, extra_file_bytes); every reader passes them.
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


def _read_json(path, anchor=None, settings=DEFAULTS):
    """(the JSON of the notebook file at path, its bytes), within the bounds on size and cells;
    ValueError with a reason a person can act on."""
    try:
        data = files.read_regular(path, settings.notebook_bytes, anchor=anchor)
    except files.TooLarge:
        raise ValueError(f"it is more than the {settings.notebook_bytes // 2 ** 20} MiB allowed") from None
    except files.NotRegular as error:
        raise ValueError(str(error).replace(str(path), "it")) from None
    try:
        raw = json.loads(data.decode("utf-8"))
    except Exception as error:  # bad bytes, bad JSON, or nested too deeply (RecursionError)
        raise _unreadable(error) from None
    cells = raw.get("cells") if isinstance(raw, dict) else None
    if isinstance(cells, list) and len(cells) > settings.notebook_cells:
        raise ValueError(f"it has {len(cells)} cells, more than the {settings.notebook_cells} allowed")
    return raw, data


def read_notebook(path, anchor=None, settings=DEFAULTS):
    """(the notebook at path, [a sentence for each repair of its metadata (repair_metadata)]),
    or raise ValueError with a reason a person can act on. settings -- grading.settings.GradingSettings"""
    raw, data = _read_json(path, anchor, settings)
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


# ---------------------------------------------------------------------------------- the release
@dataclass(frozen=True)
class ReleasedNotebook:
    """What staging takes from one released notebook: its graded cells (those with nbgrader metadata)."""
    name: str
    cell_types: dict    # {grade_id: cell type}
    by_cell_id: dict    # {cell id: nbgrader metadata}: a tool that strips metadata keeps cell ids


def released_notebook(release_folder, name):
    """The ReleasedNotebook of release_folder/name."""
    notebook = nbformat.read(Path(release_folder) / name, as_version=4)
    graded = [c for c in notebook.cells if "nbgrader" in c.metadata]
    return ReleasedNotebook(name, {c.metadata["nbgrader"]["grade_id"]: c.cell_type for c in graded},
                            {c["id"]: copy.deepcopy(dict(c.metadata["nbgrader"])) for c in graded if c.get("id")})


def released_notebooks(release_folder):
    """The ReleasedNotebook of each of the assignment's notebooks, in order."""
    return tuple(released_notebook(release_folder, name) for name in NOTEBOOKS)


# ---------------------------------------------------------------------------------- the policy
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


def restore_metadata(notebook, released):
    """Give a cell without nbgrader metadata whose cell id is that of one of the release's graded
    cells that release cell's metadata, when no other cell holds its grade_id (a tool that strips
    metadata keeps the cell ids; a cell the student added has an id of its own). Returns the ids."""
    present = {cell.metadata.get("nbgrader", {}).get("grade_id") for cell in notebook.cells}
    restored = []
    for cell in notebook.cells:
        metadata = released.by_cell_id.get(cell.get("id"))
        if metadata is None or "nbgrader" in cell.metadata or metadata.get("grade_id") in present:
            continue
        cell.metadata["nbgrader"] = copy.deepcopy(metadata)
        present.add(metadata.get("grade_id"))
        restored.append(metadata.get("grade_id"))
    return restored


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


def tidy(notebook, released):
    """The policy for a notebook's graded cells, in place: stripped nbgrader metadata comes back by
    cell id, the grade ids the release does not have are forgotten, the first cell of each grade id
    is kept, retyped cells get their released type back.

    released -- the ReleasedNotebook the notebook is graded as
    Returns {"restored", "forgotten", "duplicated", "retyped": [grade_id]}: what changed.
    """
    return {"restored": restore_metadata(notebook, released),
            "forgotten": forget_unknown_grade_ids(notebook, released.cell_types),
            "duplicated": deduplicate_cells(notebook),
            "retyped": restore_cell_types(notebook, released.cell_types)}


# ---------------------------------------------------------------------------------- finding the notebooks
# What browsers, Jupyter and file managers add to the name of a second copy: "x (1)", "x-Copy1",
# "x - Copy", "x copy 2"; and Canvas's "x-2" for a file sent again.
COPY_MARKS = re.compile(r"(\s*\(\d+\)|-copy\d*|\s*-\s*copy(\s*\(\d+\))?|\s+copy(\s+\d+)?|-\d+)$", re.IGNORECASE)


def plain_name(path):
    """A notebook's file name without folder, suffix, copy marks or letter case: "1_gradient_checking_1d"
    for "work/1_Gradient_Checking_1d-Copy1 (2).ipynb"."""
    stem = PurePosixPath(path).name
    stem = stem[:-len(".ipynb")] if stem.lower().endswith(".ipynb") else stem
    shorter = COPY_MARKS.sub("", stem)
    while shorter != stem:
        stem, shorter = shorter, COPY_MARKS.sub("", shorter)
    return stem.strip().casefold()


@dataclass
class Candidate:
    """A .ipynb file of a submission, and how much of each of the assignment's notebooks it holds."""
    path: str                 # relative to the submission folder, with /
    mtime: int = 0            # when it was last changed, in whole seconds (the LMS's time where make intake
                              # took it in; files copied together in one second are as new as each other)
    held: dict = field(default_factory=dict)   # {notebook name: how many of its graded cells it holds}
    problem: str = ""         # why it cannot be read ("" if it could)

    def named_as(self, name):
        return plain_name(self.path) == plain_name(name)

    def whole(self, released):
        """It holds at least half of `released`'s graded cells, or none of any and its name."""
        held = self.held.get(released.name, 0)
        return 2 * held >= len(released.cell_types) if held else \
            not any(self.held.values()) and self.named_as(released.name)

    def rank(self, released):
        """Larger is graded first: readable, then a whole copy before a part, the newest of whole
        copies (the most graded cells of parts), then the assignment's own name."""
        whole = self.whole(released)
        held = self.held.get(released.name, 0)
        return (not self.problem, whole, self.mtime if whole else held, held, self.path == released.name,
                self.mtime, self.path)


def graded_cells_held(raw, released):
    """{notebook name: how many of its graded cells the notebook JSON `raw` holds}: a cell counts by
    its nbgrader grade_id or, where its nbgrader metadata was removed, by its cell id."""
    held = {r.name: set() for r in released}
    cells = raw.get("cells") if isinstance(raw, dict) else None
    for cell in cells if isinstance(cells, list) else []:
        metadata = cell.get("metadata") if isinstance(cell, dict) else None
        if not isinstance(metadata, dict):
            continue
        grading = metadata.get("nbgrader")
        for r in released:
            if isinstance(grading, dict) and isinstance(grading.get("grade_id"), str) and grading["grade_id"] in r.cell_types:
                held[r.name].add(grading["grade_id"])
            elif "nbgrader" not in metadata and isinstance(cell.get("id"), str) and cell["id"] in r.by_cell_id:
                held[r.name].add(r.by_cell_id[cell["id"]].get("grade_id"))
    return {name: len(ids) for name, ids in held.items() if ids}


@dataclass
class Found:
    """A submission's files as find_notebooks sorted them."""
    taken: dict = field(default_factory=dict)        # {notebook: (Candidate, NotebookNode, [repair sentences])}
    passed_over: dict = field(default_factory=dict)  # {notebook: [(Candidate, why it was not graded)]}
    unreadable: dict = field(default_factory=dict)   # {notebook: Candidate}: none of its files can be read
    whole: set = field(default_factory=set)          # notebooks of which some file holds a whole copy
    not_part: list = field(default_factory=list)     # [Candidate] of none of the assignment's notebooks
    not_read: list = field(default_factory=list)     # .ipynb files beyond settings.notebook_files
    extras: list = field(default_factory=list)       # [(relative, size)] of the other regular files
    others: list = field(default_factory=list)       # [(relative, what it is)]: links, FIFOs, devices

    @property
    def missing(self):
        return [name for name in NOTEBOOKS if name not in self.taken and name not in self.unreadable]

    def choice(self, name):
        """The sentence that says which file is graded as the notebook `name`, when it is not the
        file of that name alone: "a (1).ipynb graded as a.ipynb; not graded: a.ipynb (older)."."""
        if name not in self.taken:
            return ""
        taken, passed = self.taken[name][0], self.passed_over.get(name, [])
        if taken.path == name and not passed:
            return ""
        sentence = f"{taken.path} graded as {name}" if taken.path != name else f"{name} graded"
        if taken.path != name and not passed:
            return sentence + (" (found by its cells)." if taken.held.get(name) else " (found by its name).")
        return sentence + "; not graded: " + ", ".join(f"{c.path} ({why})" for c, why in passed) + "."


def _candidate(folder, relative, released, anchor, settings):
    candidate = Candidate(relative)
    try:
        candidate.mtime = os.stat(Path(folder) / relative, follow_symlinks=False).st_mtime_ns // 10 ** 9
        raw, _ = _read_json(Path(folder) / relative, anchor, settings)
    except (ValueError, OSError) as why:
        candidate.problem = str(why) if isinstance(why, ValueError) else f"it cannot be read ({why.strerror})"
        return candidate
    candidate.held = graded_cells_held(raw, released)
    return candidate


def _why_not(candidate, taken, released):
    if candidate.problem:
        return candidate.problem
    if candidate.whole(released) and taken.whole(released):
        return "older" if candidate.mtime < taken.mtime else "a copy as new as it"
    return "it holds fewer of the notebook's cells"


def find_notebooks(folder, released, anchor=None, settings=DEFAULTS):
    """Which file of the submission `folder` is graded as each of the assignment's notebooks.

    released -- released_notebooks(the release folder)
    settings -- grading.settings.GradingSettings: the bounds of what is read
    A .ipynb file is taken for the notebook whose graded cells it holds most of (by grade_id, or by
    cell id where its nbgrader metadata was stripped), or, holding none, for the notebook whose name
    it has (copy marks such as " (1)" or "-Copy1" aside). Of several files for one notebook the
    newest whole copy (Candidate.rank) that read_notebook can read is graded; the others are named.
    Returns Found; raises files.NotRegular if `folder` is a link.
    """
    folder = Path(folder)
    found = Found()
    try:
        present, found.others = files.regular_files(folder, skip=SKIPPED, anchor=anchor)
    except FileNotFoundError:
        return found
    notebooks = sorted((relative for relative, _ in present if relative.lower().endswith(".ipynb")),
                       key=lambda relative: (relative not in NOTEBOOKS, relative))
    found.extras = [(relative, size) for relative, size in present if not relative.lower().endswith(".ipynb")]
    found.not_read = notebooks[settings.notebook_files:]
    by_notebook = {r.name: [] for r in released}
    for relative in notebooks[:settings.notebook_files]:
        candidate = _candidate(folder, relative, released, anchor, settings)
        best = max(released, key=lambda r: (candidate.held.get(r.name, 0), candidate.named_as(r.name)))
        if candidate.held.get(best.name) or candidate.named_as(best.name):
            by_notebook[best.name].append(candidate)
        else:
            found.not_part.append(candidate)
    for r in released:
        ranked = sorted(by_notebook[r.name], key=lambda c: c.rank(r), reverse=True)
        found.whole.update(r.name for c in ranked if c.whole(r))
        for candidate in ranked:
            if candidate.problem:
                continue
            try:
                notebook, repaired = read_notebook(folder / candidate.path, anchor, settings)
            except (ValueError, OSError) as why:   # OSError: gone since it was listed
                candidate.problem = str(why) if isinstance(why, ValueError) else f"it cannot be read ({why.strerror})"
                continue
            found.taken[r.name] = (candidate, notebook, repaired)
            found.passed_over[r.name] = [(c, _why_not(c, candidate, r)) for c in ranked if c is not candidate]
            break
        else:
            if ranked:
                found.unreadable[r.name] = ranked[0]
    return found


# ---------------------------------------------------------------------------------- staging
def stage(submission, destination, release_folder=None, anchor=None, destination_anchor=None, settings=DEFAULTS):
    """Stage the submission folder `submission` into `destination` (replaced); return Staged.

    Each of the assignment's notebooks is written under its own name, from the file find_notebooks
    takes for it, whatever that file is called.
    release_folder -- the assignment as released (default: this repository's course's)
    settings -- grading.settings.GradingSettings: the bounds of what is read and copied
    anchor, destination_anchor -- trusted folders that hold the submission (submitted/) and the
              destination: no folder between them may be a link (grading.sandboxing.files.open_folder)
    """
    submission, destination = Path(submission), Path(destination)
    destination_anchor = Path(destination_anchor or destination.parent)
    files.remove_tree(destination, anchor=destination_anchor)
    files.make_folders(destination_anchor, destination.relative_to(destination_anchor))
    staged = Staged(destination)
    released = released_notebooks(release_folder or Course(COURSE_ROOT).release())
    try:
        found = find_notebooks(submission, released, anchor, settings)
    except files.NotRegular:
        staged.problems.append("The submission folder is a symbolic link: nothing in it was graded.")
        return staged
    for relative, what in found.others:
        staged.problems.append(f"{relative} is {what}: it was not read.")
    for r in released:
        name = r.name
        if found.choice(name):
            staged.problems.append(found.choice(name))
        if name in found.unreadable:
            candidate = found.unreadable[name]
            which = name if candidate.path == name else f"{candidate.path} (the file for {name})"
            staged.problems.append(f"{which} could not be graded: {candidate.problem}. Its functions score 0.")
            continue
        if name not in found.taken:
            if not any(relative == name for relative, _ in found.others):
                staged.problems.append(f"{name} is missing: its functions score 0.")
            continue
        _, notebook, repaired = found.taken[name]
        staged.problems.extend(f"{name}: {sentence}." for sentence in repaired)
        changed = tidy(notebook, r)
        if changed["restored"]:
            staged.problems.append(f"{name} had lost the nbgrader metadata of {len(changed['restored'])} cells: "
                                   "it was given back from the assignment, by their cell ids.")
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
    for candidate in found.not_part:
        staged.problems.append(f"{candidate.path} is not part of the assignment and was not graded"
                               + (f" ({candidate.problem})." if candidate.problem else "."))
    for relative in found.not_read:
        staged.problems.append(f"{relative} was not looked into: only {settings.notebook_files} notebooks of a "
                               "submission are.")
    copied = 0
    for relative, size in found.extras:
        if size > settings.extra_file_bytes:
            staged.problems.append(f"{relative} is larger than {settings.extra_file_bytes // 2 ** 20} MiB and was left out.")
        elif copied >= settings.extra_files:
            staged.problems.append(f"{relative} was left out: only {settings.extra_files} files besides the notebooks "
                                   "are copied.")
        else:
            try:
                data = files.read_regular(submission / relative, settings.extra_file_bytes, anchor=anchor)
            except (files.NotRegular, files.TooLarge, OSError) as error:
                staged.problems.append(f"{relative} was left out: {error}.")
                continue
            (destination / relative).parent.mkdir(parents=True, exist_ok=True)
            files.write_new(destination / relative, data)
            copied += 1
    return staged
