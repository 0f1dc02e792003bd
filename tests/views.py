"""Every view of a graded course's totals, read the way the instructor and the students read them.

The course promises one number per student: the total after the late penalty, to the cent, the
same in the grading table, grades.csv, the class report, the formgrader, the LMS's file and every
feedback page (grading.results.final_total). `read_views` reads each of them from what the real
commands wrote (and, for the formgrader, from a real Jupyter server), independently of the code
that wrote them, so that a test can hold them equal:

    from browser_support import JupyterLab
    from views import read_views, disagreements

    lab = JupyterLab(root, tmp_path / "home", tmp_path / "lab.log").start()   # once; optional
    found = read_views(root, table=autograde_stdout, lms_file=root / "exports" / "canvas_grades.csv",
                       lms_column="gradient_checking", lab=lab)
    assert disagreements(found) == {}
    lab.stop()

`found` is {student: {view: total}}, a total being a float, or None where the view shows the
student without a total (an empty LMS cell, a formgrader row not graded). A view that was not
asked for (no table given, no lab) is left out; a student a view does not show has no key for it.
The views, the keys of the inner dicts:

    "table"                       the total column of the table make autograde printed (its stdout)
    "grades.csv"                  grades.csv's score column
    "class report"                the total column of the class report's table of every student
    "formgrader API"              the formgrader's submissions list as its API answers it
    "formgrader API notebooks"    the sum of the student's notebooks as the API answers them
    "formgrader submissions"      the Manage Submissions page, as Chromium draws it
    "formgrader students"         the Manage Students page (each student's overall score)
    "formgrader student"          the student's own page (their assignments); student_pages=True
    "formgrader notebooks"        the sum of the student's notebook page; student_pages=True
    "LMS"                         the grade cell of the LMS's file (Canvas's gradebook import,
                                  Moodle's worksheet, or the course's grades_by_lms_id.csv)
    "feedback <page>"             the assignment total each feedback page states
    "feedback notebooks"          the sum of the pages' own "Score: x / y" headings

Chromium and the formgrader cost a few seconds: start the server once for a test module, and keep
student_pages off for a large class (two pages per student).
"""
import contextlib
import csv
import html.parser
import json
import re
from pathlib import Path

from browser_support import CHROMIUM, CHROMIUM_ARGS, LOOPBACK
from grading.assignment import ASSIGNMENT
from grading.lms.lms_files import ROSTER_COPY
from grading.lms.roster import read_roster

NUMBER = r"-?\d+(?:\.\d+)?"
FEEDBACK_TOTAL = re.compile(rf'<tr class="total"><th>Total</th><th>({NUMBER}) / ({NUMBER})</th>')
FEEDBACK_HEADING = re.compile(rf"<h4>[^<]*\(Score: ({NUMBER}) / ({NUMBER})\)</h4>")


def read_views(root, *, table=None, lms_file=None, lms_column=ASSIGNMENT, lab=None, student_pages=True):
    """{student: {view: total or None}} of the course at `root` (see the module's docstring).

    table -- what make autograde printed (its stdout), for the "table" view
    lms_file -- the LMS's file that make export wrote, for the "LMS" view
    lms_column -- the assignment's column in Canvas's file
    lab -- a browser_support.JupyterLab serving `root`, for the formgrader's views
    student_pages -- also open each student's two formgrader pages
    """
    root = Path(root)
    views = {}

    def add(view, totals):
        for student, total in totals.items():
            views.setdefault(student, {})[view] = total

    if table is not None:
        add("table", table_totals(table))
    add("grades.csv", grades_csv_totals(root / "grades.csv"))
    add("class report", class_report_totals(root / "reports" / "class_report.html"))
    if lab is not None:
        for view, totals in formgrader_totals(lab, student_pages=student_pages).items():
            add(view, totals)
    if lms_file is not None:
        add("LMS", lms_totals(root, lms_file, lms_column))
    for view, totals in feedback_totals(root).items():
        add(view, totals)
    return views


def disagreements(views, allow_missing=()):
    """{student: their views} for every student whose views do not all show one number; a view in
    `allow_missing` may show None (an LMS cell held back, say) without counting."""
    return {student: found for student, found in views.items()
            if len({total for view, total in found.items() if not (total is None and view in allow_missing)}) != 1}


def _number(text):
    found = re.search(NUMBER, text or "")
    return float(found.group()) if found else None


# ---------------------------------------------------------------------------------------- files
def table_totals(stdout):
    """{student: total} of the grading table in make autograde's output: the rows between its
    dashed line and the first blank line; a row's total follows its six function scores and, when
    the student was late, the penalty (the one cell starting with "-")."""
    lines = stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("student ")) + 2
    totals = {}
    for line in lines[start:]:
        if not line.strip():
            break
        cells = line.split()
        after = cells[7:]
        totals[cells[0]] = float(after[1] if after[0].startswith("-") else after[0])
    return totals


def grades_csv_totals(path):
    with open(path, newline="", encoding="utf-8") as handle:
        return {row["student_id"]: float(row["score"]) for row in csv.DictReader(handle)}


class _Tables(html.parser.HTMLParser):
    """Every table of a page as lists of rows of cell texts."""

    def __init__(self):
        super().__init__()
        self.tables, self._cell = [], None

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self.tables.append([])
        elif tag == "tr" and self.tables:
            self.tables[-1].append([])
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None and self.tables and self.tables[-1]:
            self.tables[-1][-1].append("".join(self._cell).strip())
            self._cell = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def class_report_totals(path):
    """{student: total} of the class report's last table (every student); None for "no submission"."""
    parser = _Tables()
    parser.feed(Path(path).read_text(encoding="utf-8"))
    header, *rows = parser.tables[-1]
    where = header.index("total")
    return {row[0]: _number(row[where]) for row in rows}


def lms_totals(root, path, column=ASSIGNMENT):
    """{course student id: grade or None} of the LMS's file, matched to the course's students by
    their LMS id as the roster that make intake kept says (downloaded/.../roster.csv)."""
    by_lms_id = {s.lms_id: s.id for s in read_roster(Path(root) / ROSTER_COPY) if s.lms_id}
    with open(path, newline="", encoding="utf-8-sig") as handle:
        rows = list(csv.reader(handle))
    header = [cell.strip().lower() for cell in rows[0]]
    if "id" in header and "lms_id" in header:               # the course's own roster
        key, grade, by_lms_id = header.index("id"), header.index("score"), None
    elif "identifier" in header:                              # Moodle's worksheet
        key, grade = header.index("identifier"), header.index("grade")
    else:                                                     # Canvas's gradebook
        key, grade = header.index("id"), header.index(column.lower())
    totals = {}
    for row in rows[1:]:
        if not row or row[0].strip().lower() == "points possible":
            continue
        student = row[key] if by_lms_id is None else by_lms_id.get("".join(c for c in row[key] if c.isdigit()).lstrip("0"))
        if student is not None:
            totals[student] = _number(row[grade]) if row[grade].strip() else None
    return totals


def feedback_totals(root):
    """{"feedback <page>": {student: total}, "feedback notebooks": {student: sum of headings}}."""
    views = {}
    for folder in sorted((Path(root) / "feedback").glob(f"*/{ASSIGNMENT}")):
        student, headings = folder.parent.name, []
        for page in sorted(folder.glob("*.html")):
            text = page.read_text(encoding="utf-8")
            stated = FEEDBACK_TOTAL.search(text)
            views.setdefault(f"feedback {page.stem}", {})[student] = float(stated.group(1)) if stated else None
            heading = FEEDBACK_HEADING.search(text)
            headings.append(float(heading.group(1)) if heading else None)
        if headings and None not in headings:
            views.setdefault("feedback notebooks", {})[student] = round(sum(headings), 2)
    return views


# ----------------------------------------------------------------------------------- formgrader
def formgrader_api(lab, path):
    with LOOPBACK.open(f"http://127.0.0.1:{lab.port}/formgrader/api/{path}?token={lab.token}") as response:
        return json.load(response)


@contextlib.contextmanager
def chromium():
    """A page of Debian's headless Chromium (browser_support's flags)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser.new_page()
        finally:
            browser.close()


ROWS = "() => [...document.querySelectorAll('#main-table tr')].map(tr => [...tr.cells].map(td => td.innerText.trim()))"


def page_rows(page, lab, path):
    """The rows of a formgrader page's main table once its script has filled it (cell texts)."""
    page.goto(f"http://127.0.0.1:{lab.port}/formgrader/{path}?token={lab.token}")
    page.wait_for_function("() => !document.querySelector('#main-table').innerText.includes('Loading')")
    return page.evaluate(ROWS)


def formgrader_totals(lab, student_pages=True):
    """{view: {student: total}} of the formgrader served by `lab`: its API, and its pages in Chromium."""
    submissions = formgrader_api(lab, f"submissions/{ASSIGNMENT}")
    graded = [s["student"] for s in submissions if s.get("autograded")]
    views = {"formgrader API": {s["student"]: (s["score"] if s.get("autograded") else None) for s in submissions},
             "formgrader API notebooks": {}}
    for student in graded:
        notebooks = formgrader_api(lab, f"student_notebook_submissions/{student}/{ASSIGNMENT}")
        views["formgrader API notebooks"][student] = round(sum(n["score"] for n in notebooks), 2)
    with chromium() as page:
        # Manage Students first: the login cookie that the token in its address sets has its folder,
        # /formgrader, as path, so that every later page's script reaches the API.
        # Its columns: name, id, email, overall score (of every assignment: this course has one).
        views["formgrader students"] = {row[1]: _number(row[3].split(" / ")[0])
                                        for row in page_rows(page, lab, "manage_students")}
        # Manage Submissions: name, id, time, status, score, ...
        views["formgrader submissions"] = {row[1]: _number(row[4].split(" / ")[0]) if " / " in row[4] else None
                                           for row in page_rows(page, lab, f"manage_submissions/{ASSIGNMENT}")}
        if student_pages:
            views["formgrader student"], views["formgrader notebooks"] = {}, {}
            for student in graded:
                # the student's assignments: id, overall score, code score, ...
                [row] = [r for r in page_rows(page, lab, f"manage_students/{student}") if r[0] == ASSIGNMENT]
                views["formgrader student"][student] = _number(row[1].split(" / ")[0])
                # the student's notebooks: name, overall score, ...
                rows = page_rows(page, lab, f"manage_students/{student}/{ASSIGNMENT}")
                views["formgrader notebooks"][student] = round(sum(_number(r[1].split(" / ")[0]) for r in rows), 2)
    return views
