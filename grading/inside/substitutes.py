"""Stand-ins for the helpers that a student's check calls, described by plain data.

A hidden test describes each stand-in as a small dict (a kind and its numbers), and `build`
turns the description into the function that replaces `forward_propagation`,
`backward_propagation` or `forward_propagation_n` while the student's code runs. Because
the descriptions are plain data, they can also cross a process boundary as JSON.

This module imports nothing but NumPy, so that a sandboxed process can load it by path
without the rest of the grading package; the helper module is passed in.
"""
import numpy as np


def power_cost(a, p):
    """Description of J(theta) = a * theta**p (the notebook's model is a = x, p = 1)."""
    return {"kind": "power_cost", "a": float(a), "p": int(p)}


def power_derivative(a, p, scale=1.0):
    """Description of dJ/dtheta = scale * p * a * theta**(p-1): the exact derivative when scale is 1."""
    return {"kind": "power_derivative", "a": float(a), "p": int(p), "scale": float(scale)}


def cubic_sum_cost(c, d, u=None):
    """Description of J(theta) = sum(c * theta**3 + d * theta**2) + (u . theta)**2 / 2 over the 47 parameters.

    The last term couples the parameters: a shift of one entry changes every partial derivative, as
    in a network (without it, a check whose earlier shifts are never undone would still be right)."""
    spec = {"kind": "cubic_sum_cost", "c": [float(v) for v in c], "d": [float(v) for v in d]}
    if u is not None:
        spec["u"] = [float(v) for v in u]
    return spec


def network_cost():
    """Description of the network's own cost, forward_propagation_n from gc_utils."""
    return {"kind": "network_cost"}


def central_gradapprox(cost):
    """Description of a correct gradapprox_n over the stand-in `cost` (another description): what a
    function that relies on gradapprox_n is tested with, so that only gradapprox_n's own exercise
    pays for a mistake in it."""
    return {"kind": "central_gradapprox", "cost": cost}


def cost_of_vector(spec):
    """The cost as a function of a 1-D parameter array, for the trusted side's own computations."""
    kind = spec["kind"]
    if kind == "power_cost":
        return lambda theta: spec["a"] * float(np.asarray(theta).reshape(-1)[0]) ** spec["p"]
    if kind == "cubic_sum_cost":
        c, d = np.array(spec["c"]), np.array(spec["d"])
        u = np.array(spec.get("u", np.zeros(len(c))))

        def J(theta):
            theta = np.asarray(theta, float).reshape(-1)
            return float(np.sum(c * theta ** 3 + d * theta ** 2) + 0.5 * np.dot(u, theta) ** 2)
        return J
    raise ValueError(f"no vector form for {kind}")


def build(spec, helpers):
    """The function that stands in for a helper, with that helper's signature.

    helpers -- the gc_utils module (for dictionary_to_vector and the network's forward pass)
    """
    kind = spec["kind"]
    if kind == "power_cost":
        a, p = spec["a"], spec["p"]

        def forward_propagation(x, theta):
            return a * theta ** p
        return forward_propagation
    if kind == "power_derivative":
        a, p, scale = spec["a"], spec["p"], spec["scale"]

        def backward_propagation(x, theta):
            return scale * p * a * theta ** (p - 1)
        return backward_propagation
    if kind == "cubic_sum_cost":
        J = cost_of_vector(spec)
        network, to_vector = helpers.forward_propagation_n, helpers.dictionary_to_vector

        def forward_propagation_n(X, Y, parameters):
            # The network's own cache, so that code which (wrongly) runs backward_propagation_n on
            # it still runs, and its mistake can be recognized from the number it returns.
            with np.errstate(all="ignore"):
                cache = network(X, Y, parameters)[1]
            return J(to_vector(parameters)[0]), cache
        return forward_propagation_n
    if kind == "network_cost":
        return helpers.forward_propagation_n
    if kind == "central_gradapprox":
        forward = build(spec["cost"], helpers)

        def gradapprox_n(parameters, X, Y, epsilon=1e-6):
            # (J(theta + eps e_i) - J(theta - eps e_i)) / (2 eps), each on a fresh copy of theta
            theta, _ = helpers.dictionary_to_vector(parameters)
            approximation = np.zeros((theta.shape[0], 1))
            for i in range(theta.shape[0]):
                plus, minus = np.copy(theta), np.copy(theta)
                plus[i] += epsilon
                minus[i] -= epsilon
                with np.errstate(all="ignore"):
                    J_plus = forward(X, Y, helpers.vector_to_dictionary(plus))[0]
                    J_minus = forward(X, Y, helpers.vector_to_dictionary(minus))[0]
                approximation[i] = (J_plus - J_minus) / (2 * epsilon)
            return approximation
        return gradapprox_n
    raise ValueError(f"unknown stand-in {kind!r}")
