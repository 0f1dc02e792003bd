"""The plugins the intake gives `nbgrader zip_collect`: what it extracts, and whose each file is.

    nbgrader zip_collect gradient_checking --force \\
        --ZipCollectApp.collector_plugin=grading.lms.zip_collect_plugins.LmsCollector \\
        --ZipCollectApp.extractor_plugin=grading.lms.zip_collect_plugins.LmsExtractor \\
        --LmsCollector.roster=/path/to/roster.csv [--LmsCollector.lms=canvas] [--LmsCollector.take_older=True]

nbgrader loads them by name, in its own process: grading.lms.intake runs the command so.
"""
import os
import shutil
import zipfile
from datetime import datetime, timezone
from pathlib import Path

from nbgrader.plugins import ExtractorPlugin, FileNameCollectorPlugin
from traitlets import Bool, Enum, Unicode

from grading.course_directory import Course
from grading.grader import deadlines
from grading.lms.lms_files import COLLECTED, LMS_NAMES, course_times, detect_lms, file_times, list_files, plan
from grading.lms.roster import IntakeError, read_roster
from grading.lms.zip_members import member_parts, member_time, usable_members
from grading.settings import GradingSettings


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
