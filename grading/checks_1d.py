"""Hidden tests of notebook 1: forward_propagation, backward_propagation, gradient_check."""
import numpy as np

from . import cases, diagnoses, numerics
from .harness import call, close, fail, require_float, require_number, student_function, substituted

NUM_CASES = 20
THRESHOLD = 2e-7


def _check_scalar_function(namespace, name, correct, mistakes):
    """Compare a scalar function of (x, theta) with `correct` on random inputs.

    mistakes -- {message: function of (x, theta)} recognized when the answer is wrong
    """
    function = student_function(namespace, name)
    rng = cases.new_rng()
    answers = []
    for _ in range(NUM_CASES):
        x, theta = cases.scalar_case(rng)
        value = require_number(call(function, x, theta)[0], name)
        answers.append(value)
        expected = correct(x, theta)
        if close(value, expected, rtol=1e-9, atol=1e-12):
            continue
        for message, mistake in mistakes.items():
            if close(value, mistake(x, theta), rtol=1e-9, atol=1e-12):
                fail(f"{name}(x={x:.4g}, theta={theta:.4g}) returned {value:.6g} instead of {expected:.6g}: {message}")
        if len(set(answers)) == 1 and len(answers) > 1:
            break
        fail(f"{name}(x={x:.4g}, theta={theta:.4g}) returned {value:.6g} instead of {expected:.6g}.")
    if len(set(answers)) == 1:
        fail(f"{name} returns {answers[0]:.6g} whatever its inputs: compute the result from x and theta "
             "instead of a fixed number.")


def check_forward_propagation(namespace):
    _check_scalar_function(namespace, "forward_propagation", lambda x, theta: theta * x, {
        "you returned x; J is theta * x.": lambda x, theta: x,
        "you returned theta; J is theta * x.": lambda x, theta: theta,
        "you added x and theta; J is their product.": lambda x, theta: x + theta,
        "you divided; J is the product theta * x.": lambda x, theta: x / theta,
        "you divided; J is the product theta * x. ": lambda x, theta: theta / x,
        "the sign is wrong.": lambda x, theta: -theta * x,
        "you raised to a power; J is the product theta * x.": lambda x, theta: theta ** x if theta > 0 else np.nan,
    })


def check_backward_propagation(namespace):
    _check_scalar_function(namespace, "backward_propagation", lambda x, theta: x, {
        "you returned theta; the derivative of theta * x with respect to theta is x.": lambda x, theta: theta,
        "you returned J = theta * x itself; its derivative with respect to theta is x.": lambda x, theta: theta * x,
        "the derivative of theta * x is x, not 2x.": lambda x, theta: 2 * x,
        "you returned 1; the derivative of theta * x with respect to theta is x.": lambda x, theta: 1.0,
        "the sign is wrong.": lambda x, theta: -x,
    })


def _gradient_check_value(function, J, dJ, x, theta, **kwargs):
    """Run the student's gradient_check with forward/backward replaced by J and dJ."""
    def forward_propagation(x, theta):
        return J(theta)

    def backward_propagation(x, theta):
        return dJ(theta)

    with substituted([function.__globals__], forward_propagation=forward_propagation,
                     backward_propagation=backward_propagation):
        result, printed = call(function, x, theta, **kwargs)
    return result, printed


def check_gradient_check(namespace):
    name = "gradient_check"
    function = student_function(namespace, name)
    rng = cases.new_rng()

    # 1. The model of the notebook with its true derivative, default epsilon: a float, and tiny.
    for _ in range(5):
        x, theta = cases.scalar_case(rng)
        result, _ = _gradient_check_value(function, lambda t: t * x, lambda t: x, x, theta)
        value = require_float(result, name)
        if not value < 1e-6:
            fail(f"For J = theta * x with its exact derivative, gradient_check returned {value:.3g}; "
                 "a correct check gives a relative difference far below 2e-7.")

    # 2. A cubic cost and a large step, with right and deliberately wrong derivatives. Every
    #    number here is signal: the central difference of x theta^3 is exactly 3 x theta^2 + x eps^2.
    for scale in (1.0, 1.0, rng.uniform(1.3, 2.0), rng.uniform(0.2, 0.7), -1.0):
        x, theta = cases.scalar_case(rng)
        eps = float(rng.uniform(0.05, 0.3))
        J, dJ = cases.cubic_cost(x)
        gradient = lambda t, dJ=dJ, scale=scale: scale * dJ(t)
        result, _ = _gradient_check_value(function, J, gradient, x, theta, epsilon=eps)
        value = require_float(result, name)
        J_vec = lambda v, J=J: J(v[0])
        expected = numerics.relative_difference(np.array([gradient(theta)]),
                                                numerics.central(J_vec, np.array([theta]), eps))
        if close(value, expected, rtol=1e-6, atol=1e-12):
            continue
        explanation = diagnoses.explain_difference(
            value, J_vec, np.array([theta]), eps, np.array([gradient(theta)]),
            {"You did not call backward_propagation: grad must come from it, not be computed in the check.":
                 np.array([x])})
        fail(f"gradient_check with epsilon={eps:.3g} on a cost whose central difference is known returned "
             f"{value:.6g} instead of {expected:.6g}. " + (explanation or
             "Check the central difference and the relative-difference formula step by step."))

    # 3. The default step is 1e-7: on the cubic cost its truncation error is negligible.
    x, theta = cases.scalar_case(rng)
    J, dJ = cases.cubic_cost(x)
    value = require_float(_gradient_check_value(function, J, dJ, x, theta)[0], name)
    if not value < 1e-6:
        fail(f"Called without epsilon, gradient_check returned {value:.3g} for a correct derivative: "
             "the default epsilon must be 1e-7.")

    # 4. print_msg: silent by default; with print_msg=True, one verdict for a pass and another for a fail,
    #    with the threshold at 2e-7. Relative difference r comes from the derivative (1 + s) x with
    #    s = 2r / (1 - r) on the linear cost, whose central difference is exact to about 1e-9.
    verdicts = {}
    for r in (1e-10, 1.2e-7, 3e-7, 0.3):
        x, theta = cases.scalar(rng, 0.5, 2.0), cases.scalar(rng, 0.5, 2.0)
        s = 2 * r / (1 - r)
        gradient = (lambda t, x=x, s=s: (1 + s) * x) if r > 1e-9 else (lambda t, x=x: x)
        result, silent = _gradient_check_value(function, lambda t, x=x: t * x, gradient, x, theta)
        if silent.strip():
            fail(f"gradient_check printed {silent.strip()[:80]!r} although print_msg was False: print only when asked.")
        result, printed = _gradient_check_value(function, lambda t, x=x: t * x, gradient, x, theta, print_msg=True)
        if not printed.strip():
            fail("gradient_check(..., print_msg=True) printed nothing: print whether the gradient is correct.")
        verdicts[r] = _verdict_words(printed)
    if verdicts[1e-10] != verdicts[1.2e-7] or verdicts[3e-7] != verdicts[0.3]:
        fail("With print_msg=True the message must depend only on the verdict: one message for every "
             "difference below 2e-7 and another for every difference above it.")
    if verdicts[1e-10] == verdicts[0.3]:
        fail("With print_msg=True, gradient_check prints the same verdict for a correct gradient and a wrong one.")


def _verdict_words(text):
    """The printed message without its numbers, so that only the verdict is compared."""
    return " ".join(word for word in text.replace("=", " ").split() if not any(ch.isdigit() for ch in word))
