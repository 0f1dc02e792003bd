"""An LMS download into the course: the intake's steps, with nbgrader's own commands.

intake() checks its inputs before anything in the course changes, then imports the roster into the
gradebook (`nbgrader db student import`) and collects the download into submitted/ (`nbgrader
zip_collect`, with grading.lms.zip_collect_plugins), at the same time; it gives each collected file
the time the LMS gave it, keeps a notebook that a newer download lacks, saves every replaced folder,
and keeps what `make export` needs (the roster as the LMS gave it, the LMS's names of each student).
It returns the Summary (grading.lms.intake_summary); `make intake` (grading.lms.intake) prints it.
"""
import hashlib
import json
import os
import re
import shutil
import tempfile
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path

from grading.assignment import ASSIGNMENT, COURSE_ROOT
from grading.course_directory import DOWNLOADS, Course
from grading.grader import deadlines, staging
from grading.grader.reviewed_config import require_reviewed
from grading.grader.course import nbgrader
from grading.grader.gradebook import normalized
from grading.lms.intake_summary import Summary
from grading.lms.lms_files import (ARCHIVE, COLLECTED, EXTRACTED, LMS_NAMES, LMS_RECORD, PARSERS, PREVIOUS,
                                   REPLACED, ROSTER_COPY, course_times, detect_lms, file_times, list_files,
                                   older_than_course, plan)
from grading.lms.roster import IntakeError, read_roster, write_gradebook_roster
from grading.lms.zip_members import read_zip


def _digest(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def snapshot(course):
    """{student: {file: sha256}} of every folder submitted/<student>/<assignment>/."""
    return {student: {p: _digest(course.submitted(student) / p) for p in list_files(course.submitted(student))}
            for student in course.students_in("submitted")}


def unused_name(path):
    """A file name that nothing has yet: `path`, or path with " (2)", " (3)", ... before its suffix."""
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
        shutil.move(str(old), unused_name(previous / f"{stamp}_{old.name}"))
    # The extractor recognises zips by content, but a plain name keeps extracted/ readable.
    stem = re.sub(r"[^\w.-]+", "_", Path(zip_path).stem).strip("._") or "download"
    target = archive / f"{stem}.zip"
    shutil.copyfile(zip_path, target)
    return target


def _require_success(result, what):
    """Raise RuntimeError with its output unless the command `what` (a CompletedProcess) succeeded."""
    if result.returncode != 0:
        raise RuntimeError(f"{what} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")


def intake(zip_path, roster_path, root=COURSE_ROOT, lms="auto", db_url=None, take_older=False):
    """Import the LMS download `zip_path` and the roster CSV `roster_path` into the course `root`.

    lms -- "auto", "canvas" or "moodle"
    db_url -- the gradebook; None leaves it to nbgrader_config.py
    take_older -- take a student's files even where the course holds a newer submission of theirs

    Raises IntakeError, before anything in the course changes, when an input is unusable,
    ConfigNotReviewed when the course's configuration changed since it was last reviewed
    (grading/grader/reviewed_config.py), and RuntimeError when an nbgrader command fails. Returns the Summary.
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
                "--ZipCollectApp.collector_plugin=grading.lms.zip_collect_plugins.LmsCollector",
                "--ZipCollectApp.extractor_plugin=grading.lms.zip_collect_plugins.LmsExtractor",
                # Its folders are the course's downloads (DOWNLOADED), whatever a configuration says.
                f"--ZipCollectApp.downloaded_directory={DOWNLOADS}", f"--ZipCollectApp.archive_directory={ARCHIVE.name}",
                f"--ZipCollectApp.extracted_directory={EXTRACTED.name}",
                f"--LmsCollector.roster={Path(roster_path).resolve()}", f"--LmsCollector.lms={lms}",
                f"--LmsCollector.take_older={take_older}", *options, check=False)
            _require_success(imported.result(), "nbgrader db student import")
            _require_success(collected.result(), "nbgrader zip_collect")

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
