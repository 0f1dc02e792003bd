"""Realistic student code: mistakes the hidden tests must catch, and correct variants they must accept.

Each entry replaces one solution cell of the instructor's complete solution, so a submission
built from it differs from a perfect one in exactly one place. The test suite grades every
entry with the real `nbgrader autograde`; the demo borrows a few as its synthetic students.
"""
from dataclasses import dataclass


@dataclass(frozen=True)
class Variant:
    name: str            # short id, also the synthetic student's name
    cell: str            # grade_id of the solution cell it replaces
    code: str            # the new source of that cell
    loses: tuple = ()    # functions that must score 0 (empty: full marks expected)
    diagnosis: str = ""  # text that the graded test cell must show (mistakes only)


MISTAKES = [
    Variant(
        name="one_sided_1d", cell="gradient_check", loses=("gradient_check",),
        diagnosis="one-sided difference",
        code='''
def gradient_check(x, theta, epsilon=1e-7, print_msg=False):
    J_plus = forward_propagation(x, theta + epsilon)
    J = forward_propagation(x, theta)
    gradapprox = (J_plus - J) / epsilon
    grad = backward_propagation(x, theta)
    difference = float(np.linalg.norm(grad - gradapprox) / (np.linalg.norm(grad) + np.linalg.norm(gradapprox)))
    if print_msg:
        print("correct" if difference < 2e-7 else "wrong", difference)
    return difference
'''),
    Variant(
        name="team_bugs_kept", cell="backward_propagation_n_fixed", loses=("backward_propagation_n_fixed",),
        diagnosis="dW2 is twice the correct value",
        code='''
def backward_propagation_n_fixed(X, Y, cache):
    return backward_propagation_n(X, Y, cache)
'''),
]

ALTERNATIVES = []


def by_name(name):
    for variant in MISTAKES + ALTERNATIVES:
        if variant.name == name:
            return variant
    raise KeyError(name)
