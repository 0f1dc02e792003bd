"""grading.grader.deadlines: the course's due dates, extensions and late policy, read from deadlines.toml.

The round trip (an LMS download's times into the gradebook, the penalty in grades.csv, the
feedback, the table, the class report and the LMS export, an extension without a regrade) is
tested through the real commands in tests/test_views.py."""
import csv
from datetime import datetime, timedelta, timezone

import pytest
from nbgrader.api import Gradebook
from nbgrader.exchange.abc import Exchange

from grading.assignment import ASSIGNMENT
from grading.grader import course, deadlines
from synthetic_class import demo, synthetic

HOUR, DAY = 3600, 86400
EXTENSIONS = {"ada": "2026-12-04T12:00:00+00:00", "bob.b": "2026-12-02T23:59:00"}   # an offset; a key to quote
COURSE = demo.deadlines_toml(EXTENSIONS, grace_minutes=5, no_credit_after_days=3)


def test_times_without_an_offset_are_in_the_course_zone_and_extensions_replace_the_due_date():
    course = deadlines.parse(COURSE)
    assert course.due == datetime(2026, 11, 30, 22, 59, tzinfo=timezone.utc)   # CET is UTC+1
    assert course.due_for("cy") == course.due
    assert course.due_for("ada") == datetime(2026, 12, 4, 12, tzinfo=timezone.utc)
    assert course.due_for("bob.b") == datetime(2026, 12, 2, 22, 59, tzinfo=timezone.utc)
    submitted = course.due + timedelta(hours=30)
    assert course.seconds_late("cy", submitted) == 30 * HOUR
    assert course.seconds_late("ada", submitted) == 0 and course.seconds_late("cy", None) == 0
    assert course.local(course.due) == "2026-11-30 23:59 CET"


@pytest.mark.parametrize("late, expected", [
    (0, 0.0), (5 * 60, 0.0),                 # within the grace
    (5 * 60 + 1, 2.0),                       # a second past it: one started day, 10% of 20
    (DAY + 5 * 60, 2.0), (DAY + 5 * 60 + 1, 4.0),
    (3 * DAY + 5 * 60, 6.0),                 # the last day with credit
    (3 * DAY + 5 * 60 + 1, 20.0),            # past no_credit_after_days: everything
])
def test_the_policy_takes_a_share_per_started_day_after_the_grace(late, expected):
    assert deadlines.parse(COURSE).policy.penalty(20.0, late) == pytest.approx(expected)


def test_the_penalty_is_never_more_than_the_score():
    policy = deadlines.Policy(percent_per_day=40)
    assert policy.penalty(25.0, 5 * DAY) == 25.0 and policy.penalty(0.0, 5 * DAY) == 0.0


def test_no_file_means_nothing_is_due(tmp_path):
    course = deadlines.load(tmp_path)
    assert course.due is None and course.seconds_late("ada", datetime.now(timezone.utc)) == 0


@pytest.mark.parametrize("text, complaint", [
    ("timezone = \"Mars/Olympus\"\n", "is not a time zone name"),
    ("[gradient_checking]\ndue = \"tomorrow\"\n", "gradient_checking.due = 'tomorrow' is not a date and time"),
    ("[gradient_checking]\ndue = 2026-11-30T23:59:00\npenalty_percent_per_day = -5\n", "must be a number from 0 up"),
    ("[gradient_checking]\ndue = 2026-11-30T23:59:00\nlate_penalty = 5\n", "unknown keys ['late_penalty']"),
    ("[gradient_checking.extensions]\nada = 2026-12-01T00:00:00\n", "has extensions but no due date"),
    ("[gradient_checking]\ndue = 2026-11-30T23:59:00\n[gradient_checking.extensions]\nada = 5\n",
     "gradient_checking.extensions.ada = 5 is not a date and time"),
    ("[gradient_checking\n", "is not valid TOML"),
])
def test_a_mistake_is_named(text, complaint):
    with pytest.raises(deadlines.DeadlinesError, match=None) as raised:
        deadlines.parse(text)
    assert complaint in str(raised.value)


def test_the_timestamp_file_is_read_as_nbgrader_writes_it_and_nothing_else(tmp_path):
    moment = datetime(2026, 12, 2, 1, 0, 0, 250000, tzinfo=timezone.utc)
    deadlines.write_timestamp(tmp_path, moment)
    assert (tmp_path / "timestamp.txt").read_text() == "2026-12-02 01:00:00.250000\n"
    assert deadlines.read_timestamp(tmp_path) == moment
    (tmp_path / "timestamp.txt").write_text("2026-12-02 02:00:00+01:00")
    assert deadlines.read_timestamp(tmp_path) == datetime(2026, 12, 2, 1, tzinfo=timezone.utc)
    # What nbgrader's exchange writes at `nbgrader submit` (Exchange.timestamp_format, its zone's
    # name last): without it read, an exchange submission had no time, so it was never late and
    # the formgrader listed it as not graded, with 0 points (tests/test_hub.py's round trip).
    (tmp_path / "timestamp.txt").write_text(moment.strftime(Exchange.timestamp_format.default_value))
    assert (tmp_path / "timestamp.txt").read_text() == "2026-12-02 01:00:00.250000 UTC"
    assert deadlines.read_timestamp(tmp_path) == moment
    for junk in ("yesterday", "2026-12-02" + " " * 200, "\xff"):
        (tmp_path / "timestamp.txt").write_text(junk, encoding="latin-1")
        assert deadlines.read_timestamp(tmp_path) is None
    (tmp_path / "timestamp.txt").unlink()
    (tmp_path / "timestamp.txt").symlink_to(tmp_path / "elsewhere.txt")
    (tmp_path / "elsewhere.txt").write_text("2026-12-02 01:00:00")
    assert deadlines.read_timestamp(tmp_path) is None, "a link is not followed"


def test_lateness_reads_for_people():
    course = deadlines.parse(COURSE)
    late = deadlines.Lateness("cy", course.due + timedelta(minutes=90), course.due, False, 90 * 60, 4.0)
    assert late.describe(course) == "1 h 30 min late (due 2026-11-30 23:59 CET): -4 points"
    assert deadlines.Lateness("cy", course.due, course.due).describe(course) == "on time"
    assert deadlines.Lateness("cy", None, course.due).describe(course) == "submission time unknown"
    assert deadlines.duration(2 * DAY + 1) == "2 d" and deadlines.duration(59) == "1 min"


def test_a_stock_nbgrader_autograde_applies_the_course_policy_too(new_course, monkeypatch):
    """nbgrader_config.py names grading.plugins.late_plugin as nbgrader's late-penalty plugin: a stock
    `nbgrader autograde` gives the same penalty as `make autograde`, and the plugin takes a
    student's extension off nbgrader's lateness."""
    monkeypatch.delenv("GRADEBOOK_URL", raising=False)
    root = new_course("stock_late")
    (root / deadlines.FILE).write_text(demo.deadlines_toml({"bea": "2026-12-04T12:00:00"}, grace_minutes=5,
                                                           no_credit_after_days=3))
    url = f"sqlite:///{root / 'gradebook.db'}"
    deadlines.apply(root, url)   # the class's due date into the gradebook, as make autograde does
    late = 26 * 3600             # 2 started days after the grace: 20%
    folder = course.add_submission(root, "al", synthetic.submission())
    deadlines.write_timestamp(folder, deadlines.load(root).due + timedelta(seconds=late))
    course.autograde(root)
    with Gradebook(url) as book:
        assert book.find_submission(ASSIGNMENT, "al").late_submission_penalty == pytest.approx(20.0)
    course.nbgrader(root, "export")
    rows = {row["student_id"]: row for row in csv.DictReader((root / "grades.csv").open(newline=""))}
    assert float(rows["al"]["score"]) == 80.0
    # The plugin as nbgrader calls it: bea's extension runs to 4 December, so the same lateness costs nothing.
    from traitlets.config import Config
    from grading.plugins.late_plugin import CourseLatePenalty
    config = Config()
    config.CourseDirectory.root = str(root)
    plugin = CourseLatePenalty(config=config)
    assert plugin.late_submission_penalty("al", 25.0, late) == pytest.approx(5.0)
    assert plugin.late_submission_penalty("bea", 25.0, late) is None
