"""The course directory: where each kind of thing is, named once.

nbgrader names a course's folders in its configuration (CourseDirectory.source_directory,
release_directory, submitted_directory, autograded_directory and feedback_directory), and a
course's nbgrader_config.py may rename them. The grader keeps its own things beside them: its
state (.grading/: the staged copies, the ledger, verification's record), the LMS's downloads
(downloaded/, which intake names on zip_collect's command line), reports/, grades.csv, exports/,
and what the exchange's collect refused (quarantine/, collect_log.jsonl). Every module finds a
path through a Course, never by joining names of its own, so that a renamed folder is honoured
everywhere.

    course = Course(root)
    course.submitted("ada")        # <root>/submitted/ada/gradient_checking
    course.folder("feedback")      # <root>/feedback: every student's feedback
    course.students_in("submitted")

The configured names are read from the course's nbgrader_config.py on first need, once per
Course, and only then: the grader executes no configuration before grading.grader.reviewed_config
has checked it, so what needs no configured name (the configuration file, deadlines.toml, the
grader's own folders) never reads it. A Course that crosses to a worker process takes the names
it has read with it, never the configuration: the worker does not execute nbgrader_config.py again.
"""
import copy
from pathlib import Path

from grading.assignment import ASSIGNMENT

CONFIG_FILE = "nbgrader_config.py"
DEADLINES_FILE = "deadlines.toml"
GRADEBOOK_FILE = "gradebook.db"   # nbgrader's default gradebook, and the one-student slice of a sandboxed step
STATE = ".grading"          # the grader's own state in the course
REPORTS = "reports"         # what a grading run reports: the class report, the similarity page, their data
# Every current student's Result (grading.results.Result.for_report), written by make autograde:
# what the class report, the export and the feedback's release read of the last grading.
RESULTS_FILE = Path(REPORTS, "autograde.json")
# nbgrader's folders of a course, by the step that fills them ({step}/{student}/{assignment}, or
# {step}/{assignment} for source and release: nbgrader's default directory_structure).
STEPS = ("source", "release", "submitted", "autograded", "feedback")
# nbgrader's own names for them (CourseDirectory's defaults): what a course has unless its
# configuration renames them (tests/test_layout.py holds them to nbgrader's).
DEFAULT_NAMES = {step: step for step in STEPS}
DOWNLOADS = "downloaded"    # the LMS's downloads, as zip_collect lays them out
QUARANTINE = "quarantine"   # what the exchange's collect refused, kept for review
COLLECT_LOG = "collect_log.jsonl"   # the collect's record of every inbound folder it looked at


class Course:
    """A course directory at `root`; `config`, when given, is its configuration already read.

    The grader's own files and folders are attributes; nbgrader's folders, which the configuration
    may rename, are methods.
    """

    def __init__(self, root, config=None):
        self.root = Path(root)
        self._config = config
        self._names = None
        self._settings = None
        self.config_file = self.root / CONFIG_FILE
        self.deadlines_file = self.root / DEADLINES_FILE
        self.sqlite_gradebook = f"sqlite:///{self.root / GRADEBOOK_FILE}"   # nbgrader's own default gradebook
        self.state = self.root / STATE              # the ledger, verification's record, arrivals
        self.staging = self.state / "staged"        # staging's copies: nbgrader's submitted_directory in a run
        self.reports = self.root / REPORTS
        self.results_file = self.root / RESULTS_FILE
        self.grades_csv = self.root / "grades.csv"
        self.exports = self.root / "exports"        # what make export writes for the LMS
        self.collect_log = self.root / COLLECT_LOG

    @classmethod
    def of(cls, where):
        """`where` if it is a Course, else the Course at that path."""
        return where if isinstance(where, Course) else cls(where)

    @classmethod
    def with_default_names(cls, root):
        """The course at `root` as nbgrader lays it out by default, its configuration never read
        (for the kernel launcher, which cannot wait for it at every kernel's start)."""
        course = cls(root)
        course._names = {**DEFAULT_NAMES, "course_id": "", "db_url": course.sqlite_gradebook}
        return course

    def at(self, root):
        """A course at another root with the same names and settings (a scratch copy of this one)."""
        other = Course(root)
        other._names, other._settings = self.names, self.settings
        return other

    def with_settings(self, **changes):
        """This course with some of its settings changed, for one run (`make autograde --deadline`)."""
        other = copy.copy(self)
        other._settings = self.settings.replaced(**changes)
        return other

    def __getstate__(self):
        # The names cross to a worker; the configuration does not (it would run there again).
        return {**self.__dict__, "_config": None, "_names": self.names, "_settings": self.settings}

    def __repr__(self):
        return f"Course({str(self.root)!r})"

    # ------------------------------------------------------------------ the configuration
    @property
    def config(self):
        """The traitlets Config of the course's nbgrader_config.py, read once (empty without one:
        nbgrader's defaults, as for nbgrader)."""
        if self._config is None:
            from traitlets.config import Config
            from traitlets.config.loader import ConfigFileNotFound, PyFileConfigLoader

            try:
                self._config = PyFileConfigLoader(CONFIG_FILE, path=str(self.root)).load_config()
            except ConfigFileNotFound:
                self._config = Config()
        return self._config

    def config_copy(self):
        """A copy of the configuration that a caller may change."""
        return copy.deepcopy(self.config)

    @property
    def names(self):
        """{what: name} read from the configuration: nbgrader's folders (STEPS), the course id and
        the gradebook's URL."""
        if self._names is None:
            from nbgrader.coursedir import CourseDirectory

            nbgrader = CourseDirectory(config=self.config, root=str(self.root))
            self._names = {**{step: getattr(nbgrader, f"{step}_directory") for step in STEPS},
                           "course_id": nbgrader.course_id, "db_url": nbgrader.db_url}
        return self._names

    @property
    def settings(self):
        """The course's grading.settings.GradingSettings: the defaults, as its configuration sets them."""
        if self._settings is None:
            from grading.settings import GradingSettings

            self._settings = GradingSettings(config=self.config)
        return self._settings

    @property
    def course_id(self):
        return self.names["course_id"]

    @property
    def db_url(self):
        """The gradebook that the configuration names (nbgrader's default: gradebook.db in the root)."""
        return self.names["db_url"]

    # ------------------------------------------------------------------ nbgrader's folders
    def folder(self, step):
        """The folder of one of nbgrader's STEPS: <root>/submitted holds every student's submission."""
        return self.root / self.names[step]

    def students_in(self, step, assignment=ASSIGNMENT):
        """The students with a folder of `assignment` in `step` (say "submitted"), sorted."""
        return sorted(p.parent.name for p in self.folder(step).glob(f"*/{assignment}") if p.is_dir())

    def source(self, assignment=ASSIGNMENT):
        return self.folder("source") / assignment

    def release(self, assignment=ASSIGNMENT):
        return self.folder("release") / assignment

    def submitted(self, student, assignment=ASSIGNMENT):
        return self.folder("submitted") / student / assignment

    def autograded(self, student, assignment=ASSIGNMENT):
        return self.folder("autograded") / student / assignment

    def feedback(self, student, assignment=ASSIGNMENT):
        return self.folder("feedback") / student / assignment

    # ------------------------------------------------------------------ the grader's own, by assignment and student
    def downloads(self, assignment=ASSIGNMENT):
        """Where intake keeps the LMS's downloads of `assignment` (zip_collect's layout)."""
        return self.root / DOWNLOADS / assignment

    def staged(self, student, assignment=ASSIGNMENT):
        return self.staging / student / assignment

    def quarantine(self, assignment=ASSIGNMENT):
        """What the exchange's collect refused of `assignment`, kept for review."""
        return self.root / QUARANTINE / assignment

    def relative(self, path):
        """`path` below the root, as a relative path (what nbgrader's configuration takes)."""
        return Path(path).relative_to(self.root)
