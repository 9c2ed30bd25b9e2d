"""The regression seeder the whole way through, with a real Chromium: record customer sessions on the
example shop with Playwright, `cxe-gate seed` them in browser and api mode, then run the seeded
suites with pytest against the shop: green five times in a row on the good release, and on each
injected breakage the right test fails with a sentence a person understands."""

from __future__ import annotations

import os
import random
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote_plus

import pytest
import shop_sessions
from click.testing import CliRunner
from shop_sessions import ADDRESS, CARD, COOKIE, EMAIL, NAME, TOKEN

from cxe_gate.cli import main
from examples.shop import pages
from examples.shop.server import running
from examples.shop.shop import create_app

pytestmark = [pytest.mark.server, pytest.mark.slow, pytest.mark.browser]

BROWSE = "test_home_products"
BUY = "test_home_products_checkout_post_checkout_orders"
# The test account a seeded suite reads from the environment instead of the recorded customer's.
ACCOUNT = {
    "CXE_SECRET_NAME_1": "Quinn Tester",
    "CXE_SECRET_EMAIL_1": "qa@shop.test",
    "CXE_SECRET_ADDRESS_1": "2 Test Lane",
    "CXE_SECRET_CARD_NUMBER_1": "4111 1111 1111 1111",
    "CXE_SECRET_AUTHORIZATION_1": "Bearer qa-token",  # the buyer's recorded auth header
}


@pytest.fixture(scope="module")
def no_declines() -> Iterator[None]:
    # The shop declines 1% of good cards, as shops do; a seeded buy journey rightly fails on a
    # decline (recorded 303, got the form back), which is not what these tests are about.
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(pages, "BASE_DECLINE_RATE", 0.0)
        yield


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory, no_declines) -> dict[str, object]:
    root = tmp_path_factory.mktemp("seed")
    with shop_sessions.shop_with_sessions(root, 3, password=False) as (_, hars, cookies):
        return {"root": root, "hars": hars, "cookies": cookies}


@pytest.fixture(scope="module")
def suites(recorded) -> dict[str, Path]:
    made = {}
    for mode in ("browser", "api"):
        out = recorded["root"] / f"seeded-{mode}"
        result = CliRunner().invoke(
            main, ["seed", str(recorded["hars"]), "-o", str(out), "--mode", mode]
        )
        assert result.exit_code == 0, result.output
        made[mode] = out
    return made


def _run(suite: Path, base: str, junit: Path, *options: str) -> dict[str, str | None]:
    """Runs a seeded suite in a fresh process (without xdist unless `options` say -n); test name →
    failure message (None: passed)."""
    env = {**os.environ, **ACCOUNT}
    env.pop("CXE_SEEDED_MODE", None)
    options = options or ("-p", "no:xdist")
    done = subprocess.run(
        [sys.executable, "-m", "pytest", str(suite), "--base-url", base, "-p", "no:cacheprovider",
         *options, "-q", f"--junitxml={junit}", "--rootdir", str(suite)],
        env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert junit.exists(), done.stdout + done.stderr
    outcomes: dict[str, str | None] = {}
    for case in ET.parse(junit).iter("testcase"):
        problem = case.find("failure")
        if problem is None:
            problem = case.find("error")
        assert case.find("skipped") is None, f"{case.get('name')} was skipped: {done.stdout}"
        outcomes[case.get("name", "")] = (
            None if problem is None else (problem.get("message") or "") + (problem.text or "")
        )
    return outcomes


@pytest.mark.parametrize("mode", ["browser", "api"])
def test_the_good_release_passes_five_runs_in_a_row(suites, recorded, mode, tmp_path):
    app = create_app(tmp_path / "logs", latency_scale=0.0, rng=random.Random(5))
    with running(app) as base:
        for run in range(5):
            outcomes = _run(suites[mode], base, tmp_path / f"run-{run}.xml")
            assert outcomes == {BROWSE: None, BUY: None}, (run, outcomes)


@pytest.mark.parametrize("mode", ["browser", "api"])
def test_the_suite_runs_in_parallel_and_in_parts(suites, mode, tmp_path):
    """pytest-xdist runs the journeys two at a time, each in its own browser context; --shard
    splits them, and the parts together run every journey once."""
    app = create_app(tmp_path / "logs", latency_scale=0.0, rng=random.Random(5))
    with running(app) as base:
        assert _run(suites[mode], base, tmp_path / "n2.xml", "-n", "2") == {BROWSE: None, BUY: None}
        parts = [
            _run(suites[mode], base, tmp_path / f"part-{i}.xml", "-n", "2", "--shard", f"{i}/3")
            for i in (1, 2, 3)
        ]
    assert sorted(name for part in parts for name in part) == sorted([BROWSE, BUY])
    assert all(message is None for part in parts for message in part.values())


# breakage → (the test that must fail, what its message must say); the other test must pass.
BREAKAGES = {
    "product_api_500": (None, "GET /api/products/{id}: /api/products/", "answered 500, recorded 200"),
    "product_field_removed": (None, "GET /api/products/{id}: $ has no `in_stock`", ""),
    # The email input renamed under the same label: API mode misses the field in the page; browser
    # mode fills it by its recorded label, and the shop, still reading `email`, refuses the post.
    "checkout_form_broken": (BUY, "POST /checkout:", ""),
    "slow_checkout_page": (BUY, "GET /checkout: took", "over its budget"),
    "order_page_missing": (BUY, "GET /orders/{hash}: /orders/", "answered 404, recorded 200"),
}  # fmt: skip


@pytest.mark.parametrize("mode", ["browser", "api"])
@pytest.mark.parametrize("breakage", sorted(BREAKAGES))
def test_each_breakage_fails_the_right_test_plainly(suites, breakage, mode, tmp_path):
    failing, said, also = BREAKAGES[breakage]
    if breakage == "checkout_form_broken":
        also = (
            "answered 422, recorded 303" if mode == "browser" else "the form has no field `email`"
        )
    app = create_app(
        tmp_path / "logs", latency_scale=0.0, rng=random.Random(5), breakages=[breakage]
    )
    with running(app) as base:
        outcomes = _run(suites[mode], base, tmp_path / "run.xml")
    expected_failures = {BROWSE, BUY} if failing is None else {failing}
    assert {name for name, message in outcomes.items() if message} == expected_failures, outcomes
    for name in expected_failures:
        assert said in outcomes[name] and also in outcomes[name], outcomes[name]
        assert "Traceback" not in outcomes[name]


def test_reseeding_the_same_input_writes_identical_files(recorded, suites, tmp_path):
    again = tmp_path / "again"
    result = CliRunner().invoke(main, ["seed", str(recorded["hars"]), "-o", str(again)])
    assert result.exit_code == 0, result.output
    for name in ("conftest.py", "test_journeys.py"):
        assert (again / name).read_bytes() == (suites["browser"] / name).read_bytes()


def test_seeded_files_hold_no_recorded_secret_and_compile(recorded, suites):
    secrets = {TOKEN, EMAIL, quote_plus(EMAIL), CARD, CARD.replace(" ", ""), quote_plus(CARD),
               COOKIE, NAME, ADDRESS, *recorded["cookies"]}  # fmt: skip
    raw = (recorded["hars"] / "buy.har").read_text("utf-8")
    assert quote_plus(EMAIL) in raw and TOKEN in raw  # the HAR did carry them
    for suite in suites.values():
        for path in suite.glob("*.py"):
            source = path.read_text("utf-8")
            compile(source, str(path), "exec")
            for secret in secrets:
                assert secret not in source, (path.name, secret)
    tests = (suites["browser"] / "test_journeys.py").read_text("utf-8")
    assert "env('CXE_SECRET_EMAIL_1')" in tests
    assert "capture('html_input', 'csrf_token')" in tests  # the live token, not the recorded one
    assert "capture('location', 2)" in tests  # the order id from the redirect


def test_a_missing_variable_is_named(suites, tmp_path):
    app = create_app(tmp_path / "logs", latency_scale=0.0, rng=random.Random(5))
    env = {k: v for k, v in os.environ.items() if not k.startswith("CXE_SECRET_")}
    with running(app) as base:
        done = subprocess.run(
            [sys.executable, "-m", "pytest", str(suites["api"]), "--base-url", base, "-q",
             "-p", "no:cacheprovider", "-p", "no:xdist", "--rootdir", str(suites["api"])],
            env=env, capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
    assert done.returncode == 1, done.stdout
    # Every missing variable at once, with the step and field that sends it; the buyer's recorded
    # Authorization header among them.
    assert f"CXE_SECRET_NAME_1 (name): {BUY}, step 4 POST /checkout, form field name" in done.stdout
    assert "CXE_SECRET_AUTHORIZATION_1" in done.stdout
    assert "1 failed, 1 passed" in done.stdout


def test_a_suite_seeded_before_the_rename_still_runs(suites, tmp_path):
    """Suites seeded by earlier versions annotate their tests with `Journey` and open the journey
    without pytest's `fail`: they still pass, and a broken step still fails saying what broke."""
    old = tmp_path / "old-suite"
    old.mkdir()
    tests = (suites["api"] / "test_journeys.py").read_text("utf-8")
    (old / "test_journeys.py").write_text(tests.replace("SeededJourney", "Journey"), "utf-8")
    conftest = (suites["api"] / "conftest.py").read_text("utf-8")
    (old / "conftest.py").write_text(conftest.replace(", fail=fail_plainly", ""), "utf-8")
    app = create_app(tmp_path / "logs", latency_scale=0.0, rng=random.Random(5))
    with running(app) as base:
        assert _run(old, base, tmp_path / "good.xml") == {BROWSE: None, BUY: None}
    broken = create_app(
        tmp_path / "logs-broken",
        latency_scale=0.0,
        rng=random.Random(5),
        breakages=["order_page_missing"],
    )
    with running(broken) as base:
        outcomes = _run(old, base, tmp_path / "broken.xml")
    assert outcomes[BROWSE] is None
    assert "GET /orders/{hash}: /orders/" in outcomes[BUY], outcomes[BUY]
    assert "answered 404, recorded 200" in outcomes[BUY]
