"""Driving a seeded journey through a real browser page (Playwright): navigations, forms filled in
and submitted, the page's own API calls awaited and read, and what else went wrong in the page:
uncaught errors, failed or 5xx first-party requests."""

from __future__ import annotations

from contextlib import suppress
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import urljoin, urlsplit

from .answer import Answer
from .api_driver import fetch
from .driver import Outgoing, missing_field, route_pattern

if TYPE_CHECKING:
    from playwright.sync_api import Page, Request, Response

NAVIGATION_TIMEOUT_MS = 15_000
SETTLE_TIMEOUT_MS = 5_000  # how long a page may keep the network busy before its calls are read

_FIND_FORM = """([pattern, method]) => {
  const re = new RegExp(pattern);
  return Array.from(document.forms).findIndex((form) =>
    (form.getAttribute("method") || "get").toLowerCase() === method &&
    re.test(new URL(form.action, location.href).pathname));
}"""


def _ms(request: Request | None) -> float | None:
    timing = request.timing if request is not None else None
    end = timing.get("responseEnd", -1) if timing else -1
    return end if end is not None and end >= 0 else None


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
    def __init__(self, page: Page, base_url: str):
        self.problems: list[str] = []
        self.page = page
        self.base_url = base_url.rstrip("/")
        self._host = urlsplit(self.base_url).netloc
        self._seen = _Seen()
        self._landed: Answer | None = None
        self._location: str | None = None
        self._since = 0  # responses before this index belong to earlier steps
        page.set_default_timeout(NAVIGATION_TIMEOUT_MS)
        page.on("response", self._on_response)  # (Playwright refuses builtin methods)
        page.on("pageerror", lambda error: self._seen.errors.append(str(error)))
        page.on("requestfailed", self._on_failed)

    def _on_response(self, response: Response) -> None:
        self._seen.responses.append(response)

    def _on_failed(self, request: Request) -> None:
        failure = request.failure or ""
        if urlsplit(request.url).netloc == self._host and "ERR_ABORTED" not in failure:
            self._seen.failed.append(f"{request.method} {urlsplit(request.url).path}: {failure}")

    def _mark(self) -> int:
        return len(self._seen.responses)

    def open(self, target: str) -> Answer | None:
        self._since = self._mark()
        response = self.page.goto(self.base_url + target)
        if response is None:
            self.problems.append(f"GET {target}: the browser got no response")
            return None
        return _answer(response)

    def follow(self, last: Answer | None) -> Answer | None:
        # A submitted form's redirect the browser followed itself; one answered to a request
        # sent from the page's context is opened now.
        self._since = self._mark()
        if self._landed is None and self._location is not None:
            self._landed = self.open(urlsplit(urljoin(self.base_url, self._location)).path)
        landed, self._landed, self._location = self._landed, None, None
        return landed

    def send_page(self, request: Outgoing, route: str, last: Answer | None) -> Answer | None:
        self._since = self._mark()
        self._landed = self._location = None
        page = self.page
        method, form = request.method, request.form
        index = -1
        if form is not None and request.json is None:
            index = page.evaluate(_FIND_FORM, [route_pattern(route).pattern, method.lower()])
        if form is None or index < 0:
            # No such form on the page: send it from the page's context (its cookies, its origin).
            answer = self.send(request)
            self._location = answer.header("location")
            return answer
        found = page.locator("form").nth(index)
        for name, value in form.items():
            element = found.evaluate_handle("(form, name) => form.elements.namedItem(name)", name)
            control = element.as_element()
            if control is None:
                self.problems.append(missing_field(method, route, name))
                continue
            kind = control.evaluate("e => (e.type || e.tagName).toLowerCase()")
            if kind == "hidden":
                continue  # the live page's value (a CSRF token) is the right one
            if kind in ("checkbox", "radio"):
                control.check() if value not in ("", "off", "false") else control.uncheck()
            elif kind.startswith("select"):
                control.select_option(str(value))
            else:
                control.fill(str(value))
        if self.problems:
            return None
        try:
            with page.expect_navigation() as navigation:
                found.evaluate("form => form.requestSubmit()")
        except Exception as exc:  # Playwright's TimeoutError, said plainly
            self.problems.append(
                f"{method} {route}: submitting the form loaded no page within "
                f"{NAVIGATION_TIMEOUT_MS // 1000} s ({type(exc).__name__})"
            )
            return None
        response = navigation.value
        if response is None:
            return None
        first = response.request.redirected_from
        redirect = first.response() if first is not None else None
        if redirect is not None:
            self._landed = _answer(response)
            return _answer(redirect, first)
        return _answer(response)

    def settle(self) -> None:
        # A page that polls forever never goes idle: read what came so far.
        with suppress(Exception):
            self.page.wait_for_load_state("networkidle", timeout=SETTLE_TIMEOUT_MS)

    def observed(self, method: str, route: str) -> Answer | None:
        pattern = route_pattern(route)
        for i in range(self._since, len(self._seen.responses)):
            response = self._seen.responses[i]
            parts = urlsplit(response.url)
            if (
                i not in self._seen.used
                and parts.netloc == self._host
                and response.request.method == method
                and pattern.match(parts.path)
            ):
                self._seen.used.add(i)
                response.finished()
                return _answer(response)
        return None

    def send(self, request: Outgoing) -> Answer:
        return fetch(self.page.request, self.base_url, request)

    def page_problems(self) -> list[str]:
        problems = [f"uncaught error in the page: {e}" for e in self._seen.errors]
        problems += [f"a request failed: {f}" for f in self._seen.failed]
        for i in range(self._since, len(self._seen.responses)):
            response = self._seen.responses[i]
            if (
                i not in self._seen.used  # a call of the journey: its own check said it
                and response.status >= 500
                and urlsplit(response.url).netloc == self._host
            ):
                problems.append(
                    f"{response.request.method} {urlsplit(response.url).path} "
                    f"answered {response.status}"
                )
        self._seen.errors.clear()
        self._seen.failed.clear()
        return problems
