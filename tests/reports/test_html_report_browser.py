"""The HTML report in a real headless Chromium, as a release manager opens it from a CI artifact:
no console errors, no network, the verdict and figures visible, nothing wider than a phone.

Screenshots at 1280 and 390 px go to the test's tmp_path, and to test-artifacts/ under the
repository when CXE_ARTIFACTS is set (CI uploads that folder). A missing browser fails the test."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from playwright.sync_api import Browser, ConsoleMessage, Page, sync_playwright

from cxe_gate.browser import chromium_launch_args
from cxe_gate.cli import main

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
SHOP = ROOT / "examples" / "shop" / "cxe.yml"
FAILING = ["--release", "shop-1.5.0", "--deployed-at", "2026-11-17T14:00:00Z"]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(**chromium_launch_args())
        yield browser
        browser.close()


def gate_report(directory: Path, *args: str) -> Path:
    path = directory / "report.html"
    result = CliRunner().invoke(main, ["evaluate", "-c", str(SHOP), *args, "-o", str(path)])
    assert result.exit_code in (0, 1), result.output
    return path


def keep(screenshot: Path) -> None:
    if os.environ.get("CXE_ARTIFACTS"):
        folder = ROOT / "test-artifacts"
        folder.mkdir(exist_ok=True)
        shutil.copy(screenshot, folder / screenshot.name)


def open_report(browser: Browser, report: Path, width: int) -> tuple[Page, list[str], list[str]]:
    page = browser.new_page(viewport={"width": width, "height": 900})
    errors: list[str] = []
    requests: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if message.type in ("error", "warning"):
            errors.append(message.text)

    page.on("console", on_console)
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("request", lambda request: requests.append(request.url))
    page.goto(report.as_uri())
    page.wait_for_load_state("load")
    return page, errors, requests


@pytest.mark.parametrize(
    ("name", "args", "verdict", "visible"),
    [
        ("pass", [], "Pass", ["release shop-1.4.0", "Score", "100 / 100", "Release window"]),
        (
            "fail",
            FAILING,
            "Fail",
            [
                "release shop-1.5.0",
                "22.2 / 100",
                "key criterion failed: checkout conversion, API error rate",
                "checkout conversion fell 42.7% (25.2% → 14.4%) on 928 units",
                "Measured on 928 samples in the release window and 7,008 in the baseline.",
                "would turn up by chance less than once in 1,000 comparisons",
            ],
        ),
    ],
)
@pytest.mark.parametrize("width", [1280, 390])
def test_report_reads_well_in_chromium(
    browser: Browser,
    tmp_path: Path,
    name: str,
    args: list[str],
    verdict: str,
    visible: list[str],
    width: int,
) -> None:
    report = gate_report(tmp_path, *args)
    page, errors, requests = open_report(browser, report, width)
    try:
        assert errors == []
        assert requests == [report.as_uri()]  # the page itself, nothing else

        banner = page.locator("header.banner")
        assert banner.locator(".badge").first.inner_text().strip().lower() == verdict.lower()
        for text in visible:
            assert page.get_by_text(text, exact=False).first.is_visible(), text
        assert page.locator("article.card").count() == 6
        assert page.locator("article.card svg.chart").count() == 6
        for chart in page.locator("article.card svg.chart").all():
            box = chart.bounding_box()
            assert box is not None and box["width"] > 150  # drawn, and not squeezed away

        overflow = page.evaluate(
            "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0, f"{overflow}px of horizontal scrolling at {width}px"
        # No card or chart sticks out of the viewport either (overflow hidden would mask it).
        widest = page.evaluate(
            "() => Math.max(...[...document.querySelectorAll('main *')]"
            ".map(e => e.getBoundingClientRect().right))"
        )
        assert widest <= width + 0.5

        screenshot = tmp_path / f"html-report-{name}-{width}px.png"
        page.screenshot(path=str(screenshot), full_page=True)
        assert screenshot.stat().st_size > 10_000
        keep(screenshot)
    finally:
        page.close()


def test_report_follows_the_dark_colour_scheme(browser: Browser, tmp_path: Path) -> None:
    report = gate_report(tmp_path, *FAILING)
    colours = {}
    for scheme in ("light", "dark"):
        page = browser.new_page(color_scheme=scheme)
        page.goto(report.as_uri())
        colours[scheme] = page.evaluate("() => getComputedStyle(document.body).backgroundColor")
        page.close()
    assert colours["light"] == "rgb(245, 246, 248)"
    assert colours["dark"] == "rgb(13, 17, 23)"
