"""The similarity report ranks a copied, renamed and reformatted submission above independent
correct work, shows the shared lines, and shows a student's code as text."""
import os
import re
import subprocess
import sys

import nbformat

from grading.grader import course, similarity
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
    _, pairs = similarity.write(root, threshold=0)
    assert (pairs[0].first, pairs[0].second) == ("cy_alternatives", "dan_copier")
    assert pairs[0].similarity > 0.95
    independent = [p.similarity for p in pairs[1:] if "eve_blank" not in (p.first, p.second)]
    assert independent and max(independent) < pairs[0].similarity - 0.1
    assert not [p for p in pairs if "eve_blank" in (p.first, p.second)], "the release never counts"
    page = (root / similarity.PAGE).read_text()
    assert "<script>" not in page and "&lt;/pre&gt;&lt;script&gt;window.pwned" in page
    assert page.count('class="copied"') > 10


def test_the_default_threshold_lists_the_copy(new_course):
    answers = {"a": "def f(x):\n    total = 0\n    for i in range(10):\n        total += x * i\n    return total\n" * 3,
               "b": "def f(y):\n    acc = 0\n    for k in range(10):\n        acc += y * k\n    return acc\n" * 3,
               "c": "def f(x):\n    return sum(x * i for i in range(10)) if x else 0.0\n"}
    pairs, _ = similarity.similar_pairs(answers)
    assert [(p.first, p.second) for p in pairs] == [("a", "b")]
