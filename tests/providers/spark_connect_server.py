"""A real Spark Connect server on 127.0.0.1 for the tests that use it: pyspark's own server class
(its jar ships in the wheel) started through spark-submit as a process of its own, since a classic
SparkSession in the test process would be reused by `builder` and prove nothing about the wire.
One server per test run: the xdist workers share it, the last one done stops it.

Use it with `pytest_plugins = ["spark_connect_server"]` and the session fixture `spark_connect`
(import nothing from here: a plugin imported first is not assert-rewritten)."""

from __future__ import annotations

import fcntl
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

import pytest

# The servers this process started, so that it reaps the one it stops (no zombie left behind).
_CHILDREN: dict[int, subprocess.Popen[bytes]] = {}
SERVER_CLASS = "org.apache.spark.sql.connect.service.SparkConnectServer"
# A cold JVM plus Spark's context took ~20 s on a 2-core runner; a loaded one can take longer.
START_WITHIN = 180.0


@dataclass(frozen=True)
class ConnectServer:
    """A running server: its sc:// address (no token in it), the token it requires, its process,
    the seconds it took to answer, its log."""

    url: str
    port: int
    token: str
    pid: int
    started_in: float
    log: str


def spark_home() -> Path:
    """pyspark's own install: bin/spark-submit and jars/spark-connect_*.jar, or fail saying which
    is missing (a missing server is a failure, never a skip)."""
    import pyspark

    home = Path(pyspark.__file__).parent
    if not (home / "bin" / "spark-submit").is_file():
        pytest.fail(f"no spark-submit in {home / 'bin'}: reinstall pyspark", pytrace=False)
    if not list((home / "jars").glob("spark-connect_*.jar")):
        pytest.fail(
            f"no Spark Connect server jar (spark-connect_*.jar) in {home / 'jars'}: install "
            "pyspark 4 (its wheel ships the jar)",
            pytrace=False,
        )
    return home


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def unused_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (free a moment ago)."""
    return free_port()


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def _tail(log: Path, lines: int = 15) -> str:
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])


@pytest.fixture(scope="session")
def spark_connect(
    tmp_path_factory: pytest.TempPathFactory, worker_id: str
) -> Iterator[ConnectServer]:
    """The run's Spark Connect server (`local[1]`, every address 127.0.0.1, no UI, a token
    required): started by the first worker that needs it, stopped by the last one done."""
    # Every worker's base temp is a child of the run's own (none under xdist: the base itself).
    shared = tmp_path_factory.getbasetemp()
    shared = shared.parent if worker_id != "master" else shared
    state = shared / "spark-connect.json"
    with _locked(shared / "spark-connect.lock"):
        if state.exists():
            known = json.loads(state.read_text())
            server = ConnectServer(**known["server"])
            users = known["users"] + 1
        else:
            server, users = start(shared / "spark-connect"), 1
        state.write_text(json.dumps({"server": asdict(server), "users": users}))
    try:
        yield server
    finally:
        with _locked(shared / "spark-connect.lock"):
            known = json.loads(state.read_text())
            if known["users"] > 1:
                state.write_text(json.dumps({**known, "users": known["users"] - 1}))
            else:
                state.unlink()
                stop(server.pid, server.port)
                shutil.rmtree(shared / "spark-connect", ignore_errors=True)


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    with path.open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def start(directory: Path) -> ConnectServer:
    """A new server, once its gRPC port answers (it opens only once its SparkContext is up);
    a missing Java or server jar, an exit or no answer fails the test."""
    java = shutil.which("java")
    if java is None:
        pytest.fail(
            "Spark Connect needs Java: install it (Debian: apt-get install default-jre-headless)",
            pytrace=False,
        )
    home = spark_home()
    directory.mkdir(parents=True, exist_ok=True)
    port = free_port()
    settings = {
        "spark.connect.grpc.binding.address": "127.0.0.1",
        "spark.connect.grpc.binding.port": str(port),
        "spark.driver.host": "127.0.0.1",
        "spark.driver.bindAddress": "127.0.0.1",
        "spark.ui.enabled": "false",
        "spark.sql.shuffle.partitions": "2",
        "spark.default.parallelism": "1",
        "spark.sql.session.timeZone": "UTC",
        "spark.sql.warehouse.dir": str(directory / "warehouse"),
        "spark.local.dir": str(directory / "local"),
        "spark.driver.memory": "1g",
    }
    command = [str(home / "bin" / "spark-submit"), "--class", SERVER_CLASS]
    command += ["--master", "local[1]", "--name", "cxe-gate tests (Spark Connect)"]
    for key, value in settings.items():
        command += ["--conf", f"{key}={value}"]
    token = secrets.token_hex(16)
    # The server reads its token from the environment, which keeps it off the command line.
    environ = os.environ | {
        "SPARK_HOME": str(home),
        "SPARK_LOCAL_IP": "127.0.0.1",
        "SPARK_CONNECT_AUTHENTICATE_TOKEN": token,
    }
    environ["JAVA_HOME"] = environ.get("JAVA_HOME") or str(Path(java).resolve().parent.parent)
    log = directory / "server.log"
    began = time.monotonic()
    with log.open("wb") as out:
        # spark-submit execs java, so this pid is the server's own. A session of its own: the
        # terminal's Ctrl-C does not reach it, and it outlives the worker that started it.
        server = subprocess.Popen(
            command,
            cwd=directory,
            env=environ,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    _CHILDREN[server.pid] = server
    while not _answers(port):
        if server.poll() is not None:
            pytest.fail(
                f"the Spark Connect server exited ({server.returncode}):\n{_tail(log)}",
                pytrace=False,
            )
        if time.monotonic() - began > START_WITHIN:
            stop(server.pid, port)
            pytest.fail(
                f"the Spark Connect server did not answer on 127.0.0.1:{port} within "
                f"{START_WITHIN:g} s:\n{_tail(log)}",
                pytrace=False,
            )
        time.sleep(0.25)
    # `localhost`, not 127.0.0.1: Spark's client sends a token over TLS to any other host, and
    # over gRPC's local credentials (loopback, no TLS) to localhost.
    url = f"sc://localhost:{port}"
    return ConnectServer(url, port, token, server.pid, time.monotonic() - began, str(log))


def stop(pid: int, port: int) -> None:
    """SIGTERM to the server (Spark's shutdown hooks run), SIGKILL if it still answers 30 s
    later. It may be another worker's child: its port, not wait(), says it is gone."""
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + 30
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    if _alive(pid):
        os.kill(pid, signal.SIGKILL)
    child = _CHILDREN.pop(pid, None)
    if child is not None:
        child.wait(timeout=10)


def _alive(pid: int) -> bool:
    """Running, not exited (a zombie waiting for its parent to reap it counts as exited)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False
