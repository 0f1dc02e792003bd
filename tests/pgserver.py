"""A real, throwaway PostgreSQL server for the tests, from Debian's postgresql package.

`PostgresServer` runs initdb and pg_ctl from /usr/lib/postgresql/<version>/bin on a fresh data
directory, listening on 127.0.0.1 only, and removes everything again on exit. Each test gets
a fresh database of its own from `server.create_database()`, which returns its URL.

    with PostgresServer() as server:
        url = server.create_database("gradebook")                      # postgresql://...
        sa_url = server.create_database("other", driver="psycopg")    # postgresql+psycopg://...

`postgres_server` is the same server as a session-scoped pytest fixture. Use it from conftest.py
with `from pgserver import postgres_server  # noqa: F401`.
"""
import itertools
import os
import pwd
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from commands import free_port

PG_ROOT = Path("/usr/lib/postgresql")
SUPERUSER = "grader"
# PostgreSQL refuses to run as root; Debian's package creates this system user.
SYSTEM_USER = "postgres"
START_ATTEMPTS = 5  # a free port can be taken by someone else before the server binds it
READY_TIMEOUT = 30  # seconds


class PostgresNotInstalled(RuntimeError):
    """The PostgreSQL server binaries (initdb, pg_ctl, postgres) are not on this machine."""


def find_bindir(root=PG_ROOT):
    """Return the bin directory of the newest PostgreSQL under `root` (e.g. .../15/bin).

    Raises PostgresNotInstalled when there is none: the tests need a real server.
    """
    found = []
    for bindir in root.glob("*/bin"):
        version = bindir.parent.name
        # Compare versions as numbers so that 10 is newer than 9.6.
        if re.fullmatch(r"\d+(\.\d+)*", version) and (bindir / "postgres").is_file():
            found.append((tuple(int(part) for part in version.split(".")), bindir))
    if not found:
        raise PostgresNotInstalled(
            f"no PostgreSQL server in {root}/*/bin: install Debian's postgresql package "
            "(apt-get install postgresql); the gradebook tests run against a real server")
    return max(found)[1]


def _clean_env():
    """Return os.environ without PG* variables, in the C locale.

    A PGHOST, PGPORT or PGOPTIONS from the caller's shell must not redirect our commands, and
    English server messages let us recognise a port that was taken.
    """
    env = {key: value for key, value in os.environ.items() if not key.startswith("PG")}
    env["LC_ALL"] = "C"
    return env


class PostgresServer:
    """A throwaway PostgreSQL server on 127.0.0.1, alive inside a `with` block.

    Its data directory is a fresh tempfile.mkdtemp() (not pytest's tmp_path: that is mode 0700
    under /tmp/pytest-of-root, where the postgres user cannot enter). The superuser is `grader`,
    with trust authentication and no password.
    """

    def __init__(self, bindir=None):
        """Prepare a server from the binaries in `bindir` (default: the newest Debian one)."""
        self.bindir = Path(bindir) if bindir else find_bindir()
        self.base = None   # temporary directory holding data/ and server.log
        self.port = None
        self._running = False
        self._names = itertools.count(1)
        # As root, run the server tools as the postgres system user (PostgreSQL refuses root).
        self._as_user = []
        if os.geteuid() == 0:
            try:
                self._owner = pwd.getpwnam(SYSTEM_USER)
            except KeyError:
                raise PostgresNotInstalled(
                    f"running as root needs the {SYSTEM_USER!r} system user that Debian's "
                    "postgresql package creates: install the postgresql package") from None
            if shutil.which("runuser"):
                self._as_user = ["runuser", "-u", SYSTEM_USER, "--"]
            else:
                self._as_user = ["setpriv", f"--reuid={self._owner.pw_uid}",
                                 f"--regid={self._owner.pw_gid}", "--init-groups", "--"]

    @property
    def datadir(self):
        """The cluster's data directory, which also holds the server's Unix socket."""
        return self.base / "data"

    @property
    def logfile(self):
        """The server's log file (pg_ctl -l), kept next to the data directory."""
        return self.base / "server.log"

    def _server_cmd(self, tool, *args, check=True):
        """Run the server tool `tool` (initdb, pg_ctl) as the server's owner; return the result.

        Raises RuntimeError with the tool's output when it fails and `check` is true.
        """
        cmd = [*self._as_user, str(self.bindir / tool), *args]
        # cwd: the postgres user may not be allowed into the caller's directory (e.g. /root).
        result = subprocess.run(cmd, cwd=self.base, env=_clean_env(),
                                capture_output=True, text=True)
        if check and result.returncode != 0:
            raise RuntimeError(f"{tool} failed ({result.returncode}): {' '.join(cmd)}\n"
                               f"{result.stdout}{result.stderr}{self._log_tail()}")
        return result

    def _log_tail(self, lines=20):
        """Return the last lines of the server log, to explain a failure."""
        try:
            text = self.logfile.read_text(errors="replace").splitlines()[-lines:]
        except OSError:
            return ""
        return "server log:\n" + "\n".join(text)

    def start(self):
        """Create a fresh cluster, start the server and wait until it accepts connections.

        Returns self. On failure everything is stopped and removed again before raising.
        """
        self.base = Path(tempfile.mkdtemp(prefix="pgserver-"))
        try:
            if self._as_user:
                os.chown(self.base, self._owner.pw_uid, self._owner.pw_gid)
            # Trust authentication and a fixed superuser: a throwaway server that only
            # listens on loopback and on a socket inside its own private directory.
            # --no-sync: the cluster is deleted afterwards, durability is pointless.
            self._server_cmd("initdb", "-D", str(self.datadir), "--auth=trust",
                             f"--username={SUPERUSER}", "-E", "UTF8", "--locale=C", "--no-sync")
            with open(self.datadir / "postgresql.conf", "a") as conf:
                # Loopback only; the socket stays in the data dir, not the system's
                # /var/run/postgresql. fsync off and small buffers: fast to start, crash-unsafe.
                conf.write("\n# PostgresServer (tests/pgserver.py)\n"
                           "listen_addresses = '127.0.0.1'\n"
                           f"unix_socket_directories = '{self.datadir}'\n"
                           "fsync = off\n"
                           "synchronous_commit = off\n"
                           "full_page_writes = off\n"
                           "shared_buffers = 16MB\n")
            self._start_on_free_port()
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def _start_on_free_port(self):
        """Start the server with pg_ctl on a free port, retrying if the port got taken."""
        for attempt in range(START_ATTEMPTS):
            self.port = free_port()
            log_start = self.logfile.stat().st_size if self.logfile.exists() else 0
            # From here on a postmaster may exist, even if pg_ctl gives up waiting for it.
            self._running = True
            result = self._server_cmd(
                "pg_ctl", "start", "-w", "-t", str(READY_TIMEOUT), "-D", str(self.datadir),
                "-l", str(self.logfile), "-o", f"-p {self.port}", check=False)
            if result.returncode == 0:
                return
            try:
                with open(self.logfile, errors="replace") as log:
                    log.seek(log_start)
                    taken = "could not bind" in log.read()
            except OSError:
                taken = False
            self._stop_server()
            if not taken or attempt == START_ATTEMPTS - 1:
                raise RuntimeError(f"pg_ctl start failed ({result.returncode}):\n"
                                   f"{result.stdout}{result.stderr}{self._log_tail()}")

    def _wait_ready(self):
        """Wait until the server accepts TCP connections on 127.0.0.1 (what the tests use)."""
        deadline = time.monotonic() + READY_TIMEOUT
        while True:
            ready = subprocess.run(
                [str(self.bindir / "pg_isready"), "-q", "-h", "127.0.0.1", "-p", str(self.port),
                 "-U", SUPERUSER, "-d", "postgres"], env=_clean_env())
            if ready.returncode == 0:
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"PostgreSQL on 127.0.0.1:{self.port} did not accept "
                                   f"connections within {READY_TIMEOUT}s\n{self._log_tail()}")
            time.sleep(0.05)

    def url(self, dbname="postgres", driver=None):
        """Return the URL of database `dbname`: postgresql://grader@127.0.0.1:<port>/<dbname>.

        libpq (psycopg.connect, psql) takes it as it is, and SQLAlchemy 2.1 reads it with
        psycopg 3, the course's driver; `driver="psycopg"` names that driver in the URL.
        """
        scheme = f"postgresql+{driver}" if driver else "postgresql"
        return f"{scheme}://{SUPERUSER}@127.0.0.1:{self.port}/{dbname}"

    def create_database(self, name=None, driver=None):
        """Create a fresh, empty database (default name: db1, db2, ...) and return its URL.

        `driver` is as for url(). Fails if a database of that name exists already.
        """
        if name is None:
            name = f"db{next(self._names)}"
        # createdb is a client: it needs no special user, and it quotes the name for us.
        result = subprocess.run(
            [str(self.bindir / "createdb"), "-h", "127.0.0.1", "-p", str(self.port),
             "-U", SUPERUSER, "--", name], env=_clean_env(), capture_output=True, text=True)
        if result.returncode != 0:
            raise RuntimeError(f"createdb {name!r} failed: {result.stderr.strip()}")
        return self.url(name, driver)

    def _stop_server(self):
        """Stop the server: fast shutdown (disconnects clients), immediate if that fails."""
        if not self._running:
            return
        for mode in ("fast", "immediate"):
            result = self._server_cmd("pg_ctl", "stop", "-w", "-t", str(READY_TIMEOUT),
                                      "-m", mode, "-D", str(self.datadir), check=False)
            # 'not running' counts as stopped too (no postmaster.pid left).
            if result.returncode == 0 or not (self.datadir / "postmaster.pid").exists():
                self._running = False
                return
        raise RuntimeError(f"pg_ctl stop failed:\n{result.stdout}{result.stderr}")

    def stop(self):
        """Stop the server (if it runs) and delete its data directory."""
        try:
            self._stop_server()
        finally:
            if self.base is not None:
                # Best effort: a leftover temp dir must not hide the test's own error. (Should
                # the stop have failed, a postmaster whose postmaster.pid is gone shuts down.)
                shutil.rmtree(self.base, ignore_errors=True)
                self.base = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info):
        self.stop()


class _Shared:
    """The session's one server and how many fixture definitions are using it."""
    server = None
    users = 0


@pytest.fixture(scope="session")
def postgres_server():
    """One running PostgresServer for the whole test session; stopped and removed at the end.

    Tests call `postgres_server.create_database()` to get a fresh database's URL of their own.
    """
    # conftest.py and a test module may both import this fixture; pytest then holds two
    # session fixtures, which must still share one server: the last one to finish stops it.
    if _Shared.users == 0:
        _Shared.server = PostgresServer().start()
    _Shared.users += 1
    try:
        yield _Shared.server
    finally:
        _Shared.users -= 1
        if _Shared.users == 0:
            _Shared.server.stop()
            _Shared.server = None
