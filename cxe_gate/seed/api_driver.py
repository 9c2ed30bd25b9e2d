"""Driving a seeded journey through Playwright's APIRequestContext alone, without a browser: a fast
smoke run that sends each page and call as recorded, with the Referer and Origin a browser would
send, follows redirect chains hop by hop, and still checks that a page's form has the fields
customers filled in."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode, urljoin, urlsplit

from ..har.html import read_tags
from .answer import Answer
from .driver import ORIGIN, REFERER, Outgoing, missing_field, origin_of, route_pattern, target_of
from .forms import recorded_values
from .markers import Upload

if TYPE_CHECKING:
    from playwright.sync_api import APIRequestContext, FormData

FORM_TYPE = "application/x-www-form-urlencoded"


def _headers(request: Outgoing, base_url: str, referer: str | None) -> dict[str, str]:
    """The recorded headers, after the ones a browser adds by itself (which they override)."""
    headers: dict[str, str] = {}
    from_page = referer is not None and urlsplit(referer).scheme in ("http", "https")
    if referer and from_page:
        headers[REFERER] = referer
    if request.method not in ("GET", "HEAD"):
        # The page's origin, which may be another host's (a consent form on guce.).
        headers[ORIGIN] = origin_of(referer if referer and from_page else base_url)
    if request.form is not None:
        headers["Content-Type"] = FORM_TYPE
    lower = {k.lower() for k in (request.headers or {})}
    headers = {k: v for k, v in headers.items() if k.lower() not in lower}
    return {**headers, **{k: str(v) for k, v in (request.headers or {}).items()}}


def fetch(
    context: APIRequestContext, base_url: str, request: Outgoing, *, referer: str | None = None
) -> Answer:
    """One request sent as recorded (a form, or a JSON body) from the page at `referer`, to the
    request's own base URL if it has one (another recorded host), its redirect not followed."""
    options: dict[str, Any] = {
        "method": request.method,
        "max_redirects": 0,
        "headers": _headers(request, base_url, referer),
    }
    if request.form is not None:
        # A field sent several times (a multi-select) is sent several times again.
        pairs = [(k, v) for k, value in request.form.items() for v in recorded_values(value)]
        options["data"] = urlencode(pairs)
    elif request.json is not None:
        options["data"] = request.json
    elif request.multipart is not None:
        options["multipart"] = _multipart(request.multipart)
    started = time.perf_counter()
    response = context.fetch((request.base or base_url) + request.target, **options)
    ms = (time.perf_counter() - started) * 1000
    return Answer(
        status=response.status,
        url=response.url,
        headers=[(h["name"].lower(), h["value"]) for h in response.headers_array],
        read=response.text,
        ms=ms,
    )


def _multipart(fields: dict[str, Any]) -> FormData:
    """A multipart body: text fields as recorded, each file a placeholder of its recorded name and
    type; a field sent several times is sent several times again (FormData can repeat a name)."""
    from playwright.sync_api import FormData  # imported when a suite runs, as Playwright is

    form = FormData()
    for name, value in fields.items():
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, Upload):
                form.append(name, item.payload())
            else:
                form.append(name, "" if item is None else str(item))
    return form


class ApiDriver:
    def __init__(self, context: APIRequestContext, base_url: str):
        self.problems: list[str] = []
        self.context = context
        self.base_url = base_url.rstrip("/")
        self._page_url: str | None = None  # the page the customer is on: the next Referer
        self._referer: str | None = None  # the Referer of the redirect chain under way

    def _page(self, request: Outgoing, *, hop: bool = False) -> Answer:
        """A page: sent from the current page, which it becomes unless it redirects (a chain
        keeps the Referer it started with, as browsers do)."""
        if not hop:
            self._referer = self._page_url
        answer = fetch(self.context, self.base_url, request, referer=self._referer)
        if not 300 <= answer.status < 400:
            self._page_url = answer.url
        return answer

    def open(
        self, target: str, headers: dict[str, str] | None = None, base: str | None = None
    ) -> Answer:
        return self._page(Outgoing("GET", target, headers=headers, base=base))

    def follow(self, last: Answer | None, base: str | None = None) -> Answer | None:
        location = last.header("location") if last is not None else None
        if last is None or location is None:
            return None
        target = target_of(self.base_url, location, against=last.url)
        return self._page(Outgoing("GET", target, base=base), hop=True)

    def send_page(self, request: Outgoing, route: str, last: Answer | None) -> Answer | None:
        method, form = request.method, request.fields
        if form is not None and last is not None:
            # The previous page's form, if it has one for this request, must still have the
            # fields customers filled in: a broken form is a regression even if the server
            # would accept the post.
            page = read_tags(last.text() or "")
            pattern = route_pattern(route)
            for found in page.forms:
                action = urlsplit(urljoin(last.url, found.action)).path
                if found.method == method.lower() and pattern.match(action):
                    missing = [name for name in form if name not in found.fields]
                    labels = request.labels or {}
                    self.problems.extend(
                        missing_field(method, route, name, labels.get(name)) for name in missing
                    )
                    if missing:
                        return None
                    break
        return self._page(request)

    def observed(self, method: str, route: str, base: str | None = None) -> Answer | None:
        return None  # no page makes calls of its own

    def send(self, request: Outgoing) -> Answer:
        return fetch(self.context, self.base_url, request, referer=self._page_url)

    def settle(self) -> None:
        pass

    def page_problems(self) -> list[str]:
        return []
