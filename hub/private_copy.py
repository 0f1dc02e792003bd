"""Grading on the hub as root, in a copy of the instructor's course that only root can reach.

The instructor's course copy is theirs: their account, and a script in a page open in their
JupyterLab, can write it, and so plant links where root would write or swap a folder for a link
while root works. So root never reads or writes there (docs/hub.md, "Grading on the hub"):

1. Each course has a private working copy, `<HUB_HOME>/private/grading/<key>/course` (root's, 0700,
   kept between runs with its ledger), locked against a second run at the same time.
2. The course's inputs come in as a tar stream written by hub/as_instructor.py running *as the
   instructor*; root unpacks it with a strict filter (unpack): folders and regular files only,
   plain relative names under the parts asked for, bounded sizes and counts, each refusal named.
   A refusal inside one student's submission leaves that student out of this run; anywhere else
   it stops the run before anything is graded.
3. Root grades the private copy.
4. The results go out as a tar stream to hub/as_instructor.py running as the instructor, which
   writes them into the course. Root never writes there, so it never hands a file over either.

Standard library only, for Debian's python3.11, like hub/hubctl.py.
"""
import fcntl
import hashlib
import io
import json
import os
import shutil
import sqlite3
import stat
import subprocess
import tarfile
import threading
from pathlib import Path

HERE = Path(__file__).resolve().parent
PROGRAM = HERE / "as_instructor.py"
GRADEBOOK = "gradebook.db"
MANIFEST = "transfer.json"
# What grading reads from the course, and what the review reads of it.
INPUTS = ("nbgrader_config.py", "deadlines.toml", "source", "release", "submitted", GRADEBOOK)
REVIEWED_INPUTS = ("nbgrader_config.py", "deadlines.toml", "source")
FILE_PARTS = {"nbgrader_config.py", "deadlines.toml", GRADEBOOK}
# What grading gives back (.grading/, with the ledger and the staged copies, stays private).
OUTPUTS = ("autograded", "feedback", "reports", "grades.csv")
# Bounds of what root accepts from the instructor's side.
MAX_FILE = 64 << 20            # one file
MAX_GRADEBOOK = 1 << 30        # the gradebook
MAX_TOTAL = 4 << 30            # everything
MAX_MEMBERS = 200_000          # files and folders
MAX_FOLDERS_DEEP = 16                 # folders deep
MAX_NAME = 255                 # bytes of one name
MAX_MANIFEST = 4 << 20
MAX_ANSWER = 4 << 20           # what the writer says back
TRANSFER_SECONDS = 1800        # a transfer that takes longer is stopped
CLEAN_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


class TransferRefused(Exception):
    """The course's files could not be brought in, or the results could not be written; str() says why."""


def size_text(size):
    return f"{size >> 30} GiB" if size >= 1 << 30 else f"{size >> 20} MiB" if size >= 1 << 20 else f"{size} bytes"


def plain(text):
    """Text from the instructor's side, fit for a terminal: every character that is not printable escaped."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in str(text))


# ---------------------------------------------------------------- the private copy

class PrivateCopy:
    """The private working copy of one course, and its lock (a `with` block holds it)."""

    def __init__(self, private, course):
        self.course = Path(course)
        self.root = Path(private) / "grading"
        self.folder = self.root / hashlib.sha256(str(self.course).encode()).hexdigest()[:16]
        self.copy = self.folder / "course"
        self.incoming = self.folder / "incoming"
        self.state = self.root / "state"   # the review records of the hub's courses (XDG_STATE_HOME)
        self._lock = None

    def __enter__(self):
        for folder in (self.root, self.folder, self.copy, self.state):
            make_private_folder(folder)
        (self.folder / "course-path").write_text(f"{self.course}\n")
        self._lock = os.open(self.folder / "lock", os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(self._lock, 32, 0).decode(errors="replace").strip()
            os.close(self._lock)
            raise TransferRefused(f"another make hub-autograde or hub-review-config (pid {holder or '?'}) is "
                                  f"working on {self.course}: wait for it to finish") from None
        os.ftruncate(self._lock, 0)
        os.pwrite(self._lock, f"{os.getpid()}\n".encode(), 0)
        return self

    def __exit__(self, *exc):
        os.close(self._lock)   # closing releases the lock
        return False

    def environment(self):
        """What the grading package needs to grade this copy on behalf of the course: its helpers
        and its configuration's review, keyed to the course (grading/grader/reviewed_config.py)."""
        return {"GRADING_COURSE_ROOT": str(self.copy), "GRADING_REVIEWED_AS": str(self.course),
                "XDG_STATE_HOME": str(self.state)}


def make_private_folder(path):
    """A folder of root's that nobody else may enter (made if missing; an existing one checked)."""
    try:
        os.mkdir(path, 0o700)
    except FileExistsError:
        pass
    info = os.lstat(path)
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != 0:
        raise TransferRefused(f"{path} is not a folder of root's: remove it")
    os.chmod(path, 0o700)


# ---------------------------------------------------------------- the instructor's side

class Account:
    def __init__(self, entry, python):
        self.name, self.uid, self.gid, self.home = entry.pw_name, entry.pw_uid, entry.pw_gid, entry.pw_dir
        self.groups = os.getgrouplist(entry.pw_name, entry.pw_gid)
        self.python = python


def as_instructor(account, command, args, **streams):
    """hub/as_instructor.py running as the instructor: their uid, gid and groups, a clean
    environment, `-I -S` (nothing of the environment or a site folder imported) and the program
    as text (nothing read from a folder they could write; the repository may be closed to them)."""
    env = {"PATH": CLEAN_PATH, "LANG": "C.UTF-8", "HOME": account.home, "USER": account.name,
           "LOGNAME": account.name}
    return subprocess.Popen(
        [account.python, "-I", "-S", "-c", PROGRAM.read_text(), command, json.dumps(args)],
        user=account.uid, group=account.gid, extra_groups=account.groups, env=env, cwd="/",
        stderr=subprocess.PIPE, **streams)


class Finished:
    """The end of a process of the instructor's side: its stderr kept (the end of it), a watchdog
    that stops it after TRANSFER_SECONDS."""

    def __init__(self, process):
        self.process, self.errors, self.timed_out = process, b"", False
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        self.timer = threading.Timer(TRANSFER_SECONDS, self._stop)
        self.timer.start()

    def _read(self):
        for line in self.process.stderr:
            self.errors = (self.errors + line)[-8192:]

    def _stop(self):
        self.timed_out = True
        self.process.kill()

    def wait(self):
        status = self.process.wait()
        self.timer.cancel()
        self.reader.join(10)
        return status

    def said(self):
        text = self.errors.decode(errors="replace").strip()
        if self.timed_out:
            text = f"stopped after {TRANSFER_SECONDS} s. {text}"
        return plain(text) or f"exit status {self.process.returncode}"


# ---------------------------------------------------------------- in

class Incoming:
    """What came in: the gradebook's fingerprint as read, {student: why they were left out} (as
    they came: plain() them to print), what else was left out and notes (both printable)."""

    def __init__(self):
        self.gradebook, self.held_out, self.left_out, self.notes, self.refused = None, {}, [], [], []
        self.arrivals = {}   # {"<student>/<assignment>": when its files arrived in the course, ns}


def student_of(parts):
    return parts[1] if len(parts) >= 2 and parts[0] == "submitted" else None


def judge(member, parts, allowed):
    """Why `member` may not be unpacked, or None."""
    if member.name.startswith("/"):
        return "an absolute name"
    if any(part in ("", ".", "..") for part in parts):
        return "not a plain relative name"
    for part in parts:
        try:
            if len(part.encode("utf-8")) > MAX_NAME:
                return f"a name longer than {MAX_NAME} bytes"
        except UnicodeEncodeError:
            return "a name that is not UTF-8"
        if any(not c.isprintable() for c in part):
            return "a name with a control character"
    if len(parts) > MAX_FOLDERS_DEEP:
        return f"more than {MAX_FOLDERS_DEEP} folders deep"
    if parts[0] not in allowed:
        return "not among what grading reads"
    if member.isdir():
        return "a folder where a file goes" if parts[0] in FILE_PARTS else None
    if not member.isreg():
        return {tarfile.SYMTYPE: "a symbolic link", tarfile.LNKTYPE: "a hard link", tarfile.CHRTYPE: "a device",
                tarfile.BLKTYPE: "a device", tarfile.FIFOTYPE: "a FIFO"}.get(member.type, "not a regular file")
    if parts[0] in FILE_PARTS and len(parts) > 1:
        return "a file inside what must be a file"
    if parts[0] not in FILE_PARTS and len(parts) == 1:
        return "a file where a folder goes"
    limit = MAX_GRADEBOOK if parts == [GRADEBOOK] else MAX_FILE
    if member.size > limit:
        return f"larger than {size_text(limit)}"
    return None


def unpack(stream, destination, allowed):
    """Unpack the tar stream from the instructor's side into `destination` (a new folder of root's),
    through the strict filter (judge). Returns an Incoming; raises TransferRefused when a member
    outside the students' submissions is refused, or the stream breaks a bound."""
    shutil.rmtree(destination, ignore_errors=True)
    os.mkdir(destination, 0o700)
    came, members, total = Incoming(), 0, 0
    try:
        with tarfile.open(fileobj=stream, mode="r|") as tar:
            for member in tar:
                members += 1
                if members > MAX_MEMBERS:
                    raise TransferRefused(f"the course holds more than {MAX_MEMBERS} files and folders to grade")
                parts = member.name.split("/")
                if member.name == MANIFEST and member.isreg() and member.size <= MAX_MANIFEST:
                    read_manifest(tar.extractfile(member).read(), came)
                    continue
                problem = judge(member, parts, allowed)
                student = student_of(parts)
                if problem and student:
                    came.held_out.setdefault(student, f"{'/'.join(parts[2:]) or 'the folder'}: {problem}")
                    continue
                if problem:
                    came.refused.append(f"{plain(member.name)}: {problem}")
                    continue
                if student in came.held_out or came.refused:
                    continue
                total += member.size
                if total > MAX_TOTAL:
                    raise TransferRefused(f"the course's files to grade are larger than {size_text(MAX_TOTAL)} in all")
                place(destination, parts, member, tar)
    except tarfile.TarError as error:
        raise TransferRefused(f"what came from the course is not a whole tar stream ({plain(error)})") from None
    if came.refused:
        raise TransferRefused("the course holds what grading does not take (nothing was graded):\n  "
                              + "\n  ".join(came.refused))
    return came


def place(destination, parts, member, tar):
    """Write one member under `destination`, whose folders are root's alone: still, no link is
    followed and nothing existing is overwritten (a name given twice is refused)."""
    folder = os.open(destination, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        for name in parts[:-1]:
            try:
                os.mkdir(name, 0o755, dir_fd=folder)
            except FileExistsError:
                pass
            inner = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=folder)
            os.close(folder)
            folder = inner
        if member.isdir():
            try:
                os.mkdir(parts[-1], 0o755, dir_fd=folder)
            except FileExistsError:
                pass
            return
        try:
            fd = os.open(parts[-1], os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644,
                         dir_fd=folder)
        except FileExistsError:
            raise TransferRefused(f"{plain(member.name)} came twice") from None
        with os.fdopen(fd, "wb") as out:
            source, left = tar.extractfile(member), member.size
            while left > 0:
                block = source.read(min(left, 1 << 20))
                if not block:
                    break
                out.write(block)
                left -= len(block)
            mtime = min(max(int(member.mtime), 0), 2 ** 32)
            os.utime(out.fileno(), (mtime, mtime))
    except OSError as error:
        raise TransferRefused(f"{plain(member.name)} could not be unpacked: {plain(error.strerror or error)}") from None
    finally:
        os.close(folder)


def read_manifest(data, came):
    try:
        manifest = json.loads(data)
        gradebook = manifest.get("gradebook")
        came.gradebook = gradebook if isinstance(gradebook, str) and len(gradebook) <= 128 else None
        for path, why in manifest.get("skipped", [])[:1000]:
            parts = str(path).split("/")
            if student_of(parts):
                came.held_out.setdefault(parts[1], f"{'/'.join(parts[2:]) or 'the folder'}: {why}")
            else:
                came.left_out.append(plain(f"{path}: {why}"))
        came.notes.extend(plain(note) for note in manifest.get("notes", [])[:1000])
        arrived = manifest.get("arrivals", {})
        came.arrivals = {key: value for key, value in list(arrived.items())[:MAX_MEMBERS]
                         if isinstance(key, str) and len(key) <= 2 * MAX_NAME + 1 and key.count("/") == 1
                         and isinstance(value, int) and 0 < value < 2 ** 63} if isinstance(arrived, dict) else {}
    except (ValueError, AttributeError, TypeError):
        came.notes.append("the course's list of what was left out could not be read")


def bring_in(copy, account, parts=INPUTS):
    """The course's `parts`, read as the instructor, into the private copy: each part replaced by
    what came (a part the course lacks is removed from the copy), the submissions of held-out
    students removed. Returns the Incoming; raises TransferRefused (the copy then unchanged)."""
    process = as_instructor(account, "get", {"course": str(copy.course), "parts": list(parts), "max_file": MAX_FILE},
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE)
    end = Finished(process)
    try:
        came = unpack(process.stdout, copy.incoming, set(parts))
        drain(process.stdout)
    except TransferRefused:
        process.kill()
        end.wait()
        shutil.rmtree(copy.incoming, ignore_errors=True)
        raise
    finally:
        process.stdout.close()
    if end.wait() != 0:
        shutil.rmtree(copy.incoming, ignore_errors=True)
        raise TransferRefused(f"the course could not be read as {account.name}: {end.said()}")
    for part in parts:
        target = copy.copy / part
        if target.is_dir() and not target.is_symlink():
            shutil.rmtree(target)
        elif target.exists() or target.is_symlink():
            target.unlink()
        for side in ("-journal", "-wal", "-shm"):
            if part == GRADEBOOK:
                (copy.copy / (GRADEBOOK + side)).unlink(missing_ok=True)
        if (copy.incoming / part).exists():
            os.rename(copy.incoming / part, target)
    for student in came.held_out:
        shutil.rmtree(copy.copy / "submitted" / student, ignore_errors=True)
    shutil.rmtree(copy.incoming, ignore_errors=True)
    if "submitted" in parts:
        record_arrivals(copy.copy, came.arrivals)
    return came


def drain(stream):
    """Read the instructor's side's stream to its end once the tar stream has ended (bounded in
    time by Finished's watchdog): the writer then ends well, not with a broken pipe. Anything but
    the last record's zero padding there means the stream ended early: refused."""
    extra = False
    while block := stream.read(1 << 16):
        extra = extra or any(block)
    if extra:
        raise TransferRefused("what came from the course went on after the end of its tar stream")


def record_arrivals(course, arrivals):
    """Keep when each submission's files arrived in the instructor's course, where grading reads it
    (grading/grader/deadlines.py ARRIVALS): the private copy's own change times are when root
    unpacked it, on every run."""
    folder = course / ".grading"
    make_private_folder(folder)
    scratch = folder / "arrivals.json.tmp"
    scratch.unlink(missing_ok=True)
    fd = os.open(scratch, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    with os.fdopen(fd, "w") as out:
        json.dump(arrivals, out, sort_keys=True)
    os.replace(scratch, folder / "arrivals.json")


# ---------------------------------------------------------------- out

def add_tree(tar, root, relative):
    """Add root/relative (a folder with what is in it, or a file) to the tar stream: the private
    copy's folders and regular files only."""
    path = root / relative
    info = os.lstat(path)
    if stat.S_ISDIR(info.st_mode):
        member = tarfile.TarInfo(relative)
        member.type, member.mode, member.mtime = tarfile.DIRTYPE, 0o755, int(info.st_mtime)
        tar.addfile(member)
        for name in sorted(os.listdir(path)):
            add_tree(tar, root, f"{relative}/{name}")
    elif stat.S_ISREG(info.st_mode):
        member = tarfile.TarInfo(relative)
        member.size, member.mode, member.mtime = info.st_size, 0o644, int(info.st_mtime)
        with open(path, "rb") as source:
            tar.addfile(member, source)


def gradebook_bytes(path):
    """A consistent copy of the private gradebook, as bytes (SQLite's backup API)."""
    source = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    copy = sqlite3.connect(":memory:")
    with source:
        source.backup(copy)
    source.close()
    return copy.serialize()


def send_out(copy, account, gradebook=None, create=False, parts=OUTPUTS, source=None):
    """Write the `parts` of the private copy (or of `source`, a folder of root's) into the course, as
    the instructor (hub/as_instructor.py put).
    gradebook -- None to leave the course's gradebook alone, else {"expected": the fingerprint read
    when it came in}: it goes first, and is replaced only if the course's is still that one.
    create -- make the course, which must not exist (make hub)
    Returns the writer's summary; raises TransferRefused if it failed."""
    source = Path(source or copy.copy)
    args = {"course": str(copy.course), "gradebook": gradebook, "create": create}
    process = as_instructor(account, "put", args, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    end = Finished(process)
    answer = {}

    def read_answer():
        answer["text"] = process.stdout.read(MAX_ANSWER)

    reader = threading.Thread(target=read_answer, daemon=True)
    reader.start()
    try:
        with tarfile.open(fileobj=process.stdin, mode="w|", format=tarfile.PAX_FORMAT) as tar:
            if gradebook is not None and (source / GRADEBOOK).is_file():
                data = gradebook_bytes(source / GRADEBOOK)
                member = tarfile.TarInfo(GRADEBOOK)
                member.size, member.mode = len(data), 0o644
                tar.addfile(member, io.BytesIO(data))
            for part in parts:
                if os.path.lexists(source / part):
                    add_tree(tar, source, part)
        process.stdin.close()
    except (BrokenPipeError, ConnectionResetError):
        pass   # the writer stopped: what it said tells why
    status = end.wait()
    reader.join(10)
    if status != 0:
        raise TransferRefused(f"the results could not be written into {copy.course} as {account.name}: {end.said()}")
    try:
        summary = json.loads(answer.get("text") or b"{}")
        return {"written": int(summary.get("written", 0)), "unchanged": int(summary.get("unchanged", 0)),
                "refused": [plain(item) for item in summary.get("refused", [])][:1000],
                "notes": [plain(item) for item in summary.get("notes", [])][:1000],
                "gradebook": plain(summary.get("gradebook") or "")}
    except (ValueError, AttributeError, TypeError):
        raise TransferRefused(f"the writer in {copy.course} answered what is not a summary") from None
