"""Grade one submission: the unit of work that every grading mode runs, serial or on a cluster.

grade_submission(root, student, db_url):
    stage      a clean copy of submitted/<student>/ (grading.staging); the student's folder is never changed
    autograde  nbgrader's Autograde on the staged copy, in the sandboxed kernel (nbgrader_config.py)
    verify     every function graded again outside the kernel (grading.verify), at the same time as
               the autograde; where the verdicts disagree, the verified score goes into the gradebook
               and the submission is flagged
write_feedback(root, student, db_url):
    feedback   nbgrader's GenerateFeedback for one student, once the gradebook holds the grades

Both are plain module-level functions of picklable arguments, so a local process pool and a
Dask worker can run them. They need the course directory at the same path (a shared filesystem
for a cluster) and a gradebook URL that every worker can reach.
"""
import os
import resource
import threading
import time
import traceback
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from . import CHECKS
from .provided import ASSIGNMENT

STAGING = ".grading/staged"     # relative to the course root; nbgrader's submitted_directory
FUNCTIONS = tuple(CHECKS)       # the graded functions, in notebook order

# nbgrader is not thread-safe, and the sandbox kernel's socket prefix is one per process:
# a worker process grades one submission at a time, whatever its thread count.
_ONE_AT_A_TIME = threading.Lock()
_apis = {}                      # (course root, gradebook URL) -> NbGraderAPI, one per process


@dataclass
class Result:
    student: str
    scores: dict = field(default_factory=dict)       # function -> points recorded in the gradebook
    problems: list = field(default_factory=list)     # what went wrong with the submission itself
    flags: list = field(default_factory=list)        # where the verified verdict overrode nbgrader's
    diagnoses: dict = field(default_factory=dict)    # function -> why it lost points (verified)
    seconds: float = 0.0
    failed: str = ""             # the grading itself failed (machine, gradebook): not a grade, retried next run
    worker: str = ""             # host:pid of the process that graded it
    peak_mb: float = 0.0         # that process's peak resident memory so far
    kernel_peak_mb: float = 0.0  # the largest kernel or verification process it has started so far

    @property
    def total(self):
        return sum(self.scores.values())


def load_config(root, db_url):
    """The course's nbgrader configuration, reading submissions from the staging area."""
    from .gradebook import course_config

    config = course_config(root)
    config.CourseDirectory.root = str(root)
    config.CourseDirectory.submitted_directory = STAGING
    config.CourseDirectory.db_url = db_url
    config.Execute.kernel_manager_class = "grading.warm_kernels.PromptKernelManager"
    return config


def nbgrader_api(root, db_url):
    """An NbGraderAPI for the course at root on the gradebook db_url, made once per process."""
    key = (str(root), db_url)
    if key not in _apis:
        from sqlalchemy.exc import SAWarning
        from nbgrader.apps.api import NbGraderAPI
        from nbgrader.coursedir import CourseDirectory

        from .gradebook import alembic_on_path

        alembic_on_path()
        # nbgrader 0.9.6 triggers harmless SQLAlchemy session warnings on every submission.
        warnings.filterwarnings("ignore", category=SAWarning)
        config = load_config(root, db_url)
        _apis[key] = NbGraderAPI(coursedir=CourseDirectory(config=config), config=config)
    return _apis[key]


def grade_submission(root, student, db_url):
    """Stage, autograde and verify one student's submission.

    root -- the course directory; db_url -- the gradebook
    Returns a Result. Problems of the submission are in Result.problems; a failure of the
    grading machinery itself (an exception) is in Result.failed, so that the run can go on.
    """
    with _ONE_AT_A_TIME:
        started = time.perf_counter()
        result = Result(student)
        try:
            _grade(Path(root), student, db_url, result)
        except Exception:
            result.failed = traceback.format_exc(limit=-3).strip()
        result.seconds = time.perf_counter() - started
        result.worker = f"{os.uname().nodename}:{os.getpid()}"
        result.peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        result.kernel_peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        return result


def _check_course(root):
    if not (root / "nbgrader_config.py").is_file():
        raise FileNotFoundError(f"the course directory {root} is not on this machine ({os.uname().nodename}): "
                                "workers need it at the same path (a shared filesystem)")


def _grade(root, student, db_url, result):
    from . import course, verify
    from .remote import WorkerStartFailed
    from .staging import stage
    from .warm_kernels import KernelZygote

    _check_course(root)
    api = nbgrader_api(root, db_url)
    staged = stage(root / "submitted" / student / ASSIGNMENT, root / STAGING / student / ASSIGNMENT,
                   release_folder=root / "release" / ASSIGNMENT)
    result.problems.extend(staged.problems)

    # Verification reads the staged copy in processes of its own: it runs while nbgrader's kernel
    # works, and only its recording has to wait for nbgrader's scores.
    with ThreadPoolExecutor(max_workers=1) as beside, KernelZygote(root, student):
        verifying = beside.submit(verify.verify_submission, staged.folder, course_root=root)
        outcome = api.autograde(ASSIGNMENT, student, force=True, create=True)
        if not outcome["success"]:
            last = (outcome.get("error") or outcome.get("log") or "").strip().splitlines()
            result.problems.append("nbgrader could not finish this submission: the verified scores are recorded"
                                   + (f" ({last[-1][:200]})" if last else ""))
        try:
            verdicts = verifying.result()
        except WorkerStartFailed as error:
            # A problem of the grading machine, not of the student: record nothing, say so loudly.
            raise RuntimeError(f"NOT VERIFIED: the verification worker could not start ({error})") from None
    result.flags.extend(verify.record_verdicts(db_url, ASSIGNMENT, student, verdicts))
    result.diagnoses = {f: v.message for f, v in verdicts.items() if not v.passed}
    result.scores = course.scores(root, db_url, student=student).get(student, {})


def write_feedback(root, student, db_url):
    """nbgrader's feedback HTML for one graded student; returns a problem in words, or ""."""
    with _ONE_AT_A_TIME:
        root = Path(root)
        _check_course(root)
        if not list((root / "autograded" / student / ASSIGNMENT).glob("*.ipynb")):
            return "no feedback HTML: nbgrader left no graded notebook to show"
        written = nbgrader_api(root, db_url).generate_feedback(ASSIGNMENT, student, force=True)
        if not written["success"]:
            return "the feedback could not be written: " + (written.get("error") or "").strip()[-200:]
        return ""
