"""The history page in a real headless Chromium: two releases of the example shop judged by the
gate, their JSON reports turned into one page that loads nothing else, shows a trend per
criterion, and fits a phone. A missing browser fails the test."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from playwright.sync_api import Browser
from test_html_report_browser import SHOP, browser, keep, open_report  # noqa: F401 (a fixture)

from cxe_gate.cli import main
from cxe_gate.cli.history_command import history

pytestmark = pytest.mark.browser


def _json_report(directory: Path, name: str, deployed_at: str) -> Path:
    path = directory / f"{name}.json"
    args = ["evaluate", "-c", str(SHOP), "--release", name, "--deployed-at", deployed_at]
    result = CliRunner().invoke(main, [*args, "-o", str(path)])
    # Whatever the verdict (pass 0, fail 1, inconclusive 3, error 4), the report is written.
    assert result.exit_code in (0, 1, 3, 4), result.output
    assert path.exists()
    return path


@pytest.mark.parametrize("width", [1280, 390])
def test_history_page_reads_well_in_chromium(browser: Browser, tmp_path: Path, width: int) -> None:  # noqa: F811
    failing = _json_report(tmp_path, "shop-1.5.0", "2026-11-17T14:00:00Z")
    passing = _json_report(tmp_path, "shop-1.4.0", "2026-11-10T14:00:00Z")
    page_path = tmp_path / "history.html"
    result = CliRunner().invoke(history, [str(failing), str(passing), "-o", str(page_path)])
    assert result.exit_code == 0, result.output

    page, errors, requests = open_report(browser, page_path, width)
    try:
        assert errors == []
        assert requests == [page_path.as_uri()]  # the page itself, nothing else
        criteria = {
            c["name"] for r in (failing, passing) for c in json.loads(r.read_text())["criteria"]
        }
        assert page.locator("article.card").count() == len(criteria)  # a card per criterion
        for chart in page.locator("article.card svg.chart").all():
            box = chart.bounding_box()
            assert box is not None and box["width"] > 150
        # Oldest first: shop-1.4.0's row comes before shop-1.5.0's in every table.
        first = page.locator("article.card").first.locator("tbody tr")
        assert first.nth(0).locator("td").first.inner_text() == "shop-1.4.0"
        assert first.nth(1).locator("td").first.inner_text() == "shop-1.5.0"
        overflow = page.evaluate(
            "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0, f"{overflow}px of horizontal scrolling at {width}px"
        screenshot = tmp_path / f"history-{width}px.png"
        page.screenshot(path=str(screenshot), full_page=True)
        keep(screenshot)
    finally:
        page.close()
