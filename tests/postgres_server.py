"""A real PostgreSQL server for the sql provider's tests: a fresh cluster in a temporary directory,
listening on a free 127.0.0.1 port with password authentication, stopped and removed afterwards.

Use it with `pytest_plugins = ["postgres_server"]` and the session fixture `postgres`."""

from __future__ import annotations

import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

_NEEDED = ("initdb", "pg_ctl", "postgres")


@dataclass(frozen=True)
class PostgresServer:
    host: str
    port: int
    socket_dir: Path
    user: str  # a role that logs in with a password over TCP
    password: str
    database: str

    @property
    def url(self) -> str:
        """A SQLAlchemy URL without the password (the sql provider takes it from ${VAR})."""
        return f"postgresql+psycopg://{self.user}@{self.host}:{self.port}/{self.database}"

    def connect(self) -> psycopg.Connection:
        """The test role's own connection, over TCP with its password (autocommit)."""
        return psycopg.connect(
            host=self.host,
            port=self.port,
            user=self.user,
            password=self.password,
            dbname=self.database,
            autocommit=True,
        )


def _bindir() -> Path:
    """Where initdb, pg_ctl and postgres are: $PG_BINDIR, pg_config's answer, or Debian's layout."""
    candidates: list[Path] = []
    if os.environ.get("PG_BINDIR"):
        candidates.append(Path(os.environ["PG_BINDIR"]))
    if shutil.which("pg_config"):
        found = subprocess.run(
            ["pg_config", "--bindir"], capture_output=True, text=True, check=False
        )
        if found.returncode == 0:
            candidates.append(Path(found.stdout.strip()))
    candidates.extend(
        sorted(
            Path("/usr/lib/postgresql").glob("*/bin"),
            key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
            reverse=True,
        )
    )
    for directory in candidates:
        if all((directory / name).is_file() for name in _NEEDED):
            return directory
    pytest.fail(
        "the PostgreSQL server binaries (initdb, pg_ctl, postgres) were not found in "
        f"{', '.join(map(str, candidates)) or '/usr/lib/postgresql/*/bin'}: install them "
        "(Debian: apt-get install postgresql) or point PG_BINDIR at them",
        pytrace=False,
    )


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _runner(owner: str | None) -> list[str]:
    """PostgreSQL refuses to run as root: run its programs as the `postgres` OS user then."""
    return ["runuser", "-u", owner, "--"] if owner else []


def _run(argv: list[str], what: str, log: Path | None = None) -> None:
    done = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=120)
    if done.returncode != 0:
        tail = log.read_text(errors="replace")[-2000:] if log and log.exists() else ""
        pytest.fail(
            f"{what} failed (exit {done.returncode}): {done.stderr.strip() or done.stdout.strip()}"
            + (f"\nserver log:\n{tail}" if tail else ""),
            pytrace=False,
        )


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """A running PostgreSQL server with a `gate` role (password login) owning database `shop`."""
    bindir = _bindir()
    owner: str | None = None
    if os.geteuid() == 0:
        try:
            account = pwd.getpwnam("postgres")
        except KeyError:
            pytest.fail(
                "running as root needs the `postgres` OS user to run the server as "
                "(Debian's postgresql package creates it)",
                pytrace=False,
            )
        owner = account.pw_name
    root = Path(tempfile.mkdtemp(prefix="cxe-pg-"))
    data, sockets, log = root / "data", root / "sock", root / "server.log"
    sockets.mkdir()
    if owner:
        for path in (root, sockets):
            os.chown(path, account.pw_uid, account.pw_gid)
    port = _free_port()
    run_as = _runner(owner)
    started = False
    try:
        _run(
            [
                *run_as,
                str(bindir / "initdb"),
                "--pgdata",
                str(data),
                "--username",
                "postgres",
                "--auth-local",
                "trust",
                "--auth-host",
                "scram-sha-256",
                "--no-sync",
                "--no-instructions",
                "--encoding",
                "UTF8",
                "--locale",
                "C",
            ],
            "initdb",
        )
        options = (
            f"-c listen_addresses=127.0.0.1 -c port={port} -c unix_socket_directories={sockets} "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        )
        _run(
            [
                *run_as,
                str(bindir / "pg_ctl"),
                "--pgdata",
                str(data),
                "--log",
                str(log),
                "--options",
                options,
                "--wait",
                "--timeout",
                "60",
                "start",
            ],
            "starting PostgreSQL",
            log,
        )
        started = True
        server = PostgresServer(
            host="127.0.0.1",
            port=port,
            socket_dir=sockets,
            user="gate",
            password=secrets.token_urlsafe(16),
            database="shop",
        )
        # The superuser logs in over the unix socket (trust); the test role only with its password.
        with psycopg.connect(
            host=str(sockets), port=port, user="postgres", dbname="postgres", autocommit=True
        ) as admin:
            admin.execute(
                sql.SQL("CREATE ROLE gate LOGIN PASSWORD {}").format(sql.Literal(server.password))
            )
            admin.execute("CREATE DATABASE shop OWNER gate")
        yield server
    finally:
        if started:
            subprocess.run(
                [
                    *run_as,
                    str(bindir / "pg_ctl"),
                    "--pgdata",
                    str(data),
                    "--mode",
                    "immediate",
                    "stop",
                ],
                capture_output=True,
                check=False,
                timeout=60,
            )
        shutil.rmtree(root, ignore_errors=True)
