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
service (KernelService), which forks them from the submission's kernel zygote (grading.sandboxing.kernels).

One step process serves a grading process for all its submissions, one job at a time, as the
formgrader runs nbgrader's operations one after another in one process: it imports nbgrader
once, and the second job on finds nbconvert's and SQLAlchemy's caches warm (a feedback page costs
half as much CPU). Nothing of a student is left for the next one to find on disk: the scratch
folder is emptied between jobs.

    step = step_for(root)                    # host side, one per course and grading process
    step.prepare_autograde(student, staged_folder, db_url)
    with step.kernel_service(zygote, student):
        outcome = step.run("autograde", student, settings)
    step.bring_back_autograded(student); gradebook_slice.import_(...)

    python -I -m grading.sandboxing.nbgrader_step serve      # inside the sandbox: one JSON job per line
"""
import atexit
import json
import os
import select
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from grading.assignment import ASSIGNMENT, EXCHANGE_FILES, FEEDBACK_FILES, NOTEBOOKS, PACKAGE
from grading.course_directory import GRADEBOOK_FILE, Course
from grading.inside import kernel_zygote
from grading.sandboxing import files, gradebook_slice, kernels
from grading.sandboxing.cgroups import Cgroup
from grading.sandboxing.sandbox import GRADER_GID, GRADER_UID, popen, python_paths, wrap
from grading.sandboxing.sandbox_kernel import KERNEL_SERVICE
from grading.sandboxing.socket_area import SocketArea

SERVICE_SOCKET = "kernels.sock"
KERNEL_PREFIX = "kernel"                 # the step's KernelManager.ip is <sealed folder>/kernel
LOG_BYTES = 64 * 2 ** 10                 # of nbgrader's log, kept per job
# The step's own sandbox runs no student code, but nbgrader's and nbconvert's: more CPU time (a
# process serves every job of a grading process), processes and /tmp than a kernel's.
STEP_SANDBOX = {"process_cpu_seconds": 3600, "sandbox_processes": 256, "tmp_bytes": 256 * 2 ** 20}
PRELOAD = ("nbgrader.apps.api", "nbgrader.apps.autogradeapp", "nbgrader.apps.generatefeedbackapp",
           "nbconvert.exporters.html", "nbclient", "jupyter_client", "sqlalchemy",
           "grading.sandboxing.bounded_execute", "grading.sandboxing.warm_kernels", "grading.plugins.late_plugin",
           "grading.plugins.feedback_page", "grading.plugins.page_math", "latex2mathml.converter")

_steps = {}


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
        command = wrap([sys.executable, "-I", "-m", "grading.sandboxing.nbgrader_step", "serve"], workdir=self.root,
                       writable=[(self.scratch, self.root)],
                       readonly=[PACKAGE, self.sealed, self.service],
                       env={"JUPYTER_RUNTIME_DIR": "/tmp/runtime", KERNEL_SERVICE: str(self.service / SERVICE_SOCKET)},
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

    def kernel_service(self, zygote, student):
        return KernelService(self, zygote, student)


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


class KernelService:
    """The kernels a step's nbgrader asks for, started from the submission's zygote, while a
    `with` block runs. The step's kernel launcher (grading.sandboxing.sandbox_kernel) connects with the
    zygote's protocol; the service checks the request, starts the kernel with the files of the
    scratch copy of the graded folder, moves its sockets into the step's view, and relays the
    kernel's end, or the launcher's wish to kill it."""

    def __init__(self, step, zygote, student):
        self.step, self.zygote, self.student = step, zygote, student
        self.cwd = str(step.course.autograded(student))
        self.path = step.service / SERVICE_SOCKET
        self.listener = None
        self.threads = []
        self.lock = threading.Lock()   # one kernel start at a time: they share the zygote

    def __enter__(self):
        files.remove_tree(self.path)
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.listener.bind(str(self.path))
        os.chmod(self.path, 0o666)   # the step's user connects
        self.listener.listen(4)
        thread = threading.Thread(target=self._accept, daemon=True)
        thread.start()
        self.threads.append(thread)
        return self

    def __exit__(self, *exc):
        try:
            self.listener.shutdown(socket.SHUT_RDWR)   # wakes the accepting thread
        except OSError:
            pass
        self.listener.close()
        files.remove_tree(self.path)
        return False

    def _accept(self):
        while True:
            try:
                connection, _ = self.listener.accept()
            except OSError:
                return
            thread = threading.Thread(target=self._serve, args=(connection,), daemon=True)
            thread.start()

    def _serve(self, connection):
        output = None
        with connection:
            try:
                data, fds, _, _ = socket.recv_fds(connection, kernel_zygote.MESSAGE, 2)
                output = fds[0] if fds else None
                for extra in fds[1:]:
                    os.close(extra)
                request = json.loads(data)
                info = request["connection"]
                if request.get("cwd") != self.cwd:
                    raise kernels.KernelStartFailed(f"a kernel for {request.get('cwd')!r}, not for {self.cwd}")
                if not str(info.get("ip", "")).startswith(str(self.step.sealed) + "/") or output is None:
                    raise kernels.KernelStartFailed("a kernel request without its socket prefix or output")
                with self.lock:
                    if not self.zygote.alive():   # a kernel of this submission killed it: a new one
                        self.zygote.stop()
                        self.zygote.start()
                    started = self.zygote.start_kernel(info, request.get("argv", []), cwd=self.cwd, output=output,
                                                       folder=self.step.copy.autograded(self.student),
                                                       anchor=self.step.scratch)
            except (kernels.KernelStartFailed, OSError, ValueError, KeyError, TypeError) as error:
                print(f"kernel service: {error}", file=sys.stderr)
                return
            finally:
                if output is not None:
                    os.close(output)
            try:
                connection.send(json.dumps({"pid": started.pid}).encode())
                self._relay(connection, started)
            finally:
                kernels.remove_sealed(info)

    def _relay(self, connection, started):
        """Until the kernel ends: pass the launcher's kill (or its going away) to the zygote, and
        the kernel's exit status back."""
        poller = select.poll()
        poller.register(connection, select.POLLIN | select.POLLHUP)
        poller.register(started.connection, select.POLLIN | select.POLLHUP)
        while True:
            for fd, _ in poller.poll():
                if fd == started.connection.fileno():
                    status = started.exit_status()
                    try:
                        connection.send(json.dumps({"exit": status}).encode())
                    except OSError:
                        pass
                    return
                try:
                    asked = connection.recv(kernel_zygote.MESSAGE)
                except OSError:
                    asked = b""
                if asked in (b"kill", b""):
                    started.kill()
                    if not asked:
                        poller.unregister(connection)


# ============================================================================ inside the sandbox
def _outcome(outcome):
    """nbgrader's outcome, with its log cut to LOG_BYTES."""
    return {"success": bool(outcome.get("success")), "error": str(outcome.get("error") or "")[-LOG_BYTES:],
            "log": str(outcome.get("log") or "")[-LOG_BYTES:]}


def job_config(job):
    """The course's configuration (the scratch copy of nbgrader_config.py) for one job."""
    from nbgrader.preprocessors import Execute
    from nbgrader.converters.autograde import Autograde

    from grading.sandboxing.bounded_execute import BoundedExecute

    course = Course(os.getcwd())   # the scratch copy, at the course's path: its folders by the course's names
    config = course.config
    config.CourseDirectory.root = str(course.root)
    config.CourseDirectory.db_url = course.sqlite_gradebook
    config.Execute.kernel_manager_class = "grading.sandboxing.warm_kernels.PromptKernelManager"
    config.KernelManager.ip = os.path.join(job["sockets"], KERNEL_PREFIX)
    config.KernelManager.transport = "ipc"
    config.PromptKernelManager.max_message_bytes = int(job["message_bytes"])
    stock = config.Autograde.get("autograde_preprocessors") or \
        Autograde.class_traits()["autograde_preprocessors"].default()
    config.Autograde.autograde_preprocessors = [BoundedExecute if p is Execute else p for p in stock]
    config.BoundedExecute.deadline = time.time() + float(job["deadline_seconds"])
    config.BoundedExecute.output_bytes = int(job["output_bytes"])
    config.AssignmentSummary.absent = dict(job.get("absent") or {})
    if job.get("cell_seconds"):
        config.Execute.timeout = int(job["cell_seconds"])
    return config


def run_job(job):
    """nbgrader's outcome of one job."""
    from nbgrader.apps.api import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory

    config = job_config(job)
    api = NbGraderAPI(coursedir=CourseDirectory(config=config), config=config)
    if job["op"] == "autograde":
        return _outcome(api.autograde(job["assignment"], job["student"], force=True, create=True))
    if job["op"] == "feedback":
        return _outcome(api.generate_feedback(job["assignment"], job["student"], force=True))
    return {"success": False, "error": f"unknown job {job['op']!r}", "log": ""}


def answer(job):
    """nbgrader's outcome of one job; a failure of nbgrader itself becomes an outcome too."""
    try:
        return run_job(job)
    except Exception as error:   # nbgrader's own failure: say so, never hang the grader
        import traceback

        return {"success": False, "error": f"{type(error).__name__}: {error}", "log": traceback.format_exc()[-LOG_BYTES:]}


def serve():
    """Import nbgrader once, then run one job per line of stdin, answering on stdout."""
    import importlib
    import warnings

    channel = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)                  # nothing but the answers on the channel
    from sqlalchemy.exc import SAWarning

    warnings.filterwarnings("ignore", category=SAWarning)   # nbgrader 0.9.6's harmless session warnings
    os.makedirs(os.environ.get("JUPYTER_RUNTIME_DIR", "/tmp/runtime"), exist_ok=True)
    for name in PRELOAD:
        importlib.import_module(name)
    for line in sys.stdin:
        channel.write(json.dumps(answer(json.loads(line))) + "\n")
        channel.flush()


if __name__ == "__main__":
    if sys.argv[1:] == ["serve"]:
        serve()
    else:
        sys.exit(__doc__)
