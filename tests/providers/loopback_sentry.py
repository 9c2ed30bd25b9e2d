"""A loopback Sentry API: the sessions endpoint (release health) answering per window in its
documented shape, and the day of a release it is asked about (app@2.3.0, deployed at 10:30)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from werkzeug import Request, Response

from cxe_gate.measurement import TimeWindow

TOKEN = "sntrys_0123456789abcdefSECRET"
RELEASE_NAME = "app@2.3.0"
# A deploy at 10:30: the baseline ends off the hour, where Sentry's hourly rounding would reach in.
BASELINE = TimeWindow(
    "baseline",
    datetime(2026, 11, 22, 10, 30, tzinfo=UTC),
    datetime(2026, 11, 23, 10, 30, tzinfo=UTC),
)
RELEASE = TimeWindow(
    "release",
    datetime(2026, 11, 23, 10, 30, tzinfo=UTC),
    datetime(2026, 11, 23, 12, 30, tzinfo=UTC),
)
WINDOWS = [BASELINE, RELEASE]
NOW = datetime(2026, 11, 23, 12, 30, tzinfo=UTC)
SESSIONS = "/api/0/organizations/acme/sessions/"
EVENTS = "/api/0/organizations/acme/events/"


def window_of(request: Request) -> str:
    return "release" if request.args["start"].startswith("2026-11-23") else "baseline"


def json_text(body: Any) -> str:
    return json.dumps(body)


def sessions(
    groups: dict[str, list[dict]],
    seen: list[Request] | None = None,
    *,
    token: str = TOKEN,
    **answer: Any,
):
    """The sessions endpoint: `groups` per window; `answer` adds or replaces top-level keys."""

    def handle(request: Request) -> Response:
        assert request.headers["Authorization"] == f"Bearer {token}"
        if seen is not None:
            seen.append(request)
        body = {
            "start": request.args["start"],
            "end": request.args["end"],
            "intervals": [],
            "groups": groups[window_of(request)],
            "query": request.args.get("query", ""),
            **answer.get(window_of(request), {}),
        }
        return Response(json_text(body), content_type="application/json")

    return handle


def totals(n: int | None, rate: float | str | None, unit: str = "session", **by: str) -> dict:
    """One group's totals: `n` sessions (or users) and their crash-free rate."""
    count = "sum(session)" if unit == "session" else "count_unique(user)"
    return {"by": by, "totals": {count: n, f"crash_free_rate({unit})": rate}}


def healthy(request: Request) -> Response:
    """A healthy release's sessions or users and their crash-free rate, per window."""
    unit = "user" if "count_unique(user)" in request.args.getlist("field") else "session"
    release = window_of(request) == "release"
    n = (2000 if release else 40000) if unit == "session" else (900 if release else 9000)
    group = totals(n, 0.9965 if release else 0.996, unit=unit)
    return Response(json_text({"groups": [group]}), content_type="application/json")
