"""The similarity report ranks a copied, renamed and reformatted submission above independent
correct work, shows the shared lines, and shows a student's code as text."""
import os
import re
import subprocess
import sys

import nbformat

from grading.grader import course, similarity_report
from synthetic_class import catalog, synthetic

ALTERNATIVES = {v.name: v for v in catalog.ALTERNATIVES}
RENAMES = [("gradapprox", "approx_grad"), ("difference", "rel_diff"), ("numerator", "top"),
           ("denominator", "bottom"), ("thetaplus", "t_up"), ("thetaminus", "t_down")]


def with_alternatives(*names):
    return synthetic.submission({ALTERNATIVES[n].cell: ALTERNATIVES[n].code for n in names})


def disguised(notebooks):
    """A copy of `notebooks` whose answers are renamed, re-spaced and commented."""
    copy = {name: nbformat.from_dict(nbformat.from_dict(nb)) for name, nb in notebooks.items()}
    for notebook in copy.values():
        for cell in notebook.cells:
            if cell.cell_type == "code" and cell.metadata.get("nbgrader", {}).get("solution"):
                source = cell.source
                for old, new in RENAMES:
                    source = re.sub(rf"\b{old}\b", new, source)
                cell.source = ("# </pre><script>window.pwned = 1</script> all my own work\n"
                               + source.replace("\n", "\n\n").replace("    return", "    # done\n    return"))
    return copy


def test_a_disguised_copy_ranks_first_and_is_shown_as_text(new_course):
    root = new_course("similarity")
    source = with_alternatives("bwd_float", "gc_other_messages", "gcn_deepcopy_sqrt_sum", "bp_vector_to_dictionary",
                               "fixed_in_place_on_copies")
    class_ = {
        "ada_reference": synthetic.submission(),
        "bo_alternatives": with_alternatives("fwd_np_multiply", "gc_abs_values", "gcn_unit_vectors_vectorized",
                                             "bp_cumulative_slices", "fixed_z_mask_np_dot"),
        "cy_alternatives": source,
        "dan_copier": disguised(source),
        "eve_blank": synthetic.submission(complete=False),   # the release itself: nothing of her own
    }
    for student, notebooks in class_.items():
        course.add_submission(root, student, notebooks)
    done = subprocess.run([sys.executable, "-m", "grading.grader.similarity", "--root", str(root), "--threshold", "0"],
                          capture_output=True, text=True, env=dict(os.environ))
    assert done.returncode == 0, done.stderr
    _, pairs = similarity_report.write(root, threshold=0)
    assert (pairs[0].first, pairs[0].second) == ("cy_alternatives", "dan_copier")
    assert pairs[0].similarity > 0.95
    independent = [p.similarity for p in pairs[1:] if "eve_blank" not in (p.first, p.second)]
    assert independent and max(independent) < pairs[0].similarity - 0.1
    assert not [p for p in pairs if "eve_blank" in (p.first, p.second)], "the release never counts"
    page = (root / similarity_report.PAGE).read_text()
    assert "<script>" not in page and "&lt;/pre&gt;&lt;script&gt;window.pwned" in page
    assert page.count('class="copied"') > 10


def test_the_default_threshold_lists_the_copy(new_course):
    answers = {"a": "def f(x):\n    total = 0\n    for i in range(10):\n        total += x * i\n    return total\n" * 3,
               "b": "def f(y):\n    acc = 0\n    for k in range(10):\n        acc += y * k\n    return acc\n" * 3,
               "c": "def f(x):\n    return sum(x * i for i in range(10)) if x else 0.0\n"}
    pairs, _ = similarity_report.similar_pairs(answers)
    assert [(p.first, p.second) for p in pairs] == [("a", "b")]


def listed_pairs(page):
    """{(student, student): percent} of the report's table."""
    rows = re.findall(r'<tr><td><a href="#pair-\d+">\d+</a></td><td>([^<]*)</td><td>([^<]*)</td><td>(\d+)%</td></tr>', page)
    return {(a, b): int(percent) for a, b, percent in rows}


def test_copies_that_hide_from_the_solution_flags_are_paired_with_the_original(copied_class):
    # Compared is the code that was graded: the release's solution cells, by grade_id, and the
    # student's own code cells, whatever the student's metadata says.
    _, page = copied_class
    pairs = listed_pairs(page)
    assert pairs[("ann_original", "bob_flags_cleared")] >= 99     # every solution flag cleared
    assert pairs[("ann_original", "cat_moved")] >= 95             # answers in cells of its own, stubs left or deleted
    copies = {("ann_original", "bob_flags_cleared"), ("ann_original", "cat_moved"), ("bob_flags_cleared", "cat_moved")}
    others = [percent for pair, percent in pairs.items() if pair not in copies]
    assert others and max(others) <= min(pairs[p] for p in copies) - 10, pairs   # independent work stays below
    assert max(percent for pair, percent in pairs.items() if "dan_independent" in pair) < similarity_report.THRESHOLD * 100
    assert not [pair for pair in pairs if "eve_blank" in pair], "the blank release compares with nothing"
    assert "6 submissions, 15 pairs compared" in page


def test_the_report_is_the_same_on_every_run(copied_class):
    # copydetect hashes with Python's hash() of a string, which PYTHONHASHSEED changes from one
    # process to the next; the report's fingerprints must not.
    root, _ = copied_class
    pages = []
    for seed in ("1", "2"):
        done = subprocess.run([sys.executable, "-m", "grading.grader.similarity", "--root", str(root), "--threshold", "0"],
                              capture_output=True, text=True, env={**os.environ, "PYTHONHASHSEED": seed})
        assert done.returncode == 0, done.stderr
        pages.append((root / similarity_report.PAGE).read_text())
    for _ in range(2):
        similarity_report.write(root, threshold=0)
        pages.append((root / similarity_report.PAGE).read_text())
    assert len(listed_pairs(pages[0])) == 10 and len(set(pages)) == 1
