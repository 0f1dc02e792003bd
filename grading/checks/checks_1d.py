"""Hidden tests of notebook 1: forward_propagation, backward_propagation, gradient_check.

The checks themselves are the released gc_feedback's, which the visible tests run on fixed cases;
here they run on fresh random cases, with the right numbers and the names of mistakes computed
(grading.checks.numerics, grading.checks.diagnoses) instead of read from a table.

Every check receives a `student` whose `call(name, *args, substitutes=..., **kwargs)` runs the
student's function and returns (result, printed text, arguments after the call).
`diagnoses.expected_difference` is shared with the checks of notebook 2.
"""
import numpy as np

from grading.checks import cases, diagnoses
from grading.checks.provided import gc_feedback
from grading.inside.substitutes import cost_of_vector, power_cost, power_derivative

NUM_CASES = 20
IGNORED_BACKWARD, BACKWARD_AT_PLUS, BACKWARD_AT_MINUS = (gc_feedback.IGNORED_BACKWARD, gc_feedback.BACKWARD_AT_PLUS,
                                                        gc_feedback.BACKWARD_AT_MINUS)


def _evaluate(student, name):
    return lambda x, theta: student.call(name, x, theta)[0]


def check_forward_propagation(student):
    rng = cases.new_rng()
    return gc_feedback.check_forward_propagation(_evaluate(student, "forward_propagation"),
                                          [cases.scalar_case(rng) for _ in range(NUM_CASES)])


def check_backward_propagation(student):
    rng = cases.new_rng()
    return gc_feedback.check_backward_propagation(_evaluate(student, "backward_propagation"),
                                           [cases.scalar_case(rng) for _ in range(NUM_CASES)])


def cubic_cases(signal):
    """diagnoses.Case (value still None) of each (x, theta, eps, scale) of GradientCheckCases.signal, with
    the gradients a student may have used instead: the model's own derivative x (backward_propagation not
    called) and the derivative at a shifted theta."""
    return [diagnoses.Case(None, cost_of_vector(power_cost(x, 3)), np.array([theta]), eps,
                           np.array([scale * 3 * x * theta ** 2]),
                           {IGNORED_BACKWARD: np.array([x]), BACKWARD_AT_PLUS: np.array([scale * 3 * x * (theta + eps) ** 2]),
                            BACKWARD_AT_MINUS: np.array([scale * 3 * x * (theta - eps) ** 2])})
            for x, theta, eps, scale in signal]


def random_gradient_check_cases(rng):
    """gc_feedback.GradientCheckCases drawn at random."""
    def small():
        return cases.scalar(rng, 0.5, 2.0)
    signal = [(*cases.scalar_case(rng), float(rng.uniform(0.05, 0.3)), scale)
              for scale in (1.0, 1.0, float(rng.uniform(1.3, 2.0)), float(rng.uniform(0.2, 0.7)), -1.0)]
    return gc_feedback.GradientCheckCases(
        signal=signal, linear=[cases.scalar_case(rng) for _ in range(5)], default=cases.scalar_case(rng),
        verdicts=[(small(), small()) for _ in gc_feedback.VERDICT_CASES], zero_theta=small())


def check_gradient_check(student):
    drawn = random_gradient_check_cases(cases.new_rng())
    results = cubic_cases(drawn.signal)

    def run(x, theta, cost, derivative, **kwargs):
        result, printed, _ = student.call("gradient_check", x, theta, substitutes={
            "forward_propagation": power_cost(*cost), "backward_propagation": power_derivative(*derivative)}, **kwargs)
        return result, printed

    def explain(values):
        for case, value in zip(results, values):
            case.value = value
        return diagnoses.explain_differences(results)
    return gc_feedback.check_gradient_check(run, drawn, [diagnoses.expected_difference(case) for case in results], explain)
