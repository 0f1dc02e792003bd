"""Removing what a sandbox could have written (grading.sandboxing.files.remove_tree): a tree of any
depth without recursion, and no link inside it ever followed."""
import os
import shutil
import sys
import tempfile
from pathlib import Path

import pytest

from grading.sandboxing import files

pytestmark = pytest.mark.fast   # in make check's lane

DEPTH = 1200   # deeper than Python's recursion limit (1,000)


def deep_tree(top, outside, depth=DEPTH):
    """A chain of `depth` folders below `top`, each with a link to the folder `outside`, a link to
    a file there, a hard link to a file there, and a file of its own."""
    fd = os.open(top, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for _ in range(depth):
            os.symlink(str(outside), "folder_link", dir_fd=fd)
            os.symlink(str(outside / "canary.txt"), "file_link", dir_fd=fd)
            os.link(outside / "hard.txt", "hard_link", dst_dir_fd=fd)
            os.close(os.open("own.txt", os.O_CREAT | os.O_WRONLY, dir_fd=fd))
            os.mkdir("d", dir_fd=fd)
            inner = os.open("d", os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
            os.close(fd)
            fd = inner
    finally:
        os.close(fd)


@pytest.fixture
def tmp_path():
    """A folder in /dev/shm where there is one: thousands of folders are made and removed, which a
    busy disk makes slow."""
    base = "/dev/shm" if os.access("/dev/shm", os.W_OK) else None
    folder = Path(tempfile.mkdtemp(prefix="test-files-", dir=base))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def outside(tmp_path):
    folder = tmp_path / "outside"
    folder.mkdir()
    (folder / "canary.txt").write_text("canary")
    (folder / "hard.txt").write_text("hard")
    return folder


def test_a_tree_deeper_than_the_recursion_limit_is_removed_and_nothing_it_links_to(tmp_path, outside):
    top = tmp_path / "sockets"
    top.mkdir()
    deep_tree(top, outside)
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(200)   # removal must not depend on the stack at all
    try:
        files.remove_tree(top, anchor=tmp_path)
    finally:
        sys.setrecursionlimit(limit)
    assert not top.exists()
    assert sorted(p.name for p in outside.iterdir()) == ["canary.txt", "hard.txt"]
    assert (outside / "canary.txt").read_text() == "canary" and os.stat(outside / "hard.txt").st_nlink == 1


def test_removal_keeps_few_descriptors_open(tmp_path, outside):
    """Two descriptors at a time, whatever the depth: under a limit of 64 open files it still works."""
    import resource

    top = tmp_path / "tree"
    top.mkdir()
    deep_tree(top, outside, depth=300)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (64, hard))
    try:
        files.remove_tree(top)
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    assert not top.exists() and (outside / "canary.txt").read_text() == "canary"


def test_a_link_in_place_of_the_tree_is_removed_not_followed(tmp_path, outside):
    os.symlink(outside, tmp_path / "tree")
    files.remove_tree(tmp_path / "tree")
    assert not os.path.lexists(tmp_path / "tree") and (outside / "canary.txt").exists()


def test_a_folder_moved_during_removal_stops_it(tmp_path, monkeypatch):
    """Going back up through "..", removal checks that it is the folder it came from: a folder moved
    out of the tree meanwhile stops it before it works in a folder that was never in the tree."""
    top = tmp_path / "tree"
    (top / "a" / "b").mkdir(parents=True)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "keep.txt").write_text("keep")
    real_take = files._take

    def take_and_move(fd, name):
        inner = real_take(fd, name)
        if name == "b":   # once inside a/b, move a/ away: b's ".." is then a folder elsewhere
            os.rename(top / "a", elsewhere / "a")
        return inner

    monkeypatch.setattr(files, "_take", take_and_move)
    with pytest.raises(OSError, match="moved"):
        files.remove_tree(top)
    assert (elsewhere / "keep.txt").read_text() == "keep"


# ---- reading, listing and copying what a student could have made (one rule each) ----

@pytest.fixture
def planted(tmp_path, outside):
    """A submission folder holding one of each thing a student can plant: a notebook, a link to a
    file outside, a link to a folder outside, a FIFO, a character device (the null device's numbers,
    made here: never /dev itself), a large file and a real subfolder."""
    folder = tmp_path / "anchor" / "submitted"
    (folder / "sub").mkdir(parents=True)
    (folder / "notebook.ipynb").write_text("{}")
    (folder / "sub" / "notes.txt").write_text("notes")
    (folder / "big.bin").write_bytes(b"x" * 1000)
    os.symlink(outside / "canary.txt", folder / "file_link")
    os.symlink(outside, folder / "folder_link")
    os.mkfifo(folder / "pipe")
    if os.geteuid() == 0:
        os.mknod(folder / "device", 0o600 | 0o020000, os.makedev(1, 3))
    return folder


def test_a_link_a_fifo_or_a_device_is_refused_by_name_and_never_opened(planted):
    for name, what in (("file_link", "a symbolic link"), ("pipe", "a FIFO"), ("sub", "a folder"),
                       *((("device", "a character device"),) if (planted / "device").exists() else ())):
        with pytest.raises(files.NotRegular, match=what):   # a FIFO opened for reading would block here
            files.read_regular(planted / name, limit=10 ** 6)
    assert files.read_regular(planted / "notebook.ipynb", limit=10) == b"{}"


def test_a_file_over_the_limit_is_refused(planted):
    with pytest.raises(files.TooLarge, match="1000 bytes"):
        files.read_regular(planted / "big.bin", limit=999)
    assert len(files.read_regular(planted / "big.bin", limit=1000)) == 1000


def test_a_linked_folder_on_the_way_below_the_anchor_is_refused_not_followed(planted, outside):
    anchor = planted.parent
    with pytest.raises(files.NotRegular, match="folder_link is a symbolic link"):
        files.read_regular(planted / "folder_link" / "canary.txt", limit=100, anchor=anchor)
    os.rename(planted / "sub", planted / "sub_moved")   # a folder swapped for a link meanwhile
    os.symlink(outside, planted / "sub")
    with pytest.raises(files.NotRegular, match="sub is a symbolic link"):
        files.read_regular(planted / "sub" / "canary.txt", limit=100, anchor=anchor)


def test_the_listing_names_every_other_entry_and_enters_no_linked_folder(planted):
    regular, others = files.regular_files(planted, anchor=planted.parent)
    assert regular == [("big.bin", 1000), ("notebook.ipynb", 2), ("sub/notes.txt", 5)]
    expected = [("file_link", "a symbolic link"), ("folder_link", "a symbolic link"), ("pipe", "a FIFO")]
    if (planted / "device").exists():
        expected.insert(0, ("device", "a character device"))
    assert others == expected


def test_a_copy_takes_regular_files_only_and_says_why_each_other_stayed(planted, tmp_path):
    (tmp_path / "out").mkdir()
    left = dict(files.copy_regular_files(planted, tmp_path / "out" / "copy", limit=999,
                                         anchor=planted.parent, destination_anchor=tmp_path))
    copied, others = files.regular_files(tmp_path / "out" / "copy")
    assert copied == [("notebook.ipynb", 2), ("sub/notes.txt", 5)] and others == []
    assert "more than the 999" in left["big.bin"]
    assert "symbolic link" in left["file_link"] and "FIFO" in left["pipe"]
    assert "folder_link" in left   # a link to a folder is an entry, never entered
    with pytest.raises(FileExistsError):   # the destination is made by the copy, never reused
        files.copy_regular_files(planted, tmp_path / "out" / "copy", limit=999)


def test_a_new_file_is_never_written_through_a_link_planted_in_its_place(tmp_path, outside):
    os.symlink(outside / "canary.txt", tmp_path / "grades.csv")
    with pytest.raises(FileExistsError):
        files.write_new(tmp_path / "grades.csv", b"written")
    assert (outside / "canary.txt").read_text() == "canary"
    os.symlink(outside, tmp_path / "reports")
    with pytest.raises(OSError):   # ELOOP: the folder on the way is a link
        files.make_folders(tmp_path, "reports/class")
    assert sorted(p.name for p in outside.iterdir()) == ["canary.txt", "hard.txt"]
    assert files.make_folders(tmp_path, "feedback/ada").is_dir()
