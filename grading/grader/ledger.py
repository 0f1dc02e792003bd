"""The record of finished grades, which makes grading resumable and safe to kill.

One small JSON file per student in .grading/grader/ledger/, written (atomically) only after the
gradebook holds that student's grade. It keeps the fingerprint of what was graded: the
submitted files, the grader (source notebooks, hidden tests, configuration) and the gradebook.
A later run grades a student again only when one of the three changed, or with --force.
A run killed at any moment leaves each entry either whole or absent, never half written.
"""
import hashlib
import json
import os
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from grading.assignment import ASSIGNMENT
from grading.results import Result
from grading.sandboxing import files

LEDGER = ".grading/ledger"
MAX_HASHED_BYTES = 256 * 2 ** 20   # a submitted file larger than this counts by its name only
SKIPPED_NAMES = {".ipynb_checkpoints", "__pycache__", ".DS_Store"}
PACKAGE = Path(__file__).resolve().parent.parent   # the grading package: every module in it counts
# Modules of the grading package that organise a run but decide no grade: changing them keeps
# the grades current. Every other module (hidden tests, verification, sandbox, ...) counts.
ORGANISING_MODULES = {"autograde.py", "build_reference.py", "course.py", "gradebook.py",
                      "intake.py", "ledger.py", "report.py", "runners.py"}


def _hash_files(digest, folder, pattern="*", leave_out=()):
    folder = Path(folder)
    for path in sorted(folder.rglob(pattern)):
        if path.is_file() and not (SKIPPED_NAMES | set(leave_out)) & set(path.relative_to(folder).parts):
            digest.update(path.relative_to(folder).as_posix().encode() + b"\0")
            digest.update(hashlib.sha256(path.read_bytes()).digest())


def submission_fingerprint(root, student):
    """sha256 of the names and contents of every file in submitted/<student>/<assignment>/.

    The folder is the student's: its files are read without following links (grading.sandboxing.files),
    and what is not a regular file counts by its name and kind.
    """
    digest = hashlib.sha256()
    folder = Path(root) / "submitted" / student / ASSIGNMENT
    try:
        regular, others = files.regular_files(folder, skip=SKIPPED_NAMES, anchor=Path(root) / "submitted")
    except (files.NotRegular, FileNotFoundError) as error:
        digest.update(f"unreadable: {type(error).__name__}".encode())
        return digest.hexdigest()
    for relative, _ in regular:   # names as the OS has them: a name that is not UTF-8 is fine
        digest.update(os.fsencode(relative) + b"\0")
        try:
            data = files.read_regular(folder / relative, MAX_HASHED_BYTES, anchor=Path(root) / "submitted")
            digest.update(hashlib.sha256(data).digest())
        except (files.NotRegular, files.TooLarge, OSError) as error:
            digest.update(f"unreadable: {type(error).__name__}".encode())
    for relative, what in others:
        digest.update(os.fsencode(f"{relative}\0{what}"))
    return digest.hexdigest()


def grader_fingerprint(root):
    """sha256 of what decides a grade: the source assignment, the grading modules, the config."""
    root = Path(root)
    digest = hashlib.sha256()
    _hash_files(digest, root / "source" / ASSIGNMENT)
    _hash_files(digest, PACKAGE, "*.py", leave_out=ORGANISING_MODULES)
    digest.update((root / "nbgrader_config.py").read_bytes())
    return digest.hexdigest()


def public_url(db_url):
    """The gradebook URL without its password, fit to print and to store."""
    parts = urlsplit(db_url)
    if parts.password is None:
        return db_url
    host = parts.hostname + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=f"{parts.username}:***@{host}"))


class Ledger:
    """Finished grades of one course directory, for one gradebook and one version of the grader."""

    def __init__(self, root, db_url):
        self.folder = Path(root) / LEDGER
        self.root = Path(root)
        self.gradebook = public_url(db_url)
        self.grader = grader_fingerprint(root)

    def _path(self, student):
        return self.folder / f"{student}.json"

    def entry(self, student):
        try:
            return json.loads(self._path(student).read_text())
        except (OSError, ValueError):
            return None

    def is_current(self, student, fingerprint=None):
        """True if this student's submission, as it is now, was graded by this grader into this gradebook."""
        entry = self.entry(student)
        return bool(entry) and entry.get("gradebook") == self.gradebook and entry.get("grader") == self.grader \
            and entry.get("submission") == (fingerprint or submission_fingerprint(self.root, student))

    def record(self, result, fingerprint):
        """Store a finished Result; write-then-rename, so a kill never leaves half an entry."""
        self.folder.mkdir(parents=True, exist_ok=True)
        entry = {"submission": fingerprint, "grader": self.grader, "gradebook": self.gradebook,
                 "result": result.to_dict()}
        path = self._path(result.student)
        temporary = path.with_suffix(f".{os.getpid()}.tmp")
        temporary.write_text(json.dumps(entry, indent=1))
        os.replace(temporary, path)

    def result(self, student):
        """The Result recorded for student, or None."""
        entry = self.entry(student)
        return Result.from_dict(entry["result"]) if entry else None
