"""The grading package's layout: its import graph and its trust zones, read from the source with `ast`.

The zones are the package's folders, from the bottom up; a module imports only from its own zone
and the zones below it (ZONES):

    grading/*.py         the bottom: the model, shared data, text made inert, the course directory,
                         the settings, the commands' shared arguments
    grading/inside/      what runs inside a sandbox, started by path: standard library (and NumPy) only
    grading/checks/      what grades: hidden tests, cases, numerics, diagnoses, reference (and the
                         package's own face, grading/__init__.py: `grading.check` in a test cell)
    grading/sandboxing/  what the grader builds the sandboxes with
    grading/grader/      a grading run: staging, pipeline, verification, ledger, report
    grading/exchange/    the instructor's side of nbgrader's exchange (collect, feedback release)
    grading/lms/         the LMS's files, and make release-feedback through the exchange
    grading/plugins/     what nbgrader and Jupyter load from their configuration
    synthetic_class/     the tests' and the demo's students: no grading module imports it

Every import counts, at the top of a module or inside a function: an import moved into a function
still makes a circle.
"""
import ast
import sys
from pathlib import Path

import nbformat
import pytest

import grading
from grading import assignment

pytestmark = pytest.mark.fast   # in make check's lane

PACKAGE = Path(grading.__file__).resolve().parent
MAX_LEVELS = 8
ZONES = ("bottom", "inside", "checks", "sandboxing", "grader", "exchange", "lms", "plugins")
# The grading modules the nbgrader step and the kernel launcher (which run inside a sandbox that
# shows them the package) may reach: none of the checks, the reference or the hidden tests.
SECRET = "grading.checks"
# Besides the standard library: NumPy (the worker's answers), and what the kernel zygote preloads
# to become a kernel.
INSIDE_MAY_USE = {"grading", "", "numpy", "ipykernel", "matplotlib", "matplotlib_inline"}


def module_name(path):
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_names(path):
    """Every module name an import in `path` names (absolute, relative resolved), with `from X import y`
    also giving X.y, which is a module when y is one."""
    module = module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([node.module] if node.module else []))
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    # A script started by path imports a module beside it by its bare name.
    beside = {name for name in names if (path.parent / f"{name.split('.')[0]}.py").is_file()}
    return names - beside | {f"{package}.{name}" for name in beside}


PATHS = {module_name(p): p for p in PACKAGE.rglob("*.py")}
IMPORTS = {module: imported_names(path) for module, path in PATHS.items()}
# {module: {grading modules it imports}}
EDGES = {module: {name for name in names if name in PATHS and name != module} for module, names in IMPORTS.items()}


def reachable(start):
    seen, todo = set(), [start]
    while todo:
        for name in EDGES[todo.pop()]:
            if name not in seen:
                seen.add(name)
                todo.append(name)
    return seen


def cycle_in(edges):
    """One import circle as a list of modules, or None."""
    state = {}

    def visit(module, trail):
        state[module] = "open"
        for name in sorted(edges[module]):
            if state.get(name) == "open":
                return trail[trail.index(name):] + [name]
            if name not in state:
                found = visit(name, trail + [name])
                if found:
                    return found
        state[module] = "done"
        return None

    for module in sorted(edges):
        if module not in state:
            found = visit(module, [module])
            if found:
                return found
    return None


def levels(edges):
    """{module: its level}: 1 for a module that imports no grading module, else 1 + its highest import's."""
    memo = {}

    def level(module):
        if module not in memo:
            memo[module] = 1 + max((level(name) for name in edges[module]), default=0)
        return memo[module]

    return {module: level(module) for module in edges}


def zone(module):
    """The zone of a module: its folder under grading/, "bottom" for a module beside them."""
    if module == "grading":   # the package's face: `grading.check`, the hidden tests on first use
        return "checks"
    parts = module.split(".")
    return parts[1] if len(parts) > 2 or (PACKAGE / parts[1]).is_dir() else "bottom"


def upward(edges):
    """["a -> b"] of the imports that go up the zones."""
    return sorted(f"{module} -> {name}" for module, names in edges.items() for name in names
                  if ZONES.index(zone(name)) > ZONES.index(zone(module)))


def test_the_graph_is_read():
    assert "grading.grader.pipeline" in EDGES and "grading.results" in EDGES["grading.grader.pipeline"]
    assert cycle_in({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert levels({"a": {"b"}, "b": {"c"}, "c": set()})["a"] == 3


def test_no_import_circles():
    assert cycle_in(EDGES) is None, " -> ".join(cycle_in(EDGES))


def test_at_most_eight_levels():
    floors = levels(EDGES)
    top = max(floors, key=floors.get)
    assert floors[top] <= MAX_LEVELS, f"{top} is on level {floors[top]}"


def test_every_folder_is_a_zone():
    assert {zone(module) for module in EDGES} == set(ZONES)


def test_zones_point_down_only():
    assert upward({"grading.grader.pipeline": {"grading.plugins.grades_csv", "grading.sandboxing.files"}}) \
        == ["grading.grader.pipeline -> grading.plugins.grades_csv"]
    assert upward(EDGES) == []


def test_the_bottom_imports_nothing_of_the_package():
    for module in ("grading.assignment", "grading.results", "grading.untrusted_text"):
        assert EDGES[module] == set(), (module, EDGES[module])


@pytest.mark.parametrize("module", sorted(m for m in EDGES if m.startswith("grading.inside.")))
def test_the_sandbox_side_reaches_only_itself(module):
    """What runs inside a sandbox is started by path where the package is not visible: it may import
    its own folder's helpers, the standard library and what it runs (INSIDE_MAY_USE), nothing else."""
    assert all(name.startswith("grading.inside") for name in reachable(module)), reachable(module)
    outside = {name.split(".")[0] for name in IMPORTS[module]} - set(sys.stdlib_module_names) - INSIDE_MAY_USE
    assert not outside, f"{module} imports {outside}"


@pytest.mark.parametrize("module", ["grading.sandboxing.step_server", "grading.sandboxing.nbgrader_step",
                                    "grading.sandboxing.kernel_service", "grading.sandboxing.sandbox_kernel",
                                    "grading.sandboxing.warm_kernels", "grading.sandboxing.bounded_execute",
                                    "grading.exchange.collect", "grading.exchange.release_feedback",
                                    "grading.plugins.feedback_page", "grading.plugins.page_math"])
def test_what_runs_in_the_nbgrader_sandbox_reaches_no_hidden_test(module):
    """nbgrader's step and the kernel launcher run in sandboxes that show them the package; they need
    none of the checks, and an import of one would load the hidden tests there. The exchange's
    classes are loaded there too: the course's configuration names them, and nbgrader resolves
    every exchange class it is configured with whenever it starts; so are the feedback page's
    preprocessor and filters, which the configuration names."""
    secret = {name for name in reachable(module) | {module} if name.startswith(SECRET)}
    assert not secret, f"{module} reaches {sorted(secret)}"


def test_no_grading_module_imports_the_synthetic_class():
    users = {module for module, names in IMPORTS.items() if any(n.split(".")[0] == "synthetic_class" for n in names)}
    assert not users, users


def test_the_ledger_and_the_report_load_no_checks():
    for module in ("grading.grader.ledger", "grading.grader.class_report", "grading.grader.report"):
        assert not {n for n in reachable(module) if n.startswith(SECRET)}, module


def test_the_source_notebooks_agree_with_the_assignment_model():
    """Names, notebooks and points of the graded functions: the model says them once, the source
    notebooks' metadata (what nbgrader grades by) must say the same."""
    found = []
    for name in assignment.NOTEBOOKS:
        notebook = nbformat.read(assignment.COURSE_ROOT / "source" / assignment.ASSIGNMENT / name, as_version=4)
        for cell in notebook.cells:
            meta = cell.metadata.get("nbgrader", {})
            function = assignment.function_of(meta.get("grade_id", ""))
            if meta.get("grade") and function:
                found.append(assignment.Function(function, name, assignment.SHORT[function], float(meta["points"])))
    assert tuple(found) == assignment.GRADED
    assert sorted(p.name for p in (assignment.COURSE_ROOT / "source" / assignment.ASSIGNMENT).glob("*.ipynb")) \
        == sorted(assignment.NOTEBOOKS)


def test_the_grade_id_rule():
    assert assignment.function_of(assignment.grade_id_of_tests("gradient_check")) == "gradient_check"
    assert assignment.function_of("gradient_check") is None
    assert assignment.function_of("setup_imports") is None


def test_every_graded_function_has_its_hidden_tests():
    from grading.checks.hidden_tests import CHECKS

    assert tuple(CHECKS) == assignment.FUNCTIONS
