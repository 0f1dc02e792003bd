"""The hidden tests of every graded function, and the one call in every hidden-test region.

    import grading
    grading.check("gradient_check", globals())

The check draws fresh random cases, runs the student's function on them, and raises
CheckFailed with a diagnosis in plain words when something is wrong. The cases themselves
stay here, out of the notebooks and out of the feedback.
"""
from . import checks_1d, checks_nd
from .harness import CheckFailed, NotebookStudent

CHECKS = {
    "forward_propagation": checks_1d.check_forward_propagation,
    "backward_propagation": checks_1d.check_backward_propagation,
    "gradient_check": checks_1d.check_gradient_check,
    "gradient_check_n": checks_nd.check_gradient_check_n,
    "gradient_check_by_parameter": checks_nd.check_gradient_check_by_parameter,
    "backward_propagation_n_fixed": checks_nd.check_backward_propagation_n_fixed,
}


def check(name, namespace):
    """Run the hidden tests of function `name` defined in the notebook namespace `namespace`."""
    __tracebackhide__ = True  # IPython: show the student the message, not the grader's frames
    try:
        CHECKS[name](NotebookStudent(namespace))
    except CheckFailed as failure:
        raise CheckFailed(str(failure)) from None
    print(f"{name} passes the hidden tests.")
