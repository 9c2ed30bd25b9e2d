"""Customer sessions on the running example shop, recorded as HAR files by Playwright in a real
Chromium: two customers browse a product, one buys (with secrets planted on the way)."""

from __future__ import annotations

import random
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from playwright.sync_api import Browser, Page, expect, sync_playwright

from cxe_gate.browser import chromium_launch_args
from examples.shop.server import running
from examples.shop.shop import create_app

TOKEN = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJxYS1ib3QifQ.cGxhbnRlZC1zaWduYXR1cmU"
EMAIL = "planted.customer@example.net"
CARD = "4242 4242 4242 4242"
PASSWORD = "Planted-Pa55word!"
COOKIE = "planted-cookie-value-7c21"
NAME = "Ada Lovelace"
ADDRESS = "1 Analytical Way"


def open_product(page: Page, base: str, product: int) -> None:
    page.goto(f"{base}/products/{product}")
    expect(page.locator("#stock")).not_to_have_text("Checking stock…")


def browse(browser: Browser, base: str, har: Path, product: int) -> None:
    context = browser.new_context(record_har_path=str(har))
    page = context.new_page()
    page.goto(f"{base}/")
    open_product(page, base, product)
    context.close()


def buy(browser: Browser, base: str, har: Path, *, password: bool = True) -> set[str]:
    """Home, a product, add to cart, checkout, the order page; returns the shop's cookie values.
    `password` adds a password field to the form, the way checkouts that create an account do."""
    context = browser.new_context(
        record_har_path=str(har), extra_http_headers={"Authorization": f"Bearer {TOKEN}"}
    )
    context.add_cookies([{"name": "promo", "value": COOKIE, "url": base}])
    page = context.new_page()
    page.goto(f"{base}/")
    open_product(page, base, 3)
    page.click("#add-to-cart")
    expect(page.locator("#message")).to_contain_text("Added")
    page.goto(f"{base}/checkout")
    page.fill("#name", NAME)
    page.fill("#email", EMAIL)
    page.fill("#address", ADDRESS)
    page.fill("#card_number", CARD)
    page.fill("#expiry", "12/39")
    if password:
        page.evaluate(
            """password => {
                const input = document.createElement("input");
                input.type = "password"; input.name = "password"; input.value = password;
                document.querySelector("form[action='/checkout']").appendChild(input);
            }""",
            PASSWORD,
        )
    with page.expect_navigation(url="**/orders/*"):
        page.click("button[type=submit]")
    expect(page.locator("#order-status")).not_to_be_empty()
    cookies = {c["value"] for c in context.cookies()}
    context.close()
    return cookies


def record_sessions(
    browser: Browser, base: str, directory: Path, *, password: bool = True
) -> set[str]:
    """browse-1.har, browse-2.har and buy.har in `directory`; the shop's cookie values."""
    for number, product in enumerate((2, 5), 1):
        browse(browser, base, directory / f"browse-{number}.har", product)
    return buy(browser, base, directory / "buy.har", password=password)


@contextmanager
def shop_with_sessions(
    root: Path, seed: int, *, password: bool = True
) -> Iterator[tuple[str, Path, set[str]]]:
    """The example shop running, the three sessions recorded from it into `root/hars` by a real
    Chromium; yields the shop's URL, the HAR directory and the shop's cookie values."""
    hars = root / "hars"
    hars.mkdir()
    app = create_app(root / "logs", latency_scale=0.0, rng=random.Random(seed))
    with running(app) as base, sync_playwright() as playwright:
        browser = playwright.chromium.launch(**chromium_launch_args())
        try:
            cookies = record_sessions(browser, base, hars, password=password)
        finally:
            browser.close()
        yield base, hars, cookies
