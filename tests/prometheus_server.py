"""A real Prometheus (the `prometheus` binary) on 127.0.0.1 for tests: a free port, a temporary
config and TSDB, ready when /-/ready says so, stopped afterwards. A missing binary fails the test:
the real-server tests are never skipped."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest
import requests
import yaml

__all__ = ["backfill", "running_prometheus", "start_prometheus"]

BINARY = "prometheus"
INSTALLED = Path("/usr/bin/prometheus")  # Debian's package, should PATH not include it
PROMTOOL = "promtool"
READY_WITHIN_S = 30.0


def _binary(name: str = BINARY) -> str:
    installed = INSTALLED.with_name(name)
    found = shutil.which(name) or (str(installed) if installed.exists() else None)
    if found is None:
        pytest.fail(
            f"the {name} binary is not installed (expected on PATH or at {installed}); "
            "install it, e.g. `apt-get install prometheus`, to run the real-server tests",
            pytrace=False,
        )
    return found


def backfill(workdir: Path, openmetrics: str) -> None:
    """Writes samples (OpenMetrics text with a time stamp on each sample, ending in `# EOF`) into
    the TSDB `running_prometheus(workdir, ...)` will open: data at exactly known times, with no
    scrape in the way."""
    workdir.mkdir(parents=True, exist_ok=True)
    source = workdir / "backfill.om"
    source.write_text(openmetrics)
    command = [_binary(PROMTOOL), "tsdb", "create-blocks-from", "openmetrics"]
    done = subprocess.run(
        [*command, str(source), str(workdir / "tsdb")],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )
    if done.returncode != 0:
        pytest.fail(f"promtool could not backfill:\n{done.stdout}{done.stderr}", pytrace=False)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_ready(url: str, process: subprocess.Popen, log: Path) -> bool:
    """True once /-/ready answers 200; False if the process died (e.g. its port was taken)."""
    deadline = time.monotonic() + READY_WITHIN_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        try:
            if requests.get(f"{url}/-/ready", timeout=1).status_code == 200:
                return True
        except requests.ConnectionError:
            pass
        time.sleep(0.1)
    tail = log.read_text(errors="replace")[-2000:]
    pytest.fail(f"prometheus at {url} was not ready within {READY_WITHIN_S:g} s:\n{tail}")


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextmanager
def running_prometheus(
    workdir: Path, scrape_configs: list[dict], *, scrape_interval: str = "1s"
) -> Iterator[str]:
    """Runs Prometheus scraping `scrape_configs` (as in prometheus.yml) while the block runs;
    yields its URL."""
    binary = _binary()
    workdir.mkdir(parents=True, exist_ok=True)
    config = workdir / "prometheus.yml"
    config.write_text(
        yaml.safe_dump(
            {
                "global": {
                    "scrape_interval": scrape_interval,
                    "scrape_timeout": scrape_interval,
                    "evaluation_interval": scrape_interval,
                },
                "scrape_configs": scrape_configs,
            }
        )
    )
    log = workdir / "prometheus.log"
    for _ in range(3):  # another process may take the free port before Prometheus binds it
        port = _free_port()
        url = f"http://127.0.0.1:{port}"
        with open(log, "w") as output:
            process = subprocess.Popen(
                [
                    binary,
                    f"--config.file={config}",
                    f"--storage.tsdb.path={workdir / 'tsdb'}",
                    f"--web.listen-address=127.0.0.1:{port}",
                    "--storage.tsdb.retention.time=1d",
                    "--log.level=warn",
                ],
                stdout=output,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        try:
            if _wait_ready(url, process, log):
                yield url
                return
        finally:
            _stop(process)
    pytest.fail(
        f"prometheus did not start:\n{log.read_text(errors='replace')[-2000:]}", pytrace=False
    )


@pytest.fixture
def start_prometheus(tmp_path_factory) -> Iterator[Callable[..., str]]:
    """Starts Prometheus servers (see `running_prometheus`) and stops them after the test."""
    with ExitStack() as stack:

        def start(scrape_configs: list[dict], **options) -> str:
            workdir = tmp_path_factory.mktemp("prometheus")
            return stack.enter_context(running_prometheus(workdir, scrape_configs, **options))

        yield start
