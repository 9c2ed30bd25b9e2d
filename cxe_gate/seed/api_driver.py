"""Driving a seeded journey through Playwright's APIRequestContext alone, without a browser: a fast
smoke run that sends each page and call as recorded, redirects not followed, and still checks that
a page's form has the fields customers filled in."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin, urlsplit

from ..har.html import read_tags
from .answer import Answer
from .driver import Outgoing, missing_field, route_pattern

if TYPE_CHECKING:
    from playwright.sync_api import APIRequestContext


def fetch(context: APIRequestContext, base_url: str, request: Outgoing) -> Answer:
    """One request sent as recorded (a form, or a JSON body), its redirect not followed."""
    options: dict[str, Any] = {"method": request.method, "max_redirects": 0}
    if request.headers:
        options["headers"] = {k: str(v) for k, v in request.headers.items()}
    if request.form is not None:
        options["form"] = {k: str(v) for k, v in request.form.items()}
    elif request.json is not None:
        options["data"] = request.json
    started = time.perf_counter()
    response = context.fetch(base_url + request.target, **options)
    ms = (time.perf_counter() - started) * 1000
    return Answer(
        status=response.status,
        url=response.url,
        headers=[(h["name"].lower(), h["value"]) for h in response.headers_array],
        read=response.text,
        ms=ms,
    )


class ApiDriver:
    def __init__(self, context: APIRequestContext, base_url: str):
        self.problems: list[str] = []
        self.context = context
        self.base_url = base_url.rstrip("/")

    def open(self, target: str) -> Answer:
        return self.send(Outgoing("GET", target))

    def follow(self, last: Answer | None) -> Answer | None:
        location = last.header("location") if last is not None else None
        if location is None:
            return None
        return self.open(urlsplit(urljoin(self.base_url + "/", location)).path)

    def send_page(self, request: Outgoing, route: str, last: Answer | None) -> Answer | None:
        method, form = request.method, request.form
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
                    self.problems.extend(missing_field(method, route, name) for name in missing)
                    if missing:
                        return None
                    break
        return self.send(request)

    def observed(self, method: str, route: str) -> Answer | None:
        return None  # no page makes calls of its own

    def send(self, request: Outgoing) -> Answer:
        return fetch(self.context, self.base_url, request)

    def settle(self) -> None:
        pass

    def page_problems(self) -> list[str]:
        return []
