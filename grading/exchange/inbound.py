"""One folder of the exchange's inbound/, read as the instructor can trust it.

`nbgrader submit` writes a student's work into <exchange>/<course>/inbound/ as a folder named
<student>+<assignment>+<time>+<random>, with a timestamp.txt, both written by the student's own
client; afterwards the folder is the student's, who may change, add or replace anything in it,
or make another folder under any name. So nothing the client wrote is taken on its word:

- Whose: the folder's owner (from a descriptor's fstat; no student can give a folder away) must
  be the account its name gives, else it is refused (`owner_problem`).
- When: the latest change time (st_ctime) of the folder and of everything in it. Linux sets a
  file's ctime to the current time at every change of its content, name, links or metadata
  (utime too: setting the modification time back moves ctime forward), and no unprivileged call
  sets it back. It is when the submission last changed, which is when it counts as handed in.
  The time in the name and in timestamp.txt is only the client's claim (`Inspection.claims`).
- What: regular files only, walked and read by descriptors, every folder entered with O_NOFOLLOW
  and every file checked through O_PATH before it is opened (grading.sandboxing.files). Links,
  FIFOs, sockets and devices, a file over inbound_file_bytes or past inbound_total_bytes (the
  course's grading.settings), the names nbgrader gives its own files, and anything another account
  owns (nbgrader's submit makes the folder world-writable) are left out, each with a sentence; a
  folder with more than inbound_entries entries is refused whole.

`read_inbound` reads one folder; given a destination folder's descriptor it copies what it takes
as it reads, and the change time it returns is then taken after each file was read, so no change
to what was copied is older than the time recorded for it.
"""
import fnmatch
import os
import pwd
import stat
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from nbgrader.utils import parse_utc

from grading.assignment import NOTEBOOKS
from grading.sandboxing import files
from grading.settings import DEFAULTS

MAX_CLAIM_BYTES = 100              # the client's timestamp.txt, read for the record only
CLAIM = "timestamp.txt"            # nbgrader's name for the submission time, written by the client
# Names nbgrader gives its own files: a feedback page of a notebook (at the top, where feedback
# pages are released from), and a configuration file (nbgrader runs one as Python).
FEEDBACK_PAGES = {name.removesuffix(".ipynb") + ".html" for name in NOTEBOOKS}
CONFIG_NAMES = {"nbgrader_config.py", "nbgrader_config.json"}
DIRECTORY = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC


def account_name(uid):
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return f"uid {uid}"


def owner_problem(student, uid):
    """Why a folder named for `student` and owned by `uid` is not theirs, or "" if it is."""
    try:
        account = pwd.getpwnam(student)
    except (KeyError, ValueError, UnicodeError):
        return f"it is named for {student!r}, who has no account here, and belongs to {account_name(uid)}"
    if account.pw_uid != uid:
        return f"it is named for {student} but belongs to {account_name(uid)}"
    return ""


def moment(ns):
    """An st_ctime_ns as an aware UTC datetime, to the microsecond (as nbgrader keeps times)."""
    seconds, rest = divmod(ns, 10 ** 9)
    return datetime.fromtimestamp(seconds, timezone.utc) + timedelta(microseconds=rest // 1000)


def claimed_time(text):
    """A time the client wrote, as nbgrader reads it (aware UTC), or None."""
    try:
        return parse_utc(text.strip()).replace(tzinfo=timezone.utc)
    except (ValueError, OverflowError, TypeError, AttributeError):
        return None


@dataclass
class Inspection:
    """What one inbound folder is, as read."""
    name: str                                      # its name in inbound/
    student: str = ""                              # the account its name gives
    uid: int = -1                                  # its owner
    inode: tuple = ()                              # (st_dev, st_ino): the same folder when read again
    changed_ns: int = 0                            # the latest st_ctime of it and everything in it
    claims: dict = field(default_factory=dict)     # {where: text}: the times the client wrote
    refused: str = ""                              # why it is not collected at all
    files: list = field(default_factory=list)      # [(relative path, bytes)] taken
    left_out: list = field(default_factory=list)   # [(relative path, why)]

    @property
    def owner(self):
        return account_name(self.uid) if self.uid >= 0 else "nobody known"

    @property
    def changed(self):
        return moment(self.changed_ns)

    def claimed(self):
        """{where: aware time or None} of each time the client wrote."""
        return {where: claimed_time(text) for where, text in self.claims.items()}


def _what(name, mode, dir_fd):
    """What a non-regular entry is, in words; a link's target is shown, never followed."""
    what = files.kind(mode)
    if stat.S_ISLNK(mode):
        try:
            what += f" to {os.readlink(name, dir_fd=dir_fd)}"
        except OSError:
            pass
    return what


def _reserved(path):
    name = path.rsplit("/", 1)[-1]
    if path in FEEDBACK_PAGES:
        return "nbgrader names the feedback page of a notebook so: only grading writes it"
    if name in CONFIG_NAMES:
        return "nbgrader runs a file of that name as its configuration"
    return ""


def _read_claim(name, dir_fd):
    try:
        fd = files.open_regular(name, dir_fd=dir_fd)
    except (files.NotRegular, OSError):
        return None
    with os.fdopen(fd, "rb") as handle:
        return handle.read(MAX_CLAIM_BYTES + 1)[:MAX_CLAIM_BYTES].decode("ascii", "replace")


def _copy(name, dir_fd, into, limit):
    """Copy the regular file `name` (of at most `limit` bytes) into the folder `into`; return its
    st_ctime_ns after reading."""
    fd = files.open_regular(name, dir_fd=dir_fd)
    with os.fdopen(fd, "rb") as handle:
        data = handle.read(limit + 1)
        if len(data) > limit:
            raise files.TooLarge(f"it grew past the {limit} bytes a file may have while it was read")
        changed = os.fstat(handle.fileno()).st_ctime_ns
    files.write_new(name, data, mode=0o644, dir_fd=into)
    return changed


def parse_name(name):
    """(student, the time the name claims) of an inbound folder's name, split as nbgrader's
    collect splits it; None if it has not the form <student>+<assignment>+<time>[+<random>]."""
    parts = name.rsplit("+", 3)
    return (parts[0], parts[2]) if len(parts) >= 3 and parts[0] else None


def read_inbound(inbound_fd, name, *, into=None, ignore=(), evidence=False, settings=DEFAULTS):
    """Inspect the folder `name` of the inbound folder `inbound_fd`; with `into` (a descriptor of
    an empty folder), copy its regular files there as they are read. `ignore`: name patterns left
    out silently (nbgrader's CourseDirectory.ignore). `evidence`: keep the names nbgrader
    reserves too (a copy for the instructor's review, never for grading). `settings`: the
    course's grading.settings.GradingSettings (inbound_entries, inbound_file_bytes, inbound_total_bytes)."""
    found = Inspection(name)
    parsed = parse_name(name)
    if parsed is None:
        found.refused = "its name is not <student>+<assignment>+<time>+<random>, as nbgrader submit names a submission"
    else:
        found.student, found.claims["its name"] = parsed
    try:
        info = os.stat(name, dir_fd=inbound_fd, follow_symlinks=False)
        found.uid, found.changed_ns = info.st_uid, info.st_ctime_ns
        if not stat.S_ISDIR(info.st_mode):
            found.refused = f"it is {_what(name, info.st_mode, inbound_fd)}, not a folder"
            return found
        top = os.open(name, DIRECTORY, dir_fd=inbound_fd)
    except OSError as error:
        found.refused = found.refused or f"it could not be read: {error.strerror}"
        return found
    info = os.fstat(top)
    found.uid, found.inode = info.st_uid, (info.st_dev, info.st_ino)
    if not found.refused:
        found.refused = owner_problem(found.student, found.uid)
    _Reader(found, into, ignore, evidence, settings).walk(top)
    return found


class _Reader:
    """One walk of an inbound folder, breadth first, by descriptors: what it finds goes into
    `found`; with `into`, each regular file taken is copied there as it is read."""

    def __init__(self, found, into, ignore, evidence, settings):
        self.found, self.into, self.ignore, self.evidence = found, into, ignore, evidence
        self.settings = settings
        self.entries = self.total = 0
        self.pending = []     # [(relative folder with /, its descriptor, the copy's descriptor or None)]

    def walk(self, top):
        """Read the folder `top` (closed here) and everything below it."""
        self.pending.append(("", top, os.dup(self.into) if self.into is not None else None))
        try:
            while self.pending:
                prefix, fd, out = self.pending.pop(0)
                try:
                    names = self.listing(fd)
                    if names is None:
                        return
                    for name in sorted(names):
                        self.take(prefix, name, fd, out)
                    self.changed(os.fstat(fd).st_ctime_ns)   # after its listing was read
                finally:
                    _close(fd, out)
        finally:
            for _, fd, out in self.pending:
                _close(fd, out)

    def listing(self, fd):
        """The names in the folder `fd`; None once the submission has more entries than it may."""
        names = []
        with os.scandir(fd) as listing:
            for entry in listing:
                self.entries += 1
                if self.entries > self.settings.inbound_entries:
                    self.found.refused = self.found.refused or (
                        f"it holds more than {self.settings.inbound_entries} files and folders (a submission is two "
                        "notebooks and a few files)")
                    return None
                names.append(entry.name)
        return names

    def changed(self, ns):
        self.found.changed_ns = max(self.found.changed_ns, ns)

    def leave(self, path, why):
        self.found.left_out.append((path, why))

    def take(self, prefix, name, fd, out):
        """One entry of a folder being read."""
        path = prefix + name
        try:
            info = os.stat(name, dir_fd=fd, follow_symlinks=False)
        except FileNotFoundError:
            return self.leave(path, "it went away while the folder was read")
        self.changed(info.st_ctime_ns)
        if any(fnmatch.fnmatch(name, pattern) for pattern in self.ignore):
            return None
        if info.st_uid != self.found.uid and not self.evidence:   # submit makes the folder world-writable
            return self.leave(path, f"it belongs to {account_name(info.st_uid)}, not to {self.found.owner}, whose "
                                    "submission this is")
        if stat.S_ISDIR(info.st_mode):
            return self.enter(path, name, fd, out)
        if not stat.S_ISREG(info.st_mode):
            return self.leave(path, f"it is {_what(name, info.st_mode, fd)}: only regular files are collected")
        if path == CLAIM:
            self.found.claims[CLAIM] = _read_claim(name, fd) or ""
            if not self.evidence:
                return None   # the client's claim: the collecting step writes the time it trusts
        why = self.refusal(path, info.st_size)
        if why:
            return self.leave(path, why)
        if out is not None:
            try:
                self.changed(_copy(name, fd, out, self.settings.inbound_file_bytes))
            except (files.NotRegular, files.TooLarge, OSError) as error:   # changed since it was listed, or unreadable
                return self.leave(path, f"it could not be copied: {error}")
        self.found.files.append((path, info.st_size))
        self.total += info.st_size
        return None

    def refusal(self, path, size):
        """Why a regular file is not taken, or ""."""
        reserved = "" if self.evidence else _reserved(path)
        if reserved:
            return reserved
        limit, total = self.settings.inbound_file_bytes, self.settings.inbound_total_bytes
        if size > limit:
            return f"it is {size} bytes, more than the {limit} a file may have"
        if self.total + size > total:
            return f"it would take the submission past the {total} bytes it may have"
        return ""

    def enter(self, path, name, fd, out):
        """Queue the folder `name` (entered without following a link), and its copy."""
        try:
            inner = os.open(name, DIRECTORY, dir_fd=fd)
        except OSError:
            return self.leave(path, "it was replaced while the folder was read")
        made = None
        try:
            if out is not None:
                os.mkdir(name, 0o755, dir_fd=out)
                made = os.open(name, DIRECTORY, dir_fd=out)
        except OSError:
            os.close(inner)
            raise
        self.pending.append((path + "/", inner, made))
        return None


def _close(*descriptors):
    for fd in descriptors:
        if fd is not None:
            os.close(fd)
