"""A throwaway PostgreSQL server on 127.0.0.1 for tests and benchmarks.

Uses the server binaries of an installed PostgreSQL (Debian's ``postgresql`` package puts them
under ``/usr/lib/postgresql/<version>/bin``). PostgreSQL refuses to run as root, so on a root
host the server runs as the ``postgres`` system user the package creates. The data directory is
temporary and removed on exit; authentication is ``trust`` on loopback only.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path


class PostgresUnavailable(RuntimeError):
    """No PostgreSQL server binaries here, or no unprivileged user to run them as."""


def server_binaries() -> Path:
    """The directory holding ``initdb`` and ``pg_ctl``."""
    found = shutil.which("initdb")
    if found:
        return Path(os.path.realpath(found)).parent
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3]))
    if versions:
        return Path(versions[-1]).parent
    raise PostgresUnavailable("no PostgreSQL server found (install it: apt-get install postgresql)")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class TemporaryPostgres:
    """``with TemporaryPostgres() as pg: pg.url`` — a fresh server and database for one session."""

    def __init__(self, *, database: str = "tfgrpo") -> None:
        self.database = database
        self.port = _free_port()
        self._bin = server_binaries()
        self._dir: Path | None = None
        self._user: str | None = None

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{self.database}?sslmode=disable"

    def _run(self, *args: str) -> None:
        command = [str(self._bin / args[0]), *args[1:]]
        if self._user:
            command = ["runuser", "-u", self._user, "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            raise PostgresUnavailable(f"{args[0]} failed: {(done.stderr or done.stdout).strip()[-400:]}")

    def __enter__(self) -> TemporaryPostgres:
        self._dir = Path(tempfile.mkdtemp(prefix="tfgrpo-pg-"))
        data = self._dir / "data"
        if os.geteuid() == 0:
            if shutil.which("runuser") is None:
                raise PostgresUnavailable("running as root and runuser is missing")
            try:
                import pwd

                account = pwd.getpwnam("postgres")
            except KeyError as exc:
                raise PostgresUnavailable("running as root and there is no 'postgres' user") from exc
            self._user = "postgres"
            os.chmod(self._dir, 0o755)
            os.chown(self._dir, account.pw_uid, account.pw_gid)
        try:
            self._run("initdb", "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync")
            options = f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self._dir} -c fsync=off"
            self._run("pg_ctl", "-D", str(data), "-o", options, "-l", str(self._dir / "log"), "-w", "start")
            self._run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", self.database)
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        if self._dir is None:
            return
        data = self._dir / "data"
        if (data / "postmaster.pid").exists():
            try:
                self._run("pg_ctl", "-D", str(data), "-m", "immediate", "-w", "stop")
            except PostgresUnavailable:
                pass
        shutil.rmtree(self._dir, ignore_errors=True)
        self._dir = None
