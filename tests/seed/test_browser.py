"""Finding a Chromium: Playwright's own when installed, else a system one, else a clear error. The
launch is real: a missing browser fails here, it never skips."""

from __future__ import annotations

import json
from pathlib import Path

import playwright
import pytest
from playwright.sync_api import sync_playwright

from cxe_gate import browser

pytestmark = pytest.mark.browser


def test_the_chosen_chromium_really_launches():
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(**browser.chromium_launch_args())
        page = chromium.new_page()
        page.set_content("<p id=x>ready</p>")
        assert page.inner_text("#x") == "ready"
        chromium.close()


def test_an_explicit_choice_wins_and_is_checked(tmp_path, monkeypatch):
    fake = tmp_path / "chrome"
    fake.write_text("#!/bin/sh\n")
    monkeypatch.setenv(browser.ENV_VARIABLE, str(fake))
    with pytest.raises(browser.BrowserNotFound, match="is not an executable file"):
        browser.chromium_executable()
    fake.chmod(0o755)
    assert browser.chromium_executable() == fake


def test_without_any_chromium_the_error_says_what_to_install(monkeypatch):
    monkeypatch.delenv(browser.ENV_VARIABLE, raising=False)
    monkeypatch.setattr(browser, "_playwright_chromium", lambda: None)
    monkeypatch.setattr(browser, "_SYSTEM_CHROMIUMS", ())
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(browser.BrowserNotFound, match="playwright install chromium"):
        browser.chromium_executable()


def test_playwrights_own_chromium_is_preferred_when_installed(tmp_path, monkeypatch):
    monkeypatch.delenv(browser.ENV_VARIABLE, raising=False)
    monkeypatch.setenv("PLAYWRIGHT_BROWSERS_PATH", str(tmp_path))
    assert browser.chromium_executable() is not None  # nothing installed there: the system one
    manifest = json.loads(
        (Path(playwright.__file__).parent / "driver/package/browsers.json").read_text()
    )
    revision = next(b["revision"] for b in manifest["browsers"] if b["name"] == "chromium")
    (tmp_path / f"chromium-{revision}").mkdir()
    assert browser.chromium_executable() is None  # Playwright launches its own
    assert browser.chromium_launch_args() == {}
