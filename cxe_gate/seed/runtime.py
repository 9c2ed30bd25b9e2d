"""What seeded suites import: the names their tests are written with (`SeededJourney`, `Call` and
the markers) and `open_journey`, which their `journey` fixture opens in browser or api mode. The
suite's conftest.py supplies the test runner's own failure; nothing here imports pytest."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, NoReturn, Protocol

from .api_driver import ApiDriver
from .browser_driver import BrowserDriver
from .hosts import base_urls
from .journey import Call, JourneyFailed, SeededJourney, raise_failed
from .markers import capture, env, ref, text, upload, url

__all__ = [
    "Call",
    "Journey",
    "JourneyFailed",
    "SeededJourney",
    "capture",
    "env",
    "open_journey",
    "ref",
    "text",
    "upload",
    "url",
]

MODE_VARIABLE = "CXE_SEEDED_MODE"  # browser or api: overrides the mode the suite was seeded with

# Suites seeded before the rename annotate their tests with `Journey`.
Journey = SeededJourney


class FixtureSource(Protocol):
    """Where the fixture finds Playwright's `page` and `playwright` (pytest's `request`)."""

    def getfixturevalue(self, argname: str) -> Any: ...


@contextmanager
def open_journey(
    request: FixtureSource,
    base_url: str | None,
    mode: str,
    *,
    fail: Callable[[str], NoReturn] = raise_failed,
    hosts: Mapping[str, str] | None = None,
) -> Iterator[SeededJourney]:
    """The `journey` fixture of a seeded suite: `mode` is what it was seeded with, the
    CXE_SEEDED_MODE variable overrides it. `fail` ends the test with a message (the suite passes
    pytest's own; without it, JourneyFailed is raised). `hosts`: recorded host → the host or URL
    it is mapped to (--host-map); the main host follows `base_url`."""
    if not base_url:
        fail("run the seeded suite with --base-url URL (the site to test)")
    mode = os.environ.get(MODE_VARIABLE) or mode
    bases = base_urls(base_url, hosts or {})
    if mode == "browser":
        driver = BrowserDriver(request.getfixturevalue("page"), base_url, bases.values())
        yield SeededJourney(driver, fail=fail, hosts=bases)
    elif mode == "api":
        context = request.getfixturevalue("playwright").request.new_context()
        try:
            yield SeededJourney(ApiDriver(context, base_url), fail=fail, hosts=bases)
        finally:
            context.dispose()
    else:
        fail(f"{MODE_VARIABLE} must be browser or api, got {mode!r}")
