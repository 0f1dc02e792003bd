"""The grader's own steps never follow a link: one is planted at every path they touch.

A recording run grades one submission and writes its feedback in this process
(grading.grader.pipeline: staging, the nbgrader step's scratch folder, the kernel service and the
zygote's sockets, bringing the results back) with the file-system functions of os, shutil and
builtins wrapped, noting every operation on a path where a student or a sandbox could have put
something (paths relative to a folder's descriptor resolved): the submission, its staged copy,
its graded and feedback folders, the step's scratch folder and the kernel zygote's sockets folder. Then, for the first path the grader touches in each
folder, a run plants a link there just before the grader first touches it: to a canary file outside the course, or to a
canary folder where the grader expects a folder. Whatever the grader then does (refuse the
file, give up on the submission), the canaries must stay untouched (inotify), nothing may fail
uncaught, and the run must end. A second table shows that the operations themselves are of the
kinds that cannot follow a last-component link.
"""
import os
import re
import threading

import pytest
from canaries import Canaries
from grading.course_directory import Course
from grading.grader import course, gradebook, pipeline
from synthetic_class import synthetic

# Folders a student or a sandbox can write in (the others the grader uses are its own, 0700 or
# root's); the folders themselves are the grader's, what is in them is not.
SANDBOX_FOLDERS = re.compile(r"/gc-(step|zygote)-[^/]+(?=/)")
STUDENT_TREES = ("submitted", ".grading/staged", "autograded", "feedback")
FOLDER_OPERATIONS = {"mkdir", "listdir", "scandir", "rmdir", "fwalk"}
# Operations that act on a link itself, never on what it points to.
NOT_FOLLOWING = {"mkdir", "unlink", "remove", "rmdir", "rename", "replace", "symlink", "link", "mkfifo",
                 "rmtree"}   # shutil.rmtree walks by descriptors on Linux (rmtree.avoids_symlink_attacks)
WATCHED = {"os": ("open", "mkdir", "rename", "replace", "unlink", "remove", "rmdir", "symlink", "link", "chown",
                  "chmod", "listdir", "scandir", "fwalk", "truncate", "utime", "mkfifo"),
           "shutil": ("copyfile", "copy", "copy2", "copytree", "move", "rmtree"),
           "builtins": ("open",)}
PATH_ARGUMENTS = {"rename": 2, "replace": 2, "symlink": 2, "link": 2, "copyfile": 2, "copy": 2, "copy2": 2,
                  "copytree": 2, "move": 2}


class Watch:
    """Wraps the file-system functions of os, shutil and builtins for the length of a `with`:
    notes (operation, full path, flags, follows) for every path where a student or a sandbox
    could have put something (folder descriptors resolved), and plants a link at the first path
    whose normalized form is `plant_at`."""

    def __init__(self, root, canaries):
        self.root, self.canaries = str(root), canaries
        self.seen = []
        self.active = False
        self.plant_at = self.planted = None
        self.student = ""
        self.local = threading.local()
        self.originals = {}

    def __enter__(self):
        for module_name, names in WATCHED.items():
            module = __import__(module_name)
            for name in names:
                original = getattr(module, name)
                self.originals[(module, name)] = original
                setattr(module, name, self._wrapped(name, original))
        return self

    def __exit__(self, *exc):
        for (module, name), original in self.originals.items():
            setattr(module, name, original)
        return False

    def _wrapped(self, name, original):
        def wrapper(*args, **kwargs):
            if self.active and not getattr(self.local, "busy", False):
                self.local.busy = True
                try:
                    self._note(name, args, kwargs)
                finally:
                    self.local.busy = False
            return original(*args, **kwargs)
        wrapper.__wrapped__ = original
        return wrapper

    def _full(self, path, dir_fd):
        if isinstance(path, int) or path is None:
            return None
        path = os.fsdecode(path)
        if not os.path.isabs(path):
            if dir_fd is None:
                return None
            path = os.path.join(os.readlink(f"/proc/self/fd/{dir_fd}"), path)
        return os.path.normpath(path)

    def _note(self, name, args, kwargs):
        count = PATH_ARGUMENTS.get(name, 1)
        dir_fds = [kwargs.get("src_dir_fd", kwargs.get("dir_fd")), kwargs.get("dst_dir_fd", kwargs.get("dir_fd"))]
        flags = args[1] if name == "open" and len(args) > 1 and isinstance(args[1], int) else None
        if name == "open" and isinstance(args[1] if len(args) > 1 else None, str):
            flags = "builtin open, mode " + args[1]
        for index, path in enumerate(args[:count]):
            full = self._full(path, dir_fds[index])
            if full is None or not self.in_reach(full):
                continue
            self.seen.append((name, full, flags, kwargs.get("follow_symlinks", True)))
            if self.plant_at is not None and self.planted is None and self.normalized(full) == self.plant_at:
                self._plant(name, full, flags)

    def in_reach(self, path):
        if SANDBOX_FOLDERS.search(path):
            return True
        return any(path.startswith(f"{self.root}/{tree}/") for tree in STUDENT_TREES)

    def normalized(self, path):
        """The path with what changes from run to run made general: temporary folders' names,
        the students' ids, kernels' socket names."""
        path = SANDBOX_FOLDERS.sub(lambda m: f"/gc-{m.group(1)}-*", path)
        path = re.sub(r"/k[0-9]+(/ipc-[0-9]+)?$", lambda m: "/k*" + ("/ipc-*" if m.group(1) else ""), path)
        return re.sub(r"/(ada|s[0-9]{3})(/|$)", r"/{student}\2", path)

    def _plant(self, name, path, flags):
        folder = name in FOLDER_OPERATIONS or (isinstance(flags, int) and flags & os.O_DIRECTORY)
        target = self.canaries.folder / ("folder" if folder else "target.txt")
        if os.path.lexists(path):
            os.rename(path, path + ".moved-by-the-test")
        elif not os.path.isdir(os.path.dirname(path)):
            return
        os.symlink(target, path)
        self.planted = (name, path)


def grade(root, student, watch, *, plant_at=None, feedback=True):
    """Grade `student` and write the feedback, watched; plant a link at `plant_at` ((phase,
    pattern)) when the grader first touches it. Returns (Result, feedback problem, {phase: seen})."""
    db_url = gradebook.normalized(gradebook.configured_url(root))
    graded = Course(root).with_settings(deadline_seconds=60)
    seen = {}
    watch.planted = None
    try:
        for phase in ("grade", "feedback") if feedback else ("grade",):
            watch.seen = seen[phase] = []
            watch.plant_at = plant_at[1] if plant_at and plant_at[0] == phase else None
            watch.active = True
            if phase == "grade":
                result = pipeline.grade_submission(graded, student, db_url)
            else:
                problem = pipeline.write_feedback(graded, student, db_url)
            watch.active = False
    finally:
        watch.active, watch.plant_at = False, None
    return result, problem if feedback else "", seen


def representatives(seen, watch):
    """[(phase, pattern)]: the first path the grader touches in each folder, and each folder
    itself, in the order first touched."""
    chosen, folders = [], set()
    for phase, operations in seen.items():
        for _, path, _, _ in operations:
            pattern = watch.normalized(path)
            folder = os.path.dirname(pattern)
            if folder not in folders and all(pattern != p for _, p in chosen):
                folders.add(folder)
                chosen.append((phase, pattern))
    return chosen


@pytest.fixture(scope="module")
def recorded(new_course, tmp_path_factory):
    root = new_course("links")
    gradebook.prepare(root, gradebook.normalized(gradebook.configured_url(root)))
    canaries = Canaries(tmp_path_factory.mktemp("canaries_for_links"))
    with Watch(root, canaries) as watch:
        course.add_submission(root, "ada", synthetic.submission(complete=False))
        result, problem, seen = grade(root, "ada", watch)
        assert not result.failed and not problem, (result.failed, problem)
        patterns = [watch.normalized(path) for operations in seen.values() for _, path, _, _ in operations]
        yield {"root": root, "watch": watch, "seen": [op for ops in seen.values() for op in ops],
               "patterns": patterns, "plantings": representatives(seen, watch), "canaries": canaries}
    canaries.close()


def test_the_recording_sees_the_grader_at_work(recorded):
    patterns = recorded["patterns"]
    for where in ("/submitted/{student}/", "/.grading/staged/{student}/", "/gc-step-*/submitted/{student}/",
                  "/gc-step-*/autograded/{student}/", "/gc-zygote-*/", "/autograded/{student}/", "/feedback/{student}/"):
        assert any(where in p for p in patterns), (where, patterns)


def test_the_grader_uses_only_operations_that_do_not_follow_a_link(recorded):
    """os.open with O_NOFOLLOW (files, and folders entered under a folder's descriptor), and
    otherwise operations that act on a link itself; never builtins.open, a copy, a listing by
    path, or a chmod or chown that follows."""
    wrong = []
    for name, path, flags, follows in recorded["seen"]:
        if name == "open":
            if not (isinstance(flags, int) and flags & os.O_NOFOLLOW):
                wrong.append((name, path, flags))
        elif name in ("chown", "chmod"):
            if follows:
                wrong.append((name, path))
        elif name not in NOT_FOLLOWING:
            wrong.append((name, path))
    assert wrong == [], wrong


def test_a_link_planted_at_any_path_the_grader_touches_is_never_followed(recorded):
    root, watch, canaries = recorded["root"], recorded["watch"], recorded["canaries"]
    outcomes = {}
    with canaries.watching():
        for number, (phase, pattern) in enumerate(recorded["plantings"]):
            student = f"s{number:03d}"
            course.add_submission(root, student, synthetic.submission(complete=False))
            result, problem, _ = grade(root, student, watch, plant_at=(phase, pattern), feedback=phase == "feedback")
            outcomes[pattern] = (watch.planted, result.failed.splitlines()[-1:] if result.failed else "graded", problem)
    assert canaries.touched() == [], canaries.touched()[:10]
    assert canaries.changed() == []
    missed = [pattern for pattern, (planted, _, _) in outcomes.items() if not planted]
    assert not missed, missed
    assert len(outcomes) >= 15, outcomes
