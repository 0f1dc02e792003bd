"""Shared fixtures: throwaway copies of the course, graded with the real nbgrader commands."""
import os
import shutil
import socket
import tempfile
import threading
from pathlib import Path

import pytest

from commands import autograded

from grading.grader import course
from pgserver import postgres_server  # noqa: F401  (a real PostgreSQL server on loopback)

# The reviewed copies of the throwaway courses' configurations (grading/grader/reviewed_config.py) go to a
# folder of this run, not the tester's own state folder; commands the tests start inherit it.
os.environ["XDG_STATE_HOME"] = tempfile.mkdtemp(prefix="grading-state-")


@pytest.fixture(scope="session")
def template_course(tmp_path_factory):
    """One course directory whose release `nbgrader generate_assignment` made, once per run (it
    takes seconds; a copy of its result does not): source, config, release, gradebook.db."""
    root = course.make_course_copy(tmp_path_factory.mktemp("template") / "course")
    course.generate_release(root)
    return root


@pytest.fixture(scope="session")
def new_course(tmp_path_factory, template_course):
    """Factory: a fresh course directory (source, config, generated release, a gradebook that knows
    the assignment and no student): a copy of the run's template course."""
    def make(name="course"):
        return Path(shutil.copytree(template_course, tmp_path_factory.mktemp(name), dirs_exist_ok=True))
    return make


@pytest.fixture(scope="session")
def grade_batch(new_course):
    """Factory: autograde {student: notebooks} in one fresh course; return (root, scores)."""
    def grade(students, name="batch"):
        root = new_course(name)
        for student, notebooks in students.items():
            course.add_submission(root, student, notebooks)
        course.autograde(root)
        return root, course.scores(root)
    return grade


@pytest.fixture(scope="module")
def dask_scheduler():
    """A Dask cluster on this machine: its scheduler's address. Separate worker processes, one
    thread each, as on a real cluster."""
    from distributed import LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        yield cluster.scheduler_address


@pytest.fixture(scope="module")
def host_server():
    """A TCP server on the host's 127.0.0.1 that greets every client: its port."""
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.5)
    stop = threading.Event()

    def serve():
        while not stop.is_set():
            try:
                client, _ = server.accept()
            except OSError:
                continue
            client.sendall(b"hello")
            client.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join()
    server.close()


@pytest.fixture(scope="session")
def copied_class(new_course):
    """A small class graded once by `make autograde` (grading.grader.autograde, no feedback, every
    similar pair listed): an original, a verbatim copy with its solution flags cleared, a copy with
    the answers moved into cells of its own, independent correct work, the blank release, and a
    kernel that dies in a function (verification overrides nbgrader there).
    Returns (root, the similarity page as that run wrote it)."""
    from synthetic_class import catalog, demo, synthetic

    def alternatives(*names):
        return synthetic.submission({catalog.by_name(n).cell: catalog.by_name(n).code for n in names})

    original = alternatives("bwd_float", "gc_other_messages", "gcn_deepcopy_sqrt_sum", "bp_vector_to_dictionary",
                            "fixed_in_place_on_copies")
    students = {"ann_original": original,
                "bob_flags_cleared": synthetic.without_solution_flags(original),
                "cat_moved": synthetic.in_added_cells(original),
                "dan_independent": alternatives("fwd_np_multiply", "gc_abs_values", "gcn_unit_vectors_vectorized",
                                                "bp_cumulative_slices", "fixed_z_mask_np_dot"),
                "eve_blank": synthetic.submission(complete=False),
                "otto_crashing": demo.hub_kinds()["crashing"]}
    root = new_course("copied_class")
    for student, notebooks in students.items():
        course.add_submission(root, student, notebooks)
    autograded(root, "--no-feedback", "--similarity-threshold", "0")
    return root, (root / "reports" / "similarity.html").read_text()
