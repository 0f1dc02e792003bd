"""Hidden tests of notebook 1: forward_propagation, backward_propagation, gradient_check.

Every check receives a `student` whose `call(name, *args, substitutes=..., **kwargs)` runs the
student's function and returns (result, printed text, arguments after the call).
`compare_differences` and `check_print_msg` are shared with the checks of notebook 2.
"""
import numpy as np

from . import cases, diagnoses, numerics
from .harness import close, fail, require_float, require_number
from .substitutes import cost_of_vector, power_cost, power_derivative

NUM_CASES = 20
THRESHOLD = 2e-7
# Relative differences for the print_msg test: two on each side of THRESHOLD, close to it.
VERDICT_CASES = (0.0, 1.2e-7, 3e-7, 0.3)
NEAR_MISS = ("close, but not equal: do not round the result, and compute in double precision "
             "(Python floats or float64, not float32).")
IGNORED_BACKWARD = "You did not call backward_propagation: grad must come from it, not be computed in the check."


def _check_scalar_function(student, name, correct, mistakes):
    """Compare a scalar function of (x, theta) with `correct` on random inputs.

    mistakes -- {message: function of (x, theta)} recognized when the answer is wrong
    """
    rng = cases.new_rng()
    inputs = [cases.scalar_case(rng) for _ in range(NUM_CASES)]
    answers = [require_number(student.call(name, x, theta)[0], name) for x, theta in inputs]
    if len(set(answers)) == 1:
        fail(f"{name} returns {answers[0]:.6g} whatever its inputs: compute the result from x and theta "
             "instead of using a fixed number.")
    for (x, theta), value in zip(inputs, answers):
        expected = correct(x, theta)
        if close(value, expected, rtol=1e-9, atol=1e-12):
            continue
        known = [message for message, mistake in mistakes.items()
                 if close(value, mistake(x, theta), rtol=1e-9, atol=1e-12)]
        if not known and close(value, expected, rtol=0.05):
            known = [NEAR_MISS]
        fail(f"{name}(x={x:.4g}, theta={theta:.4g}) returned {value:.6g} instead of {expected:.6g}" +
             (f": {known[0]}" if known else "."))


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


def compare_differences(results, rtol, context, fallback):
    """Fail with a diagnosis unless every case's value is the relative difference it should be.

    results -- diagnoses.Case list; the right value of each is the relative difference of its
              gradient and the central difference, over its rows
    rtol -- how closely a value that is signal must agree; a value that is round-off (below
            diagnoses.NOISE) only needs to be round-off too
    context -- how the cases were made, the start of the message
    fallback -- advice when no known mistake explains the student's numbers
    """
    for case in results:
        expected = numerics.relative_difference(case.gradient[case.rows],
                                                numerics.central(case.J, case.theta, case.eps)[case.rows])
        if _agrees(case.value, expected, rtol):
            continue
        explanation = diagnoses.explain_differences(results)
        if not explanation and len({c.value for c in results}) == 1:
            explanation = (f"It returns {case.value!r} whatever its inputs: compute the result from the arguments "
                           "instead of using a fixed number.")
        fail(f"{context} (epsilon={case.eps:.3g}), the relative difference should be {expected:.6g}, but your "
             f"function returned {case.value:.6g}. " + (explanation or fallback))


def _agrees(value, expected, rtol):
    """Signal must agree to rtol; round-off (below diagnoses.NOISE) only needs to be round-off too."""
    if expected < diagnoses.NOISE:
        return 0 <= value < diagnoses.NOISE
    return close(value, expected, rtol, 1e-12)


def require_silence(name, printed, kwargs):
    """Fail if the student's check printed although it was called without print_msg=True."""
    if printed.strip() and not kwargs.get("print_msg"):
        fail(f"{name} printed {printed.strip()[:80]!r} although print_msg was False: print only when asked.")


def check_print_msg(name, run):
    """With print_msg=True, one verdict for every difference below THRESHOLD and another above it.

    run(r) -- the text the student's check prints with print_msg=True on a case whose relative
              difference is r (every call without print_msg is checked for silence elsewhere)
    """
    verdicts = {}
    for r in VERDICT_CASES:
        printed = run(r)
        if not printed.strip():
            fail(f"{name}(..., print_msg=True) printed nothing: print whether the gradient passes the check.")
        verdicts[r] = verdict_words(printed)
    below = {verdicts[r] for r in VERDICT_CASES if r < THRESHOLD}
    above = {verdicts[r] for r in VERDICT_CASES if r > THRESHOLD}
    if len(below) > 1 or len(above) > 1:
        fail(f"With print_msg=True the message must depend only on the verdict: one message for every "
             f"difference below {THRESHOLD:g} and another for every difference above it.")
    if below == above:
        fail(f"With print_msg=True, {name} prints the same verdict for a correct gradient and a wrong one.")


def verdict_words(text):
    """The printed message without its numbers, so that only the verdict is compared."""
    return " ".join(word for word in text.replace("=", " ").split() if not any(ch.isdigit() for ch in word))


def _run_check(student, x, theta, cost, derivative, **kwargs):
    """The student's gradient_check with forward/backward_propagation replaced by stand-ins."""
    result, printed, _ = student.call("gradient_check", x, theta, substitutes={
        "forward_propagation": cost, "backward_propagation": derivative}, **kwargs)
    require_silence("gradient_check", printed, kwargs)
    return result, printed


def check_gradient_check(student):
    name = "gradient_check"
    rng = cases.new_rng()

    # 1. J = x theta^3 and a large step, with right and deliberately wrong derivatives. Every number
    #    here is signal: the central difference of x theta^3 is exactly 3 x theta^2 + x eps^2.
    results = []
    for scale in (1.0, 1.0, rng.uniform(1.3, 2.0), rng.uniform(0.2, 0.7), -1.0):
        x, theta = cases.scalar_case(rng)
        eps = float(rng.uniform(0.05, 0.3))
        value = require_float(_run_check(student, x, theta, power_cost(x, 3), power_derivative(x, 3, scale),
                                         epsilon=eps)[0], name)
        results.append(diagnoses.Case(value, cost_of_vector(power_cost(x, 3)), np.array([theta]), eps,
                                      np.array([scale * 3 * x * theta ** 2]), {IGNORED_BACKWARD: np.array([x])}))
    compare_differences(results, 1e-6, "For J = x theta^3, whose central difference is known",
                        "Check the central difference and the relative-difference formula step by step.")

    # 2. The notebook's model with its true derivative at the default step: tiny.
    for _ in range(5):
        x, theta = cases.scalar_case(rng)
        value = require_float(_run_check(student, x, theta, power_cost(x, 1), power_derivative(x, 1))[0], name)
        if not value < 1e-6:
            fail(f"For J = theta * x with its exact derivative, gradient_check returned {value:.3g}; "
                 "a correct check gives a relative difference far below 2e-7.")

    # 3. The default step is 1e-7: on the cubic cost its truncation error is negligible.
    x, theta = cases.scalar_case(rng)
    value = require_float(_run_check(student, x, theta, power_cost(x, 3), power_derivative(x, 3))[0], name)
    if not value < 1e-6:
        fail(f"Called without epsilon, gradient_check returned {value:.3g} for a correct derivative: "
             "the default epsilon must be 1e-7.")

    # 4. print_msg. The derivative (1 + s) x with s = 2r / (1 - r) gives relative difference r on the
    #    linear cost, whose central difference is exact to about 1e-9.
    def run(r):
        x, theta = cases.scalar(rng, 0.5, 2.0), cases.scalar(rng, 0.5, 2.0)
        derivative = power_derivative(x, 1, 1 + 2 * r / (1 - r))
        return _run_check(student, x, theta, power_cost(x, 1), derivative, print_msg=True)[1]
    check_print_msg(name, run)

    # 5. x = 0: both gradients are 0, and the difference 0/0 is defined as 0.0.
    theta = cases.scalar(rng, 0.5, 2.0)
    value = _run_check(student, 0.0, theta, power_cost(0.0, 1), power_derivative(0.0, 1))[0]
    if not (isinstance(value, float) and value == 0.0):
        fail(f"At x = 0 both gradients are 0 and the relative difference is 0/0, defined as 0.0; gradient_check(0, "
             f"{theta:.4g}) returned {value!r}. Return 0.0 when the denominator is 0.")
