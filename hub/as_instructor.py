"""What make hub and make hub-autograde do in the instructor's course, run as the instructor.

Root never reads or writes in the instructor's course: a folder that the instructor's account,
and a page open in their JupyterLab, can write, and so fill with links (docs/hub.md, "Grading on
the hub"). hub/private_copy.py runs this program with the instructor's uid, gid and groups, a clean
environment and `python3.11 -I -S -c <this file's text>`: nothing the instructor can write (a
module, a .pth file, the environment) is imported, and the repository need not be readable by
them. Whatever a link in the course points at, this program reaches only what the instructor
could reach anyway; and it follows none.

    get '{"course": ..., "parts": [...], "max_file": N}'
        The course's `parts` (top-level names) to stdout as a tar stream: folders and regular files
        only, read without following a link; the gradebook (gradebook.db) as a consistent copy made
        with SQLite's backup API (the formgrader may be writing it). Last comes transfer.json: the
        gradebook's fingerprint and what was left out, and why.
    put '{"course": ..., "gradebook": null | {"expected": fingerprint or null}, "create": false}'
        A tar stream on stdin into the course: each file written to a temporary name in its folder,
        then renamed over the old one (an identical file is left as it is); a link where a folder
        must be is replaced by the folder. The gradebook comes first: if the course's gradebook is
        not the one `get` read (the formgrader saved something meanwhile), nothing at all is
        written; else it is replaced in place, with SQLite's backup API, after the other files.
        With "create", the course is made (0700) and must not exist. A summary as JSON on stdout.

Standard library only; it imports nothing of the repository.
"""
import errno
import hashlib
import io
import json
import os
import secrets
import shutil
import sqlite3
import stat
import sys
import tarfile
import urllib.parse

GRADEBOOK = "gradebook.db"
SQLITE_FILES = ("-journal", "-wal", "-shm")   # what SQLite keeps beside a database
MANIFEST = "transfer.json"
FOLDER = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
BUSY_SECONDS = 30   # how long to wait for the formgrader to finish writing the gradebook


class Refused(Exception):
    """The course cannot be read or written as asked; str() says why."""


def kind(mode):
    for test, word in ((stat.S_ISLNK, "a link"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISSOCK, "a socket"),
                       (stat.S_ISCHR, "a device"), (stat.S_ISBLK, "a device"), (stat.S_ISDIR, "a folder")):
        if test(mode):
            return word
    return "a file" if stat.S_ISREG(mode) else "of an unknown kind"


def lstat_at(folder, name):
    try:
        return os.stat(name, dir_fd=folder, follow_symlinks=False)
    except FileNotFoundError:
        return None


# ---------------------------------------------------------------- get

def send_tree(out, folder, name, relative, limit, skipped):
    """Add `name` of the open folder `folder` to the tar stream `out` as `relative`: a folder with
    everything in it, or a regular file; anything else goes to `skipped` as [relative, why]."""
    info = lstat_at(folder, name)
    if info is None:
        return
    try:
        if stat.S_ISDIR(info.st_mode):
            fd = os.open(name, FOLDER, dir_fd=folder)
            try:
                out.addfile(folder_member(relative, os.fstat(fd)))
                for entry in sorted(os.listdir(fd)):
                    send_tree(out, fd, entry, f"{relative}/{entry}", limit, skipped)
            finally:
                os.close(fd)
        elif stat.S_ISREG(info.st_mode):
            fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=folder)
            with os.fdopen(fd, "rb") as source:
                opened = os.fstat(source.fileno())
                if not stat.S_ISREG(opened.st_mode):
                    skipped.append([relative, f"{kind(opened.st_mode)}, left out"])
                    return
                data = source.read(limit + 1)
            if len(data) > limit:
                skipped.append([relative, f"larger than {limit >> 20} MiB, left out"])
                return
            member = tarfile.TarInfo(relative)
            member.size, member.mtime, member.mode = len(data), int(opened.st_mtime), 0o644
            out.addfile(member, io.BytesIO(data))
        else:
            skipped.append([relative, f"{kind(info.st_mode)}, left out"])
    except OSError as error:
        # A folder swapped for a link meanwhile (ELOOP, ENOTDIR), or one the instructor cannot read.
        skipped.append([relative, f"{error.strerror or error}, left out"])


def folder_member(relative, info):
    member = tarfile.TarInfo(relative)
    member.type, member.mode, member.mtime = tarfile.DIRTYPE, 0o755, int(info.st_mtime)
    return member


def arrivals(course):
    """{"<student>/<assignment>": ns} for each folder of submitted/: the latest change time (st_ctime)
    of it and of everything in it, which is when its files arrived in the course. Grading counts a
    submission without a readable timestamp.txt from then (grading/grader/deadlines.py), and the
    private copy's own change times are only when root unpacked it."""
    found = {}
    try:
        top = os.open("submitted", FOLDER, dir_fd=course)
    except OSError:
        return found
    try:
        for student in sorted(os.listdir(top))[:100_000]:
            try:
                inner = os.open(student, FOLDER, dir_fd=top)
            except OSError:
                continue
            try:
                for assignment in sorted(os.listdir(inner))[:100]:
                    latest = latest_change(inner, assignment)
                    if latest:
                        found[f"{student}/{assignment}"] = latest
            finally:
                os.close(inner)
    finally:
        os.close(top)
    return found


def latest_change(folder, name):
    """The latest st_ctime_ns of the folder `name` in `folder` and of everything below it, walked by
    descriptors without following a link; 0 if it is not a folder."""
    try:
        pending = [os.open(name, FOLDER, dir_fd=folder)]
    except OSError:
        return 0
    latest = 0
    while pending:
        fd = pending.pop()
        try:
            latest = max(latest, os.fstat(fd).st_ctime_ns)
            for entry in os.listdir(fd):
                info = lstat_at(fd, entry)
                if info is None:
                    continue
                latest = max(latest, info.st_ctime_ns)
                if stat.S_ISDIR(info.st_mode) and len(pending) < 10_000:
                    try:
                        pending.append(os.open(entry, FOLDER, dir_fd=fd))
                    except OSError:
                        pass
        finally:
            os.close(fd)
    return latest


def clear_sqlite_links(course, notes):
    """A link where SQLite keeps its journal would have SQLite open what it points at: remove it
    (a journal is never a link; the link's target stays as it was)."""
    for suffix in SQLITE_FILES:
        info = lstat_at(course, GRADEBOOK + suffix)
        if info is not None and stat.S_ISLNK(info.st_mode):
            os.unlink(GRADEBOOK + suffix, dir_fd=course)
            notes.append(f"{GRADEBOOK + suffix}: a link where SQLite keeps its journal, removed")


def open_gradebook(course, path):
    """A connection to the course's gradebook (a regular file, never created here), or None if
    there is none."""
    info = lstat_at(course, GRADEBOOK)
    if info is None:
        return None
    if not stat.S_ISREG(info.st_mode):
        raise Refused(f"{GRADEBOOK} is {kind(info.st_mode)}, not the course's gradebook: make it a file again")
    uri = "file:" + urllib.parse.quote(os.path.join(path, GRADEBOOK)) + "?mode=rw"
    return sqlite3.connect(uri, uri=True, timeout=BUSY_SECONDS)


def fingerprint(connection):
    """sha256 of a database's contents (its SQL dump): the same for the same rows, whichever copy."""
    digest = hashlib.sha256()
    for line in connection.iterdump():
        digest.update(line.encode("utf-8", "surrogatepass") + b"\n")
    return digest.hexdigest()


def in_memory(connection):
    """A consistent copy of `connection`'s database in memory (SQLite's backup API)."""
    copy = sqlite3.connect(":memory:")
    connection.backup(copy)
    return copy


def get(args):
    course_path = args["course"]
    course = os.open(course_path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    skipped, notes, gradebook = [], [], None
    with tarfile.open(fileobj=sys.stdout.buffer, mode="w|", format=tarfile.PAX_FORMAT) as out:
        for part in args["parts"]:
            if part != GRADEBOOK:
                send_tree(out, course, part, part, args["max_file"], skipped)
        if GRADEBOOK in args["parts"]:
            clear_sqlite_links(course, notes)
            source = open_gradebook(course, course_path)
            if source is not None:
                with source:
                    copy = in_memory(source)
                source.close()
                gradebook = fingerprint(copy)
                data = copy.serialize()
                member = tarfile.TarInfo(GRADEBOOK)
                member.size, member.mode = len(data), 0o644
                out.addfile(member, io.BytesIO(data))
        found = arrivals(course) if "submitted" in args["parts"] else {}
        manifest = json.dumps({"gradebook": gradebook, "skipped": skipped, "notes": notes,
                               "arrivals": found}).encode()
        member = tarfile.TarInfo(MANIFEST)
        member.size = len(manifest)
        out.addfile(member, io.BytesIO(manifest))


# ---------------------------------------------------------------- put

class Course:
    """The course's folders, opened one component at a time without following a link."""

    def __init__(self, fd, summary):
        self.fd, self.summary, self.open = fd, summary, {}

    def folder(self, parts):
        """The open folder at `parts` (made if missing), or None (refused, and said why)."""
        key = tuple(parts)
        if key in self.open:
            return self.open[key]
        if not parts:
            return self.fd
        parent = self.folder(parts[:-1])
        if parent is None:
            return None
        name = parts[-1]
        for _ in range(5):
            try:
                fd = os.open(name, FOLDER, dir_fd=parent)
                break
            except FileNotFoundError:
                try:
                    os.mkdir(name, 0o755, dir_fd=parent)
                except FileExistsError:
                    pass
            except OSError as error:
                if error.errno not in (errno.ELOOP, errno.ENOTDIR):
                    raise
                info = lstat_at(parent, name)
                if info is not None and stat.S_ISLNK(info.st_mode):
                    os.unlink(name, dir_fd=parent)   # the link goes, what it points at stays
                    self.summary["notes"].append(f"{'/'.join(parts)}: a link where a folder goes, replaced by the folder")
                elif info is not None:
                    self.summary["refused"].append(f"{'/'.join(parts)}: {kind(info.st_mode)} where a folder goes, "
                                                   "left as it is (and nothing written inside)")
                    self.open[key] = None
                    return None
        else:
            self.summary["refused"].append(f"{'/'.join(parts)}: kept changing while it was written, left as it is")
            self.open[key] = None
            return None
        if len(self.open) > 256:   # keep few folders open: a class has many
            self.close()
        self.open[key] = fd
        return fd

    def close(self):
        for fd in self.open.values():
            if fd is not None:
                os.close(fd)
        self.open = {}


def names_of(member_name):
    parts = member_name.split("/")
    if member_name.startswith("/") or any(part in ("", ".", "..") for part in parts):
        raise Refused(f"{member_name!r} is not a name inside the course")
    return parts


def write_file(folder, name, source, member, summary, shown):
    """Write `source` to `name` in the open folder: a temporary name first, then renamed over it."""
    temporary = f".{name[:200]}.{secrets.token_hex(4)}.tmp"
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644,
                 dir_fd=folder)
    digest = hashlib.sha256()
    try:
        with os.fdopen(fd, "wb") as out:
            for block in iter(lambda: source.read(1 << 20), b""):
                digest.update(block)
                out.write(block)
            os.utime(out.fileno(), (member.mtime, member.mtime))
        if same_file(folder, name, member.size, digest.hexdigest()):
            os.unlink(temporary, dir_fd=folder)
            summary["unchanged"] += 1
            return
        os.rename(temporary, name, src_dir_fd=folder, dst_dir_fd=folder)
        summary["written"] += 1
    except OSError as error:
        summary["refused"].append(f"{shown}: {error.strerror or error}, left as it is")
        try:
            os.unlink(temporary, dir_fd=folder)
        except OSError:
            pass


def same_file(folder, name, size, digest):
    """True if `name` is a regular file of this size and sha256 (read without following a link)."""
    info = lstat_at(folder, name)
    if info is None or not stat.S_ISREG(info.st_mode) or info.st_size != size:
        return False
    try:
        fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=folder)
    except OSError:
        return False
    with os.fdopen(fd, "rb") as existing:
        return hashlib.file_digest(existing, "sha256").hexdigest() == digest


def gradebook_as_read(course, path, expected, notes):
    """(True, None) if the course's gradebook is the one `get` read (`expected`: its fingerprint,
    None if there was none), else (False, the reason)."""
    clear_sqlite_links(course, notes)
    connection = open_gradebook(course, path)
    if connection is None:
        return (expected is None, "the gradebook was removed while grading")
    if expected is None:
        connection.close()
        return False, "a gradebook appeared while grading"
    with connection:
        now = fingerprint(in_memory(connection))
    connection.close()
    return now == expected, "the gradebook changed while grading (the formgrader saved something)"


def replace_gradebook(course, path, data, expected, summary):
    """Put the graded gradebook in place of the course's, which must still be the one `get` read.
    In place: the formgrader keeps its connection open, and sees the new rows at its next query."""
    same, reason = gradebook_as_read(course, path, expected, summary["notes"])
    if not same:
        summary["gradebook"] = "changed"
        summary["refused"].append(f"{GRADEBOOK}: {reason}, left as it is")
        return
    graded = sqlite3.connect(":memory:")
    graded.deserialize(data)
    if expected is not None and fingerprint(graded) == expected:
        summary["gradebook"] = "unchanged"
        return
    if expected is None:
        fd = os.open(GRADEBOOK, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644,
                     dir_fd=course)
        os.close(fd)
    target = open_gradebook(course, path)
    with target:
        graded.backup(target)
    target.close()
    summary["gradebook"] = "replaced"


def create_course(path):
    """Make the course's folder (0700) under a temporary name beside it; returns (parent fd, that name)."""
    parent_path, name = os.path.split(path.rstrip("/"))
    parent = os.open(parent_path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    if lstat_at(parent, name) is not None:
        raise Refused(f"{path} exists already")
    partial = f".{name}.{secrets.token_hex(4)}.partial"
    os.mkdir(partial, 0o700, dir_fd=parent)
    return parent, partial


def put(args):
    path = args["course"]
    summary = {"written": 0, "unchanged": 0, "refused": [], "notes": [], "gradebook": None}
    created = None
    if args.get("create"):
        parent, partial = create_course(path)
        created = (parent, partial)
        fd = os.open(partial, FOLDER, dir_fd=parent)
        path = os.path.join(os.path.dirname(path.rstrip("/")), partial)
    else:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    course = Course(fd, summary)
    graded = None
    try:
        with tarfile.open(fileobj=sys.stdin.buffer, mode="r|") as stream:
            for member in stream:
                if summary["gradebook"] == "changed":
                    continue   # nothing is written: read the rest of the stream and let it go
                parts = names_of(member.name)
                if member.name == GRADEBOOK:
                    if args.get("gradebook") is None or not member.isfile():
                        summary["refused"].append(f"{GRADEBOOK}: not asked for, left as it is")
                        continue
                    expected = args["gradebook"]["expected"]
                    same, reason = gradebook_as_read(fd, path, expected, summary["notes"])
                    if not same:
                        summary["gradebook"] = "changed"
                        summary["refused"].append(f"{GRADEBOOK}: {reason}; nothing was written")
                        continue
                    graded = stream.extractfile(member).read()
                elif member.isdir():
                    course.folder(parts)
                elif member.isfile():
                    folder = course.folder(parts[:-1])
                    if folder is not None:
                        write_file(folder, parts[-1], stream.extractfile(member), member, summary, member.name)
                else:
                    summary["refused"].append(f"{member.name}: not a file or a folder, left out")
        if graded is not None:
            replace_gradebook(fd, path, graded, args["gradebook"]["expected"], summary)
    except BaseException:
        if created:
            shutil.rmtree(created[1], dir_fd=created[0], ignore_errors=True)
        raise
    finally:
        course.close()
        os.close(fd)
    if created:
        parent, partial = created
        name = os.path.basename(args["course"].rstrip("/"))
        if lstat_at(parent, name) is not None:
            shutil.rmtree(partial, dir_fd=parent, ignore_errors=True)
            raise Refused(f"{args['course']} appeared while it was made: left as it is")
        os.rename(partial, name, src_dir_fd=parent, dst_dir_fd=parent)
        os.close(parent)
    json.dump(summary, sys.stdout)


def main(argv):
    os.umask(0o022)
    command, args = argv[1], json.loads(argv[2])
    try:
        {"get": get, "put": put}[command](args)
    except (Refused, OSError, sqlite3.Error, tarfile.TarError) as error:
        print(f"{type(error).__name__}: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
