"""Which members of an LMS's zip are extracted: inside the download's folder, within the course's bounds.

A class's download is a few files per student, none of them large. A member whose path leads
outside the folder it is extracted to, or that is too deep, too large, a zip bomb, or past the
download's number or total of files (grading.settings: zip_*) is skipped with a sentence, and
never unpacked; the others are extracted (grading.lms.zip_collect_plugins.LmsExtractor) with the
time the LMS gave them.
"""
import re
import zipfile
from datetime import datetime, timezone
from pathlib import Path

from grading.lms.roster import IntakeError
from grading.settings import DEFAULTS


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
