"""Helpers for the gradient-checking assignment (provided to students, not graded).

The fraud-detection network is LINEAR -> RELU -> LINEAR -> RELU -> LINEAR -> SIGMOID
with layer sizes 4 -> 5 -> 3 -> 1. Data is stored column-wise: X has shape (4, m),
one column per payment, and Y has shape (1, m) with 1 for fraud.

Parameters live in a dictionary {"W1", "b1", "W2", "b2", "W3", "b3"}; gradients in a
dictionary with the same names prefixed by "d". To perturb one number at a time,
the gradient check flattens both into a single column vector, always in the order
W1, b1, W2, b2, W3, b3, each array read row by row (NumPy's default "C" order).
"""
import csv
import os

import numpy as np

# Name and shape of every parameter, in the order used for flattening.
LAYER_SIZES = (4, 5, 3, 1)
PARAMETER_SHAPES = {
    "W1": (5, 4), "b1": (5, 1),
    "W2": (3, 5), "b2": (3, 1),
    "W3": (1, 3), "b3": (1, 1),
}
PARAMETER_NAMES = tuple(PARAMETER_SHAPES)
NUM_PARAMETERS = sum(int(np.prod(shape)) for shape in PARAMETER_SHAPES.values())  # 47

PAYMENTS_CSV = os.path.join(os.path.dirname(os.path.abspath(__file__)), "payments.csv")


def sigmoid(z):
    """Logistic function 1 / (1 + exp(-z)), elementwise, for an array of any shape."""
    return 1.0 / (1.0 + np.exp(-z))


def relu(z):
    """Rectified linear unit max(0, z), elementwise, for an array of any shape."""
    return np.maximum(0, z)


def dictionary_to_vector(parameters):
    """Flatten a parameter dictionary into one column vector.

    Arguments:
    parameters -- dict with keys "W1", "b1", "W2", "b2", "W3", "b3" (shapes in PARAMETER_SHAPES)

    Returns:
    theta -- array of shape (47, 1): every parameter in the order W1, b1, ..., b3, row-major
    keys  -- list of 47 names; keys[i] is the parameter that theta[i] belongs to
    """
    theta = np.concatenate([np.reshape(parameters[name], (-1, 1)) for name in PARAMETER_NAMES])
    keys = [name for name in PARAMETER_NAMES for _ in range(int(np.prod(PARAMETER_SHAPES[name])))]
    return theta.astype(float), keys


def vector_to_dictionary(theta):
    """Inverse of dictionary_to_vector: cut a (47, 1) column back into named arrays.

    Returns a dict of fresh arrays with the shapes in PARAMETER_SHAPES.
    """
    theta = np.asarray(theta, dtype=float).reshape(-1)
    parameters, start = {}, 0
    for name in PARAMETER_NAMES:
        shape = PARAMETER_SHAPES[name]
        size = int(np.prod(shape))
        parameters[name] = theta[start:start + size].reshape(shape).copy()
        start += size
    return parameters


def gradients_to_vector(gradients):
    """Flatten the gradients "dW1", "db1", ..., "db3" into a (47, 1) column vector.

    The order matches dictionary_to_vector, so entry i of both vectors refers to the
    same parameter. Other keys of the dictionary (such as "dZ1") are ignored.
    """
    return np.concatenate([np.reshape(gradients["d" + name], (-1, 1)) for name in PARAMETER_NAMES]).astype(float)


def forward_propagation_n(X, Y, parameters):
    """Run the network on X and return the binary cross-entropy cost.

    Arguments:
    X -- inputs, shape (4, m)
    Y -- labels in {0, 1}, shape (1, m) or (m,)
    parameters -- dict of "W1", "b1", "W2", "b2", "W3", "b3"

    Returns:
    cost  -- the cost averaged over the m examples, a float
    cache -- (Z1, A1, W1, b1, Z2, A2, W2, b2, Z3, A3, W3, b3), what backpropagation needs
    """
    W1, b1 = parameters["W1"], parameters["b1"]
    W2, b2 = parameters["W2"], parameters["b2"]
    W3, b3 = parameters["W3"], parameters["b3"]
    m = X.shape[1]

    Z1 = W1 @ X + b1
    A1 = relu(Z1)
    Z2 = W2 @ A1 + b2
    A2 = relu(Z2)
    Z3 = W3 @ A2 + b3
    A3 = sigmoid(Z3)

    # Binary cross-entropy: J = -(1/m) * sum(y log a + (1 - y) log(1 - a))
    cost = -np.sum(Y * np.log(A3) + (1 - Y) * np.log(1 - A3)) / m
    cache = (Z1, A1, W1, b1, Z2, A2, W2, b2, Z3, A3, W3, b3)
    return float(cost), cache


def backward_propagation_n(X, Y, cache):
    """Backpropagation for the network above, as the fraud team wrote it.

    Arguments:
    X, Y  -- the inputs and labels given to forward_propagation_n
    cache -- the cache returned by forward_propagation_n

    Returns:
    gradients -- dict with the derivative of the cost with respect to every
                 intermediate value and parameter: "dZ3", "dW3", "db3", "dA2", "dZ2",
                 "dW2", "db2", "dA1", "dZ1", "dW1", "db1"

    Warning: do not trust this function until it has passed a gradient check.
    """
    (Z1, A1, W1, b1, Z2, A2, W2, b2, Z3, A3, W3, b3) = cache
    m = X.shape[1]

    dZ3 = A3 - Y
    dW3 = dZ3 @ A2.T / m
    db3 = np.sum(dZ3, axis=1, keepdims=True) / m

    dA2 = W3.T @ dZ3
    dZ2 = dA2 * (A2 > 0)
    dW2 = dZ2 @ A1.T / m * 2
    db2 = np.sum(dZ2, axis=1, keepdims=True) / m

    dA1 = W2.T @ dZ2
    dZ1 = dA1 * (A1 > 0)
    dW1 = dZ1 @ X.T / m
    db1 = 4.0 / m * np.sum(dZ1, axis=1, keepdims=True)

    return {"dZ3": dZ3, "dW3": dW3, "db3": db3,
            "dA2": dA2, "dZ2": dZ2, "dW2": dW2, "db2": db2,
            "dA1": dA1, "dZ1": dZ1, "dW1": dW1, "db1": db1}


def seed1_case():
    """The case of the original exercise: a batch of 3 examples and random parameters.

    Returns X of shape (4, 3), Y = [1, 1, 0] of shape (1, 3), and a parameter dict,
    all drawn with np.random.seed(1) in this order: X, then W1, b1, W2, b2, W3, b3.
    """
    np.random.seed(1)
    X = np.random.randn(4, 3)
    Y = np.array([[1, 1, 0]])
    parameters = {name: np.random.randn(*shape) for name, shape in PARAMETER_SHAPES.items()}
    return X, Y, parameters


def initialize_parameters(seed=0):
    """He initialization of the network (random weights scaled by sqrt(2 / fan_in), zero biases)."""
    rng = np.random.default_rng(seed)
    parameters = {}
    for layer in (1, 2, 3):
        fan_in, fan_out = LAYER_SIZES[layer - 1], LAYER_SIZES[layer]
        parameters[f"W{layer}"] = rng.standard_normal((fan_out, fan_in)) * np.sqrt(2.0 / fan_in)
        parameters[f"b{layer}"] = np.zeros((fan_out, 1))
    return parameters


def read_payments(path=PAYMENTS_CSV):
    """Read the synthetic card payments as they are in the file, in their own units.

    Returns:
    raw -- the features, shape (4, m): amount in dollars, hour of the day (0 to 23),
           distance in km, merchant risk (a score between 0 and 1)
    Y -- fraud labels, shape (1, m)
    feature_names -- the 4 column names
    """
    with open(path, newline="") as handle:
        rows = list(csv.DictReader(handle))
    feature_names = [name for name in rows[0] if name != "fraud"]
    raw = np.array([[float(row[name]) for name in feature_names] for row in rows]).T
    Y = np.array([[int(row["fraud"]) for row in rows]])
    return raw, Y, feature_names


def load_payments(path=PAYMENTS_CSV):
    """Read the synthetic card payments, standardized for the network.

    Returns:
    X -- standardized features, shape (4, m): amount, hour, distance, merchant risk
    Y -- fraud labels, shape (1, m)
    feature_names -- the 4 column names
    """
    raw, Y, feature_names = read_payments(path)
    # Standardize each feature so that no input dominates the first layer.
    X = (raw - raw.mean(axis=1, keepdims=True)) / raw.std(axis=1, keepdims=True)
    return X, Y, feature_names


def train(X, Y, backward, parameters, learning_rate=0.5, num_iterations=2000):
    """Plain gradient descent on the network; returns (parameters, costs), one cost per iteration.

    backward -- the backpropagation function to trust, called as backward(X, Y, cache)
    """
    parameters = {name: value.copy() for name, value in parameters.items()}
    costs = []
    for _ in range(num_iterations):
        cost, cache = forward_propagation_n(X, Y, parameters)
        gradients = backward(X, Y, cache)
        for name in PARAMETER_NAMES:
            parameters[name] = parameters[name] - learning_rate * gradients["d" + name]
        costs.append(cost)
    return parameters, costs


def predict(X, parameters):
    """Fraud predictions (0 or 1) for the columns of X, thresholding the probability at 0.5."""
    # Labels are not needed for a prediction; the cost computed alongside is discarded.
    with np.errstate(divide="ignore", invalid="ignore"):
        _, cache = forward_propagation_n(X, np.zeros((1, X.shape[1])), parameters)
    A3 = cache[9]
    return (A3 > 0.5).astype(int)


# Okabe and Ito's palette, told apart with every common colour-vision deficiency; the plots
# also tell their classes apart by shape or hatching, so that none depends on colour alone.
PASS_COLOR, FAIL_COLOR = "#0072B2", "#D55E00"   # blue, vermillion


def plot_parameter_differences(differences, threshold=2e-7, title="Relative difference per parameter"):
    """Bar chart (log scale) of {parameter name: relative difference}, each bar labelled with its value.

    A bar passes (plain blue) only below the threshold; above it, or nan (0/0 computed without
    the rule), it fails (hatched vermillion). The title ends with which blocks fail, read from
    the values drawn.
    """
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    names = [name for name in PARAMETER_NAMES if name in differences]
    raw = [float(differences[name]) for name in names]
    passed = [value < threshold for value in raw]   # nan < threshold is False: a nan fails
    # A perfect match is exactly 0, which a log axis cannot show: draw it at a tiny floor; draw a
    # nan as a full bar, since it is no number at all. The labels give the true values.
    floor = 1e-16
    values = [1.0 if np.isnan(value) else max(value, floor) for value in raw]
    fig, ax = plt.subplots(figsize=(8, 4))
    bars = ax.bar(names, values, color=[PASS_COLOR if ok else FAIL_COLOR for ok in passed],
                  edgecolor="black", linewidth=0.6)
    for bar, ok in zip(bars, passed):
        bar.set_hatch(None if ok else "//")
    for bar, value in zip(bars, raw):
        label = "nan" if np.isnan(value) else "0" if value == 0 else f"{value:.3f}" if value >= 1e-3 else f"{value:.1e}"
        ax.annotate(label, (bar.get_x() + bar.get_width() / 2, bar.get_height()), xytext=(0, 2),
                    textcoords="offset points", ha="center", va="bottom", fontsize=9)
    ax.set_yscale("log")
    ax.set_ylim(min(min(values), threshold) / 10, 10)   # room above the tallest bar for its label
    ax.axhline(threshold, color="black", linestyle="--", linewidth=1, zorder=3)
    ax.set_xlabel("parameter block")
    ax.set_ylabel("relative difference (log scale)")
    failing = [name for name, ok in zip(names, passed) if not ok]
    verdict = f"{', '.join(failing)} fail" if failing else f"all {len(names)} pass"
    ax.set_title(f"{title}: {verdict}")
    # The legend outside the axes, so that it hides neither a bar nor the threshold line.
    ax.legend(handles=[Patch(facecolor=PASS_COLOR, edgecolor="black", label="passes: below the threshold"),
                       Patch(facecolor=FAIL_COLOR, edgecolor="black", hatch="//", label="fails: at or above it"),
                       Line2D([], [], color="black", linestyle="--", label=f"threshold {threshold:g}")],
              loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)
    fig.tight_layout()
    plt.show()
