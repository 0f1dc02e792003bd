"""The real PostgreSQL server of tests/pgserver.py, and nbgrader's gradebook on it."""
import datetime
import socket

import psycopg
import pytest
from nbgrader.api import Gradebook, MissingEntry

from pgserver import PostgresNotInstalled, PostgresServer, find_bindir, postgres_server  # noqa: F401


def query(url, sql, *params):
    """Run one statement on the database at `url` (autocommit); return its rows, if any."""
    conn = psycopg.connect(url, autocommit=True)
    try:
        with conn.cursor() as cur:
            cur.execute(sql, params)
            return cur.fetchall() if cur.description else None
    finally:
        conn.close()


def close_gradebook(gb):
    """Close the gradebook and its connection pool (Gradebook.close() keeps the pool open)."""
    gb.close()
    gb.engine.dispose()


def test_server_is_real_postgres_on_loopback(postgres_server):
    version, addr, user, fsync = query(
        postgres_server.url(),
        "SELECT version(), host(inet_server_addr()), current_user, current_setting('fsync')")[0]
    assert "PostgreSQL" in version
    assert addr == "127.0.0.1" and user == "grader" and fsync == "off"
    assert postgres_server.url("x") == f"postgresql://grader@127.0.0.1:{postgres_server.port}/x"


def test_gradebook_round_trip(postgres_server):
    url = postgres_server.create_database("gradebook")
    # SQLAlchemy 2.1 reads a plain postgresql:// with psycopg 3, the course's driver.
    sa_url = postgres_server.url("gradebook")
    due = datetime.datetime(2030, 1, 31, 17, 0)
    gb = Gradebook(sa_url)  # creates nbgrader's tables in the empty database
    try:
        gb.add_student("alice", first_name="Alice", last_name="Liddell", email="a@example.org")
        gb.add_assignment("gradient_checking", duedate=due)
    finally:
        close_gradebook(gb)
    # The rows are in PostgreSQL, not in some SQLite file.
    assert query(url, "SELECT id, email FROM student") == [("alice", "a@example.org")]
    assert query(url, "SELECT count(*) FROM alembic_version") == [(1,)]

    gb = Gradebook(sa_url)  # a second Gradebook finds the existing tables
    try:
        student = gb.find_student("alice")
        assert (student.first_name, student.last_name) == ("Alice", "Liddell")
        assert gb.find_assignment("gradient_checking").duedate == due
        with pytest.raises(MissingEntry):
            gb.find_student("bob")
    finally:
        close_gradebook(gb)


def test_databases_are_independent(postgres_server):
    first, second = postgres_server.create_database(), postgres_server.create_database()
    assert first != second
    query(first, "CREATE TABLE scores (student text, score int)")
    query(first, "INSERT INTO scores VALUES ('alice', 7)")
    assert query(second, "SELECT to_regclass('scores')") == [(None,)]
    query(second, "CREATE TABLE scores (student text, score int)")
    query(second, "INSERT INTO scores VALUES ('bob', 3)")
    assert query(first, "SELECT * FROM scores") == [("alice", 7)]
    assert query(second, "SELECT * FROM scores") == [("bob", 3)]
    with pytest.raises(RuntimeError, match="already exists"):
        postgres_server.create_database(first.rsplit("/", 1)[1])


def test_server_stops_and_cleans_up():
    with PostgresServer() as server:
        datadir, port = server.datadir, server.port
        assert query(server.create_database("tmp"), "SELECT 1") == [(1,)]
    assert not datadir.exists() and not datadir.parent.exists()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=2).close()


def test_missing_binaries_say_what_to_install(tmp_path):
    with pytest.raises(PostgresNotInstalled, match="postgresql package"):
        find_bindir(tmp_path)
