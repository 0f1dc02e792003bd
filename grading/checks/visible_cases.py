"""Write gc_feedback_cases.json: the numbers behind the visible tests, for the released gc_feedback.

The visible tests run the same checks as the hidden ones, on fixed cases, and must name a mistake
in the same words without giving away how a gradient is computed. So for each fixed case this
lists, computed here with grading.checks.numerics and grading.checks.diagnoses, the right relative difference
and the number that every mistake (and pair of mistakes) that diagnoses.explain_differences
tries gives on it, in the order it tries them.

`python -m grading.checks.build_reference` (make release) writes it beside gc_feedback.py, with the
reference solutions; `--check` reports whether both are current.
"""
import json
import math
import re

import numpy as np

from grading.checks import checks_1d, checks_nd, diagnoses, numerics
from grading.checks.provided import HELPERS_PATH, gc_feedback

TARGET = HELPERS_PATH.with_name(gc_feedback.CASES_FILE.name)
# The visible cases of notebook 2 are drawn as the hidden tests draw theirs, from this seed.
SEED = 20261202


def difference_table(results):
    """{"expected", "sentences", "candidates", "self_comparison"} for diagnoses.Case results."""
    sentences, candidates = [], []
    for messages, targets in diagnoses.candidates(results):
        for message in messages:
            if message not in sentences:
                sentences.append(message)
        candidates.append([[sentences.index(m) for m in messages], [float(t) for t in targets]])
    return {"expected": [float(diagnoses.expected_difference(case)) for case in results],
            "self_comparison": diagnoses.SELF_COMPARISON, "sentences": sentences, "candidates": candidates}


def gradient_check_n_tables():
    drawn = checks_nd.draw_gradient_check_n(np.random.default_rng(SEED))
    tables = {part: difference_table(checks_nd.diagnosable(drawn[part])) for part in ("signal", "network")}
    tables["cases"] = {part: [case.to_json() for case in drawn[part]] for part in ("signal", "network", "verdicts")}
    tables["cases"].update({part: drawn[part].to_json() for part in ("default", "zero")})
    return tables


def with_central(case):
    """The CheckCase with the central differences the visible stand-in gradapprox_n returns: at its own
    step, the default 1e-6 and 1e-7 (what a function that ignores its epsilon, or hard-codes one, asks for)."""
    (J,) = [c.J for c in checks_nd.diagnosable([case])]
    steps = {float(step) for step in (case.eps or gc_feedback.DEFAULT_STEP, gc_feedback.DEFAULT_STEP, 1e-7)}
    case.central = {repr(step): numerics.central(J, case.theta, step) for step in sorted(steps)}
    return case


def by_parameter_tables():
    drawn = checks_nd.draw_by_parameter(np.random.default_rng(SEED))
    expected, patterns, blocks, network = checks_nd.by_parameter_truth(drawn)
    return {"signal": {"expected": expected, "patterns": patterns, "rest": difference_table(blocks)},
            "network": network, "zero": [str(name) for name in drawn["ignored"]],
            "cases": {"signal": [with_central(c).to_json() for c in drawn["signal"]],
                      "network": [with_central(c).to_json() for c in drawn["network"]],
                      "default": with_central(drawn["default"]).to_json(),
                      "zero": with_central(drawn["zero"]).to_json()}}


def fixed_cases():
    return [{"X": X.tolist(), "Y": Y.tolist(), "theta": checks_nd.as_vector(parameters).tolist(),
             "expected": {key: np.asarray(value).tolist() for key, value in expected.items()}}
            for X, Y, parameters, _, expected in checks_nd.draw_fixed(np.random.default_rng(SEED))]


def render():
    tables = {"gradient_check": difference_table(checks_1d.cubic_cases(gc_feedback.GRADIENT_CHECK_CASES.signal)),
              "gradient_check_n": gradient_check_n_tables(),
              "gradient_check_by_parameter": by_parameter_tables(),
              "backward_propagation_n_fixed": fixed_cases()}
    # NaN stands for a mistake that divides by zero on a case: never matched (gc_feedback.matches).
    text = json.dumps(tables, indent=1, allow_nan=True)
    # One line per list of numbers, so that the file reads (and diffs) row by row.
    return re.sub(r"\[([-+0-9.eE,\sNaInfity]*?)\]", lambda m: "[" + ", ".join(m.group(1).split()).replace(",,", ",") + "]",
                  text) + "\n"


def same_tables(old_text, new_text, rel=1e-6, noise=1e-7):
    """Whether two renderings hold the same tables: the same keys and lengths, and numbers equal up
    to the round-off of another machine (NaN equal to NaN). Finite differences and the relative
    differences of right gradients sit at round-off level, and another processor's BLAS sums in
    another order: measured between two of our machines, central differences moved by 1e-9 and
    relative differences below 1e-7 by up to a factor of 2.5. Such a table is not stale; a changed
    case, solution or catalog moves numbers far more than `noise`, or changes the shape."""
    def same(old, new):
        if isinstance(old, dict):
            return isinstance(new, dict) and old.keys() == new.keys() and all(same(old[k], new[k]) for k in old)
        if isinstance(old, list):
            return isinstance(new, list) and len(old) == len(new) and all(map(same, old, new))
        if isinstance(old, float) or isinstance(new, float):
            return (isinstance(new, (int, float)) and isinstance(old, (int, float))
                    and (math.isclose(old, new, rel_tol=rel, abs_tol=noise) or (math.isnan(old) and math.isnan(new))))
        return old == new
    return same(json.loads(old_text), json.loads(new_text))
