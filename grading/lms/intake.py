"""Intake of an LMS download: a zip of submissions from Canvas or Moodle, plus the class roster.

    python -m grading.lms.intake ZIP --roster ROSTER.csv [--root COURSE] [--lms auto|canvas|moodle]
                             [--db-url URL] [--take-older]

Inputs
  ZIP     the zip that Canvas ("Download Submissions") or Moodle ("Download all submissions")
          gives the instructor
  ROSTER  a CSV file with the columns id (the student's id in nbgrader) and lms_id (the Canvas
          user id or the Moodle participant id that the LMS writes into the file names), and
          optionally first_name, last_name and email; or Canvas's gradebook export, or Moodle's
          grading worksheet, as the LMS gives them (grading/lms/roster.py)
  COURSE  the course directory (default: this repository)
  URL     the gradebook (default: nbgrader_config.py's, which $GRADEBOOK_URL overrides); passed
          on to every nbgrader command as --CourseDirectory.db_url

What happens, with the stock nbgrader commands run in the course directory:
1. The roster, without its lms_id column, goes into the gradebook: `nbgrader db student import`.
2. The zip is copied into downloaded/gradient_checking/archive/ (an earlier download there moves
   to downloaded/gradient_checking/previous/), and `nbgrader zip_collect --force`, with this
   module's LmsExtractor and LmsCollector plugins, extracts it to
   downloaded/gradient_checking/extracted/ and copies each roster student's files, under the
   names the student gave them, to submitted/<id>/gradient_checking/.
3. Each collected file keeps the time the LMS gave it (staging takes the newest of two files for
   one notebook) and a summary: the students collected, their files and submission times (the
   times the LMS gave the files in the zip, which zip_collect writes to timestamp.txt), which
   file is graded as which notebook (grading.grader.staging.find_notebooks: by its cells, whatever
   its name), late ones by the course's rule (grading/grader/deadlines.py: due dates, extensions,
   grace) beside Canvas's own marker, the LMS's test student left out, and every file that was not
   collected (not on the roster, not recognised, older versions), which stays in downloaded/.

The exit status is 2 for unusable input (not a zip, a roster without its columns, a zip in which
no file name fits the LMS's format), 1 when an nbgrader command fails, 0 otherwise.

Running it again with a newer download replaces the submitted folder of every student in that
download (an LMS download holds each student's latest submission); students who are not in it
keep what they have. A student whose submission in the download is older than the one in the
course keeps the newer one, and the summary says so; --take-older takes the older one.
"""
import argparse
import hashlib
import json
import os
import re
import shutil
import sys
import tempfile
import zipfile
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path, PurePosixPath

from nbgrader.plugins import ExtractorPlugin, FileNameCollectorPlugin
from traitlets import Bool, Enum, Unicode

from grading.grader import deadlines
from grading.grader.config_review import ConfigNotReviewed, require_reviewed
from grading.lms.roster import IntakeError, Student, read_roster, write_gradebook_roster  # noqa: F401 (Student: plan's input)
from grading.grader.course import nbgrader
from grading.grader.gradebook import normalized
from grading.assignment import ASSIGNMENT, COURSE_ROOT
from grading.course_directory import DOWNLOADS, Course
from grading.grader import staging
from grading.settings import DEFAULTS, GradingSettings
from grading.untrusted_text import for_terminal

LMS_NAMES = {"canvas": "Canvas", "moodle": "Moodle"}
DOWNLOADED = Path(DOWNLOADS, ASSIGNMENT)   # Course.downloads(), from the root: zip_collect's layout
ARCHIVE = DOWNLOADED / "archive"
EXTRACTED = DOWNLOADED / "extracted"
PREVIOUS = DOWNLOADED / "previous"             # earlier downloads; zip_collect never looks here
REPLACED = DOWNLOADED / "replaced"             # submitted/ folders as they were before a download replaced them
# What `make export` needs to send grades and feedback back: the roster as the LMS gave it, and
# how the LMS named each collected student (grading/lms/lms_export.py).
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




# ---------------------------------------------------------------------------------------------
# File names of the LMS downloads

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


# ---------------------------------------------------------------------------------------------
# What becomes of each extracted file

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


# ---------------------------------------------------------------------------------------------
# The plugins that `nbgrader zip_collect` runs

def member_parts(name):
    """The parts of a zip member's path; None when it would land outside the folder it is extracted to."""
    name = name.replace("\\", "/")   # zips written on Windows may use backslashes
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if name.startswith("/") or not parts or ".." in parts or re.match(r"[A-Za-z]:$", parts[0]):
        return None
    return parts


def member_problem(info, kept_bytes=0, kept_members=0, settings=DEFAULTS):
    """Why the zip member `info` (a zipfile.ZipInfo) must be skipped, in words; "" if it may be
    extracted. kept_bytes, kept_members -- what the members kept before it add up to.
    settings -- grading.settings.GradingSettings: what one download may hold (zip_*); a class's
    download is a few files per student, none of them large."""
    parts = member_parts(info.filename)
    if parts is None:
        return "its path leads outside the download's folder (no LMS writes that)"
    folders, name_bytes = settings.zip_folders, settings.zip_name_bytes
    if len(parts) > folders + 1 or any(len(p.encode("utf-8", "surrogateescape")) > name_bytes for p in parts):
        return f"its path is deeper than {folders} folders or has a name longer than {name_bytes} bytes"
    if info.file_size > settings.zip_file_bytes:
        return f"it unpacks to {info.file_size} bytes, more than the {settings.zip_file_bytes // 2 ** 20} MiB allowed"
    if info.file_size > settings.zip_ratio_from_bytes and info.file_size > settings.zip_ratio * max(info.compress_size, 1):
        return f"it unpacks to more than {settings.zip_ratio} times its size in the zip (a zip bomb)"
    if kept_members >= settings.zip_files:
        return f"the download holds more than {settings.zip_files} files"
    if kept_bytes + info.file_size > settings.zip_total_bytes:
        return f"the download unpacks to more than {settings.zip_total_bytes // 2 ** 30} GiB"
    return ""


def usable_members(archive, settings=DEFAULTS):
    """([ZipInfo] of the members of `archive` to extract, [(ZipInfo, why)] of those skipped)."""
    kept, skipped, kept_bytes = [], [], 0
    for info in archive.infolist():
        if info.is_dir():
            continue
        why = member_problem(info, kept_bytes, len(kept), settings)
        if why:
            skipped.append((info, why))
        else:
            kept.append(info)
            kept_bytes += info.file_size
    return kept, skipped


def member_time(member, zone):
    """The time the LMS gave a zip member (a local time without a zone, read in the course's
    zone, grading.grader.deadlines), in seconds since the epoch."""
    try:
        return datetime(*member.date_time, tzinfo=zone).timestamp()
    except ValueError:     # a zip may hold 1980-00-00: no time at all
        return datetime(1980, 1, 1, tzinfo=timezone.utc).timestamp()


class LmsExtractor(ExtractorPlugin):
    """Extract each zip in the archive folder into extracted/<zip name>/; copy any other file.

    Unlike nbgrader's ExtractorPlugin it does not unpack the archives inside the download:
    a .zip or .gz that a student sent is one of the student's files, and the stock extractor
    stops the whole collection at a .gz that is not a tar archive. Members that member_problem
    refuses (outside the folder, too deep, too large, a zip bomb, too many) are skipped.
    """

    def extract(self, archive_path, extracted_path):
        for name in sorted(os.listdir(archive_path)):
            source = os.path.join(archive_path, name)
            if not os.path.isfile(source):
                continue
            if not zipfile.is_zipfile(source):
                shutil.copy(source, os.path.join(extracted_path, name))
                continue
            target = Path(extracted_path) / os.path.splitext(name)[0]
            self.log.info("Extracting %s to %s", source, target)
            zone = deadlines.load(self.parent.coursedir.root).zone
            with zipfile.ZipFile(source) as archive:
                kept, skipped = usable_members(archive, GradingSettings(config=self.config))
                for member, why in skipped:
                    self.log.warning("Skipped %r: %s", member.filename, why)
                for member in kept:
                    destination = target.joinpath(*member_parts(member.filename))
                    destination.parent.mkdir(parents=True, exist_ok=True)
                    with archive.open(member) as data, open(destination, "wb") as out:
                        shutil.copyfileobj(data, out)
                    stored = member_time(member, zone)
                    os.utime(destination, (stored, stored))   # the collector reads it back as the submission time


class LmsCollector(FileNameCollectorPlugin):
    """Map each extracted file of a Canvas or Moodle download to student_id and file_id.

    The LMS id in the file name is looked up in the roster CSV (LmsCollector.roster, columns id
    and lms_id). Files of students not on the roster, of the LMS's test student, names that fit
    neither format, older versions of a file and reserved names are not collected (collect
    returns None) and stay in the extracted folder; so are the files of a student whose
    submission in the course is newer than the download's (unless LmsCollector.take_older).
    Each file's timestamp is the time the LMS gave it in the zip (kept by LmsExtractor as the
    file's modification time); zip_collect writes the latest of a student's files to
    timestamp.txt, nbgrader's record of the submission time (grading.grader.deadlines).

        nbgrader zip_collect gradient_checking --force \\
            --ZipCollectApp.collector_plugin=grading.lms.intake.LmsCollector \\
            --ZipCollectApp.extractor_plugin=grading.lms.intake.LmsExtractor \\
            --LmsCollector.roster=/path/to/roster.csv [--LmsCollector.lms=canvas] [--LmsCollector.take_older=True]
    """

    roster = Unicode("", help="Path of the roster CSV, with the columns id and lms_id.").tag(config=True)
    lms = Enum(["auto", *LMS_NAMES], default_value="auto",
               help="The LMS that made the download; auto: the format that more file names fit.").tag(config=True)
    take_older = Bool(False, help="Collect a student's files even where the course holds a newer "
                                  "submission of theirs.").tag(config=True)

    _entries = None

    def _extracted(self):
        app = self.parent
        return Path(app._format_collect_path(app.extracted_directory))   # zip_collect's own layout

    def _plan(self):
        # zip_collect asks about one file at a time; which version of a file wins needs all of them.
        if self._entries is None:
            app = self.parent
            if not self.roster:
                app.fail("LmsCollector.roster is not set: give the roster CSV with --LmsCollector.roster=PATH")
            left_out = []
            try:
                students = read_roster(self.roster, left_out)
            except IntakeError as error:
                app.fail(str(error))
            coursedir = app.coursedir
            released = set(list_files(coursedir.format_path(coursedir.release_directory, ".", coursedir.assignment_id)))
            paths = list_files(self._extracted())
            lms = detect_lms(paths) if self.lms == "auto" else self.lms
            self.log.info("Collecting a %s download", LMS_NAMES.get(lms, "unrecognised"))
            entries = plan(paths, students, lms, released, times=file_times(self._extracted(), paths),
                           in_course=course_times(Course(coursedir.root), [s.id for s in students]),
                           take_older=self.take_older, left_out=[row.lms_id for row in left_out])
            self._entries = {e.path: e for e in entries}
        return self._entries

    def collect(self, submitted_file):
        path = Path(submitted_file).relative_to(self._extracted()).as_posix()
        entry = self._plan().get(path)
        if entry is None or entry.status != COLLECTED:
            self.log.warning("Not collected (%s): %s", entry.status if entry else "unknown", submitted_file)
            return None
        stored = datetime.fromtimestamp(os.stat(submitted_file).st_mtime, timezone.utc)
        return {"student_id": entry.student, "file_id": entry.file_id, "timestamp": stored.isoformat()}


# ---------------------------------------------------------------------------------------------
# The intake

def read_zip(path, settings=DEFAULTS):
    """([member paths with /], [(member name, why it is skipped)]) of the files in the zip at `path`
    (member_problem decides). IntakeError if the zip is unusable, or a member to keep is damaged."""
    path = Path(path)
    if not path.is_file():
        raise IntakeError(f"{path}: no such file")
    if not zipfile.is_zipfile(path):
        raise IntakeError(f"{path} is not a zip file (or an incomplete download)")
    try:
        with zipfile.ZipFile(path) as archive:
            kept, skipped = usable_members(archive, settings)
            for member in kept:   # only what will be extracted is read: a bomb skipped is never unpacked
                try:
                    with archive.open(member) as data:
                        while data.read(1 << 20):
                            pass
                except zipfile.BadZipFile:
                    raise IntakeError(f"{path} is damaged ({member.filename} fails its checksum): "
                                      "download it again") from None
    except (zipfile.BadZipFile, OSError, RuntimeError, NotImplementedError) as error:
        raise IntakeError(f"{path}: the zip cannot be read: {error}") from None
    if not kept and not skipped:
        raise IntakeError(f"{path} holds no files")
    if not kept:
        raise IntakeError(f"{path} holds no file that can be collected: "
                          + "; ".join(f"{m.filename!r}: {why}" for m, why in skipped[:5]))
    return ["/".join(member_parts(m.filename)) for m in kept], [(m.filename, why) for m, why in skipped]


def _digest(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def snapshot(course):
    """{student: {file: sha256}} of every folder submitted/<student>/<assignment>/."""
    return {student: {p: _digest(course.submitted(student) / p) for p in list_files(course.submitted(student))}
            for student in course.students_in("submitted")}


def _free(path):
    """`path`, or path with " (2)", " (3)", ... before its suffix if that exists already."""
    candidate, n = path, 1
    while candidate.exists():
        n += 1
        candidate = path.with_name(f"{path.stem} ({n}){path.suffix}")
    return candidate


def place_archive(root, zip_path):
    """Copy the zip into the archive folder, as the only file there; return its new path.

    An earlier download moves to previous/, stamped with the time, unless it is this very
    file again: zip_collect would collect every zip in archive/, old versions included.
    """
    archive = Path(root) / ARCHIVE
    archive.mkdir(parents=True, exist_ok=True)
    digest = _digest(zip_path)
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H%M%SZ")
    for old in sorted(archive.iterdir()):
        if old.is_file() and _digest(old) == digest:
            old.unlink()
            continue
        previous = Path(root) / PREVIOUS
        previous.mkdir(parents=True, exist_ok=True)
        shutil.move(str(old), _free(previous / f"{stamp}_{old.name}"))
    # The extractor recognises zips by content, but a plain name keeps extracted/ readable.
    stem = re.sub(r"[^\w.-]+", "_", Path(zip_path).stem).strip("._") or "download"
    target = archive / f"{stem}.zip"
    shutil.copyfile(zip_path, target)
    return target


def _check(result, what):
    if result.returncode != 0:
        raise RuntimeError(f"{what} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")


def _count(n, noun):
    return f"{n} {noun}{'' if n == 1 else 's'}"


@dataclass
class Summary:
    """What one intake did; text() is the report printed for the instructor."""
    lms: str
    archive: Path
    students: list
    entries: list
    released_notebooks: list
    new: list = field(default_factory=list)
    updated: list = field(default_factory=list)
    unchanged: list = field(default_factory=list)
    had_earlier: set = field(default_factory=set)      # roster students who already had a submission
    graded_before: list = field(default_factory=list)  # updated students that autograded/ holds
    skipped: list = field(default_factory=list)        # [(zip member name, why it was skipped)]
    kept_earlier: dict = field(default_factory=dict)   # {student: [(notebook, the earlier file put back)]}
    replaced: Path = None                              # where the replaced folders were saved
    found: dict = field(default_factory=dict)          # {student: staging.Found of their submitted folder}
    course_deadlines: object = None                    # grading.grader.deadlines.Deadlines of the course
    submitted_at: dict = field(default_factory=dict)   # {student: aware time}, from timestamp.txt
    left_out: list = field(default_factory=list)       # [roster.LeftOut]: the LMS's test student
    older: dict = field(default_factory=dict)          # {student: (download's time, course's time)}: older download
    take_older: bool = False                           # --take-older: the older download was taken

    def of(self, status):
        return [e for e in self.entries if e.status == status]

    @property
    def collected(self):
        """{student: [file names in submitted/]}"""
        files = defaultdict(list)
        for e in self.of(COLLECTED):
            files[e.student].append(e.file_id)
        return dict(files)

    @property
    def marked_late(self):
        """The students whose files Canvas marked late (Moodle marks none)."""
        return sorted({e.student for e in self.of(COLLECTED) if e.late})

    def _deadlines(self):
        return self.course_deadlines or deadlines.Deadlines()

    def seconds_late(self, student):
        """How long after their own due date (an extension's, else the class's) the student submitted."""
        return self._deadlines().seconds_late(student, self.submitted_at.get(student))

    def is_late(self, student):
        """Late by the course's rule (grading.grader.deadlines: due date, extension, grace), where
        deadlines.toml has a due date; else by Canvas's marker."""
        if self._deadlines().due is None:
            return student in self.marked_late
        return self._deadlines().policy.late_seconds(self.seconds_late(student)) > 0

    @property
    def late(self):
        return [s for s in sorted(self.collected) if self.is_late(s)]

    def lateness_lines(self):
        """The Late: line (with, where the course's rule says on time although the submission came
        after the class's due date, the grace or extension that made it so), and a problem for each
        student whose Canvas marker disagrees with the course's rule."""
        course = self._deadlines()
        if course.due is None:
            described = [f"{s} (marked late by Canvas)" for s in self.late]
            if described:
                line = "Late: " + ", ".join(described)
            elif self.lms == "moodle":
                line = "Late: not known (no due date in deadlines.toml, and Moodle's download does not say)"
            else:
                line = "Late: none"
            return [line + (" (no due date in deadlines.toml to check Canvas's markers)" if self.marked_late else "")], []
        late, excused, disagree = [], [], []
        for student in sorted(self.collected):
            when, due, seconds = self.submitted_at.get(student), course.due_for(student), self.seconds_late(student)
            extended = f", extended from {course.local(course.due)}" if student in course.extensions else ""
            if self.is_late(student):
                late.append(f"{student} ({deadlines.duration(seconds)} after {course.local(due)}{extended})")
            elif seconds:
                excused.append(f"{student} ({deadlines.duration(seconds)} after {course.local(due)}, within the "
                               f"{course.policy.grace_minutes:g} minutes' grace{extended})")
            elif when and when > course.due:
                excused.append(f"{student} (extended to {course.local(due)})")
            marked = student in self.marked_late
            if marked and not (when and when > course.due) and student not in course.extensions:
                disagree.append(f"{student}: Canvas marks the submission late, but its time in the download "
                                f"({course.local(when) if when else 'none'}) is before the due date in "
                                f"deadlines.toml ({course.local(due)}): check both in Canvas")
            elif not marked and self.lms == "canvas" and self.is_late(student):
                disagree.append(f"{student}: Canvas does not mark the submission late, but its time in the "
                                f"download ({course.local(when)}) is after their due date in deadlines.toml "
                                f"({course.local(due)}{extended}): check both in Canvas")
        lines = ["Late: " + (", ".join(late) if late else "none")]
        if excused:
            lines.append("On time by their extension or the grace in deadlines.toml: " + ", ".join(excused))
        return lines, disagree

    @property
    def without_submission(self):
        return [s.id for s in self.students if s.id not in self.collected and s.id not in self.older]

    def text(self):
        def where(entry):
            return (EXTRACTED / entry.path).as_posix()

        lines = [f"{LMS_NAMES[self.lms]} download, kept as {self.archive}",
                 f"Roster: {_count(len(self.students), 'student')} imported into the gradebook."]
        for row in self.left_out:
            sent = [where(e) for e in self.of(LEFT_OUT) if e.lms_id == row.lms_id]
            lines.append(f"Left out: {row.name} (LMS id {row.lms_id or 'none'}, roster line {row.line}), "
                         f"{row.why}; not a student, not in the gradebook"
                         + (f"; its files left in downloaded/: {', '.join(sent)}" if sent else ""))
        collected = self.collected
        lines.append(f"Collected {_count(len(collected), 'student')} into submitted/ "
                     f"({len(self.new)} new, {len(self.updated)} updated, {len(self.unchanged)} unchanged):")
        versions = {(e.student, e.file_id): e.version for e in self.of(COLLECTED)}
        for student, files in sorted(collected.items()):
            shown = ", ".join(f + (f" (resubmission {versions[(student, f)]})" if versions[(student, f)] else "")
                              for f in sorted(files))
            when = self.submitted_at.get(student)
            lines.append(f"  {student}: {_count(len(files), 'file')}: {shown}"
                         + (f", submitted {self.course_deadlines.local(when)}" if when and self.course_deadlines else "")
                         + ("  [late]" if self.is_late(student) else ""))
            found = self.found.get(student)
            lines.extend(f"    {found.choice(name)}" for name in self.released_notebooks if found and found.choice(name))
        for student, (sent, had) in sorted(self.older.items()):
            local = (self.course_deadlines or deadlines.Deadlines()).local
            sent, had = (local(datetime.fromtimestamp(t, timezone.utc)) for t in (sent, had))
            lines.append(f"  {student}: this download's submission ({sent}) is older than the one in the course ({had}): "
                         + ("taken all the same (--take-older)" if self.take_older else
                            "the newer one is kept; to take the older one: make intake ... OLDER=1 (--take-older)"))
        late_lines, disagreements = self.lateness_lines()
        lines.extend(late_lines)
        problems = [f"skipped, {why}: {name!r}" for name, why in self.skipped]
        problems += disagreements
        unknown = defaultdict(list)
        for e in self.of(NOT_ON_ROSTER):
            unknown[(e.lms_id, e.name)].append(where(e))
        for (lms_id, name), paths in sorted(unknown.items()):
            problems.append(f"not on the roster: LMS id {lms_id} ({name}), left in downloaded/: {', '.join(paths)}")
        for e in self.of(NOT_RECOGNISED):
            problems.append(f"not recognised: {where(e)}, left in downloaded/")
        for e in self.of(AMBIGUOUS):
            problems.append(f"not collected, its name reads as a file of {e.student} (LMS ids {e.lms_id}): a name "
                            f"a submitter chose can imitate another's ids; find its sender in the LMS: {where(e)}, "
                            f"left in downloaded/")
        for e in self.of(RESERVED):
            problems.append(f"not collected, nbgrader reserves the name {e.file_id}: {e.student}'s {where(e)}")
        for student in self.without_submission:
            earlier = " (the earlier one in submitted/ is kept)" if student in self.had_earlier else ""
            problems.append(f"no submission in this download: {student}{earlier}")
        for student, found in sorted(self.found.items()):
            for name, candidate in found.unreadable.items():
                problems.append(f"{student}'s {candidate.path} cannot be graded, {candidate.problem}: "
                                "ask for it again before grading")
            for name, path in self.kept_earlier.get(student, []):
                problems.append(f"{student} sent no {name} this time: the earlier one"
                                + ("" if path == name else f", {path},") + " is kept")
            if found.missing:
                problems.append(f"{student} sent no {' and no '.join(found.missing)}")
        for s in self.students:
            if not s.lms_id:
                problems.append(f"no lms_id on the roster for {s.id}: their files cannot be recognised")
        lines.append("Problems:" if problems else "Problems: none")
        lines.extend(f"  {p}" for p in problems)
        older = self.of(SUPERSEDED)
        if older:
            lines.append("Older versions, not collected:")
            lines.extend(f"  {e.student or 'LMS id ' + e.lms_id}: {where(e)}" for e in older)
        if self.replaced:
            lines.append(f"The updated students' earlier files are saved in {self.replaced}/.")
        if self.graded_before:
            lines.append(f"Updated since their last grade: {', '.join(self.graded_before)}. "
                         "`make autograde` grades them again (the stock `nbgrader autograde` only where the new "
                         "submission time is later, or with --force).")
        return "\n".join(for_terminal(line) for line in lines)   # names and paths come from students


def intake(zip_path, roster_path, root=COURSE_ROOT, lms="auto", db_url=None, take_older=False):
    """Import the LMS download `zip_path` and the roster CSV `roster_path` into the course `root`.

    lms -- "auto", "canvas" or "moodle"
    db_url -- the gradebook; None leaves it to nbgrader_config.py
    take_older -- take a student's files even where the course holds a newer submission of theirs

    Raises IntakeError, before anything in the course changes, when an input is unusable,
    ConfigNotReviewed when the course's configuration changed since it was last reviewed
    (grading/grader/config_review.py), and RuntimeError when an nbgrader command fails. Returns the Summary.
    """
    course = Course(Path(root).resolve())
    root = course.root
    if not course.config_file.is_file():
        raise IntakeError(f"{root} is not a course directory: it has no {course.config_file.name}")
    require_reviewed(root)   # before an nbgrader command loads nbgrader_config.py
    release = course.release()
    if not release.is_dir():
        raise IntakeError(f"{root} has no {release.relative_to(root)}: generate the release first (make release)")
    try:
        course_deadlines = deadlines.load(course)
    except deadlines.DeadlinesError as error:
        raise IntakeError(str(error)) from None
    left_out = []
    students = read_roster(roster_path, left_out)
    members, skipped = read_zip(zip_path, course.settings)
    if lms == "auto":
        lms = detect_lms(members)
        if lms is None:
            raise IntakeError(f"no file name in {zip_path} fits the Canvas or the Moodle format: "
                              f"is this a submissions download? It holds {', '.join(members[:3])}, ...")
    elif not any(PARSERS[lms](m) for m in members):
        raise IntakeError(f"no file name in {zip_path} fits the {LMS_NAMES[lms]} format (try --lms auto); "
                          f"it holds {', '.join(members[:3])}, ...")

    before = snapshot(course)
    in_course = course_times(course, [s.id for s in students])   # as the collector reads them, before it copies
    archived = place_archive(root, zip_path)
    options = [f"--CourseDirectory.db_url={normalized(db_url)}"] if db_url else []
    with tempfile.TemporaryDirectory() as scratch:
        earlier = save_earlier(course, before, Path(scratch) / "earlier")
        gradebook_roster = write_gradebook_roster(students, Path(scratch) / "students.csv")
        # Independent steps (gradebook, files) and each nbgrader start takes seconds: run both at once.
        with ThreadPoolExecutor(max_workers=2) as pool:
            imported = pool.submit(nbgrader, root, "db", "student", "import", str(gradebook_roster), *options,
                                   check=False)
            collected = pool.submit(
                nbgrader, root, "zip_collect", ASSIGNMENT, "--force",
                "--ZipCollectApp.collector_plugin=grading.lms.intake.LmsCollector",
                "--ZipCollectApp.extractor_plugin=grading.lms.intake.LmsExtractor",
                # Its folders are the course's downloads (DOWNLOADED), whatever a configuration says.
                f"--ZipCollectApp.downloaded_directory={DOWNLOADS}", f"--ZipCollectApp.archive_directory={ARCHIVE.name}",
                f"--ZipCollectApp.extracted_directory={EXTRACTED.name}",
                f"--LmsCollector.roster={Path(roster_path).resolve()}", f"--LmsCollector.lms={lms}",
                f"--LmsCollector.take_older={take_older}", *options, check=False)
            _check(imported.result(), "nbgrader db student import")
            _check(collected.result(), "nbgrader zip_collect")

        released = list_files(release)
        released_notebooks = [n for n in released if n.endswith(".ipynb")]
        paths = list_files(root / EXTRACTED)
        times = file_times(root / EXTRACTED, paths)
        entries = plan(paths, students, lms, set(released), times=times, in_course=in_course,
                       take_older=take_older, left_out=[row.lms_id for row in left_out])
        keep_lms_times(course, entries, snapshot(course))
        replaced, kept_earlier = keep_earlier(course, earlier, before, snapshot(course), released_notebooks)
    after = snapshot(course)
    summary = Summary(lms, archived.relative_to(root), students, entries, released_notebooks=released_notebooks,
                      had_earlier={s.id for s in students if s.id in before}, skipped=skipped,
                      kept_earlier=kept_earlier, replaced=replaced and replaced.relative_to(root),
                      course_deadlines=course_deadlines, left_out=left_out,
                      older=older_than_course(entries, times, in_course), take_older=take_older)
    notebooks = staging.released_notebooks(release)
    for student, files in summary.collected.items():
        folder = course.submitted(student)
        when = deadlines.read_timestamp(folder)
        if when:
            summary.submitted_at[student] = when
        summary.found[student] = staging.find_notebooks(folder, notebooks, anchor=course.folder("submitted"),
                                                        settings=course.settings)   # as grading will
        if student not in before:
            summary.new.append(student)
        elif before[student] != after[student]:
            summary.updated.append(student)
            if course.autograded(student).is_dir():
                summary.graded_before.append(student)
        else:
            summary.unchanged.append(student)
    remember_for_export(root, roster_path, lms, summary)
    return summary


def keep_lms_times(course, entries, copied):
    """Give each file zip_collect copied the time the LMS gave it (zip_collect's copy has the time it
    was made): staging grades the newest of two files for one notebook. RuntimeError for a file
    zip_collect did not copy (it logs and goes on; that must not go unnoticed)."""
    for e in entries:
        if e.status != COLLECTED:
            continue
        if e.file_id not in copied.get(e.student, {}):
            raise RuntimeError(f"nbgrader zip_collect did not copy {e.file_id} to "
                               f"{course.relative(course.submitted(e.student))}/")
        stored = os.stat(course.root / EXTRACTED / e.path, follow_symlinks=False).st_mtime_ns
        os.utime(course.submitted(e.student) / e.file_id, ns=(stored, stored),
                 follow_symlinks=False)


def remember_for_export(root, roster_path, lms, summary):
    """Keep the roster file as it was given and, for every collected student, the name, LMS id and
    Canvas attachment id their files carried (students of earlier downloads keep theirs)."""
    shutil.copyfile(roster_path, root / ROSTER_COPY)
    record_path = root / LMS_RECORD
    record = json.loads(record_path.read_text()) if record_path.is_file() else {"students": {}}
    record["lms"] = lms
    for e in summary.of(COLLECTED):
        record["students"][e.student] = {"lms_id": e.lms_id, "name": e.name, "submission": e.submission}
    record_path.write_text(json.dumps(record, indent=1, sort_keys=True))


def save_earlier(course, before, folder):
    """A copy in `folder`/<student>/ of each submitted/<student>/<assignment>/ that `before` lists."""
    for student in before:
        shutil.copytree(course.submitted(student), Path(folder) / student, symlinks=True)
    return Path(folder)


def keep_earlier(course, earlier, before, after, released_notebooks):
    """After zip_collect replaced some students' folders: save each replaced folder (from the copy
    in `earlier`) under downloaded/<assignment>/replaced/<time>/<student>/, and put back, with its
    time, the file of each of the assignment's notebooks that a student had and this download
    holds no whole copy of (whatever the files are called: staging.find_notebooks), so that a
    download never takes a notebook away. Returns (the folder of saved copies or None,
    {student: [(notebook, the file put back)]})."""
    changed = [s for s in before if before[s] != after.get(s)]
    if not changed:
        return None, {}
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H%M%S.%fZ")
    replaced = course.root / REPLACED / stamp
    notebooks = staging.released_notebooks(course.release())
    kept = {}
    for student in changed:
        folder = course.submitted(student)
        had = staging.find_notebooks(Path(earlier) / student, notebooks, anchor=Path(earlier), settings=course.settings)
        has = staging.find_notebooks(folder, notebooks, anchor=course.folder("submitted"), settings=course.settings)
        for name in released_notebooks:
            old = had.taken[name][0] if name in had.taken else had.unreadable.get(name)
            if old is None or name in has.whole or (folder / old.path).exists():
                continue
            (folder / old.path).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(Path(earlier) / student / old.path, folder / old.path)
            kept.setdefault(student, []).append((name, old.path))
        replaced.mkdir(parents=True, exist_ok=True)
        shutil.move(str(Path(earlier) / student), replaced / student)
    return replaced, kept


def parse_args(argv):
    parser = argparse.ArgumentParser(
        prog="python -m grading.lms.intake",
        description="Import a Canvas or Moodle submissions download and the roster into the course: "
                    "submitted/<id>/gradient_checking/ and the gradebook.")
    parser.add_argument("zip", help="the zip of submissions downloaded from the LMS")
    parser.add_argument("--roster", required=True,
                        help="CSV with columns id and lms_id, optionally first_name, last_name, email")
    parser.add_argument("--root", default=str(COURSE_ROOT), help="the course directory (default: this repository)")
    parser.add_argument("--lms", choices=("auto", *LMS_NAMES), default="auto",
                        help="the LMS that made the zip (default: recognised from the file names)")
    parser.add_argument("--db-url", help="the gradebook (default: nbgrader_config.py's, or $GRADEBOOK_URL)")
    parser.add_argument("--take-older", action="store_true",
                        help="take a student's submission from the download even where the course holds a newer one")
    return parser.parse_args(argv)


def main(argv=None):
    """Run the intake for the command line `argv`; print the summary; return the exit status."""
    args = parse_args(argv)
    try:
        summary = intake(args.zip, args.roster, root=args.root, lms=args.lms, db_url=args.db_url,
                         take_older=args.take_older)
    except IntakeError as error:
        print(for_terminal(f"intake: error: {error}", keep_newlines=True), file=sys.stderr)
        return 2
    except ConfigNotReviewed as refusal:
        print(f"intake: {refusal}", file=sys.stderr)
        return 3
    except RuntimeError as error:
        print(for_terminal(f"intake: {error}", keep_newlines=True), file=sys.stderr)
        return 1
    print(summary.text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
