"""The `conftest.py` of a seeded suite: its fixtures, `--shard`, and the check that names every
missing environment variable before a test runs. Only the mode and a table of literals vary."""

from __future__ import annotations

_TEMPLATE = '''"""Fixtures of a suite seeded by cxe-gate: the `journey` each test drives, and a browser.

The suite runs in {mode!r} mode (seeded with --mode); CXE_SEEDED_MODE=browser|api overrides
it, CXE_SEEDED_BUDGET_SCALE=3 triples every time budget (a slow staging), and CXE_GATE_CHROMIUM
picks the Chromium binary when Playwright's own is not installed. Run the tests in parallel with
pytest-xdist (-n auto), or one part of N in a CI matrix with --shard I/N (or CXE_SEEDED_SHARD=I/N).
The environment variables the journeys read are in .env.example; a test that needs one that is not
set fails before it starts, naming every variable the selected tests miss."""

from __future__ import annotations

import os
from contextlib import suppress

import pytest
from cxe_gate.browser import chromium_launch_args
from cxe_gate.seed.runtime import open_journey
from cxe_gate.seed.shards import parse_shard
from cxe_gate.seed.variables import missing_message

SEEDED_MODE = {mode!r}

# test → environment variable → where the journey sends it (in place of a scrubbed value).
VARIABLES = {variables}


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    """Playwright's own Chromium when installed, else a system one (e.g. /usr/bin/chromium)."""
    return {{**browser_type_launch_args, **chromium_launch_args()}}


def fail_plainly(message):
    """A journey's problems fail the test as they are written, without a traceback."""
    pytest.fail(message, pytrace=False)


@pytest.fixture
def journey(request, base_url):
    with open_journey(request, base_url, SEEDED_MODE, fail=fail_plainly) as journey:
        yield journey


def pytest_addoption(parser):
    # Another seeded suite collected in this run may have added it: the same option.
    with suppress(ValueError):
        parser.addoption(
            "--shard",
            metavar="I/N",
            help="Run the I-th of N parts of the suite; a test's part is a hash of its name.",
        )


def _shard(config):
    spec = config.getoption("--shard", None) or os.environ.get("CXE_SEEDED_SHARD")
    if not spec:
        return None
    try:
        return parse_shard(spec)
    except ValueError as exc:
        raise pytest.UsageError(f"--shard: {{exc}}") from None


def pytest_collection_modifyitems(config, items):
    shard = _shard(config)
    if shard is not None:
        config.hook.pytest_deselected(items=[i for i in items if not shard.takes(i.name)])
        items[:] = [i for i in items if shard.takes(i.name)]


def _selected(items):
    return [getattr(i, "originalname", i.name) for i in items]


def pytest_report_collectionfinish(config, start_path, items):
    # Every variable the selected tests miss, said once before the first of them runs.
    missing = missing_message(VARIABLES, _selected(items))
    return [] if missing is None else missing.split("\\n")


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_call(item):
    # A test missing a variable fails before it sends anything, naming all the run misses.
    needs = VARIABLES.get(getattr(item, "originalname", item.name), {{}})
    if any(name not in os.environ for name in needs):
        fail_plainly(missing_message(VARIABLES, _selected(item.session.items)))


def pytest_sessionfinish(session, exitstatus):
    # A part the hash left empty has nothing to fail.
    if exitstatus == pytest.ExitCode.NO_TESTS_COLLECTED and _shard(session.config):
        session.exitstatus = pytest.ExitCode.OK
'''


def conftest(mode: str, variables: str) -> str:
    """The conftest.py source; `variables` is the VARIABLES table, already a literal."""
    return _TEMPLATE.format(mode=mode, variables=variables)
