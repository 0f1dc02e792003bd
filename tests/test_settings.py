"""The grading settings: declared once (grading/settings.py), read from the course's configuration,
carried to workers, shown by `make settings`, and the only source of docs/security.md's table."""
import pickle
import re
from pathlib import Path

import pytest

from grading import settings
from grading.course_directory import Course
from grading.grader import course as stock, show_settings

pytestmark = pytest.mark.fast   # in make check's lane

DOCUMENT = Path(__file__).resolve().parent.parent / "docs" / "security.md"
PACKAGE = Path(settings.__file__).resolve().parent


def test_the_documented_bounds_are_the_declared_ones():
    text = DOCUMENT.read_text(encoding="utf-8")
    assert settings.in_document(text) == text, "docs/security.md's table is not the declarations': make settings-doc"


def test_every_setting_has_help_a_unit_and_a_reader():
    """Each declared setting is explained, and read by some module of the package (none is dead)."""
    sources = "\n".join(path.read_text() for path in PACKAGE.rglob("*.py") if path.name != "settings.py")
    for part, name, trait in settings.declarations():
        assert trait.help and part in settings.PARTS and "unit" in trait.metadata, name
        assert re.search(rf"\b{name}\b", sources), f"no module reads GradingSettings.{name}"


def test_a_course_sets_its_own_bounds(tmp_path, capsys):
    root = stock.make_course_copy(tmp_path / "course")
    with open(root / "nbgrader_config.py", "a") as config:
        config.write("\nc.GradingSettings.deadline_seconds = 600\nc.GradingSettings.zip_files = 7\n")
    course = Course(root)
    assert (course.settings.deadline_seconds, course.settings.zip_files) == (600, 7)
    assert course.settings.memory_bytes == settings.DEFAULTS.memory_bytes
    run = course.with_settings(deadline_seconds=60)          # make autograde --deadline 60
    worker = pickle.loads(pickle.dumps(run))                 # what a worker process gets
    assert (worker.settings.deadline_seconds, worker.settings.zip_files) == (60, 7)
    assert course.settings.deadline_seconds == 600
    assert show_settings.main(["--root", str(root)]) == 0
    shown = capsys.readouterr().out
    assert "deadline_seconds = 600 s   (set by the course; default 300 s)" in shown
    assert "zip_files = 7   (set by the course; default 5,000)" in shown
    assert "memory_bytes = 2 GiB\n" in shown
