"""Removing what a sandbox could have written (grading.sandboxing.files.remove_tree): a tree of any
depth without recursion, and no link inside it ever followed."""
import os
import shutil
import sys
import tempfile
from pathlib import Path

import pytest

from grading.sandboxing import files

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
