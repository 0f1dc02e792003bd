"""The provided helpers: flattening order, round trips, the network's shapes and cost."""
import numpy as np
import pytest

from grading.checks.provided import gc_utils

pytestmark = pytest.mark.fast   # in make check's lane


def test_flattening_order_is_w1_b1_w2_b2_w3_b3_row_major():
    parameters = {name: np.arange(np.prod(shape)).reshape(shape) + 100 * k
                  for k, (name, shape) in enumerate(gc_utils.PARAMETER_SHAPES.items())}
    theta, keys = gc_utils.dictionary_to_vector(parameters)
    assert theta.shape == (47, 1)
    assert keys[:20] == ["W1"] * 20 and keys[20:25] == ["b1"] * 5 and keys[-1] == "b3"
    assert theta[:4, 0].tolist() == [0, 1, 2, 3]          # first row of W1
    assert theta[20, 0] == 100 and theta[25, 0] == 200    # b1 then W2 start
    back = gc_utils.vector_to_dictionary(theta)
    for name in parameters:
        assert np.array_equal(back[name], parameters[name])
    gradients = {"d" + name: value for name, value in parameters.items()}
    assert np.array_equal(gc_utils.gradients_to_vector(gradients), theta)


def test_vector_to_dictionary_returns_fresh_arrays():
    theta = np.zeros((47, 1))
    parameters = gc_utils.vector_to_dictionary(theta)
    parameters["W1"][0, 0] = 5.0
    assert theta[0, 0] == 0.0


def test_forward_shapes_and_cost_of_the_seed1_case():
    X, Y, parameters = gc_utils.seed1_case()
    cost, cache = gc_utils.forward_propagation_n(X, Y, parameters)
    assert isinstance(cost, float) and cost > 0
    assert [a.shape for a in cache] == [(5, 3), (5, 3), (5, 4), (5, 1), (3, 3), (3, 3), (3, 5), (3, 1),
                                        (1, 3), (1, 3), (1, 3), (1, 1)]
    A3 = cache[9]
    expected = -np.mean(Y * np.log(A3) + (1 - Y) * np.log(1 - A3))
    assert abs(cost - expected) < 1e-12


def test_payments_are_deterministic_and_learnable():
    import importlib.util

    spec = importlib.util.spec_from_file_location("make_payments", gc_utils.PAYMENTS_CSV.replace("payments.csv", "make_payments.py"))
    make_payments = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(make_payments)
    rows = make_payments.make_payments()
    X, Y, names = gc_utils.load_payments()
    assert X.shape == (4, len(rows)) and Y.shape == (1, len(rows))
    assert [row["fraud"] for row in rows] == Y.ravel().tolist(), "payments.csv differs from make_payments.py"
    assert 0.05 < Y.mean() < 0.3
    assert np.allclose(X.mean(axis=1), 0) and np.allclose(X.std(axis=1), 1)
