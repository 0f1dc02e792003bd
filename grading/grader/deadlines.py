"""When the assignment is due for each student, when each one submitted, and what lateness costs.

One course file, `deadlines.toml` in the course directory, says it all (docs/grading_a_class.md):

    timezone = "Europe/Berlin"        # how times without an offset are read (the LMS's zip times too)

    [gradient_checking]
    due = 2026-12-14T23:59:00         # the class's due date (an offset such as +01:00 may be given)
    grace_minutes = 5                 # this much later still counts as on time
    penalty_percent_per_day = 10      # of the score, for each day or part of a day after the grace
    no_credit_after_days = 7          # later than this many days, the score is 0

    [gradient_checking.extensions]    # a student's own due date, instead of the class's
    student7 = 2026-12-18T23:59:00

The submission time of a student is submitted/<id>/<assignment>/timestamp.txt, nbgrader's own
record: `make intake` writes it from the LMS's download (the time the LMS stored the files), the
course's collect from the exchange (grading.exchange.collect: when the student's files last
changed there, never the time their client claims). `apply` writes the due date, each submission
time and each notebook's late penalty into nbgrader's gradebook, where nbgrader's own columns
show them everywhere: grades.csv, the feedback page, the formgrader. It runs at every `make
autograde`, after the grades: a new extension or a changed policy costs no regrading.

A submission without a readable time (no timestamp.txt, or one that is no time) is never on time
by default: it counts as handed in when its files arrived in the course, the latest change time
(st_ctime) of submitted/<id>/<assignment>/ and everything in it, and it is flagged
(`Lateness.time_problem`, a Flag in the report, where a due date applies), so the instructor sees it and its feedback waits
for their review like every flagged submission's.

Without deadlines.toml nothing is due and nothing is late.
"""
import json
import math
import os
import tomllib
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from nbgrader.utils import parse_utc

from grading.assignment import ASSIGNMENT
from grading.course_directory import DEADLINES_FILE as FILE, STATE, Course
from grading.results import Flag, points_text, to_the_cent
from grading.sandboxing import files

TIMESTAMP = "timestamp.txt"       # in submitted/<student>/<assignment>/, as nbgrader names it
MAX_TIMESTAMP_BYTES = 100         # a time, not a file to read whole whatever its size
# When each submission's files arrived in the instructor's course, kept by make hub-autograde's
# private copy (hub/private_copy.py), whose own files all changed when root unpacked them.
ARRIVALS = f"{STATE}/arrivals.json"
MAX_ARRIVALS_BYTES = 64 * 2 ** 20
DAY = 86400


class DeadlinesError(ValueError):
    """deadlines.toml cannot be used as it is; the message says which line to fix."""


@dataclass(frozen=True)
class Policy:
    """What a late submission costs: `percent_per_day` of the score for each started day after the
    grace, and everything after `no_credit_after_days` (0: never); in cents (grading.results), so
    that every view, nbgrader's own included, subtracts the same penalty and shows the same total."""
    grace_minutes: float = 0.0
    percent_per_day: float = 0.0
    no_credit_after_days: float = 0.0

    def late_seconds(self, seconds_late):
        """How late a submission `seconds_late` after the student's due date counts: the time after
        the grace (0: on time). The one rule for who is late, in grading and in intake's summary."""
        return max(0.0, seconds_late - 60 * self.grace_minutes)

    def penalty(self, score, seconds_late):
        """Points taken from `score` for a submission `seconds_late` after the student's due date."""
        late = self.late_seconds(seconds_late)
        if late <= 0 or score <= 0:
            return 0.0
        if self.no_credit_after_days and late > self.no_credit_after_days * DAY:
            return float(score)
        # penalty = score × percent/100 × ⌈late / 1 day⌉, never more than the score
        return to_the_cent(min(float(score), score * self.percent_per_day / 100 * math.ceil(late / DAY)))

    def describe(self):
        if not self.percent_per_day and not self.no_credit_after_days:
            return "no penalty for lateness"
        parts = [f"{self.percent_per_day:g}% of the score per day late (or part of a day)"] \
            if self.percent_per_day else []
        if self.no_credit_after_days:
            parts.append(f"no credit after {self.no_credit_after_days:g} days")
        if self.grace_minutes:
            parts.append(f"{self.grace_minutes:g} minutes' grace")
        return ", ".join(parts)


@dataclass(frozen=True)
class Deadlines:
    """The due dates of one assignment: the class's, each extension, and the late policy."""
    zone: object = timezone.utc                     # a tzinfo
    due: datetime = None                            # aware; None: nothing is due
    extensions: dict = field(default_factory=dict)  # {student id: aware datetime}
    policy: Policy = Policy()

    def due_for(self, student):
        return self.extensions.get(student, self.due)

    def seconds_late(self, student, submitted):
        """How many seconds after the student's own due date `submitted` (aware) was; 0 if on time."""
        due = self.due_for(student)
        if due is None or submitted is None:
            return 0.0
        return max(0.0, (submitted - due).total_seconds())

    def local(self, moment):
        """`moment` as the course writes it: '2026-12-14 23:59 CET'."""
        return moment.astimezone(self.zone).strftime("%Y-%m-%d %H:%M %Z").strip()


def _zone(name):
    if name is None:
        return datetime.now().astimezone().tzinfo    # the machine's, as unzip reads zip times
    try:
        return ZoneInfo(str(name))
    except (ZoneInfoNotFoundError, ValueError):
        raise DeadlinesError(f"{FILE}: timezone = {name!r} is not a time zone name such as \"Europe/Berlin\"") \
            from None


def _moment(value, zone, where):
    """A TOML date-time as an aware datetime (one without an offset is in the course's zone)."""
    if not isinstance(value, datetime):
        raise DeadlinesError(f"{FILE}: {where} = {value!r} is not a date and time such as 2026-12-14T23:59:00")
    return value if value.tzinfo is not None else value.replace(tzinfo=zone)


def _number(table, key, where):
    value = table.get(key, 0)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 10_000:
        raise DeadlinesError(f"{FILE}: {where}.{key} = {value!r} must be a number from 0 up")
    return float(value)


def parse(text, assignment=ASSIGNMENT):
    """The Deadlines of `assignment` in the TOML `text`; DeadlinesError names what is wrong."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise DeadlinesError(f"{FILE} is not valid TOML: {error}") from None
    zone = _zone(data.get("timezone"))
    table = data.get(assignment)
    if table is None:
        return Deadlines(zone=zone)
    if not isinstance(table, dict):
        raise DeadlinesError(f"{FILE}: [{assignment}] must be a table")
    known = {"due", "grace_minutes", "penalty_percent_per_day", "no_credit_after_days", "extensions"}
    unknown = sorted(set(table) - known)
    if unknown:
        raise DeadlinesError(f"{FILE}: [{assignment}] has unknown keys {unknown}; the keys are {sorted(known)}")
    due = _moment(table["due"], zone, f"{assignment}.due") if "due" in table else None
    extensions = table.get("extensions", {})
    if not isinstance(extensions, dict):
        raise DeadlinesError(f"{FILE}: [{assignment}.extensions] must be a table of student = date")
    if extensions and due is None:
        raise DeadlinesError(f"{FILE}: [{assignment}] has extensions but no due date")
    policy = Policy(grace_minutes=_number(table, "grace_minutes", assignment),
                    percent_per_day=_number(table, "penalty_percent_per_day", assignment),
                    no_credit_after_days=_number(table, "no_credit_after_days", assignment))
    return Deadlines(zone=zone, due=due, policy=policy,
                     extensions={str(student): _moment(when, zone, f"{assignment}.extensions.{student}")
                                 for student, when in extensions.items()})


def load(course):
    """The course's Deadlines (an empty one when it has no deadlines.toml); course -- a
    grading.course_directory.Course, or its path."""
    path = Course.of(course).deadlines_file
    if not path.is_file():
        return Deadlines(zone=_zone(None))
    return parse(path.read_text(encoding="utf-8"))


def parse_timestamp(data):
    """The time in the bytes of a timestamp.txt as an aware UTC datetime, or None if it is not one.
    Read as nbgrader reads it (its parse_utc): its exchange writes "2026-12-02 11:55:15.479652 UTC",
    its zip_collect and write_timestamp below no zone, meaning UTC."""
    try:
        return parse_utc(data.decode("ascii").strip()).replace(tzinfo=timezone.utc)   # parse_utc: naive, in UTC
    except (UnicodeDecodeError, ValueError, OverflowError, TypeError, AttributeError):
        return None


def read_timestamp(folder):
    """The submission time in `folder`/timestamp.txt as an aware UTC datetime, or None if there is
    none or it is not a time (a link is not followed). nbgrader's formgrader counts a submission
    as graded only when the gradebook holds this time."""
    try:
        return parse_timestamp(files.read_regular(Path(folder) / TIMESTAMP, MAX_TIMESTAMP_BYTES))
    except (OSError, files.NotRegular, files.TooLarge):
        return None


def arrival_time(folder, anchor=None):
    """When the files of `folder` last changed: the latest st_ctime of the folder and of everything
    in it, read by descriptors without following a link (the kernel sets ctime at every change,
    and no unprivileged call sets it back). None if the folder cannot be read."""
    try:
        top = files.open_folder(folder, anchor)
    except (OSError, files.NotRegular):
        return None
    latest = 0
    try:
        for _, fd, names in files.walk(top):
            for name in names:
                latest = max(latest, os.stat(name, dir_fd=fd, follow_symlinks=False).st_ctime_ns)
            latest = max(latest, os.fstat(fd).st_ctime_ns)
    except OSError:
        return None
    finally:
        os.close(top)
    seconds, rest = divmod(latest, 10 ** 9)
    return datetime.fromtimestamp(seconds, timezone.utc) + timedelta(microseconds=rest // 1000)


def recorded_arrival(root, student, assignment=ASSIGNMENT):
    """When a submission's files arrived in the course, as recorded by the copy that brought them
    here (ARRIVALS: make hub-autograde grades a private copy of the instructor's course, whose own
    change times are only when it was unpacked); None where nothing was recorded."""
    try:
        recorded = json.loads(files.read_regular(Path(root) / ARRIVALS, MAX_ARRIVALS_BYTES, anchor=Path(root)))
        nanoseconds = recorded[f"{student}/{assignment}"]
    except (OSError, ValueError, KeyError, TypeError, files.NotRegular, files.TooLarge):
        return None
    if not isinstance(nanoseconds, int) or not 0 < nanoseconds < 2 ** 63:
        return None
    seconds, rest = divmod(nanoseconds, 10 ** 9)
    return datetime.fromtimestamp(seconds, timezone.utc) + timedelta(microseconds=rest // 1000)


def write_timestamp(folder, moment):
    """Write `moment` (aware) as nbgrader writes a submission time: UTC, without an offset."""
    text = moment.astimezone(timezone.utc).replace(tzinfo=None).isoformat(" ")
    (Path(folder) / TIMESTAMP).write_text(text + "\n", encoding="ascii")


def as_gradebook_time(moment):
    """nbgrader's gradebook keeps times as naive UTC."""
    return None if moment is None else moment.astimezone(timezone.utc).replace(tzinfo=None)


def duration(seconds):
    """'2 d 3 h', '3 h 5 min', '4 min': how late, for people."""
    minutes = math.ceil(seconds / 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h" if hours else f"{days} d"
    return f"{hours} h {minutes} min" if hours else f"{minutes} min"


@dataclass
class Lateness:
    """One student's submission against their due date, as `apply` recorded it."""
    student: str
    submitted: datetime = None     # aware UTC; None: no submission time is known
    due: datetime = None           # the student's own due date (aware); None: nothing is due
    extended: bool = False
    seconds_late: float = 0.0
    penalty: float = 0.0           # points, over all notebooks
    changed: bool = False          # the gradebook said otherwise before: the feedback is out of date
    time_problem: str = ""         # why the time is not the submission's own record ("": it is)

    def describe(self, deadlines):
        """'on time', '1 d 2 h late (due 2026-12-14 23:59 CET, extended): -9 points', or ''."""
        if self.due is None or self.submitted is None:
            return "" if self.due is None else "submission time unknown"
        if not self.seconds_late:
            return f"on time (extended to {deadlines.local(self.due)})" if self.extended else "on time"
        if not deadlines.policy.late_seconds(self.seconds_late):   # the rule intake's summary uses too
            return (f"on time within the {deadlines.policy.grace_minutes:g} minutes' grace ({duration(self.seconds_late)} "
                    f"after {deadlines.local(self.due)}{', extended' if self.extended else ''})")
        text = f"{duration(self.seconds_late)} late (due {deadlines.local(self.due)}{', extended' if self.extended else ''})"
        return text + (f": -{points_text(self.penalty)} points" if self.penalty else ": no penalty")

    def flag(self):
        """A Flag for the report when the time is not the submission's own record; else None."""
        if not self.time_problem:
            return None
        return Flag("submission time", None, 0.0, 0.0, self.time_problem)


def submission_time(course, student, assignment=ASSIGNMENT):
    """(aware UTC time, problem) of a submission: its timestamp.txt, or, when that is missing or
    unreadable, the time its files arrived in the course, with a sentence that says so (never
    "on time" for want of a time)."""
    course = Course.of(course)
    folder = course.submitted(student, assignment)
    moment = read_timestamp(folder)
    if moment is not None:
        return moment, ""
    arrived = recorded_arrival(course.root, student, assignment) or arrival_time(folder, anchor=course.folder("submitted"))
    if arrived is None:
        return datetime.now(timezone.utc), f"no readable {TIMESTAMP} and no readable folder: counted as submitted now"
    return arrived, (f"no readable {TIMESTAMP}: counted as submitted when its files arrived in the course, "
                     f"{arrived.strftime('%Y-%m-%d %H:%M:%S')} UTC (the last change of submitted/{student}/{assignment}/)")


def apply(course, db_url, assignment=ASSIGNMENT):
    """Write the due date, every submission time and every notebook's late penalty into the
    gradebook; return {student: Lateness} for every submission of `assignment` it holds."""
    return _each_submission(Course.of(course), db_url, assignment, write=True)


def recorded(course, db_url, assignment=ASSIGNMENT):
    """{student: Lateness} as the gradebook holds it (what `apply` wrote last), changing nothing."""
    return _each_submission(Course.of(course), db_url, assignment, write=False)


def _each_submission(course, db_url, assignment, write):
    from nbgrader.api import Gradebook, MissingEntry

    rules = load(course)
    found = {}
    with Gradebook(db_url) as book:
        try:
            record = book.find_assignment(assignment)
        except MissingEntry:
            return found
        if write:
            record.duedate = as_gradebook_time(rules.due)
        for submission in record.submissions:
            student = submission.student.id
            if write:
                submitted, problem = submission_time(course, student, assignment)
                submission.timestamp = as_gradebook_time(submitted)
            else:
                submitted = submission.timestamp and submission.timestamp.replace(tzinfo=timezone.utc)
                problem = "" if read_timestamp(course.submitted(student, assignment)) else \
                    f"no readable {TIMESTAMP}: the gradebook's time is when its files arrived in the course"
            due = rules.due_for(student)
            # Without a due date, when it came changes nothing: no flag for want of a time.
            late = Lateness(student, submitted, due, student in rules.extensions,
                            rules.seconds_late(student, submitted), time_problem=problem if due else "")
            for notebook in submission.notebooks:
                if write:
                    # the policy applies to each notebook's score, as nbgrader's late-penalty plugins do
                    penalty = rules.policy.penalty(notebook.score, late.seconds_late)
                    late.changed |= (notebook.late_submission_penalty or 0.0) != penalty
                    notebook.late_submission_penalty = penalty or None
                late.penalty += notebook.late_submission_penalty or 0.0
            found[student] = late
        if write:
            book.db.commit()
    return found
