"""Grade one submission: the unit of work that every grading mode runs, serial or on a cluster.

grade_submission(course, student, db_url):
    stage      a clean copy of submitted/<student>/ (grading.grader.staging); the student's folder is never changed
    autograde  nbgrader's Autograde on that copy, in a sandbox of its own that sees only this
               student's scratch copy (grading.sandboxing.nbgrader_step); its kernels are forked from a
               kernel zygote in the submission's sandbox (grading.sandboxing.kernels), where `import grading`
               finds only the verified verdicts
    verify     every function graded again outside the kernel (grading.grader.verify), at the same time;
               each verdict is handed to the kernel as soon as it is known, and where nbgrader's
               score differs from it, the verified score goes into the gradebook and the
               submission is flagged
    bound      everything the submission runs shares one cgroup (memory, processes), one deadline
               and one output budget: the course's settings (grading.settings)
write_feedback(course, student, db_url):
    feedback   nbgrader's GenerateFeedback for one student, also in the step's sandbox; each page
               names the notebooks without a graded copy and why (grading.grader.ungraded)

Where nbgrader could not finish a submission, its staged notebooks become the graded copy, with
each cell's output replaced by why it did not run (grading.grader.ungraded): the feedback never
shows the student's own old outputs under a score that grading gave.

Both are plain module-level functions of picklable arguments, so a local process pool and a
Dask worker can run them. They need the course directory at the same path (a shared filesystem
for a cluster) and a gradebook URL that every worker can reach.
"""
import json
import os
import resource
import shutil
import tempfile
import threading
import time
import traceback
from contextlib import nullcontext
from functools import partial
from pathlib import Path

from grading.assignment import ASSIGNMENT, NOTEBOOKS
from grading.course_directory import Course
from grading.grader import ungraded, verify
from grading.grader.course import scores
from grading.grader.staging import stage
from grading.results import Result
from grading.sandboxing import files
from grading.sandboxing.cgroups import Cgroup
from grading.sandboxing.nbgrader_step import step_for
from grading.sandboxing.remote import WorkerStartFailed

# A grading process has one nbgrader step (grading.sandboxing.nbgrader_step) and one scratch folder per
# course: it grades one submission at a time, whatever its thread count.
_ONE_AT_A_TIME = threading.Lock()
_current = {}                   # what the submission being graded runs: its cgroup (for hygiene)


def grade_submission(course, student, db_url):
    """Stage, autograde and verify one student's submission.

    course -- the course directory (a grading.course_directory.Course, whose settings bound the
              submission, or its path); db_url -- the gradebook
    Returns a Result. Problems of the submission are in Result.problems; a failure of the
    grading machinery itself (an exception) is in Result.failed, so that the run can go on.
    """
    with _ONE_AT_A_TIME:
        started, cpu = time.perf_counter(), time.process_time()
        result = Result(student)
        try:
            _grade(Course.of(course), student, db_url, result)
        except Exception:
            result.failed = traceback.format_exc(limit=-3).strip()
        result.seconds = time.perf_counter() - started
        result.grader_cpu_seconds = time.process_time() - cpu
        result.worker = f"{os.uname().nodename}:{os.getpid()}"
        result.peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        if not result.kernel_peak_mb:
            result.kernel_peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        return result


def _require_course_here(course):
    if not course.config_file.is_file():
        raise FileNotFoundError(f"the course directory {course.root} is not on this machine ({os.uname().nodename}): "
                                "workers need it at the same path (a shared filesystem)")


class VerdictFolder:
    """A folder of verdicts that a kernel reads (grading/inside/kernel_grading): one JSON file per
    function, written whole (write, then rename) as soon as verification knows it."""

    def __enter__(self):
        self.path = Path(tempfile.mkdtemp(prefix="gc-verdicts-"))
        os.chmod(self.path, 0o755)
        return self

    def write(self, function, verdict):
        temporary = self.path / f".{function}.json"
        files.write_new(temporary, json.dumps({"passed": verdict.passed, "points": verdict.points,
                                                  "message": verdict.message}).encode())
        os.replace(temporary, self.path / f"{function}.json")

    def __exit__(self, *exc):
        shutil.rmtree(self.path, ignore_errors=True)
        return False


def submission_cgroup(student, settings):
    """The submission's cgroup (grading.sandboxing.cgroups), or a stand-in that does nothing where cgroups
    are not available."""
    group = Cgroup.create(student, memory_bytes=settings.memory_bytes, max_processes=settings.max_processes)
    return group if group is not None else nullcontext()


def end_current():
    """End everything the submission being graded runs, and remove its cgroup: for a worker that
    is told to stop."""
    group = _current.get("cgroup")
    if group is not None:
        group.remove()


def _grade(course, student, db_url, result):
    _require_course_here(course)
    settings = course.settings
    staged = stage(course.submitted(student), course.staged(student), release_folder=course.release(),
                   anchor=course.folder("submitted"), destination_anchor=course.root, settings=settings)
    result.problems.extend(staged.problems)
    deadline = time.monotonic() + settings.deadline_seconds
    # Verification reads the staged copy in processes of its own: it runs while nbgrader's kernel
    # works, and hands each verdict to the kernel as soon as it is known.
    with submission_cgroup(student, settings) as group, VerdictFolder() as verdicts:
        _current["cgroup"] = group
        try:
            graded = step_for(course).autograde(
                student, staged.folder, db_url, settings, cgroup=group, verdicts=verdicts.path,
                verify=partial(_verified, course, staged.folder, deadline, group, verdicts.write),
                unfinished=_ungraded_copy)
            if group is not None:
                result.kernel_peak_mb = (group.peak_memory() or 0) / 2 ** 20
                result.cpu_seconds = group.cpu_seconds() or 0.0
        finally:
            _current.pop("cgroup", None)
    result.step_cpu_seconds = graded.cpu_seconds
    if not graded.outcome["success"]:
        last = (graded.outcome.get("error") or graded.outcome.get("log") or "").strip().splitlines()
        result.problems.append("nbgrader could not finish this submission: the verified scores are recorded"
                               + (f" ({last[-1][:200]})" if last else ""))
    for relative, why in graded.left_out:
        result.problems.append(f"the graded copy of {relative} was not kept: {why}")
    verdicts_of = graded.verified
    result.flags.extend(verify.record_verdicts(db_url, ASSIGNMENT, student, verdicts_of, course.root))
    result.problems.extend(verify.tampering_seen(verdicts_of))
    result.diagnoses = {f: v.message for f, v in verdicts_of.items() if not v.passed}
    result.scores = scores(course.root, db_url, student=student).get(student, {})


def _verified(course, staged_folder, deadline, cgroup, on_verdict):
    """{function: Verdict} of the staged submission, verified outside the kernel (grading.grader.verify)."""
    try:
        return verify.verify_submission(staged_folder, course=course, anchor=course.root, on_verdict=on_verdict,
                                        deadline=deadline, cgroup=cgroup, settings=course.settings)
    except WorkerStartFailed as error:
        # A problem of the grading machine, not of the student: record nothing, say so loudly.
        raise RuntimeError(f"NOT VERIFIED: the verification worker could not start ({error})") from None


def _ungraded_copy(outcome, verdicts):
    """How a staged notebook becomes the graded copy where nbgrader could not finish: each output
    replaced by why it did not run (grading.grader.ungraded.graded_copy)."""
    return partial(ungraded.graded_copy, why=ungraded.why_unfinished(outcome), verdicts=verdicts)


def write_feedback(course, student, db_url):
    """nbgrader's feedback HTML for one graded student; returns a problem in words, or ""."""
    with _ONE_AT_A_TIME:
        try:
            return _write_feedback(Course.of(course), student, db_url)
        except Exception as error:   # the machinery failed: say so; the next run tries again
            return f"the feedback could not be written: {type(error).__name__}: {error}"


def _write_feedback(course, student, db_url):
    _require_course_here(course)
    try:
        graded, _ = files.regular_files(course.autograded(student), anchor=course.root)
    except (FileNotFoundError, files.NotRegular):
        graded = []
    if not any(name.endswith(".ipynb") for name, _ in graded):
        files.remove_tree(course.feedback(student), anchor=course.root)   # pages of nothing graded now
        return "no feedback HTML: nbgrader left no graded notebook to show"
    # Each page names the notebooks that have no graded copy, and why (grading.plugins.feedback_page).
    present = {name for name, _ in graded}
    absent = {name: ungraded.why_absent(course, student, name) for name in NOTEBOOKS if name not in present}
    written = step_for(course).feedback(student, db_url, course.settings, absent)
    if not written["success"]:
        return "the feedback could not be written: " + (written.get("error") or "").strip()[-200:]
    return ""
