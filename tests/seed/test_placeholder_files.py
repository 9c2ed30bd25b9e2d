"""The files a seeded test uploads in place of recorded ones: the image placeholders are images a
real Chromium decodes (1x1 pixel each), so an app that checks an image field accepts them."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Page, sync_playwright

from cxe_gate.browser import chromium_launch_args
from cxe_gate.seed.placeholder_files import placeholder_content

pytestmark = [pytest.mark.browser]

_DECODE = """async ([data, type]) => {
  const bytes = Uint8Array.from(atob(data), (c) => c.charCodeAt(0));
  const image = await createImageBitmap(new Blob([bytes], { type }));
  return [image.width, image.height];
}"""


@pytest.fixture(scope="module")
def page() -> Iterator[Page]:
    with sync_playwright() as playwright:
        launch: dict[str, Any] = chromium_launch_args()
        browser = playwright.chromium.launch(**launch)
        yield browser.new_page()
        browser.close()


@pytest.mark.parametrize("mime_type", ["image/png", "image/gif", "image/jpeg", "IMAGE/JPG"])
def test_an_image_placeholder_is_a_1x1_image_chromium_decodes(page, mime_type):
    content = placeholder_content(mime_type)
    assert len(content) < 200  # a few bytes
    encoded = base64.b64encode(content).decode()
    assert page.evaluate(_DECODE, [encoded, mime_type.lower()]) == [1, 1]


def test_other_types_get_a_line_of_text_or_a_pdf_header():
    # The PDF magic number `%PDF-` (what file-type sniffers read) is from the PDF specification.
    assert placeholder_content("application/pdf").startswith(b"%PDF-")
    for mime_type in (None, "", "application/octet-stream", "text/csv"):
        content = placeholder_content(mime_type)
        assert 0 < len(content) <= 64 and content.decode("ascii").strip()
