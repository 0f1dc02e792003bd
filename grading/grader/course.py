"""Drive a course directory with the stock nbgrader commands, and read its gradebook.

Every step is the real `nbgrader` command line, run with the course directory as working
directory, so what the demo and the tests do is exactly what an instructor would type.
"""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat

from grading.assignment import ASSIGNMENT, COURSE_ROOT, function_of
from grading.course_directory import Course


def points_per_function(course=COURSE_ROOT):
    """{function name: points of its test cell}, read from the source notebooks' metadata."""
    points = {}
    for path in sorted(Course.of(course).source().glob("*.ipynb")):
        for cell in nbformat.read(path, as_version=4).cells:
            meta = cell.metadata.get("nbgrader", {})
            if meta.get("grade") and function_of(meta.get("grade_id", "")):
                points[function_of(meta["grade_id"])] = float(meta["points"])
    return points


def nbgrader(root, *args, check=True, prefix=()):
    """Run `nbgrader <args>` in the course directory `root`; return the CompletedProcess.
    prefix -- words before the command (a benchmark runs it in a cgroup this way)"""
    env = dict(os.environ)
    bin_dir = str(Path(sys.executable).parent)
    env["PATH"] = bin_dir + os.pathsep + env.get("PATH", "")  # nbgrader calls `alembic` by name
    command = [*prefix, os.path.join(bin_dir, "nbgrader"), *args]
    result = subprocess.run(command, cwd=root, env=env, capture_output=True, text=True)
    if check and result.returncode != 0:
        raise RuntimeError(f"nbgrader {' '.join(args)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result


def make_course_copy(destination, origin=COURSE_ROOT):
    """A fresh course directory with the source notebooks and config of `origin`, and no student data."""
    origin, destination = Course.of(origin), Path(destination)
    destination.mkdir(parents=True, exist_ok=True)
    copy = origin.at(destination)
    shutil.copytree(origin.folder("source"), copy.folder("source"),
                    ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
    shutil.copy(origin.config_file, copy.config_file)
    return destination


def generate_release(root):
    nbgrader(root, "generate_assignment", ASSIGNMENT, "--force")


def autograde(root, *extra, prefix=()):
    return nbgrader(root, "autograde", ASSIGNMENT, *extra, prefix=prefix)


def add_submission(root, student, notebooks):
    """Write {notebook file name: NotebookNode} as student's submission in submitted/ (nbgrader's
    default name: the course's configuration is not run, a test may have changed it)."""
    folder = Course.with_default_names(root).submitted(student)
    folder.mkdir(parents=True, exist_ok=True)
    for name, notebook in notebooks.items():
        nbformat.write(notebook, folder / name)
    return folder


def scores(root, db_url=None, auto=False, student=None):
    """{student: {function name: points}} for every graded test cell in the gradebook.

    auto -- the points of nbgrader's own run (auto_score) instead of the final ones, in which
            a manual score (the verified one, where grading.grader.verify overrode nbgrader) wins
    student -- only this student's row (an empty table if they have no submission)
    """
    from nbgrader.api import Gradebook, MissingEntry

    table = {}
    with Gradebook(db_url or Course.of(root).sqlite_gradebook) as gradebook:
        try:
            submissions = [gradebook.find_submission(ASSIGNMENT, student)] if student \
                else gradebook.find_assignment(ASSIGNMENT).submissions
        except MissingEntry:
            return table
        for submission in submissions:
            row = table.setdefault(submission.student.id, {})
            for notebook in submission.notebooks:
                for grade in notebook.grades:
                    function = function_of(grade.name) or grade.name
                    row[function] = float(grade.auto_score or 0) if auto else float(grade.score)
    return table


def cell_output(root, student, notebook_name, grade_id):
    """All text that the graded copy of a cell printed or raised (what the student's feedback shows)."""
    path = Course.with_default_names(root).autograded(student) / notebook_name
    notebook = nbformat.read(path, as_version=4)
    for cell in notebook.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == grade_id:
            parts = []
            for output in cell.get("outputs", []):
                if output.output_type == "stream":
                    parts.append(output.text)
                elif output.output_type == "error":
                    parts.append(f"{output.ename}: {output.evalue}")
            return "\n".join(parts)
    raise KeyError(f"no cell {grade_id} in {path}")
