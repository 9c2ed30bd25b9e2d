"""The whole way through, with a real Chromium: HARs recorded by Playwright from the running example
shop (browse twice, buy once with secrets planted in the checkout), then `cxe-gate journeys`. A
missing browser fails here; it never skips."""

from __future__ import annotations

import json
from collections.abc import Iterator
from urllib.parse import quote_plus

import pytest
from click.testing import CliRunner
from shop_sessions import CARD, COOKIE, EMAIL, PASSWORD, TOKEN, shop_with_sessions

from cxe_gate.cli import main

pytestmark = [pytest.mark.server, pytest.mark.slow]


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, object]]:
    """Three customer sessions, one HAR each; yields the HAR directory and the shop's own cookie
    values (secrets too)."""
    with shop_with_sessions(tmp_path_factory.mktemp("har"), 7) as (base, hars, shop_cookies):
        yield {"dir": hars, "cookies": shop_cookies, "base": base}


@pytest.fixture(scope="module")
def run(recorded, tmp_path_factory) -> dict[str, object]:
    out = tmp_path_factory.mktemp("out") / "journeys.json"
    result = CliRunner().invoke(main, ["journeys", str(recorded["dir"]), "-o", str(out)])
    return {"result": result, "out": out, "map": json.loads(out.read_text("utf-8"))}


def test_the_command_reads_every_recorded_session(run):
    result = run["result"]
    assert result.exit_code == 0, result.output
    summary = run["map"]["summary"]
    assert summary["files"] == 3
    assert summary["files_failed"] == 0
    assert summary["sessions"] == 3
    assert run["map"]["first_party"] == ["127.0.0.1"]
    assert "wrote" in result.output


def test_planted_secrets_appear_nowhere_in_the_output(run, recorded):
    printed = run["result"].output
    written = run["out"].read_text("utf-8")
    secrets = {
        TOKEN,
        EMAIL,
        quote_plus(EMAIL),
        CARD,
        CARD.replace(" ", ""),
        quote_plus(CARD),
        PASSWORD,
        quote_plus(PASSWORD),
        COOKIE,
        *recorded["cookies"],  # shop_uid and shop_sid as the shop set them
    }
    assert len(recorded["cookies"]) >= 3
    for secret in secrets:
        assert secret not in printed, secret
        assert secret not in written, secret
    # ... and the HAR itself did carry them, so the scrubbing is what removed them.
    raw = (recorded["dir"] / "buy.har").read_text("utf-8")
    assert TOKEN in raw and COOKIE in raw and quote_plus(EMAIL) in raw


def test_what_was_scrubbed_is_reported_by_kind_and_place(run):
    scrubbed = {(s["kind"], s["where"]) for s in run["map"]["scrubbed"]}
    assert ("authorization", "request.header.authorization") in scrubbed
    assert ("cookie", "request.cookie.promo") in scrubbed
    assert ("cookie", "request.cookie.shop_sid") in scrubbed
    assert ("email", "request.form.email") in scrubbed
    assert ("card", "request.form.card_number") in scrubbed
    assert ("password", "request.form.password") in scrubbed
    assert ("token", "request.form.csrf_token") in scrubbed
    buy = next(j for j in run["map"]["journeys"] if j["weight"] == 1)
    checkout = next(s["page"] for s in buy["steps"] if s["page"]["method"] == "POST")
    assert checkout["fields"]["email"] == "${CXE_SECRET_EMAIL_1}"
    assert checkout["fields"]["password"] == "${CXE_SECRET_PASSWORD_1}"
    assert checkout["fields"]["card_number"].startswith("${CXE_SECRET_CARD_NUMBER_")
    assert "${CXE_SECRET_EMAIL_1}" in run["map"]["placeholders"]
    assert "request.form.email" in run["result"].output


def test_journeys_are_clustered_with_their_weights_and_templated_routes(run):
    journeys = run["map"]["journeys"]
    assert [j["weight"] for j in journeys] == [2, 1]
    browse, buy = journeys
    assert browse["name"] == "GET / → GET /products/{id}"
    assert browse["steps"][1]["calls"][0]["route"] == "/api/products/{id}"
    assert browse["duration"]["count"] == 2
    assert browse["share"] == pytest.approx(2 / 3, abs=1e-3)
    assert buy["name"] == (
        "GET / → GET /products/{id} → GET /checkout → POST /checkout → GET /orders/{hash}"
    )
    calls = [f"{c['method']} {c['route']}" for c in buy["steps"][1]["calls"]]
    assert calls == ["GET /api/products/{id}", "POST /api/cart"]
    assert buy["steps"][3]["page"]["status"] == 303


def test_assets_are_dropped_and_never_become_steps(run):
    dropped = run["map"]["dropped"]
    assert dropped.get("script", 0) >= 3  # /static/shop.js on every page
    routes = json.dumps(run["map"]["journeys"])
    assert "/static/" not in routes
    assert "dropped: script" in run["result"].output
