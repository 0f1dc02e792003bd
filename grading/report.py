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
import textwrap
from pathlib import Path

from .autograde import FUNCTIONS, REPORT
from .course import points_per_function
from .provided import COURSE_ROOT
from .untrusted_text import for_plot

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
    from matplotlib.ticker import MaxNLocator

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

    mistakes = frequent_mistakes(results)
    fig, ax = plt.subplots(figsize=(10, 0.6 * max(len(mistakes), 2) + 1.2))
    # Diagnoses usually name their function; a shortened, wrapped label keeps the bars readable.
    labels = [for_plot(textwrap.fill(textwrap.shorten(m if m.startswith(f) else f"{f}: {m}", 110), 60))
              for (f, m), _ in mistakes][::-1]
    ax.barh(labels or ["(no diagnosed mistakes)"], [c for _, c in mistakes][::-1] or [0], color="tab:red")
    ax.set_xlabel("students")
    ax.set_title("Most frequent diagnosed mistakes")
    ax.tick_params(axis="y", labelsize=8)
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


def frequent_mistakes(results, top=10):
    """[((function, diagnosis without numbers), students)], the most frequent first."""
    counts = collections.Counter((f, normalized(m)) for r in results for f, m in r.get("diagnoses", {}).items())
    return counts.most_common(top)


def write(root=COURSE_ROOT):
    root = Path(root)
    results = load_results(root)
    folder = root / "reports"
    rates = draw(results, folder)
    flagged = [r for r in results if r["flags"] or r["problems"]]
    rows = "".join(f"<tr><td>{c}</td><td><code>{html.escape(f)}</code></td><td>{html.escape(m)}</td></tr>"
                   for (f, m), c in frequent_mistakes(results, 15))
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
<h2>Most frequent diagnosed mistakes</h2><img src="mistakes.png" alt="most frequent diagnosed mistakes">
<table><tr><th>students</th><th>function</th><th>diagnosis</th></tr>{rows or '<tr><td colspan=3>none</td></tr>'}</table>
<h2>Flagged or problematic submissions</h2><img src="flags.png" alt="flagged submissions per function">
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
