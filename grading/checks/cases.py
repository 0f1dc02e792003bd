"""Random cases for the hidden tests: fresh on every run, so a hard-coded answer cannot pass.

Every generator takes a numpy Generator, which the checks create unseeded. The notebook's own
random state (np.random.seed in a student's cell) plays no part.
"""
import numpy as np

from grading.checks.provided import gc_utils
from grading.inside import substitutes

NAMES = gc_utils.PARAMETER_NAMES


def new_rng():
    return np.random.default_rng()


def scalar(rng, low=0.5, high=3.0):
    """A real number with magnitude in [low, high] and a random sign (never near 0)."""
    return float(rng.choice([-1.0, 1.0]) * rng.uniform(low, high))


def scalar_case(rng):
    """Inputs (x, theta) for the one-parameter model."""
    return scalar(rng), scalar(rng)


def smooth_cost(rng, cubic=True, ignored=()):
    """A smooth cost of the 47 parameters with a known gradient, to stand in for the network.

    J(theta) = sum(c * theta^3 + d * theta^2) + (u . theta)^2 / 2: its central difference is exactly
    gradient + c * eps^2, so a large eps separates the central difference from the others; the
    coupling u makes every partial derivative depend on every entry, as in a network.
    cubic=False sets c = 0: a quadratic, whose central difference is exact at any eps (up to round-off).
    ignored -- parameter names whose c and d are 0: the cost does not depend on them, so their rows of
               the gradient and of the central difference are exactly 0
    Returns (description for grading.inside.substitutes, J of a (47,) vector, its gradient).
    """
    n = gc_utils.NUM_PARAMETERS
    c = rng.uniform(0.5, 2.0, n) * rng.choice([-1, 1], n) if cubic else np.zeros(n)
    d = rng.uniform(-1.0, 1.0, n)
    u = rng.normal(0.0, 0.3, n)
    for name in ignored:
        c[block_slices()[name]] = d[block_slices()[name]] = u[block_slices()[name]] = 0.0
    spec = substitutes.cubic_sum_cost(c, d, u)

    def gradient(theta):
        theta = np.asarray(theta, dtype=float).reshape(-1)
        return 3 * c * theta ** 2 + 2 * d * theta + u * np.dot(u, theta)

    return spec, substitutes.cost_of_vector(spec), gradient


def random_parameters(rng, scale=1.0):
    return {name: scale * rng.standard_normal(shape) for name, shape in gc_utils.PARAMETER_SHAPES.items()}


def parameters_for(rng, gradient, floor=0.1):
    """Random parameters at which every parameter block of `gradient` (a function of the (47,)
    vector) has a norm above floor, so that at eps = 1e-7 each block's relative difference is
    round-off far below 1e-5, however small the block."""
    while True:
        parameters = random_parameters(rng)
        g = gradient(gc_utils.dictionary_to_vector(parameters)[0])
        if min(np.linalg.norm(g[rows]) for rows in block_slices().values()) > floor:
            return parameters


def as_gradients(vector):
    """A (47,) gradient vector as a gradients dict {"dW1": ..., "db3": ...}."""
    return {"d" + name: value for name, value in gc_utils.vector_to_dictionary(vector).items()}


def block_slices(order=NAMES):
    """{name: slice of the 47-vector that belongs to that parameter}, the blocks laid out in `order`.

    The default is the order of dictionary_to_vector; another order models a student who cuts
    the vector in the wrong places.
    """
    slices, start = {}, 0
    for name in order:
        size = int(np.prod(gc_utils.PARAMETER_SHAPES[name]))
        slices[name] = slice(start, start + size)
        start += size
    return slices


def corrupt(rng, gradient, blocks):
    """A copy of a (47,) gradient with the named blocks wrong: noise added, half the time after scaling.

    The noise matters: a block that is only scaled stays parallel to the right one, and then some
    wrong formulas (such as dividing by ||grad + gradapprox||) happen to give the right number.
    """
    wrong = np.array(gradient, dtype=float)
    slices = block_slices()
    for name in blocks:
        part = wrong[slices[name]]
        if rng.random() < 0.5:
            part *= rng.uniform(1.5, 3.0)
        part += rng.normal(0.0, 0.5 * (np.linalg.norm(part) / np.sqrt(part.size) + 0.1), part.size)
        wrong[slices[name]] = part
    return wrong
