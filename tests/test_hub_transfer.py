"""The boundary of grading on the hub (hub/private_copy.py, hub/as_instructor.py), without a hub.

Root unpacks what the instructor's side sends through a strict filter: these streams are what a
program run by the instructor's account could send instead of the honest one. And the results go
back through a program run as the instructor, which writes the gradebook only if nobody changed it
while grading; that one runs here as `nobody`, with the real switch of account (root only).
tests/test_hub.py shows the whole of it through make hub-autograde on a real hub.
"""
import io
import os
import pwd
import shutil
import sqlite3
import stat
import sys
import tarfile
import tempfile
from pathlib import Path

import pytest
from ci import require

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "hub"))
import private_copy  # noqa: E402  (hub/ is a folder of scripts, not a package)
from private_copy import TransferRefused  # noqa: E402

PYTHON = "/usr/bin/python3.11"


def stream(*members):
    """A tar stream of (name, kind, data or link target) members."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, kind, data in members:
            member = tarfile.TarInfo(name)
            if kind == "file":
                member.size = len(data)
                tar.addfile(member, io.BytesIO(data))
                continue
            member.type = {"dir": tarfile.DIRTYPE, "symlink": tarfile.SYMTYPE, "hardlink": tarfile.LNKTYPE,
                           "device": tarfile.CHRTYPE, "fifo": tarfile.FIFOTYPE}[kind]
            member.linkname = data or ""
            tar.addfile(member)
    buffer.seek(0)
    return buffer


def unpack(tmp_path, *members, allowed=private_copy.INPUTS):
    return private_copy.unpack(stream(*members), tmp_path / "incoming", set(allowed))


HONEST = [("source", "dir", None), ("source/gradient_checking", "dir", None),
          ("source/gradient_checking/gc_utils.py", "file", b"x = 1\n"), ("nbgrader_config.py", "file", b"c = 1\n"),
          ("submitted", "dir", None), ("submitted/ann", "dir", None), ("submitted/ann/gradient_checking", "dir", None),
          ("submitted/ann/gradient_checking/1.ipynb", "file", b"{}")]


def test_an_honest_stream_is_unpacked_as_it_came(tmp_path):
    came = unpack(tmp_path, *HONEST, ("transfer.json", "file", b'{"gradebook": "abc", "skipped": [], "notes": []}'))
    assert (tmp_path / "incoming/source/gradient_checking/gc_utils.py").read_bytes() == b"x = 1\n"
    assert (tmp_path / "incoming/submitted/ann/gradient_checking/1.ipynb").read_bytes() == b"{}"
    assert came.gradebook == "abc" and not came.held_out and not came.refused


@pytest.mark.parametrize("member, why", [
    (("source/gradient_checking/evil.py", "symlink", "/etc/shadow"), "a symbolic link"),
    (("source/gradient_checking/evil.py", "hardlink", "nbgrader_config.py"), "a hard link"),
    (("source/zero", "device", None), "a device"),
    (("source/fifo", "fifo", None), "a FIFO"),
    (("../outside.py", "file", b"x"), "not a plain relative name"),
    (("source/../../outside.py", "file", b"x"), "not a plain relative name"),
    (("/etc/cron.d/evil", "file", b"x"), "an absolute name"),
    (("source/bell\x07.py", "file", b"x"), "a name with a control character"),
    (("source/" + "a" * 256, "file", b"x"), "a name longer than 255 bytes"),
    (("source/" + "/".join("d" * 16) + "/x.py", "file", b"x"), "more than 16 folders deep"),
    ((".grading/ledger/ann.json", "file", b"{}"), "not among what grading reads"),
    (("autograded/ann/x.ipynb", "file", b"{}"), "not among what grading reads"),
    (("source", "file", b"x"), "a file where a folder goes"),
    (("nbgrader_config.py/x", "file", b"x"), "a file inside what must be a file"),
])
def test_what_is_not_a_plain_file_or_folder_of_the_inputs_stops_the_run_and_is_named(tmp_path, member, why):
    with pytest.raises(TransferRefused) as refusal:
        unpack(tmp_path, *HONEST, member)
    assert why in str(refusal.value) and "nothing was graded" in str(refusal.value)
    assert private_copy.plain(member[0]) in str(refusal.value)
    # Nothing of it exists anywhere: not even the link itself.
    incoming = tmp_path / "incoming"
    assert not [path for path in incoming.rglob("*") if path.is_symlink() or not (path.is_dir() or path.is_file())]
    assert not (tmp_path / "outside.py").exists()


def test_every_refusal_is_named_at_once(tmp_path):
    with pytest.raises(TransferRefused) as refusal:
        unpack(tmp_path, *HONEST, ("source/a", "symlink", "/x"), ("release/b", "fifo", None))
    assert "source/a: a symbolic link" in str(refusal.value) and "release/b: a FIFO" in str(refusal.value)


def test_a_bad_file_in_one_submission_leaves_that_student_out_and_grades_the_rest(tmp_path):
    came = unpack(tmp_path, *HONEST, ("submitted/bob", "dir", None), ("submitted/bob/gradient_checking", "dir", None),
                  ("submitted/bob/gradient_checking/1.ipynb", "file", b"{}"),
                  ("submitted/bob/gradient_checking/secret", "symlink", "/etc/shadow"),
                  ("submitted/cy", "symlink", "/root"))
    assert came.held_out == {"bob": "gradient_checking/secret: a symbolic link", "cy": "the folder: a symbolic link"}
    assert (tmp_path / "incoming/submitted/ann/gradient_checking/1.ipynb").exists()
    assert not (tmp_path / "incoming/submitted/bob/gradient_checking/secret").exists()


def test_what_the_instructor_s_side_left_out_of_a_submission_leaves_that_student_out(tmp_path):
    came = unpack(tmp_path, *HONEST, ("transfer.json", "file",
                                      b'{"gradebook": null, "skipped": [["submitted/ann/gradient_checking/x", '
                                      b'"a link, left out"], ["release/y", "a FIFO, left out"]], "notes": []}'))
    assert came.held_out == {"ann": "gradient_checking/x: a link, left out"}
    assert came.left_out == ["release/y: a FIFO, left out"]


def test_sizes_and_counts_are_bounded(tmp_path, monkeypatch):
    monkeypatch.setattr(private_copy, "MAX_FILE", 4)
    with pytest.raises(TransferRefused, match="larger than"):
        unpack(tmp_path, ("source", "dir", None), ("source/big.py", "file", b"12345"))
    came = unpack(tmp_path, ("source", "dir", None), ("submitted", "dir", None), ("submitted/ann", "dir", None),
                  ("submitted/ann/big.ipynb", "file", b"12345"))
    assert came.held_out == {"ann": "big.ipynb: larger than 4 bytes"}
    monkeypatch.setattr(private_copy, "MAX_FILE", 1 << 20)
    monkeypatch.setattr(private_copy, "MAX_TOTAL", 8)
    with pytest.raises(TransferRefused, match="larger than 8 bytes in all"):
        unpack(tmp_path, ("source", "dir", None), ("source/a.py", "file", b"12345"), ("source/b.py", "file", b"12345"))
    monkeypatch.setattr(private_copy, "MAX_MEMBERS", 3)
    with pytest.raises(TransferRefused, match="more than 3 files and folders"):
        unpack(tmp_path, *HONEST)


def test_a_name_given_twice_or_a_broken_stream_is_refused(tmp_path):
    with pytest.raises(TransferRefused, match="came twice"):
        unpack(tmp_path, ("nbgrader_config.py", "file", b"a"), ("nbgrader_config.py", "file", b"b"))
    with pytest.raises(TransferRefused, match="not a whole tar stream"):
        private_copy.unpack(io.BytesIO(b"not a tar stream" * 100), tmp_path / "incoming", set(private_copy.INPUTS))


# ------------------------------------------------------------------------- as the instructor

@pytest.fixture()
def nobody_course(monkeypatch):
    """A course of `nobody`'s with a gradebook, a private folder of root's, and the program the
    instructor's side runs kept where `nobody` cannot read it (as a repository closed to them)."""
    require(os.geteuid() == 0, "the instructor's side runs as another account: run as root")
    require(Path(PYTHON).exists(), f"{PYTHON} is missing: apt-get install python3.11")
    top = Path(tempfile.mkdtemp(prefix="gc-transfer-", dir="/tmp"))
    os.chmod(top, 0o755)
    closed = top / "repository"
    closed.mkdir(mode=0o700)
    shutil.copy(private_copy.PROGRAM, closed / "as_instructor.py")
    monkeypatch.setattr(private_copy, "PROGRAM", closed / "as_instructor.py")
    course = top / "course"
    (course / "source").mkdir(parents=True)
    (course / "source" / "x.py").write_text("x = 1\n")
    book = sqlite3.connect(course / "gradebook.db")
    book.execute("create table grade (student, score)")
    book.execute("insert into grade values ('ann', 50)")
    book.commit()
    book.close()
    account = pwd.getpwnam("nobody")
    for path in [course, *course.rglob("*")]:
        os.chown(path, account.pw_uid, account.pw_gid)
    private = top / "private"
    private.mkdir(mode=0o700)
    yield private_copy.Account(account, PYTHON), private, course
    shutil.rmtree(top)


def scores(path):
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as book:
        return dict(book.execute("select student, score from grade"))


def test_results_go_out_and_the_gradebook_is_replaced_only_if_nobody_changed_it(nobody_course):
    account, private, course = nobody_course
    with private_copy.PrivateCopy(private, course) as copy:
        assert stat.S_IMODE(copy.folder.stat().st_mode) == 0o700 and copy.folder.stat().st_uid == 0
        came = private_copy.bring_in(copy, account)
        assert (copy.copy / "source" / "x.py").read_text() == "x = 1\n" and came.gradebook
        (copy.copy / "grades.csv").write_text("student_id,score\nann,100\n")
        with sqlite3.connect(copy.copy / "gradebook.db") as graded:   # what grading wrote
            graded.execute("update grade set score = 100")
        # The formgrader saves a grade meanwhile: nothing is written into the course.
        with sqlite3.connect(course / "gradebook.db") as formgrader:
            formgrader.execute("insert into grade values ('bob', 7)")
        written = private_copy.send_out(copy, account, {"expected": came.gradebook})
        assert written["gradebook"] == "changed" and written["written"] == 0
        assert not (course / "grades.csv").exists() and scores(course / "gradebook.db") == {"ann": 50, "bob": 7}

        # The next run takes the formgrader's change in; with nobody writing, everything goes out.
        came = private_copy.bring_in(copy, account)
        assert scores(copy.copy / "gradebook.db") == {"ann": 50, "bob": 7}
        with sqlite3.connect(copy.copy / "gradebook.db") as graded:
            graded.execute("update grade set score = 100 where student = 'ann'")
        formgrader = sqlite3.connect(course / "gradebook.db")   # the formgrader's connection stays open
        assert dict(formgrader.execute("select student, score from grade")) == {"ann": 50, "bob": 7}
        written = private_copy.send_out(copy, account, {"expected": came.gradebook})
        assert written["gradebook"] == "replaced" and written["written"] == 1, written
        assert dict(formgrader.execute("select student, score from grade")) == {"ann": 100, "bob": 7}
        formgrader.close()
    owner = pwd.getpwnam("nobody").pw_uid
    assert all(path.lstat().st_uid == owner for path in [course, *course.rglob("*")])


def test_one_course_is_graded_by_one_run_at_a_time(nobody_course):
    _, private, course = nobody_course
    with private_copy.PrivateCopy(private, course):
        with pytest.raises(TransferRefused, match=rf"another make hub-autograde or hub-review-config \(pid {os.getpid()}\)"):
            with private_copy.PrivateCopy(private, course):
                pass
    with private_copy.PrivateCopy(private, course):   # free again
        pass


def test_a_gradebook_that_is_a_link_is_refused_and_nothing_comes_in(nobody_course):
    account, private, course = nobody_course
    os.rename(course / "gradebook.db", course / "elsewhere.db")
    os.symlink(course / "elsewhere.db", course / "gradebook.db")
    with private_copy.PrivateCopy(private, course) as copy:
        with pytest.raises(TransferRefused, match="gradebook.db is a link, not the course's gradebook"):
            private_copy.bring_in(copy, account)
        assert not (copy.copy / "source").exists() and not copy.incoming.exists()
