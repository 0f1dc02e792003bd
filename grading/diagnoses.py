"""Recognize a student's mistake from the number it produces, and say it in plain words.

A hidden test that fails knows the right value. To say *why* it is wrong, it recomputes the
same cases the way each common mistake (or pair of mistakes) would, and reports the one that
reproduces the student's number in every case. Numbers that are round-off (below NOISE) count
as equal, since their digits depend on the order of the arithmetic.
"""
import itertools
from dataclasses import dataclass, field

import numpy as np

from . import numerics

# How close a student's number must be to a mistake's number to name that mistake.
MATCH_RTOL = 1e-6
MATCH_ATOL = 1e-12
# Below this a relative difference is round-off (a correct gradient at eps = 1e-7 gives ~1e-8):
# two such numbers agree although their digits differ.
NOISE = 1e-6

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
        "J_minus is computed at theta instead of theta - epsilon: theta_plus and theta_minus are not copies but "
        "the parameter vector itself, so the shifts undo each other. Make each one with np.copy(parameters_values).",
    numerics.copied_once:
        "Your shifts accumulate: theta_plus and theta_minus are copied once, before the loop, so entry i is "
        "evaluated with entries 0..i all shifted. Copy the parameter vector inside the loop, for every i.",
    numerics.unshifted:
        "Your approximation is 0: J_plus equals J_minus, so the shifted parameters never reach the cost. "
        "Pass the shifted copy (theta + epsilon, or vector_to_dictionary(theta_plus)) to the forward pass.",
    numerics.skips_last:
        "The last parameter is never approximated: loop over all of range(num_parameters).",
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


def matches(value, target):
    """Whether two relative differences are the same number, or both round-off."""
    if not np.isfinite(target):
        return False
    if 0 <= value < NOISE and 0 <= target < NOISE:
        return True
    return bool(abs(value - target) <= MATCH_ATOL + MATCH_RTOL * abs(target))


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

    approximations = [(numerics.central, None)] + list(APPROXIMATION_MISTAKES.items())
    comparisons = [(numerics.relative_difference, None)] + list(COMPARISON_MISTAKES.items())
    gradients = [None] + sorted({message for case in cases for message in case.others})
    # Fewest mistakes first: one wrong step is a likelier explanation than two.
    candidates = sorted(itertools.product(approximations, comparisons, gradients),
                        key=lambda combo: sum(m is not None for m in (combo[0][1], combo[1][1], combo[2])))
    for (approximate, a_msg), (compare, c_msg), g_msg in candidates[1:]:  # [0] is no mistake at all
        if all(matches(case.value, _target(case, approximate, compare, g_msg, computed)) for case in cases):
            return " ".join(message for message in (a_msg, c_msg, g_msg) if message)
    return None


def _target(case, approximate, compare, g_msg, computed):
    """The number that `case` gives with this approximation, comparison and gradient."""
    key = (id(case.J), id(case.theta), case.eps, approximate)
    with np.errstate(all="ignore"):
        if key not in computed:
            computed[key] = approximate(case.J, case.theta, case.eps)
        gradient = case.others.get(g_msg, case.gradient) if g_msg else case.gradient
        return compare(gradient[case.rows], computed[key][case.rows])


BACKWARD_ORDER = ("dZ3", "dW3", "db3", "dA2", "dZ2", "dW2", "db2", "dA1", "dZ1", "dW1", "db1")


def _ratio(actual, expected):
    """The constant c with actual = c * expected, if there is one; else None."""
    mask = np.abs(expected) > 1e-12
    if not mask.any():
        return None
    ratios = actual[mask] / expected[mask]
    c = float(np.median(ratios))
    if np.allclose(actual, c * expected, rtol=1e-6, atol=1e-12):
        return c
    return None


def explain_backward(key, actual, expected, m, known=None):
    """Explain why gradient `key` is wrong.

    actual, expected -- the student's array and the correct one (e.g. dW1 of shape (5, 4), db1 (5, 1))
    m -- the number of examples in the batch
    known -- {name: correct array} of the case ("A1", "Z2", ... from the cache and "dA1", ... from the
             correct gradients), to recognize a wrong derivative of ReLU
    """
    shape, right = np.shape(actual), np.shape(expected)
    if shape != right:
        message = f"{key} has shape {shape} but should have shape {right}"
        if key.startswith("db") and shape == (1, m):
            return message + ": sum over the examples, axis=1, not axis=0."
        if np.size(actual) == np.size(expected):
            if np.ndim(actual) == 1 and key.startswith("db"):
                return message + ": sum with keepdims=True."
            if shape == right[::-1]:
                return message + ", its transpose: check the order of the matrix product."
        return message + "."
    relu = _explain_relu(key, actual, known or {})
    if relu:
        return relu
    c = _ratio(actual, expected)
    if c is not None and c != 0:
        if key == "dW2" and abs(c - 2) < 1e-6:
            return "dW2 is twice the correct value: the team's extra factor 2 is still there."
        if key == "db1" and abs(c - 4) < 1e-6:
            return "db1 is four times the correct value: it still uses 4/m instead of 1/m."
        if abs(c - m) < 1e-6:
            return f"{key} is m times too large: divide by the number of examples m."
        if abs(c * m - 1) < 1e-6:
            return f"{key} is divided by m once too often."
        divisor = m / c
        if abs(divisor - round(divisor)) < 1e-6 and round(divisor) != m:
            return (f"{key} is divided by {round(divisor)} instead of by the number of examples "
                    f"(m = X.shape[1], here {m}).")
        return f"{key} is {c:.4g} times the correct value."
    if key in ("dZ2", "dZ1"):
        layer = key[-1]
        return (f"{key} is wrong. It is dA{layer} * (A{layer} > 0): the derivative of ReLU is 1 where the "
                "unit is active and 0 elsewhere.")
    return f"{key} is wrong (largest error {float(np.max(np.abs(actual - expected))):.3g})."


def _explain_relu(key, actual, known):
    """The two common wrong derivatives of ReLU in dZ1 or dZ2, in words; None otherwise."""
    layer = key[-1]
    if key not in ("dZ1", "dZ2") or f"dA{layer}" not in known:
        return None
    dA, A = known[f"dA{layer}"], known[f"A{layer}"]
    if np.allclose(actual, dA, rtol=1e-7, atol=1e-12):
        return (f"{key} equals dA{layer}: the ReLU mask is missing. dZ{layer} = dA{layer} * (A{layer} > 0), "
                "since the derivative of ReLU is 1 where the unit is active and 0 elsewhere.")
    if np.allclose(actual, dA * A, rtol=1e-7, atol=1e-12):
        return (f"{key} is dA{layer} * A{layer}: the derivative of ReLU is not A{layer} but the indicator "
                f"(A{layer} > 0), 1 where the unit is active and 0 elsewhere.")
    return None
