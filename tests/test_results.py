"""Results survive the ledger: a Result resumed from .grading/ledger/ equals the one recorded, flags included;
the grader's records in .grading/ follow no link."""
import json
import os

import pytest
from canaries import Canaries
from grading.grader import course, ledger
from grading.grader.ledger import Ledger
from grading.results import Flag, Result

pytestmark = pytest.mark.fast   # in make check's lane

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


def test_the_grader_records_follow_no_link(tmp_path):
    # Under `make hub-autograde` root grades in a course folder that the instructor's account can write.
    root = course.make_course_copy(tmp_path / "course")
    canaries = Canaries(tmp_path / "canaries")
    record = ledger.VerifiedScores(root, "sqlite:///gradebook.db")
    state = {"gradient_check": [{"manual_score": 0.0, "manual_comment": "Verified outside the notebook: ..."}]}
    try:
        with canaries.watching():
            (root / ledger.LEDGER).mkdir(parents=True)
            os.symlink(canaries.folder / "secret.txt", root / ledger.LEDGER / "ada.json")
            assert Ledger(root, "sqlite:///gradebook.db").entry("ada") is None   # a link is no entry
            Ledger(root, "sqlite:///gradebook.db").record(a_result(), "fingerprint")   # the link is replaced
            assert Ledger(root, "sqlite:///gradebook.db").result("ada") == a_result()
            os.symlink(canaries.folder / "folder", root / ledger.VERIFIED)
            with pytest.raises(OSError):   # a record folder that is a link is refused
                record.write("ada", state)
            assert record.read("ada") is None
            os.unlink(root / ledger.VERIFIED)
            record.write("ada", state)
            assert record.read("ada") == state
        assert canaries.touched() == [] and canaries.changed() == []
    finally:
        canaries.close()
