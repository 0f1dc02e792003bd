"""The hidden tests of every graded function, and the one call in every hidden-test region.

    import grading
    grading.check("gradient_check", globals())

The check draws fresh random cases, runs the student's function on them, and raises
CheckFailed with a diagnosis in plain words when its value is wrong. A mistake in a minor part
(gc_feedback.POINTS: the print_msg message, arguments left unchanged) is printed with the points
it costs; the visible tests that follow in the cell find it too and give the cell its partial
score. The cases themselves stay here, out of the notebooks and out of the feedback.
"""
from grading.checks import checks_1d, checks_nd
from grading.checks.harness import CheckFailed, NotebookStudent
from grading.checks.provided import gc_feedback

CHECKS = {
    "forward_propagation": checks_1d.check_forward_propagation,
    "backward_propagation": checks_1d.check_backward_propagation,
    "gradient_check": checks_1d.check_gradient_check,
    "gradient_check_n": checks_nd.check_gradient_check_n,
    "gradient_check_by_parameter": checks_nd.check_gradient_check_by_parameter,
    "backward_propagation_n_fixed": checks_nd.check_backward_propagation_n_fixed,
}


def lost_parts(name, student):
    """{minor part: sentence} of function `name`'s hidden tests; CheckFailed when its value is wrong."""
    return CHECKS[name](student)


def check(name, namespace):
    """Run the hidden tests of function `name` defined in the notebook namespace `namespace`."""
    __tracebackhide__ = True  # IPython: show the student the message, not the grader's frames
    try:
        lost = lost_parts(name, NotebookStudent(namespace))
    except CheckFailed as failure:
        raise CheckFailed(str(failure)) from None
    print(gc_feedback.partial_credit(name, lost, "hidden") if lost else f"{name} passes the hidden tests.")
