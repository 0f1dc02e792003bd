"""What the LMS tests hand the course: downloads shaped as Canvas and Moodle shape them, their
rosters, the synthetic work in them, and the course's own `make` to take them in.

    from lms_downloads import canvas_member, make, make_download, notebook_bytes, work

    members = {canvas_member("lovelaceada", 101, 7001, NB1): (notebook_bytes(work("complete")[NB1]), when)}
    download = make_download(folder / "submissions (1).zip", members)
    make(root, "intake", f"ZIP={download}", f"ROSTER={roster}")

A member carries the time the LMS gave the file (a local time, which intake reads in the
course's zone): it is the submission time that grading charges lateness by.
"""
import csv
import subprocess
import zipfile
from pathlib import Path

import nbformat

from commands import VENV_BIN, command_env
from grading.assignment import NOTEBOOKS
from synthetic_class import catalog, demo, synthetic

REPOSITORY = Path(__file__).resolve().parent.parent   # its Makefile
NB1, NB2 = NOTEBOOKS


def work(kind):
    """{notebook name: NotebookNode} of one kind of work: "complete", "blank", "mistake" (a one-sided
    difference in gradient_check: 0 of its 20 points), "partly" (gradient_check prints nothing: 15
    of its 20 points, 95 in all), "crashing" (a kernel that dies in gradient_check_by_parameter:
    flagged by verification, 80) or "part one" (notebook 1 alone, complete: 30)."""
    if kind == "crashing":
        return demo.hub_kinds()["crashing"]
    if kind in ("mistake", "partly"):
        mistake = catalog.by_name("one_sided_1d" if kind == "mistake" else "gc_prints_never")
        return synthetic.submission({mistake.cell: mistake.code})
    notebooks = synthetic.submission(complete=kind != "blank")
    return {NB1: notebooks[NB1]} if kind == "part one" else notebooks


def notebook_bytes(notebook):
    return nbformat.writes(notebook).encode()


def stripped(data):
    """A notebook's bytes with its metadata stripped as nbconvert's ClearMetadataPreprocessor strips
    it (every cell's, nbgrader's included, and the notebook's); the cell ids stay."""
    from nbconvert.preprocessors import ClearMetadataPreprocessor
    notebook, _ = ClearMetadataPreprocessor().preprocess(nbformat.reads(data.decode(), as_version=4), {})
    return notebook_bytes(notebook)


def canvas_member(name, lms_id, attachment, file, late=False):
    """A file's name in Canvas's download: <sortable name>_[LATE_]<user id>_<attachment id>_<file>."""
    return f"{name}_{'LATE_' if late else ''}{lms_id}_{attachment}_{file}"


def moodle_member(full_name, participant, file):
    """A file's name in Moodle's download: a folder per participant, <Full name>_<participant
    id>_assignsubmission_file_/<file>."""
    return f"{full_name}_{participant}_assignsubmission_file_/{file}"


def make_download(path, members):
    """A zip at `path` holding {member name: (bytes, the time the LMS gave it)}."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, (data, when) in members.items():
            archive.writestr(zipfile.ZipInfo(name, date_time=when), data)
    return path


def write_csv(path, rows, encoding="utf-8"):
    """A roster as the LMS writes it; encoding "utf-8-sig" is Excel's "CSV UTF-8" (a byte order mark)."""
    with open(path, "w", newline="", encoding=encoding) as handle:
        csv.writer(handle).writerows(rows)
    return path


def make(root, target, *settings, answer=None, check=True):
    """The repository's `make <target> SETTING=...` on the course at `root`, run in it as an
    instructor runs it there (GRADING_COURSE_ROOT names it to the commands), with this test run's
    .venv (commands.command_env); `answer` is its stdin (None: an empty one). Asserts that it
    succeeded unless check=False."""
    stdin = {"input": answer} if answer is not None else {"stdin": subprocess.DEVNULL}
    done = subprocess.run(["make", "-s", "-C", str(root), "-f", str(REPOSITORY / "Makefile"), f"BIN={VENV_BIN}",
                           "-o", f"{VENV_BIN}/.installed", target, *settings],
                          env=command_env(GRADING_COURSE_ROOT=str(root)), capture_output=True, text=True, **stdin)
    assert not check or done.returncode == 0, f"make {target}:\n{done.stdout}\n{done.stderr}"
    return done
