"""Files that a student could have made, handled without following a link or opening a device.

A submission's folder can hold symbolic links (to the gradebook, another student's notebook,
/dev/zero), FIFOs that block whoever reads them, and device nodes. Everything the grader reads
or copies from such a folder goes through this module:

    data = read_regular(folder / "1_gradient_checking_1d.ipynb", limit=20 * 2**20)
    for name, size in regular_files(folder): ...
    copy_regular_files(source, fresh_destination)

The rules: a path is opened with O_PATH | O_NOFOLLOW first, which neither follows a last-component
link nor opens a FIFO or device; only a regular file is then opened for reading, through
/proc/self/fd, so the file read is the very one that was checked. Folders are walked with
directory descriptors (os.fwalk), never through a link. Anything else is refused with a
NotRegular error that says what the path is.
"""
import os
import shutil
import stat
from pathlib import Path

READ = os.O_RDONLY | os.O_CLOEXEC
LOOK = os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC
CREATE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


class NotRegular(ValueError):
    """The path is a link, a folder, a FIFO, a socket or a device: not read, not copied."""


class TooLarge(ValueError):
    """The file is larger than the caller allows."""


def kind(mode):
    """What a file of st_mode `mode` is, in words."""
    for test, name in ((stat.S_ISLNK, "a symbolic link"), (stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a FIFO"),
                       (stat.S_ISSOCK, "a socket"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device"), (stat.S_ISREG, "a regular file")):
        if test(mode):
            return name
    return "a special file"


def open_regular(path, *, dir_fd=None):
    """A read-only descriptor of the regular file at `path`, which is not followed if it is a link.

    Raises NotRegular for anything else, FileNotFoundError if there is nothing.
    """
    handle = os.open(path, LOOK, dir_fd=dir_fd)
    try:
        mode = os.fstat(handle).st_mode
        if not stat.S_ISREG(mode):
            raise NotRegular(f"{path} is {kind(mode)}, not a regular file")
        return os.open(f"/proc/self/fd/{handle}", READ)
    finally:
        os.close(handle)


def read_regular(path, limit, *, dir_fd=None):
    """The bytes of the regular file at `path`; TooLarge if it holds more than `limit` bytes."""
    fd = open_regular(path, dir_fd=dir_fd)
    with os.fdopen(fd, "rb") as handle:
        size = os.fstat(handle.fileno()).st_size
        if size > limit:
            raise TooLarge(f"{path} is {size} bytes, more than the {limit} allowed")
        data = handle.read(limit + 1)
    if len(data) > limit:   # it grew while we read
        raise TooLarge(f"{path} is more than the {limit} bytes allowed")
    return data


def regular_files(folder, *, skip=()):
    """[(relative path with /, size)] of the regular files below `folder`, sorted; links, FIFOs,
    sockets and devices are left out, and linked folders are not entered.

    skip -- names of files and folders to leave out wherever they are (".ipynb_checkpoints", ...)
    Returns also the entries left out, as [(relative path, what it is)].
    """
    files, others = [], []
    folder = str(folder)
    if stat.S_ISLNK(os.lstat(folder).st_mode):
        raise NotRegular(f"{folder} is a symbolic link, not a folder")
    for top, dirs, names, top_fd in os.fwalk(folder, follow_symlinks=False):
        relative_top = os.path.relpath(top, folder)
        prefix = "" if relative_top == "." else relative_top.replace(os.sep, "/") + "/"
        dirs[:] = sorted(d for d in dirs if d not in skip)
        for name in sorted(names):
            if name in skip:
                continue
            info = os.lstat(name, dir_fd=top_fd)
            if stat.S_ISREG(info.st_mode):
                files.append((prefix + name, info.st_size))
            else:
                others.append((prefix + name, kind(info.st_mode)))
        for name in list(dirs):   # fwalk lists a link to a folder among the folders, and skips it
            if stat.S_ISLNK(os.lstat(name, dir_fd=top_fd).st_mode):
                dirs.remove(name)
                others.append((prefix + name, "a symbolic link"))
    return sorted(files), sorted(others)


def write_new(path, data, mode=0o644, *, dir_fd=None):
    """Write `data` to a new file at `path`; fails if anything, a link included, is there already."""
    fd = os.open(path, CREATE, mode, dir_fd=dir_fd)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


def _new_folder(name, *, dir_fd=None):
    """Make the folder `name` (it must not exist) and return a descriptor of it."""
    os.mkdir(name, 0o755, dir_fd=dir_fd)
    return os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dir_fd)


def make_folders(anchor, relative):
    """Make the folders `relative` (a path with /) below the folder `anchor`, which is trusted:
    each one is a real folder, made or entered without following a link. Returns the path."""
    fd = os.open(anchor, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        for part in Path(relative).parts:
            try:
                os.mkdir(part, 0o755, dir_fd=fd)
            except FileExistsError:
                pass
            # ELOOP for a link, ENOTDIR for anything else that is not a folder
            inner = os.open(part, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=fd)
            os.close(fd)
            fd = inner
    finally:
        os.close(fd)
    return Path(anchor) / relative


def copy_regular_files(source, destination, *, limit, names=None, skip=()):
    """Copy the regular files below `source` into the new folder `destination` (made here; its
    parent must exist). Both sides are walked by descriptors: nothing is followed on either.

    names -- copy only these relative paths (default: every regular file)
    limit -- bytes per file; a larger file, and anything that is not a regular file, stays behind
    Returns [(relative path, why it was left out)].
    """
    left = []
    made = {"": _new_folder(str(destination))}
    try:
        for top, dirs, entries, top_fd in os.fwalk(str(source), follow_symlinks=False):
            relative_top = os.path.relpath(top, str(source))
            prefix = "" if relative_top == "." else relative_top.replace(os.sep, "/") + "/"
            dirs[:] = [d for d in dirs if d not in skip and not stat.S_ISLNK(os.lstat(d, dir_fd=top_fd).st_mode)]
            for name in sorted(entries):
                relative = prefix + name
                if name in skip or (names is not None and relative not in names):
                    continue
                try:
                    data = read_regular(name, limit, dir_fd=top_fd)
                except (NotRegular, TooLarge, OSError) as error:
                    left.append((relative, str(error).replace(name, relative, 1)))
                    continue
                folder = prefix.rstrip("/")
                if folder not in made:   # the folders on the way, each made under its parent's descriptor
                    parts = folder.split("/")
                    for i in range(1, len(parts) + 1):
                        key = "/".join(parts[:i])
                        if key not in made:
                            made[key] = _new_folder(parts[i - 1], dir_fd=made["/".join(parts[:i - 1])])
                write_new(name, data, dir_fd=made[folder])
    finally:
        for fd in made.values():
            os.close(fd)
    return left


def remove_tree(path):
    """Remove `path`: a folder with everything in it (links are removed, never followed), a file
    or a link. Nothing there is fine."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return
    if stat.S_ISDIR(info.st_mode):
        shutil.rmtree(path)    # on Linux, rmtree walks by descriptors and never follows a link
    else:
        os.unlink(path)
