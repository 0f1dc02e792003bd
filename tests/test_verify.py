"""Verification outside the kernel: the worker protocol, RemoteStudent, verify_submission, record_verdicts."""
import copy
import json
import math
import warnings

import nbformat
import numpy as np
import pytest

from grading import CHECKS
from grading.assignment import NOTEBOOKS
from grading.checks.harness import CheckFailed, NotebookStudent, changed_argument, require_float, require_number
from grading.checks.provided import ASSIGNMENT, gc_feedback
from grading.grader import verify
from grading.inside import worker
from grading.sandboxing.remote import Opaque, RemoteStudent, decode_answer
from grading.settings import DEFAULTS
from synthetic_class import catalog, synthetic

NB1, NB2 = NOTEBOOKS
FUNCTIONS = tuple(CHECKS)  # the graded functions, in notebook order
SETUP = [("setup", "import numpy as np")]


def round_trip(value):
    """What the trusted side gets back for a value the worker encodes, through real JSON."""
    return decode_answer(json.loads(json.dumps(worker.encode(value, np))))


# ------------------------------------------------------------------------------------ encoding
def test_plain_values_survive_the_round_trip():
    value = {"a": [1, 2.5, None, True, "text"], "t": (1, (2.0, "x")), 3: -4}
    assert round_trip(value) == value
    assert type(round_trip((1, 2))) is tuple


def test_non_finite_floats_survive():
    nan, inf, minus = round_trip([float("nan"), float("inf"), float("-inf")])
    assert math.isnan(nan) and inf == math.inf and minus == -math.inf
    array = round_trip(np.array([[np.nan, np.inf], [-np.inf, 1.0]]))
    assert np.isnan(array[0, 0]) and np.isposinf(array[0, 1]) and np.isneginf(array[1, 0])


def test_numpy_values_keep_their_types():
    value = round_trip(np.float64(0.25))
    assert type(value) is np.float64 and value == 0.25 and isinstance(value, float)
    assert type(round_trip(np.float32(2.5))) is np.float32
    assert type(round_trip(np.int64(7))) is np.int64
    assert type(round_trip(np.bool_(True))) is np.bool_
    for array in (np.arange(12.0).reshape(3, 4), np.zeros((0, 3)), np.array(5.0),
                  np.array([[1, 2]], dtype=np.int32), np.array([True, False])):
        back = round_trip(array)
        assert back.dtype == array.dtype and back.shape == array.shape and np.array_equal(back, array)


def test_anything_else_comes_back_opaque_and_fails_the_checks():
    class AlwaysEqual:
        def __eq__(self, other):
            return True
        __lt__ = __le__ = __gt__ = __ge__ = __eq__

        def __float__(self):
            return 0.0

    for value in (AlwaysEqual(), object(), 1j, np.array([1j]), np.array([object()]), lambda: 0, {1, 2}):
        back = round_trip(value)
        assert isinstance(back, Opaque) and not isinstance(back, (float, dict, np.ndarray))
    back = round_trip(AlwaysEqual())
    assert type(back).__name__ == "AlwaysEqual"
    with pytest.raises(CheckFailed, match="returned a AlwaysEqual"):
        require_float(back, "f")
    with pytest.raises(CheckFailed, match="should return a number, but it returned a AlwaysEqual"):
        require_number(back, "f")
    assert changed_argument((np.zeros(2),), (back,), ("x",)) == "x"


def test_a_float_subclass_arrives_as_its_real_value():
    class Liar(float):
        def __eq__(self, other):
            return True

        def __float__(self):
            return 0.0
    back = round_trip(Liar(0.75))
    assert type(back) is float and back == 0.75


def test_too_large_or_too_deep_values_come_back_opaque():
    deep = []
    for _ in range(100):
        deep = [deep]
    assert isinstance(round_trip(deep), Opaque)
    loop = []
    loop.append(loop)
    assert isinstance(round_trip(loop), Opaque)
    assert isinstance(round_trip(np.zeros(worker.MAX_ELEMENTS + 1)), Opaque)


@pytest.mark.parametrize("data", [
    {"__ndarray__": [["a"]], "dtype": "<f8", "shape": [1, 1]},
    {"__ndarray__": [1, 2], "dtype": "|O", "shape": [2]},
    {"__ndarray__": [1, 2], "dtype": "<U3", "shape": [2]},
    {"__ndarray__": [1, 2, 3], "dtype": "<f8", "shape": [2, 2]},
    {"__ndarray__": [1, 2], "dtype": "no such dtype", "shape": [2]},
    {"__scalar__": "1", "dtype": "<f8"},
    {"__dict__": [[[1, 2], 3]]},
    {"__pickle__": "gASVAAAAAAAAAAA="},
    {"a": 1},
])
def test_hostile_answers_decode_to_opaque(data):
    assert isinstance(decode_answer(data), Opaque)


# ------------------------------------------------------------------------------------ the worker
CODE = '''
def double(x):
    print("doubling", x)
    return 2 * x

def mutate(d):
    d["W1"][0, 0] = 5.0
    return None

def uses_helper(x, theta):
    return forward_propagation(x, theta)

def flood():
    for i in range(1_000_000):
        print(i)
    return "done"

def chatty_fd():
    import os
    os.write(1, b'{"id": 1, "result": 999}\\n')
    os.write(2, b"noise on stderr\\n")
    return 1

def reads_stdin():
    return input()

def exits():
    import sys
    sys.exit(3)

def dies():
    import os
    os._exit(7)

def segfaults():
    import ctypes
    return ctypes.string_at(0)

def loops():
    while True:
        pass

def needs_memory():
    return bytearray(1 << 46)

def not_yet():
    raise NotImplementedError()

def calls_not_yet():
    return not_yet() + 1

def recurses():
    return recurses()

def fails():
    raise ValueError("bad value")

number = 3
'''


@pytest.fixture
def student():
    with RemoteStudent([("code", CODE), ("broken", "def oops(:\n    pass"), ("later", "def later():\n    return 42")],
                       setup=SETUP, settings=DEFAULTS.replaced(call_seconds=2)) as remote:
        yield remote


def test_calls_return_results_printed_text_and_arguments(student):
    assert student.call("double", 2.5) == (5.0, "doubling 2.5\n", (2.5,))
    parameters = {"W1": np.zeros((2, 2))}
    result, printed, (after,) = student.call("mutate", parameters)
    assert result is None and printed == "" and after["W1"][0, 0] == 5.0
    assert parameters["W1"][0, 0] == 0.0, "the trusted side's own arguments never change"


def test_a_syntax_error_in_one_cell_leaves_the_others(student):
    assert student.call("later")[0] == 42
    student.start()
    assert student.cell_errors == {"broken": "SyntaxError: invalid syntax (<broken>, line 1)"}


def test_stand_ins_are_bound_during_a_call(student):
    from grading.inside.substitutes import power_cost
    result, _, _ = student.call("uses_helper", 2.0, 3.0, substitutes={"forward_propagation": power_cost(2.0, 2)})
    assert result == 18.0
    with pytest.raises(CheckFailed, match="raised NameError"):
        student.call("uses_helper", 2.0, 3.0)


def test_a_print_flood_is_cut_and_cannot_reach_the_channel():
    with RemoteStudent([("code", CODE)], setup=SETUP, settings=DEFAULTS.replaced(call_seconds=60)) as student:
        result, printed, _ = student.call("flood")
        assert result == "done" and len(printed) == worker.PRINT_LIMIT
        assert student.call("chatty_fd")[0] == 1
        assert student.call("double", 1)[0] == 2


def test_input_gets_nothing(student):
    with pytest.raises(CheckFailed, match="reads_stdin raised EOFError"):
        student.call("reads_stdin")
    assert student.call("double", 1)[0] == 2


@pytest.mark.parametrize("name, message", [
    ("nothing_here", "There is no function named nothing_here: run its cell"),
    ("number", "number is a int, not a function."),
    ("not_yet", "not_yet is not implemented yet: it still raises NotImplementedError."),
    ("calls_not_yet", "calls_not_yet calls not_yet, which still raises NotImplementedError, as released"),
    ("recurses", r"recurses recursed without end \(RecursionError\)"),
    ("fails", "fails raised ValueError: bad value"),
    ("exits", "exits raised SystemExit: 3"),
    ("needs_memory", "needs_memory raised MemoryError"),
])
def test_failures_read_as_in_the_kernel(student, name, message):
    with pytest.raises(CheckFailed, match=message):
        student.call(name)
    assert student.starts == 1, "an exception does not cost the worker"


@pytest.mark.parametrize("name", ["nothing_here", "number", "not_yet", "calls_not_yet", "recurses", "fails"])
def test_failure_messages_match_the_in_kernel_harness(student, name):
    namespace = {}
    exec(CODE, namespace)
    with pytest.raises(CheckFailed) as local:
        NotebookStudent(namespace).call(name)
    with pytest.raises(CheckFailed) as remote:
        student.call(name)
    assert str(remote.value) == str(local.value)


@pytest.mark.parametrize("name, message", [
    ("dies", r"dies crashed the Python process that ran it \(it exited with code 7\)"),
    ("segfaults", r"segfaults crashed the Python process that ran it \(a segmentation fault: SIGSEGV\)"),
    ("loops", "loops did not finish within 2 seconds"),
])
def test_a_crash_or_endless_loop_fails_and_the_next_call_gets_a_fresh_worker(student, name, message):
    with pytest.raises(CheckFailed, match=message):
        student.call(name)
    assert student.call("double", 4)[0] == 8
    assert student.starts == 2


def test_the_calls_of_one_function_share_a_time_budget():
    with RemoteStudent([("code", "import time\ndef slow():\n    time.sleep(0.4)\n    return 1")],
                       setup=SETUP, settings=DEFAULTS.replaced(function_seconds=1.0)) as remote:
        with pytest.raises(CheckFailed, match="used up the 1 seconds"):
            for _ in range(5):
                remote.call("slow")


def test_a_cell_that_crashes_or_hangs_is_left_out():
    cells = [("first", "def a():\n    return 1"), ("crash", "import os\nos._exit(1)"),
             ("hang", "while True:\n    pass"), ("last", "def b():\n    return 2")]
    with RemoteStudent(cells, setup=SETUP, settings=DEFAULTS.replaced(verification_cell_seconds=1)) as remote:
        assert remote.call("a")[0] == 1 and remote.call("b")[0] == 2
        assert set(remote.left_out) == {"crash", "hang"}
        assert "crashed" in remote.left_out["crash"] and "did not finish" in remote.left_out["hang"]


FORGERS = """
import json, os, threading, time

def _forge(result):
    line = json.dumps({"id": 2, "result": result, "printed": "", "args_after": [1.0]}).encode() + b"\\n"
    for fd in range(64):
        try:
            os.write(fd, line * 10)
        except OSError:
            pass

def forged(x):
    _forge(99.0)
    return 0.0

def forging_on(x):
    # keeps writing answers from a thread while the grader's next calls run
    def keep_forging():
        for _ in range(50):
            _forge(-1.0)
            time.sleep(0.01)
    threading.Thread(target=keep_forging, daemon=True).start()
    return 0.0

def huge_text():
    return "x" * 100_000_000

def parents_descriptors():
    opened = []
    for fd in range(16):
        try:
            with open("/proc/%d/fd/%d" % (os.getppid(), fd), "wb"):
                opened.append(fd)
        except OSError:
            pass
    return opened

def twice(x):
    return 2 * x
"""


def test_a_forged_answer_answers_only_the_call_that_wrote_it():
    """The student's code runs in a child of the broker that owns the grader's channel. Lines it
    writes to its own descriptors, before its answer or from a thread during later calls, answer
    nothing: each request carries a fresh token that its answer must repeat. The next call is
    answered by its own function, and the broker's descriptors are out of reach, even through /proc."""
    with RemoteStudent([("forgers", FORGERS)], setup=SETUP) as student:
        for number in range(3):
            assert student.call("forged", 1.0)[0] == 0.0
            assert student.call("twice", number)[0] == 2 * number
        assert student.call("forging_on", 1.0)[0] == 0.0
        for number in range(20):
            assert student.call("twice", number)[0] == 2 * number
        assert isinstance(student.call("huge_text")[0], Opaque), "an answer too long to send is opaque"
        assert student.call("parents_descriptors")[0] == [], "the broker's descriptors are out of reach"
        assert student.starts == 1


def test_a_runner_that_kills_its_broker_only_loses_its_call():
    code = "import os, signal\ndef kill_parent():\n    os.kill(os.getppid(), signal.SIGKILL)\n    return 1\n" \
           "def twice(x):\n    return 2 * x\n"
    with RemoteStudent([("killer", code)], setup=SETUP) as student:
        with pytest.raises(CheckFailed, match="crashed the Python process"):
            student.call("kill_parent")
        assert student.call("twice", 3)[0] == 6 and student.starts == 2


def test_the_worker_has_no_ipython_and_no_grading_package():
    code = '''
def probe():
    found = []
    try:
        get_ipython()
        found.append("get_ipython")
    except NameError:
        pass
    for name in ("grading", "grading.checks.reference", "IPython"):
        try:
            __import__(name)
            found.append(name)
        except ImportError:
            pass
    return found
'''
    with RemoteStudent([("probe", code)], setup=SETUP) as remote:
        found = remote.call("probe")[0]
    assert not {"get_ipython", "grading", "grading.checks.reference"} & set(found), found


# ------------------------------------------------------------------------------------ verify_submission
def write(folder, notebooks):
    folder.mkdir(parents=True, exist_ok=True)
    for name, notebook in notebooks.items():
        nbformat.write(notebook, folder / name)
    return folder


def verify_code(tmp_path, code=None, **options):
    return verify.verify_submission(write(tmp_path / "sub", synthetic.submission(code)), **options)


def points(verdicts):
    return {f: v.points for f, v in verdicts.items()}


def test_the_complete_solution_earns_everything(tmp_path):
    verdicts = verify_code(tmp_path)
    assert list(verdicts) == list(FUNCTIONS)
    assert all(v.passed and v.message.endswith("passes the hidden tests.") and not v.warnings
               for v in verdicts.values()), verdicts
    assert sum(v.points for v in verdicts.values()) == 100
    assert {v.notebook for v in verdicts.values()} == {NB1[:-6], NB2[:-6]}


def test_the_blank_release_earns_nothing(tmp_path):
    verdicts = verify.verify_submission(write(tmp_path / "sub", synthetic.submission(complete=False)))
    assert all(v.points == 0 and "not implemented yet" in v.message for v in verdicts.values()), verdicts


@pytest.mark.parametrize("variant", catalog.MISTAKES + catalog.ALTERNATIVES, ids=lambda v: v.name)
def test_catalog_entries_get_the_in_kernel_verdict(tmp_path, variant):
    home = synthetic.notebook_of()[variant.cell]
    functions = [f for f in FUNCTIONS if synthetic.notebook_of()[f] == home]
    verdicts = verify_code(tmp_path, {variant.cell: variant.code}, only=functions)
    # Verification runs no test cells, so compare with what the hidden tests alone say. The
    # notebook's example cells that define global X, Y do not run there either: code that uses
    # them fails with a NameError instead of the hidden tests' diagnosis.
    diagnosis = "NameError" if variant.name == "gcn_global_data" else variant.diagnosis
    for function, verdict in verdicts.items():
        if function in variant.loses:   # all its points for a wrong value, a minor part's for that part
            kept = 0 if variant.part == "value" else gc_feedback.points_kept(function, {variant.part})
            assert verdict.points == kept and diagnosis in " ".join(verdict.message.split()), verdict
        else:
            assert verdict.passed, verdict


def test_a_helper_cell_the_student_added_works_and_demo_cells_do_not_run(tmp_path):
    notebooks = synthetic.submission({"gradient_check": '''
def gradient_check(x, theta, epsilon=1e-7, print_msg=False):
    return my_relative_difference(backward_propagation(x, theta), central(x, theta, epsilon), print_msg)
'''})
    helper = nbformat.v4.new_code_cell('''%matplotlib inline
def central(x, theta, epsilon):
    return (forward_propagation(x, theta + epsilon) - forward_propagation(x, theta - epsilon)) / (2 * epsilon)

def my_relative_difference(g, a, print_msg):
    total = np.linalg.norm(g) + np.linalg.norm(a)
    d = float(np.linalg.norm(g - a) / total) if total else 0.0
    if print_msg:
        print("correct" if d < 2e-7 else "wrong")
    return d
''')
    first = notebooks[NB1]
    first.cells.insert(3, helper)
    # A release example cell, left as it is, is not run (it would fail before the solution cell).
    first.cells.insert(3, nbformat.v4.new_code_cell("gradient_check(2, 4, print_msg=True)"))
    verdicts = verify.verify_submission(write(tmp_path / "sub", notebooks), only=["gradient_check"])
    assert verdicts["gradient_check"].passed, verdicts


def cell_index(notebook, grade_id):
    return next(i for i, c in enumerate(notebook.cells) if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)


def test_broken_notebooks_and_cells_score_zero_where_they_break_and_the_rest_is_verified(tmp_path):
    notebooks = synthetic.submission({"backward_propagation": "def backward_propagation(x, theta:\n    return x"})
    first, second = notebooks[NB1], notebooks[NB2]
    # forward_propagation: its cell duplicated (nbgrader issue #1083), the copy wrong: staging's
    # policy, which verification shares, grades the first (tests/test_bad_submissions.py, b05)
    original = first.cells[cell_index(first, "forward_propagation")]
    first.cells.insert(cell_index(first, "forward_propagation") + 1,
                       nbformat.v4.new_code_cell("def forward_propagation(x, theta):\n    return 0\n",
                                                 metadata=copy.deepcopy(original.metadata)))
    # gradient_check: retyped to markdown, graded as the code cell it was released as (b06)
    cell = first.cells[cell_index(first, "gradient_check")]
    first.cells[cell_index(first, "gradient_check")] = nbformat.v4.new_markdown_cell(cell.source, metadata=cell.metadata)
    # gradient_check_by_parameter: deleted; a test cell edited
    del second.cells[cell_index(second, "gradient_check_by_parameter")]
    second.cells[cell_index(second, "test_gradient_check_n")].source = "pass"
    verdicts = verify.verify_submission(write(tmp_path / "sub", notebooks))
    assert points(verdicts) == {"forward_propagation": 5, "backward_propagation": 0, "gradient_check": 20,
                                "gradient_check_n": 25, "gradient_check_by_parameter": 0,
                                "backward_propagation_n_fixed": 25}
    assert "SyntaxError" in verdicts["backward_propagation"].message
    assert "missing" in verdicts["gradient_check_by_parameter"].message
    assert verdicts["gradient_check_n"].warnings == (
        "the locked cell test_gradient_check_n was edited (nbgrader grades with the original)",)


def test_a_malformed_or_missing_notebook_scores_zero_and_the_other_is_verified(tmp_path):
    folder = write(tmp_path / "sub", synthetic.submission())
    (folder / NB1).write_text('{"cells": [ this is not json')
    verdicts = verify.verify_submission(folder)
    assert all(verdicts[f].points == 0 and "could not be graded: it is not a readable notebook" in verdicts[f].message
               for f in FUNCTIONS[:3])
    assert all(verdicts[f].passed for f in FUNCTIONS[3:])
    (folder / NB1).rename(folder / "copy of notebook.ipynb")
    (folder / NB2).write_text(json.dumps({"cells": "no list"}))
    verdicts = verify.verify_submission(folder)
    assert all(v.points == 0 for v in verdicts.values())
    assert "missing" in verdicts["forward_propagation"].message and "copy of notebook.ipynb" in verdicts["forward_propagation"].message
    assert f"{NB2} could not be graded" in verdicts["gradient_check_n"].message


def test_cells_that_crash_or_hang_at_load_cost_only_their_own_functions(tmp_path):
    verdicts = verify_code(tmp_path, {"forward_propagation": "import os\nos._exit(1)",
                                      "backward_propagation": "while True:\n    pass"},
                           only=FUNCTIONS[:3], settings=DEFAULTS.replaced(verification_cell_seconds=2))
    assert verdicts["forward_propagation"].points == 0 and "crashed" in verdicts["forward_propagation"].message
    assert verdicts["backward_propagation"].points == 0 and "did not finish" in verdicts["backward_propagation"].message
    assert verdicts["gradient_check"].passed


# ------------------------------------------------------------------------------------ record_verdicts
@pytest.fixture(scope="module")
def gradebook_course(new_course):
    return new_course("verify_gradebook")


def verdicts_with(**changes):
    """Verdicts of a perfect submission, with some functions given 0 points."""
    layout = {f: (p, l.id) for l in verify.assignment_layout() for f, p in l.functions.items()}
    return {f: verify.Verdict(0.0 if f in changes else p, p, changes.get(f, f"{f} passes the hidden tests."), nb)
            for f, (p, nb) in layout.items()}


def db_url(root):
    return f"sqlite:///{root / 'gradebook.db'}"


def set_auto_scores(root, student, scores):
    """Write auto scores as nbgrader's autograde would."""
    from nbgrader.api import Gradebook

    with Gradebook(db_url(root)) as gb:
        for function, score in scores.items():
            notebook = synthetic.notebook_of()[function][:-6]
            grade = gb.find_grade("test_" + function, notebook, ASSIGNMENT, student)
            grade.auto_score = score
            grade.needs_manual_grade = False
        gb.db.commit()


def gradebook_state(root, student):
    from nbgrader.api import Gradebook

    with Gradebook(db_url(root)) as gb:
        submission = gb.find_submission(ASSIGNMENT, student)
        state = {"total": submission.score, "flagged": {nb.name: nb.flagged for nb in submission.notebooks}}
        for function in FUNCTIONS:
            notebook = synthetic.notebook_of()[function][:-6]
            grade = gb.find_grade("test_" + function, notebook, ASSIGNMENT, student)
            comment = gb.find_comment(function, notebook, ASSIGNMENT, student)
            state[function] = (grade.score, grade.manual_score, comment.manual_comment)
        return state


def test_a_disagreement_becomes_a_manual_score_with_a_comment_and_a_flag(gradebook_course):
    root, student = gradebook_course, "cheater"
    url = db_url(root)
    from nbgrader.api import Gradebook
    with Gradebook(url) as gb:
        gb.add_student(student)
        gb.add_submission(ASSIGNMENT, student)
    set_auto_scores(root, student, {f: p for f, p in [("forward_propagation", 5), ("backward_propagation", 5),
                                                     ("gradient_check", 20), ("gradient_check_n", 25),
                                                     ("gradient_check_by_parameter", 20),
                                                     ("backward_propagation_n_fixed", 25)]})
    flags = verify.record_verdicts(url, ASSIGNMENT, student, verdicts_with(gradient_check="it returned 0.5"), root)
    assert [f.function for f in flags] == ["gradient_check"]
    assert str(flags[0]) == "gradient_check: in-kernel score 20, verified 0: it returned 0.5"
    assert (flags[0].in_kernel, flags[0].verified, flags[0].max_points) == (20, 0, 20)
    state = gradebook_state(root, student)
    assert state["total"] == 80
    score, manual, comment = state["gradient_check"]
    assert score == 0 and manual == 0 and comment.startswith(verify.MARKER) and "it returned 0.5" in comment
    assert state["forward_propagation"] == (5, None, None)
    assert state["flagged"] == {NB1[:-6]: True, NB2[:-6]: False}

    # Graded again, with the two verdicts in agreement: the override goes away.
    flags = verify.record_verdicts(url, ASSIGNMENT, student, verdicts_with(), root)
    assert flags == []
    state = gradebook_state(root, student)
    assert state["total"] == 100 and state["gradient_check"] == (20, None, None)

    # An instructor's own manual score is never replaced.
    with Gradebook(url) as gb:
        gb.find_grade("test_gradient_check_n", NB2[:-6], ASSIGNMENT, student).manual_score = 10
        gb.db.commit()
    flags = verify.record_verdicts(url, ASSIGNMENT, student, verdicts_with(gradient_check_n="wrong"), root)
    assert "the instructor's manual score 10 was kept" in flags[0].reason
    assert gradebook_state(root, student)["gradient_check_n"][:2] == (10, 10)


def test_a_submission_nbgrader_never_graded_gets_the_verified_scores(gradebook_course):
    """...quietly: nbgrader's add_submission, left to flush the session as it goes, makes SQLAlchemy
    warn that the rows "will not proceed", which reads like lost grades in make autograde's output."""
    from sqlalchemy.exc import SAWarning

    root, student = gradebook_course, "kernel_died"   # not even in the gradebook
    with warnings.catch_warnings():
        warnings.simplefilter("error", SAWarning)
        flags = verify.record_verdicts(db_url(root), ASSIGNMENT, student,
                                       verdicts_with(gradient_check_n="crashed", backward_propagation_n_fixed="crashed"),
                                       root)
    assert len(flags) == 6 and all("no in-kernel score" in f.reason for f in flags)
    state = gradebook_state(root, student)
    assert state["total"] == 50
    assert state["forward_propagation"][:2] == (5, 5) and state["gradient_check_n"][:2] == (0, 0)


def test_tampering_without_a_changed_score_is_reported_not_flagged(gradebook_course):
    """A flag names a function whose points verification changed; tampering that changed none (nbgrader
    grades with the original cells) is a problem the instructor reads, once, and holds nothing back.
    Beside a changed score, it is part of that flag's reason."""
    from nbgrader.api import Gradebook

    root, student = gradebook_course, "tamperer"
    with Gradebook(db_url(root)) as gb:
        gb.add_student(student)
        gb.add_submission(ASSIGNMENT, student)
    set_auto_scores(root, student, dict.fromkeys(FUNCTIONS, 0) | {"gradient_check": 20})
    verdicts = verdicts_with(**dict.fromkeys(FUNCTIONS, "wrong"))
    seen = ("the locked cell setup_1d was edited (nbgrader grades with the original)",)
    for function in ("forward_propagation", "backward_propagation", "gradient_check"):   # notebook 1's
        verdicts[function] = verify.Verdict(0.0, verdicts[function].max_points, "wrong", NB1[:-6], seen)
    flags = verify.record_verdicts(db_url(root), ASSIGNMENT, student, verdicts, root)
    assert list(map(str, flags)) == [f"gradient_check: in-kernel score 20, verified 0: wrong; {seen[0]}"]
    assert verify.tampering_seen(verdicts) == [f"tampering seen: {seen[0]}"]
    state = gradebook_state(root, student)
    assert state["flagged"] == {NB1[:-6]: True, NB2[:-6]: False}   # for gradient_check's change alone
    assert state["forward_propagation"][1] is None


# Who owns a manual score (verify.owner_of): what verification wrote stays its own to update or
# withdraw; whatever else a person leaves in the cell is the instructor's, kept and flagged.
FULL = {"forward_propagation": 5, "backward_propagation": 5, "gradient_check": 20, "gradient_check_n": 25,
        "gradient_check_by_parameter": 20, "backward_propagation_n_fixed": 25}


def overridden(root, student):
    """A student whose gradient_check verification overrode: in-kernel 20, verified 0."""
    from nbgrader.api import Gradebook

    with Gradebook(db_url(root)) as gb:
        gb.add_student(student)
        gb.add_submission(ASSIGNMENT, student)
    set_auto_scores(root, student, FULL)
    verify.record_verdicts(db_url(root), ASSIGNMENT, student, verdicts_with(gradient_check="it returned 0.5"), root)
    return gradebook_state(root, student)["gradient_check"]


def by_hand(root, student, **cell):
    """Set gradient_check's manual score and/or comment as the formgrader does."""
    from nbgrader.api import Gradebook

    with Gradebook(db_url(root)) as gb:
        if "score" in cell:
            gb.find_grade("test_gradient_check", NB1[:-6], ASSIGNMENT, student).manual_score = cell["score"]
        if "comment" in cell:
            gb.find_comment("gradient_check", NB1[:-6], ASSIGNMENT, student).manual_comment = cell["comment"]
        gb.db.commit()


def test_an_edited_comment_makes_the_cell_the_instructors(gradebook_course):
    root, student = gradebook_course, "comment_edited"
    _, _, comment = overridden(root, student)
    by_hand(root, student, comment=comment + " Discussed in office hours: 0 stands.")
    flags = verify.record_verdicts(db_url(root), ASSIGNMENT, student, verdicts_with(), root)   # now they agree
    assert gradebook_state(root, student)["gradient_check"] == (0, 0, comment + " Discussed in office hours: 0 stands.")
    assert [str(f) for f in flags] == ["gradient_check: the instructor's manual score 0 was kept, verified 20 "
                                       "(in-kernel score 20): gradient_check passes the hidden tests."]


def test_the_number_verification_wrote_stays_verifications(gradebook_course):
    from grading.grader import ledger

    root, student = gradebook_course, "same_number"
    overridden(root, student)
    by_hand(root, student, score=0.0)   # typed again: the gradebook is as verification left it
    assert verify.record_verdicts(db_url(root), ASSIGNMENT, student, verdicts_with(), root) == []
    assert gradebook_state(root, student)["gradient_check"] == (20, None, None)
    assert ledger.VerifiedScores(root, db_url(root)).read(student) == {}, "a withdrawn override leaves no record"


def test_a_cleared_score_is_nobodys_and_an_instructors_comment_alone_is_theirs(gradebook_course):
    root, student = gradebook_course, "cleared"
    _, _, comment = overridden(root, student)
    by_hand(root, student, score=None)   # verification's comment left behind
    flags = verify.record_verdicts(db_url(root), ASSIGNMENT, student, verdicts_with(gradient_check="still 0.5"), root)
    assert [f.function for f in flags] == ["gradient_check"]
    score, manual, comment = gradebook_state(root, student)["gradient_check"]
    assert (score, manual) == (0, 0) and "still 0.5" in comment, "overridden again"
    by_hand(root, student, score=None, comment="See me about this function.")
    flags = verify.record_verdicts(db_url(root), ASSIGNMENT, student, verdicts_with(gradient_check="still 0.5"), root)
    assert gradebook_state(root, student)["gradient_check"] == (20, None, "See me about this function.")
    assert "in-kernel score 20, verified 0: still 0.5; not recorded, because the instructor commented" in flags[0].reason


def test_without_a_record_only_exactly_what_verification_writes_is_its_own(gradebook_course):
    from grading.grader import ledger

    root, student = gradebook_course, "old_course"
    _, _, comment = overridden(root, student)
    (root / ledger.VERIFIED / f"{student}.json").unlink()   # graded before verification kept a record
    flags = verify.record_verdicts(db_url(root), ASSIGNMENT, student, verdicts_with(gradient_check="it returned 0.5"), root)
    assert [f.reason for f in flags] == ["in-kernel score 20, verified 0: it returned 0.5"]   # adopted: as written
    assert verify.record_verdicts(db_url(root), ASSIGNMENT, student, verdicts_with(), root) == []
    assert gradebook_state(root, student)["gradient_check"] == (20, None, None), "and withdrawn as its own"

    _, _, comment = overridden(root, student + "_changed")
    (root / ledger.VERIFIED / f"{student}_changed.json").unlink()
    flags = verify.record_verdicts(db_url(root), ASSIGNMENT, student + "_changed", verdicts_with(), root)
    assert gradebook_state(root, student + "_changed")["gradient_check"] == (0, 0, comment), "who set it is unknown: kept"
    assert "the instructor's manual score 0 was kept, verified 20" in flags[0].reason


@pytest.mark.parametrize("killed", ["before the commit", "after the commit"])
def test_a_run_killed_between_gradebook_and_record_leaves_the_override_verifications(gradebook_course, monkeypatch,
                                                                                     killed):
    from grading.grader import ledger

    root, student = gradebook_course, f"killed_{killed.split()[0]}"
    overridden(root, student)
    write = ledger.VerifiedScores.write
    calls = []

    def killed_there(self, who, cells):   # the record is written before the commit and after it
        calls.append(cells)
        if killed == "after the commit" and len(calls) == 2:
            raise KeyboardInterrupt
        write(self, who, cells)
        if killed == "before the commit":
            raise KeyboardInterrupt

    monkeypatch.setattr(ledger.VerifiedScores, "write", killed_there)
    with pytest.raises(KeyboardInterrupt):   # graded again, now 5 points
        verify.record_verdicts(db_url(root), ASSIGNMENT, student,
                               {**verdicts_with(), "gradient_check": verify.Verdict(5.0, 20.0, "partly", NB1[:-6])}, root)
    assert gradebook_state(root, student)["gradient_check"][:2] == ((0, 0) if killed == "before the commit" else (5, 5))
    monkeypatch.setattr(ledger.VerifiedScores, "write", write)
    assert verify.record_verdicts(db_url(root), ASSIGNMENT, student, verdicts_with(), root) == []
    assert gradebook_state(root, student)["gradient_check"] == (20, None, None), "withdrawn as verification's"
