"""The journey a seeded test replays, step by step through a `Driver`, and its checks: status class,
each hop of a redirect chain (its status and where it led), JSON shape, time budget, captured
values, and what the driver saw go wrong in the page. A failed step ends the journey with one
sentence per problem."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NoReturn
from urllib.parse import urlsplit

from .answer import Answer
from .driver import Driver, Outgoing, route_pattern, target_of
from .markers import Capture, MissingValue, Url, resolve
from .shapes import shape_problems

BUDGET_SCALE_VARIABLE = "CXE_SEEDED_BUDGET_SCALE"  # e.g. 3 on a slow staging environment
THINK_SCALE_VARIABLE = "CXE_SEEDED_THINK_SCALE"  # 0 skips recorded pauses, 0.5 halves them
THINK_CAP_MS = 10_000.0


class JourneyFailed(AssertionError):
    """A step of the journey failed its checks; the message says each problem in a sentence."""


def raise_failed(message: str) -> NoReturn:
    raise JourneyFailed(message)


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
    host: str | None = None  # the recorded host, when not the suite's main host
    multipart: dict[str, Any] | None = None  # a multipart/form-data body (files: `upload`)


class SeededJourney:
    """One recorded journey replayed: the steps a generated test calls, checked as they go. `fail`
    ends the test with the problems' sentences (raising JourneyFailed unless a test runner's own
    failure is given). `hosts`: recorded host → the base URL it is mapped to; a step on the main
    host (no `host`) goes to the driver's base URL, one on an unmapped host is never sent."""

    def __init__(
        self,
        driver: Driver,
        *,
        fail: Callable[[str], NoReturn] = raise_failed,
        hosts: Mapping[str, str] | None = None,
    ):
        self.captured: dict[str, str] = {}
        self.hosts = dict(hosts or {})
        self.steps = 0
        self._driver = driver
        self._fail = fail
        self._problems: list[str] = []
        self._scale = float(os.environ.get(BUDGET_SCALE_VARIABLE) or 1.0)
        self._last: Answer | None = None

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
        host: str | None = None,
        labels: dict[str, str] | None = None,
        multipart: dict[str, Any] | None = None,
    ) -> None:
        """One page of the journey and the API calls made from it; `host` is the recorded host
        when it is not the suite's main one, `labels` the recorded label (or button text) of each
        form field by name; `multipart` a multipart/form-data form (its files as `upload`s)."""
        self.steps += 1
        label = f"{method} {route}"
        driver = self._driver
        try:
            base = self._base(host, label)
            target = self._resolve(path)
            if via == "redirect":
                answer = self._follow(route, base)
            elif method == "GET" and form is None and json is None and multipart is None:
                answer = self._sent(driver.open(target, self._resolve(headers), base))
            else:
                request = Outgoing(
                    method,
                    target,
                    self._resolve(form),
                    self._resolve(json),
                    self._resolve(headers),
                    base,
                    labels,
                    self._resolve(multipart),
                )
                answer = self._sent(driver.send_page(request, route, self._last))
            if answer is not None:
                self._check(label, answer, status, None, budget_ms, capture)
                self._last = answer
            driver.settle()
            for call in calls:
                self._call(call)
        except MissingValue as exc:
            # After what went wrong before it (a page that failed had nothing to capture).
            self._problems.append(str(exc))
        self._problems.extend(driver.page_problems())
        self._end_step(label)

    def think(self, ms: float) -> None:
        """The pause a customer took before the next step (seeded with --think-time recorded),
        at most THINK_CAP_MS, scaled by CXE_SEEDED_THINK_SCALE."""
        scale = float(os.environ.get(THINK_SCALE_VARIABLE) or 1.0)
        pause = min(max(ms, 0.0), THINK_CAP_MS) * scale
        if pause > 0:
            time.sleep(pause / 1000)

    def _resolve(self, value: Any) -> Any:
        return resolve(value, self.captured)

    def _base(self, host: str | None, label: str) -> str | None:
        """The base URL a recorded host is sent to (None: the driver's own, the main host)."""
        if host is None:
            return None
        if host not in self.hosts:
            # The conftest names every unmapped host before a test starts; this is the backstop.
            raise MissingValue(
                f"{label}: the recorded host {host!r} is not mapped: map it to the host to test "
                f"with --host-map {host}=TARGET (it is never called as recorded)"
            )
        return self.hosts[host]

    def _sent(self, answer: Answer | None) -> Answer | None:
        """The driver's answer, after the problems it met sending."""
        self._problems.extend(self._driver.problems)
        self._driver.problems.clear()
        return answer

    def _follow(self, route: str, base: str | None) -> Answer | None:
        landed = self._sent(self._driver.follow(self._last, base))
        if landed is None:
            self._problems.append(f"GET {route}: the previous step did not redirect here")
            return None
        path = urlsplit(landed.url).path
        if not route_pattern(route).match(path):
            self._problems.append(f"GET {route}: the redirect went to {path}, recorded {route}")
            return None  # its status says nothing about the page recorded here
        return landed

    def _call(self, call: Call) -> None:
        base = self._base(call.host, f"{call.method} {call.route}")
        answer = self._driver.observed(call.method, call.route, base)
        if answer is None:
            request = Outgoing(
                call.method,
                self._resolve(call.path),
                self._resolve(call.form),
                self._resolve(call.json),
                self._resolve(call.headers),
                base,
                multipart=self._resolve(call.multipart),
            )
            answer = self._sent(self._driver.send(request))
        if answer is not None:
            label = f"{call.method} {call.route}"
            self._check(label, answer, call.status, call.shape, call.budget_ms, call.capture)

    def _check(
        self,
        label: str,
        answer: Answer,
        status: int,
        shape: dict[str, Any] | None,
        budget_ms: float | None,
        captures: dict[str, Capture] | None,
    ) -> None:
        where = urlsplit(answer.url).path or label
        if answer.status // 100 != status // 100:
            location = answer.header("location") if 300 <= answer.status < 400 else None
            # A redirect the recording did not have is where a login wall shows: say where to.
            to = (
                f" (a redirect to {target_of('', location, against=answer.url)})"
                if location
                else ""
            )
            self._problems.append(
                f"{label}: {where} answered {answer.status}{to}, recorded {status}"
            )
            return
        if budget_ms is not None and answer.ms is not None:
            budget = budget_ms * self._scale
            if answer.ms > budget:
                self._problems.append(
                    f"{label}: took {answer.ms:.0f} ms, over its budget of {budget:.0f} ms"
                )
        if shape is not None:
            try:
                data = json.loads(answer.text() or "")
            except ValueError:
                self._problems.append(f"{label}: the answer is not JSON, recorded JSON")
            else:
                self._problems.extend(f"{label}: {p}" for p in shape_problems(shape, data)[:5])
        for name, spec in (captures or {}).items():
            value = answer.captured(spec)
            if value is None:
                key = ".".join(str(k) for k in spec.key) or "value"
                self._problems.append(
                    f"{label}: no {spec.source} {key} to capture as `{name}`, as recorded"
                )
            else:
                self.captured[name] = value

    def _end_step(self, label: str) -> None:
        if self._problems:
            lines = "\n".join(f"  - {p}" for p in dict.fromkeys(self._problems))
            self._problems = []
            self._fail(f"step {self.steps} ({label}):\n{lines}")
