"""What grading produces, shared by the grader's modules: a function's verdict, a flag for the
instructor, a submission's result, and the one rule that turns points and a late penalty into the
total every view shows. Plain data, standard library only, at the bottom of the import graph: the
ledger and the report read results without loading the checks or nbgrader, and the pages nbgrader
renders in a sandbox (the feedback) use the same rule.
"""
from dataclasses import asdict, dataclass, field
from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")


def _decimal(value):
    """A float as the decimal it was written as (its shortest repr), so 24.5 - 2.45 is 22.05."""
    return Decimal(repr(float(value or 0)))


def to_the_cent(value):
    """`value` rounded half up to the cent: every late penalty the course charges is one."""
    return float(_decimal(value).quantize(CENT, rounding=ROUND_HALF_UP))


def final_total(score, penalty=0.0):
    """The one number of a submission (or a notebook), written here once: its points less its
    late penalty, never below 0, rounded half up to the cent. The grading table, grades.csv, the
    class report, the formgrader, the LMS's file and the feedback pages all show this number."""
    return float(max(Decimal(0), _decimal(score) - _decimal(penalty)).quantize(CENT, rounding=ROUND_HALF_UP))


def points_text(value):
    """A number of points as the course's pages and tables write it: to the cent, without
    trailing zeros ("76", "75.5", "75.25")."""
    return f"{to_the_cent(value):.2f}".rstrip("0").rstrip(".")


@dataclass(frozen=True)
class Verdict:
    """The verified result of one function: points out of max_points, and why."""
    points: float
    max_points: float
    message: str
    notebook: str = ""        # the notebook's name without .ipynb, as in the gradebook
    warnings: tuple = ()      # tampering seen in the submission (edited or deleted test cells, ...)

    @property
    def passed(self):
        return self.points >= self.max_points


@dataclass(frozen=True)
class Flag:
    """Where a function needs the instructor's look; reads "gradient_check: in-kernel score 20, verified 0: ..."."""
    function: str
    in_kernel: float | None   # nbgrader's in-kernel score; None when nbgrader did not finish
    verified: float
    max_points: float
    reason: str

    def __str__(self):
        return f"{self.function}: {self.reason}"


@dataclass
class Result:
    student: str
    scores: dict = field(default_factory=dict)       # function -> points recorded in the gradebook
    problems: list = field(default_factory=list)     # what went wrong with the submission itself
    flags: list = field(default_factory=list)        # [Flag]: where the verified verdict overrode nbgrader's
    diagnoses: dict = field(default_factory=dict)    # function -> why it lost points (verified)
    seconds: float = 0.0
    cpu_seconds: float = 0.0       # CPU of the submission's sandboxes: kernels, zygote, verification
    step_cpu_seconds: float = 0.0  # CPU of nbgrader's step for this submission
    grader_cpu_seconds: float = 0.0  # CPU of the grading worker itself for this submission
    failed: str = ""             # the grading itself failed (machine, gradebook): not a grade, retried next run
    worker: str = ""             # host:pid of the process that graded it
    peak_mb: float = 0.0         # that process's peak resident memory so far
    kernel_peak_mb: float = 0.0  # the largest kernel or verification process it has started so far

    @property
    def total(self):
        return sum(self.scores.values())

    def to_dict(self):
        """Plain JSON data (flags as their fields), which from_dict turns back into an equal Result."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data):
        return cls(**{**data, "flags": [Flag(**flag) for flag in data.get("flags", ())]})

    def for_report(self):
        """Plain JSON data for the class report and the LMS export, flags as their sentences."""
        return {**asdict(self), "flags": [str(flag) for flag in self.flags]}
