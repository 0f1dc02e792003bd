"""`nbgrader collect` and the formgrader's Collect button, taking nothing on the student's word.

nbgrader's own collect (0.9) files the inbound folder whose name carries the latest time as the
named student's submission, whoever owns it, copies it with shutil.copytree (following links, as
the instructor) and keeps the timestamp.txt the student's client wrote. CheckedCollect, which
the course's and the hub's configuration name as nbgrader's collect (ExchangeFactory.collect):

- reads every inbound folder of the assignment by descriptors (grading.exchange.inbound);
- refuses a folder that is not owned by the account it names, or names none: it is never filed,
  the summary names it, and its regular files are kept for the instructor's review in
  quarantine/<assignment>/<its name>/ (student data, like submitted/);
- takes as a student's latest submission the one whose files changed last (st_ctime: when it was
  handed in, which the student cannot set back), never the time its name or timestamp.txt claim;
- copies regular files only into a fresh folder, then writes the time it trusts as nbgrader's
  timestamp.txt and puts the folder in place of submitted/<student>/<assignment>/; links, special
  files, oversized files and reserved names stay out, each named with a sentence;
- keeps a record of every folder it looked at (which, whose, the trusted and the claimed times,
  what it decided, what it left out) in collect_log.jsonl in the course folder, and says in its
  summary where the client's claim differs from the trusted time.

The update and before-due-date options keep their meaning, on the trusted times. CollectApp's
check_owner setting is not read: the owner is always checked.
"""
import fnmatch
import json
import os
import secrets
from datetime import datetime, timezone
from pathlib import Path

from nbgrader.exchange.default.collect import ExchangeCollect
from nbgrader.utils import check_mode

from grading.course_directory import COLLECT_LOG as RECORD, Course
from grading.exchange import inbound
from grading.grader import deadlines
from grading.sandboxing import files
from grading.settings import GradingSettings
from grading.untrusted_text import for_terminal

CLAIM_TOLERANCE = 120   # seconds: a submit itself takes this long at most between its claim and its last change


def when(moment):
    return "unknown" if moment is None else moment.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def latest(candidates, duedate=None):
    """The submission that counts among one student's `candidates` (Inspections): the one whose
    files changed last, or with a due date (nbgrader's before_duedate), the last one before it if
    there is one."""
    if duedate is not None:
        before = [found for found in candidates if found.changed <= duedate]
        candidates = before or candidates
    return max(candidates, key=lambda found: (found.changed_ns, found.name))


def claim_differs(found, moment):
    """[(where, claimed time)] of the client's claims that differ from the trusted `moment`."""
    return [(where, claimed) for where, claimed in found.claimed().items()
            if claimed is None or abs((claimed - moment).total_seconds()) > CLAIM_TOLERANCE]


class CheckedCollect(ExchangeCollect):
    """nbgrader's collect with owners checked, trusted times and regular files only."""

    def init_src(self):
        if self.coursedir.course_id == "":
            self.fail("No course id specified. Re-run with --course flag.")
        self.course_path = os.path.join(self.root, self.coursedir.course_id)
        self.inbound_path = os.path.join(self.course_path, "inbound")
        if not os.path.isdir(self.inbound_path):
            self.fail("Course not found: {}".format(self.inbound_path))
        if not check_mode(self.inbound_path, read=True, execute=True):
            self.fail("You don't have read permissions for the directory: {}".format(self.inbound_path))
        self.duedate = self._duedate() if self.before_duedate else None
        self.settings = GradingSettings(config=self.config)   # the course's bounds of a submission
        pattern = f"{self.coursedir.student_id or '*'}+{self.coursedir.assignment_id}+*"
        with _Folder(self.inbound_path) as fd:
            names = sorted(name for name in os.listdir(fd) if fnmatch.fnmatchcase(name, pattern))
            self.inspected = [inbound.read_inbound(fd, name, ignore=self.coursedir.ignore, settings=self.settings)
                              for name in names]

    def _duedate(self):
        from nbgrader.api import Gradebook, MissingEntry

        with Gradebook(self.coursedir.db_url, self.coursedir.course_id) as book:
            try:
                due = book.find_assignment(self.coursedir.assignment_id).duedate
            except MissingEntry:
                return None
        return due and due.replace(tzinfo=timezone.utc)

    def copy_files(self):
        self.root_path = Path(self.coursedir.root)
        self.outcome = {"collected": [], "refused": [], "unchanged": [], "failed": []}
        candidates = {}
        for found in self.inspected:
            if not found.refused:
                candidates.setdefault(found.student, []).append(found)
                continue
            try:
                self._refuse(found)
            except Exception as error:   # its copy for review failed: it is refused all the same
                self.outcome["failed"].append(found.name)
                self._say("error", f"Refused inbound/{found.name}: {found.refused}; keeping a copy for review failed: "
                                   f"{type(error).__name__}: {error}")
        if not candidates:
            self.log.warning("No submissions of '%s' for course '%s' to collect",
                             self.coursedir.assignment_id, self.coursedir.course_id)
        for student, theirs in sorted(candidates.items()):
            chosen = latest(theirs, self.duedate)
            for older in theirs:
                if older is not chosen:
                    self._record(older, "not the latest")
            try:
                self._collect(student, chosen)
            except Exception as error:   # one student's folder never stops the others
                self.outcome["failed"].append(student)
                self._record(chosen, "failed", why=f"{type(error).__name__}: {error}")
                self._say("error", f"Could not collect {student}'s submission inbound/{chosen.name}: "
                                   f"{type(error).__name__}: {error}")
        self._summary()

    # ------------------------------------------------------------------ one student
    def _collect(self, student, chosen):
        assignment = self.coursedir.assignment_id
        dest = Path(self.coursedir.format_path(self.coursedir.submitted_directory, student, assignment))
        relative = dest.relative_to(self.root_path)
        if os.path.isdir(dest):
            existing = deadlines.read_timestamp(dest)
            newer = existing is None or chosen.changed > existing
            if not ((self.update and newer) or (self.before_duedate and existing != chosen.changed)):
                self.outcome["unchanged"].append(student)
                self._record(chosen, "already collected")
                said = "No newer submission to collect" if self.update else \
                    "Submission already exists, use --update to update"
                self._say("info", f"{said}: {student} {assignment}")
                return
        parent = files.make_folders(self.root_path, relative.parent)
        scratch = f".collecting-{assignment}-{secrets.token_hex(4)}"
        with _Folder(parent, anchor=self.root_path) as parent_fd:
            os.mkdir(scratch, 0o755, dir_fd=parent_fd)
            try:
                with _Folder(parent / scratch, anchor=self.root_path) as into, _Folder(self.inbound_path) as inbound_fd:
                    copied = inbound.read_inbound(inbound_fd, chosen.name, into=into, ignore=self.coursedir.ignore,
                                                  settings=self.settings)
                if copied.refused or (copied.inode, copied.uid) != (chosen.inode, chosen.uid):
                    raise ValueError(copied.refused or "the folder was replaced while it was collected")
                deadlines.write_timestamp(parent / scratch, copied.changed)   # the time the exchange saw, not the client's
                replaced = _replace(parent_fd, scratch, relative.name)
            finally:
                files.remove_tree(parent / scratch, anchor=self.root_path)   # nothing there once it is in place
        if replaced:
            files.remove_tree(parent / replaced, anchor=self.root_path)
        self.outcome["collected"].append(student)
        self._record(copied, "collected", into=str(relative))
        self._say("info", f"Collected {student}'s submission inbound/{copied.name}: submitted at {when(copied.changed)} "
                          f"(the last change of its files), into {relative}/")
        for path, why in copied.left_out:
            self._say("warning", f"Left out of {student}'s submission: {path}: {why}.")
        for where, claimed in claim_differs(copied, copied.changed):
            claim = f"claimed {when(claimed)}" if claimed else "wrote no readable time"
            self._say("warning", f"{student}: the student's client {claim} in {where}; the submission last changed "
                                 f"at {when(copied.changed)}, which is the time that counts.")

    # ------------------------------------------------------------------ refused folders
    def _refuse(self, found):
        kept = self._quarantine(found) if found.inode else ""
        self.outcome["refused"].append(found.name)
        self._record(found, "refused", why=found.refused, into=kept)
        self._say("warning", f"Refused inbound/{found.name}: {found.refused}; it was not collected"
                             + (f", and its regular files are kept for review in {kept}/." if kept else "."))

    def _quarantine(self, found):
        """Copy the regular files of a refused folder to quarantine/<assignment>/<its name>/;
        return that path, relative to the course."""
        course = Course(self.root_path)
        folder = files.make_folders(self.root_path, course.relative(course.quarantine(self.coursedir.assignment_id)))
        with _Folder(folder, anchor=self.root_path) as fd:
            try:
                os.mkdir(found.name, 0o700, dir_fd=fd)
            except FileExistsError:
                return str((folder / found.name).relative_to(self.root_path))   # kept by an earlier collect
            with _Folder(folder / found.name, anchor=self.root_path) as into, _Folder(self.inbound_path) as inbound_fd:
                inbound.read_inbound(inbound_fd, found.name, into=into, evidence=True, settings=self.settings)
        return str((folder / found.name).relative_to(self.root_path))

    # ------------------------------------------------------------------ what the instructor reads
    def _say(self, level, text):
        getattr(self.log, level)("%s", for_terminal(text))

    def _record(self, found, decision, why="", into=""):
        """One line of collect_log.jsonl: which folder, whose, when, the client's claims, what was decided."""
        entry = {"at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                 "assignment": self.coursedir.assignment_id, "inbound": found.name, "student": found.student,
                 "owner": found.owner, "decision": decision, "why": why or found.refused,
                 "changed": found.changed.isoformat() if found.changed_ns else None, "claims": found.claims,
                 "left_out": found.left_out, "into": into}
        try:
            with _Folder(self.root_path) as root:
                fd = os.open(RECORD, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600,
                             dir_fd=root)
            with os.fdopen(fd, "a", encoding="utf-8", errors="backslashreplace") as log:
                log.write(json.dumps(entry) + "\n")
        except OSError as error:
            self._say("warning", f"The record {RECORD} could not be written: {error}")

    def _summary(self):
        parts = [f"{kind} {len(names)}" + (f" ({', '.join(names)})" if names and kind != "unchanged" else "")
                 for kind, names in self.outcome.items() if names or kind == "collected"]
        self._say("warning" if self.outcome["refused"] or self.outcome["failed"] else "info",
                  f"Collect summary for '{self.coursedir.assignment_id}': " + "; ".join(parts)
                  + f". Every folder looked at is recorded in {RECORD}.")


class _Folder:
    """A descriptor of a folder, for a `with` block; below `anchor`, no link on the way is followed."""

    def __init__(self, path, anchor=None):
        self.path, self.anchor = path, anchor

    def __enter__(self):
        if self.anchor is None:
            self.fd = os.open(self.path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        else:
            self.fd = files.open_folder(self.path, self.anchor)
        return self.fd

    def __exit__(self, *exc):
        os.close(self.fd)
        return False


def _replace(parent_fd, scratch, name):
    """Put the folder `scratch` in place of `name` (both in `parent_fd`); return the name the
    folder that was there now has (for the caller to remove), or None."""
    old = f".replaced-{name}-{secrets.token_hex(4)}"
    try:
        os.rename(name, old, src_dir_fd=parent_fd, dst_dir_fd=parent_fd)
    except FileNotFoundError:
        old = None
    os.rename(scratch, name, src_dir_fd=parent_fd, dst_dir_fd=parent_fd)
    return old
