"""A loopback Amplitude Dashboard REST API (funnels and event segmentation over whole days) answering
in its documented shape, and the release it is asked about: the gate's default windows, a day
before a 14:00 deploy and two hours after."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from typing import Any

from werkzeug import Request, Response

from cxe_gate.measurement import TimeWindow

KEY = "amp-key-3f9a1c77"
SECRET = "amp-secret-8d7e6b5a44"
DEPLOY = datetime(2026, 11, 23, 14, tzinfo=UTC)
NOW = DEPLOY + timedelta(hours=2)
WINDOWS = [
    TimeWindow("baseline", DEPLOY - timedelta(hours=24), DEPLOY),
    TimeWindow("release", DEPLOY, NOW),
]
# The days Amplitude is asked for with those windows (the deploy's day goes to the release window).
BASELINE_DAY, RELEASE_DAY = ("20261122", "20261122"), ("20261123", "20261123")


def basic(key: str, secret: str) -> str:
    """The Authorization header Amplitude takes: HTTP Basic of the API and secret keys."""
    return "Basic " + base64.b64encode(f"{key}:{secret}".encode()).decode()


AUTH = basic(KEY, SECRET)


def funnel(*counts: Any) -> dict[str, Any]:
    # `cumulative` is deliberately off: the provider must divide the raw counts itself.
    return {
        "data": [
            {
                "meta": {"segmentIndex": 0},
                "events": ["view_item", "add_to_cart", "purchase"][: len(counts)],
                "cumulativeRaw": list(counts),
                "cumulative": [1.0, 0.5, 0.25][: len(counts)],
                "medianTransTimes": [0, 40000, 512000][: len(counts)],
            }
        ]
    }


def segmentation(collapsed: Any, daily: list[Any] | None = None) -> dict[str, Any]:
    return {
        "data": {
            "series": [daily if daily is not None else [collapsed]],
            "seriesLabels": [0],
            "seriesCollapsed": [[{"setId": "", "value": collapsed}]],
            "xValues": ["2026-11-22"],
        }
    }


class FakeAmplitude:
    """Answers by path and day range; anything it was not told about is a 400 naming the request."""

    def __init__(self, auth: str = AUTH) -> None:
        self.auth = auth
        self.funnels: dict[tuple[str, str], Any] = {}
        self.segments: dict[tuple[str, str, str, str], Any] = {}
        self.asked: list[dict[str, list[str]]] = []

    def __call__(self, request: Request) -> Response:
        assert request.headers.get("Authorization") == self.auth
        args = request.args
        self.asked.append({k: args.getlist(k) for k in args})
        if request.path == "/api/2/funnels":
            key: tuple = (args["start"], args["end"])
            body = self.funnels.get(key)
        else:
            key = (json.loads(args["e"])["event_type"], args["m"], args["start"], args["end"])
            body = self.segments.get(key)
        if body is None:
            return Response(f"unexpected request {request.path} {key}", status=400)
        if isinstance(body, Response):
            return body
        return Response(
            body if isinstance(body, str) else json.dumps(body), 200, {}, "application/json"
        )
