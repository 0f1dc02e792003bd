"""`nbgrader release_feedback` and the formgrader's release buttons: only the pages grading
rendered, student by student.

Stock nbgrader (0.9) releases every `*.html` of feedback/<student>/<assignment>/ into the
exchange, each named by a hash of the submission's secret and the page's name, which the student
both knows: so a page that is no feedback (a file the student handed in and grading copied
there, a link collect followed) reaches them as if it were. It also releases the whole class in
one loop that stops at the first student whose submission_secret.txt is not text.
CheckedReleaseFeedback, which the course's and the hub's configuration name as nbgrader's
release_feedback (ExchangeFactory.release_feedback), and which `make release-feedback` names on
nbgrader's command line:

- releases only <notebook>.html of the assignment's notebooks (grading.assignment.NOTEBOOKS),
  read as regular files without following a link (grading.sandboxing.files); any other page in
  the folder stays in the course, and one that stock nbgrader released before is withdrawn;
- checks each student on their own (`check`): a submission_secret.txt that is not short
  printable ASCII, no readable timestamp.txt, a page that is a link, a special file or too large:
  that student's feedback is not released, the log says "Not released for <student>: <why>",
  and the others go on;
- writes each page into the exchange under a temporary name and renames it into place, readable
  by all: the exchange's feedback folder cannot be listed, only a student's own hash finds a page.
"""
import glob
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from nbgrader.exchange.default.release_feedback import ExchangeReleaseFeedback
from nbgrader.utils import notebook_hash

from grading.assignment import NOTEBOOKS
from grading.grader import deadlines
from grading.sandboxing import files
from grading.settings import DEFAULTS, GradingSettings
from grading.untrusted_text import for_terminal

PAGES = tuple(name.removesuffix(".ipynb") for name in NOTEBOOKS)   # the notebook ids whose pages go out
SECRET = "submission_secret.txt"
MAX_SECRET_BYTES = 256        # nbgrader's submit writes 128 hexadecimal digits
REFUSED = "Not released for {student}: {why}"   # grading.lms.exchange_feedback reads these lines


@dataclass
class Feedback:
    """One student's feedback folder, as checked: what may go out, or why nothing does."""
    secret: str = ""
    pages: dict = field(default_factory=dict)    # {notebook id: the page's bytes}
    others: list = field(default_factory=list)   # names of other pages in the folder, never released
    problem: str = ""


def _read(name, limit, fd):
    """(bytes, "") of a regular file in the folder `fd`, or (None, why not); (None, "") if absent."""
    try:
        return files.read_regular(name, limit, dir_fd=fd), ""
    except FileNotFoundError:
        return None, ""
    except (files.NotRegular, files.TooLarge, OSError) as error:
        return None, str(error)


def _secret(fd):
    data, why = _read(SECRET, MAX_SECRET_BYTES, fd)
    if data is None:
        return "", why or f"there is no {SECRET}: the submission did not come through the exchange"
    if not data or any(not 0x21 <= byte <= 0x7e for byte in data):
        return "", (f"its {SECRET} is not short printable ASCII (nbgrader writes 128 hexadecimal digits), "
                    "so it names no page the student's client could find")
    return data.decode("ascii"), ""


def read_feedback(folder, anchor, page_bytes=DEFAULTS.step_file_bytes):
    """The Feedback of the folder `folder` below the trusted folder `anchor` (the course); a page
    over `page_bytes` (the course's GradingSettings.step_file_bytes) is refused."""
    try:
        fd = files.open_folder(folder, anchor)
    except FileNotFoundError:
        return Feedback(problem="there is no feedback folder")
    except (files.NotRegular, OSError) as error:
        return Feedback(problem=str(error))
    try:
        secret, problem = _secret(fd)
        if problem:
            return Feedback(problem=problem)
        stamp, why = _read(deadlines.TIMESTAMP, deadlines.MAX_TIMESTAMP_BYTES, fd)
        if stamp is None or deadlines.parse_timestamp(stamp) is None:
            return Feedback(problem=why or f"its {deadlines.TIMESTAMP} holds no readable submission time")
        found = Feedback(secret=secret)
        for notebook in PAGES:
            page, why = _read(notebook + ".html", page_bytes, fd)
            if why:
                return Feedback(problem=why)
            if page is not None:
                found.pages[notebook] = page
        if not found.pages:
            return Feedback(problem="there is no feedback page of the assignment's notebooks")
        found.others = sorted(name for name in os.listdir(fd)
                              if name.endswith(".html") and name.removesuffix(".html") not in PAGES)
        return found
    finally:
        os.close(fd)


def publish(folder_fd, name, data):
    """Write `data` as `name` in the exchange's feedback folder: whole, or not at all."""
    scratch = f".{name}.{secrets.token_hex(4)}.tmp"
    fd = os.open(scratch, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644,
                 dir_fd=folder_fd)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            os.fchmod(out.fileno(), 0o644)   # whatever the umask: the student's account reads it
        os.replace(scratch, name, src_dir_fd=folder_fd, dst_dir_fd=folder_fd)
    except BaseException:
        try:
            os.unlink(scratch, dir_fd=folder_fd)
        except FileNotFoundError:
            pass
        raise


class CheckedReleaseFeedback(ExchangeReleaseFeedback):
    """nbgrader's release_feedback: the rendered pages only, one student at a time."""

    def students(self):
        """The student ids with a feedback folder of this assignment (nbgrader's student_id, a
        pattern, chooses among them)."""
        pattern = self.coursedir.student_id if self.coursedir.student_id not in ("", None) else "*"
        template = Path(self.coursedir.format_path(self.coursedir.feedback_directory, "*", self.coursedir.assignment_id))
        where = template.parts.index("*")
        found = glob.glob(self.coursedir.format_path(self.coursedir.feedback_directory, pattern,
                                                     self.coursedir.assignment_id))
        return sorted({Path(path).parts[where] for path in found})

    def copy_files(self):
        exclude = set(filter(None, (self.coursedir.student_id_exclude or "").split(",")))
        root = Path(self.coursedir.root)
        released, refused = [], {}
        dest = os.open(self.dest_path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
        try:
            for student in self.students():
                if student in exclude:
                    self.log.debug("Skipping student '%s'", for_terminal(student))
                    continue
                try:
                    why = self._release(student, root, dest)
                except Exception as error:   # one student's files never stop the others
                    why = f"{type(error).__name__}: {error}"
                if why:
                    refused[student] = why
                    self.log.warning("%s", for_terminal(REFUSED.format(student=student, why=why)))
                else:
                    released.append(student)
        finally:
            os.close(dest)
        summary = f"Feedback of '{self.coursedir.assignment_id}' released for {len(released)} students" + \
            (f"; not released for {len(refused)}: {', '.join(refused)}" if refused else "")
        self.log.info("%s", for_terminal(summary))

    def _release(self, student, root, dest):
        """Release one student's pages; return why not, or ""."""
        folder = Path(self.coursedir.format_path(self.coursedir.feedback_directory, student, self.coursedir.assignment_id))
        feedback = read_feedback(folder, root, GradingSettings(config=self.config).step_file_bytes)
        if feedback.problem:
            return feedback.problem
        for notebook, page in feedback.pages.items():
            name = notebook_hash(secret=feedback.secret, notebook_id=notebook) + ".html"
            publish(dest, name, page)
            self.log.info("Releasing feedback for student '%s' on assignment '%s/%s/%s'", for_terminal(student),
                          self.coursedir.course_id, self.coursedir.assignment_id, notebook)
        for other in feedback.others:
            withdrawn = ""
            try:   # released by stock nbgrader before: the student's own file, not feedback
                os.unlink(notebook_hash(secret=feedback.secret, notebook_id=other.removesuffix(".html")) + ".html",
                          dir_fd=dest)
                withdrawn = "; it was in the exchange from an earlier release and is withdrawn"
            except (FileNotFoundError, AssertionError, UnicodeError):   # never released, or a name no hash takes
                pass
            self.log.warning("%s", for_terminal(f"Not released: {student}'s {other} is no feedback page of the "
                                                f"assignment's notebooks{withdrawn}."))
        return ""
