"""Files that a student, or a sandbox, could have made: handled without following a link or opening a device.

A submission's folder can hold symbolic links (to the gradebook, another student's notebook,
/dev/zero), FIFOs that block whoever reads them, and device nodes; so can any folder a sandbox
can write. Everything the grader reads, copies or removes in such a folder goes through here:

    data = read_regular(folder / "1_gradient_checking_1d.ipynb", limit=20 * 2**20, anchor=root)
    files, others = regular_files(folder, anchor=root)
    copy_regular_files(source, fresh_destination, limit=..., anchor=root, destination_anchor=course)
    remove_tree(folder, anchor=root)

The rules:
- `anchor` is a trusted folder that contains the path: every component of the path below it is
  entered with O_NOFOLLOW, so a folder on the way that was swapped for a link is refused, not
  followed (without an anchor, the last component is checked);
- a file is opened with O_PATH | O_NOFOLLOW first, which neither follows a link nor opens a FIFO
  or a device; only a regular file is then opened for reading, through /proc/self/fd, so the
  file read is the very one that was checked;
- folders are walked and removed by descriptors, each entered with O_NOFOLLOW, never through a link;
- files are created with O_EXCL | O_NOFOLLOW, in folders made here, under descriptors.
Anything else is refused with a NotRegular error that says what the path is.
"""
import os
import stat
from pathlib import Path

READ = os.O_RDONLY | os.O_CLOEXEC
LOOK = os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC
FOLDER = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
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


def open_folder(path, anchor=None):
    """A descriptor of the folder `path`. Every component below `anchor` (default: the path's
    parent) is entered without following a link; NotRegular says which one is not a folder."""
    path = Path(path)
    anchor = path.parent if anchor is None else Path(anchor)
    fd = os.open(anchor, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        for part in path.relative_to(anchor).parts:
            try:
                inner = os.open(part, FOLDER, dir_fd=fd)
            except OSError as error:
                if error.errno == 2:       # ENOENT
                    raise
                mode = os.stat(part, dir_fd=fd, follow_symlinks=False).st_mode
                raise NotRegular(f"{path} is not a folder: {part} is {kind(mode)}") from None
            os.close(fd)
            fd = inner
    except BaseException:
        os.close(fd)
        raise
    return fd


def open_regular(path, *, dir_fd=None, anchor=None):
    """A read-only descriptor of the regular file at `path`, which is not followed if it is a link.

    Raises NotRegular for anything else, FileNotFoundError if there is nothing.
    """
    if anchor is not None and dir_fd is None:
        folder = open_folder(Path(path).parent, anchor)
        try:
            return open_regular(Path(path).name, dir_fd=folder)
        finally:
            os.close(folder)
    handle = os.open(path, LOOK, dir_fd=dir_fd)
    try:
        mode = os.fstat(handle).st_mode
        if not stat.S_ISREG(mode):
            raise NotRegular(f"{path} is {kind(mode)}, not a regular file")
        return os.open(f"/proc/self/fd/{handle}", READ)
    finally:
        os.close(handle)


def read_regular(path, limit, *, dir_fd=None, anchor=None):
    """The bytes of the regular file at `path`; TooLarge if it holds more than `limit` bytes."""
    fd = open_regular(path, dir_fd=dir_fd, anchor=anchor)
    with os.fdopen(fd, "rb") as handle:
        size = os.fstat(handle.fileno()).st_size
        if size > limit:
            raise TooLarge(f"{path} is {size} bytes, more than the {limit} allowed")
        data = handle.read(limit + 1)
    if len(data) > limit:   # it grew while we read
        raise TooLarge(f"{path} is more than the {limit} bytes allowed")
    return data


def walk(folder_fd, skip=()):
    """(relative folder with a trailing /, its descriptor, [entry names]) for each folder below
    `folder_fd`, parents first. Each folder is entered with O_NOFOLLOW under its parent's
    descriptor, so a link (to a folder or anything else) is an entry, never entered."""
    pending = [("", os.dup(folder_fd))]
    try:
        while pending:
            prefix, fd = pending.pop(0)
            try:
                with os.scandir(fd) as entries:
                    names = sorted(e.name for e in entries if e.name not in skip)
                folders, others = [], []
                for name in names:
                    if stat.S_ISDIR(os.stat(name, dir_fd=fd, follow_symlinks=False).st_mode):
                        folders.append(name)
                    else:
                        others.append(name)
                yield prefix, fd, others
                for name in folders:
                    try:
                        pending.append((prefix + name + "/", os.open(name, FOLDER | os.O_NONBLOCK, dir_fd=fd)))
                    except OSError:   # swapped for something else since: not entered
                        others.append(name)
            finally:
                os.close(fd)
    finally:
        for _, fd in pending:
            os.close(fd)


def regular_files(folder, *, skip=(), anchor=None):
    """([(relative path with /, size)] of the regular files below `folder`, [(relative path, what
    it is)] of the other entries: links, FIFOs, sockets, devices), both sorted. Linked folders
    are not entered. NotRegular if `folder` is not a folder."""
    files, others = [], []
    fd = open_folder(folder, anchor)
    try:
        for prefix, top_fd, names in walk(fd, skip):
            for name in names:
                info = os.stat(name, dir_fd=top_fd, follow_symlinks=False)
                if stat.S_ISREG(info.st_mode):
                    files.append((prefix + name, info.st_size))
                else:
                    others.append((prefix + name, kind(info.st_mode)))
    finally:
        os.close(fd)
    return sorted(files), sorted(others)


def write_new(path, data, mode=0o644, *, dir_fd=None):
    """Write `data` to a new file at `path`; fails if anything, a link included, is there already."""
    fd = os.open(path, CREATE, mode, dir_fd=dir_fd)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


def _new_folder(name, *, dir_fd):
    """Make the folder `name` (it must not exist) and return a descriptor of it."""
    os.mkdir(name, 0o755, dir_fd=dir_fd)
    return os.open(name, FOLDER, dir_fd=dir_fd)


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
            inner = os.open(part, FOLDER, dir_fd=fd)   # ELOOP for a link, ENOTDIR for anything else
            os.close(fd)
            fd = inner
    finally:
        os.close(fd)
    return Path(anchor) / relative


def copy_regular_files(source, destination, *, limit, names=None, skip=(), anchor=None, destination_anchor=None):
    """Copy the regular files below `source` into the new folder `destination` (made here; its
    parent must exist). Both sides are walked by descriptors: nothing is followed on either.

    names -- copy only these relative paths (default: every regular file)
    limit -- bytes per file; a larger file, and anything that is not a regular file, stays behind
    anchor, destination_anchor -- trusted folders that contain source and destination (see open_folder)
    Returns [(relative path, why it was left out)].
    """
    left = []
    source_fd = open_folder(source, anchor)
    parent = open_folder(Path(destination).parent, destination_anchor)
    try:
        made = {"": _new_folder(Path(destination).name, dir_fd=parent)}
    finally:
        os.close(parent)
    try:
        for prefix, top_fd, entries in walk(source_fd, skip):
            for name in entries:
                relative = prefix + name
                if names is not None and relative not in names:
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
        for fd in [source_fd, *made.values()]:
            os.close(fd)
    return left


def _listing(fd):
    with os.scandir(fd) as entries:
        return [e.name for e in entries]


def _take(fd, name):
    """Unlink the entry `name` of the folder `fd` if it is not a folder; a descriptor of it (entered
    with O_NOFOLLOW) if it is one; None when there is nothing more to do with it now."""
    try:
        mode = os.stat(name, dir_fd=fd, follow_symlinks=False).st_mode
    except FileNotFoundError:
        return None
    if not stat.S_ISDIR(mode):
        try:
            os.unlink(name, dir_fd=fd)
        except FileNotFoundError:
            pass
        return None
    try:
        return os.open(name, FOLDER | os.O_NONBLOCK, dir_fd=fd)
    except OSError:        # swapped for something that is not a folder: the next round
        return None


def _identity(fd):
    info = os.fstat(fd)
    return info.st_dev, info.st_ino


def _empty(fd, rounds=10):
    """Remove everything in the folder `fd`: links and files unlinked, folders (entered with
    O_NOFOLLOW) emptied and removed. Something that appears meanwhile is removed in another round.

    Without recursion, so a tree of any depth (a sandbox can build one thousands of folders deep)
    is removed, with two descriptors open at a time: it goes down by name and back up through
    "..", which must be the very folder it came from (a folder moved meanwhile stops it). Each
    folder is listed at most `rounds` times; memory grows with the names on the way down only."""
    fd = os.dup(fd)
    # One frame per folder on the way down: [names not yet taken, listings made, its name in its
    # parent, its identity].
    frames = [[_listing(fd), 1, None, _identity(fd)]]
    try:
        while frames:
            frame = frames[-1]
            if frame[0]:
                name = frame[0].pop()
                inner = _take(fd, name)
                if inner is not None:
                    frames.append([_listing(inner), 1, name, _identity(inner)])
                    os.close(fd)
                    fd = inner
                continue
            left = _listing(fd)
            if left:               # it filled up meanwhile, or a folder in it could not go
                if frame[1] >= rounds:
                    raise OSError(f"a folder kept filling up while it was being removed ({rounds} rounds)")
                frame[0], frame[1] = left, frame[1] + 1
                continue
            frames.pop()
            if not frames:
                return
            parent = os.open("..", FOLDER, dir_fd=fd)
            if _identity(parent) != frames[-1][3]:
                os.close(parent)
                raise OSError("a folder was moved while it was being removed")
            os.close(fd)
            fd = parent
            try:
                os.rmdir(frame[2], dir_fd=fd)
            except OSError:        # something appeared in it meanwhile: the parent's next round
                pass
    finally:
        os.close(fd)


def remove_tree(path, *, anchor=None):
    """Remove `path`: a folder with everything in it (links are removed, never followed), a file
    or a link. Nothing there is fine."""
    path = Path(path)
    try:
        parent = open_folder(path.parent, anchor)
    except FileNotFoundError:
        return
    try:
        try:
            mode = os.stat(path.name, dir_fd=parent, follow_symlinks=False).st_mode
        except FileNotFoundError:
            return
        if stat.S_ISDIR(mode):
            inner = os.open(path.name, FOLDER | os.O_NONBLOCK, dir_fd=parent)
            try:
                _empty(inner)
            finally:
                os.close(inner)
            os.rmdir(path.name, dir_fd=parent)
        else:
            os.unlink(path.name, dir_fd=parent)
    finally:
        os.close(parent)
