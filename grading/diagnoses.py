"""Recognize a student's mistake from the number it produces, and say it in plain words.

A hidden test that fails knows the right value. To say *why* it is wrong, it recomputes the
same case the way each common mistake would, and reports the mistakes whose value matches.
"""
import itertools

import numpy as np

from . import numerics

# How close a student's number must be to a mistake's number to name that mistake.
MATCH_RTOL = 1e-6
MATCH_ATOL = 1e-12

APPROXIMATION_MISTAKES = {
    numerics.one_sided_forward:
        "Your approximation matches a one-sided difference (J(theta + eps) - J(theta)) / eps. "
        "Use the central difference (J(theta + eps) - J(theta - eps)) / (2 eps): its error is O(eps^2), not O(eps).",
    numerics.one_sided_backward:
        "Your approximation matches a one-sided difference (J(theta) - J(theta - eps)) / eps. "
        "Use the central difference (J(theta + eps) - J(theta - eps)) / (2 eps).",
    numerics.central_without_half:
        "Your approximation is twice the central difference: divide J_plus - J_minus by 2 * epsilon, not by epsilon.",
    numerics.central_default_step:
        "Your function ignores its epsilon argument: called with another epsilon, it gives the result for 1e-7. "
        "Use the epsilon that the function receives.",
    numerics.shared_vector:
        "J_minus is computed at theta instead of theta - epsilon: theta_plus and theta_minus are not copies but "
        "the parameter vector itself, so the shifts undo each other. Make each one with np.copy(parameters_values).",
    numerics.copied_once:
        "Your shifts accumulate: theta_plus and theta_minus are copied once, before the loop, so entry i is "
        "evaluated with entries 0..i all shifted. Copy the parameter vector inside the loop, for every i.",
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
}


def matches(value, target):
    return bool(np.isfinite(target) and abs(value - target) <= MATCH_ATOL + MATCH_RTOL * abs(target))


def explain_difference(value, J, theta, eps, gradient, other_gradients=None):
    """Explain a wrong relative difference, or return None if no known mistake produces it.

    value -- what the student's function returned
    J, theta, eps -- the cost, the point (shape (n,)) and the step of the case
    gradient -- the analytic gradient the student was given (shape (n,))
    other_gradients -- {message: gradient} for gradients a student may have used instead
    """
    approximation = numerics.central(J, theta, eps)
    expected = numerics.relative_difference(gradient, approximation)
    if value == 0.0 and expected > 1e-6:
        return ("Your difference is exactly 0 although the gradient you were given is wrong: you compared a "
                "gradient with itself. grad must come from the backward pass, gradapprox from the central difference.")

    approximations = [(numerics.central, None)] + list(APPROXIMATION_MISTAKES.items())
    comparisons = [(numerics.relative_difference, None)] + list(COMPARISON_MISTAKES.items())
    gradients = [(gradient, None)] + [(g, message) for message, g in (other_gradients or {}).items()]
    # Fewest mistakes first: one wrong step is a likelier explanation than two.
    candidates = sorted(itertools.product(approximations, comparisons, gradients),
                        key=lambda combo: sum(message is not None for _, message in combo))
    computed = {}
    for (approximate, a_msg), (compare, c_msg), (g, g_msg) in candidates:
        if a_msg is c_msg is g_msg is None:
            continue
        if approximate not in computed:
            with np.errstate(all="ignore"):
                computed[approximate] = approximate(J, theta, eps)
        with np.errstate(all="ignore"):
            target = compare(g, computed[approximate])
        if matches(value, target):
            return " ".join(message for message in (a_msg, c_msg, g_msg) if message)
    return None


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


def explain_backward(key, actual, expected, m):
    """Explain why gradient `key` is wrong, given the correct one and the batch size m."""
    if np.shape(actual) != np.shape(expected):
        if np.size(actual) == np.size(expected):
            if np.ndim(actual) == 1 and key.startswith("db"):
                return (f"{key} has shape {np.shape(actual)} but should have shape {np.shape(expected)}: "
                        "sum with keepdims=True.")
            if np.shape(actual) == np.shape(expected)[::-1]:
                return f"{key} has shape {np.shape(actual)}, the transpose of the right shape {np.shape(expected)}."
        return f"{key} has shape {np.shape(actual)} but should have shape {np.shape(expected)}."
    c = _ratio(actual, expected)
    if c is not None:
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
