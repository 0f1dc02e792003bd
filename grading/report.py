"""The class report: one HTML page with PNG plots, written after a grading run.

Reads reports/autograde.json (written by grading.autograde) and draws the score histogram,
the pass rate of each function, the most frequent diagnosed mistakes and the flagged
submissions.

    python -m grading.report [--root COURSE]
"""
import argparse
import collections
import html
import json
import re
import sys
from pathlib import Path

from .autograde import FUNCTIONS, REPORT
from .course import points_per_function
from .provided import COURSE_ROOT

PAGE = "reports/class_report.html"


def normalized(message):
    """A diagnosis without its case-specific numbers, so equal mistakes count together."""
    return re.sub(r"(?<![\w^])[-+]?\d[\d.]*(e[-+]?\d+)?", "#", message).strip()


def load_results(root):
    return json.loads((Path(root) / REPORT).read_text())


def draw(results, folder):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder.mkdir(parents=True, exist_ok=True)
    totals = [sum(r["scores"].values()) for r in results]
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.hist(totals, bins=range(0, 106, 5), color="tab:blue", edgecolor="white")
    ax.set_xlabel("total score")
    ax.set_ylabel("students")
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
    return rates


def write(root=COURSE_ROOT):
    root = Path(root)
    results = load_results(root)
    folder = root / "reports"
    rates = draw(results, folder)
    mistakes = collections.Counter((f, normalized(m)) for r in results for f, m in r.get("diagnoses", {}).items())
    flagged = [r for r in results if r["flags"] or r["problems"]]
    rows = "".join(f"<tr><td>{c}</td><td><code>{html.escape(f)}</code></td><td>{html.escape(m)}</td></tr>"
                   for (f, m), c in mistakes.most_common(15))
    flags = "".join(f"<tr><td>{html.escape(r['student'])}</td><td>{html.escape('; '.join(r['flags'] + r['problems']))}</td></tr>"
                    for r in flagged)
    rate_rows = "".join(f"<tr><td><code>{f}</code></td><td>{100 * x:.0f}%</td></tr>" for f, x in zip(FUNCTIONS, rates))
    page = f"""<!doctype html>
<html><head><meta charset="utf-8"><title>Gradient checking: class report</title>
<style>body{{font-family:sans-serif;max-width:60em;margin:2em auto}}td{{padding:.2em .6em;vertical-align:top}}
table{{border-collapse:collapse}}tr:nth-child(even){{background:#f3f3f3}}</style></head><body>
<h1>Gradient checking: class report</h1>
<p>{len(results)} submissions, mean score {sum(sum(r['scores'].values()) for r in results) / max(len(results), 1):.1f} / 100,
{len([r for r in results if r['flags']])} flagged by verification.</p>
<h2>Scores</h2><img src="scores.png" alt="histogram of total scores">
<h2>Pass rate per function</h2><img src="pass_rate.png" alt="pass rate per function"><table>{rate_rows}</table>
<h2>Most frequent diagnosed mistakes</h2>
<table><tr><th>students</th><th>function</th><th>diagnosis</th></tr>{rows or '<tr><td colspan=3>none</td></tr>'}</table>
<h2>Flagged or problematic submissions</h2>
<table><tr><th>student</th><th>why</th></tr>{flags or '<tr><td colspan=2>none</td></tr>'}</table>
</body></html>"""
    path = root / PAGE
    path.write_text(page)
    return path


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", default=str(COURSE_ROOT))
    args = parser.parse_args(argv)
    print(f"Class report: {write(args.root)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
