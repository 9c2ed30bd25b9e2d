"""The `conftest.py` of a seeded suite: its fixtures, `--shard`, `--host-map`, and the checks that
name every missing environment variable and every unmapped host before a test runs. Only the mode
and tables of literals vary."""

from __future__ import annotations

_TEMPLATE = '''"""Fixtures of a suite seeded by cxe-gate: the `journey` each test drives, and a browser.

The suite runs in {mode!r} mode (seeded with --mode); CXE_SEEDED_MODE=browser|api overrides
it, CXE_SEEDED_BUDGET_SCALE=3 triples every time budget (a slow staging), and CXE_GATE_CHROMIUM
picks the Chromium binary when Playwright's own is not installed. Run the tests in parallel with
pytest-xdist (-n auto), or one part of N in a CI matrix with --shard I/N (or CXE_SEEDED_SHARD=I/N).
The environment variables the journeys read are in .env.example; a test that needs one that is not
set fails before it starts, naming every variable the selected tests miss.

Requests to the main recorded host (MAIN_HOST) go to --base-url. Other recorded hosts (HOSTS, and
.env.example) are never called as recorded: map each to the host to test with --host-map
RECORDED=TARGET (repeatable; TARGET a host, or a URL with scheme and port) or
CXE_SEEDED_HOST_MAP="a=b,c=d"; a test calling an unmapped host fails before it sends anything."""

from __future__ import annotations

import os
from contextlib import suppress

import pytest
from cxe_gate.browser import chromium_launch_args
from cxe_gate.seed.hosts import host_map, unmapped_message
from cxe_gate.seed.runtime import open_journey
from cxe_gate.seed.shards import parse_shard
from cxe_gate.seed.variables import missing_message

SEEDED_MODE = {mode!r}

# test → environment variable → where the journey sends it (in place of a scrubbed value).
VARIABLES = {variables}

# The host the journeys start on (sent to --base-url), and test → other recorded host → where the
# test first calls it.
MAIN_HOST = {main_host}
HOSTS = {hosts}


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    """Playwright's own Chromium when installed, else a system one (e.g. /usr/bin/chromium)."""
    return {{**browser_type_launch_args, **chromium_launch_args()}}


def fail_plainly(message):
    """A journey's problems fail the test as they are written, without a traceback."""
    pytest.fail(message, pytrace=False)


@pytest.fixture
def journey(request, base_url):
    hosts = _host_map(request.config)
    with open_journey(request, base_url, SEEDED_MODE, fail=fail_plainly, hosts=hosts) as journey:
        yield journey


def pytest_addoption(parser):
    # Another seeded suite collected in this run may have added them: the same options.
    with suppress(ValueError):
        parser.addoption(
            "--shard",
            metavar="I/N",
            help="Run the I-th of N parts of the suite; a test's part is a hash of its name.",
        )
    with suppress(ValueError):
        parser.addoption(
            "--host-map",
            action="append",
            default=[],
            metavar="RECORDED=TARGET",
            help="Send requests recorded on host RECORDED to TARGET (a host or a URL); repeatable.",
        )


def _host_map(config):
    try:
        return host_map(config.getoption("--host-map", None) or [], os.environ)
    except ValueError as exc:
        raise pytest.UsageError(f"--host-map: {{exc}}") from None


def _shard(config):
    spec = config.getoption("--shard", None) or os.environ.get("CXE_SEEDED_SHARD")
    if not spec:
        return None
    try:
        return parse_shard(spec)
    except ValueError as exc:
        raise pytest.UsageError(f"--shard: {{exc}}") from None


def pytest_collection_modifyitems(config, items):
    _host_map(config)  # a mistake in it stops the run before any test
    shard = _shard(config)
    if shard is not None:
        config.hook.pytest_deselected(items=[i for i in items if not shard.takes(i.name)])
        items[:] = [i for i in items if shard.takes(i.name)]


def _selected(items):
    return [getattr(i, "originalname", i.name) for i in items]


def _missing(config, tests):
    """What the given tests miss: variables not set and hosts not mapped, in one message."""
    found = [
        missing_message(VARIABLES, tests),
        unmapped_message(HOSTS, tests, _host_map(config)),
    ]
    return "\\n".join(m for m in found if m) or None


def pytest_report_collectionfinish(config, start_path, items):
    # Everything the selected tests miss, said once before the first of them runs.
    missing = _missing(config, _selected(items))
    return [] if missing is None else missing.split("\\n")


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_call(item):
    # A test missing a variable or a host fails before it sends anything, naming all the run
    # misses.
    if _missing(item.config, [getattr(item, "originalname", item.name)]):
        fail_plainly(_missing(item.config, _selected(item.session.items)))


def pytest_sessionfinish(session, exitstatus):
    # A part the hash left empty has nothing to fail.
    if exitstatus == pytest.ExitCode.NO_TESTS_COLLECTED and _shard(session.config):
        session.exitstatus = pytest.ExitCode.OK
'''


def conftest(mode: str, variables: str, main_host: str = "None", hosts: str = "{}") -> str:
    """The conftest.py source; `variables`, `main_host` and `hosts` are the VARIABLES, MAIN_HOST
    and HOSTS tables, already literals."""
    return _TEMPLATE.format(mode=mode, variables=variables, main_host=main_host, hosts=hosts)
