"""Hidden tests of notebook 2: gradient_check_n, gradient_check_by_parameter, backward_propagation_n_fixed."""
from dataclasses import replace

import numpy as np

from . import cases, diagnoses, numerics, reference
from .checks_1d import check_print_msg, compare_differences, require_silence
from .harness import changed_argument, close, fail, require_float, snapshot
from .provided import gc_utils
from .substitutes import central_gradapprox, network_cost

NAMES = gc_utils.PARAMETER_NAMES
DEFAULT_STEP = 1e-6   # the default epsilon of every function of notebook 2
ARGUMENT_NAMES = ("parameters", "gradients", "X", "Y")
CACHE_NAMES = ("Z1", "A1", "W1", "b1", "Z2", "A2", "W2", "b2", "Z3", "A3", "W3", "b3")

IGNORED_GRADIENTS = "You did not use the gradients argument: the check must compare the gradients it is given."
GLOBAL_DATA = ("Your function is right on costs that do not depend on X and Y, but not on the network: does it pass "
               "its own X and Y on to forward_propagation_n, not global variables such as the notebook's X and Y?")
SAME_FOR_ALL = ("Every parameter got the same value, the difference over all 47 entries. "
                "Compare only the rows of grad and gradapprox that belong to each parameter.")
WHOLE_NORMS = "You divided by the norms of the whole vectors; divide by the norms of the parameter's own rows."
SORTED_ORDER = ("You cut the vectors in alphabetical order (W1, W2, W3, b1, ...); dictionary_to_vector lays them "
                "out as W1, b1, W2, b2, W3, b3.")
EMPTY_ROWS = ("The rows selected for each parameter are empty, so every value is 0 / 0 (nan, or 0.0 by the rule): "
              "keys == name on a Python list is just False; make keys a NumPy array (np.array(keys)) before comparing.")


def apart(value, expected, joint=" instead of "):
    """'value instead of expected' with as many digits as it takes to tell them apart (4 to 12)."""
    for digits in range(4, 13):
        shown = f"{value:.{digits}g}", f"{expected:.{digits}g}"
        if shown[0] != shown[1]:
            break
    return joint.join(shown)


def _network_cost(X, Y):
    """The network's cost as a function of the (47,) parameter vector."""
    def J(theta):
        with np.errstate(all="ignore"):  # in a test cell, a warning on stderr would cost the points
            return gc_utils.forward_propagation_n(X, Y, gc_utils.vector_to_dictionary(theta))[0]
    return J


def _vector(parameters_or_gradients):
    """A parameter dict or a gradients dict as a (47,) vector."""
    if "dW1" in parameters_or_gradients:
        return gc_utils.gradients_to_vector(parameters_or_gradients).reshape(-1)
    return gc_utils.dictionary_to_vector(parameters_or_gradients)[0].reshape(-1)


def _team_and_fixed(X, Y, parameters):
    with np.errstate(all="ignore"):
        _, cache = gc_utils.forward_propagation_n(X, Y, parameters)
        return gc_utils.backward_propagation_n(X, Y, cache), reference.backward_propagation_n_fixed(X, Y, cache)


def _run(student, name, forward, parameters, gradients, X, Y, **kwargs):
    """Call a student's check with forward_propagation_n standing in as `forward`; fail if it changes its inputs.

    gradient_check_by_parameter gets a correct gradapprox_n as well (over the same cost): a mistake in
    gradapprox_n costs only the exercise that asks for it, gradient_check_n's."""
    before = snapshot(parameters, gradients, X, Y)
    helpers = {"forward_propagation_n": forward}
    if name == "gradient_check_by_parameter":
        helpers["gradapprox_n"] = central_gradapprox(forward)
    result, printed, after = student.call(name, parameters, gradients, X, Y, substitutes=helpers, **kwargs)
    changed = changed_argument(before, after, ARGUMENT_NAMES)
    if changed:
        fail(f"{name} changed its argument {changed}. Perturb copies; never change the inputs.")
    return result, printed


def _run_check_n(student, forward, parameters, gradients, X, Y, **kwargs):
    """_run for gradient_check_n, which must also stay silent unless print_msg=True."""
    result, printed = _run(student, "gradient_check_n", forward, parameters, gradients, X, Y, **kwargs)
    require_silence("gradient_check_n", printed, kwargs)
    return result, printed


def _smooth_case(rng, spoil):
    """A smooth cost with a known gradient, random parameters, a batch and a large step.

    spoil -- how many parameter blocks of the gradient to make wrong (0: the exact gradient)
    Returns (stand-in description, parameters, X, Y, diagnoses.Case whose value is still None).
    The step is large, so that every mistake in the approximation changes the number.
    The Case offers, as a gradient the student may have used instead, the team's gradient of the
    network (what calling backward_propagation_n inside the check gives).
    """
    forward, J, exact = cases.smooth_cost(rng)
    parameters = cases.parameters_for(rng, exact)
    theta = _vector(parameters)
    gradient = exact(theta)
    if spoil:
        gradient = cases.corrupt(rng, gradient, rng.choice(NAMES, size=spoil, replace=False))
    X, Y, _ = cases.network_case(rng)
    team, _ = _team_and_fixed(X, Y, parameters)
    case = diagnoses.Case(None, J, theta, float(rng.uniform(0.01, 0.1)), gradient, {IGNORED_GRADIENTS: _vector(team)})
    return forward, parameters, X, Y, case


def check_gradient_check_n(student):
    name = "gradient_check_n"
    rng = cases.new_rng()

    # 1. Smooth costs with known gradients and a large step: every mistake in the approximation or in
    #    the formula changes the number. The gradient is exact, then has one block spoiled.
    results = []
    for spoil in (0, 1, 1):
        forward, parameters, X, Y, case = _smooth_case(rng, spoil)
        case.value = require_float(_run_check_n(student, forward, parameters, cases.as_gradients(case.gradient),
                                                X, Y, epsilon=case.eps)[0], name)
        results.append(case)
    compare_differences(results, 1e-6, "For a cost whose central difference is known",
                        "Check the central difference, the copies of the parameter vector and the formula.")

    # 2. The default step is 1e-6: on the smooth cost its truncation error is negligible.
    forward, parameters, X, Y, case = _smooth_case(rng, 0)
    value = require_float(_run_check_n(student, forward, parameters, cases.as_gradients(case.gradient), X, Y)[0], name)
    if not value < 1e-6:
        fail(f"Called without epsilon, gradient_check_n returned {value:.3g} for an exact gradient: "
             f"the default epsilon must be {DEFAULT_STEP:g}.")

    # 3. The real network: correct gradients (the difference is round-off), the team's, and correct ones
    #    with random blocks spoiled (the difference is signal, compared closely).
    results = []
    for given in ("fixed", "team", "spoiled"):
        X, Y, parameters = cases.network_case(rng)
        team, fixed = (_vector(gradients) for gradients in _team_and_fixed(X, Y, parameters))
        spoiled = cases.corrupt(rng, fixed, rng.choice(NAMES, size=int(rng.integers(1, 3)), replace=False))
        gradient = {"fixed": fixed, "team": team, "spoiled": spoiled}[given]
        value = require_float(_run_check_n(student, network_cost(), parameters, cases.as_gradients(gradient), X, Y)[0],
                              name)
        results.append(diagnoses.Case(value, _network_cost(X, Y), _vector(parameters), DEFAULT_STEP, gradient,
                                      {IGNORED_GRADIENTS: team}))
    compare_differences(results, 1e-5, "On the network", GLOBAL_DATA)

    # 4. print_msg, on a quadratic cost (central difference exact up to round-off) and small parameters,
    #    with the exact gradient scaled by 1 + s, s = 2r / (1 - r): the relative difference is r.
    def run(r):
        forward, J, exact = cases.smooth_cost(rng, cubic=False)
        parameters = cases.random_parameters(rng, scale=0.1)
        gradients = cases.as_gradients(exact(_vector(parameters)) * (1 + 2 * r / (1 - r)))
        X, Y, _ = cases.network_case(rng)
        return _run_check_n(student, forward, parameters, gradients, X, Y, print_msg=True)[1]
    check_print_msg(name, run)


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


def _explain_blocks(attempts):
    """Name the mistake that produces the per-parameter values of every attempt, or None.

    attempts -- [(values {name: float}, diagnoses.Case of the whole 47-vector)]
    """
    found = [v for values, _ in attempts for v in values.values()]
    if any(np.isnan(v) for v in found) or all(v == 0.0 for v in found):
        return EMPTY_ROWS

    def every(candidate):  # candidate(gradient, approximation) -> {name: value}
        return all(diagnoses.matches(values[n], v) for values, case in attempts
                   for n, v in candidate(case.gradient, numerics.central(case.J, case.theta, case.eps)).items())

    if every(lambda g, a: dict.fromkeys(NAMES, numerics.relative_difference(g, a))):
        return SAME_FOR_ALL
    if every(lambda g, a: _block_differences(g, a, whole=True)):
        return WHOLE_NORMS
    if every(lambda g, a: _block_differences(g, a, order=sorted(NAMES))):
        return SORTED_ORDER
    return diagnoses.explain_differences([replace(case, value=values[n], rows=rows) for values, case in attempts
                                          for n, rows in cases.block_slices().items()])


def _require_block_dict(result, name):
    if not isinstance(result, dict):
        fail(f"{name} should return a dict, not a {type(result).__name__}.")
    if set(result) != set(NAMES):
        fail(f"The keys of the returned dict should be {list(NAMES)}, but they are {list(result)}.")
    return {key: require_float(value, f"{name} (the value for {key})") for key, value in result.items()}


def check_gradient_check_by_parameter(student):
    name = "gradient_check_by_parameter"
    rng = cases.new_rng()

    # 1. Smooth costs, a large step, one or two spoiled blocks chosen at random: every value is signal.
    attempts = []
    for _ in range(3):
        forward, parameters, X, Y, case = _smooth_case(rng, int(rng.integers(1, 3)))
        values = _require_block_dict(_run(student, name, forward, parameters, cases.as_gradients(case.gradient),
                                          X, Y, epsilon=case.eps)[0], name)
        attempts.append((values, case))
    for values, case in attempts:
        expected = _block_differences(case.gradient, numerics.central(case.J, case.theta, case.eps))
        wrong = [n for n in NAMES if not close(values[n], expected[n], rtol=1e-6, atol=1e-10)]
        if wrong:
            details = ", ".join(f"{n}: {apart(values[n], expected[n])}" for n in wrong)
            fail(f"With some of the gradients spoiled (epsilon={case.eps:.3g}) some values are wrong ({details}). " +
                 (_explain_blocks(attempts) or "Check which rows of the vectors belong to each parameter: the order "
                                               "is W1, b1, W2, b2, W3, b3, each read row by row."))

    # 2. The real network with the team's gradients, at the default step and at 1e-7.
    X, Y, parameters = cases.network_case(rng)
    team, _ = _team_and_fixed(X, Y, parameters)
    gradient = _vector(team)
    for kwargs in ({}, {"epsilon": 1e-7}):
        eps = kwargs.get("epsilon", DEFAULT_STEP)
        values = _require_block_dict(_run(student, name, network_cost(), parameters, team, X, Y, **kwargs)[0], name)
        expected = _block_differences(gradient, numerics.central(_network_cost(X, Y), _vector(parameters), eps))
        for n in NAMES:
            # Blocks the team got wrong are signal; the others are round-off, compared by size only.
            ok = close(values[n], expected[n], rtol=1e-4) if expected[n] > 1e-4 else values[n] < 1e-4
            if not ok:
                fail(f"On the network with the team's gradients (epsilon={eps:g}), the value for {n} is "
                     f"{apart(values[n], expected[n], ' instead of about ')}. " + GLOBAL_DATA)

    # 3. The default step is 1e-6: an exact gradient gives tiny values everywhere.
    forward, parameters, X, Y, case = _smooth_case(rng, 0)
    values = _require_block_dict(
        _run(student, name, forward, parameters, cases.as_gradients(case.gradient), X, Y)[0], name)
    if not max(values.values()) < 1e-5:
        fail(f"Called without epsilon on an exact gradient, {name} returned values up to {max(values.values()):.3g}: "
             f"the default epsilon must be {DEFAULT_STEP:g}.")


def check_backward_propagation_n_fixed(student):
    name = "backward_propagation_n_fixed"
    rng = cases.new_rng()
    for m in (int(rng.integers(2, 6)), int(rng.integers(6, 20)), 1 + int(rng.integers(20, 60))):
        X, Y, parameters = cases.network_case(rng, m=m)
        _, cache = gc_utils.forward_propagation_n(X, Y, parameters)
        expected = reference.backward_propagation_n_fixed(X, Y, cache)
        given_X, given_Y, given_cache = snapshot(X, Y, cache)
        result, _, (given_X, given_Y, given_cache) = student.call(name, given_X, given_Y, given_cache)
        unchanged = np.array_equal(X, given_X) and np.array_equal(Y, given_Y) and all(
            np.array_equal(a, b) for a, b in zip(cache, given_cache))
        if not unchanged:
            fail(f"{name} changed its inputs (X, Y or the cache). Compute new arrays instead.")
        if not isinstance(result, dict):
            fail(f"{name} should return a dict of gradients, not a {type(result).__name__}.")
        missing = [key for key in diagnoses.BACKWARD_ORDER if key not in result]
        if missing:
            fail(f"The returned dict lacks {missing}: keep every key of backward_propagation_n.")
        known = dict(zip(CACHE_NAMES, cache), **expected)
        # The first wrong gradient in the order of backpropagation is the root cause; report it.
        for key in diagnoses.BACKWARD_ORDER:
            actual = np.asarray(result[key], dtype=float)
            if actual.shape == expected[key].shape and np.allclose(actual, expected[key], rtol=1e-7, atol=1e-12):
                continue
            explanation = diagnoses.explain_backward(key, actual, expected[key], m, known)
            fail(f"With a batch of m = {m} examples: {explanation}")
