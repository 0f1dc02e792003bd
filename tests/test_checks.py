"""The hidden tests, run with pytest directly: no nbgrader, no kernel.

Every catalog entry runs in an emulated notebook: the setup's names, then the notebook's
solution cells (the entry's cell replaced) and its graded test cells, in notebook order, as
nbgrader runs them. Then the hidden tests of every function the entry can change (those its
cell defines, and those that call them) run again several times, each on fresh random cases: a
mistake must be caught with the same diagnosis every time, correct code must pass every time.
"""
import ast
import contextlib
import io
import warnings
from dataclasses import dataclass

import nbformat
import numpy as np
import pytest

import grading
from grading.assignment import NOTEBOOKS
from grading.checks import cases, checks_nd, diagnoses, numerics, reference
from grading.checks.harness import NotebookStudent
from grading.checks.hidden_tests import lost_parts
from grading.checks.provided import ASSIGNMENT, COURSE_ROOT, gc_feedback, gc_utils
from synthetic_class import catalog, synthetic

pytestmark = pytest.mark.fast   # in make check's lane

RUNS = 1   # fresh cases each run (the test cells ran the hidden tests once already); correct code's 1,000-run measure is benchmarks/bench_false_failures.py
FUNCTIONS = dict(zip(NOTEBOOKS, (catalog.FUNCTIONS_1D, catalog.FUNCTIONS_ND)))
SOLUTIONS = synthetic.solutions()
NOTEBOOK_OF = synthetic.notebook_of()


def graded_cells(notebook_name, folder="source"):
    """[(kind, grade_id, source)] of the solution and test cells of a notebook of source/ or release/, in order."""
    notebook = nbformat.read(COURSE_ROOT / folder / ASSIGNMENT / notebook_name, as_version=4)
    cells = []
    for cell in notebook.cells:
        meta = cell.metadata.get("nbgrader", {})
        if cell.cell_type == "code" and (meta.get("solution") or meta.get("grade")):
            cells.append(("solution" if meta.get("solution") else "test", meta["grade_id"], cell.source))
    return cells


def setup_namespace(notebook_name):
    """The names the cells before the graded ones give: NumPy, gc_feedback's visible_tests, and in notebook 2 the helpers of
    gc_utils and the seed-1 case (X, Y, parameters), which its sections 3 and 4 load."""
    namespace = {"__name__": "__main__", "np": np, "visible_tests": gc_feedback.visible_tests}
    if notebook_name.startswith("2_"):
        namespace.update({name: value for name, value in vars(gc_utils).items() if not name.startswith("_")})
        namespace.update(zip(("X", "Y", "parameters"), gc_utils.seed1_case()))
    return namespace


def run_notebook(notebook_name, code, folder="source"):
    """Run a notebook's graded cells as nbgrader would, with `code` {grade_id: source} in solution cells.

    folder -- "source" (test cells with their hidden tests, as graded) or "release" (the visible
              tests alone, as Validate and the student run them)

    Returns (namespace, {function: what nbgrader makes of its test cell (see _outcome)},
             {grade_id of a solution cell: the names it bound}).
    """
    namespace = setup_namespace(notebook_name)
    outcomes, bound = {}, {}
    for kind, grade_id, source in graded_cells(notebook_name, folder):
        if kind == "solution":
            before = dict(namespace)
            exec(compile(code.get(grade_id, SOLUTIONS[grade_id]), grade_id, "exec"), namespace)
            bound[grade_id] = {name for name, value in namespace.items()
                               if name not in before or before[name] is not value}
        else:
            outcomes[grade_id[len("test_"):]] = _outcome(lambda: run_cell(source, namespace, grade_id))
    return namespace, outcomes, bound


def run_cell(source, namespace, name):
    """Run a cell as IPython does: its statements, and the value of its last line if that is an expression."""
    tree = ast.parse(source)
    last = tree.body.pop() if tree.body and isinstance(tree.body[-1], ast.Expr) else None
    exec(compile(tree, name, "exec"), namespace)
    if last is not None:
        return eval(compile(ast.Expression(last.value), name, "eval"), namespace)


@dataclass
class PartialCredit:
    """A test cell that kept some of its points: the score it shows, and what it printed."""
    points: float
    printed: str

    def __str__(self):
        return self.printed


def hidden(function, namespace):
    """What the hidden tests of `function` find: CheckFailed, PartialCredit or None."""
    def action():
        lost = lost_parts(function, NotebookStudent(namespace))
        if lost:
            return PartialCredit(float(gc_feedback.points_kept(function, lost)),
                                 gc_feedback.partial_credit(function, lost, "hidden"))
    return _outcome(action)


def _outcome(action):
    """What nbgrader would make of a cell that runs `action`: the exception it raised, a Warning if
    it wrote a warning to stderr (nbgrader gives such a test cell 0 points too), PartialCredit if its
    result is a number (nbgrader's partial credit), or None (full points)."""
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            result = action()
        except Exception as error:  # a test cell fails on any exception
            return error
    shown = [w for w in caught if not issubclass(w.category, (DeprecationWarning, PendingDeprecationWarning))]
    if shown:
        return Warning(f"{shown[0].category.__name__}: {shown[0].message}")
    if isinstance(result, float):
        return PartialCredit(result, printed.getvalue())
    return result if isinstance(result, PartialCredit) else None


def words(outcome):
    """What a test cell showed, its lines (wrapped to 100 characters) joined again."""
    return " ".join(str(outcome).split())


def expected_outcome(variant, function):
    """What the tests of `function` must make of a catalog variant: None (full points), CheckFailed
    (a wrong value), or the points kept when the mistake is in a minor part (gc_feedback.POINTS)."""
    if function not in variant.loses:
        return None
    if variant.part == "value":
        return grading.CheckFailed
    return float(gc_feedback.points_kept(function, {variant.part}))


def assert_outcome(variant, function, outcome):
    expected = expected_outcome(variant, function)
    if expected is grading.CheckFailed:
        assert isinstance(outcome, grading.CheckFailed), f"{variant.name}: {function} gave {outcome!r}"
    elif expected is not None:
        assert isinstance(outcome, PartialCredit) and outcome.points == expected, (
            f"{variant.name}: {function} should keep {expected:g} points (its {variant.part} is wrong): {outcome!r}")
    else:
        assert outcome is None, f"{variant.name}: {function} should pass its tests: {outcome!r}"


# --- the catalog ----------------------------------------------------------------------------------

def test_catalog_is_large_and_well_formed():
    names = [v.name for v in catalog.MISTAKES + catalog.ALTERNATIVES]
    assert len(names) == len(set(names)), "variant names must be unique"
    assert len(catalog.MISTAKES) >= 32 and len(catalog.ALTERNATIVES) >= 12
    for function in catalog.FUNCTIONS_1D + catalog.FUNCTIONS_ND:
        own = [v for v in catalog.MISTAKES if v.loses[0] == function]
        assert len(own) >= 3, f"only {len(own)} mistakes of {function}"
    for variant in catalog.MISTAKES:
        assert variant.cell in SOLUTIONS, variant.name
        assert variant.loses and variant.diagnosis, variant.name
        assert variant.loses[0] == variant.cell, f"{variant.name}: loses[0] must be the function of its cell"
        assert variant.cell in variant.loses, f"{variant.name}: the hidden tests must catch it too"
        assert set(variant.loses) <= set(FUNCTIONS[NOTEBOOK_OF[variant.cell]]), variant.name
        assert variant.part in gc_feedback.POINTS[variant.cell], f"{variant.name}: {variant.part} is no part of its function"
    assert {v.name for v in catalog.ALTERNATIVES if v.loses or v.diagnosis} == set()
    assert catalog.by_name("one_sided_1d").cell == "gradient_check"
    assert catalog.by_name("team_bugs_kept").cell == "backward_propagation_n_fixed"


@pytest.mark.parametrize("variant", catalog.MISTAKES + catalog.ALTERNATIVES, ids=lambda v: v.name)
def test_variant_is_graded_as_catalogued(variant):
    notebook = NOTEBOOK_OF[variant.cell]
    namespace, outcomes, bound = run_notebook(notebook, {variant.cell: variant.code})

    # The graded test cells, visible asserts and hidden tests, as nbgrader runs them.
    failing = {function for function, error in outcomes.items() if error is not None}
    assert failing == set(variant.loses), (
        f"{variant.name}: test cells failing {sorted(failing)}, expected {list(variant.loses)}: "
        f"{ {f: str(e)[:300] for f, e in outcomes.items() if e} }")
    for function, outcome in outcomes.items():
        assert_outcome(variant, function, outcome)
    if variant.loses:
        shown = words(outcomes[variant.loses[0]])
        assert variant.diagnosis in shown, f"{variant.name}: {variant.diagnosis!r} not in {shown!r}"

    # The hidden tests alone, on fresh random cases every run, of every function that the entry's
    # cell defines or that calls what it defines (the others ran once, in their test cells).
    changed = bound[variant.cell]
    affected = [function for function in FUNCTIONS[notebook]
                if function in changed or changed & set(namespace[function].__code__.co_names)]
    assert set(variant.loses) <= set(affected), variant.name
    for _ in range(RUNS):
        for function in affected:
            outcome = hidden(function, namespace)
            assert_outcome(variant, function, outcome)
            if function in variant.loses:
                assert variant.diagnosis in words(outcome), (
                    f"{variant.name}: {function}: {variant.diagnosis!r} not in {str(outcome)!r}")


@pytest.mark.parametrize("variant", catalog.MISTAKES + catalog.ALTERNATIVES, ids=lambda v: v.name)
def test_validate_names_each_mistake_as_the_grade_does(variant):
    """The released notebooks (no hidden tests): every mistake fails its own function's visible test,
    in the words of the hidden tests; correct variants pass."""
    _, outcomes, _ = run_notebook(NOTEBOOK_OF[variant.cell], {variant.cell: variant.code}, folder="release")
    failing = {function for function, error in outcomes.items() if error is not None}
    assert failing == set(variant.loses), (
        f"{variant.name}: visible tests failing {sorted(failing)}, expected {list(variant.loses)}: "
        f"{ {f: str(e)[:300] for f, e in outcomes.items() if e} }")
    for function, outcome in outcomes.items():
        assert_outcome(variant, function, outcome)
    if variant.loses:
        shown = words(outcomes[variant.cell])
        assert variant.diagnosis in shown, f"{variant.name}: {variant.diagnosis!r} not in {shown!r}"


def test_reference_solutions_pass_every_test_cell():
    for notebook, functions in FUNCTIONS.items():
        namespace, outcomes, _ = run_notebook(notebook, {})
        assert outcomes == dict.fromkeys(functions), outcomes
        for _ in range(2 * RUNS):   # correct code never fails, whatever the random cases
            assert {function: hidden(function, namespace) for function in functions} == dict.fromkeys(functions)


def test_a_failed_check_reads_as_its_sentence_alone():
    """IPython shows a failed hidden test as its sentence, wrapped, and no traceback through the
    grader's files: under stock nbgrader (grading.checks.harness) and under make autograde (the kernel's
    verdict reader)."""
    from grading.checks.harness import CheckFailed
    from grading.inside import kernel_grading

    message = "dW2 is twice the correct value: " * 8
    for kind in (CheckFailed, kernel_grading.CheckFailed):
        lines = kind(message)._render_traceback_()
        assert " ".join(lines).split() == ["CheckFailed:", *message.split()]
        assert len(lines) > 1 and max(map(len, lines)) <= 100


# --- what the messages say -----------------------------------------------------------------------

@pytest.mark.parametrize("text, says", [
    ("The gradient is correct: relative difference = 1.2e-07", True),
    ("There is a mistake in the gradient: relative difference = 0.3", False),
    ("\033[92mYour backward propagation works perfectly fine! difference = 1e-09\033[0m", True),
    ("Gradient check passed ✓", True), ("✗ wrong", False), ("OK", True), ("FAILED", False),
    ("The gradient isn't right", False), ("The gradients do not match", False), ("Not a single error", True),
    ("No problems detected", True), ("Nothing wrong here", True), ("error-free", True),
    ("Relative error 1e-09: the gradient is correct", True),   # "relative error" is no verdict
    ("Le gradient est juste", True), ("Le gradient n'est pas correct", False), ("Pas d'erreur", True),
    ("El gradiente es correcto", True), ("El gradiente no es correcto", False), ("No hay errores", True),
    ("Der Gradient ist korrekt", True), ("Der Gradient stimmt nicht", False), ("Kein Fehler", True),
    ("O gradiente está certo", True), ("O gradiente não está correto", False), ("O gradiente está errado", False),
    ("Il gradiente è corretto", True), ("Il gradiente non è corretto", False), ("Il gradiente è sbagliato", False),
    ("梯度正确", True), ("梯度不正确", False), ("没有错误", True), ("梯度检查未通过", False),
    ("Градиент верный", True), ("Градиент неверный", False),
    # not read: no verdict word, or words of both kinds; these are judged by their form alone
    ("difference 3e-01: large", None), ("Check the backward pass", None), ("Correct: no", None),
    ("Passed: False", None), ("Correct your code, there is a bug", False),   # an order, and a verdict
])
def test_a_message_is_read_for_what_it_says(text, says):
    assert gc_feedback.verdict_meaning(text) is says


def _verdicts(below, above):
    """run(i, r) for check_print_msg: `below` printed under the threshold, `above` over it."""
    return lambda i, r: (below if r < gc_feedback.THRESHOLD else above).format(r)


def test_a_reversed_verdict_loses_the_message_and_an_unread_one_never_does():
    with pytest.raises(grading.CheckFailed, match="the verdict is reversed"):
        gc_feedback.check_print_msg("f", _verdicts("Wrong: {}", "Correct: {}"))
    with pytest.raises(grading.CheckFailed, match="the verdict is reversed"):    # only one side read
        gc_feedback.check_print_msg("f", _verdicts("Le gradient n'est pas correct ({})", "Hmm ({})"))
    for below, above in [("Correct: {}", "Wrong: {}"), ("small {}", "large {}"), ("A {}", "B: check it {}"),
                         ("梯度正确 {}", "梯度不正确 {}")]:
        gc_feedback.check_print_msg("f", _verdicts(below, above))
    with pytest.raises(grading.CheckFailed, match="the same verdict"):             # the form rule stays
        gc_feedback.check_print_msg("f", _verdicts("small {}", "small {}"))


def test_an_argument_restored_within_round_off_is_unchanged_and_a_real_change_is_not():
    """The one rule for arguments changed in place: shifting an entry and shifting it back by
    arithmetic (+eps, -2 eps, +eps) leaves round-off, which is no change; any real change is."""
    rng = np.random.default_rng(7)
    drifts = []
    for eps in (1e-7, 1e-6, 0.01, 0.1, 0.3):
        before = rng.standard_normal(10_000) * rng.choice([1e-3, 1.0, 3.0], 10_000)
        after = before.copy()
        after += eps
        after -= 2 * eps
        after += eps
        drifts.append(np.max(np.abs(after - before) / np.maximum(np.abs(before), 1.0)))
        assert gc_feedback.changed_argument(({"W1": before},), ({"W1": after},), ("parameters",)) is None
        after[17] = before[17] - eps          # one entry left shifted
        assert gc_feedback.changed_argument(({"W1": before},), ({"W1": after},), ("parameters",)) == "parameters['W1']"
    assert 0 < max(drifts) <= 4.5e-16 < gc_feedback.ROUND_OFF_DRIFT
    assert gc_feedback.changed_argument((np.ones(3),), (np.ones(4),), ("X",)) == "X"


def test_a_rounded_difference_is_named_and_shown_with_the_digits_that_differ():
    right = 0.0016638912345678
    with pytest.raises(grading.CheckFailed) as failed:
        gc_feedback.compare_differences([round(right, 8)], [right], [0.1], 1e-6, "For J", "?", lambda: None)
    message = str(failed.value)
    assert "rounds its result" in message
    should, returned = message.split("should be ")[1].split(", but your function returned ")
    assert should != returned.split(". ")[0]
    for correct in (right, right * (1 + 3e-16), 1.0, 0.5):    # no correct value is taken for a rounded one
        assert gc_feedback.rounded_to(correct, correct * (1 - 2e-16)) is None


def test_the_advice_uses_only_names_the_notebooks_use():
    """Every snake_case name in a sentence of the tests is one the student can find in a notebook
    (or in gc_utils.py, which it imports): no `parameters_values` of the instructor's solution."""
    import json
    import re
    release = COURSE_ROOT / "release" / ASSIGNMENT
    known = (release / "gc_utils.py").read_text() + "".join(
        cell.source for name in NOTEBOOKS for cell in nbformat.read(release / name, as_version=4).cells)
    sentences = [v for k, v in vars(gc_feedback).items() if isinstance(v, str) and k.isupper()]
    sentences += [*diagnoses.APPROXIMATION_MISTAKES.values(), *diagnoses.COMPARISON_MISTAKES.values(),
                  diagnoses.SELF_COMPARISON]
    sentences += [s for table in json.loads(gc_feedback.CASES_FILE.read_text()).values()
                  if isinstance(table, dict) for part in [table, *table.values()] if isinstance(part, dict)
                  for s in part.get("sentences", [])]
    names = {name for sentence in sentences for name in re.findall(r"\b[a-z]\w*_\w+\b", sentence)}
    assert "gradapprox_n" in names and "theta_minus" in names
    assert {name for name in names if name not in known} == set()


# --- numerics -------------------------------------------------------------------------------------

def _cubic(theta):
    # coupled (the last term), so that a shift left in one entry moves the others' derivatives
    return float(np.sum(np.sin(theta) + theta ** 3) + 0.5 * np.sum(theta) ** 2)


def _cubic_gradient(theta):
    return np.cos(theta) + 3 * theta ** 2 + np.sum(theta)


def test_central_difference_error_is_second_order_and_one_sided_first_order():
    theta = np.array([0.3, -1.2, 2.0])
    errors = {}
    for approximate in (numerics.central, numerics.one_sided_forward, numerics.one_sided_backward):
        errors[approximate] = [np.max(np.abs(approximate(_cubic, theta, eps) - _cubic_gradient(theta)))
                               for eps in (1e-2, 1e-3)]
    central = errors[numerics.central]
    assert 80 < central[0] / central[1] < 120              # eps / 10 -> error / 100
    for approximate in (numerics.one_sided_forward, numerics.one_sided_backward):
        one_sided = errors[approximate]
        assert 8 < one_sided[0] / one_sided[1] < 12        # eps / 10 -> error / 10
        assert one_sided[1] > 100 * central[1]


def test_relative_difference_properties():
    rng = np.random.default_rng(0)
    g, a = rng.standard_normal(47), rng.standard_normal(47)
    assert numerics.relative_difference(g, g) == 0.0
    assert numerics.relative_difference(g, a) == numerics.relative_difference(a, g)
    assert numerics.relative_difference(3 * g, 3 * a) == pytest.approx(numerics.relative_difference(g, a), rel=1e-12)
    assert 0 < numerics.relative_difference(g, a) <= 1
    assert numerics.relative_difference(g, -g) == 1.0
    assert numerics.relative_difference(3 * g, g) == pytest.approx(0.5)   # the visible test's tripled b3
    assert isinstance(numerics.relative_difference(g, a), float)


def test_approximation_mistakes_differ_from_the_central_difference():
    theta = np.array([0.3, -1.2, 2.0])
    right = numerics.central(_cubic, theta, 0.1)
    for approximate in diagnoses.APPROXIMATION_MISTAKES:
        assert not np.allclose(approximate(_cubic, theta, 0.1), right), approximate.__name__


# --- diagnoses ------------------------------------------------------------------------------------

def _smooth_case(rng):
    _, J, exact = cases.smooth_cost(rng)
    theta = rng.standard_normal(gc_utils.NUM_PARAMETERS)
    return J, theta, cases.corrupt(rng, exact(theta), ["W2"])


@pytest.mark.parametrize("approximate", list(diagnoses.APPROXIMATION_MISTAKES), ids=lambda f: f.__name__)
def test_each_approximation_mistake_is_recognized_from_its_own_number(approximate):
    rng = np.random.default_rng(1)
    J, theta, gradient = _smooth_case(rng)
    value = numerics.relative_difference(gradient, approximate(J, theta, 0.05))
    explanation = diagnoses.explain_difference(value, J, theta, 0.05, gradient)
    assert explanation == diagnoses.APPROXIMATION_MISTAKES[approximate]


@pytest.mark.parametrize("compare", list(diagnoses.COMPARISON_MISTAKES), ids=lambda f: f.__name__)
def test_each_comparison_mistake_is_recognized_from_its_own_number(compare):
    rng = np.random.default_rng(2)
    J, theta, gradient = _smooth_case(rng)
    value = compare(gradient, numerics.central(J, theta, 0.05))
    assert diagnoses.explain_difference(value, J, theta, 0.05, gradient) == diagnoses.COMPARISON_MISTAKES[compare]


def test_explanations_combine_mistakes_and_other_gradients():
    rng = np.random.default_rng(3)
    J, theta, gradient = _smooth_case(rng)
    other = rng.standard_normal(theta.size)
    value = numerics.over_gradient_norm(other, numerics.one_sided_forward(J, theta, 0.05))
    explanation = diagnoses.explain_difference(value, J, theta, 0.05, gradient, {"OTHER GRADIENT": other})
    assert explanation == " ".join([diagnoses.APPROXIMATION_MISTAKES[numerics.one_sided_forward],
                                    diagnoses.COMPARISON_MISTAKES[numerics.over_gradient_norm], "OTHER GRADIENT"])
    assert diagnoses.explain_difference(0.0, J, theta, 0.05, gradient) == diagnoses.SELF_COMPARISON
    assert diagnoses.explain_difference(0.123456, J, theta, 0.05, gradient) is None


def test_an_ignored_epsilon_is_recognized_from_round_off_on_an_exact_gradient():
    rng = np.random.default_rng(4)
    _, J, exact = cases.smooth_cost(rng)
    theta = rng.standard_normal(gc_utils.NUM_PARAMETERS)
    spoiled = cases.corrupt(rng, exact(theta), ["b2"])
    tiny = numerics.relative_difference(exact(theta), numerics.central(J, theta, 1e-7))
    assert tiny < diagnoses.NOISE
    student = [diagnoses.Case(tiny * 1.7, J, theta, 0.05, exact(theta)),     # other round-off digits
               diagnoses.Case(numerics.relative_difference(spoiled, numerics.central(J, theta, 1e-7)), J, theta,
                              0.05, spoiled)]
    assert diagnoses.explain_differences(student) == diagnoses.APPROXIMATION_MISTAKES[numerics.central_default_step]


def _backward_case(m=7):
    X, Y, parameters = checks_nd.network_case(np.random.default_rng(5), m=m)
    _, cache = gc_utils.forward_propagation_n(X, Y, parameters)
    expected = reference.backward_propagation_n_fixed(X, Y, cache)
    known = dict(zip(("Z1", "A1", "W1", "b1", "Z2", "A2", "W2", "b2", "Z3", "A3", "W3", "b3"), cache), **expected)
    return expected, known


@pytest.mark.parametrize("key, wrong, words", [
    ("dW2", lambda e, k: 2 * e["dW2"], "the team's extra factor 2"),
    ("db1", lambda e, k: 4 * e["db1"], "4/m instead of 1/m"),
    ("dW3", lambda e, k: 7 * e["dW3"], "m times too large"),
    ("db2", lambda e, k: e["db2"] / 7, "divided by m once too often"),
    ("dW1", lambda e, k: e["dW1"] * 7 / 3, "divided by 3 instead of by the number of examples (m = X.shape[1], "
                                           "here 7)"),
    ("db1", lambda e, k: e["db1"].reshape(-1), "sum with keepdims=True"),
    ("db2", lambda e, k: np.ones((1, 7)), "axis=1, not axis=0"),
    ("dW1", lambda e, k: e["dW1"].T, "its transpose"),
    ("dZ2", lambda e, k: k["dA2"], "the ReLU mask is missing"),
    ("dZ1", lambda e, k: k["dA1"] * k["A1"], "the derivative of ReLU is not A1"),
    ("dZ1", lambda e, k: k["dA1"] * (k["A1"] > 0) + 1.0, "the derivative of ReLU is 1 where the unit is active"),
    ("dW3", lambda e, k: e["dW3"] + 1.0, "dW3 is wrong"),
])
def test_explain_backward(key, wrong, words):
    expected, known = _backward_case()
    actual = wrong(expected, known)
    assert words in diagnoses.explain_backward(key, actual, expected[key], 7, known)


# --- cases ----------------------------------------------------------------------------------------

def test_network_cases_are_reliable_and_fresh():
    rng = cases.new_rng()
    seen = set()
    for m in (None, 2, 5, 40):
        X, Y, parameters = checks_nd.network_case(rng, m=m)
        assert X.shape[0] == 4 and Y.shape == (1, X.shape[1]) and (m is None or X.shape[1] == m)
        assert set(np.unique(Y)) == {0, 1}
        assert {name: p.shape for name, p in parameters.items()} == gc_utils.PARAMETER_SHAPES
        _, cache = gc_utils.forward_propagation_n(X, Y, parameters)
        assert min(np.abs(cache[0]).min(), np.abs(cache[4]).min()) >= 1e-4   # no ReLU kink within a step
        assert np.abs(cache[8]).max() <= 4                                   # the sigmoid is not saturated
        fixed = reference.backward_propagation_n_fixed(X, Y, cache)
        assert all(np.linalg.norm(fixed["d" + name]) > 1e-3 for name in gc_utils.PARAMETER_NAMES)
        assert reference.gradient_check_n(parameters, fixed, X, Y) < 5e-8
        seen.add(float(X[0, 0]))
    assert len(seen) == 4


def test_corrupt_spoils_exactly_the_named_blocks():
    rng = np.random.default_rng(6)
    gradient = rng.standard_normal(gc_utils.NUM_PARAMETERS)
    spoiled = cases.corrupt(rng, gradient, ["b1", "W3"])
    for name, rows in cases.block_slices().items():
        assert np.array_equal(spoiled[rows], gradient[rows]) == (name not in ("b1", "W3")), name
    assert np.array_equal(gc_utils.gradients_to_vector(cases.as_gradients(gradient)).reshape(-1), gradient)


def test_the_visible_stand_in_cost_is_the_hidden_one():
    """gc_feedback builds the smooth cost of its fixed cases itself (it cannot load the grader's
    substitutes): on random parameters it gives the grader's number and the network's cache."""
    from grading.inside import substitutes
    rng = np.random.default_rng(5)
    spec, _, _ = cases.smooth_cost(rng)
    X, Y, _ = checks_nd.network_case(rng)
    parameters = cases.random_parameters(rng)
    visible = gc_feedback.stand_in(spec, gc_utils)(X, Y, parameters)
    hidden = substitutes.build(spec, gc_utils)(X, Y, parameters)
    assert visible[0] == hidden[0] and all(np.array_equal(a, b) for a, b in zip(visible[1], hidden[1]))
