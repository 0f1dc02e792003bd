"""The files of an LMS download: where zip_collect keeps them, whose each one is, what becomes of it.

Canvas and Moodle name every file of a submissions download after its sender (parse_canvas,
parse_moodle); plan() reads each name against the roster and decides what becomes of the file:
collected under the name the student gave it, or left in downloaded/ with the reason (an older
version, not on the roster, a name that reads as two students', a name nbgrader reserves, the
LMS's test student's, older than the course's submission). The intake's plugins of
`nbgrader zip_collect` (grading.lms.zip_collect_plugins) and its summary
(grading.lms.intake_summary) both go by it.
"""
import os
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from grading.assignment import ASSIGNMENT
from grading.course_directory import DOWNLOADS, Course
from grading.grader import deadlines

LMS_NAMES = {"canvas": "Canvas", "moodle": "Moodle"}
DOWNLOADED = Path(DOWNLOADS, ASSIGNMENT)   # Course.downloads(), from the root: zip_collect's layout
ARCHIVE = DOWNLOADED / "archive"
EXTRACTED = DOWNLOADED / "extracted"
PREVIOUS = DOWNLOADED / "previous"             # earlier downloads; zip_collect never looks here
REPLACED = DOWNLOADED / "replaced"             # submitted/ folders as they were before a download replaced them
# What `make export` needs to send grades and feedback back: the roster as the LMS gave it, and
# how the LMS named each collected student (grading/lms/uploads.py).
ROSTER_COPY = DOWNLOADED / "roster.csv"
LMS_RECORD = DOWNLOADED / "lms.json"

# nbgrader reads submitted/<id>/<assignment>/timestamp.txt as the submission time, and
# zip_collect keeps one it finds; nbgrader runs an nbgrader_config.py (and reads a .json) in the
# folder it starts in: a student must not be able to send either.
RESERVED_NAMES = {"timestamp.txt", "nbgrader_config.py", "nbgrader_config.json"}

# What became of each extracted file.
COLLECTED = "collected"
SUPERSEDED = "superseded"
NOT_ON_ROSTER = "not on the roster"
NOT_RECOGNISED = "not recognised"
RESERVED = "reserved name"
AMBIGUOUS = "ambiguous"             # its name reads as the file of two students on the roster
LEFT_OUT = "left out"               # the LMS's test student's (grading.lms.roster.test_student)
KEPT_NEWER = "older than the course's"   # the course holds a newer submission of this student
# A download older than the course's submission by less than this is the same submission: the
# zip keeps times to 2 seconds, timestamp.txt to microseconds.
SAME_TIME_SECONDS = 2


@dataclass(frozen=True)
class Parsed:
    lms_id: str
    name: str             # the student's name as the LMS wrote it
    original: str         # the student's own file name (a relative path for a Moodle folder)
    late: bool = False
    submission: int = 0   # Canvas's submission number; later ones are larger


# Canvas: <sortable name>_[late_]<user id>_<attachment id>_<original file name>
# Moodle: a folder <Full Name>_<participant id>_assignsubmission_file_/ holding the files, or
# (older versions) flat files <Full Name>_<participant id>_assignsubmission_file_<original>.
# The name is the submitter's display name and the original name their own file's: both can hold
# underscores and digits, so a name can imitate another student's ids ("x_23456_1" makes
# "x_23456_1_12345_777_a.ipynb" read as LMS id 23456 too). Each parser returns every reading of
# a file name; plan() keeps the one whose LMS id is on the roster, and leaves a file that reads
# as two students' aside.
CANVAS_IDS = re.compile(r"_(?:(?P<late>late)_)?(?P<lms_id>[0-9]+)_(?P<submission>[0-9]+)_(?P<original>.+)",
                        re.IGNORECASE)
MOODLE_IDS = re.compile(r"_(?P<lms_id>[0-9]+)_assignsubmission_file(?:_(?P<original>.*))?")
# Canvas renames a file sent again: name.ipynb, name-1.ipynb, name-2.ipynb, ...
RESUBMITTED = re.compile(r"(?P<stem>.+)-(?P<number>[0-9]+)")


def _splits(text, ids):
    """(name, match) for every place where `ids` matches the rest of `text` after an underscore."""
    for i, character in enumerate(text):
        if character == "_":
            match = ids.fullmatch(text, i)
            if match:
                yield text[:i], match


def parse_canvas(path):
    """Every Parsed reading of a Canvas download's file at `path` (relative, with /); [] if none."""
    name = PurePosixPath(path).name
    return [Parsed(str(int(m["lms_id"])), who, m["original"], late=bool(m["late"]), submission=int(m["submission"]))
            for who, m in _splits(name, CANVAS_IDS)]


def parse_moodle(path):
    """Every Parsed reading of a Moodle download's file at `path` (relative, with /); [] if none."""
    parts = PurePosixPath(path).parts
    readings = []
    for i, part in enumerate(parts):
        for who, match in _splits(part, MOODLE_IDS):
            inside, suffix = parts[i + 1:], match["original"] or ""
            if inside and not suffix:
                readings.append(Parsed(str(int(match["lms_id"])), who, "/".join(inside)))   # the folder form
            elif suffix and not inside:
                readings.append(Parsed(str(int(match["lms_id"])), who, suffix))             # the flat form
    return readings


PARSERS = {"canvas": parse_canvas, "moodle": parse_moodle}


def detect_lms(paths):
    """The LMS ("canvas" or "moodle") whose format more of `paths` fit; None if none fits either."""
    hits = {lms: sum(1 for p in paths if PARSERS[lms](p)) for lms in ("moodle", "canvas")}
    best = max(hits, key=hits.get)   # a tie goes to Moodle, whose pattern is the stricter one
    return best if hits[best] else None


def split_resubmission(name):
    """(name without Canvas's -N, N) for a name like "a-2.ipynb"; (name, 0) when there is no -N."""
    stem, ext = os.path.splitext(name)
    match = RESUBMITTED.fullmatch(stem)
    return (match["stem"] + ext, int(match["number"])) if match else (name, 0)


@dataclass
class Entry:
    """One file of the download and what becomes of it."""
    path: str                 # relative to downloaded/<assignment>/extracted, with /
    status: str
    lms_id: str = ""
    name: str = ""
    file_id: str = ""         # its name in submitted/<student>/<assignment>/
    version: int = 0          # Canvas's -N; the highest one wins
    late: bool = False
    student: str = ""
    submission: int = 0


def plan(paths, students, lms, released=(), times=None, in_course=None, take_older=False, left_out=()):
    """An Entry for each of `paths` (files relative to the extracted folder, with /).

    students -- the roster (Student list); a file whose LMS id is on no row is NOT_ON_ROSTER
    lms -- "canvas" or "moodle" (None: nothing is recognised)
    released -- the file names of the release; a Canvas "-N" ending is taken for a
        resubmission number when the name without it is a released file, or when the same
        student sent another version of that name, so that "data-2023.csv" keeps its name.
    times -- {path: the time the LMS gave the file, seconds since the epoch}
    in_course -- {student: the time of their submission in the course (course_times)}: a
        student whose files in the download are all older keeps it (KEPT_NEWER), unless take_older
    left_out -- the LMS ids of roster rows that are no students (roster.LeftOut): their files are LEFT_OUT

    Of several versions of one student's file the highest -N (then the later Canvas
    submission, then the later path) is COLLECTED, the others SUPERSEDED.
    """
    by_lms = {s.lms_id: s.id for s in students if s.lms_id}
    left_out = set(left_out) - set(by_lms)
    parse = PARSERS.get(lms)
    entries = []
    for path in sorted(paths):
        readings = parse(path) if parse else []
        on_roster = [r for r in readings if r.lms_id in by_lms]
        if not readings:
            entries.append(Entry(path, NOT_RECOGNISED))
            continue
        if len({r.lms_id for r in on_roster}) > 1:
            entries.append(Entry(path, AMBIGUOUS, ", ".join(sorted({r.lms_id for r in on_roster}, key=int)),
                                 student=", ".join(sorted({by_lms[r.lms_id] for r in on_roster}))))
            continue
        parsed = on_roster[0] if on_roster else next((r for r in readings if r.lms_id in left_out), readings[0])
        student = by_lms.get(parsed.lms_id, "")
        status = COLLECTED if student else LEFT_OUT if parsed.lms_id in left_out else NOT_ON_ROSTER
        entries.append(Entry(path, status, parsed.lms_id, parsed.name, parsed.original, late=parsed.late,
                             student=student, submission=parsed.submission))
    recognised = [e for e in entries if e.status not in (NOT_RECOGNISED, AMBIGUOUS)]

    if lms == "canvas":
        split = [split_resubmission(e.file_id) for e in recognised]
        family = Counter((e.lms_id, base) for e, (base, _) in zip(recognised, split))
        for e, (base, number) in zip(recognised, split):
            if number and (base in released or family[(e.lms_id, base)] > 1):
                e.file_id, e.version = base, number

    def rank(e):
        return e.version, e.submission, e.path

    latest = {}
    for e in recognised:
        key = (e.lms_id, e.file_id)
        if key not in latest or rank(e) > rank(latest[key]):
            latest[key] = e
    for e in recognised:
        if latest[(e.lms_id, e.file_id)] is not e:
            e.status = SUPERSEDED
        elif e.status == COLLECTED and PurePosixPath(e.file_id).name in RESERVED_NAMES:
            e.status = RESERVED
    if not take_older:
        for student in older_than_course(entries, times or {}, in_course or {}):
            for e in entries:
                if e.student == student and e.status == COLLECTED:
                    e.status = KEPT_NEWER
    return entries


def older_than_course(entries, times, in_course):
    """{student: (the time of their submission in the download, in the course)} for each student whose
    files in the download are older than their submission in the course: an older download, say,
    imported after a newer one. The time of a submission is the latest of its files' (zip_collect's rule)."""
    sent = {}
    for e in entries:
        if e.status in (COLLECTED, KEPT_NEWER) and e.path in times:
            sent[e.student] = max(sent.get(e.student, 0.0), times[e.path])
    return {student: (when, in_course[student]) for student, when in sent.items()
            if student in in_course and when < in_course[student] - SAME_TIME_SECONDS}


def course_times(course, students):
    """{student: the time of their submission in the course, seconds since the epoch} (its
    timestamp.txt, grading.grader.deadlines) for each of `students` that has one."""
    times = {}
    for student in students:
        when = deadlines.read_timestamp(Course.of(course).submitted(student))
        if when is not None:
            times[student] = when.timestamp()
    return times


def file_times(folder, paths):
    """{path: its modification time in seconds} of the files `paths` of `folder` (the extractor
    sets it to the time the LMS gave the file)."""
    return {path: os.stat(Path(folder) / path, follow_symlinks=False).st_mtime for path in paths}


def list_files(folder):
    """Every file under `folder`, relative and with /, sorted."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
