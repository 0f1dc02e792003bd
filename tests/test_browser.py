"""The student's side: the release notebooks in JupyterLab in a real (headless) browser, and
`nbgrader validate` as a student would run it before submitting.

One JupyterLab server (the pinned one in .venv, with nbgrader's lab extensions) serves three
copies of the release folder: `solved/` (the instructor's solutions in the solution cells),
`blank/` (the release as handed out) and `wrong/` (one deliberately wrong function). Debian's
Chromium, driven by Playwright, opens the notebooks, runs them and reads what the student sees.
Screenshots are kept in artifacts/browser/.
"""
import re
import shutil
import subprocess
from pathlib import Path

import nbformat
import pytest

from browser_support import BIN, CHROMIUM, CHROMIUM_ARGS, JupyterLab, NotebookPage, student_env
from ci import require
from grading.assignment import ASSIGNMENT, COURSE_ROOT, NOTEBOOKS
from synthetic_class import synthetic

RELEASE = COURSE_ROOT / "release" / ASSIGNMENT
ARTIFACTS = COURSE_ROOT / "artifacts" / "browser"
NB1, NB2 = NOTEBOOKS
# Plots each notebook draws when it is solved (tests/test_autograde.py counts the same).
MIN_PLOTS = {NB1: 1, NB2: 4}

WRONG_FORWARD = "def forward_propagation(x, theta):\n    return x + theta"
# The fraud team's buggy backward pass handed in as the "fixed" one.
UNFIXED_BACKWARD = "def backward_propagation_n_fixed(X, Y, cache):\n    return backward_propagation_n(X, Y, cache)"
FOLDERS = {"solved": {}, "blank": None, "wrong": {"forward_propagation": WRONG_FORWARD}}


def graded_cells(name):
    """[(cell index, tested function)] of the test cells of a release notebook."""
    cells = nbformat.read(RELEASE / name, as_version=4).cells
    return [(index, cell.metadata["nbgrader"]["grade_id"].removeprefix("test_"))
            for index, cell in enumerate(cells) if cell.metadata.get("nbgrader", {}).get("grade")]


def student_folder(path, code):
    """A copy of the release folder; code None keeps it blank, else {grade_id: source} on top of
    the instructor's solutions."""
    shutil.copytree(RELEASE, path)
    if code is not None:
        for name, notebook in synthetic.submission(code).items():
            nbformat.write(notebook, path / name)
    return path


def printed(text, line):
    """Whether `line` is a whole line of the outputs (not merely quoted in a traceback)."""
    return line in (row.strip() for row in text.splitlines())


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    root = tmp_path_factory.mktemp("student")
    for folder, code in FOLDERS.items():
        student_folder(root / folder, code)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for old in ARTIFACTS.glob("*.png"):
        old.unlink()
    server = JupyterLab(root, tmp_path_factory.mktemp("jupyter-home"), ARTIFACTS / "jupyterlab.log").start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    require(CHROMIUM.exists(), f"{CHROMIUM} is missing: apt-get install chromium")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        require(False, "playwright is not installed: pip install -r requirements.txt")
    playwright = sync_playwright().start()
    try:
        context = playwright.chromium.launch_persistent_context(
            tmp_path_factory.mktemp("chromium-profile"), executable_path=str(CHROMIUM),
            args=CHROMIUM_ARGS, headless=True, viewport={"width": 1280, "height": 900})
    except Exception:
        playwright.stop()
        raise
    yield context
    context.close()
    playwright.stop()


@pytest.fixture
def open_notebook(browser, lab, request):
    """Factory: open folder/name in a new tab. At the end of the test (also when it fails) the
    whole notebook is screenshot to artifacts/browser/<folder>-<notebook>.png, then the tab closed."""
    pages = []
    test = re.sub(r"[^A-Za-z0-9_]+", "-", request.node.name).strip("-")

    def open_(folder, name):
        stem = f"{folder}-{Path(name).stem}"
        page = NotebookPage.open(browser, lab, f"{folder}/{name}", workspace=f"{test}-{stem}")
        pages.append((stem, page))
        return page

    yield open_
    for stem, page in pages:
        try:
            page.screenshot(ARTIFACTS / f"{stem}.png")
        finally:
            page.page.close()


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_solved_notebook_passes_its_visible_tests_and_draws_its_plots(open_notebook, lab, name):
    notebook = open_notebook("solved", name)
    notebook.restart_and_run_all()   # what the notebook asks the student to do before submitting

    prompts = notebook.code_prompts()
    assert all(prompt[1:-2].isdigit() for prompt in prompts), f"cells that did not run: {prompts}"
    text = notebook.output_text()
    functions = [function for _, function in graded_cells(name)]
    assert len(functions) == 3
    for function in functions:
        assert printed(text, f"{function} passes the visible tests.")
    for error in ("Traceback", "Error:", "NotImplementedError"):
        assert error not in text, f"{name} shows {error!r} in its outputs"
    assert notebook.count_stderr() == 0, "a cell wrote to stderr (a warning?)"

    images = notebook.count_images()
    assert images >= MIN_PLOTS[name], f"{name} shows {images} plots"
    # Every plot the kernel sent is on the page: compare with the notebook as JupyterLab saves it.
    notebook.save()
    saved = nbformat.read(lab.root / "solved" / name, as_version=4)
    sent = sum("image/png" in output.get("data", {}) for cell in saved.cells for output in cell.get("outputs", []))
    assert images == sent

    # nbgrader's Validate button in the notebook toolbar re-runs the saved notebook on the server.
    dialog = notebook.validate()
    assert "Success! Your notebook passes all the tests." in dialog.inner_text()
    dialog.get_by_role("button", name="Ok").click()


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_blank_release_shows_the_student_what_is_missing(open_notebook, name):
    notebook = open_notebook("blank", name)
    notebook.run_cell_by_cell()   # every cell, also those after a failing one

    outputs = notebook.cell_outputs()
    cells = nbformat.read(RELEASE / name, as_version=4).cells
    assert len(outputs) == len(cells)
    for index, cell in enumerate(cells):
        if cell.metadata.get("nbgrader", {}).get("solution"):
            assert outputs[index] == "", f"defining the stub in cell {index} printed {outputs[index]!r}"
    for index, function in graded_cells(name):
        # The test cell says so, and shows where: the student's function, at the stub's raise.
        words = " ".join(outputs[index].split())   # the sentence is wrapped to 100 characters
        assert f"{function} is not implemented yet: it still raises NotImplementedError." in words, (
            f"test cell of {function}: {outputs[index][:500]}")
        assert f"in {function}" in outputs[index], f"the traceback does not point into {function}"
        assert "raise NotImplementedError()" in outputs[index]
        assert not printed(outputs[index], f"{function} passes the visible tests.")
    # The plots that need no student code still render.
    assert notebook.count_images() >= 1


def test_a_wrong_function_fails_its_visible_test_in_the_page_and_in_the_validate_button(open_notebook):
    notebook = open_notebook("wrong", NB1)
    notebook.run_all()   # stops at the first failing cell
    message = ("CheckFailed: forward_propagation(x=1.5, theta=-2.5) returned -1 instead of -3.75: you added x and "
               "theta; J is their product.")

    outputs = notebook.cell_outputs()
    (index, _), *_ = graded_cells(NB1)
    assert message in " ".join(outputs[index].split())   # the sentence, wrapped to 100 characters
    assert not printed(notebook.output_text(), "forward_propagation passes the visible tests.")

    dialog = notebook.validate()
    text = dialog.inner_text()
    assert "The following cell failed" in text
    assert message in " ".join(text.split())
    assert "Success" not in text
    notebook.page.screenshot(path=ARTIFACTS / "wrong-validate-button.png")
    dialog.get_by_role("button", name="Ok").click()


# `nbgrader validate` from a terminal, in the assignment folder, without the course's config.
# (The Validate button above passes both solved notebooks through the same validator.)
VALIDATE_CASES = {
    "solved-1d": (NB1, {}),
    "wrong-forward-propagation": (NB1, {"forward_propagation": WRONG_FORWARD}),
    "unfixed-backward-propagation": (NB2, {"backward_propagation_n_fixed": UNFIXED_BACKWARD}),
}


@pytest.fixture(scope="module")
def validations(tmp_path_factory):
    """{case: (exit status, output with its log)} of `nbgrader validate`, the cases side by side."""
    home = tmp_path_factory.mktemp("validate-home")
    running = {}
    for case, (name, code) in VALIDATE_CASES.items():
        folder = student_folder(tmp_path_factory.mktemp("validate") / ASSIGNMENT, code)
        running[case] = subprocess.Popen([str(BIN / "nbgrader"), "validate", name], cwd=folder,
                                         env=student_env(home), stdout=subprocess.PIPE,
                                         stderr=subprocess.STDOUT, text=True)
    results = {}
    try:
        for case, process in running.items():
            output, _ = process.communicate(timeout=180)
            results[case] = (process.returncode, output)
    finally:
        for process in running.values():
            if process.poll() is None:
                process.kill()
                process.wait()
    return results


def test_nbgrader_validate_passes_a_correct_notebook(validations):
    status, output = validations["solved-1d"]
    assert status == 0
    assert "Success! Your notebook passes all the tests." in output
    assert "VALIDATION FAILED" not in output


def test_nbgrader_validate_names_the_failing_test_with_its_visible_message(validations):
    # nbgrader validate cuts every line at 87 characters, so only the start of a message shows.
    # (It also exits with status 0 when tests fail: the student has to read the output.)
    _, output = validations["wrong-forward-propagation"]
    assert "VALIDATION FAILED" in output
    assert "The following cell failed:" in output
    assert 'visible_tests("forward_propagation", globals())' in output       # the failing test cell, quoted
    assert "CheckFailed: forward_propagation(x=1.5, theta=-2.5) returned -1 instead of -3.75" in output

    _, output = validations["unfixed-backward-propagation"]
    assert "VALIDATION FAILED ON 1 CELL(S)" in output
    assert 'visible_tests("backward_propagation_n_fixed", globals())' in output
    assert "examples: dW2 is twice the correct value" in output   # the hidden tests' words
