"""Benchmark: the similarity report and the LMS export on large classes, measured in one run.

similarity  grading.grader.similarity_report.similar_pairs on N synthetic classes (each student a mix of the
            catalog's correct variants, some of them disguised copies of another), N = 100 and
            --students; the figure is seconds, and microseconds per pair against the 100-student
            run (the baseline: the work grows with the square of the class)
export      grading.lms.uploads.filled_rows (Canvas's gradebook export with the scores written in)
            and feedback_bundle (the re-upload zip of two pages per student) for --students
            students, in a scratch course; the gradebook's read is left out (nbgrader's API, one
            query)

Medians of --repeats runs.

    .venv/bin/python benchmarks/bench_lms.py [--students 1000] [--repeats 3]
"""
import argparse
import random
import re
import statistics
import sys
import tempfile
import time

from grading.assignment import COURSE_ROOT, NOTEBOOKS
from grading.course_directory import Course
from grading.grader import similarity_report
from grading.lms import uploads
from synthetic_class import catalog, synthetic


def synthetic_answers(students, seed=0):
    """{student: answer text}: each student picks one variant per function (or the reference);
    every tenth student is a renamed copy of an earlier one."""
    rng = random.Random(seed)
    by_cell = {}
    for variant in catalog.ALTERNATIVES:
        by_cell.setdefault(variant.cell, []).append(variant.code)
    answers = {}
    for k in range(students):
        name = f"s{k:04d}"
        if k % 10 == 9:
            source = answers[f"s{rng.randrange(k):04d}"]
            answers[name] = re.sub(r"\bgradapprox\b", "approx", source).replace("\n", "\n\n")
            continue
        code = {cell: rng.choice(options + [None]) for cell, options in by_cell.items()}
        notebooks = synthetic.submission({cell: c for cell, c in code.items() if c})
        answers[name] = similarity_report.answer_text([notebooks[n] for n in NOTEBOOKS])
    return answers


def time_similarity(answers, given, repeats):
    runs = []
    for _ in range(repeats):
        started = time.perf_counter()
        similarity_report.similar_pairs(answers, given)
        runs.append(time.perf_counter() - started)
    return statistics.median(runs)


def time_export(students, repeats):
    header = "Student,ID,SIS User ID,SIS Login ID,Section,gradient_checking\n    Points Possible,,,,,100\n"
    roster = header + "".join(f'"Last{k}, First{k}",{10000 + k},S{k},user{k},GC,\n' for k in range(students))
    by_lms_id = {str(10000 + k): f"user{k}" for k in range(students)}
    points = {f"user{k}": float(k % 101) for k in range(students)}
    rows_runs, zip_runs = [], []
    with tempfile.TemporaryDirectory() as scratch:
        course = Course.with_default_names(scratch)
        course.exports.mkdir()
        named = {}
        for k in range(students):
            folder = course.feedback(f"user{k}")
            folder.mkdir(parents=True)
            for page in ("1_gradient_checking_1d.html", "2_gradient_checking_nd.html"):
                (folder / page).write_text("<html>" + "feedback " * 2000 + "</html>")
            named[f"user{k}"] = {"lms_id": str(10000 + k), "name": f"lastfirst{k}", "submission": 900000 + k}
        for _ in range(repeats):
            started = time.perf_counter()
            uploads.filled_rows(roster, "canvas", by_lms_id, points, "gradient_checking")
            rows_runs.append(time.perf_counter() - started)
            started = time.perf_counter()
            uploads.feedback_bundle(course, "canvas", named, held=set())
            zip_runs.append(time.perf_counter() - started)
    return statistics.median(rows_runs), statistics.median(zip_runs)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    given = similarity_report.release_texts(COURSE_ROOT)
    print(f"Building {args.students} synthetic answer sets ...", flush=True)
    answers = synthetic_answers(args.students)
    baseline_n = min(100, args.students)
    baseline = time_similarity(dict(list(answers.items())[:baseline_n]), given, args.repeats)
    full = time_similarity(answers, given, args.repeats)
    per_pair = lambda seconds, n: 1e6 * seconds / max(n * (n - 1) // 2, 1)   # noqa: E731
    print(f"similarity, {baseline_n} students: {baseline:.2f} s ({per_pair(baseline, baseline_n):.0f} µs per pair)")
    print(f"similarity, {args.students} students: {full:.2f} s ({per_pair(full, args.students):.0f} µs per pair, "
          f"{per_pair(full, args.students) / per_pair(baseline, baseline_n):.2f}x the per-pair cost at {baseline_n})")
    rows, bundle = time_export(args.students, args.repeats)
    print(f"export, {args.students} students: Canvas grades file {rows * 1000:.0f} ms, feedback zip {bundle:.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
