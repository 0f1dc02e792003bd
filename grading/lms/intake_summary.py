"""What one intake did, as the instructor reads it: Summary.text().

The students collected, their files and submission times, which file is graded as which notebook
(grading.grader.staging.find_notebooks), late ones by the course's rule (grading.grader.deadlines)
beside Canvas's own marker, the LMS's test student left out, and every file that was not collected,
with why; names and paths come from students, so every line is printed inert (for_terminal).
"""
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from grading.grader import deadlines
from grading.lms.lms_files import (AMBIGUOUS, COLLECTED, EXTRACTED, LEFT_OUT, LMS_NAMES, NOT_ON_ROSTER,
                                   NOT_RECOGNISED, RESERVED, SUPERSEDED)
from grading.untrusted_text import for_terminal


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
