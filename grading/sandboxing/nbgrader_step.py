"""nbgrader's own steps (autograde, feedback) in a sandbox that sees one student's scratch copy.

nbgrader's autograde writes the graded notebooks, copies files and sets their permissions;
its feedback copies the graded folder and renders it. Run as root in the course, a single link
followed there reaches anything on the machine. Under `make autograde` these steps run instead
in a sandbox (grading.sandboxing.sandbox) as the unprivileged user GRADER_UID, whose view of the course
directory is a scratch folder holding only what the step needs:

    autograde   nbgrader_config.py, source/<assignment>/ (no notebooks), submitted/<student>/ (the
                staged copy), gradebook.db (grading.sandboxing.gradebook_slice: the assignment and this
                student only); it writes autograded/<student>/
    feedback    nbgrader_config.py, autograded/<student>/, gradebook.db (the slice, with the
                final grades); it writes feedback/<student>/

The grading process fills the scratch folder, runs the step, and brings back, itself, what the
step made: regular files only, read without following links (grading.sandboxing.files), and this student's
rows of the slice (gradebook_slice.import_). The step sees no other student, no solution, no
hidden test and not the course's gradebook; its kernels come from the grading process's kernel
service (grading.sandboxing.kernel_service), which forks them from the submission's kernel zygote (grading.sandboxing.kernels).

One step process serves a grading process for all its submissions, one job at a time, as the
formgrader runs nbgrader's operations one after another in one process: it imports nbgrader
once, and the second job on finds nbconvert's and SQLAlchemy's caches warm (a feedback page costs
half as much CPU). Nothing of a student is left for the next one to find on disk: the scratch
folder is emptied between jobs.

Three modules, one job each: this one, the host side; grading.sandboxing.kernel_service, the
kernels the step asks for; grading.sandboxing.step_server, what runs in the step's sandbox.
A submission is one call, and its feedback another:

    step = step_for(course)                  # one per course and grading process
    graded = step.autograde(student, staged_folder, db_url, settings, cgroup=..., verdicts=...,
                            verify=..., unfinished=...)   # the graded copy and grades brought back
    written = step.feedback(student, db_url, settings, absent)
"""
import atexit
import json
import os
import select
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from grading.assignment import ASSIGNMENT, EXCHANGE_FILES, FEEDBACK_FILES, NOTEBOOKS, PACKAGE
from grading.course_directory import GRADEBOOK_FILE
from grading.sandboxing import files, gradebook_slice, kernels, step_server
from grading.sandboxing.cgroups import Cgroup
from grading.sandboxing.kernel_service import SERVICE_SOCKET, KernelService
from grading.sandboxing.sandbox import GRADER_GID, GRADER_UID, popen, python_paths, wrap
from grading.sandboxing.kernels import VERDICT_READER, Zygote
from grading.sandboxing.sandbox_kernel import KERNEL_SERVICE
from grading.sandboxing.socket_area import SocketArea

# The step's own sandbox runs no student code, but nbgrader's and nbconvert's: more CPU time (a
# process serves every job of a grading process), processes and /tmp than a kernel's.
STEP_SANDBOX = {"process_cpu_seconds": 3600, "sandbox_processes": 256, "tmp_bytes": 256 * 2 ** 20}
_steps = {}


@dataclass
class Graded:
    """What one submission's autograde gave: nbgrader's outcome, what ran beside it, what was lost."""
    outcome: dict                    # nbgrader's: success, error, log (and timed_out where it was stopped)
    verified: object = None          # what the `verify` call returned
    left_out: list = field(default_factory=list)   # [(file, why)] of the graded copy that was not kept
    cpu_seconds: float = 0.0         # the step's CPU time for this submission


def runtime_folder():
    """Where the grading process keeps its sockets (jupyter's runtime folder, 0700)."""
    from jupyter_core.paths import jupyter_runtime_dir

    return jupyter_runtime_dir()


# ============================================================================ host side
class NbgraderStep:
    """The sandboxed nbgrader of one course (a grading.course_directory.Course), for this grading process."""

    def __init__(self, course):
        self.course = course
        self.root = course.root
        self.scratch = Path(tempfile.mkdtemp(prefix="gc-step-"))
        self.copy = course.at(self.scratch)   # the scratch folder, laid out as the course
        # Where the kernels' sockets are: the zygotes' folders, and those they are moved to.
        self.area = SocketArea.create(runtime_folder(), course.settings)
        self.file_bytes = course.settings.step_file_bytes   # a file brought back from the scratch copy, at most
        self.sealed = kernels.private_folder(self.area.path, "gc-sealed-")      # kernels' sockets, for the step
        self.service = kernels.private_folder(runtime_folder(), "gc-service-")  # the kernel service's socket
        self.log = tempfile.TemporaryFile()
        self.process = None
        self.cgroup = None     # counts the step's CPU time (no limits: it runs no student code)
        # Top-level names of the scratch folder that are mount points of the step's own view
        # (a .venv or the package inside the course directory): never removed while it runs.
        self.mount_points = {Path(p).relative_to(self.root).parts[0]
                             for p in [*python_paths(), str(PACKAGE)] if Path(p).is_relative_to(self.root)}
        if os.geteuid() == 0:
            os.chmod(self.service, 0o755)
            os.chmod(self.sealed, 0o755)

    # ------------------------------------------------------------------ the process
    def start(self):
        if self.cgroup is None:
            self.cgroup = Cgroup.create("nbgrader-step")
        command = wrap([sys.executable, "-I", "-m", step_server.__name__, "serve"], workdir=self.root,
                       writable=[(self.scratch, self.root)],
                       readonly=[PACKAGE, self.sealed, self.service],
                       env={"JUPYTER_RUNTIME_DIR": step_server.RUNTIME, KERNEL_SERVICE: str(self.service / SERVICE_SOCKET)},
                       uid=GRADER_UID, gid=GRADER_GID, settings=self.course.settings.replaced(**STEP_SANDBOX),
                       cgroup=self.cgroup)
        self.process = popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.log)
        return self

    def alive(self):
        return self.process is not None and self.process.poll() is None

    def stop(self):
        if self.process is not None:
            if self.process.poll() is None:
                self.process.kill()
            self.process.wait()
            for stream in (self.process.stdin, self.process.stdout):
                stream.close()
            self.process = None

    def cpu_seconds(self):
        """CPU time the step's processes used so far (0 where cgroups are unavailable)."""
        return (self.cgroup.cpu_seconds() or 0.0) if self.cgroup is not None else 0.0

    def close(self):
        self.stop()
        if self.cgroup is not None:
            self.cgroup.remove()
        for folder in (self.scratch, self.sealed, self.service):
            files.remove_tree(folder)
        self.area.close()
        self.log.close()

    # ------------------------------------------------------------------ one submission, one call
    def autograde(self, student, staged_folder, db_url, settings, *, cgroup, verdicts, verify, unfinished):
        """Grade the staged copy of `student`'s submission with nbgrader's autograde, its kernels
        forked from a zygote of the submission's own (in `cgroup`, reading `verdicts`), while
        verify() runs beside it in a thread; then bring back the graded copy and the grades.

        settings -- the submission's grading.settings.GradingSettings (deadline, cells, outputs)
        verify -- called beside nbgrader (verification); its value is Graded.verified, and what it
                  raises is raised here before anything is brought back
        unfinished -- unfinished(outcome, verified) -> rewrite(notebook bytes) -> the graded copy's
                  bytes, where nbgrader could not finish (keep_ungraded)
        """
        self.prepare_autograde(student, staged_folder, db_url)
        with Zygote(self.course, work_area=self.course.autograded(student).parent, package=VERDICT_READER,
                    verdicts=verdicts, cgroup=cgroup, settings=settings, sockets_near=self.area.path) as zygote, \
                KernelService(self, zygote, student), ThreadPoolExecutor(max_workers=1) as beside:
            verifying = beside.submit(verify)
            cpu = self.cpu_seconds()
            graded = Graded(self.run("autograde", student, settings))
            graded.cpu_seconds = self.cpu_seconds() - cpu
            graded.verified = verifying.result()
        graded.left_out = self.bring_back("autograded", student)
        if not graded.outcome["success"]:   # the staged notebooks, with why they did not run instead of their outputs
            graded.left_out += self.keep_ungraded(student, staged_folder, NOTEBOOKS,
                                                  unfinished(graded.outcome, graded.verified))
        self.bring_back_grades(student, db_url)
        return graded

    def feedback(self, student, db_url, settings, absent):
        """nbgrader's feedback pages of `student`, brought back into the course; nbgrader's outcome.
        absent -- {notebook file name: why it has no graded copy}, which each page says"""
        self.prepare_feedback(student, db_url)
        written = self.run("feedback", student, settings, absent=absent)
        self.bring_back("feedback", student)
        return written

    # ------------------------------------------------------------------ a job
    def run(self, op, student, settings, absent=None):
        """Run job `op` ("autograde" or "feedback") for `student`; nbgrader's outcome, a dict with
        success, error and log (and timed_out where it was stopped). Past settings.deadline_seconds
        + grace_seconds the step is stopped.
        absent -- for feedback: {notebook file name: why it has no graded copy}, which each page
                  says (grading.plugins.feedback_page.AssignmentSummary)"""
        if not self.alive():
            self.start()
        self.log.seek(0)
        self.log.truncate()
        job = {"op": op, "student": student, "assignment": ASSIGNMENT, "sockets": str(self.sealed),
               "deadline_seconds": settings.deadline_seconds, "cell_seconds": settings.cell_seconds,
               "output_bytes": settings.output_bytes, "message_bytes": settings.message_bytes,
               "absent": absent or {}}
        try:
            self.process.stdin.write(json.dumps(job).encode() + b"\n")
            self.process.stdin.flush()
            ready, _, _ = select.select([self.process.stdout], [], [], settings.deadline_seconds + settings.grace_seconds)
            line = self.process.stdout.readline() if ready else b""
        except (BrokenPipeError, OSError):
            ready, line = True, b""
        if not line:
            why = "ended unexpectedly" if ready else f"did not finish within {settings.deadline_seconds:g} seconds"
            self.stop()
            return {"success": False, "error": f"nbgrader's {op} {why} ({self._log_tail()})", "log": "",
                    "timed_out": bool(not ready)}
        return json.loads(line)

    def _log_tail(self):
        self.log.seek(0, os.SEEK_END)
        self.log.seek(max(0, self.log.tell() - 2000))
        lines = self.log.read().decode(errors="replace").strip().splitlines()
        return lines[-1][:300] if lines else "no message"

    # ------------------------------------------------------------------ the scratch folder
    def clean(self):
        """Empty the scratch folder (but the mount points of the step's own view)."""
        for entry in os.listdir(self.scratch):
            if entry not in self.mount_points:
                files.remove_tree(self.scratch / entry)
        if os.geteuid() == 0:   # the step writes here (nbgrader's folders, the gradebook's journal)
            os.chown(self.scratch, GRADER_UID, GRADER_GID)
            os.chmod(self.scratch, 0o755)

    def _give(self, path):
        """Make a file or folder the grading process put in the scratch folder the step's."""
        if os.geteuid() != 0:
            return
        try:
            fd = files.open_folder(path, self.scratch)
        except files.NotRegular:   # a file, not a folder
            fd = files.open_regular(path, anchor=self.scratch)
            try:
                os.fchown(fd, GRADER_UID, GRADER_GID)
            finally:
                os.close(fd)
            return
        try:
            os.fchown(fd, GRADER_UID, GRADER_GID)
            for _, top_fd, names in files.walk(fd):
                os.fchown(top_fd, GRADER_UID, GRADER_GID)
                for name in names:
                    os.chown(name, GRADER_UID, GRADER_GID, dir_fd=top_fd, follow_symlinks=False)
        finally:
            os.close(fd)

    def _course_files(self, student, db_url):
        """What every job needs: the configuration and the gradebook slice."""
        self.clean()
        files.write_new(self.copy.config_file, self.course.config_file.read_bytes())
        with tempfile.TemporaryDirectory(prefix="gc-slice-") as private:
            made = Path(private) / GRADEBOOK_FILE
            gradebook_slice.export(db_url, self.course.course_id, ASSIGNMENT, student, made)
            files.write_new(self.scratch / GRADEBOOK_FILE, made.read_bytes())
        self._give(self.scratch / GRADEBOOK_FILE)

    def bring_back_grades(self, student, db_url):
        """Copy this student's rows of the slice that the step wrote back into the course gradebook."""
        with tempfile.TemporaryDirectory(prefix="gc-slice-") as private:
            for name in (GRADEBOOK_FILE, GRADEBOOK_FILE + "-journal"):   # a journal: the step was stopped mid-write
                try:
                    data = files.read_regular(self.scratch / name, self.file_bytes, anchor=self.scratch)
                except FileNotFoundError:
                    continue
                files.write_new(Path(private) / name, data)
            gradebook_slice.import_(db_url, ASSIGNMENT, student, Path(private) / GRADEBOOK_FILE)

    def prepare_autograde(self, student, staged_folder, db_url):
        self._course_files(student, db_url)
        source = self.course.source()
        regular, _ = files.regular_files(source, skip=(".ipynb_checkpoints", "__pycache__"))
        self._make_parent(self.copy.source())
        files.copy_regular_files(source, self.copy.source(), limit=self.file_bytes,
                                 names={name for name, _ in regular if not name.endswith(".ipynb")},
                                 destination_anchor=self.scratch)
        self._make_parent(self.copy.submitted(student))
        files.copy_regular_files(staged_folder, self.copy.submitted(student), limit=self.file_bytes,
                                 anchor=self.root, destination_anchor=self.scratch)
        for step in ("source", "submitted"):
            self._give(self.copy.folder(step))

    def prepare_feedback(self, student, db_url):
        """Only the graded notebooks and the two files the exchange reads beside the pages: so
        nbgrader's feedback folder holds the pages it rendered, and never a student's own file
        (a `1_gradient_checking_1d.html` handed in would otherwise stand in for a missing page)."""
        self._course_files(student, db_url)
        self._make_parent(self.copy.autograded(student))
        files.copy_regular_files(self.course.autograded(student), self.copy.autograded(student), limit=self.file_bytes,
                                 names={*NOTEBOOKS, *EXCHANGE_FILES},
                                 anchor=self.root, destination_anchor=self.scratch)
        self._give(self.copy.folder("autograded"))

    def _make_parent(self, folder):
        """The folders above `folder` in the scratch copy (the copy makes `folder` itself)."""
        files.make_folders(self.scratch, self.copy.relative(folder).parent)

    def bring_back(self, kind, student):
        """Replace the course's <kind>/<student>/<assignment>/ (kind: autograded, feedback) with the
        regular files the step made in its scratch copy (for feedback, FEEDBACK_FILES only: what
        was there before, a student's file included, is gone); returns [(file, why it was left out)]."""
        made = getattr(self.copy, kind)(student)
        target = getattr(self.course, kind)(student)
        files.remove_tree(target, anchor=self.root)
        files.make_folders(self.root, self.course.relative(target).parent)
        try:
            return files.copy_regular_files(made, target, limit=self.file_bytes, anchor=self.scratch,
                                            names=set(FEEDBACK_FILES) if kind == "feedback" else None,
                                            destination_anchor=self.root)
        except FileNotFoundError:   # nbgrader removes what it could not finish
            files.remove_tree(target, anchor=self.root)
            return []
        except files.NotRegular as error:   # the step put a link where its folder belongs
            files.remove_tree(target, anchor=self.root)
            return [(str(self.course.relative(target).parent), str(error))]

    def keep_ungraded(self, student, staged_folder, notebooks, rewrite):
        """Where nbgrader could not finish a submission (it then removes its graded copy), make the
        staged notebooks the graded copy, so that the formgrader lists the submission as graded
        (with the verified scores), the feedback can be written, and every view shows one score.
        notebooks -- the assignment's notebook file names
        rewrite -- rewrite(notebook bytes) -> the bytes of its graded copy (grading.grader.ungraded.graded_copy:
                   no output of the student's own run)
        Returns [(file, why it was left out)]."""
        target = self.course.autograded(student)
        try:
            os.close(files.open_folder(target, anchor=self.root))
            return []   # nbgrader kept a graded copy: it stays
        except FileNotFoundError:
            pass
        files.make_folders(self.root, self.course.relative(target).parent)
        # What nbgrader's feedback and exchange read beside the notebooks, as they are.
        present = {name for name in EXCHANGE_FILES if (Path(staged_folder) / name).is_file()}
        left_out = files.copy_regular_files(staged_folder, target, limit=self.file_bytes, names=present,
                                            anchor=self.root, destination_anchor=self.root)
        folder = files.open_folder(target, anchor=self.root)
        try:
            for name in notebooks:
                try:
                    data = files.read_regular(Path(staged_folder) / name, self.file_bytes, anchor=self.root)
                except FileNotFoundError:
                    continue   # staging left it out: it has no graded copy
                except (files.NotRegular, files.TooLarge) as error:
                    left_out.append((name, str(error)))
                    continue
                files.write_new(name, rewrite(data), dir_fd=folder)
        finally:
            os.close(folder)
        return left_out



def step_for(course):
    """The NbgraderStep of the course (a grading.course_directory.Course) for this process (made on first use)."""
    root = course.root.resolve()
    if root not in _steps:
        _steps[root] = NbgraderStep(course.at(root))
    return _steps[root]


@atexit.register
def _close_steps():
    for step in _steps.values():
        step.close()
    _steps.clear()
