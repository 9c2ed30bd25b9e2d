"""One journey map for both halves, the whole way: customers recorded on the running example shop by
a real Chromium → `cxe-gate journeys` → `cxe-gate seed` → `cxe-gate init --seeded-suite` →
`cxe-gate evaluate` of the regressed release shop-1.5.0. Each criterion that fails names the seeded
test that exercises its routes, and the command the report gives runs exactly that test against the
regressed shop."""

from __future__ import annotations

import json
import random
import re
import shlex
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path

import pytest
import shop_sessions
import yaml
from click.testing import CliRunner

from cxe_gate.cli import main
from examples.shop import pages
from examples.shop.server import running
from examples.shop.shop import create_app

pytestmark = [pytest.mark.server, pytest.mark.slow, pytest.mark.browser]

DATA = Path(__file__).resolve().parents[2] / "examples" / "shop" / "data"
REGRESSED = ("shop-1.5.0", "2026-11-17T14:00:00Z")
# By hand, from the recorded pages (names.py: a page's last two route segments, placeholders left
# out, a POST prefixed with `post_`): browsing is / → /products/{id}; buying is / →
# /products/{id} → /checkout → POST /checkout → /orders/{hash}.
BROWSE = "test_home_products"
BUY = "test_home_products_checkout_post_checkout_orders"
# Requests only the buying journey makes (examples/shop: pages.py and api.py); the browsing
# journey makes GET /, GET /products/{id} and GET /api/products/{id}, the buying one too.
BUY_ONLY = ("POST /api/cart", "GET /checkout", "POST /checkout", "/orders/")


def _cli(*args: str) -> str:
    result = CliRunner().invoke(main, list(args))
    assert "Traceback" not in result.output, result.output
    return result.output


@pytest.fixture(scope="module")
def gate(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """HARs → journeys.json → the seeded suite → cxe.yml pointing at both, in one folder."""
    root = tmp_path_factory.mktemp("reproduce")
    # A declined card would record another buying journey than the one named above.
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(pages, "BASE_DECLINE_RATE", 0.0)
        with shop_sessions.shop_with_sessions(root, 5, password=False) as (_, hars, _):
            out = _cli("journeys", str(hars), "-o", str(root / "journeys.json"))
    assert (root / "journeys.json").exists(), out
    out = _cli("seed", str(root / "journeys.json"), "-o", str(root / "seeded"), "--mode", "api")
    assert "2 journey test(s)" in out, out
    out = _cli(
        "init", str(root / "journeys.json"), "-o", str(root / "cxe.yml"),
        "--seeded-suite", str(root / "seeded"),
        "--requests", str(DATA / "requests.parquet"), "--events", str(DATA / "events.parquet"),
        "--until", REGRESSED[1],
    )  # fmt: skip
    assert "wrote" in out, out
    return root


@pytest.fixture(scope="module")
def judged(gate: Path) -> tuple[dict, str, str]:
    """The regressed release judged: the JSON report, the Markdown report and the CLI summary."""
    summary = _cli(
        "evaluate", "-c", str(gate / "cxe.yml"), "--release", REGRESSED[0],
        "--deployed-at", REGRESSED[1], "-o", str(gate / "report.json"),
        "-o", str(gate / "report.md"), "-o", str(gate / "report.html"),
    )  # fmt: skip
    report = json.loads((gate / "report.json").read_text())
    return report, (gate / "report.md").read_text(), summary


def test_init_points_the_file_at_the_map_and_the_suite(gate: Path) -> None:
    seeded = yaml.safe_load((gate / "cxe.yml").read_text())["seeded"]
    assert seeded["map"] == "journeys.json" and seeded["suite"] == "seeded"
    # The buying funnel's events, each with the request the shop's handlers send it from
    # (examples/shop/pages.py, api.py; tests/integrations/test_init.py's BUY_EVENTS).
    assert seeded["events"] == {
        "view_product": ["GET /products/{id}"],
        "add_to_cart": ["POST /api/cart"],
        "begin_checkout": ["GET /checkout"],
        "purchase": ["POST /checkout"],
    }
    manifest = json.loads((gate / "seeded" / "seed-manifest.json").read_text())
    assert set(manifest["tests"]) == {BROWSE, BUY}


def test_each_failed_criterion_names_the_seeded_tests_of_its_routes(judged) -> None:
    report, markdown, summary = judged
    assert report["verdict"] == "fail"
    failed = {c["name"]: c for c in report["criteria"] if c["verdict"] != "pass"}
    # The regressions of shop-1.5.0 (examples/shop/regressions.py), each caught by init's file.
    assert {"POST /checkout latency p95", "POST /api/cart error rate"} <= set(failed)
    assert any(c["metric"] == "conversion" for c in failed.values())
    for name, criterion in failed.items():
        found = criterion["reproduce"]
        assert found is not None, name
        only_buying = any(part in name for part in BUY_ONLY) or criterion["metric"] == "conversion"
        # A buying-only route, or the buying funnel (it takes all four events; browsing one).
        expected = [BUY] if only_buying else [BROWSE, BUY]
        assert found["tests"] == expected, (name, found)
        assert found["command"].startswith("pytest ")
    # Said once per criterion: in its "Why" item of the Markdown report, under it in the summary.
    commands = Counter(c["reproduce"]["command"] for c in failed.values())
    for command, times in commands.items():
        assert markdown.count(f" · reproduce with: `{command}`") == times, command
        assert summary.count(f"reproduce with: {command}") == times, command
    passed = [c for c in report["criteria"] if c["verdict"] == "pass"]
    assert passed and all(c["reproduce"] is None for c in passed)
    assert len(markdown) < 60_000


def test_the_reported_command_selects_those_tests_on_the_regressed_shop(
    judged, gate: Path, tmp_path: Path
) -> None:
    report, _, _ = judged
    latency = next(c for c in report["criteria"] if c["name"] == "POST /checkout latency p95")
    command = shlex.split(latency["reproduce"]["command"])
    assert command[0] == "pytest"
    junit = tmp_path / "run.xml"
    app = create_app(
        tmp_path / "logs",
        regressions=("slow_checkout", "cart_errors", "broken_payment"),
        latency_scale=0.0,
        rng=random.Random(3),
    )
    with running(app) as base:
        done = subprocess.run(
            [sys.executable, "-m", *command, "--base-url", base, "-p", "no:cacheprovider",
             "-p", "no:xdist", f"--junitxml={junit}", "--rootdir", str(gate / "seeded")],
            capture_output=True, text=True, timeout=300, check=False,
        )  # fmt: skip
    assert junit.exists(), done.stdout + done.stderr
    ran = [case.get("name") for case in ET.parse(junit).iter("testcase")]
    # Only the buying journey's test ran (outcome aside: the regressed shop may fail it).
    assert ran == [BUY], done.stdout
    assert re.search(r"1 deselected", done.stdout), done.stdout
