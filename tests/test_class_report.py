"""The class report reads well: real wording in its diagnoses, sorted charts with whole labels,
and every student on the roster in its table, with the main reason they lost points."""
import json
import os
import subprocess
import sys

import pytest
from nbgrader.api import Gradebook

from grading.grader import class_report, course
from grading.grader.course import points_per_function

pytestmark = pytest.mark.fast   # in make check's lane

FULL = points_per_function()
NOT_IMPLEMENTED = "{f} is not implemented yet: it still raises NotImplementedError."
DB1 = "With a batch of m = {m} examples: db1 uses 4/m instead of 1/m."
ONE_SIDED = ("For J = x theta^3 (epsilon={eps}), the relative difference should be 0.00430421, but your "
             "function returned 0.0782115. Your approximation matches a one-sided difference.")


def result(student, lost=(), diagnoses=None, flags=()):
    scores = {f: 0.0 if f in lost else p for f, p in FULL.items()}
    return {"student": student, "scores": scores, "flags": list(flags), "problems": [], "diagnoses": diagnoses or {}}


def test_the_report_names_every_roster_student_and_their_main_reason(tmp_path):
    root = course.make_course_copy(tmp_path / "course")   # the report needs no release
    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as book:
        for student, first, last in [("ada", "Ada", "Lovelace"), ("bob", "Bob", "<b>Builder</b>"),
                                     ("cy", "Cy", "Young"), ("dee", "Dee", "Dee")]:
            book.add_student(student, first_name=first, last_name=last)
    results = [
        result("ada"),
        # bob loses 25 on the fixed pass and 20 on gradient_check: the fixed pass is his main reason
        result("bob", lost=("backward_propagation_n_fixed", "gradient_check"),
               diagnoses={"backward_propagation_n_fixed": DB1.format(m=2), "gradient_check": ONE_SIDED.format(eps=0.231)}),
        result("dee", lost=("backward_propagation_n_fixed",), diagnoses={"backward_propagation_n_fixed": DB1.format(m=3)}),
        # eve answered nothing in notebook 2: no mistake, counted apart
        result("eve", lost=("gradient_check_n", "gradient_check_by_parameter", "backward_propagation_n_fixed"),
               diagnoses={"gradient_check_n": NOT_IMPLEMENTED.format(f="gradient_check_n"),
                          "gradient_check_by_parameter": NOT_IMPLEMENTED.format(f="gradient_check_by_parameter"),
                          "backward_propagation_n_fixed": "The notebook 2_gradient_checking_nd.ipynb is missing "
                                                          "from the submission."}),
    ]
    (root / "reports").mkdir()
    (root / "reports" / "autograde.json").write_text(json.dumps(results))
    env = {key: value for key, value in os.environ.items() if key != "GRADEBOOK_URL"}
    done = subprocess.run([sys.executable, "-m", "grading.grader.report", "--root", str(root)], env=env,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    page = (root / "reports" / "class_report.html").read_text()
    table = page[page.index("<h2>Every student</h2>"):]
    rows = [row.strip() for row in table.split("</tr>")]
    rows = {row.split("</td>")[0].removeprefix("<tr><td>"): row for row in rows if row.startswith("<tr><td>")}
    assert sorted(rows) == ["ada", "bob", "cy", "dee", "eve"]
    assert "no submission graded" in rows["cy"]
    assert "backward_propagation_n_fixed: With a batch of m = 2 examples: db1 uses 4/m instead of 1/m." in rows["bob"]
    assert "&lt;b&gt;Builder&lt;/b&gt;, Bob" in rows["bob"] and "<b>Builder" not in page
    assert "<td>55</td>" in rows["bob"] and "<td>100</td>" in rows["ada"]
    # The same mistake with other numbers counts once, worded as it was, the case's values left out.
    assert "<tr><td>1</td><td>2</td><td><code>backward_propagation_n_fixed</code></td><td>With a batch of m = … " \
           "examples: db1 uses 4/m instead of 1/m.</td></tr>" in page
    # What was not answered is no mistake: out of the chart and its table, counted on its own.
    words = " ".join(page.split())
    mistakes = words[words.index("<h2>Most frequent diagnosed mistakes</h2>"):words.index("<h2>Similar submissions</h2>")]
    assert "is not implemented yet" not in mistakes and "is missing from the submission" not in mistakes
    assert "Not counted here: 3 functions without an answer to grade" in mistakes and "in 1 submissions" in mistakes
    # The mean and the histogram are of the totals (ada 100, bob 55, dee 75, eve 30), whole students per bin.
    assert "mean score after the late penalty 65 / 100" in words
    assert "Students per bin of scores after the late penalty: 30–35: 1, 55–60: 1, 75–80: 1, 95–100: 1." in words
    # Every chart fits the page (60em: 900 pixels and less).
    for chart in ("scores", "pass_rate", "mistakes", "flags"):
        width = int.from_bytes((root / "reports" / f"{chart}.png").read_bytes()[16:20], "big")   # the PNG header's
        assert width <= 900, (chart, width)


def test_mistakes_are_sorted_and_their_labels_whole():
    results = [result(s, diagnoses={"gradient_check": ONE_SIDED.format(eps=e)}) for s, e in [("a", 0.1), ("b", 0.2)]]
    results += [result("c", diagnoses={"backward_propagation_n_fixed": DB1.format(m=2)})]
    mistakes = class_report.frequent_mistakes(results)
    assert [count for _, count in mistakes] == [2, 1]
    assert mistakes[0][0] == ("gradient_check", ONE_SIDED.format(eps="…").replace("0.00430421", "…").replace(
        "0.0782115", "…"))
    label = class_report.mistake_label(*mistakes[0][0], rank=1)
    assert label.startswith("1. gradient_check: For J = x theta^3")
    assert label.replace("\n", " ").endswith("Your approximation matches a one-sided difference.")
    assert max(len(line) for line in label.splitlines()) <= class_report.LABEL_WIDTH
    # A diagnosis too long for the chart is cut there, with "…"; the table below has it whole.
    long = class_report.mistake_label("gradient_check", "raised ValueError: " + "a very long message " * 40, rank=2)
    assert len(long.splitlines()) == class_report.LABEL_LINES and long.endswith("…")
    assert max(len(line) for line in long.splitlines()) <= class_report.LABEL_WIDTH
    # Not implemented yet, or nothing to grade, is no mistake.
    unanswered = [result("e", diagnoses={"gradient_check": NOT_IMPLEMENTED.format(f="gradient_check")})]
    assert class_report.frequent_mistakes(results + unanswered) == mistakes
    assert class_report.unanswered(results + unanswered) == (1, 1)
