"""Hidden tests of notebook 2: gradient_check_n, gradient_check_by_parameter, backward_propagation_n_fixed."""
from dataclasses import replace

import numpy as np

from grading.checks import cases, diagnoses, numerics, reference
from grading.checks.harness import snapshot
from grading.checks.provided import gc_feedback, gc_utils
from grading.inside.substitutes import central_gradapprox, cost_of_vector, network_cost

NAMES = gc_utils.PARAMETER_NAMES
DEFAULT_STEP = gc_feedback.DEFAULT_STEP   # the default epsilon of every function of notebook 2
ARGUMENT_NAMES = ("parameters", "gradients", "X", "Y")

IGNORED_GRADIENTS, GLOBAL_DATA = gc_feedback.IGNORED_GRADIENTS, gc_feedback.GLOBAL_DATA


def network_case(rng, m=None, margin=1e-4):
    """A random batch and parameters for the 4-5-3-1 network on which a gradient check is reliable.

    Returns X (4, m), Y (1, m), parameters, such that
    - |Z| > margin for every unit and example, so a central difference with a step below margin
      never straddles a ReLU kink;
    - |Z3| < 4, so the sigmoid is not saturated and the cost keeps its precision;
    - every parameter block has a nonzero gradient, so every block's relative difference is defined;
    - the reference check of the correct gradients at eps = 1e-7 gives below 5e-8.
    """
    while True:
        size = int(m or rng.integers(3, 9))
        X = rng.standard_normal((4, size))
        Y = rng.integers(0, 2, size=(1, size))
        if Y.min() == Y.max():
            continue
        parameters = {name: rng.standard_normal(shape) * (0.8 if name.startswith("W") else 0.5)
                      for name, shape in gc_utils.PARAMETER_SHAPES.items()}
        with np.errstate(all="ignore"):  # a saturated candidate is rejected, without a warning
            _, cache = gc_utils.forward_propagation_n(X, Y, parameters)
        Z1, Z2, Z3 = cache[0], cache[4], cache[8]
        if min(np.abs(Z1).min(), np.abs(Z2).min()) < margin or np.abs(Z3).max() > 4:
            continue
        gradients = reference.backward_propagation_n_fixed(X, Y, cache)
        if not all(np.linalg.norm(gradients["d" + name]) > 1e-3 for name in cases.NAMES):
            continue
        if reference.gradient_check_n(parameters, gradients, X, Y) < 5e-8:
            return X, Y, parameters


def batch(rng):
    """A random batch X (4, m), Y (1, m) for a case whose cost is not the network's: the stand-in cost
    returns the network's cache on it (see gc_feedback.stand_in), so any batch will do."""
    m = int(rng.integers(3, 9))
    return rng.standard_normal((4, m)), rng.integers(0, 2, size=(1, m))


def _network_cost(X, Y):
    """The network's cost as a function of the (47,) parameter vector."""
    def J(theta):
        with np.errstate(all="ignore"):  # in a test cell, a warning on stderr would cost the points
            return gc_utils.forward_propagation_n(X, Y, gc_utils.vector_to_dictionary(theta))[0]
    return J


def as_vector(parameters_or_gradients):
    """A parameter dict or a gradients dict as a (47,) vector."""
    if "dW1" in parameters_or_gradients:
        return gc_utils.gradients_to_vector(parameters_or_gradients).reshape(-1)
    return gc_utils.dictionary_to_vector(parameters_or_gradients)[0].reshape(-1)


def _team_and_fixed(X, Y, parameters):
    with np.errstate(all="ignore"):
        _, cache = gc_utils.forward_propagation_n(X, Y, parameters)
        return gc_utils.backward_propagation_n(X, Y, cache), reference.backward_propagation_n_fixed(X, Y, cache)


def _run(student, name, forward, parameters, gradients, X, Y, **kwargs):
    """(result, printed, the sentence of a changed argument or None) of a student's check, called with
    forward_propagation_n standing in as `forward`.

    gradient_check_by_parameter gets a correct gradapprox_n as well (over the same cost): a mistake in
    gradapprox_n costs only the exercise that asks for it, gradient_check_n's."""
    before = snapshot(parameters, gradients, X, Y)
    helpers = {"forward_propagation_n": forward}
    if name == "gradient_check_by_parameter":
        helpers["gradapprox_n"] = central_gradapprox(forward)
    result, printed, after = student.call(name, parameters, gradients, X, Y, substitutes=helpers, **kwargs)
    return result, printed, gc_feedback.inputs_changed(name, before, after, ARGUMENT_NAMES)


def _smooth_check_case(rng, spoil, eps=True):
    """A gc_feedback.CheckCase on a smooth cost with a known gradient, random parameters, a batch and a
    large step (every mistake in the approximation then changes the number).

    spoil -- how many parameter blocks of the gradient to make wrong (0: the exact gradient)
    eps -- False: the case is called without epsilon
    """
    forward, J, exact = cases.smooth_cost(rng)
    parameters = cases.parameters_for(rng, exact)
    theta = as_vector(parameters)
    gradient = exact(theta)
    if spoil:
        gradient = cases.corrupt(rng, gradient, rng.choice(NAMES, size=spoil, replace=False))
    X, Y = batch(rng)
    return gc_feedback.CheckCase(forward, theta, gradient, X, Y, float(rng.uniform(0.01, 0.1)) if eps else None)


def _zero_case(rng, ignored):
    """A gc_feedback.CheckCase, called without epsilon, on a smooth cost that does not depend on the
    parameters `ignored` (on none at all: a constant cost), with its exact gradient, 0 on their rows:
    there both gradients are 0, and their relative difference 0/0 is defined as 0."""
    forward, _, exact = cases.smooth_cost(rng, ignored=ignored)
    theta = as_vector(cases.random_parameters(rng))
    X, Y = batch(rng)
    return gc_feedback.CheckCase(forward, theta, exact(theta), X, Y)


def diagnosable(checks):
    """diagnoses.Case (value still None) of each gc_feedback.CheckCase: its cost as a function of the
    (47,) vector, and the team's gradient as one a student may have used instead."""
    results = []
    for check in checks:
        parameters = gc_utils.vector_to_dictionary(check.theta)
        team, _ = _team_and_fixed(check.X, check.Y, parameters)
        J = _network_cost(check.X, check.Y) if check.cost["kind"] == "network_cost" else cost_of_vector(check.cost)
        results.append(diagnoses.Case(None, J, check.theta, check.eps or DEFAULT_STEP, check.gradient,
                                      {IGNORED_GRADIENTS: as_vector(team)}))
    return results


def draw_gradient_check_n(rng):
    """The cases of gradient_check_n's tests (see gc_feedback.check_gradient_check_n), drawn with rng."""
    network = []
    for given in ("fixed", "team", "spoiled"):
        X, Y, parameters = network_case(rng)
        team, fixed = (as_vector(gradients) for gradients in _team_and_fixed(X, Y, parameters))
        spoiled = cases.corrupt(rng, fixed, rng.choice(NAMES, size=int(rng.integers(1, 3)), replace=False))
        network.append(gc_feedback.CheckCase(network_cost(), as_vector(parameters),
                                             {"fixed": fixed, "team": team, "spoiled": spoiled}[given], X, Y))
    verdicts = []
    for r in gc_feedback.VERDICT_CASES:
        # A quadratic cost and small parameters, the exact gradient scaled by 1 + s, s = 2r / (1 - r):
        # the relative difference is r.
        forward, _, exact = cases.smooth_cost(rng, cubic=False)
        theta = as_vector(cases.random_parameters(rng, scale=0.1))
        X, Y = batch(rng)
        verdicts.append(gc_feedback.CheckCase(forward, theta, exact(theta) * (1 + 2 * r / (1 - r)), X, Y))
    return {"signal": [_smooth_check_case(rng, spoil) for spoil in (0, 1, 1)],
            "default": _smooth_check_case(rng, 0, eps=False), "network": network, "verdicts": verdicts,
            "zero": _zero_case(rng, NAMES)}


def truth_of(checks):
    """(the right values, explain(values)) of gc_feedback.CheckCase list, computed by the grader."""
    results = diagnosable(checks)

    def explain(values):
        for case, value in zip(results, values):
            case.value = value
        return diagnoses.explain_differences(results)
    return [diagnoses.expected_difference(case) for case in results], explain


def check_gradient_check_n(student):
    drawn = draw_gradient_check_n(cases.new_rng())

    def run(case, **kwargs):
        parameters = gc_utils.vector_to_dictionary(case.theta)
        return _run(student, "gradient_check_n", case.cost, parameters, cases.as_gradients(case.gradient),
                    case.X, case.Y, **kwargs)
    def approximate(case, **kwargs):
        parameters = gc_utils.vector_to_dictionary(case.theta)
        before = snapshot(parameters, case.X, case.Y)
        result, _, after = student.call(gc_feedback.APPROXIMATION, parameters, case.X, case.Y,
                                        substitutes={"forward_propagation_n": case.cost}, **kwargs)
        return result, gc_feedback.inputs_changed(gc_feedback.APPROXIMATION, before, after, ("parameters", "X", "Y"))
    return gc_feedback.check_gradient_check_n(run, drawn, {part: truth_of(drawn[part]) for part in ("signal", "network")},
                                              approximate)


def _block_differences(gradient, approximation, whole=False, order=NAMES):
    """{name: relative difference of that parameter's rows}, both vectors of shape (47,).

    whole -- divide by the norms of the whole vectors instead of the block's (a mistake)
    order -- the order in which the blocks are laid out (another order than NAMES is a mistake)
    """
    result = {}
    for name, rows in cases.block_slices(order).items():
        g, a = gradient[rows], approximation[rows]
        denominator = np.linalg.norm(gradient) + np.linalg.norm(approximation) if whole else \
            np.linalg.norm(g) + np.linalg.norm(a)
        result[name] = float(np.linalg.norm(g - a) / denominator)
    return result


def draw_by_parameter(rng):
    """The cases of gradient_check_by_parameter's tests (gc_feedback.check_gradient_check_by_parameter)."""
    X, Y, parameters = network_case(rng)
    team = as_vector(_team_and_fixed(X, Y, parameters)[0])
    network = [gc_feedback.CheckCase(network_cost(), as_vector(parameters), team, X, Y, eps) for eps in (None, 1e-7)]
    ignored = sorted((str(name) for name in rng.choice(NAMES, size=int(rng.integers(1, 3)), replace=False)),
                     key=NAMES.index)
    return {"signal": [_smooth_check_case(rng, int(rng.integers(1, 3))) for _ in range(3)], "network": network,
            "default": _smooth_check_case(rng, 0, eps=False), "zero": _zero_case(rng, ignored), "ignored": ignored}


def by_parameter_truth(drawn):
    """The right values of gc_feedback.check_gradient_check_by_parameter's cases, the block mistakes' values
    (patterns) and the block cases whose mistakes diagnoses.explain_differences names (explain_rest)."""
    attempts = diagnosable(drawn["signal"])
    central = [numerics.central(case.J, case.theta, case.eps) for case in attempts]
    expected = [_block_differences(case.gradient, a) for case, a in zip(attempts, central)]
    patterns = [(gc_feedback.SAME_FOR_ALL, [dict.fromkeys(NAMES, numerics.relative_difference(case.gradient, a))
                                            for case, a in zip(attempts, central)]),
                (gc_feedback.WHOLE_NORMS, [_block_differences(case.gradient, a, whole=True)
                                           for case, a in zip(attempts, central)]),
                (gc_feedback.SORTED_ORDER, [_block_differences(case.gradient, a, order=sorted(NAMES))
                                            for case, a in zip(attempts, central)])]
    blocks = [replace(case, rows=rows) for case in attempts for rows in cases.block_slices().values()]
    network = [_block_differences(case.gradient, numerics.central(_network_cost(case.X, case.Y), case.theta,
                                                                   case.eps or DEFAULT_STEP))
               for case in drawn["network"]]
    return expected, patterns, blocks, network


def check_gradient_check_by_parameter(student):
    drawn = draw_by_parameter(cases.new_rng())
    expected, patterns, blocks, network = by_parameter_truth(drawn)

    def explain_rest(values):
        return diagnoses.explain_differences([replace(case, value=value) for case, value in zip(blocks, values)])

    def run(case, **kwargs):
        return _run(student, "gradient_check_by_parameter", case.cost, gc_utils.vector_to_dictionary(case.theta),
                    cases.as_gradients(case.gradient), case.X, case.Y, **kwargs)
    return gc_feedback.check_gradient_check_by_parameter(run, drawn, {"signal": (expected, patterns, explain_rest),
                                                               "network": network, "zero": drawn["ignored"]}, NAMES)


def draw_fixed(rng):
    """The cases of backward_propagation_n_fixed's tests: batches of three sizes, with the right gradients."""
    drawn = []
    for m in (int(rng.integers(2, 6)), int(rng.integers(6, 20)), 1 + int(rng.integers(20, 60))):
        X, Y, parameters = network_case(rng, m=m)
        _, cache = gc_utils.forward_propagation_n(X, Y, parameters)
        drawn.append((X, Y, parameters, cache, reference.backward_propagation_n_fixed(X, Y, cache)))
    return drawn


def check_backward_propagation_n_fixed(student):
    def run(X, Y, cache):
        result, _, after = student.call("backward_propagation_n_fixed", X, Y, cache)
        return result, after
    return gc_feedback.check_backward_propagation_n_fixed(
        run, [(X, Y, cache, expected) for X, Y, _, cache, expected in draw_fixed(cases.new_rng())])
