"""The checks behind the visible tests, and the words every test uses to name a mistake.

Each visible test cell calls one line:

    visible_tests("gradient_check", globals())

which runs the same checks that grade your work, on fixed cases: those of Part 1 are written
below (the notebook's worked example first), those of Part 2 are listed in gc_feedback_cases.json.
When your work is graded the checks run again on fresh random cases, with the same sentences: a
mistake the grade would find is named here first.

A wrong value fails the test cell (0 points). A mistake in a minor part of a function (POINTS:
the print_msg message, arguments left unchanged) costs that part's points only: the cell prints
why and shows the points it keeps as its result, which nbgrader counts as partial credit.

This file computes no gradient. The numbers each fixed case should give, and the numbers that
common mistakes give on it, are listed in gc_feedback_cases.json, written by the course's tools.
"""
import contextlib
import copy
import io
import json
import sys
import textwrap
import traceback
import warnings
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import numpy as np

THRESHOLD = 2e-7          # a relative difference below this means "the gradient is correct"
NOISE = 1e-6              # below this, a relative difference is round-off: its digits carry no meaning
MATCH_RTOL, MATCH_ATOL = 1e-6, 1e-12   # how close a number must be to a mistake's number to name it
VERDICT_CASES = (0.0, 1.2e-7, 3e-7, 0.3)   # print_msg is tried at these differences, two on each side
CASES_FILE = Path(__file__).with_name("gc_feedback_cases.json")


# --- failing, in words ------------------------------------------------------------------------------

class CheckFailed(AssertionError):
    """A test failed; the message is the diagnosis that the student reads."""

    def _render_traceback_(self):
        # IPython shows these lines instead of a traceback: the sentence, wrapped to read without
        # scrolling, and no file of the tests'. When the student's function raised, the lines of
        # the student's own code come first, to show where.
        lines = []
        if self.__cause__ is not None and self.__cause__.__traceback__ is not None:
            own = [frame for frame in traceback.extract_tb(self.__cause__.__traceback__) if frame.filename != __file__]
            lines = ["Traceback of your code (most recent call last):"] + "".join(traceback.format_list(own)).splitlines()
        return lines + textwrap.wrap(f"{type(self).__name__}: {self}", 100)


def fail(message):
    raise CheckFailed(message)


# --- points: each function's parts ------------------------------------------------------------------

# What each graded function's test cell is worth, part by part. A wrong value costs the whole
# function; a mistake in a minor part costs that part's points only, and the tests go on. A check
# that changes the parameters it is given counts as a wrong value: its perturbations then pile up,
# and its numbers are wrong (how wrong depends on the cost, so it would not be graded alike).
POINTS = {
    "forward_propagation": {"value": 5},
    "backward_propagation": {"value": 5},
    "gradient_check": {"value": 15, "print_msg": 5},
    "gradient_check_n": {"value": 20, "print_msg": 5},
    "gradient_check_by_parameter": {"value": 20},
    "backward_propagation_n_fixed": {"value": 20, "inputs": 5},
}
PARTS = {   # the minor parts, in words (the value is never partly lost)
    "print_msg": "its message: the verdict with print_msg=True, nothing printed without it",
    "inputs": "its arguments left as they were given",
}


class Marks:
    """What the tests of one function found wrong in its minor parts: lost = {part: sentence}."""

    def __init__(self, name):
        self.name, self.lost = name, {}

    def lose(self, part, sentence):
        self.lost.setdefault(part, sentence)   # the first sentence of a part is the one shown

    def silent(self, printed, kwargs):
        """Without print_msg=True a check prints nothing."""
        if printed.strip() and not kwargs.get("print_msg"):
            self.lose("print_msg", f"{self.name} printed {printed.strip()[:80]!r} although print_msg was False: "
                                   "print only when asked.")

    @contextlib.contextmanager
    def part(self, part):
        """Checks of one minor part: a failure costs that part, then the tests go on."""
        try:
            yield
        except CheckFailed as failure:
            self.lose(part, str(failure))

    @contextlib.contextmanager
    def value(self):
        """Checks of the value: a failure fails the function. A changed input is named first, being
        the likeliest reason for a wrong value."""
        try:
            yield
        except CheckFailed as failure:
            if "inputs" in self.lost:
                raise CheckFailed(f"{self.lost['inputs']} {failure}") from failure.__cause__
            raise


def points_lost(name, lost):
    """The points a function loses for the minor parts in `lost` (its value being right)."""
    return sum(POINTS[name][part] for part in lost)


def points_kept(name, lost):
    """The points a function keeps when the minor parts in `lost` are wrong (its value being right)."""
    return sum(POINTS[name].values()) - points_lost(name, lost)


def partial_credit(name, lost, tests):
    """The lines a test cell prints when only minor parts are wrong. tests -- "visible" or "hidden"."""
    total = sum(POINTS[name].values())
    lines = [f"{name} returns the right values in the {tests} tests, and keeps {points_kept(name, lost):g} of its "
             f"{total:g} points. It loses:"]
    for part, sentence in lost.items():
        lines += textwrap.wrap(f"{POINTS[name][part]:g} points for {PARTS[part]}. {sentence}", 100,
                               initial_indent="- ", subsequent_indent="  ")
    return "\n".join(lines)


def call(function, *args, **kwargs):
    """Call a student's function; return (result, printed text).

    Printing is captured and warnings silenced (a cell that writes to stderr fails under nbgrader);
    an exception becomes a sentence that names the function.
    """
    name = getattr(function, "__name__", "the function")
    buffer = io.StringIO()
    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"), \
                contextlib.redirect_stdout(buffer), contextlib.redirect_stderr(buffer):
            warnings.simplefilter("ignore")
            result = function(*args, **kwargs)
    except CheckFailed:
        raise
    except NotImplementedError as error:
        raise CheckFailed(f"{name} is not implemented yet: it still raises NotImplementedError.") from error
    except RecursionError as error:
        raise CheckFailed(f"{name} recursed without end (RecursionError). Does it call itself?") from error
    except Exception as error:  # any mistake in student code becomes a diagnosis
        raise CheckFailed(f"{name} raised {type(error).__name__}: {error}") from error
    return result, buffer.getvalue()


@contextlib.contextmanager
def substituted(namespaces, **replacements):
    """Rebind names in the given namespaces (dicts) for a while, restoring them afterwards.

    A student's function looks up helpers such as forward_propagation by name when it runs, so
    rebinding the name lets a test run it on a cost whose gradient is known.
    """
    missing = object()
    saved = [(ns, {name: ns.get(name, missing) for name in replacements}) for ns in namespaces]
    try:
        for ns in namespaces:
            ns.update(replacements)
        yield
    finally:
        for ns, old in saved:
            for name, value in old.items():
                if value is missing:
                    ns.pop(name, None)
                else:
                    ns[name] = value


def apart(value, expected, joint=" instead of "):
    """'value instead of expected' with as many digits as it takes to tell them apart (4 to 12)."""
    for digits in range(4, 13):
        shown = f"{value:.{digits}g}", f"{expected:.{digits}g}"
        if shown[0] != shown[1]:
            break
    return joint.join(shown)


def snapshot(*values):
    """Deep copies of the arguments, to detect a function that changes its inputs."""
    return copy.deepcopy(values)


def changed_argument(before, after, names):
    """Name of the first argument (or dict entry) that differs between two snapshots, or None."""
    for name, old, new in zip(names, before, after):
        if isinstance(old, dict):
            for key in old:
                if key not in new or not np.array_equal(np.asarray(old[key]), np.asarray(new[key])):
                    return f"{name}['{key}']"
        elif not np.array_equal(np.asarray(old), np.asarray(new)):
            return name
    return None


def inputs_changed(name, before, after, names=("parameters", "gradients", "X", "Y")):
    """The sentence for a call that changed its arguments, or None."""
    changed = changed_argument(before, after, names)
    if changed:
        return f"{name} changed its argument {changed}. Perturb copies; never change the inputs."
    return None


def close(actual, expected, rtol, atol=0.0):
    return bool(abs(actual - expected) <= atol + rtol * abs(expected))


def matches(value, target):
    """Whether two relative differences are the same number, or both round-off."""
    if not np.isfinite(target):
        return False
    if 0 <= value < NOISE and 0 <= target < NOISE:
        return True
    return bool(abs(value - target) <= MATCH_ATOL + MATCH_RTOL * abs(target))


def require_float(value, name):
    """The value as a float if it is a Python float (NumPy's float64 is one); otherwise fail."""
    if isinstance(value, bool) or not isinstance(value, float):
        kind = type(value).__name__
        shape = f" of shape {np.shape(value)}" if isinstance(value, np.ndarray) else ""
        fail(f"{name} should return a Python float, but it returned a {kind}{shape}. Wrap the result in float(...).")
    return float(value)


def require_number(value, name):
    """The value as a float if it is a single real number of any kind; otherwise fail."""
    if value is None:
        fail(f"{name} returned None: did you forget the return statement or the assignment before it?")
    try:
        array = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        fail(f"{name} should return a number, but it returned a {type(value).__name__}.")
    if array.size != 1:
        fail(f"{name} should return one number, but it returned an array of shape {array.shape}.")
    return float(array.reshape(-1)[0])


# --- forward_propagation and backward_propagation ---------------------------------------------------

NEAR_MISS = ("close, but not equal: do not round the result, and compute in double precision "
             "(Python floats or float64, not float32).")
# {what the student did: what it gives at (x, theta)}, tried in this order when an answer is wrong.
FORWARD_MISTAKES = {
    "you returned x; J is theta * x.": lambda x, theta: x,
    "you returned theta; J is theta * x.": lambda x, theta: theta,
    "you added x and theta; J is their product.": lambda x, theta: x + theta,
    "you divided x by theta; J is the product theta * x.": lambda x, theta: x / theta,
    "you divided theta by x; J is the product theta * x.": lambda x, theta: theta / x,
    "the sign is wrong.": lambda x, theta: -theta * x,
}
BACKWARD_MISTAKES = {
    "you returned theta; the derivative of theta * x with respect to theta is x.": lambda x, theta: theta,
    "you returned J = theta * x itself; its derivative with respect to theta is x.": lambda x, theta: theta * x,
    "the derivative of theta * x is x, not 2x.": lambda x, theta: 2 * x,
    "you returned 1; the derivative of theta * x with respect to theta is x.": lambda x, theta: 1.0,
    "the sign is wrong.": lambda x, theta: -x,
}


def check_scalar_function(evaluate, name, correct, mistakes, inputs):
    """Compare a function of (x, theta) with `correct` on every (x, theta) of `inputs`.

    evaluate(x, theta) -- what the student's function returns
    mistakes -- {sentence: function of (x, theta)}, to name what a wrong answer did
    """
    answers = [require_number(evaluate(x, theta), name) for x, theta in inputs]
    if len(set(answers)) == 1:
        fail(f"{name} returns {answers[0]:.6g} whatever its inputs: compute the result from x and theta "
             "instead of using a fixed number.")
    for (x, theta), value in zip(inputs, answers):
        expected = correct(x, theta)
        if close(value, expected, rtol=1e-9, atol=1e-12):
            continue
        known = [sentence for sentence, mistake in mistakes.items()
                 if close(value, mistake(x, theta), rtol=1e-9, atol=1e-12)]
        if not known and close(value, expected, rtol=0.05):
            known = [NEAR_MISS]
        fail(f"{name}(x={x:.4g}, theta={theta:.4g}) returned {apart(value, expected)}" +
             (f": {known[0]}" if known else "."))


def check_forward_propagation(evaluate, inputs):
    """The tests of forward_propagation: raise CheckFailed, or return {} (it has no minor part)."""
    check_scalar_function(evaluate, "forward_propagation", lambda x, theta: theta * x, FORWARD_MISTAKES, inputs)
    return {}


def check_backward_propagation(evaluate, inputs):
    """The tests of backward_propagation: raise CheckFailed, or return {} (it has no minor part)."""
    check_scalar_function(evaluate, "backward_propagation", lambda x, theta: x, BACKWARD_MISTAKES, inputs)
    return {}


# --- relative differences ---------------------------------------------------------------------------

def agrees(value, expected, rtol):
    """Signal must agree to rtol; round-off (below NOISE) only needs to be round-off too."""
    if expected < NOISE:
        return 0 <= value < NOISE
    return close(value, expected, rtol, 1e-12)


def compare_differences(values, expected, steps, rtol, context, fallback, explain):
    """Fail with a diagnosis unless every value is the relative difference it should be.

    values, expected, steps -- per case: what the student's function returned, the right value,
              and the epsilon it was called with
    explain() -- the sentence naming the mistake that gives the student's values, or None
    fallback -- advice when no known mistake gives them
    """
    for value, right, eps in zip(values, expected, steps):
        if agrees(value, right, rtol):
            continue
        explanation = explain()
        if not explanation and len(set(values)) == 1:
            explanation = (f"It returns {value!r} whatever its inputs: compute the result from the arguments "
                           "instead of using a fixed number.")
        fail(f"{context} (epsilon={eps:.3g}), the relative difference should be {right:.6g}, but your "
             f"function returned {value:.6g}. " + (explanation or fallback))


def verdict_words(text):
    """The printed message without its numbers, so that only the verdict is compared."""
    return " ".join(word for word in text.replace("=", " ").split() if not any(ch.isdigit() for ch in word))


def check_print_msg(name, run):
    """With print_msg=True, one verdict for every difference below THRESHOLD and another above it.

    run(i, r) -- the text the student's check prints with print_msg=True on its i-th verdict case,
                 whose relative difference is r
    """
    verdicts = {}
    for i, r in enumerate(VERDICT_CASES):
        printed = run(i, r)
        if not printed.strip():
            fail(f"{name}(..., print_msg=True) printed nothing: print whether the gradient passes the check.")
        verdicts[r] = verdict_words(printed)
    below = {verdicts[r] for r in VERDICT_CASES if r < THRESHOLD}
    above = {verdicts[r] for r in VERDICT_CASES if r > THRESHOLD}
    if len(below) > 1 or len(above) > 1:
        fail(f"With print_msg=True the message must depend only on the verdict: one message for every "
             f"difference below {THRESHOLD:g} and another for every difference above it.")
    if below == above:
        fail(f"With print_msg=True, {name} prints the same verdict for a correct gradient and a wrong one.")


# --- gradient_check ---------------------------------------------------------------------------------

IGNORED_BACKWARD = "You did not call backward_propagation: grad must come from it, not be computed in the check."
CUBIC_CONTEXT = "For J = x theta^3, whose central difference is known"
CUBIC_FALLBACK = "Check the central difference and the relative-difference formula step by step."


@dataclass
class GradientCheckCases:
    """The cases gradient_check is tried on. Costs are J = a theta^p, written (a, p); derivatives
    scale * p a theta^(p-1), written (a, p, scale): scale 1 is the exact derivative.

    signal -- (x, theta, eps, scale) for J = x theta^3: the relative difference is signal
    linear -- (x, theta) for J = theta x with its exact derivative, at the default step
    default -- (x, theta) for J = x theta^3 with its exact derivative, at the default step
    verdicts -- (x, theta) for each of VERDICT_CASES, on J = theta x
    zero_theta -- theta for x = 0, where both gradients are 0
    """
    signal: list
    linear: list
    default: tuple
    verdicts: list
    zero_theta: float


def check_gradient_check(run, cases, expected, explain):
    """The tests of gradient_check.

    run(x, theta, cost, derivative, **kwargs) -- (result, printed) of the student's gradient_check
        with forward_propagation and backward_propagation standing in as `cost` and `derivative`
    expected -- the right relative difference of each of cases.signal
    explain(values) -- the sentence naming the mistake that gives `values` on cases.signal, or None

    Raises CheckFailed for a wrong value; returns {minor part: sentence} of what else is wrong.
    """
    name = "gradient_check"
    marks = Marks(name)

    def silent(x, theta, cost, derivative, **kwargs):
        result, printed = run(x, theta, cost, derivative, **kwargs)
        marks.silent(printed, kwargs)
        return require_float(result, name)

    with marks.value():
        _gradient_check_values(name, silent, run, cases, expected, explain)

    # print_msg. The derivative (1 + s) x with s = 2r / (1 - r) gives relative difference r on the
    # linear cost, whose central difference is exact to about 1e-9.
    def verdict(i, r):
        x, theta = cases.verdicts[i]
        return run(x, theta, (x, 1), (x, 1, 1 + 2 * r / (1 - r)), print_msg=True)[1]
    with marks.part("print_msg"):
        check_print_msg(name, verdict)
    return marks.lost


def _gradient_check_values(name, silent, run, cases, expected, explain):
    # 1. J = x theta^3 and a large step, with right and deliberately wrong derivatives: every number is signal.
    values = [silent(x, theta, (x, 3), (x, 3, scale), epsilon=eps) for x, theta, eps, scale in cases.signal]
    compare_differences(values, expected, [eps for _, _, eps, _ in cases.signal], 1e-6, CUBIC_CONTEXT,
                        CUBIC_FALLBACK, lambda: explain(values))

    # 2. The notebook's model with its true derivative at the default step: tiny.
    for x, theta in cases.linear:
        value = silent(x, theta, (x, 1), (x, 1, 1.0))
        if not value < NOISE:
            fail(f"For J = theta * x with its exact derivative, gradient_check returned {value:.3g}; "
                 f"a correct check gives a relative difference far below {THRESHOLD:g}.")

    # 3. The default step is 1e-7: on the cubic cost its truncation error is negligible.
    x, theta = cases.default
    value = silent(x, theta, (x, 3), (x, 3, 1.0))
    if not value < NOISE:
        fail(f"Called without epsilon, gradient_check returned {value:.3g} for a correct derivative: "
             "the default epsilon must be 1e-7.")

    # 4. x = 0: both gradients are 0, and the difference 0/0 is defined as 0.0.
    theta = cases.zero_theta
    value = run(0.0, theta, (0.0, 1), (0.0, 1, 1.0))[0]
    if not (isinstance(value, float) and value == 0.0):
        fail(f"At x = 0 both gradients are 0 and the relative difference is 0/0, defined as 0.0; gradient_check(0, "
             f"{theta:.4g}) returned {value!r}. Return 0.0 when the denominator is 0.")


# --- gradient_check_n -------------------------------------------------------------------------------

DEFAULT_STEP = 1e-6   # the default epsilon of every function of notebook 2
IGNORED_GRADIENTS = "You did not use the gradients argument: the check must compare the gradients it is given."
GLOBAL_DATA = ("Your function is right on costs that do not depend on X and Y, but not on the network: does it pass "
               "its own X and Y on to forward_propagation_n, not global variables such as the notebook's X and Y?")
SMOOTH_CONTEXT = "For a cost whose central difference is known"
SMOOTH_FALLBACK = "Check the central difference, the copies of the parameter vector and the formula."


@dataclass
class CheckCase:
    """One call of a student's check of the network's gradients.

    cost -- what stands in for forward_propagation_n: {"kind": "network_cost"}, the network itself, or
            {"kind": "cubic_sum_cost", "c": [...], "d": [...]}, J = sum(c theta^3 + d theta^2)
    theta, gradient -- the parameters and the gradient given to the check, as (47,) vectors
    X, Y -- the batch, shapes (4, m) and (1, m)
    eps -- the step it is called with; None: called without epsilon
    central -- {repr(step): the central difference of the cost at theta, (47,)}, for the visible tests'
               stand-in gradapprox_n (the hidden tests compute it)
    """
    cost: dict
    theta: np.ndarray
    gradient: np.ndarray
    X: np.ndarray
    Y: np.ndarray
    eps: float = None
    central: dict = None

    def to_json(self):
        data = {"cost": self.cost, "theta": self.theta.tolist(), "gradient": self.gradient.tolist(),
                "X": self.X.tolist(), "Y": self.Y.tolist(), "eps": self.eps}
        if self.central is not None:
            data["central"] = {step: list(map(float, vector)) for step, vector in self.central.items()}
        return data

    @classmethod
    def from_json(cls, data):
        return cls(data["cost"], np.array(data["theta"]), np.array(data["gradient"]), np.array(data["X"]),
                   np.array(data["Y"]), data["eps"], data.get("central"))


def check_gradient_check_n(run, cases, truth):
    """The tests of gradient_check_n.

    run(case, **kwargs) -- (result, printed, the sentence of a changed argument or None) of the
        student's gradient_check_n on a CheckCase, its cost standing in for forward_propagation_n
    cases -- {"signal": [CheckCase], "default": CheckCase, "network": [CheckCase], "verdicts": [CheckCase]};
        the i-th verdict case's gradient gives the relative difference VERDICT_CASES[i]
    truth -- {"signal" or "network": (the right values, explain(values) -> sentence or None)}

    Raises CheckFailed for a wrong value; returns {minor part: sentence} of what else is wrong.
    """
    name = "gradient_check_n"
    marks = Marks(name)

    def called(case, **kwargs):
        result, printed, changed = run(case, **kwargs)
        if changed:
            fail(changed)
        return result, printed

    def value(case, **kwargs):
        result, printed = called(case, **kwargs)
        marks.silent(printed, kwargs)
        return require_float(result, name)

    with marks.value():
        _gradient_check_n_values(name, value, cases, truth)

    # print_msg, on quadratic costs (central difference exact up to round-off).
    with marks.part("print_msg"):
        check_print_msg(name, lambda i, r: called(cases["verdicts"][i], print_msg=True)[1])
    return marks.lost


def _gradient_check_n_values(name, value, cases, truth):
    # 1. Smooth costs with known gradients and a large step: every mistake in the approximation or in
    #    the formula changes the number. The gradient is exact, then has one block spoiled.
    values = [value(case, epsilon=case.eps) for case in cases["signal"]]
    expected, explain = truth["signal"]
    compare_differences(values, expected, [case.eps for case in cases["signal"]], 1e-6, SMOOTH_CONTEXT,
                        SMOOTH_FALLBACK, lambda: explain(values))

    # 2. The default step is 1e-6: on the smooth cost its truncation error is negligible.
    result = value(cases["default"])
    if not result < NOISE:
        fail(f"Called without epsilon, gradient_check_n returned {result:.3g} for an exact gradient: "
             f"the default epsilon must be {DEFAULT_STEP:g}.")

    # 3. The real network at the default step: correct gradients (round-off), the team's, and spoiled ones.
    values = [value(case) for case in cases["network"]]
    expected, explain = truth["network"]
    compare_differences(values, expected, [DEFAULT_STEP] * len(values), 1e-5, "On the network", GLOBAL_DATA,
                        lambda: explain(values))


def stand_in(cost, helpers):
    """The function a CheckCase's cost describes, with forward_propagation_n's signature.

    helpers -- the gc_utils module. The cubic cost returns the network's own cache, so that code which
    (wrongly) runs backward_propagation_n on it still runs, and its mistake can be named.
    """
    if cost["kind"] == "network_cost":
        return helpers.forward_propagation_n
    c, d = np.array(cost["c"]), np.array(cost["d"])
    network, to_vector = helpers.forward_propagation_n, helpers.dictionary_to_vector  # before any stand-in

    def forward_propagation_n(X, Y, parameters):
        theta = to_vector(parameters)[0].reshape(-1)
        with np.errstate(all="ignore"):
            cache = network(X, Y, parameters)[1]
        return float(np.sum(c * theta ** 3 + d * theta ** 2)), cache
    return forward_propagation_n


# --- gradient_check_by_parameter --------------------------------------------------------------------

SAME_FOR_ALL = ("Every parameter got the same value, the difference over all 47 entries. "
                "Compare only the rows of grad and gradapprox that belong to each parameter.")
WHOLE_NORMS = "You divided by the norms of the whole vectors; divide by the norms of the parameter's own rows."
SORTED_ORDER = ("You cut the vectors in alphabetical order (W1, W2, W3, b1, ...); dictionary_to_vector lays them "
                "out as W1, b1, W2, b2, W3, b3.")
EMPTY_ROWS = ("The rows selected for each parameter are empty, so every value is 0 / 0 (nan, or 0.0 by the rule): "
              "keys == name on a Python list is just False; make keys a NumPy array (np.array(keys)) before comparing.")
BLOCKS_FALLBACK = ("Check which rows of the vectors belong to each parameter: the order is W1, b1, W2, b2, W3, b3, "
                   "each read row by row.")


def require_block_dict(result, name, names):
    if not isinstance(result, dict):
        fail(f"{name} should return a dict, not a {type(result).__name__}.")
    if set(result) != set(names):
        fail(f"The keys of the returned dict should be {list(names)}, but they are {list(result)}.")
    return {key: require_float(value, f"{name} (the value for {key})") for key, value in result.items()}


def explain_blocks(found, patterns, explain_rest, names):
    """Name the mistake that gives the per-parameter values of every attempt, or None.

    found -- [{name: value}], one per attempt
    patterns -- [(sentence, [{name: value it gives}] one per attempt)]: mistakes in how the blocks are cut
    explain_rest(values) -- names a mistake in the difference itself from every block's value, attempt by
              attempt in the order of `names`
    """
    values = [attempt[n] for attempt in found for n in names]
    if any(np.isnan(v) for v in values) or all(v == 0.0 for v in values):
        return EMPTY_ROWS
    for sentence, targets in patterns:
        if all(matches(attempt[n], target[n]) for attempt, target in zip(found, targets) for n in names):
            return sentence
    return explain_rest(values)


def check_gradient_check_by_parameter(run, cases, truth, names):
    """The tests of gradient_check_by_parameter.

    run(case, **kwargs) -- (result, printed, the sentence of a changed argument or None) of the
        student's function on a CheckCase, with forward_propagation_n and a correct gradapprox_n
        over the case's cost standing in
    cases -- {"signal": [CheckCase] with spoiled blocks, "network": [CheckCase] of the team's gradients,
              "default": CheckCase with the exact gradient}
    truth -- {"signal": ([{name: right value}], patterns, explain_rest) as for explain_blocks,
              "network": [{name: right value}]}
    names -- the parameter names, in the order of dictionary_to_vector

    Raises CheckFailed for a wrong value; returns {} (it has no minor part).
    """
    name = "gradient_check_by_parameter"

    def blocks(case, **kwargs):
        result, _, changed = run(case, **kwargs)
        if changed:
            fail(changed)
        return require_block_dict(result, name, names)

    # 1. Smooth costs, a large step, one or two spoiled blocks: every value is signal.
    found = [blocks(case, epsilon=case.eps) for case in cases["signal"]]
    expected, patterns, explain_rest = truth["signal"]
    for values, right, case in zip(found, expected, cases["signal"]):
        wrong = [n for n in names if not close(values[n], right[n], rtol=1e-6, atol=1e-10)]
        if wrong:
            details = ", ".join(f"{n}: {apart(values[n], right[n])}" for n in wrong)
            fail(f"With some of the gradients spoiled (epsilon={case.eps:.3g}) some values are wrong ({details}). " +
                 (explain_blocks(found, patterns, explain_rest, names) or BLOCKS_FALLBACK))

    # 2. The real network with the team's gradients, at the default step and at 1e-7.
    for case, right in zip(cases["network"], truth["network"]):
        values = blocks(case, **({} if case.eps is None else {"epsilon": case.eps}))
        for n in names:
            # Blocks the team got wrong are signal; the others are round-off, compared by size only.
            ok = close(values[n], right[n], rtol=1e-4) if right[n] > 1e-4 else values[n] < 1e-4
            if not ok:
                fail(f"On the network with the team's gradients (epsilon={case.eps or DEFAULT_STEP:g}), the value for "
                     f"{n} is {apart(values[n], right[n], ' instead of about ')}. " + GLOBAL_DATA)

    # 3. The default step is 1e-6: an exact gradient gives tiny values everywhere.
    values = blocks(cases["default"])
    if not max(values.values()) < 1e-5:
        fail(f"Called without epsilon on an exact gradient, {name} returned values up to {max(values.values()):.3g}: "
             f"the default epsilon must be {DEFAULT_STEP:g}.")
    return {}


# --- backward_propagation_n_fixed -------------------------------------------------------------------

BACKWARD_ORDER = ("dZ3", "dW3", "db3", "dA2", "dZ2", "dW2", "db2", "dA1", "dZ1", "dW1", "db1")


def _ratio(actual, expected):
    """The constant c with actual = c * expected, if there is one; else None."""
    mask = np.abs(expected) > 1e-12
    if not mask.any():
        return None
    ratios = actual[mask] / expected[mask]
    c = float(np.median(ratios))
    if np.allclose(actual, c * expected, rtol=1e-6, atol=1e-12):
        return c
    return None


def explain_backward(key, actual, expected, m, known=None):
    """Explain why gradient `key` is wrong.

    actual, expected -- the student's array and the correct one (e.g. dW1 of shape (5, 4), db1 (5, 1))
    m -- the number of examples in the batch
    known -- {name: correct array} of the case ("A1", "Z2", ... from the cache and "dA1", ... from the
             correct gradients), to recognize a wrong derivative of ReLU
    """
    shape, right = np.shape(actual), np.shape(expected)
    if shape != right:
        message = f"{key} has shape {shape} but should have shape {right}"
        if key.startswith("db") and shape == (1, m):
            return message + ": sum over the examples, axis=1, not axis=0."
        if np.size(actual) == np.size(expected):
            if np.ndim(actual) == 1 and key.startswith("db"):
                return message + ": sum with keepdims=True."
            if shape == right[::-1]:
                return message + ", its transpose: check the order of the matrix product."
        return message + "."
    relu = _explain_relu(key, actual, known or {})
    if relu:
        return relu
    c = _ratio(actual, expected)
    if c is not None and c != 0:
        if key == "dW2" and abs(c - 2) < 1e-6:
            return "dW2 is twice the correct value: the team's extra factor 2 is still there."
        if key == "db1" and abs(c - 4) < 1e-6:
            return "db1 is four times the correct value: it still uses 4/m instead of 1/m."
        if abs(c - m) < 1e-6:
            return f"{key} is m times too large: divide by the number of examples m."
        if abs(c * m - 1) < 1e-6:
            return f"{key} is divided by m once too often."
        divisor = m / c
        if abs(divisor - round(divisor)) < 1e-6 and round(divisor) != m:
            return (f"{key} is divided by {round(divisor)} instead of by the number of examples "
                    f"(m = X.shape[1], here {m}).")
        return f"{key} is {c:.4g} times the correct value."
    if key in ("dZ2", "dZ1"):
        layer = key[-1]
        return (f"{key} is wrong. It is dA{layer} * (A{layer} > 0): the derivative of ReLU is 1 where the "
                "unit is active and 0 elsewhere.")
    return f"{key} is wrong (largest error {float(np.max(np.abs(actual - expected))):.3g})."


def _explain_relu(key, actual, known):
    """The two common wrong derivatives of ReLU in dZ1 or dZ2, in words; None otherwise."""
    layer = key[-1]
    if key not in ("dZ1", "dZ2") or f"dA{layer}" not in known:
        return None
    dA, A = known[f"dA{layer}"], known[f"A{layer}"]
    if np.allclose(actual, dA, rtol=1e-7, atol=1e-12):
        return (f"{key} equals dA{layer}: the ReLU mask is missing. dZ{layer} = dA{layer} * (A{layer} > 0), "
                "since the derivative of ReLU is 1 where the unit is active and 0 elsewhere.")
    if np.allclose(actual, dA * A, rtol=1e-7, atol=1e-12):
        return (f"{key} is dA{layer} * A{layer}: the derivative of ReLU is not A{layer} but the indicator "
                f"(A{layer} > 0), 1 where the unit is active and 0 elsewhere.")
    return None


CACHE_NAMES = ("Z1", "A1", "W1", "b1", "Z2", "A2", "W2", "b2", "Z3", "A3", "W3", "b3")


def check_backward_propagation_n_fixed(run, cases):
    """The tests of backward_propagation_n_fixed.

    run(X, Y, cache) -- (result, (X, Y, cache) as they are after the call) of the student's function
    cases -- [(X, Y, cache, the right gradients {"dZ3": ..., "db1": ...})], batches of several sizes

    Raises CheckFailed for wrong gradients; returns {minor part: sentence} of what else is wrong.
    """
    name = "backward_propagation_n_fixed"
    marks = Marks(name)
    with marks.value():
        for X, Y, cache, expected in cases:
            result, (given_X, given_Y, given_cache) = run(*snapshot(X, Y, cache))
            unchanged = np.array_equal(X, given_X) and np.array_equal(Y, given_Y) and all(
                np.array_equal(a, b) for a, b in zip(cache, given_cache))
            if not unchanged:
                marks.lose("inputs", f"{name} changed its inputs (X, Y or the cache). Compute new arrays instead.")
            _compare_fixed(name, result, X, cache, expected)
    return marks.lost


def _compare_fixed(name, result, X, cache, expected):
    """Fail unless result holds the right gradients of the batch X; name the first wrong one."""
    m = X.shape[1]
    if not isinstance(result, dict):
        fail(f"{name} should return a dict of gradients, not a {type(result).__name__}.")
    missing = [key for key in BACKWARD_ORDER if key not in result]
    if missing:
        fail(f"The returned dict lacks {missing}: keep every key of backward_propagation_n.")
    known = dict(zip(CACHE_NAMES, cache), **expected)
    # The first wrong gradient in the order of backpropagation is the root cause; report it.
    for key in BACKWARD_ORDER:
        actual = np.asarray(result[key], dtype=float)
        if actual.shape == expected[key].shape and np.allclose(actual, expected[key], rtol=1e-7, atol=1e-12):
            continue
        fail(f"With a batch of m = {m} examples: {explain_backward(key, actual, expected[key], m, known)}")


# --- the visible tests ------------------------------------------------------------------------------

SCALAR_INPUTS = [(1.5, -2.5), (-3.0, 0.5), (1.2345678, -0.8765432), (0.1, 0.3), (-2.25, -1.75), (0.7, 2.9)]
GRADIENT_CHECK_CASES = GradientCheckCases(
    # The worked example first: J = theta^3 at theta = 1, eps = 0.1, whose central difference is 3.01.
    signal=[(1.0, 1.0, 0.1, 1.0), (2.0, -1.5, 0.05, 1.0), (-0.5, 2.0, 0.2, 1.5), (1.5, 0.8, 0.1, 0.5),
            (-1.2, -0.7, 0.25, -1.0)],
    linear=[(2.0, 4.0), (-3.0, 0.5)], default=(1.5, -2.0),
    verdicts=[(1.0, 1.0), (2.0, 0.5), (0.7, 1.5), (1.25, 2.0)], zero_theta=4.0)


def tabulated(function):
    """What gc_feedback_cases.json lists for `function`'s fixed cases."""
    return json.loads(CASES_FILE.read_text())[function]


def explain_from_table(table, values):
    """The sentence of the first listed mistake (or pair of mistakes) that gives every value, or None.

    table -- {"expected": [...], "sentences": [...], "candidates": [[sentence indices, values], ...]}
    """
    if any(value == 0.0 and right > NOISE for value, right in zip(values, table["expected"])):
        return table["self_comparison"]
    for parts, targets in table["candidates"]:
        if all(matches(value, target) for value, target in zip(values, targets)):
            return " ".join(table["sentences"][i] for i in parts)
    return None


def student_function(namespace, name):
    """The function that the student defined under this name, or a clear failure."""
    function = namespace.get(name)
    if function is None:
        fail(f"There is no function named {name}: run its cell, and keep the name given in the exercise.")
    if not callable(function):
        fail(f"{name} is a {type(function).__name__}, not a function.")
    return function


def _visible_forward_propagation(namespace):
    function = student_function(namespace, "forward_propagation")
    return check_forward_propagation(lambda x, theta: call(function, x, theta)[0], SCALAR_INPUTS)


def _visible_backward_propagation(namespace):
    function = student_function(namespace, "backward_propagation")
    return check_backward_propagation(lambda x, theta: call(function, x, theta)[0], SCALAR_INPUTS)


def _visible_gradient_check(namespace):
    function = student_function(namespace, "gradient_check")

    def run(x, theta, cost, derivative, **kwargs):
        (a, p), (b, q, scale) = cost, derivative
        with substituted([function.__globals__], forward_propagation=lambda x, theta: a * theta ** p,
                         backward_propagation=lambda x, theta: scale * q * b * theta ** (q - 1)):
            return call(function, x, theta, **kwargs)
    table = tabulated("gradient_check")
    return check_gradient_check(run, GRADIENT_CHECK_CASES, table["expected"],
                                lambda values: explain_from_table(table, values))


HELPER_NAMES = ("forward_propagation_n", "dictionary_to_vector", "vector_to_dictionary", "PARAMETER_NAMES")


def _helpers(namespace):
    """The helpers of gc_utils that the notebook imported, as attributes."""
    missing = [name for name in HELPER_NAMES if name not in namespace]
    if missing:
        fail(f"{', '.join(missing)} not found: run the notebook's first cell, which imports them from gc_utils.")
    return SimpleNamespace(**{name: namespace[name] for name in HELPER_NAMES})


def _check_runner(name, namespace, extra=lambda case: {}):
    """run(case, **kwargs) for CheckCase: the student's function on the case's parameters and gradients,
    with forward_propagation_n (and what extra(case) gives) standing in while it runs; it returns
    (result, printed, the sentence of a changed argument or None)."""
    function, helpers = student_function(namespace, name), _helpers(namespace)
    # The notebook's names, and gc_utils's own for a function that calls gc_utils.forward_propagation_n.
    spaces = [function.__globals__] + ([vars(sys.modules["gc_utils"])] if "gc_utils" in sys.modules else [])

    def run(case, **kwargs):
        parameters = helpers.vector_to_dictionary(case.theta)
        gradients = {"d" + key: value for key, value in helpers.vector_to_dictionary(case.gradient).items()}
        before = snapshot(parameters, gradients, case.X, case.Y)
        with substituted(spaces, forward_propagation_n=stand_in(case.cost, helpers), **extra(case)):
            result, printed = call(function, parameters, gradients, case.X, case.Y, **kwargs)
        return result, printed, inputs_changed(name, before, (parameters, gradients, case.X, case.Y))
    return run


def _truth(table):
    return table["expected"], lambda values: explain_from_table(table, values)


def _visible_gradient_check_n(namespace):
    table = tabulated("gradient_check_n")
    cases = {part: [CheckCase.from_json(c) for c in table["cases"][part]] for part in ("signal", "network", "verdicts")}
    cases["default"] = CheckCase.from_json(table["cases"]["default"])
    return check_gradient_check_n(_check_runner("gradient_check_n", namespace), cases,
                           {part: _truth(table[part]) for part in ("signal", "network")})


def _tabulated_gradapprox(case):
    """A correct gradapprox_n on a visible case, from the central differences listed for it."""
    def gradapprox_n(parameters, X, Y, epsilon=DEFAULT_STEP):
        step = repr(float(epsilon))
        if step not in case.central:
            fail(f"gradapprox_n was called with epsilon={epsilon!r}, but the test gave epsilon={case.eps!r}: "
                 "pass on the epsilon your function receives.")
        return np.array(case.central[step]).reshape(-1, 1)
    return gradapprox_n


def _visible_gradient_check_by_parameter(namespace):
    table = tabulated("gradient_check_by_parameter")
    cases = {part: [CheckCase.from_json(c) for c in table["cases"][part]] for part in ("signal", "network")}
    cases["default"] = CheckCase.from_json(table["cases"]["default"])
    signal = table["signal"]
    patterns = [(sentence, targets) for sentence, targets in signal["patterns"]]
    truth = {"signal": (signal["expected"], patterns, lambda values: explain_from_table(signal["rest"], values)),
             "network": table["network"]}
    run = _check_runner("gradient_check_by_parameter", namespace,
                        extra=lambda case: {"gradapprox_n": _tabulated_gradapprox(case)})
    return check_gradient_check_by_parameter(run, cases, truth, _helpers(namespace).PARAMETER_NAMES)


def _visible_backward_propagation_n_fixed(namespace):
    function = student_function(namespace, "backward_propagation_n_fixed")
    forward = _helpers(namespace).forward_propagation_n
    cases = []
    for case in tabulated("backward_propagation_n_fixed"):
        X, Y = np.array(case["X"]), np.array(case["Y"])
        parameters = _helpers(namespace).vector_to_dictionary(np.array(case["theta"]))
        with np.errstate(all="ignore"):
            cache = forward(X, Y, parameters)[1]
        cases.append((X, Y, cache, {key: np.array(value) for key, value in case["expected"].items()}))

    def run(X, Y, cache):
        return call(function, X, Y, cache)[0], (X, Y, cache)
    return check_backward_propagation_n_fixed(run, cases)


VISIBLE = {
    "backward_propagation_n_fixed": _visible_backward_propagation_n_fixed,
    "gradient_check_n": _visible_gradient_check_n,
    "gradient_check_by_parameter": _visible_gradient_check_by_parameter,
    "forward_propagation": _visible_forward_propagation,
    "backward_propagation": _visible_backward_propagation,
    "gradient_check": _visible_gradient_check,
}


def visible_tests(name, namespace):
    """Run the visible tests of the function `name` defined in the notebook's namespace (globals()).

    A wrong value raises CheckFailed: the test cell scores 0. When only minor parts are wrong, the
    sentences are printed and the points kept returned: nbgrader scores a test cell whose result is
    a number with that many points (partial credit).
    """
    __tracebackhide__ = True
    lost = VISIBLE[name](namespace)
    if not lost:
        print(f"{name} passes the visible tests.")
        return None
    print(partial_credit(name, lost, "visible"))
    return float(points_kept(name, lost))
