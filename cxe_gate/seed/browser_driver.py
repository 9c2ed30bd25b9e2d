"""Driving a seeded journey through a real browser page (Playwright): navigations and the redirect
chains they go through, forms filled in and submitted, the page's own API calls awaited and read,
and what else went wrong in the page: uncaught errors, failed or 5xx first-party requests."""

from __future__ import annotations

from collections.abc import Iterable
from contextlib import suppress
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from .answer import Answer
from .api_driver import fetch
from .driver import Outgoing, route_pattern, target_of
from .forms import CHECK_TIMEOUT_MS, Filled, fill_form

if TYPE_CHECKING:
    from playwright.sync_api import Locator, Page, Request, Response

NAVIGATION_TIMEOUT_MS = 15_000
SETTLE_TIMEOUT_MS = 5_000  # how long a page may keep the network busy before its calls are read

_FIND_FORM = """([pattern, method]) => {
  const re = new RegExp(pattern);
  return Array.from(document.forms).findIndex((form) =>
    (form.getAttribute("method") || "get").toLowerCase() === method &&
    re.test(new URL(form.action, location.href).pathname));
}"""
_SUBMIT = "(form, submitter) => form.requestSubmit(submitter || undefined)"


def _submit(form: Locator, filled: Filled) -> None:
    """Presses the recorded button as a customer would (a click on it, found by its role and
    name); a button a click cannot reach (styled away) submits the form by script."""
    if filled.press is not None:
        try:
            filled.press.click(timeout=CHECK_TIMEOUT_MS)
            return
        except Exception:  # Playwright's TimeoutError: covered or hidden
            form.evaluate(_SUBMIT, filled.press.element_handle())
            return
    form.evaluate(_SUBMIT, filled.submitter)


def _ms(request: Request | None) -> float | None:
    timing = request.timing if request is not None else None
    end = timing.get("responseEnd", -1) if timing else -1
    return end if end is not None and end >= 0 else None


def _chain(response: Response) -> list[Answer]:
    """The answers of every hop the browser went through to `response`, first hop first."""
    hops = [_answer(response)]
    request = response.request.redirected_from
    while request is not None:
        redirect = request.response()
        if redirect is not None:
            hops.append(_answer(redirect, request))
        request = request.redirected_from
    return hops[::-1]


def _answer(response: Response, request: Request | None = None) -> Answer:
    return Answer(
        status=response.status,
        url=response.url,
        headers=[(h["name"].lower(), h["value"]) for h in response.headers_array()],
        read=response.text,
        ms=_ms(request or response.request),
    )


@dataclass
class _Seen:
    responses: list[Response] = field(default_factory=list)
    used: set[int] = field(default_factory=set)
    errors: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)


class BrowserDriver:
    def __init__(self, page: Page, base_url: str, other_bases: Iterable[str] = ()):
        """`other_bases`: the base URLs other recorded hosts are mapped to (first party too)."""
        self.problems: list[str] = []
        self.page = page
        self.base_url = base_url.rstrip("/")
        self._host = urlsplit(self.base_url).netloc
        self._first_party = {self._host, *(urlsplit(b).netloc for b in other_bases)}
        self._seen = _Seen()
        self._hops: list[Answer] = []  # the redirect chain's answers not yet followed
        self._location: str | None = None  # a redirect answered to a request sent directly
        self._since = 0  # responses before this index belong to earlier steps
        page.set_default_timeout(NAVIGATION_TIMEOUT_MS)
        page.on("response", self._on_response)  # (Playwright refuses builtin methods)
        page.on("pageerror", lambda error: self._seen.errors.append(str(error)))
        page.on("requestfailed", self._on_failed)

    def _on_response(self, response: Response) -> None:
        self._seen.responses.append(response)

    def _on_failed(self, request: Request) -> None:
        failure = request.failure or ""
        if urlsplit(request.url).netloc in self._first_party and "ERR_ABORTED" not in failure:
            self._seen.failed.append(f"{request.method} {urlsplit(request.url).path}: {failure}")

    def _mark(self) -> int:
        return len(self._seen.responses)

    def open(
        self, target: str, headers: dict[str, str] | None = None, base: str | None = None
    ) -> Answer | None:
        self._since = self._mark()
        self._hops, self._location = [], None
        if headers:
            # Recorded auth headers go with this page and every request after it, as they did.
            self.page.set_extra_http_headers({k: str(v) for k, v in headers.items()})
        response = self.page.goto((base or self.base_url) + target)
        if response is None:
            self.problems.append(f"GET {target}: the browser got no response")
            return None
        return self._first_hop(response)

    def _first_hop(self, response: Response) -> Answer:
        first, *self._hops = _chain(response)
        return first

    def follow(self, last: Answer | None, base: str | None = None) -> Answer | None:
        # The browser followed the chain itself: its hops are handed out one by one. A redirect
        # answered to a request sent from the page's context is opened now.
        self._since = self._mark()
        if self._hops:
            return self._hops.pop(0)
        location, self._location = self._location, None
        if location is None:
            return None
        target = target_of(self.base_url, location, against=last.url if last else None)
        return self.open(target, base=base)

    def send_page(self, request: Outgoing, route: str, last: Answer | None) -> Answer | None:
        self._since = self._mark()
        self._hops, self._location = [], None
        page = self.page
        method, form = request.method, request.fields
        index = -1
        if form is not None and request.json is None:
            index = page.evaluate(_FIND_FORM, [route_pattern(route).pattern, method.lower()])
        if form is None or index < 0:
            # No such form on the page: send it from the page's context (its cookies, its origin).
            answer = self.send(request)
            self._location = answer.header("location")
            return answer
        found = page.locator("form").nth(index)
        filled = fill_form(found, form, method, route, request.labels)
        self.problems.extend(filled.problems)
        if filled.problems:
            return None
        try:
            with page.expect_navigation() as navigation:
                _submit(found, filled)
        except Exception as exc:  # Playwright's TimeoutError, said plainly
            self.problems.append(
                f"{method} {route}: submitting the form loaded no page within "
                f"{NAVIGATION_TIMEOUT_MS // 1000} s ({type(exc).__name__})"
            )
            return None
        response = navigation.value
        return None if response is None else self._first_hop(response)

    def settle(self) -> None:
        # A page that polls forever never goes idle: read what came so far.
        with suppress(Exception):
            self.page.wait_for_load_state("networkidle", timeout=SETTLE_TIMEOUT_MS)

    def observed(self, method: str, route: str, base: str | None = None) -> Answer | None:
        pattern = route_pattern(route)
        host = urlsplit(base).netloc if base else self._host
        for i in range(self._since, len(self._seen.responses)):
            response = self._seen.responses[i]
            parts = urlsplit(response.url)
            if (
                i not in self._seen.used
                and parts.netloc == host
                and response.request.method == method
                and pattern.match(parts.path)
            ):
                self._seen.used.add(i)
                response.finished()
                return _answer(response)
        return None

    def send(self, request: Outgoing) -> Answer:
        return fetch(self.page.request, self.base_url, request, referer=self.page.url)

    def page_problems(self) -> list[str]:
        problems = [f"uncaught error in the page: {e}" for e in self._seen.errors]
        problems += [f"a request failed: {f}" for f in self._seen.failed]
        for i in range(self._since, len(self._seen.responses)):
            response = self._seen.responses[i]
            if (
                i not in self._seen.used  # a call of the journey: its own check said it
                and response.status >= 500
                and urlsplit(response.url).netloc in self._first_party
            ):
                problems.append(
                    f"{response.request.method} {urlsplit(response.url).path} "
                    f"answered {response.status}"
                )
        self._seen.errors.clear()
        self._seen.failed.clear()
        return problems
