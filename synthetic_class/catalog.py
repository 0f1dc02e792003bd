"""Realistic student code: mistakes the hidden tests must catch, and correct variants they must accept.

Each entry replaces one solution cell of the instructor's complete solution, so a submission
built from it differs from a perfect one in exactly one place. The test suite grades every
entry with the real `nbgrader autograde` (tests/test_catalog.py) and runs the hidden tests on
it directly (tests/test_checks.py); the demo borrows a few as its synthetic students.

Most entries are written as an edit of a plain correct implementation (the BASE_* texts below),
so that the mistake is the visible difference; the rest are whole cells written another way.
"""
from dataclasses import dataclass

from grading.assignment import NOTEBOOKS, functions_in

FUNCTIONS_1D, FUNCTIONS_ND = (functions_in(name) for name in NOTEBOOKS)


@dataclass(frozen=True)
class Variant:
    """One way to write a solution cell, and how grading must treat it.

    A mistake costs the points of its own function only (`loses`, the cell's function): the tests
    of every other function, visible and hidden, swap in known-good versions of what it relies on.
    Graded, its function scores 0 (a wrong value) or loses the points of the minor `part` it got
    wrong (gc_feedback.POINTS), and every other function of the notebook keeps full marks. Its
    test cell says `diagnosis` whether the hidden tests run (graded) or not (Validate, the
    release): both run the same checks (gc_feedback.py), on other cases.
    """
    name: str                # short id, also the synthetic student's name
    cell: str                # grade_id of the solution cell it replaces
    code: str                # the new source of that cell
    loses: tuple = ()        # (cell,) for a mistake; empty for a correct variant (full marks)
    diagnosis: str = ""      # words of what its test cell says, visible and hidden tests alike
    part: str = "value"      # the part of its function it costs (gc_feedback.POINTS); "value": all its points


def _edit(base, *changes):
    """`base` with each (old, new) replaced; every `old` must occur in it exactly once."""
    for old, new in changes:
        assert base.count(old) == 1, f"{old!r} occurs {base.count(old)} times"
        base = base.replace(old, new)
    return base


BASE_FORWARD = '''
def forward_propagation(x, theta):
    J = theta * x
    return J
'''

BASE_BACKWARD = '''
def backward_propagation(x, theta):
    dtheta = x
    return dtheta
'''

# The relative difference and the message, shared by gradient_check and gradient_check_n.
RELATIVE = '''
    numerator = np.linalg.norm(grad - gradapprox)
    denominator = np.linalg.norm(grad) + np.linalg.norm(gradapprox)
    difference = float(numerator / denominator) if denominator > 0 else 0.0
'''
MESSAGE = '''
    if print_msg:
        if difference < 2e-7:
            print(f"The gradient is correct: relative difference = {difference:.3e}")
        else:
            print(f"There is a mistake in the gradient: relative difference = {difference:.3e}")
'''

BASE_GRADIENT_CHECK = '''
def gradient_check(x, theta, epsilon=1e-7, print_msg=False):
    J_plus = forward_propagation(x, theta + epsilon)
    J_minus = forward_propagation(x, theta - epsilon)
    gradapprox = (J_plus - J_minus) / (2 * epsilon)
    grad = backward_propagation(x, theta)
''' + RELATIVE + MESSAGE + '''
    return difference
'''

BASE_GRADAPPROX_N = '''
def gradapprox_n(parameters, X, Y, epsilon=1e-6):
    parameters_values, _ = dictionary_to_vector(parameters)
    num_parameters = parameters_values.shape[0]
    gradapprox = np.zeros((num_parameters, 1))
    for i in range(num_parameters):
        theta_plus = np.copy(parameters_values)
        theta_plus[i] += epsilon
        J_plus, _ = forward_propagation_n(X, Y, vector_to_dictionary(theta_plus))
        theta_minus = np.copy(parameters_values)
        theta_minus[i] -= epsilon
        J_minus, _ = forward_propagation_n(X, Y, vector_to_dictionary(theta_minus))
        gradapprox[i] = (J_plus - J_minus) / (2 * epsilon)
    return gradapprox
'''

BASE_GRADIENT_CHECK_N = BASE_GRADAPPROX_N + '''

def gradient_check_n(parameters, gradients, X, Y, epsilon=1e-6, print_msg=False):
    grad = gradients_to_vector(gradients)
    gradapprox = gradapprox_n(parameters, X, Y, epsilon)
''' + RELATIVE + MESSAGE + '''
    return difference
'''

BASE_BY_PARAMETER = '''
def gradient_check_by_parameter(parameters, gradients, X, Y, epsilon=1e-6):
    _, keys = dictionary_to_vector(parameters)
    keys = np.array(keys)
    grad = gradients_to_vector(gradients)
    gradapprox = gradapprox_n(parameters, X, Y, epsilon)
    differences = {}
    for name in PARAMETER_NAMES:
        rows = keys == name
        numerator = np.linalg.norm(grad[rows] - gradapprox[rows])
        denominator = np.linalg.norm(grad[rows]) + np.linalg.norm(gradapprox[rows])
        differences[name] = float(numerator / denominator) if denominator > 0 else 0.0
    return differences
'''

BASE_FIXED = '''
def backward_propagation_n_fixed(X, Y, cache):
    (Z1, A1, W1, b1, Z2, A2, W2, b2, Z3, A3, W3, b3) = cache
    m = X.shape[1]

    dZ3 = A3 - Y
    dW3 = dZ3 @ A2.T / m
    db3 = np.sum(dZ3, axis=1, keepdims=True) / m

    dA2 = W3.T @ dZ3
    dZ2 = dA2 * (A2 > 0)
    dW2 = dZ2 @ A1.T / m
    db2 = np.sum(dZ2, axis=1, keepdims=True) / m

    dA1 = W2.T @ dZ2
    dZ1 = dA1 * (A1 > 0)
    dW1 = dZ1 @ X.T / m
    db1 = np.sum(dZ1, axis=1, keepdims=True) / m

    return {"dZ3": dZ3, "dW3": dW3, "db3": db3, "dA2": dA2, "dZ2": dZ2, "dW2": dW2, "db2": db2,
            "dA1": dA1, "dZ1": dZ1, "dW1": dW1, "db1": db1}
'''

# gradapprox_n as released: its stub.
STUB_GRADAPPROX_N = '''
def gradapprox_n(parameters, X, Y, epsilon=1e-6):
    # YOUR CODE HERE
    raise NotImplementedError()
'''

# Pieces of the bases that many entries change.
DENOMINATOR = "np.linalg.norm(grad) + np.linalg.norm(gradapprox)"
BLOCK_DENOMINATOR = "np.linalg.norm(grad[rows]) + np.linalg.norm(gradapprox[rows])"
HAND_WRITTEN_NORMS = (("np.linalg.norm(grad - gradapprox)", "np.sqrt(np.sum((grad - gradapprox) ** 2))"),
                      (DENOMINATOR, "np.sqrt(np.sum(grad ** 2)) + np.sqrt(np.sum(gradapprox ** 2))"))

def _mistake(name, cell, code, diagnosis, part="value"):
    """A wrong `cell`: its function alone loses, all its points or those of `part`. The tests of every
    other function swap in known-good versions of what that function relies on (the cost, the
    derivative, gradapprox_n)."""
    return Variant(name, cell, code, (cell,), diagnosis, part)


# A gradapprox_n that shifts the parameter arrays in place and never shifts them back: a mistake.
SHIFTED_IN_PLACE = '''
def gradapprox_n(parameters, X, Y, epsilon=1e-6):
    # Shift each entry of the parameter arrays in place, one at a time.
    gradapprox = []
    for name in PARAMETER_NAMES:
        values = parameters[name]
        for index in np.ndindex(values.shape):
            values[index] += epsilon
            J_plus, _ = forward_propagation_n(X, Y, parameters)
            values[index] -= 2 * epsilon
            J_minus, _ = forward_propagation_n(X, Y, parameters)
            gradapprox.append((J_plus - J_minus) / (2 * epsilon))
    return np.array(gradapprox).reshape(-1, 1)
'''


MISTAKES = [
    # --- forward_propagation: gradient_check's tests, visible and hidden, swap in a known cost, so only it loses.
    _mistake("fwd_returns_x", "forward_propagation", _edit(BASE_FORWARD, ("J = theta * x", "J = x")),
             "you returned x"),
    _mistake("fwd_hard_coded_8", "forward_propagation", _edit(BASE_FORWARD, ("J = theta * x", "J = 8")),
             "returns 8 whatever its inputs"),
    _mistake("fwd_prints_instead_of_returning", "forward_propagation", _edit(BASE_FORWARD, ("return J", "print(J)")),
             "forward_propagation returned None"),
    _mistake("fwd_float32", "forward_propagation",
             _edit(BASE_FORWARD, ("J = theta * x", "J = np.float32(theta) * np.float32(x)  # saves memory")),
             "close, but not equal"),
    _mistake("fwd_rounded", "forward_propagation", _edit(BASE_FORWARD, ("J = theta * x", "J = round(theta * x, 4)")),
             "close, but not equal"),

    # --- backward_propagation
    _mistake("bwd_returns_theta", "backward_propagation", _edit(BASE_BACKWARD, ("dtheta = x", "dtheta = theta")),
             "you returned theta"),
    _mistake("bwd_returns_J", "backward_propagation", _edit(BASE_BACKWARD, ("dtheta = x", "dtheta = theta * x")),
             "you returned J = theta * x itself"),
    _mistake("bwd_hard_coded_2", "backward_propagation", _edit(BASE_BACKWARD, ("dtheta = x", "dtheta = 2")),
             "returns 2 whatever its inputs"),
    _mistake("bwd_float32", "backward_propagation", _edit(BASE_BACKWARD, ("dtheta = x", "dtheta = np.float32(x)")),
             "close, but not equal"),

    # --- gradient_check
    _mistake("one_sided_1d", "gradient_check", _edit(
        BASE_GRADIENT_CHECK, ("J_minus = forward_propagation(x, theta - epsilon)", "J = forward_propagation(x, theta)"),
        ("(J_plus - J_minus) / (2 * epsilon)", "(J_plus - J) / epsilon")),
        "one-sided difference (J(theta + eps) - J(theta)) / eps"),
    _mistake("gc_backward_difference", "gradient_check", _edit(
        BASE_GRADIENT_CHECK, ("J_plus = forward_propagation(x, theta + epsilon)", "J = forward_propagation(x, theta)"),
        ("(J_plus - J_minus) / (2 * epsilon)", "(J - J_minus) / epsilon")),
        "one-sided difference (J(theta) - J(theta - eps)) / eps"),
    _mistake("gc_missing_2", "gradient_check", _edit(BASE_GRADIENT_CHECK, ("/ (2 * epsilon)", "/ epsilon")),
             "twice the central difference"),
    _mistake("gc_precedence", "gradient_check", _edit(BASE_GRADIENT_CHECK, ("/ (2 * epsilon)", "/ 2 * epsilon")),
             "(J_plus - J_minus) / 2 * epsilon divides by 2"),
    _mistake("gc_hard_coded_step", "gradient_check", _edit(
        BASE_GRADIENT_CHECK, ("print_msg=False):\n", "print_msg=False):\n    epsilon = 1e-7\n")),
        "ignores its epsilon argument"),
    _mistake("gc_shifts_x", "gradient_check", _edit(
        BASE_GRADIENT_CHECK, ("forward_propagation(x, theta + epsilon)", "forward_propagation(x + epsilon, theta)"),
        ("forward_propagation(x, theta - epsilon)", "forward_propagation(x - epsilon, theta)")),
        "Your approximation is 0"),
    _mistake("gc_compares_with_itself", "gradient_check", _edit(
        BASE_GRADIENT_CHECK, ("grad = backward_propagation(x, theta)", "grad = (J_plus - J_minus) / (2 * epsilon)")),
        "you compared a gradient with itself"),
    _mistake("gc_no_denominator", "gradient_check", _edit(
        BASE_GRADIENT_CHECK, ("float(numerator / denominator)", "float(numerator)")),
        "without dividing"),
    _mistake("gc_norm_of_sum", "gradient_check", _edit(
        BASE_GRADIENT_CHECK, (DENOMINATOR, "np.linalg.norm(grad + gradapprox)")),
        "You divided by ||grad + gradapprox||"),
    _mistake("gc_squared_norms", "gradient_check", _edit(
        BASE_GRADIENT_CHECK, ("np.linalg.norm(grad - gradapprox)", "np.sum((grad - gradapprox) ** 2)"),
        (DENOMINATOR, "np.sum(grad ** 2) + np.sum(gradapprox ** 2)")),
        "You used squared norms"),
    _mistake("gc_prints_always", "gradient_check", _edit(BASE_GRADIENT_CHECK, ("if print_msg:", "if True:")),
             "although print_msg was False", part="print_msg"),
    _mistake("gc_verdict_reversed", "gradient_check", _edit(
        BASE_GRADIENT_CHECK, ("if difference < 2e-7:", "if difference > 2e-7:")),
        "the verdict is reversed", part="print_msg"),
    _mistake("gc_prints_never", "gradient_check", _edit(BASE_GRADIENT_CHECK, (MESSAGE, "\n")), "printed nothing", part="print_msg"),
    _mistake("gc_threshold_is_epsilon", "gradient_check", _edit(
        BASE_GRADIENT_CHECK, ("if difference < 2e-7:", "if difference < epsilon:")),
        "one message for every difference below 2e-07", part="print_msg"),
    _mistake("gc_rounded", "gradient_check", _edit(
        BASE_GRADIENT_CHECK, ("float(numerator / denominator)", "round(float(numerator / denominator), 8)")),
        "Your function rounds its result"),
    _mistake("gc_return_inside_print_msg", "gradient_check", _edit(
        BASE_GRADIENT_CHECK, ("    return difference\n", ""),
        ('print(f"There is a mistake in the gradient: relative difference = {difference:.3e}")\n',
         'print(f"There is a mistake in the gradient: relative difference = {difference:.3e}")\n'
         '        return difference\n')),
        "returns None unless print_msg is True"),
    _mistake("gc_backward_at_theta_plus", "gradient_check", _edit(
        BASE_GRADIENT_CHECK, ("grad = backward_propagation(x, theta)", "grad = backward_propagation(x, theta + epsilon)")),
        "grad is the derivative at theta + epsilon"),
    _mistake("gc_theta_not_restored", "gradient_check", _edit(
        BASE_GRADIENT_CHECK,
        ("    J_plus = forward_propagation(x, theta + epsilon)\n    J_minus = forward_propagation(x, theta - epsilon)\n",
         "    theta = theta + epsilon\n    J_plus = forward_propagation(x, theta)\n"
         "    theta = theta - 2 * epsilon\n    J_minus = forward_propagation(x, theta)\n")),
        "grad is the derivative at theta - epsilon"),

    # --- gradient_check_n, and its helper gradapprox_n
    _mistake("gcn_calls_stub_gradapprox", "gradient_check_n", _edit(
        BASE_GRADIENT_CHECK_N, (BASE_GRADAPPROX_N, STUB_GRADAPPROX_N)),
        "gradient_check_n calls gradapprox_n, which still raises NotImplementedError"),
    _mistake("gcn_nan_for_zero_gradients", "gradient_check_n", _edit(
        BASE_GRADIENT_CHECK_N, ("float(numerator / denominator) if denominator > 0 else 0.0", "float(numerator / denominator)")),
        "0/0 is defined as 0.0, but gradient_check_n returned nan"),
    _mistake("gcn_gradapprox_left_stub", "gradient_check_n", STUB_GRADAPPROX_N + _edit(
        BASE_GRADIENT_CHECK_N[len(BASE_GRADAPPROX_N):],
        ("    gradapprox = gradapprox_n(parameters, X, Y, epsilon)\n",
         "    # the approximation, computed here\n" + BASE_GRADAPPROX_N.split("\n", 2)[2].rsplit("    return", 1)[0])),
        "gradapprox_n, which the exercise asks for too, still raises NotImplementedError"),
    _mistake("gcn_one_sided", "gradient_check_n", _edit(
        BASE_GRADIENT_CHECK_N,
        ("    for i in", "    J, _ = forward_propagation_n(X, Y, parameters)\n    for i in"),
        ("        theta_minus = np.copy(parameters_values)\n        theta_minus[i] -= epsilon\n"
         "        J_minus, _ = forward_propagation_n(X, Y, vector_to_dictionary(theta_minus))\n", ""),
        ("(J_plus - J_minus) / (2 * epsilon)", "(J_plus - J) / epsilon")),
        "one-sided difference (J(theta + eps) - J(theta)) / eps"),
    _mistake("gcn_hard_coded_step", "gradient_check_n", _edit(
        BASE_GRADIENT_CHECK_N, ("epsilon=1e-6):\n", "epsilon=1e-6):\n    epsilon = 1e-6  # the recommended step\n")),
        "ignores its epsilon argument"),
    _mistake("gcn_global_data", "gradient_check_n", '''
def cost_at(theta):
    """The network's cost and cache at the parameter vector theta."""
    return forward_propagation_n(X, Y, vector_to_dictionary(theta))
''' + _edit(BASE_GRADIENT_CHECK_N,
            ("forward_propagation_n(X, Y, vector_to_dictionary(theta_plus))", "cost_at(theta_plus)"),
            ("forward_propagation_n(X, Y, vector_to_dictionary(theta_minus))", "cost_at(theta_minus)")),
        "not global variables"),
    _mistake("gcn_no_copy", "gradient_check_n", _edit(
        BASE_GRADIENT_CHECK_N, ("theta_plus = np.copy(parameters_values)", "theta_plus = parameters_values"),
        ("theta_minus = np.copy(parameters_values)", "theta_minus = parameters_values")),
        "are not copies"),
    _mistake("gcn_copied_once", "gradient_check_n", _edit(
        BASE_GRADIENT_CHECK_N,
        ("    for i in range(num_parameters):\n        theta_plus = np.copy(parameters_values)\n",
         "    theta_plus = np.copy(parameters_values)\n    theta_minus = np.copy(parameters_values)\n"
         "    for i in range(num_parameters):\n"),
        ("        theta_minus = np.copy(parameters_values)\n", "")),
        "Your shifts accumulate"),
    _mistake("gcn_skips_last", "gradient_check_n", _edit(
        BASE_GRADIENT_CHECK_N, ("range(num_parameters)", "range(num_parameters - 1)")),
        "The last parameter is never approximated"),
    _mistake("gcn_shifted_copy_unused", "gradient_check_n", _edit(
        BASE_GRADIENT_CHECK_N, ("vector_to_dictionary(theta_plus)", "parameters"),
        ("vector_to_dictionary(theta_minus)", "parameters")),
        "Your approximation is 0"),
    _mistake("gcn_flat_gradapprox", "gradient_check_n", _edit(
        BASE_GRADIENT_CHECK_N, ("np.zeros((num_parameters, 1))", "np.zeros(num_parameters)")),
        "broadcasts to a square matrix"),
    _mistake("gcn_mutates_parameters", "gradient_check_n", SHIFTED_IN_PLACE + BASE_GRADIENT_CHECK_N[len(BASE_GRADAPPROX_N):],
        "changed its argument parameters['W1']"),
    _mistake("gcn_epsilon_not_passed", "gradient_check_n", _edit(
        BASE_GRADIENT_CHECK_N, ("gradapprox_n(parameters, X, Y, epsilon)", "gradapprox_n(parameters, X, Y)")),
        "ignores its epsilon argument"),
    _mistake("gcn_ignores_gradients", "gradient_check_n", _edit(
        BASE_GRADIENT_CHECK_N, ("    grad = gradients_to_vector(gradients)\n",
                                "    _, cache = forward_propagation_n(X, Y, parameters)\n"
                                "    grad = gradients_to_vector(backward_propagation_n(X, Y, cache))\n")),
        "You did not use the gradients argument"),
    _mistake("gcn_prints_always", "gradient_check_n", _edit(BASE_GRADIENT_CHECK_N, ("if print_msg:", "if True:")),
             "although print_msg was False", part="print_msg"),
    _mistake("gcn_sentences_swapped", "gradient_check_n", _edit(
        BASE_GRADIENT_CHECK_N, ('print(f"The gradient is correct:', 'print(f"PLACEHOLDER:'),
        ('print(f"There is a mistake in the gradient:', 'print(f"The gradient is correct:'),
        ('print(f"PLACEHOLDER:', 'print(f"There is a mistake in the gradient:')),
        "the verdict is reversed", part="print_msg"),
    _mistake("gcn_prints_never", "gradient_check_n", _edit(BASE_GRADIENT_CHECK_N, (MESSAGE, "\n")), "printed nothing", part="print_msg"),
    _mistake("gcn_threshold_too_low", "gradient_check_n", _edit(
        BASE_GRADIENT_CHECK_N, ("if difference < 2e-7:", "if difference < 1e-7:")),
        "one message for every difference below 2e-07", part="print_msg"),
    _mistake("gcn_no_denominator", "gradient_check_n", _edit(
        BASE_GRADIENT_CHECK_N, ("float(numerator / denominator)", "float(numerator)")), "without dividing"),
    _mistake("gcn_over_gradient_norm", "gradient_check_n", _edit(
        BASE_GRADIENT_CHECK_N, (DENOMINATOR, "np.linalg.norm(grad)")),
        "You divided by ||grad|| only"),
    _mistake("gcn_returns_array", "gradient_check_n", _edit(
        BASE_GRADIENT_CHECK_N, ("np.linalg.norm(grad - gradapprox)", "np.linalg.norm(grad - gradapprox, axis=0)"),
        ("float(numerator / denominator)", "numerator / denominator")),
        "should return a Python float"),
    _mistake("gcn_hard_coded_answer", "gradient_check_n", _edit(
        BASE_GRADIENT_CHECK_N, ("    return difference\n", "    return 0.2850931567761623\n")),
        "returns 0.2850931567761623 whatever its inputs"),
    _mistake("gcn_compares_with_itself", "gradient_check_n", _edit(
        BASE_GRADIENT_CHECK_N,
        ("grad = gradients_to_vector(gradients)", "grad = gradapprox_n(parameters, X, Y, epsilon)")),
        "you compared a gradient with itself"),
    _mistake("gcn_minus_copied_from_plus", "gradient_check_n", _edit(
        BASE_GRADIENT_CHECK_N, ("theta_minus = np.copy(parameters_values)", "theta_minus = np.copy(theta_plus)")),
        "theta_minus is a copy of theta_plus"),
    _mistake("gcn_elementwise_abs", "gradient_check_n", _edit(
        BASE_GRADIENT_CHECK_N, ("np.linalg.norm(grad - gradapprox)", "np.abs(grad - gradapprox)"),
        (DENOMINATOR, "np.abs(grad) + np.abs(gradapprox)"),
        ("float(numerator / denominator) if denominator > 0 else 0.0", "numerator / denominator")),
        "returned an array of shape (47, 1)"),
    _mistake("gcn_not_restored", "gradient_check_n", _edit(
        BASE_GRADIENT_CHECK_N,
        ("        theta_plus = np.copy(parameters_values)\n        theta_plus[i] += epsilon\n"
         "        J_plus, _ = forward_propagation_n(X, Y, vector_to_dictionary(theta_plus))\n"
         "        theta_minus = np.copy(parameters_values)\n        theta_minus[i] -= epsilon\n"
         "        J_minus, _ = forward_propagation_n(X, Y, vector_to_dictionary(theta_minus))\n",
         "        parameters_values[i] += epsilon\n"
         "        J_plus, _ = forward_propagation_n(X, Y, vector_to_dictionary(parameters_values))\n"
         "        parameters_values[i] -= 2 * epsilon\n"
         "        J_minus, _ = forward_propagation_n(X, Y, vector_to_dictionary(parameters_values))\n")),
        "Your shifts are never undone"),

    # --- gradient_check_by_parameter
    _mistake("bp_nan_for_zero_block", "gradient_check_by_parameter", _edit(
        BASE_BY_PARAMETER, ("float(numerator / denominator) if denominator > 0 else 0.0", "float(numerator / denominator)")),
        "is defined as 0.0, but gradient_check_by_parameter returned nan for"),
    _mistake("bp_same_value_for_all", "gradient_check_by_parameter", _edit(
        BASE_BY_PARAMETER, ("grad[rows] - gradapprox[rows]", "grad - gradapprox"),
        (BLOCK_DENOMINATOR, DENOMINATOR)),
        "Every parameter got the same value"),
    _mistake("bp_gradient_keys", "gradient_check_by_parameter", _edit(
        BASE_BY_PARAMETER, ("differences[name] =", 'differences["d" + name] =')),
        "but they are ['dW1', 'db1'"),
    _mistake("bp_whole_vector_norms", "gradient_check_by_parameter", _edit(
        BASE_BY_PARAMETER, (BLOCK_DENOMINATOR, DENOMINATOR)),
        "norms of the whole vectors"),
    _mistake("bp_epsilon_not_passed", "gradient_check_by_parameter", _edit(
        BASE_BY_PARAMETER, ("gradapprox_n(parameters, X, Y, epsilon)", "gradapprox_n(parameters, X, Y)")),
        "ignores its epsilon argument"),
    _mistake("bp_norm_of_sum", "gradient_check_by_parameter", _edit(
        BASE_BY_PARAMETER,
        (BLOCK_DENOMINATOR, "np.linalg.norm(grad[rows] + gradapprox[rows])")),
        "You divided by ||grad + gradapprox||"),
    _mistake("bp_entrywise_mean", "gradient_check_by_parameter", _edit(
        BASE_BY_PARAMETER,
        ("        numerator = np.linalg.norm(grad[rows] - gradapprox[rows])\n"
         "        denominator = np.linalg.norm(grad[rows]) + np.linalg.norm(gradapprox[rows])\n"
         "        differences[name] = float(numerator / denominator) if denominator > 0 else 0.0\n",
         "        g, a = grad[rows], gradapprox[rows]\n"
         "        differences[name] = float(np.mean(np.abs(g - a) / (np.abs(g) + np.abs(a))))\n")),
        "averaged the relative differences of single entries"),
    _mistake("bp_alphabetical_blocks", "gradient_check_by_parameter", '''
def gradient_check_by_parameter(parameters, gradients, X, Y, epsilon=1e-6):
    grad = gradients_to_vector(gradients)
    gradapprox = gradapprox_n(parameters, X, Y, epsilon)
    differences = {}
    start = 0
    for name in sorted(parameters):
        size = parameters[name].size
        g, a = grad[start:start + size], gradapprox[start:start + size]
        differences[name] = float(np.linalg.norm(g - a) / (np.linalg.norm(g) + np.linalg.norm(a)))
        start += size
    return differences
''', "alphabetical order"),
    _mistake("bp_keys_left_a_list", "gradient_check_by_parameter", _edit(
        BASE_BY_PARAMETER, ("    keys = np.array(keys)\n", "")),
        "make keys a NumPy array"),
    _mistake("bp_off_by_one_slices", "gradient_check_by_parameter", '''
def gradient_check_by_parameter(parameters, gradients, X, Y, epsilon=1e-6):
    grad = gradients_to_vector(gradients)
    gradapprox = gradapprox_n(parameters, X, Y, epsilon)
    differences = {}
    start = 0
    for name in PARAMETER_NAMES:
        end = start + parameters[name].size
        g, a = grad[start + 1:end + 1], gradapprox[start + 1:end + 1]
        denominator = np.linalg.norm(g) + np.linalg.norm(a)
        differences[name] = float(np.linalg.norm(g - a) / denominator) if denominator > 0 else 0.0
        start = end
    return differences
''', "The rows you selected for b3 are empty"),

    # --- backward_propagation_n_fixed
    _mistake("team_bugs_kept", "backward_propagation_n_fixed", '''
def backward_propagation_n_fixed(X, Y, cache):
    return backward_propagation_n(X, Y, cache)
''', "dW2 is twice the correct value"),
    _mistake("fixed_only_dW2", "backward_propagation_n_fixed", _edit(
        BASE_FIXED, ("np.sum(dZ1, axis=1, keepdims=True) / m", "4.0 / m * np.sum(dZ1, axis=1, keepdims=True)")),
        "db1 is four times the correct value"),
    _mistake("fixed_only_db1", "backward_propagation_n_fixed", _edit(
        BASE_FIXED, ("dW2 = dZ2 @ A1.T / m", "dW2 = dZ2 @ A1.T / m * 2")),
        "dW2 is twice the correct value"),
    _mistake("fixed_db1_without_keepdims", "backward_propagation_n_fixed", _edit(
        BASE_FIXED, ("np.sum(dZ1, axis=1, keepdims=True) / m", "np.sum(dZ1, axis=1) / m")),
        "db1 has shape (5,) but should have shape (5, 1)"),
    _mistake("fixed_m_hard_coded", "backward_propagation_n_fixed", _edit(
        BASE_FIXED, ("m = X.shape[1]", "m = 3  # three payments")),
        "divided by 3 instead of by the number of examples"),
    _mistake("fixed_relu_derivative_is_A", "backward_propagation_n_fixed", _edit(
        BASE_FIXED, ("dZ2 = dA2 * (A2 > 0)", "dZ2 = dA2 * A2"), ("dZ1 = dA1 * (A1 > 0)", "dZ1 = dA1 * A1")),
        "the derivative of ReLU is not A"),
    _mistake("fixed_relu_mask_missing", "backward_propagation_n_fixed", _edit(
        BASE_FIXED, ("dZ2 = dA2 * (A2 > 0)", "dZ2 = dA2"), ("dZ1 = dA1 * (A1 > 0)", "dZ1 = dA1")),
        "the ReLU mask is missing"),
    _mistake("fixed_db1_divided_twice", "backward_propagation_n_fixed", _edit(
        BASE_FIXED, ("np.sum(dZ1, axis=1, keepdims=True) / m", "1.0 / m * np.sum(dZ1, axis=1, keepdims=True) / m")),
        "db1 is divided by m once too often"),
    _mistake("fixed_dW1_transposed", "backward_propagation_n_fixed", _edit(
        BASE_FIXED, ("dW1 = dZ1 @ X.T / m", "dW1 = X @ dZ1.T / m")),
        "dW1 has shape (4, 5) but should have shape (5, 4)"),
    _mistake("fixed_changes_cache", "backward_propagation_n_fixed", _edit(
        BASE_FIXED, ("    dZ3 = A3 - Y\n", "    dZ3 = A3\n    dZ3 -= Y\n")),
        "changed its inputs", part="inputs"),
]

# The same loop with each entry shifted back (+eps, -2 eps, +eps): correct, within round-off.
IN_PLACE_RESTORED = SHIFTED_IN_PLACE.replace(
    "in place, one at a time.", "in place, and shift it back: +eps, -2 eps, +eps.").replace(
    "            J_minus, _ = forward_propagation_n(X, Y, parameters)\n",
    "            J_minus, _ = forward_propagation_n(X, Y, parameters)\n            values[index] += epsilon\n")

ALTERNATIVES = [
    Variant("fwd_np_multiply", "forward_propagation",
            _edit(BASE_FORWARD, ("J = theta * x", "J = np.multiply(theta, x)"))),
    Variant("bwd_float", "backward_propagation", _edit(BASE_BACKWARD, ("dtheta = x", "dtheta = float(x)"))),
    Variant("gc_abs_values", "gradient_check", _edit(
        BASE_GRADIENT_CHECK,
        (RELATIVE, "\n    total = abs(grad) + abs(gradapprox)\n"
                   "    difference = abs(grad - gradapprox) / total if total else 0.0\n"))),
    Variant("gc_sqrt_sum_float64", "gradient_check", _edit(
        BASE_GRADIENT_CHECK, *HAND_WRITTEN_NORMS,
        ("float(numerator / denominator) if denominator > 0 else 0.0",
         "numerator / denominator if denominator else 0.0  # np.float64 is a float"))),
    Variant("gc_other_messages", "gradient_check", _edit(
        BASE_GRADIENT_CHECK, (MESSAGE, '''
    if print_msg and difference > 2e-7:
        print("\\033[91mThere is a mistake in the backward propagation! difference = %e\\033[0m" % difference)
    elif print_msg:
        print("\\033[92mYour backward propagation works perfectly fine! difference = %e\\033[0m" % difference)
'''))),
    Variant("gc_message_in_french", "gradient_check", _edit(
        BASE_GRADIENT_CHECK, ('print(f"The gradient is correct: relative difference = {difference:.3e}")',
                              'print(f"Le gradient est juste (différence relative {difference:.3e}).")'),
        ('print(f"There is a mistake in the gradient: relative difference = {difference:.3e}")',
         'print(f"Le gradient n\'est pas correct : différence relative {difference:.3e}.")'))),
    Variant("gcn_in_place_restored", "gradient_check_n",
            IN_PLACE_RESTORED + BASE_GRADIENT_CHECK_N[len(BASE_GRADAPPROX_N):]),
    Variant("gcn_unit_vectors_vectorized", "gradient_check_n", _edit(
        BASE_GRADIENT_CHECK_N, (BASE_GRADAPPROX_N, '''
def gradapprox_n(parameters, X, Y, epsilon=1e-6):
    theta, _ = dictionary_to_vector(parameters)
    n = theta.shape[0]
    J_plus, J_minus = np.zeros((n, 1)), np.zeros((n, 1))
    for i in range(n):
        e_i = np.eye(n)[:, [i]]
        J_plus[i], _ = forward_propagation_n(X, Y, vector_to_dictionary(theta + epsilon * e_i))
        J_minus[i], _ = forward_propagation_n(X, Y, vector_to_dictionary(theta - epsilon * e_i))
    return (J_plus - J_minus) / (2 * epsilon)
'''))),
    Variant("gcn_reversed_loop_dot_copy", "gradient_check_n", _edit(
        BASE_GRADIENT_CHECK_N, ("for i in range(num_parameters):", "for i in reversed(range(num_parameters)):"),
        ("theta_plus = np.copy(parameters_values)", "theta_plus = parameters_values.copy()"),
        ("theta_minus = np.copy(parameters_values)", "theta_minus = parameters_values.copy()"))),
    Variant("gcn_deepcopy_sqrt_sum", "gradient_check_n", "import copy\n" + _edit(
        BASE_GRADIENT_CHECK_N, ("theta_plus = np.copy(", "theta_plus = copy.deepcopy("),
        ("theta_minus = np.copy(", "theta_minus = copy.deepcopy("),
        *HAND_WRITTEN_NORMS,
        ("float(numerator / denominator)", "numerator / denominator"))),
    Variant("gcn_dictionary_loop_exact_restore", "gradient_check_n", '''
def gradapprox_n(parameters, X, Y, epsilon=1e-6):
    # Shift one entry of a private copy of the parameters at a time, and put it back exactly.
    shifted = {name: np.array(value, dtype=float) for name, value in parameters.items()}
    gradapprox = []
    for name in PARAMETER_NAMES:
        for index in np.ndindex(shifted[name].shape):
            original = shifted[name][index]
            shifted[name][index] = original + epsilon
            J_plus, _ = forward_propagation_n(X, Y, shifted)
            shifted[name][index] = original - epsilon
            J_minus, _ = forward_propagation_n(X, Y, shifted)
            shifted[name][index] = original
            gradapprox.append((J_plus - J_minus) / (2 * epsilon))
    return np.array(gradapprox).reshape(-1, 1)
''' + BASE_GRADIENT_CHECK_N[len(BASE_GRADAPPROX_N):]),
    Variant("bp_in_place_restored", "gradient_check_by_parameter", '''
def gradient_check_by_parameter(parameters, gradients, X, Y, epsilon=1e-6):
    # Each parameter's own approximation, shifting its entries in place and back (+eps, -2 eps, +eps).
    differences = {}
    for name in PARAMETER_NAMES:
        values, approx = parameters[name], np.zeros(parameters[name].shape)
        for index in np.ndindex(values.shape):
            values[index] += epsilon
            J_plus, _ = forward_propagation_n(X, Y, parameters)
            values[index] -= 2 * epsilon
            J_minus, _ = forward_propagation_n(X, Y, parameters)
            values[index] += epsilon
            approx[index] = (J_plus - J_minus) / (2 * epsilon)
        grad = gradients["d" + name]
        denominator = np.linalg.norm(grad) + np.linalg.norm(approx)
        differences[name] = float(np.linalg.norm(grad - approx) / denominator) if denominator > 0 else 0.0
    return differences
'''),
    Variant("bp_cumulative_slices", "gradient_check_by_parameter", '''
def gradient_check_by_parameter(parameters, gradients, X, Y, epsilon=1e-6):
    grad = gradients_to_vector(gradients)
    gradapprox = gradapprox_n(parameters, X, Y, epsilon)
    sizes = [int(np.prod(PARAMETER_SHAPES[name])) for name in PARAMETER_NAMES]
    ends = np.cumsum(sizes)
    differences = {}
    for name, end, size in zip(PARAMETER_NAMES, ends, sizes):
        g, a = grad[end - size:end], gradapprox[end - size:end]
        total = np.linalg.norm(g) + np.linalg.norm(a)
        differences[name] = float(np.linalg.norm(g - a) / total) if total else 0.0
    return differences
'''),
    Variant("bp_per_array_on_deepcopy", "gradient_check_by_parameter", '''
import copy

def gradient_check_by_parameter(parameters, gradients, X, Y, epsilon=1e-6):
    shifted = copy.deepcopy(parameters)
    differences = {}
    for name, values in shifted.items():
        approx = np.zeros(values.shape)
        for index in np.ndindex(values.shape):
            original = values[index]
            values[index] = original + epsilon
            J_plus, _ = forward_propagation_n(X, Y, shifted)
            values[index] = original - epsilon
            J_minus, _ = forward_propagation_n(X, Y, shifted)
            values[index] = original
            approx[index] = (J_plus - J_minus) / (2 * epsilon)
        grad = gradients["d" + name]
        total = np.linalg.norm(grad) + np.linalg.norm(approx)
        differences[name] = 0.0 if total == 0 else float(np.linalg.norm(grad - approx) / total)
    return differences
'''),
    Variant("bp_vector_to_dictionary", "gradient_check_by_parameter", '''
def gradient_check_by_parameter(parameters, gradients, X, Y, epsilon=1e-6):
    approx = vector_to_dictionary(gradapprox_n(parameters, X, Y, epsilon))
    return {name: float(np.linalg.norm(gradients["d" + name] - approx[name]) /
                        max(np.linalg.norm(gradients["d" + name]) + np.linalg.norm(approx[name]), 1e-300))
            for name in PARAMETER_NAMES}
'''),
    Variant("fixed_by_correcting_the_team", "backward_propagation_n_fixed", '''
def backward_propagation_n_fixed(X, Y, cache):
    gradients = dict(backward_propagation_n(X, Y, cache))
    gradients["dW2"] = gradients["dW2"] / 2   # the team multiplied by 2
    gradients["db1"] = gradients["db1"] / 4   # the team used 4/m
    return gradients
'''),
    Variant("fixed_z_mask_np_dot", "backward_propagation_n_fixed", _edit(
        BASE_FIXED, ("dZ2 = dA2 * (A2 > 0)", "dZ2 = np.multiply(dA2, np.int64(Z2 > 0))"),
        ("dZ1 = dA1 * (A1 > 0)", "dZ1 = np.multiply(dA1, np.int64(Z1 > 0))"),
        ("dW3 = dZ3 @ A2.T / m", "dW3 = 1. / m * np.dot(dZ3, A2.T)"),
        ("dW2 = dZ2 @ A1.T / m", "dW2 = 1. / m * np.dot(dZ2, A1.T)"),
        ("dW1 = dZ1 @ X.T / m", "dW1 = 1. / m * np.dot(dZ1, X.T)"))),
    Variant("fixed_m_from_Y_sum_method", "backward_propagation_n_fixed", _edit(
        BASE_FIXED, ("m = X.shape[1]", "m = Y.reshape(1, -1).shape[1]"),
        ("dZ3 = A3 - Y", "dZ3 = A3 - Y.reshape(A3.shape)"),
        ("np.sum(dZ3, axis=1, keepdims=True) / m", "dZ3.sum(axis=1, keepdims=True) / m"),
        ("np.sum(dZ2, axis=1, keepdims=True) / m", "dZ2.sum(axis=1, keepdims=True) / m"),
        ("np.sum(dZ1, axis=1, keepdims=True) / m", "dZ1.sum(axis=1, keepdims=True) / m"))),
    Variant("fixed_in_place_on_copies", "backward_propagation_n_fixed", _edit(
        BASE_FIXED, ("    (Z1, A1, W1, b1, Z2, A2, W2, b2, Z3, A3, W3, b3) = cache\n",
                     "    (Z1, A1, W1, b1, Z2, A2, W2, b2, Z3, A3, W3, b3) = [np.copy(a) for a in cache]\n"),
        ("    dZ3 = A3 - Y\n", "    dZ3 = A3\n    dZ3 -= Y\n"))),
]


def by_name(name):
    for variant in MISTAKES + ALTERNATIVES:
        if variant.name == name:
            return variant
    raise KeyError(name)
