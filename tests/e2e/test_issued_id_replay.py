"""A server-issued id, recorded and replayed: a small app on 127.0.0.1 hands out a fresh sequence id
in a hidden input on every page of a three-page form and refuses a post without the id it issued
last. A session clicked through in Chromium is seeded (browser and api mode); the suites pass on a
fresh instance, whose ids differ, by posting back the live ids, and no recorded id is in any file
the seeder wrote."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qsl

import pytest
from click.testing import CliRunner
from playwright.sync_api import sync_playwright
from test_real_app import _run

from cxe_gate.browser import chromium_launch_args
from cxe_gate.cli import main

pytestmark = [pytest.mark.server, pytest.mark.slow, pytest.mark.browser]

STEPS = 3


@dataclass
class Wizard:
    """What one instance issued and what it accepted."""

    issued: list[str] = field(default_factory=list)
    accepted: list[str] = field(default_factory=list)  # "step N qty Q"
    refused: int = 0
    current: str = ""
    lock: threading.Lock = field(default_factory=threading.Lock)

    def new_id(self) -> str:
        with self.lock:
            self.current = str(uuid.uuid4())
            self.issued.append(self.current)
            return self.current


def _page(step: int, seq_id: str) -> bytes:
    if step > STEPS:
        return b"<!doctype html><html><head><title>Done</title></head><body>Done</body></html>"
    return (
        "<!doctype html><html><head><title>Order</title></head><body>"
        f"<h1>Step {step}</h1><form method='post' action='/wizard'>"
        f"<input type='hidden' name='seqId' value='{seq_id}'>"
        f"<input type='hidden' name='step' value='{step}'>"
        "<label for='qty'>Quantity</label><input id='qty' name='qty' type='number' value='1'>"
        "<button type='submit'>Next</button></form></body></html>"
    ).encode()


def _handler(wizard: Wizard) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path != "/wizard":
                self._send(404, b"not here")
                return
            self._send(200, _page(1, wizard.new_id()))

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            form = dict(parse_qsl(self.rfile.read(length).decode()))
            if form.get("seqId") != wizard.current:  # only the id issued last is good
                wizard.refused += 1
                self._send(409, b"<html><body>stale sequence id</body></html>")
                return
            step = int(form.get("step", "0"))
            wizard.accepted.append(f"step {step} qty {form.get('qty')}")
            self._send(200, _page(step + 1, wizard.new_id()))

        def _send(self, status: int, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler


@contextmanager
def wizard_app() -> Iterator[tuple[str, Wizard]]:
    """A fresh instance on 127.0.0.1: its base URL and what it issued and accepted."""
    wizard = Wizard()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(wizard))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", wizard
    finally:
        server.shutdown()
        server.server_close()


def record(base: str, har: Path) -> None:
    """A customer's order, clicked through in Chromium: quantities 2, 3 and 4 on the three pages."""
    with sync_playwright() as playwright:
        executable = chromium_launch_args().get("executable_path")  # Debian's, if not Playwright's
        browser = playwright.chromium.launch(
            executable_path=None if executable is None else str(executable)
        )
        context = browser.new_context(record_har_path=str(har))
        page = context.new_page()
        page.goto(f"{base}/wizard")
        for step in range(1, STEPS + 1):
            page.fill("#qty", str(step + 1))
            with page.expect_navigation():
                page.click("button[type=submit]")
        assert page.title() == "Done"
        context.close()
        browser.close()


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Path], list[str]]:
    root = tmp_path_factory.mktemp("issued-seed")
    (root / "hars").mkdir()
    with wizard_app() as (base, wizard):
        record(base, root / "hars" / "wizard.har")
    # The recording went through: four pages, each with its own id, three posts accepted.
    assert len(wizard.issued) == STEPS + 1 and wizard.refused == 0
    assert wizard.accepted == ["step 1 qty 2", "step 2 qty 3", "step 3 qty 4"]
    runner = CliRunner()
    journeys = root / "journeys.json"
    result = runner.invoke(main, ["journeys", str(root / "hars"), "-o", str(journeys)])
    assert result.exit_code == 0, result.output
    suites = {}
    for mode in ("browser", "api"):
        out = root / f"seeded-{mode}"
        result = runner.invoke(main, ["seed", str(journeys), "-o", str(out), "--mode", mode])
        assert result.exit_code == 0, result.output
        suites[mode] = out
    k6 = root / "seeded-k6"
    result = runner.invoke(main, ["seed", str(journeys), "-o", str(k6), "--format", "k6"])
    assert result.exit_code == 0, result.output
    suites["k6"] = k6
    suites["journeys"] = journeys
    return suites, wizard.issued


def test_no_recorded_id_reaches_any_output(seeded):
    suites, recorded = seeded
    files = [suites["journeys"]]
    for name in ("browser", "api", "k6"):
        files.extend(p for p in suites[name].rglob("*") if p.is_file())
    assert len(files) >= 6  # journeys.json, two suites of several files, the k6 script
    for path in files:
        text = path.read_text("utf-8")
        for value in recorded:
            assert value not in text, f"{value} in {path}"
    # What journeys.json keeps instead: the placeholder of a captured value, one per page's id.
    journeys = suites["journeys"].read_text("utf-8")
    assert journeys.count('"seqId": "${CXE_SECRET_CAPTURED_SEQID_') == STEPS
    code = (suites["browser"] / "test_journeys.py").read_text("utf-8")
    assert code.count("capture('html_input', 'seqId')") == STEPS
    assert "CXE_SECRET" not in (suites["browser"] / ".env.example").read_text("utf-8")


@pytest.mark.parametrize("mode", ["browser", "api"])
def test_the_replay_posts_back_the_live_ids_of_a_fresh_instance(seeded, mode, tmp_path):
    suites, recorded = seeded
    with wizard_app() as (base, wizard):
        outcomes = _run(suites[mode], base, tmp_path / "run.xml")
    assert len(outcomes) == 1 and set(outcomes.values()) == {None}, outcomes
    # The fresh instance issued ids of its own (none recorded) and accepted every post, with the
    # quantities the customer typed: so each post carried the id that instance had just issued.
    assert set(wizard.issued).isdisjoint(recorded)
    assert wizard.refused == 0
    assert wizard.accepted == ["step 1 qty 2", "step 2 qty 3", "step 3 qty 4"]
