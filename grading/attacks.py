"""Attempts to game the grading: each one a submission that a determined student could hand in.

Every attack replaces one solution cell of the instructor's complete solution (and, for two of
them, edits or deletes a test cell), so a submission built from it differs from a perfect one in
one place. Each games one function (`games`): that function is wrong, or not the student's own
work, and the attack tries to make nbgrader's in-kernel grading give it the points anyway.
Most of them succeed against stock nbgrader; verification (grading.verify) must give every
gamed function 0 and flag it. tests/test_attacks.py runs them all through the real
`nbgrader autograde` and verification.
"""
from dataclasses import dataclass, field

from . import synthetic
from .build_reference import NOTEBOOKS


@dataclass(frozen=True)
class Attack:
    name: str                 # short id, also the synthetic student's name
    games: str                # the function whose points it tries to get
    how: str                  # what it does, in one sentence
    cells: dict               # {grade_id: new source of that solution cell}
    test_cells: dict = field(default_factory=dict)  # {grade_id: new source, or None to delete the cell}
    beats_nbgrader: bool = True  # stock nbgrader in the kernel gives it the points
    needs_sandbox: bool = False  # verification stops it only when the worker runs in the sandbox


# A forward_propagation that is right for the two visible examples only.
_VISIBLE_ONLY = '''
def forward_propagation(x, theta):
    return {(2, 4): 8, (-3.0, 0.5): -1.5}.get((x, theta), 0.0)
'''

_CONSTANT = '''
def forward_propagation(x, theta):
    return 0.0
'''

# A gradient check with a one-sided difference: right on the visible (linear) examples, wrong
# on the hidden ones.
_ONE_SIDED = '''
def gradient_check(x, theta, epsilon=1e-7, print_msg=False):
    J_plus = forward_propagation(x, theta + epsilon)
    J = forward_propagation(x, theta)
    gradapprox = (J_plus - J) / epsilon
    grad = backward_propagation(x, theta)
    difference = float(np.linalg.norm(grad - gradapprox) / (np.linalg.norm(grad) + np.linalg.norm(gradapprox)))
    if print_msg:
        print("correct" if difference < 2e-7 else "wrong", difference)
    return {wrap}(difference)
'''

# The student's gradient_check_n and gradapprox_n answered by the grader's own reference, pointed
# at whatever cost the grader substituted; the attack cell defines _grader() to find it.
_CALLS_REFERENCE = '''

def _reference(name, *args):
    reference = _grader()
    saved = reference.forward_propagation_n
    reference.forward_propagation_n = forward_propagation_n
    try:
        return getattr(reference, name)(*args)
    finally:
        reference.forward_propagation_n = saved


def gradapprox_n(parameters, X, Y, epsilon=1e-7):
    return _reference("gradapprox_n", parameters, X, Y, epsilon)


def gradient_check_n(parameters, gradients, X, Y, epsilon=1e-7, print_msg=False):
    return _reference("gradient_check_n", parameters, gradients, X, Y, epsilon, print_msg)
'''

ATTACKS = [
    Attack(
        name="input_transformer", games="forward_propagation",
        how="an IPython input transformer turns every later cell, hidden tests included, into `pass`",
        cells={"forward_propagation": _CONSTANT + '''
get_ipython().input_transformers_cleanup.append(lambda lines: ["pass\\n"])
'''}),
    Attack(
        name="ast_transformer", games="forward_propagation",
        how="an IPython AST transformer empties every later cell before it runs",
        cells={"forward_propagation": _CONSTANT + '''
import ast

class _Nothing(ast.NodeTransformer):
    def visit_Module(self, node):
        node.body = []
        return node

get_ipython().ast_transformers.append(_Nothing())
'''}),
    Attack(
        name="event_hook", games="forward_propagation",
        how="a pre_run_cell event hook replaces grading.check with a no-op before every cell",
        cells={"forward_propagation": _VISIBLE_ONLY + '''
def _disarm(info):
    import grading
    grading.check = lambda name, namespace: print(f"{name} passes the hidden tests.")

get_ipython().events.register("pre_run_cell", _disarm)
'''}),
    Attack(
        name="fake_grading_module", games="forward_propagation",
        how="a fake `grading` module in sys.modules, whose check() does nothing",
        cells={"forward_propagation": _VISIBLE_ONLY + '''
import sys
import types

_fake = types.ModuleType("grading")
_fake.check = lambda name, namespace: print(f"{name} passes the hidden tests.")
sys.modules["grading"] = _fake
'''}),
    Attack(
        name="shadow_grading_file", games="forward_propagation",
        how="writes grading.py into the working directory, which `import grading` finds first",
        cells={"forward_propagation": _VISIBLE_ONLY + '''
import importlib

with open("grading.py", "w") as _file:
    _file.write("def check(name, namespace):\\n    print(name, 'passes the hidden tests.')\\n")
importlib.invalidate_caches()
'''}),
    Attack(
        name="patched_checks_table", games="gradient_check",
        how="replaces the hidden test in grading.CHECKS with a no-op (and submits a one-sided difference)",
        cells={"gradient_check": _ONE_SIDED.format(wrap="float") + '''
import grading
grading.CHECKS["gradient_check"] = lambda student: None
'''}),
    Attack(
        name="numpy_and_builtins", games="forward_propagation",
        how="np.isclose always True and builtins.abs always 0, so every comparison passes; returns noise",
        cells={"forward_propagation": '''
import builtins
import numpy

numpy.isclose = lambda *args, **kwargs: True
builtins.abs = lambda value: 0.0

def forward_propagation(x, theta):
    return float(numpy.random.rand())
'''}),
    Attack(
        name="always_equal_float", games="gradient_check",
        how="returns a float subclass whose comparisons and arithmetic always succeed, and makes "
            "builtins.float hand it back unchanged",
        cells={"gradient_check": '''
import builtins

_real_float = float

class _Float(_real_float):
    def __new__(cls, value=0.0):
        return value if isinstance(value, _Always) else _real_float(value)

class _Always(_Float):
    def __new__(cls, value):
        return _real_float.__new__(cls, value)
    def __eq__(self, other): return True
    def __ne__(self, other): return False
    __lt__ = __le__ = __gt__ = __ge__ = __eq__
    def __sub__(self, other): return self
    __rsub__ = __add__ = __radd__ = __mul__ = __rmul__ = __truediv__ = __rtruediv__ = __sub__
    def __abs__(self): return self
    __hash__ = _real_float.__hash__

builtins.float = _Float
''' + _ONE_SIDED.format(wrap="_Always")}),
    Attack(
        name="isinstance_patch", games="gradient_check",
        how="returns an object that is no number at all; builtins.isinstance and float are patched to accept it",
        cells={"gradient_check": '''
import builtins

_real_isinstance, _real_float = isinstance, float

class _Yes:
    def __init__(self, value): self.value = value
    def __lt__(self, other): return True
    __le__ = __gt__ = __ge__ = __eq__ = __lt__
    def __sub__(self, other): return self
    __rsub__ = __add__ = __radd__ = __mul__ = __truediv__ = __sub__
    def __abs__(self): return self
    def __format__(self, spec): return format(self.value, spec)
    __hash__ = object.__hash__

class _Float(_real_float):
    def __new__(cls, value=0.0):
        return value if type(value) is _Yes else _real_float(value)

def _isinstance(obj, kind):
    kinds = kind if _real_isinstance(kind, tuple) else (kind,)
    kinds = tuple(_real_float if k is _Float else k for k in kinds)
    if type(obj) is _Yes:
        return _real_float in kinds
    return _real_isinstance(obj, kinds)

builtins.isinstance, builtins.float = _isinstance, _Float
''' + _ONE_SIDED.format(wrap="_Yes")}),
    Attack(
        name="showtraceback_silenced", games="forward_propagation",
        how="InteractiveShell.showtraceback shows nothing and ExecutionResult.success is always True, "
            "so a failing test cell has no error output and reports success",
        cells={"forward_propagation": _CONSTANT + '''
from IPython.core.interactiveshell import ExecutionResult, InteractiveShell

InteractiveShell.showtraceback = lambda self, *args, **kwargs: None
ExecutionResult.success = property(lambda self: True)
'''}),
    Attack(
        name="assertion_errors_swallowed", games="forward_propagation",
        how="a custom IPython exception handler takes over AssertionError (the hidden tests' CheckFailed "
            "too) and a post_run_cell hook erases the error from the cell's result",
        cells={"forward_propagation": _CONSTANT + '''
def _forget(result):
    result.error_in_exec = None

get_ipython().set_custom_exc((AssertionError,), lambda shell, etype, evalue, tb, tb_offset=None: None)
get_ipython().events.register("post_run_cell", _forget)
'''}),
    Attack(
        name="excepthook_and_stderr", games="forward_propagation",
        how="sys.excepthook, the kernel's _showtraceback and sys.stderr are silenced, and a "
            "post_run_cell hook erases the error from the cell's result",
        cells={"forward_propagation": _CONSTANT + '''
import io
import sys

def _forget(result):
    result.error_in_exec = None

sys.excepthook = lambda *args: None
sys.stderr = io.StringIO()
get_ipython()._showtraceback = lambda *args, **kwargs: None
get_ipython().events.register("post_run_cell", _forget)
'''}),
    Attack(
        name="settrace_hook", games="forward_propagation",
        how="a sys.settrace hook empties grading.CHECKS when grading.check starts",
        cells={"forward_propagation": _VISIBLE_ONLY + '''
import sys

def _tracer(frame, event, arg):
    if event == "call" and frame.f_code.co_name == "check" and frame.f_globals.get("__name__") == "grading":
        frame.f_globals["CHECKS"] = {name: (lambda student: None) for name in frame.f_globals["CHECKS"]}
    return None

sys.settrace(_tracer)
'''}),
    Attack(
        name="stack_peek", games="forward_propagation",
        how="reads the grader's own `correct` function from the calling frames and returns its answer",
        cells={"forward_propagation": '''
import sys

def forward_propagation(x, theta):
    frame = sys._getframe(1)
    while frame is not None:
        correct = frame.f_locals.get("correct")
        if callable(correct):
            return correct(x, theta)
        frame = frame.f_back
    return {(2, 4): 8, (-3.0, 0.5): -1.5}.get((x, theta), 0.0)
'''}),
    Attack(
        name="calls_reference", games="gradient_check_n",
        how="calls grading.reference.gradient_check_n, pointed for the call at whatever cost the grader substituted",
        cells={"gradient_check_n": '''
def _grader():
    import grading.reference
    return grading.reference
''' + _CALLS_REFERENCE}),
    Attack(
        name="getsource_reference", games="gradient_check_by_parameter",
        how="copies the solution out of grading.reference with inspect.getsource",
        cells={"gradient_check_by_parameter": '''
import inspect
import grading.reference

exec(inspect.getsource(grading.reference.gradient_check_by_parameter))
'''}),
    Attack(
        name="reference_by_path", games="gradient_check_n", needs_sandbox=True,
        how="looks for the grading package on disk, next to the helper module, and calls its reference",
        cells={"gradient_check_n": '''
def _grader():
    import importlib
    import os
    import sys
    try:
        return importlib.import_module("grading.reference")
    except ImportError:
        pass
    import gc_utils
    folder = os.path.dirname(os.path.abspath(gc_utils.__file__))
    while folder != os.path.dirname(folder):
        if os.path.exists(os.path.join(folder, "grading", "__init__.py")):
            sys.path.insert(0, folder)
            return importlib.import_module("grading.reference")
        folder = os.path.dirname(folder)
    raise ImportError("the grading package is nowhere to be found")
''' + _CALLS_REFERENCE}),
    Attack(
        name="edited_test_cell", games="forward_propagation", beats_nbgrader=False,
        how="the test cell's source is replaced by `pass` (nbgrader restores locked cells)",
        cells={"forward_propagation": _CONSTANT},
        test_cells={"test_forward_propagation": "pass"}),
    Attack(
        name="deleted_test_cell", games="forward_propagation", beats_nbgrader=False,
        how="the test cell is deleted (nbgrader adds missing test cells back)",
        cells={"forward_propagation": _CONSTANT},
        test_cells={"test_forward_propagation": None}),
]


def by_name(name):
    for attack in ATTACKS:
        if attack.name == name:
            return attack
    raise KeyError(name)


def submission(attack, only_its_notebook=True):
    """{notebook file name: NotebookNode}: the complete solution with the attack in place.

    only_its_notebook -- hand in only the notebook of the gamed function (the other one is then
                         missing and scores 0 everywhere): the batch grades faster
    """
    notebooks = synthetic.submission(dict(attack.cells))
    home = synthetic.notebook_of()[attack.games]
    for name, notebook in notebooks.items():
        cells = []
        for cell in notebook.cells:
            grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
            if grade_id in attack.test_cells:
                if attack.test_cells[grade_id] is None:
                    continue
                cell.source = attack.test_cells[grade_id]
            cells.append(cell)
        notebook.cells = cells
    if only_its_notebook:
        notebooks = {name: notebook for name, notebook in notebooks.items() if name == home}
    assert set(notebooks) <= set(NOTEBOOKS)
    return notebooks
