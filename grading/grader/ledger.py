"""The grader's own records in the course folder: finished grades, and what verification wrote.

The ledger makes grading resumable and safe to kill. One small JSON file per student in
.grading/ledger/, written (atomically) only after the gradebook holds that student's grade. It
keeps the fingerprint of what was graded: the submitted files, the grader (source notebooks,
hidden tests, configuration) and the gradebook. A later run grades a student again only when one
of the three changed, or with --force.

VerifiedScores remembers, per student and function, the manual score and comment that
verification last wrote into the gradebook, so that grading.grader.verify can tell its own
override from an instructor's (nbgrader's gradebook does not say who set a manual score).

Both live in the course folder, which every worker shares (Dask workers on other machines too),
one file per student (one worker grades a student at a time), each written whole and renamed into
place: a run killed at any moment leaves each file either whole or absent, never half written.
"""
import hashlib
import json
import os
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from grading.assignment import PACKAGE
from grading.course_directory import STATE, Course
from grading.results import Result
from grading.sandboxing import files

LEDGER = f"{STATE}/ledger"
VERIFIED = f"{STATE}/verified"   # VerifiedScores
MAX_HASHED_BYTES = 256 * 2 ** 20   # a submitted file larger than this counts by its name only
MAX_RECORD_BYTES = 16 * 2 ** 20    # a ledger entry or VerifiedScores file larger than this is not read
SKIPPED_NAMES = {".ipynb_checkpoints", "__pycache__", ".DS_Store"}
# Modules of the grading package that organise a run but decide no grade: changing them keeps
# the grades current. Every other module (hidden tests, verification, sandbox, ...) counts.
ORGANISING_MODULES = {"autograde.py", "build_reference.py", "course.py", "course_directory.py", "gradebook.py",
                      "intake.py", "ledger.py", "report.py", "runners.py"}


def _hash_files(digest, folder, pattern="*", leave_out=()):
    folder = Path(folder)
    for path in sorted(folder.rglob(pattern)):
        if path.is_file() and not (SKIPPED_NAMES | set(leave_out)) & set(path.relative_to(folder).parts):
            digest.update(path.relative_to(folder).as_posix().encode() + b"\0")
            digest.update(hashlib.sha256(path.read_bytes()).digest())


def submission_fingerprint(course, student):
    """sha256 of the names and contents of every file in submitted/<student>/<assignment>/.

    The folder is the student's: its files are read without following links (grading.sandboxing.files),
    and what is not a regular file counts by its name and kind.
    """
    course = Course.of(course)
    digest = hashlib.sha256()
    folder, anchor = course.submitted(student), course.folder("submitted")
    try:
        regular, others = files.regular_files(folder, skip=SKIPPED_NAMES, anchor=anchor)
    except (files.NotRegular, FileNotFoundError) as error:
        digest.update(f"unreadable: {type(error).__name__}".encode())
        return digest.hexdigest()
    for relative, _ in regular:   # names as the OS has them: a name that is not UTF-8 is fine
        digest.update(os.fsencode(relative) + b"\0")
        try:
            data = files.read_regular(folder / relative, MAX_HASHED_BYTES, anchor=anchor)
            digest.update(hashlib.sha256(data).digest())
        except (files.NotRegular, files.TooLarge, OSError) as error:
            digest.update(f"unreadable: {type(error).__name__}".encode())
    for relative, what in others:
        digest.update(os.fsencode(f"{relative}\0{what}"))
    return digest.hexdigest()


def grader_fingerprint(course):
    """sha256 of what decides a grade: the source assignment, the grading modules, the config."""
    course = Course.of(course)
    digest = hashlib.sha256()
    _hash_files(digest, course.source())
    _hash_files(digest, PACKAGE, "*.py", leave_out=ORGANISING_MODULES)
    digest.update(course.config_file.read_bytes())
    return digest.hexdigest()


def write_whole(root, relative, data):
    """Write `data` as JSON to root/relative: into a new file of this host and process, then renamed
    over the old one, so that a reader on any machine sharing the folder sees the old file or the
    new one, whole. The folders are made or entered, and the file made, without following a link
    (grading.sandboxing.files): under `make hub-autograde`, root grades in a course folder that the
    instructor's account can write."""
    relative = Path(relative)
    files.make_folders(root, relative.parent)
    fd = files.open_folder(Path(root) / relative.parent, anchor=root)
    try:
        temporary = f".{relative.name}.{os.uname().nodename}.{os.getpid()}.tmp"
        try:
            os.unlink(temporary, dir_fd=fd)   # left by a killed process of the same id
        except FileNotFoundError:
            pass
        files.write_new(temporary, json.dumps(data, indent=1).encode(), dir_fd=fd)
        os.replace(temporary, relative.name, src_dir_fd=fd, dst_dir_fd=fd)
    finally:
        os.close(fd)


def read_whole(root, relative):
    """The JSON data at root/relative, or None: absent, unreadable, or not a regular file (a link is
    not followed)."""
    try:
        return json.loads(files.read_regular(Path(root) / relative, MAX_RECORD_BYTES, anchor=root))
    except (OSError, ValueError):   # files.NotRegular and files.TooLarge are ValueErrors
        return None


def public_url(db_url):
    """The gradebook URL without its password, fit to print and to store."""
    parts = urlsplit(db_url)
    if parts.password is None:
        return db_url
    host = parts.hostname + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=f"{parts.username}:***@{host}"))


class Ledger:
    """Finished grades of one course directory, for one gradebook and one version of the grader."""

    def __init__(self, course, db_url):
        self.course = Course.of(course)
        self.root = self.course.root
        self.gradebook = public_url(db_url)
        self.grader = grader_fingerprint(self.course)

    def entry(self, student):
        return read_whole(self.root, f"{LEDGER}/{student}.json")

    def is_current(self, student, fingerprint=None):
        """True if this student's submission, as it is now, was graded by this grader into this gradebook."""
        entry = self.entry(student)
        return bool(entry) and entry.get("gradebook") == self.gradebook and entry.get("grader") == self.grader \
            and entry.get("submission") == (fingerprint or submission_fingerprint(self.course, student))

    def record(self, result, fingerprint):
        """Store a finished Result; write-then-rename, so a kill never leaves half an entry."""
        entry = {"submission": fingerprint, "grader": self.grader, "gradebook": self.gradebook,
                 "result": result.to_dict()}
        write_whole(self.root, f"{LEDGER}/{result.student}.json", entry)

    def result(self, student):
        """The Result recorded for student, or None."""
        entry = self.entry(student)
        return Result.from_dict(entry["result"]) if entry else None


class VerifiedScores:
    """What verification last wrote into one gradebook: {function: [state]} per student, where a
    state is {"manual_score": points, "manual_comment": text}, a test cell's manual score and
    its function's comment as grading.grader.verify.record_verdicts set them.

    A function has one state, or two while a change is being committed: record_verdicts writes the
    new state beside the old one before it commits the gradebook, and the new one alone after, so
    that a run killed in between leaves the gradebook holding one of the states recorded (see
    record_verdicts). A student's file holds one entry per gradebook URL (without its password).
    """

    def __init__(self, root, db_url):
        self.root = Path(root)
        self.gradebook = public_url(db_url)

    def _file(self, student):
        data = read_whole(self.root, f"{VERIFIED}/{student}.json")
        return data if isinstance(data, dict) and isinstance(data.get("gradebooks"), dict) else {}

    def read(self, student):
        """{function: [state]} written for this gradebook, or None: no record of this student in this
        gradebook (a course graded before the record existed, or a lost or unreadable file)."""
        cells = self._file(student).get("gradebooks", {}).get(self.gradebook)
        if not isinstance(cells, dict):
            return None
        return {function: [s for s in states if isinstance(s, dict)] for function, states in cells.items()
                if isinstance(states, list)}

    def write(self, student, cells):
        """Record {function: [state]} for this gradebook (other gradebooks' entries stay)."""
        data = self._file(student) or {"gradebooks": {}}
        data["gradebooks"][self.gradebook] = cells
        write_whole(self.root, f"{VERIFIED}/{student}.json", data)
