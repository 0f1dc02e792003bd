"""Results survive the ledger: a Result resumed from .grading/ledger/ equals the one recorded, flags included."""
import json

from grading.grader import course
from grading.grader.ledger import Ledger
from grading.results import Flag, Result

FLAG = Flag("gradient_check", 20.0, 0.0, 20.0, "in-kernel score 20, verified 0: it returned 0.5")


def a_result():
    return Result("ada", scores={"gradient_check": 0.0}, problems=["extra.ipynb was not graded"], flags=[FLAG],
                  diagnoses={"gradient_check": "it returned 0.5"}, seconds=1.5)


def test_a_flag_reads_as_its_function_and_reason():
    assert str(FLAG) == "gradient_check: in-kernel score 20, verified 0: it returned 0.5"
    assert Flag("fwd", None, 5.0, 5.0, "no in-kernel score").in_kernel is None


def test_a_result_survives_json():
    result = a_result()
    again = Result.from_dict(json.loads(json.dumps(result.to_dict())))
    assert again == result and isinstance(again.flags[0], Flag)


def test_the_report_shows_flags_as_sentences():
    assert a_result().for_report()["flags"] == [str(FLAG)]


def test_a_result_resumed_from_the_ledger_equals_the_one_recorded(tmp_path):
    root = course.make_course_copy(tmp_path / "course")
    ledger = Ledger(root, "sqlite:///gradebook.db")
    ledger.record(a_result(), "fingerprint")
    resumed = Ledger(root, "sqlite:///gradebook.db").result("ada")
    assert resumed == a_result()
    assert resumed.flags[0].function == "gradient_check"
