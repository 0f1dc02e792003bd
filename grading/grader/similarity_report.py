"""The similarity report: pairs of submissions whose answers are suspiciously alike.

Verification proves that code works, not who wrote it. This report compares every pair of
students' answers: the code that was graded, read as verification reads it (the files that staging
grades as the assignment's notebooks, whatever their names, staging.find_notebooks; in them,
through grading.grader.answers reading_of, staging's policy, then the cells the release marks as
solutions, found by their grade_id, and the code cells the student added, in notebook order),
whatever the student's own metadata says, so that a copy cannot hide by renaming its notebooks,
by clearing a cell's `solution` flag or by moving the answers into cells of its own. It compares
them with copydetect's winnowed fingerprints over tokens in which every name is replaced by one
symbol, so renaming variables, reformatting, and adding comments or blank lines do not hide a copy.
The released notebooks' code (the provided functions, the stubs) is boilerplate: what everyone
was given never counts. Pairs whose similarity reaches the threshold are ranked in
reports/similarity.html, with the copied lines of both side by side, and the class report links it.

`make autograde` writes it after each run; `python -m grading.grader.similarity` (the command) again.

A high score is a reason to look, not a verdict: short answers to the same exercise resemble each
other, and the report shows the lines so that the instructor can judge. The same submissions give
the same page on every run: the fingerprints hash with BLAKE2, not with Python's hash() of a
string, which differs from one process to the next.
"""
import hashlib
import html
import itertools
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from grading.assignment import COURSE_ROOT, NOTEBOOKS
from grading.course_directory import REPORTS, Course
from grading.grader import answers
from grading.grader.staging import find_notebooks, read_notebook
from grading.sandboxing import files
from grading.untrusted_text import encodable

PAGE = Path(REPORTS, "similarity.html")
THRESHOLD = 0.75     # the share of a submission's answer tokens found in the other's
NOISE_TOKENS = 12    # k: matches shorter than this many tokens are ignored (copydetect's noise threshold)
GUARANTEE_TOKENS = 18   # every match at least this long is found (winnowing window = 18 - 12 + 1)
# The answers of this assignment are a few kilobytes; a submission's answer cells beyond this many
# characters are left out, so that a huge cell cannot hold up the report (the grade is not affected).
MAX_ANSWER_CHARS = 200_000


@dataclass
class Pair:
    first: str
    second: str
    similarity: float        # the larger of the two shares: one may have copied part of the other's work
    shares: tuple            # (share of first's tokens found in second, share of second's found in first)
    slices: tuple            # copydetect's copied character ranges, in each one's answer text


def answer_text(notebooks, course=COURSE_ROOT):
    """The code that was graded in `notebooks` (the assignment's notebooks in order, as
    staging.read_notebook gives them, None for one that could not be read; tidied in place):
    each notebook's cells as verification takes them (answers.reading_of), one after the other."""
    parts = []
    for notebook, layout in zip(notebooks, answers.assignment_layout(course)):
        if notebook is not None:
            parts.extend(code.rstrip() + "\n" for _, code in answers.reading_of(notebook, layout).cells)
    return "\n".join(parts)[:MAX_ANSWER_CHARS]


def read_answers(course, student):
    """answer_text of a student's submitted notebooks, the files that staging grades as them
    (staging.find_notebooks: whatever their names); a notebook that cannot be read adds nothing."""
    course = Course.of(course)
    released = [layout.released for layout in answers.assignment_layout(course)]
    try:
        found = find_notebooks(course.submitted(student), released, anchor=course.root, settings=course.settings)
    except (files.NotRegular, OSError):
        return ""
    return answer_text([found.taken[name][1] if name in found.taken else None for name in NOTEBOOKS], course)


def release_texts(course):
    """What each student was given: the release's answer cells as answer_text joins them (stubs and
    all), and every code cell of the release (the provided functions)."""
    course = Course.of(course)
    notebooks = [read_notebook(course.release() / name, anchor=course.root)[0] for name in NOTEBOOKS]
    every_cell = "\n".join(c.source for nb in notebooks for c in nb.cells if c.cell_type == "code")
    return [answer_text(notebooks, course), every_cell]


@dataclass
class Fingerprint:
    """A text's winnowed fingerprints, with the fields that copydetect's compare_files reads."""
    raw_code: str
    filtered_code: str     # the tokens, every name one symbol (copydetect's filter_code)
    offsets: np.ndarray    # where filtering removed characters, to map back to raw_code
    hashes: set            # the fingerprints kept
    hash_idx: dict         # fingerprint -> [its positions in filtered_code]
    k: int
    token_coverage: int    # the tokens that the kept fingerprints cover


def kgram_hashes(text, k):
    """A hash of each k characters of `text`: BLAKE2b's first 52 bits, the same in every process
    (copydetect's own hashes are Python's hash() of a string, which PYTHONHASHSEED changes), and
    exact as the floats that copydetect's winnowing compares."""
    data = [text[i:i + k].encode("utf-8", "surrogatepass") for i in range(len(text) - k + 1)]
    return np.array([int.from_bytes(hashlib.blake2b(d, digest_size=8).digest(), "big") >> 12 for d in data],
                    dtype=np.int64)


def fingerprint(text, boilerplate=()):
    """The Fingerprint of `text`, as copydetect's CodeFingerprint computes it (winnowing with a
    window of GUARANTEE_TOKENS - NOISE_TOKENS + 1), leaving out the hashes in `boilerplate`."""
    from copydetect.utils import filter_code, get_token_coverage, winnow

    filtered, offsets = filter_code(text, "answer.py", language="python")
    hashes = kgram_hashes(filtered, NOISE_TOKENS)
    if len(hashes):
        hashes, positions = winnow(hashes, GUARANTEE_TOKENS - NOISE_TOKENS + 1, remove_duplicates=False)
    else:
        positions = np.array([], dtype=np.int64)
    kept = ~np.isin(hashes, np.fromiter(boilerplate, dtype=np.int64))
    index = {}
    for value, position in zip(hashes[kept].tolist(), positions[kept].tolist()):
        index.setdefault(value, []).append(position)
    return Fingerprint(text, filtered, offsets, set(index), index, NOISE_TOKENS,
                       get_token_coverage(index, NOISE_TOKENS, len(filtered)))


def similar_pairs(answers, given_texts=(), threshold=THRESHOLD):
    """([Pair] of the students in `answers` ({student: answer text}) whose similarity reaches
    `threshold`, the most similar first; {student: fingerprint}). Fingerprints of `given_texts`
    (what everyone was given) never count. Students with nothing of their own are left out."""
    from copydetect import compare_files

    given = set().union(*(fingerprint(text).hashes for text in given_texts))
    prints = {s: fingerprint(text, given) for s, text in sorted(answers.items()) if text.strip()}
    prints = {s: p for s, p in prints.items() if len(p.hashes)}   # nothing of their own to compare
    pairs = []
    for a, b in itertools.combinations(prints, 2):
        _, (share_a, share_b), slices = compare_files(prints[a], prints[b])
        similarity = max(share_a, share_b)
        if similarity >= threshold:
            pairs.append(Pair(a, b, float(similarity), (float(share_a), float(share_b)), slices))
    return sorted(pairs, key=lambda p: (-p.similarity, p.first, p.second)), prints


def marked_lines(text, slices):
    """The lines of `text` as HTML, each in a <span> that says whether a copied range touches it."""
    starts, ends = (list(map(int, slices[0])), list(map(int, slices[1]))) if len(slices[0]) else ([], [])
    lines, offset = [], 0
    for line in text.splitlines(keepends=True):
        copied = any(s < offset + len(line) and e > offset for s, e in zip(starts, ends))
        lines.append(f'<span class="{"copied" if copied else "own"}">{html.escape(line.rstrip(chr(10)))}</span>')
        offset += len(line)
    return "\n".join(lines)


def write(course=COURSE_ROOT, threshold=THRESHOLD):
    """Write reports/similarity.html for the submissions in submitted/ of the course (a
    grading.course_directory.Course, or its path); return (path, [Pair])."""
    course = Course.of(course)
    students = course.students_in("submitted")
    answers = {s: read_answers(course, s) for s in students}
    pairs, prints = similar_pairs(answers, release_texts(course), threshold)
    sections = []
    for rank, p in enumerate(pairs, 1):
        left = marked_lines(prints[p.first].raw_code, p.slices[0])
        right = marked_lines(prints[p.second].raw_code, p.slices[1])
        sections.append(
            f'<h2 id="pair-{rank}">{rank}. {html.escape(p.first)} and {html.escape(p.second)}: {p.similarity:.0%}</h2>'
            f"<p>{p.shares[0]:.0%} of {html.escape(p.first)}'s answer tokens are in {html.escape(p.second)}'s; "
            f"{p.shares[1]:.0%} of {html.escape(p.second)}'s in {html.escape(p.first)}'s.</p>"
            f'<table><tr><th>{html.escape(p.first)}</th><th>{html.escape(p.second)}</th></tr>'
            f"<tr><td><pre>{left}</pre></td><td><pre>{right}</pre></td></tr></table>")
    rows = "".join(f'<tr><td><a href="#pair-{k}">{k}</a></td><td>{html.escape(p.first)}</td>'
                   f"<td>{html.escape(p.second)}</td><td>{p.similarity:.0%}</td></tr>" for k, p in enumerate(pairs, 1))
    page = f"""<!doctype html>
<html><head><meta charset="utf-8"><title>Gradient checking: similar submissions</title>
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<style>body{{font-family:sans-serif;margin:2em}}td{{vertical-align:top;padding:.2em .6em}}
pre{{font-size:12px}}.copied{{background:#ffd6d6}}table{{border-collapse:collapse}}</style></head><body>
<h1>Similar submissions</h1>
<p>{len(answers)} submissions, {len(students) * (len(students) - 1) // 2} pairs compared; {len(pairs)} pairs share at
least {threshold:.0%} of one side's answer tokens (names, spacing and comments aside; the released code never
counts). A reason to look, not a verdict: copied lines are shaded.</p>
<table><tr><th>rank</th><th>student</th><th>student</th><th>similarity</th></tr>
{rows or '<tr><td colspan=4>none</td></tr>'}</table>
{"".join(sections)}
</body></html>"""
    path = course.root / PAGE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(encodable(page), encoding="utf-8")   # a lone surrogate in a student's text becomes U+FFFD
    return path, pairs
