"""Hidden tests of notebook 2: gradient_check_n, gradient_check_by_parameter, backward_propagation_n_fixed."""
import numpy as np

from . import cases, diagnoses, numerics, reference
from .checks_1d import verdict_words
from .harness import changed_argument, close, fail, require_float, snapshot
from .provided import gc_utils
from .substitutes import network_cost

THRESHOLD = 2e-7
NAMES = gc_utils.PARAMETER_NAMES
ARGUMENT_NAMES = ("parameters", "gradients", "X", "Y")


def _network_cost(X, Y):
    """The network's cost as a function of the (47,) parameter vector."""
    return lambda theta: gc_utils.forward_propagation_n(X, Y, gc_utils.vector_to_dictionary(theta))[0]


def _vector(parameters):
    return gc_utils.dictionary_to_vector(parameters)[0].reshape(-1)


def _run(student, name, forward, parameters, gradients, X, Y, **kwargs):
    """Call a student's check with forward_propagation_n standing in as `forward`; fail if it changes its inputs."""
    before = snapshot(parameters, gradients, X, Y)
    result, printed, after = student.call(name, parameters, gradients, X, Y,
                                          substitutes={"forward_propagation_n": forward}, **kwargs)
    changed = changed_argument(before, after, ARGUMENT_NAMES)
    if changed:
        fail(f"{name} changed its argument {changed}. Perturb copies; never change the inputs.")
    return result, printed


def _team_and_fixed(X, Y, parameters):
    _, cache = gc_utils.forward_propagation_n(X, Y, parameters)
    return gc_utils.backward_propagation_n(X, Y, cache), reference.backward_propagation_n_fixed(X, Y, cache)


def check_gradient_check_n(student):
    name = "gradient_check_n"
    rng = cases.new_rng()

    # 1. The real network with correct gradients at the default step: a float, and tiny.
    for _ in range(2):
        X, Y, parameters = cases.network_case(rng)
        _, fixed = _team_and_fixed(X, Y, parameters)
        value = require_float(_run(student, name, network_cost(), parameters, fixed, X, Y)[0], name)
        if not value < 1e-6:
            fail(f"With correct gradients of the network, gradient_check_n returned {value:.3g}; "
                 "a correct check gives about 1e-8.")

    # 2. The real network with wrong gradients: the team's, and correct ones with random blocks spoiled.
    #    The expected differences are large, so they are compared closely.
    for attempt in range(3):
        X, Y, parameters = cases.network_case(rng)
        team, fixed = _team_and_fixed(X, Y, parameters)
        if attempt == 0:
            given = team
        else:
            blocks = rng.choice(NAMES, size=int(rng.integers(1, 3)), replace=False)
            given = cases.as_gradients(cases.corrupt(rng, gc_utils.gradients_to_vector(fixed).reshape(-1), blocks))
        value = require_float(_run(student, name, network_cost(), parameters, given, X, Y)[0], name)
        _compare_difference(value, _network_cost(X, Y), _vector(parameters), 1e-7, given, {
            "You did not use the gradients argument: the check must compare the gradients it is given.":
                gc_utils.gradients_to_vector(team).reshape(-1) if attempt else
                gc_utils.gradients_to_vector(fixed).reshape(-1)}, rtol=1e-5)

    # 3. A smooth cost with a known gradient and a large step: every mistake changes the number.
    for attempt in range(3):
        forward, J, exact = cases.smooth_cost(rng)
        parameters = cases.random_parameters(rng)
        theta = _vector(parameters)
        gradient = exact(theta) if attempt == 0 else cases.corrupt(rng, exact(theta), rng.choice(NAMES, size=1))
        eps = float(rng.uniform(0.01, 0.1))
        X, Y, _ = cases.network_case(rng)
        given = cases.as_gradients(gradient)
        value = require_float(_run(student, name, forward, parameters, given, X, Y, epsilon=eps)[0], name)
        _compare_difference(value, J, theta, eps, given, {}, rtol=1e-6)

    # 4. The default step is 1e-7.
    forward, J, exact = cases.smooth_cost(rng)
    parameters = cases.random_parameters(rng)
    X, Y, _ = cases.network_case(rng)
    value = require_float(_run(student, name, forward, parameters, cases.as_gradients(exact(_vector(parameters))), X, Y)[0], name)
    if not value < 1e-6:
        fail(f"Called without epsilon, gradient_check_n returned {value:.3g} for an exact gradient: "
             "the default epsilon must be 1e-7.")

    # 5. print_msg: silent by default, and one verdict for correct gradients, another for wrong ones.
    X, Y, parameters = cases.network_case(rng)
    team, fixed = _team_and_fixed(X, Y, parameters)
    verdicts = []
    for given in (fixed, team):
        _, silent = _run(student, name, network_cost(), parameters, given, X, Y)
        if silent.strip():
            fail(f"gradient_check_n printed {silent.strip()[:80]!r} although print_msg was False: print only when asked.")
        _, printed = _run(student, name, network_cost(), parameters, given, X, Y, print_msg=True)
        if not printed.strip():
            fail("gradient_check_n(..., print_msg=True) printed nothing: print whether the gradients are correct.")
        verdicts.append(verdict_words(printed))
    if verdicts[0] == verdicts[1]:
        fail("With print_msg=True, gradient_check_n prints the same verdict for correct and for wrong gradients.")


def _compare_difference(value, J, theta, eps, given, other_gradients, rtol):
    gradient = gc_utils.gradients_to_vector(given).reshape(-1)
    expected = numerics.relative_difference(gradient, numerics.central(J, theta, eps))
    if close(value, expected, rtol=rtol, atol=1e-10):
        return
    explanation = diagnoses.explain_difference(value, J, theta, eps, gradient, other_gradients)
    fail(f"For gradients that are wrong by a known amount (epsilon={eps:.3g}), the relative difference should be "
         f"{expected:.6g}, but your function returned {value:.6g}. " +
         (explanation or "Check the central difference, the copies of the parameter vector and the formula."))


def _block_differences(gradient, approximation, denominator=None):
    """{name: relative difference of that block}; denominator=(g, a) uses whole-vector norms instead."""
    result = {}
    for name, rows in cases.block_slices().items():
        g, a = gradient[rows], approximation[rows]
        if denominator is None:
            result[name] = numerics.relative_difference(g, a)
        else:
            result[name] = float(np.linalg.norm(g - a) / (np.linalg.norm(denominator[0]) + np.linalg.norm(denominator[1])))
    return result


def _explain_blocks(values, J, theta, eps, gradient):
    """Name the mistake that produces these per-parameter values, or None."""
    approximation = numerics.central(J, theta, eps)
    overall = numerics.relative_difference(gradient, approximation)
    if all(diagnoses.matches(v, overall) for v in values.values()):
        return ("Every parameter got the same value, the difference over all 47 entries. "
                "Compare only the rows of grad and gradapprox that belong to each parameter.")
    if all(diagnoses.matches(values[n], v) for n, v in _block_differences(
            gradient, approximation, (gradient, approximation)).items()):
        return "You divided by the norms of the whole vectors; divide by the norms of the parameter's own rows."
    for approximate, message in diagnoses.APPROXIMATION_MISTAKES.items():
        with np.errstate(all="ignore"):
            candidate = _block_differences(gradient, approximate(J, theta, eps))
        if all(diagnoses.matches(values[n], v) for n, v in candidate.items()):
            return message
    for compare, message in diagnoses.COMPARISON_MISTAKES.items():
        slices = cases.block_slices()
        with np.errstate(all="ignore"):
            candidate = {n: compare(gradient[rows], approximation[rows]) for n, rows in slices.items()}
        if all(diagnoses.matches(values[n], v) for n, v in candidate.items()):
            return message
    return None


def _require_block_dict(result, name):
    if not isinstance(result, dict):
        fail(f"{name} should return a dict, not a {type(result).__name__}.")
    if set(result) != set(NAMES):
        fail(f"The keys of the returned dict should be {list(NAMES)}, but they are {list(result)}.")
    return {key: require_float(value, f"{name} (the value for {key})") for key, value in result.items()}


def check_gradient_check_by_parameter(student):
    name = "gradient_check_by_parameter"
    rng = cases.new_rng()

    # 1. A smooth cost, a large step, one or two spoiled blocks chosen at random.
    for attempt in range(3):
        forward, J, exact = cases.smooth_cost(rng)
        parameters = cases.random_parameters(rng)
        theta = _vector(parameters)
        spoiled = list(rng.choice(NAMES, size=int(rng.integers(1, 3)), replace=False))
        gradient = cases.corrupt(rng, exact(theta), spoiled)
        eps = float(rng.uniform(0.01, 0.1))
        X, Y, _ = cases.network_case(rng)
        values = _require_block_dict(
            _run(student, name, forward, parameters, cases.as_gradients(gradient), X, Y, epsilon=eps)[0], name)
        expected = _block_differences(gradient, numerics.central(J, theta, eps))
        wrong = [n for n in NAMES if not close(values[n], expected[n], rtol=1e-6, atol=1e-10)]
        if wrong:
            explanation = _explain_blocks(values, J, theta, eps, gradient)
            details = ", ".join(f"{n}: {values[n]:.4g} instead of {expected[n]:.4g}" for n in wrong)
            fail(f"With the gradients of {spoiled} spoiled (epsilon={eps:.3g}) some values are wrong ({details}). " +
                 (explanation or "Check which rows of the vectors belong to each parameter: the order is "
                                 "W1, b1, W2, b2, W3, b3, each read row by row."))

    # 2. The real network with the team's gradients, at the notebook's epsilon=1e-6 and at the default.
    X, Y, parameters = cases.network_case(rng)
    team, _ = _team_and_fixed(X, Y, parameters)
    gradient = gc_utils.gradients_to_vector(team).reshape(-1)
    for kwargs in ({"epsilon": 1e-6}, {}):
        eps = kwargs.get("epsilon", 1e-7)
        values = _require_block_dict(_run(student, name, network_cost(), parameters, team, X, Y, **kwargs)[0], name)
        expected = _block_differences(gradient, numerics.central(_network_cost(X, Y), _vector(parameters), eps))
        for n in NAMES:
            # Blocks the team got wrong are signal; the others are round-off, compared by size only.
            ok = close(values[n], expected[n], rtol=1e-4) if expected[n] > 1e-4 else values[n] < 1e-4
            if not ok:
                fail(f"On the network with the team's gradients (epsilon={eps:g}), the value for {n} is "
                     f"{values[n]:.4g} instead of about {expected[n]:.4g}.")

    # 3. The default step is 1e-7: an exact gradient gives tiny values everywhere.
    forward, J, exact = cases.smooth_cost(rng)
    parameters = cases.random_parameters(rng)
    X, Y, _ = cases.network_case(rng)
    values = _require_block_dict(
        _run(student, name, forward, parameters, cases.as_gradients(exact(_vector(parameters))), X, Y)[0], name)
    if not max(values.values()) < 1e-5:
        fail(f"Called without epsilon on an exact gradient, {name} returned values up to {max(values.values()):.3g}: "
             "the default epsilon must be 1e-7.")


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
        # The first wrong gradient in the order of backpropagation is the root cause; report it.
        for key in diagnoses.BACKWARD_ORDER:
            actual = np.asarray(result[key], dtype=float)
            if actual.shape == expected[key].shape and np.allclose(actual, expected[key], rtol=1e-7, atol=1e-12):
                continue
            fail(f"With a batch of m = {m} examples: " + diagnoses.explain_backward(key, actual, expected[key], m))
