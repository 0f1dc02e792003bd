"""What a student's feedback page tells them, through the real `make autograde` on one small batch.

    ada   complete and right
    mo    a mistake: the one-sided difference in gradient_check
    otto  a kernel that dies in gradient_check_by_parameter (nbgrader cannot finish), who had run his
          notebooks before handing them in: every test cell carries his own old output
    kim   notebook 1 only
    lee   notebook 1, with hostile formulas in a markdown cell, and a notebook 2 that is not JSON

The pages must show no old output under a lost score, each test cell headed by its exercise,
function and points, a missing or unreadable notebook named with the points it lost, and formulas
and tables that render with no network and no script: opened in Chromium with every request but
the page itself blocked, under a policy with no script-src and no 'unsafe-eval'.
Screenshots go to artifacts/feedback/.
"""
import html
import re

import nbformat
import pytest

from commands import autograded

from grading.assignment import ASSIGNMENT, COURSE_ROOT, FUNCTIONS, NOTEBOOKS
from grading.grader import course
from grading.plugins.page_math import MATHML_TAGS, markdown_for_page
from synthetic_class import demo, synthetic
from test_student_text import chromium_page

NB1, NB2 = NOTEBOOKS
ARTIFACTS = COURSE_ROOT / "artifacts" / "feedback"
OLD_OUTPUT = "passes the visible tests (as otto saw it on his own machine)"
HOSTILE_MATH = ("Mine: $\\text{<img src=x onerror=\"window.pwned = 'formula'\">}$, "
                "$\\href{javascript:window.pwned = 'href'}{x}$ and $\\frac{1}{2}$.")
MATHML_NS = "http://www.w3.org/1998/Math/MathML"


def with_old_outputs(notebooks):
    """The notebooks as a student who ran them hands them in: each test cell says it passed."""
    for notebook in notebooks.values():
        for count, cell in enumerate(notebook.cells, 1):
            grade_id = cell.metadata.get("nbgrader", {}).get("grade_id", "")
            if cell.cell_type == "code":
                cell.execution_count = count
                if grade_id.startswith("test_"):
                    cell.outputs = [nbformat.v4.new_output("stream", name="stdout",
                                                           text=f"{grade_id[5:]} {OLD_OUTPUT}\n")]
    return notebooks


@pytest.fixture(scope="module")
def fed_back(new_course):
    root = new_course("feedback_page")
    kinds = demo.hub_kinds()
    lees = synthetic.submission()[NB1]
    lees.cells.append(nbformat.v4.new_markdown_cell(HOSTILE_MATH))
    students = {"ada": kinds["right"], "mo": kinds["mistake"], "otto": with_old_outputs(kinds["crashing"]),
                "kim": {NB1: synthetic.submission()[NB1]}, "lee": {NB1: lees}}
    for student, notebooks in students.items():
        course.add_submission(root, student, notebooks)
    (root / "submitted" / "lee" / ASSIGNMENT / NB2).write_text('{"cells": [not json')
    autograded(root, "--workers", "2")
    return root


def page(root, student, notebook):
    return root / "feedback" / student / ASSIGNMENT / notebook.replace(".ipynb", ".html")


def text_of(markup):
    """A page's text, tags removed, whitespace folded."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", markup)).split())


def headings(markup):
    return [html.unescape(label) for label in re.findall(r'class="nbgrader-label exercise-label">([^<]*)<', markup)]


def expected_headings(root, student, notebook):
    scores, points = course.scores(root)[student], course.points_per_function()
    return [f"Exercise {FUNCTIONS.index(f) + 1} \u2014 {f}: {scores[f]:g} / {points[f]:g}"
            for f in FUNCTIONS if f in scores and synthetic.notebook_of()[f] == notebook]


def test_each_test_cell_is_headed_by_its_exercise_function_and_points(fed_back):
    root = fed_back
    assert headings(page(root, "mo", NB1).read_text()) == [
        "Exercise 1 \u2014 forward_propagation: 5 / 5", "Exercise 2 \u2014 backward_propagation: 5 / 5",
        "Exercise 3 \u2014 gradient_check: 0 / 20"]
    for student, notebook in [("ada", NB1), ("ada", NB2), ("mo", NB2), ("otto", NB1), ("otto", NB2)]:
        shown = page(root, student, notebook).read_text()
        assert headings(shown) == expected_headings(root, student, notebook), (student, notebook)
        contents = text_of(shown.split('<div id="toc">')[1].split("</ol>")[0]).replace(" :", ":")
        for heading in headings(shown):
            assert heading in contents, f"the contents of {student}'s {notebook} lack {heading!r}"


def test_a_crashed_submission_shows_why_a_cell_did_not_run_never_its_old_output(fed_back):
    """nbgrader could not finish otto's submission: his pages (and the graded copy the formgrader
    shows) say why each cell did not run, and what verification found, never his own old outputs."""
    root = fed_back
    for notebook in NOTEBOOKS:
        graded = (root / "autograded" / "otto" / ASSIGNMENT / notebook).read_text()
        shown = page(root, "otto", notebook).read_text()
        for what in (graded, shown):
            assert OLD_OUTPUT not in what and "Not run in grading" in what, notebook
        assert "did not run to its end in grading" in text_of(shown)
    nd = text_of(page(root, "otto", NB2).read_text())
    heading = "Exercise 5 \u2014 gradient_check_by_parameter: 0 / 20"
    after = nd.split(heading, 1)[1][:1200]
    assert "Not run in grading" in after and "run again in a separate process, gave 0 of 20 points" in after, after
    assert "Total 80 / 100" in nd


def test_a_missing_or_unreadable_notebook_is_named_with_the_points_it_lost(fed_back):
    root = fed_back
    for student, why in [("kim", "it was not in your submission"), ("lee", "it could not be read: it is not a readable")]:
        assert sorted(p.name for p in page(root, student, NB1).parent.iterdir()) == [NB1.replace(".ipynb", ".html")]
        shown = text_of(page(root, student, NB1).read_text())
        assert f"{NB2.removesuffix('.ipynb')} 0 / 70 Not graded: {why}" in shown, shown[:1500]
        assert "Its 70 points are lost." in shown and "Total 30 / 100" in shown
    complete = text_of(page(root, "ada", NB1).read_text())
    assert "Not graded" not in complete and "Total 100 / 100" in complete


def test_formulas_and_tables_render_offline_with_no_script(fed_back):
    """Chromium, with every request but the page itself refused: notebook 1's formulas are MathML
    laid out as formulas (a fraction's numerator above its denominator), tables have borders and
    spacing, no script is on the page or blocked on it, and lee's hostile formulas run nothing."""
    root = fed_back
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for student, notebook in [("ada", NB1), ("kim", NB1), ("otto", NB2), ("lee", NB1)]:
        markup = page(root, student, notebook).read_text()
        meta = re.search(r'<meta[^>]*"Content-Security-Policy"[^>]*>', markup).group(0)
        policy = re.search(r'content="([^"]*)"', meta).group(1)
        assert "default-src 'none'" in policy and "script-src" not in policy and "unsafe-eval" not in policy
        assert "<script" not in markup.lower() and "mathjax" not in markup.lower()
    with chromium_page() as (browser, dialogs):
        refused, errors = [], []
        browser.on("console", lambda message: message.type == "error" and errors.append(message.text))
        browser.on("pageerror", lambda error: errors.append(str(error)))

        shown = {}
        browser.route("**/*", lambda route: route.continue_() if route.request.url == shown.get("page")
                      else (refused.append(route.request.url), route.abort()))

        def open_page(path):
            shown["page"] = path.as_uri()
            browser.goto(path.as_uri())
            browser.wait_for_load_state("load")
            browser.wait_for_timeout(300)   # an onerror handler runs once its image has failed

        open_page(page(root, "ada", NB1))
        math = browser.evaluate("""ns => {
            const all = [...document.querySelectorAll('math')];
            const formula = all.find(m => m.getAttribute('display') === 'block' && m.textContent.includes('lim'));
            if (!formula) return {count: all.length};
            const box = formula.firstElementChild.getBoundingClientRect();   // the formula, not its line
            const [top, bottom] = [...formula.querySelector('mfrac').children].map(c => c.getBoundingClientRect());
            return {count: all.length, inMathML: all.every(m => m.namespaceURI === ns), width: box.width,
                    height: box.height, stacked: top.bottom <= bottom.top + 1,
                    fontSize: parseFloat(getComputedStyle(formula).fontSize)};
        }""", MATHML_NS)
        assert math["count"] > 30 and math["inMathML"], math
        assert math["stacked"] and 30 < math["height"] < 200 and 150 < math["width"] < 900, math
        assert 14 <= math["fontSize"] <= 24, math
        text = browser.evaluate("() => [...document.querySelectorAll('.text_cell_render')].map(e => e.innerText).join(' ')")
        assert "\\frac" not in text and "$" not in text, "a formula of the markdown left as LaTeX"
        cell = browser.evaluate("""() => {
            const style = getComputedStyle(document.querySelector('.rendered_html table td'));
            return {border: parseFloat(style.borderTopWidth), line: style.borderTopStyle,
                    padding: parseFloat(style.paddingLeft)};
        }""")
        assert cell["border"] >= 1 and cell["line"] == "solid" and cell["padding"] >= 5, cell
        browser.screenshot(path=ARTIFACTS / "ada-1_gradient_checking_1d.png", full_page=True)
        for student, notebook in [("kim", NB1), ("otto", NB2)]:
            open_page(page(root, student, notebook))
            browser.screenshot(path=ARTIFACTS / f"{student}-{notebook.replace('.ipynb', '.png')}", full_page=True)

        open_page(page(root, "lee", NB1))
        assert browser.evaluate("() => window.pwned") is None
        assert "<img src=x onerror=" in browser.inner_text("body").replace("\xa0", " ")
        assert dialogs == [] and refused == [] and errors == [], (dialogs, refused, errors)


def test_a_formula_can_only_become_mathml():
    """What latex2mathml makes of a student's LaTeX is written element by element: MathML only,
    attributes of a plain form, text escaped (latex2mathml's own string output puts \\text{...} in raw)."""
    hostile = markdown_for_page("<p>" + html.escape(HOSTILE_MATH.replace("\\href", "\\color{red\" onclick=\"x}\\href"))
                                + "</p>")
    assert "<script" not in hostile and "<img" not in hostile and "href=" not in hostile and "onclick" not in hostile
    tags = set(re.findall(r"<([a-z]+)", hostile)) - {"p"}
    assert tags and tags <= MATHML_TAGS, tags
    assert "&lt;img src=x onerror=" in hostile.replace("\xa0", " ")   # \text's spaces are no-break spaces
    assert markdown_for_page("<p><code>$x$</code> and $\\frac{$</p>") == "<p><code>$x$</code> and $\\frac{$</p>"
    assert markdown_for_page("<p>$$a^2$$</p>").count('<math display="block">') == 1
