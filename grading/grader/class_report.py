"""The class report: one HTML page with PNG plots, written after a grading run.

Reads reports/autograde.json (written by grading.grader.class_grading: diagnoses, flags, problems) and
the gradebook (the roster, every score, every late penalty), and shows the histogram of the totals,
the pass rate of each function, the most frequent diagnosed mistakes (with their real wording:
only the values of one case are left out; an answer that was not there, a function not
implemented or a notebook or cell missing or unreadable, is counted apart), the flagged submissions, and a table
of every student on the roster with their scores and the main reason they lost points.

Every total here is the one every view shows (grading.results.final_total): the gradebook's points
less the late penalty, so the mean, the histogram and the table agree with grades.csv, the
formgrader and the LMS.

`make autograde` writes it after each run; `python -m grading.grader.report` (the command) again.
"""
import collections
import html
import json
import re
import textwrap
from pathlib import Path

from grading.assignment import COURSE_ROOT, FUNCTIONS
from grading.course_directory import REPORTS, RESULTS_FILE as REPORT, Course
from grading.grader import deadlines, gradebook
from grading.grader.course import points_per_function, scores as gradebook_scores
from grading.grader.similarity_report import PAGE as SIMILARITY_PAGE
from grading.results import final_total, points_text
from grading.untrusted_text import encodable, for_plot

PAGE = Path(REPORTS, "class_report.html")


# The values of one case in a diagnosis: decimals and exponents ("returned 0.0782115",
# "epsilon=0.231", "1.2e-07") and whatever follows an equals sign ("m = 2"). Integers elsewhere
# are part of the mistake's name ("4/m instead of 1/m", "a factor 2", "W1") and stay.
CASE_VALUE = re.compile(r"(?<![\w.])[-+]?(?:\d+\.\d+(?:e[-+]?\d+)?|\d+e[-+]?\d+)(?![\w])|(?<==)\s?[-+]?\d+(?![\w.])",
                        re.IGNORECASE)


# Diagnoses that say there was no answer to grade, not what was wrong with one (the words of
# gc_feedback.py's not-implemented check and of grading/grader/answers.py): counted apart from mistakes.
NO_ANSWER = re.compile(r"\bis not implemented yet\b|^The notebook \S+ is missing from the submission"
                       r"|^The cell of \S+ is missing from |^\S+\.ipynb could not be graded: ")
LABEL_WIDTH, LABEL_LINES = 70, 4   # a chart label: wrapped to fit the page, its full text in the table
BINS = range(0, 101, 5)   # the histogram's 20 bins of 5 points; the last, [95, 100], holds a full score


def no_answer(message):
    return bool(NO_ANSWER.search(message))


def normalized(message):
    """A diagnosis with the values of its case written as "…", so equal mistakes count together."""
    return CASE_VALUE.sub(lambda m: (" " if m.group().startswith(" ") else "") + "…", message).strip()


def load_results(root):
    return json.loads((Path(root) / REPORT).read_text())


def with_gradebook_scores(results, db_url, lateness):
    """The run's results with each student's scores as the gradebook holds them now (a score set in
    the formgrader since the run counts, as in grades.csv) and "total": the one number, after the
    late penalty (lateness: {student: grading.grader.deadlines.Lateness})."""
    current = gradebook_scores(None, db_url)
    merged = []
    for r in results:
        r = {**r, "scores": current.get(r["student"], r["scores"])}
        late = lateness.get(r["student"])
        r["total"] = final_total(sum(r["scores"].values()), late.penalty if late else 0.0)
        merged.append(r)
    return merged


def draw(results, folder):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    folder.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.hist([r["total"] for r in results], bins=BINS, color="tab:blue", edgecolor="white")
    ax.set_xlim(0, 100)
    ax.set_xlabel("total score, after the late penalty")
    ax.set_ylabel("students")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_title(f"Scores of {len(results)} submissions")
    fig.tight_layout()
    fig.savefig(folder / "scores.png", dpi=100)
    plt.close(fig)

    points = points_per_function()
    rates = [sum(r["scores"].get(f, 0) >= points[f] for r in results) / max(len(results), 1) for f in FUNCTIONS]
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.barh(list(FUNCTIONS)[::-1], [100 * x for x in rates][::-1], color="tab:green")
    ax.set_xlim(0, 100)
    ax.set_xlabel("students with full points (%)")
    ax.set_title("Pass rate per function")
    fig.tight_layout()
    fig.savefig(folder / "pass_rate.png", dpi=100)
    plt.close(fig)

    mistakes = frequent_mistakes(results)
    labels = [mistake_label(f, m, rank) for rank, ((f, m), _) in enumerate(mistakes, 1)][::-1]   # the most frequent on top
    lines = sum(label.count("\n") + 1 for label in labels) or 1
    # 9 inches at 100 dpi: the page's width (60em); the labels take what the bars leave
    fig, ax = plt.subplots(figsize=(9, 0.17 * lines + 0.35 * max(len(labels), 1) + 1.2))
    ax.barh(range(len(labels)) if labels else [0], [c for _, c in mistakes][::-1] or [0], color="tab:red")
    ax.set_yticks(range(len(labels)) if labels else [0], labels or ["(no diagnosed mistakes)"])
    ax.set_xlabel("students")
    ax.set_title("Most frequent diagnosed mistakes")
    ax.tick_params(axis="y", labelsize=7)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    fig.tight_layout()
    fig.savefig(folder / "mistakes.png", dpi=100)
    plt.close(fig)

    flagged = collections.Counter(str(flag).split(":")[0] for r in results for flag in r["flags"])
    problems = sum(bool(r["problems"]) for r in results)
    fig, ax = plt.subplots(figsize=(6, 3.5))
    names = list(FUNCTIONS) + ["(problems with the files)"]
    ax.barh(names[::-1], ([flagged.get(f, 0) for f in FUNCTIONS] + [problems])[::-1], color="tab:orange")
    ax.set_xlabel("submissions")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_title("Flagged by verification, per function")
    fig.tight_layout()
    fig.savefig(folder / "flags.png", dpi=100)
    plt.close(fig)
    return rates


def histogram(totals):
    """The histogram's bars as text, "0–5: 1, 95–100: 3": each bin with students in it (BINS)."""
    import numpy

    counts, edges = numpy.histogram(totals, bins=BINS)
    return ", ".join(f"{edges[i]:g}–{edges[i + 1]:g}: {count}" for i, count in enumerate(counts) if count) or "none"


def frequent_mistakes(results, top=10):
    """[((function, normalized diagnosis), students)] of the mistakes (not NO_ANSWER), the most
    frequent first (then by function and wording, so that the order never depends on the order of
    the results)."""
    counts = collections.Counter((f, normalized(m)) for r in results for f, m in r.get("diagnoses", {}).items()
                                 if not no_answer(m))
    return sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:top]


def unanswered(results):
    """(functions without an answer, submissions with one or more): what NO_ANSWER counts."""
    per_submission = [sum(no_answer(m) for m in r.get("diagnoses", {}).values()) for r in results]
    return sum(per_submission), sum(1 for n in per_submission if n)


def mistake_label(function, message, rank=None, width=LABEL_WIDTH, lines=LABEL_LINES):
    """The diagnosis as a plot label after its rank in the table below and its function's name
    (unless it starts with it), wrapped to `width`; past `lines` lines it is cut with "…" (the
    table has the whole text)."""
    text = message if message.startswith(function) else f"{function}: {message}"
    wrapped = textwrap.wrap(f"{rank}. {text}" if rank else text, width)
    if len(wrapped) > lines:
        wrapped = wrapped[:lines - 1] + [textwrap.shorten(" ".join(wrapped[lines - 1:]), width, placeholder=" …")]
    return for_plot("\n".join(wrapped))


def main_reason(result, points):
    """The diagnosis of the function that lost the most points; a sentence if none was made."""
    worst = max(FUNCTIONS, key=lambda f: points[f] - result["scores"].get(f, 0))   # the first, on a tie
    worst_loss = points[worst] - result["scores"].get(worst, 0)
    if worst_loss <= 0:
        return ""
    diagnosis = result.get("diagnoses", {}).get(worst)
    return f"{worst}: {diagnosis}" if diagnosis else f"{worst}: lost {worst_loss:g} points (no diagnosis)"


def roster(db_url):
    """[(id, "Last, First")] of every student in the gradebook, by id."""
    from nbgrader.api import Gradebook

    with Gradebook(db_url) as book:
        return sorted((s.id, ", ".join(n for n in (s.last_name, s.first_name) if n)) for s in book.students)


def student_rows(results, students, points, lateness=None, course_deadlines=None):
    """The per-student table's rows: every roster student (and anyone graded but not on it).

    results -- with their "total" (with_gradebook_scores)
    lateness -- {student: grading.grader.deadlines.Lateness}: the late column."""
    by_id = {r["student"]: r for r in results}
    names = dict(students)
    lateness = lateness or {}
    rows = []
    for student in sorted(set(names) | set(by_id)):
        r = by_id.get(student)
        cells = [html.escape(student), html.escape(names.get(student, ""))]
        if r is None:
            cells += [""] * len(FUNCTIONS) + ["", "", "no submission graded"]
        else:
            late = lateness.get(student)
            cells += [f"{r['scores'].get(f, 0):g}" for f in FUNCTIONS]
            cells += [html.escape(late.describe(course_deadlines)) if late else "", points_text(r["total"])]
            why = "; ".join(x for x in [main_reason(r, points), *map(str, r["flags"]), *r["problems"]] if x)
            cells.append(html.escape(why))
        rows.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    return rows


def similarity_link(root):
    """A sentence linking the similarity report (grading/grader/similarity_report.py), if it was written."""
    if not (Path(root) / SIMILARITY_PAGE).is_file():
        return "Not computed yet: python -m grading.grader.similarity (make autograde writes it)."
    return ('<a href="similarity.html">Pairs of submissions whose answers are alike</a>, '
            "ranked, with the shared lines side by side.")


def write(course=COURSE_ROOT, db_url=None):
    """Write the class report of the course (a grading.course_directory.Course, or its path), whose
    gradebook is at db_url (None: the one nbgrader_config.py names); return its path."""
    course = Course.of(course)
    root = course.root
    points = points_per_function(course)
    db_url = gradebook.normalized(db_url or course.db_url)
    students = roster(db_url)
    course_deadlines = deadlines.load(root)
    lateness = deadlines.recorded(root, db_url)
    results = with_gradebook_scores(load_results(root), db_url, lateness)
    folder = course.reports
    rates = draw(results, folder)
    flagged = [r for r in results if r["flags"] or r["problems"]]
    rows = "".join(f"<tr><td>{rank}</td><td>{c}</td><td><code>{html.escape(f)}</code></td><td>{html.escape(m)}</td></tr>"
                   for rank, ((f, m), c) in enumerate(frequent_mistakes(results, 15), 1))
    missing, missing_in = unanswered(results)
    flags = "".join(f"<tr><td>{html.escape(r['student'])}</td><td>{html.escape('; '.join(r['flags'] + r['problems']))}</td></tr>"
                    for r in flagged)
    rate_rows = "".join(f"<tr><td><code>{f}</code></td><td>{100 * x:.0f}%</td></tr>" for f, x in zip(FUNCTIONS, rates))
    short = "".join(f"<th>{html.escape(f)}<br>/{points[f]:g}</th>" for f in FUNCTIONS)
    page = f"""<!doctype html>
<html><head><meta charset="utf-8"><title>Gradient checking: class report</title>
<style>body{{font-family:sans-serif;max-width:60em;margin:2em auto}}td{{padding:.2em .6em;vertical-align:top}}
table{{border-collapse:collapse}}tr:nth-child(even){{background:#f3f3f3}}img{{max-width:100%;height:auto}}</style></head><body>
<h1>Gradient checking: class report</h1>
<p>{len(results)} submissions, mean score after the late penalty {points_text(sum(r['total'] for r in results) / max(len(results), 1))}
/ 100, {len([r for r in results if r['flags']])} flagged by verification.</p>
<h2>Scores</h2><img src="scores.png" alt="histogram of total scores after the late penalty">
<p class="histogram">Students per bin of scores after the late penalty: {histogram([r['total'] for r in results])}.</p>
<h2>Pass rate per function</h2><p>The share of submissions whose function earned all its points (before any late
penalty: lateness takes points from the total, it does not make code wrong).</p>
<img src="pass_rate.png" alt="pass rate per function"><table>{rate_rows}</table>
<h2>Most frequent diagnosed mistakes</h2><p>Code that ran and gave a wrong answer. Not counted here: {missing}
functions without an answer to grade (not implemented yet, or their notebook or cell missing or unreadable) in {missing_in}
submissions. The chart's labels are numbered as the table below, which has each diagnosis whole.</p>
<img src="mistakes.png" alt="most frequent diagnosed mistakes">
<table><tr><th>#</th><th>students</th><th>function</th><th>diagnosis</th></tr>{rows or '<tr><td colspan=4>none</td></tr>'}</table>
<h2>Similar submissions</h2><p>{similarity_link(root)}</p>
<h2>Flagged or problematic submissions</h2><img src="flags.png" alt="flagged submissions per function">
<table><tr><th>student</th><th>why</th></tr>{flags or '<tr><td colspan=2>none</td></tr>'}</table>
<h2>Every student</h2>
<p>{len(students)} on the roster; the main reason is the diagnosis of the function that lost the most points.
Due: {html.escape(course_deadlines.local(course_deadlines.due)) if course_deadlines.due else "no due date (deadlines.toml)"};
late policy: {html.escape(course_deadlines.policy.describe())}; totals are after the late penalty.</p>
<table><tr><th>student</th><th>name</th>{short}<th>late</th><th>total</th><th>main reason, flags, problems</th></tr>
{"".join(student_rows(results, students, points, lateness, course_deadlines))}</table>
</body></html>"""
    path = root / PAGE
    path.write_text(encodable(page), encoding="utf-8")   # a lone surrogate in a student's text becomes U+FFFD
    return path
