"""The library seeded suites call. Each test drives one `Journey` step by step, through a real browser
(`BrowserJourney`: navigation, forms filled and submitted, the page's own API calls awaited) or
through Playwright's APIRequestContext only (`ApiJourney`: a fast smoke run), with the same checks:
status class, JSON shape, time budget, captured values; in the browser also no uncaught page errors
and no failed first-party requests. A failed check fails the test with one sentence per problem."""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, unquote, urljoin, urlsplit

import pytest

from ..har.html import read_tags
from .markers import Capture, MissingValue, Url, capture, env, ref, resolve, text, url
from .shapes import shape_problems

if TYPE_CHECKING:
    from playwright.sync_api import APIRequestContext, APIResponse, Page, Request, Response

__all__ = ["Call", "Journey", "capture", "env", "open_journey", "ref", "text", "url"]

MODE_VARIABLE = "CXE_SEEDED_MODE"  # browser or api: overrides the mode the suite was seeded with
BUDGET_SCALE_VARIABLE = "CXE_SEEDED_BUDGET_SCALE"  # e.g. 3 on a slow staging environment
NAVIGATION_TIMEOUT_MS = 15_000
SETTLE_TIMEOUT_MS = 5_000  # how long a page may keep the network busy before its calls are read


@dataclass(frozen=True)
class Call:
    """An API call the journey makes from a page, as recorded."""

    method: str
    path: str | Url
    route: str
    status: int
    shape: dict[str, Any] | None = None
    budget_ms: float | None = None
    json: Any = None
    form: dict[str, Any] | None = None
    headers: dict[str, Any] | None = None
    capture: dict[str, Capture] | None = None


_UNREAD = object()


@dataclass
class _Answer:
    """A response as the checks see it, from a browser or from the request context."""

    status: int
    url: str
    headers: list[tuple[str, str]]
    read: Any  # () -> str
    ms: float | None
    _text: object = field(default=_UNREAD, init=False, repr=False)

    def header(self, name: str) -> str | None:
        values = self.header_values(name)
        return values[0] if values else None

    def header_values(self, name: str) -> list[str]:
        return [v for k, v in self.headers if k.lower() == name]

    def text(self) -> str | None:
        """The body, read once (shape, captures and forms all look at it)."""
        if self._text is _UNREAD:
            try:
                self._text = self.read()
            except Exception:  # a redirect or an aborted body has no text
                self._text = None
        return self._text  # type: ignore[return-value]


def route_pattern(route: str) -> re.Pattern[str]:
    """`/products/{id}` → a regex for paths: each `{...}` one segment; query names ignored."""
    path = route.split("?", 1)[0]
    pieces = re.split(r"\{[^/{}]*\}", path)
    return re.compile("^" + "[^/]+".join(re.escape(p) for p in pieces) + "/?$")


def _captured_value(spec: Capture, answer: _Answer) -> str | None:
    if spec.source == "json":
        text = answer.text()
        try:
            value: Any = json.loads(text or "")
        except ValueError:
            return None
        for key in spec.key:
            inside_list = isinstance(value, list) and isinstance(key, int) and key < len(value)
            if not (inside_list or (isinstance(value, dict) and key in value)):
                return None
            value = value[key]
        return None if isinstance(value, dict | list) or value is None else str(value)
    if spec.source in ("html_input", "html_meta"):
        return read_tags(answer.text() or "").first_values(spec.source).get(str(spec.key[0]))
    if spec.source == "location":
        location = answer.header("location")
        if location is None or not spec.key:
            return location
        parts = urlsplit(location)
        if isinstance(spec.key[0], int):
            segments = parts.path.split("/")
            return unquote(segments[spec.key[0]]) if spec.key[0] < len(segments) else None
        return dict(parse_qsl(parts.query)).get(spec.key[0])
    if spec.source == "header":
        return answer.header(str(spec.key[0]).lower())
    if spec.source == "cookie":
        for line in answer.header_values("set-cookie"):
            for cookie in line.split("\n"):
                name, _, rest = cookie.partition("=")
                if name.strip() == spec.key[0]:
                    return rest.split(";", 1)[0]
    return None


class Journey:
    """Steps and checks shared by both drivers; a driver says how a step is sent."""

    def __init__(self, base_url: str):
        self.base_url = base_url.rstrip("/")
        self.captured: dict[str, str] = {}
        self.steps = 0
        self._problems: list[str] = []
        self._scale = float(os.environ.get(BUDGET_SCALE_VARIABLE) or 1.0)
        self._last: _Answer | None = None

    # --- the steps a generated test calls -------------------------------------------------

    def page(
        self,
        method: str,
        path: str | Url,
        *,
        route: str,
        status: int,
        budget_ms: float | None = None,
        via: str = "navigation",
        form: dict[str, Any] | None = None,
        json: Any = None,
        headers: dict[str, Any] | None = None,
        capture: dict[str, Capture] | None = None,
        calls: Sequence[Call] = (),
    ) -> None:
        """One page of the journey and the API calls made from it."""
        self.steps += 1
        label = f"{method} {route}"
        try:
            target = self._resolve(path)
            if via == "redirect":
                answer = self._follow(route)
            elif method == "GET" and form is None and json is None:
                answer = self._open(target)
            else:
                answer = self._send_page(
                    method, target, route, self._resolve(form), self._resolve(json),
                    self._resolve(headers),
                )  # fmt: skip
            if answer is not None:
                self._check(label, answer, status, None, budget_ms, capture)
                self._last = answer
            self._settle()
            for call in calls:
                self._call(call)
        except MissingValue as exc:
            # After what went wrong before it (a page that failed had nothing to capture).
            self._problems.append(str(exc))
        self._problems.extend(self._page_problems())
        self._raise(label)

    # --- what a driver provides -------------------------------------------------------------

    def _open(self, target: str) -> _Answer | None:
        raise NotImplementedError

    def _follow(self, route: str) -> _Answer | None:
        raise NotImplementedError

    def _send_page(
        self, method: str, target: str, route: str, form: Any, body: Any, headers: Any
    ) -> _Answer | None:
        raise NotImplementedError

    def _observed(self, call: Call) -> _Answer | None:
        """The page's own request matching this call, if the page made it."""
        return None

    def _send(self, method: str, target: str, form: Any, body: Any, headers: Any) -> _Answer | None:
        raise NotImplementedError

    def _settle(self) -> None:
        pass

    def _page_problems(self) -> list[str]:
        return []

    # --- shared ---------------------------------------------------------------------------

    def _resolve(self, value: Any) -> Any:
        return resolve(value, self.captured)

    def _call(self, call: Call) -> None:
        label = f"{call.method} {call.route}"
        answer = self._observed(call)
        if answer is None:
            answer = self._send(
                call.method,
                self._resolve(call.path),
                self._resolve(call.form),
                self._resolve(call.json),
                self._resolve(call.headers),
            )
        if answer is not None:
            self._check(label, answer, call.status, call.shape, call.budget_ms, call.capture)

    def _check(
        self,
        label: str,
        answer: _Answer,
        status: int,
        shape: dict[str, Any] | None,
        budget_ms: float | None,
        captures: dict[str, Capture] | None,
    ) -> None:
        where = urlsplit(answer.url).path or label
        if answer.status // 100 != status // 100:
            self._problems.append(f"{label}: {where} answered {answer.status}, recorded {status}")
            return
        if budget_ms is not None and answer.ms is not None:
            budget = budget_ms * self._scale
            if answer.ms > budget:
                self._problems.append(
                    f"{label}: took {answer.ms:.0f} ms, over its budget of {budget:.0f} ms"
                )
        if shape is not None:
            text = answer.text()
            try:
                data = json.loads(text or "")
            except ValueError:
                self._problems.append(f"{label}: the answer is not JSON, recorded JSON")
            else:
                self._problems.extend(f"{label}: {p}" for p in shape_problems(shape, data)[:5])
        for name, spec in (captures or {}).items():
            value = _captured_value(spec, answer)
            if value is None:
                where = ".".join(str(k) for k in spec.key) or "value"
                self._problems.append(
                    f"{label}: no {spec.source} {where} to capture as `{name}`, as recorded"
                )
            else:
                self.captured[name] = value

    def _raise(self, label: str) -> None:
        if self._problems:
            lines = "\n".join(f"  - {p}" for p in dict.fromkeys(self._problems))
            self._problems = []
            pytest.fail(f"step {self.steps} ({label}):\n{lines}", pytrace=False)


def _ms(request: Request | None) -> float | None:
    timing = request.timing if request is not None else None
    end = timing.get("responseEnd", -1) if timing else -1
    return end if end is not None and end >= 0 else None


def _browser_answer(response: Response, request: Request | None = None) -> _Answer:
    return _Answer(
        status=response.status,
        url=response.url,
        headers=[(h["name"].lower(), h["value"]) for h in response.headers_array()],
        read=response.text,
        ms=_ms(request or response.request),
    )


def _api_answer(response: APIResponse, ms: float) -> _Answer:
    return _Answer(
        status=response.status,
        url=response.url,
        headers=[(h["name"].lower(), h["value"]) for h in response.headers_array],
        read=response.text,
        ms=ms,
    )


def _send_with(
    context: APIRequestContext, method: str, target: str, form: Any, body: Any, headers: Any
) -> _Answer:
    options: dict[str, Any] = {"method": method, "max_redirects": 0}
    if headers:
        options["headers"] = {k: str(v) for k, v in headers.items()}
    if form is not None:
        options["form"] = {k: str(v) for k, v in form.items()}
    elif body is not None:
        options["data"] = body
    started = time.perf_counter()
    response = context.fetch(target, **options)
    ms = (time.perf_counter() - started) * 1000
    return _api_answer(response, ms)


_FIND_FORM = """([pattern, method]) => {
  const re = new RegExp(pattern);
  return Array.from(document.forms).findIndex((form) =>
    (form.getAttribute("method") || "get").toLowerCase() === method &&
    re.test(new URL(form.action, location.href).pathname));
}"""


@dataclass
class _Seen:
    responses: list[Response] = field(default_factory=list)
    used: set[int] = field(default_factory=set)
    errors: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)


class BrowserJourney(Journey):
    def __init__(self, page: Page, base_url: str):
        super().__init__(base_url)
        self.page_ = page
        self._host = urlsplit(self.base_url).netloc
        self._seen = _Seen()
        self._landed: _Answer | None = None
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

    def _open(self, target: str) -> _Answer | None:
        self._since = self._mark()
        response = self.page_.goto(self.base_url + target)
        if response is None:
            self._problems.append(f"GET {target}: the browser got no response")
            return None
        return _browser_answer(response)

    def _follow(self, route: str) -> _Answer | None:
        self._since = self._mark()
        if self._landed is None and self._location is not None:
            self._landed = self._open(urlsplit(urljoin(self.base_url, self._location)).path)
        landed, self._landed, self._location = self._landed, None, None
        if landed is None:
            self._problems.append(f"GET {route}: the previous step did not redirect here")
            return None
        if not route_pattern(route).match(urlsplit(landed.url).path):
            self._problems.append(
                f"GET {route}: the redirect went to {urlsplit(landed.url).path}, recorded {route}"
            )
        return landed

    def _send_page(
        self, method: str, target: str, route: str, form: Any, body: Any, headers: Any
    ) -> _Answer | None:
        self._since = self._mark()
        self._landed = self._location = None
        page = self.page_
        index = -1
        if form is not None and body is None:
            index = page.evaluate(_FIND_FORM, [route_pattern(route).pattern, method.lower()])
        if index < 0:
            # No such form on the page: send it from the page's context (its cookies, its origin).
            answer = _send_with(page.request, method, self.base_url + target, form, body, headers)
            self._location = answer.header("location")
            return answer
        found = page.locator("form").nth(index)
        for name, value in form.items():
            element = found.evaluate_handle("(form, name) => form.elements.namedItem(name)", name)
            control = element.as_element()
            if control is None:
                self._problems.append(
                    f"{method} {route}: the form has no field `{name}` (the recorded customers "
                    "filled it in)"
                )
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
        if self._problems:
            return None
        try:
            with page.expect_navigation() as navigation:
                found.evaluate("form => form.requestSubmit()")
        except Exception as exc:  # Playwright's TimeoutError, said plainly
            self._problems.append(
                f"{method} {route}: submitting the form loaded no page within "
                f"{NAVIGATION_TIMEOUT_MS // 1000} s ({type(exc).__name__})"
            )
            return None
        response = navigation.value
        if response is None:
            return None
        first = response.request.redirected_from
        if first is not None and first.response() is not None:
            self._landed = _browser_answer(response)
            return _browser_answer(first.response(), first)  # type: ignore[arg-type]
        return _browser_answer(response)

    def _settle(self) -> None:
        # A page that polls forever never goes idle: read what came so far.
        with suppress(Exception):
            self.page_.wait_for_load_state("networkidle", timeout=SETTLE_TIMEOUT_MS)

    def _observed(self, call: Call) -> _Answer | None:
        pattern = route_pattern(call.route)
        for i in range(self._since, len(self._seen.responses)):
            response = self._seen.responses[i]
            parts = urlsplit(response.url)
            if (
                i not in self._seen.used
                and parts.netloc == self._host
                and response.request.method == call.method
                and pattern.match(parts.path)
            ):
                self._seen.used.add(i)
                response.finished()
                return _browser_answer(response)
        return None

    def _send(self, method: str, target: str, form: Any, body: Any, headers: Any) -> _Answer:
        return _send_with(self.page_.request, method, self.base_url + target, form, body, headers)

    def _page_problems(self) -> list[str]:
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


class ApiJourney(Journey):
    def __init__(self, context: APIRequestContext, base_url: str):
        super().__init__(base_url)
        self.context = context

    def _open(self, target: str) -> _Answer:
        return _send_with(self.context, "GET", self.base_url + target, None, None, None)

    def _follow(self, route: str) -> _Answer | None:
        location = self._last.header("location") if self._last is not None else None
        if location is None:
            self._problems.append(f"GET {route}: the previous step did not redirect here")
            return None
        answer = self._open(urlsplit(urljoin(self.base_url + "/", location)).path)
        if not route_pattern(route).match(urlsplit(answer.url).path):
            self._problems.append(
                f"GET {route}: the redirect went to {urlsplit(answer.url).path}, recorded {route}"
            )
        return answer

    def _send_page(
        self, method: str, target: str, route: str, form: Any, body: Any, headers: Any
    ) -> _Answer | None:
        if form is not None and self._last is not None:
            # The previous page's form, if it has one for this request, must still have the
            # fields customers filled in: a broken form is a regression even if the server
            # would accept the post.
            page = read_tags(self._last.text() or "")
            pattern = route_pattern(route)
            for found in page.forms:
                action = urlsplit(urljoin(self._last.url, found.action)).path
                if found.method == method.lower() and pattern.match(action):
                    missing = [name for name in form if name not in found.fields]
                    for name in missing:
                        self._problems.append(
                            f"{method} {route}: the form has no field `{name}` (the recorded "
                            "customers filled it in)"
                        )
                    if missing:
                        return None
                    break
        return self._send(method, target, form, body, headers)

    def _send(self, method: str, target: str, form: Any, body: Any, headers: Any) -> _Answer:
        return _send_with(self.context, method, self.base_url + target, form, body, headers)


@contextmanager
def open_journey(request: pytest.FixtureRequest, base_url: str | None, mode: str) -> Iterator[Any]:
    """The `journey` fixture of a seeded suite: `mode` is what it was seeded with, the
    CXE_SEEDED_MODE variable overrides it."""
    if not base_url:
        pytest.fail("run the seeded suite with --base-url URL (the site to test)", pytrace=False)
    mode = os.environ.get(MODE_VARIABLE) or mode
    if mode == "browser":
        yield BrowserJourney(request.getfixturevalue("page"), base_url)
    elif mode == "api":
        context = request.getfixturevalue("playwright").request.new_context()
        try:
            yield ApiJourney(context, base_url)
        finally:
            context.dispose()
    else:
        pytest.fail(f"{MODE_VARIABLE} must be browser or api, got {mode!r}", pytrace=False)
