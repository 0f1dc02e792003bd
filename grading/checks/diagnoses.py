"""Recognize a student's mistake from the number it produces, and say it in plain words.

A hidden test that fails knows the right value. To say *why* it is wrong, it recomputes the
same cases the way each common mistake (or pair of mistakes) would, and reports the one that
reproduces the student's number in every case. Numbers that are round-off (below NOISE) count
as equal, since their digits depend on the order of the arithmetic.
"""
import itertools
from dataclasses import dataclass, field

import numpy as np

from grading.checks import numerics
from grading.checks.provided import gc_feedback

# Below NOISE a relative difference is round-off (a correct gradient at eps = 1e-7 gives ~1e-8):
# two such numbers agree although their digits differ (gc_feedback.matches). The visible tests
# name mistakes from a table of these numbers on their fixed cases (grading.checks.visible_cases).
NOISE, matches = gc_feedback.NOISE, gc_feedback.matches

APPROXIMATION_MISTAKES = {
    numerics.one_sided_forward:
        "Your approximation matches a one-sided difference (J(theta + eps) - J(theta)) / eps. "
        "Use the central difference (J(theta + eps) - J(theta - eps)) / (2 eps): its error is O(eps^2), not O(eps).",
    numerics.one_sided_backward:
        "Your approximation matches a one-sided difference (J(theta) - J(theta - eps)) / eps. "
        "Use the central difference (J(theta + eps) - J(theta - eps)) / (2 eps).",
    numerics.central_without_half:
        "Your approximation is twice the central difference: divide J_plus - J_minus by 2 * epsilon, not by epsilon.",
    numerics.halved_times_step:
        "Your approximation is the central difference times epsilon^2: (J_plus - J_minus) / 2 * epsilon divides "
        "by 2 and then multiplies by epsilon. Write (J_plus - J_minus) / (2 * epsilon).",
    numerics.central_default_step:
        "Your function ignores its epsilon argument: called with another epsilon, it gives the result of its "
        "default step. Use the epsilon that the function receives, and pass it on to any function you call with it.",
    numerics.shared_vector:
        "J_minus is computed at theta instead of theta - epsilon: theta_minus starts from theta + epsilon, so the "
        "two shifts cancel. That happens when theta_plus and theta_minus are not copies but the parameter vector "
        "itself, or when theta_minus is a copy of theta_plus. Make each of them with np.copy of the parameter "
        "vector that dictionary_to_vector returns.",
    numerics.copied_once:
        "Your shifts accumulate: theta_plus and theta_minus are copied once, before the loop, so entry i is "
        "evaluated with entries 0..i all shifted. Copy the parameter vector inside the loop, for every i.",
    numerics.not_restored:
        "Your shifts are never undone: after its turn each entry stays at theta_i - epsilon, so entry i is "
        "evaluated with the entries before it moved. Shift fresh copies (np.copy) for every i, or put each "
        "entry back before the next one.",
    numerics.unshifted:
        "Your approximation is 0: J_plus equals J_minus, so the shifted parameters never reach the cost. "
        "Pass the shifted copy (theta + epsilon, or vector_to_dictionary(theta_plus)) to the forward pass.",
    numerics.skips_last:
        "The last parameter is never approximated: loop over every entry of the parameter vector, range(n) for its "
        "n entries, not range(n - 1).",
}

COMPARISON_MISTAKES = {
    numerics.absolute_difference:
        "You returned ||grad - gradapprox|| without dividing by ||grad|| + ||gradapprox||: the difference must be relative.",
    numerics.over_gradient_norm:
        "You divided by ||grad|| only; the denominator is ||grad|| + ||gradapprox||.",
    numerics.over_approximation_norm:
        "You divided by ||gradapprox|| only; the denominator is ||grad|| + ||gradapprox||.",
    numerics.over_norm_of_sum:
        "You divided by ||grad + gradapprox||; the denominator is the sum of the two norms, ||grad|| + ||gradapprox||.",
    numerics.squared_norms:
        "You used squared norms; np.linalg.norm gives the norm itself (the square root of the sum of squares).",
    numerics.elementwise_mean:
        "You averaged the relative differences of single entries; compare the whole vectors with norms.",
    numerics.signed_difference:
        "Your numerator is a signed sum of differences; use the norm ||grad - gradapprox||.",
    numerics.broadcast_difference:
        "grad is a column of shape (n, 1) but gradapprox is flat, shape (n,): grad - gradapprox broadcasts to a "
        "square matrix of shape (n, n). Give both the same shape.",
}

SELF_COMPARISON = ("Your difference is exactly 0 although the gradient you were given is wrong: you compared a "
                   "gradient with itself. grad must come from the backward pass, gradapprox from the central "
                   "difference.")


@dataclass
class Case:
    """One number a student's check returned, and everything it was computed from.

    value -- what the student's function returned
    J, theta, eps -- the cost (a function of a (n,) array), the point (shape (n,)) and the step
    gradient -- the analytic gradient the student was given, shape (n,)
    others -- {message: gradient of shape (n,)} that a student may have used instead
    rows -- the entries compared (a slice): one parameter's block, or all of them
    """
    value: float
    J: object
    theta: np.ndarray
    eps: float
    gradient: np.ndarray
    others: dict = field(default_factory=dict)
    rows: slice = field(default_factory=lambda: slice(None))


def explain_difference(value, J, theta, eps, gradient, other_gradients=None):
    """Explain one wrong relative difference, or return None if no known mistake produces it.

    value -- what the student's function returned
    J, theta, eps -- the cost, the point (shape (n,)) and the step of the case
    gradient -- the analytic gradient the student was given (shape (n,))
    other_gradients -- {message: gradient} for gradients a student may have used instead
    """
    return explain_differences([Case(value, J, theta, eps, gradient, dict(other_gradients or {}))])


def explain_differences(cases):
    """The mistake, or the fewest mistakes together, that reproduce the student's number in every case.

    A mistake is a wrong approximation (APPROXIMATION_MISTAKES), a wrong comparison
    (COMPARISON_MISTAKES) or another gradient than the one given (Case.others). Returns the
    messages in one string, or None if no combination explains all the cases.
    """
    computed = {}
    if any(case.value == 0.0 and _target(case, numerics.central, numerics.relative_difference, None, computed) > NOISE
           for case in cases):
        return SELF_COMPARISON
    for messages, targets in candidates(cases, computed):
        if all(matches(case.value, target) for case, target in zip(cases, targets)):
            return " ".join(messages)
    return None


def candidates(cases, computed=None):
    """Every combination of mistakes, fewest first, as (its messages, the number it gives in each case).

    Lazy: explain_differences stops at the first that fits; grading.checks.visible_cases lists them all.
    """
    computed = {} if computed is None else computed
    approximations = [(numerics.central, None)] + list(APPROXIMATION_MISTAKES.items())
    comparisons = [(numerics.relative_difference, None)] + list(COMPARISON_MISTAKES.items())
    gradients = [None] + sorted({message for case in cases for message in case.others})
    # Fewest mistakes first: one wrong step is a likelier explanation than two.
    combinations = sorted(itertools.product(approximations, comparisons, gradients),
                          key=lambda combo: sum(m is not None for m in (combo[0][1], combo[1][1], combo[2])))
    for (approximate, a_msg), (compare, c_msg), g_msg in combinations[1:]:  # [0] is no mistake at all
        yield ([m for m in (a_msg, c_msg, g_msg) if m],
               [_target(case, approximate, compare, g_msg, computed) for case in cases])


def _target(case, approximate, compare, g_msg, computed):
    """The number that `case` gives with this approximation, comparison and gradient."""
    key = (id(case.J), id(case.theta), case.eps, approximate)
    with np.errstate(all="ignore"):
        if key not in computed:
            computed[key] = approximate(case.J, case.theta, case.eps)
        gradient = case.others.get(g_msg, case.gradient) if g_msg else case.gradient
        return compare(gradient[case.rows], computed[key][case.rows])


# Why a gradient of the backward pass is wrong: shared with the visible tests (gc_feedback).
BACKWARD_ORDER, explain_backward = gc_feedback.BACKWARD_ORDER, gc_feedback.explain_backward


def expected_difference(case):
    """The right relative difference of a diagnoses.Case: its gradient against the central difference."""
    return numerics.relative_difference(case.gradient[case.rows],
                                        numerics.central(case.J, case.theta, case.eps)[case.rows])
