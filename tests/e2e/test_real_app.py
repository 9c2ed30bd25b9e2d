"""The seeder on a real open-source app installed from the package index: Django's admin (a tiny
project in tests/apps/django_admin). An admin session is recorded with real clicks in Chromium (log
in, add a ticket filling a radio group, a checkbox, a select, a multi-select and a text field, save
through a three-hop redirect chain, change it), seeded in browser and api mode, and the suites run
with pytest against fresh instances: green on the healthy app, and failing plainly on each
breakage."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests
from click.testing import CliRunner
from playwright.sync_api import sync_playwright

from cxe_gate.browser import chromium_launch_args
from cxe_gate.cli import main

pytestmark = [pytest.mark.server, pytest.mark.slow, pytest.mark.browser]

APP = Path(__file__).resolve().parents[1] / "apps" / "django_admin"
USERNAME = "admin"
PASSWORD = "Adm1n-only-for-tests!"
TEST_NAME = re.compile(r"^def (test_\w+)\(", re.MULTILINE)
VARIABLE = re.compile(r"env\('([A-Z0-9_]+)'")
# Tests run in parallel on a shared machine: budgets get the room the suite's own knob gives a slow
# staging (CXE_SEEDED_BUDGET_SCALE), the same for the recording and every replay.
BUDGET_SCALE = 2.0


def _manage(*arguments: str, env: dict[str, str]) -> None:
    done = subprocess.run(
        [sys.executable, "manage.py", *arguments],
        cwd=APP, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated sqlite database with the admin user; each instance runs on a copy of it."""
    path = tmp_path_factory.mktemp("admin-db") / "template.sqlite3"
    env = {**os.environ, "ADMIN_APP_DB": str(path), "DJANGO_SUPERUSER_PASSWORD": PASSWORD}
    _manage("migrate", "-v0", env=env)
    _manage("createsuperuser", "--noinput", "--username", USERNAME, "--email",
            "admin@example.com", env=env)  # fmt: skip
    return path


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def admin_app(
    database: Path, workdir: Path, breakage: str = "", slow_s: float = 0.0
) -> Iterator[str]:
    """A fresh instance (its own copy of the database) on 127.0.0.1, broken by `breakage`;
    yields its base URL."""
    workdir.mkdir(parents=True, exist_ok=True)
    db = workdir / "db.sqlite3"
    shutil.copy(database, db)
    port = _free_port()
    env = {**os.environ, "ADMIN_APP_DB": str(db), "ADMIN_APP_BREAKAGE": breakage,
           "ADMIN_APP_SLOW_S": str(slow_s)}  # fmt: skip
    with (workdir / "server.log").open("w") as log:
        server = subprocess.Popen(
            # --insecure serves the admin's CSS and JS with DEBUG off, as a real deployment would.
            [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload",
             "--insecure", "--skip-checks"],
            cwd=APP, env=env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            assert server.poll() is None, (workdir / "server.log").read_text()
            try:
                requests.get(f"{base}/admin/login/", timeout=2)
                break
            except requests.ConnectionError:
                assert time.monotonic() < deadline, "the admin did not start within 30 s"
                time.sleep(0.1)
        yield base
    finally:
        server.terminate()
        server.wait(timeout=10)


def record(base: str, har: Path) -> None:
    """An admin's session, clicked through in Chromium and recorded as a HAR file."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(**chromium_launch_args())
        context = browser.new_context(record_har_path=str(har))
        page = context.new_page()
        page.goto(f"{base}/admin/")  # → the login page (a redirect)
        page.fill("#id_username", USERNAME)
        page.fill("#id_password", PASSWORD)
        with page.expect_navigation(url=f"{base}/admin/"):
            page.click("input[type=submit]")
        page.click("a[href='/admin/tickets/ticket/add/']")
        page.fill("#id_title", "Parcel lost")
        page.check("#id_priority_2")  # the radio group: high
        page.check("#id_urgent")
        page.select_option("#id_team", "shipping")
        page.select_option("#id_labels", ["2", "3"])  # the multi-select: refund, vip
        # Saving goes /admin/r/<type>/<id>/ → /tickets/1 → /tickets/1/ (three hops).
        with page.expect_navigation(url=f"{base}/tickets/1/"):
            page.click("input[name=_save]")
        page.click("#edit")
        page.fill("#id_title", "Parcel found")
        page.check("#id_priority_0")  # low
        page.uncheck("#id_urgent")
        with page.expect_navigation(url=f"{base}/admin/tickets/ticket/"):
            page.click("input[name=_save]")
        context.close()
        browser.close()


@pytest.fixture(scope="module")
def seeded(database: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("admin-seed")
    hars = root / "hars"
    hars.mkdir()
    with admin_app(database, root / "recording") as base:
        record(base, hars / "admin.har")
    runner = CliRunner()
    result = runner.invoke(main, ["journeys", str(hars), "-o", str(root / "journeys.json")])
    assert result.exit_code == 0, result.output
    suites = {}
    for mode in ("browser", "api"):
        out = root / f"seeded-{mode}"
        result = runner.invoke(
            main, ["seed", str(root / "journeys.json"), "-o", str(out), "--mode", mode]
        )
        assert result.exit_code == 0, result.output
        suites[mode] = out
    return suites


def _account(suite: Path) -> dict[str, str]:
    """The test account for the variables the suite reads (the recorded admin's were scrubbed)."""
    names = set(VARIABLE.findall((suite / "test_journeys.py").read_text("utf-8")))
    values = {}
    for name in names:
        assert "PASSWORD" in name or "USERNAME" in name, names  # nothing else was scrubbed away
        values[name] = PASSWORD if "PASSWORD" in name else USERNAME
    return values


def _run(suite: Path, base: str, junit: Path) -> dict[str, str | None]:
    """Runs a seeded suite with pytest in a fresh process; test name → failure (None: passed)."""
    env = {**os.environ, **_account(suite), "CXE_SEEDED_BUDGET_SCALE": str(BUDGET_SCALE)}
    env.pop("CXE_SEEDED_MODE", None)
    done = subprocess.run(
        [sys.executable, "-m", "pytest", str(suite), "--base-url", base, "-p", "no:cacheprovider",
         "-p", "no:xdist", "-q", f"--junitxml={junit}", "--rootdir", str(suite)],
        env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert junit.exists(), done.stdout + done.stderr
    outcomes: dict[str, str | None] = {}
    for case in ET.parse(junit).iter("testcase"):
        problem = case.find("failure")
        if problem is None:
            problem = case.find("error")
        assert case.find("skipped") is None, done.stdout
        outcomes[case.get("name", "")] = (
            None if problem is None else (problem.get("message") or "") + (problem.text or "")
        )
    return outcomes


def test_the_recording_holds_every_control_and_the_redirect_chains(seeded):
    tests = (seeded["browser"] / "test_journeys.py").read_text("utf-8")
    assert len(TEST_NAME.findall(tests)) == 1  # one admin, one journey
    # The hops a person went through, each a page reached via the redirect: the login page, the
    # admin after logging in, the three hops after saving, the list after changing.
    assert tests.count("via='redirect'") == 6, tests
    for shown in ("'priority': 'high'", "'urgent': 'on'", "'team': 'shipping'", "'_save': 'Save'"):
        assert shown in tests
    assert PASSWORD not in tests  # the password is a variable
    assert set(_account(seeded["browser"]).values()) == {USERNAME, PASSWORD}


@pytest.mark.parametrize("mode", ["browser", "api"])
def test_the_healthy_admin_passes_on_a_fresh_instance(seeded, database, mode, tmp_path):
    with admin_app(database, tmp_path / "app") as base:
        outcomes = _run(seeded[mode], base, tmp_path / "run.xml")
        # The replay really saved: the ticket exists, changed as the admin changed it.
        page = requests.get(f"{base}/tickets/1/", timeout=10)
    assert len(outcomes) == 1 and set(outcomes.values()) == {None}, outcomes
    # As the admin left it: renamed, priority low, not urgent, the team and both labels (refund,
    # vip: options 2 and 3 of the multi-select) as first saved.
    assert '<h1 id="title">Parcel found</h1>' in page.text
    assert "priority=low urgent=False team=shipping labels=refund, vip" in page.text


# breakage → what the failure must say (each sentence worked out from the recorded journey: the
# step, the recorded status, and what the broken app does instead).
BREAKAGES = {
    # The add form loses its `team` select.
    "field_removed": ["POST /admin/tickets/ticket/add/: the form has no field `team`"],
    # Saving raises: Django answers 500 where the recording had the 302 to the ticket.
    "save_500": ["POST /admin/tickets/ticket/add/:", "answered 500, recorded 302"],
    # The add page sends a logged-in admin to the login page: a redirect the recording had not.
    "login_wall": [
        "GET /admin/tickets/ticket/add/: /admin/tickets/ticket/add/ answered 302 "
        "(a redirect to /admin/login/?next=/admin/tickets/ticket/add/), recorded 200"
    ],
    # The add page sleeps half a second past the budget the suite was seeded with for it.
    "slow_page": ["GET /admin/tickets/ticket/add/: took", "over its budget of"],
}
ADD_PAGE_BUDGET = re.compile(
    r"'/admin/tickets/ticket/add/',\s*route='/admin/tickets/ticket/add/',\s*status=200,"
    r"\s*budget_ms=(\d+)"
)


@pytest.mark.parametrize("mode", ["browser", "api"])
@pytest.mark.parametrize("breakage", sorted(BREAKAGES))
def test_each_breakage_fails_the_suite_plainly(seeded, database, breakage, mode, tmp_path):
    [budget_ms] = ADD_PAGE_BUDGET.findall((seeded[mode] / "test_journeys.py").read_text("utf-8"))
    slow_s = int(budget_ms) * BUDGET_SCALE / 1000 + 0.5
    with admin_app(database, tmp_path / "app", breakage, slow_s) as base:
        outcomes = _run(seeded[mode], base, tmp_path / "run.xml")
    [message] = outcomes.values()
    assert message is not None, f"{breakage} passed in {mode} mode"
    for said in BREAKAGES[breakage]:
        assert said in message, message
    assert "Traceback" not in message
