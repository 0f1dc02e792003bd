"""Shared fixtures: throwaway copies of the course, graded with the real nbgrader commands."""
import os
import socket
import tempfile
import threading

import pytest

from grading.grader import course
from pgserver import postgres_server  # noqa: F401  (a real PostgreSQL server on loopback)

# The reviewed copies of the throwaway courses' configurations (grading/grader/config_review.py) go to a
# folder of this run, not the tester's own state folder; commands the tests start inherit it.
os.environ["XDG_STATE_HOME"] = tempfile.mkdtemp(prefix="grading-state-")


@pytest.fixture(scope="session")
def new_course(tmp_path_factory):
    """Factory: a fresh course directory (source, config, generated release, empty gradebook)."""
    def make(name="course"):
        root = course.make_course_copy(tmp_path_factory.mktemp(name))
        course.generate_release(root)
        return root
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
