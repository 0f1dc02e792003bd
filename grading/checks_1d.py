"""Hidden tests of notebook 1: forward_propagation, backward_propagation, gradient_check.

Every check receives a `student` whose `call(name, *args, substitutes=..., **kwargs)` runs the
student's function and returns (result, printed text, arguments after the call).
"""
import numpy as np

from . import cases, diagnoses, numerics
from .harness import close, fail, require_float, require_number
from .substitutes import cost_of_vector, power_cost, power_derivative

NUM_CASES = 20
THRESHOLD = 2e-7


def _check_scalar_function(student, name, correct, mistakes):
    """Compare a scalar function of (x, theta) with `correct` on random inputs.

    mistakes -- {message: function of (x, theta)} recognized when the answer is wrong
    """
    rng = cases.new_rng()
    answers = []
    for _ in range(NUM_CASES):
        x, theta = cases.scalar_case(rng)
        value = require_number(student.call(name, x, theta)[0], name)
        answers.append(value)
        expected = correct(x, theta)
        if close(value, expected, rtol=1e-9, atol=1e-12):
            continue
        if len(answers) > 1 and len(set(answers)) == 1:
            break
        for message, mistake in mistakes.items():
            if close(value, mistake(x, theta), rtol=1e-9, atol=1e-12):
                fail(f"{name}(x={x:.4g}, theta={theta:.4g}) returned {value:.6g} instead of {expected:.6g}: {message}")
        fail(f"{name}(x={x:.4g}, theta={theta:.4g}) returned {value:.6g} instead of {expected:.6g}.")
    if len(set(answers)) == 1:
        fail(f"{name} returns {answers[0]:.6g} whatever its inputs: compute the result from x and theta "
             "instead of using a fixed number.")


def check_forward_propagation(student):
    _check_scalar_function(student, "forward_propagation", lambda x, theta: theta * x, {
        "you returned x; J is theta * x.": lambda x, theta: x,
        "you returned theta; J is theta * x.": lambda x, theta: theta,
        "you added x and theta; J is their product.": lambda x, theta: x + theta,
        "you divided x by theta; J is the product theta * x.": lambda x, theta: x / theta,
        "you divided theta by x; J is the product theta * x.": lambda x, theta: theta / x,
        "the sign is wrong.": lambda x, theta: -theta * x,
    })


def check_backward_propagation(student):
    _check_scalar_function(student, "backward_propagation", lambda x, theta: x, {
        "you returned theta; the derivative of theta * x with respect to theta is x.": lambda x, theta: theta,
        "you returned J = theta * x itself; its derivative with respect to theta is x.": lambda x, theta: theta * x,
        "the derivative of theta * x is x, not 2x.": lambda x, theta: 2 * x,
        "you returned 1; the derivative of theta * x with respect to theta is x.": lambda x, theta: 1.0,
        "the sign is wrong.": lambda x, theta: -x,
    })


def _run_check(student, x, theta, cost, derivative, **kwargs):
    """The student's gradient_check with forward/backward_propagation replaced by stand-ins."""
    result, printed, _ = student.call("gradient_check", x, theta, substitutes={
        "forward_propagation": cost, "backward_propagation": derivative}, **kwargs)
    return result, printed


def check_gradient_check(student):
    name = "gradient_check"
    rng = cases.new_rng()

    # 1. The notebook's model with its true derivative at the default step: a float, and tiny.
    for _ in range(5):
        x, theta = cases.scalar_case(rng)
        value = require_float(_run_check(student, x, theta, power_cost(x, 1), power_derivative(x, 1))[0], name)
        if not value < 1e-6:
            fail(f"For J = theta * x with its exact derivative, gradient_check returned {value:.3g}; "
                 "a correct check gives a relative difference far below 2e-7.")

    # 2. J = x theta^3 and a large step, with right and deliberately wrong derivatives. Every number
    #    here is signal: the central difference of x theta^3 is exactly 3 x theta^2 + x eps^2.
    for scale in (1.0, 1.0, rng.uniform(1.3, 2.0), rng.uniform(0.2, 0.7), -1.0):
        x, theta = cases.scalar_case(rng)
        eps = float(rng.uniform(0.05, 0.3))
        value = require_float(_run_check(student, x, theta, power_cost(x, 3), power_derivative(x, 3, scale),
                                         epsilon=eps)[0], name)
        J = cost_of_vector(power_cost(x, 3))
        point, gradient = np.array([theta]), np.array([scale * 3 * x * theta ** 2])
        expected = numerics.relative_difference(gradient, numerics.central(J, point, eps))
        if close(value, expected, rtol=1e-6, atol=1e-12):
            continue
        explanation = diagnoses.explain_difference(value, J, point, eps, gradient, {
            "You did not call backward_propagation: grad must come from it, not be computed in the check.":
                np.array([x])})
        fail(f"gradient_check with epsilon={eps:.3g}, on a cost whose central difference is known, returned "
             f"{value:.6g} instead of {expected:.6g}. " +
             (explanation or "Check the central difference and the relative-difference formula step by step."))

    # 3. The default step is 1e-7: on the cubic cost its truncation error is negligible.
    x, theta = cases.scalar_case(rng)
    value = require_float(_run_check(student, x, theta, power_cost(x, 3), power_derivative(x, 3))[0], name)
    if not value < 1e-6:
        fail(f"Called without epsilon, gradient_check returned {value:.3g} for a correct derivative: "
             "the default epsilon must be 1e-7.")

    # 4. print_msg: silent by default; with print_msg=True one verdict below 2e-7 and another above.
    #    The derivative (1 + s) x with s = 2r / (1 - r) gives relative difference r on the linear
    #    cost, whose central difference is exact to about 1e-9.
    verdicts = {}
    for r in (0.0, 1.2e-7, 3e-7, 0.3):
        x, theta = cases.scalar(rng, 0.5, 2.0), cases.scalar(rng, 0.5, 2.0)
        derivative = power_derivative(x, 1, 1 + 2 * r / (1 - r))
        _, silent = _run_check(student, x, theta, power_cost(x, 1), derivative)
        if silent.strip():
            fail(f"gradient_check printed {silent.strip()[:80]!r} although print_msg was False: print only when asked.")
        _, printed = _run_check(student, x, theta, power_cost(x, 1), derivative, print_msg=True)
        if not printed.strip():
            fail("gradient_check(..., print_msg=True) printed nothing: print whether the gradient is correct.")
        verdicts[r] = verdict_words(printed)
    if verdicts[0.0] != verdicts[1.2e-7] or verdicts[3e-7] != verdicts[0.3]:
        fail("With print_msg=True the message must depend only on the verdict: one message for every "
             "difference below 2e-7 and another for every difference above it.")
    if verdicts[0.0] == verdicts[0.3]:
        fail("With print_msg=True, gradient_check prints the same verdict for a correct gradient and a wrong one.")


def verdict_words(text):
    """The printed message without its numbers, so that only the verdict is compared."""
    return " ".join(word for word in text.replace("=", " ").split() if not any(ch.isdigit() for ch in word))
