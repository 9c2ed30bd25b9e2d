"""A loopback Mixpanel Query API (saved funnels, segmentation and retention over whole days) answering
in its documented shape, and the release it is asked about: the gate's default windows, a day before a
14:00 deploy and two hours after."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from typing import Any

from werkzeug import Request, Response

from cxe_gate.measurement import TimeWindow

USER = "gate-bot.4f1c2e.mp-service-account"
SECRET = "mp-sa-secret-Zx81Qw03"
DEPLOY = datetime(2026, 11, 23, 14, tzinfo=UTC)
NOW = DEPLOY + timedelta(hours=2)
WINDOWS = [  # the gate's defaults: 24 h before the deploy, 2 h after
    TimeWindow("baseline", DEPLOY - timedelta(hours=24), DEPLOY),
    TimeWindow("release", DEPLOY, NOW),
]
# The default windows' days in UTC: the baseline gives the deploy day to the release window.
BASELINE_DAY, RELEASE_DAY = ("2026-11-22", "2026-11-22"), ("2026-11-23", "2026-11-23")
BOTH_DAYS = ("2026-11-22", "2026-11-23")  # both windows' users come from one query


def basic(user: str, secret: str) -> str:
    """The Authorization header Mixpanel takes: HTTP Basic of a service account."""
    return "Basic " + base64.b64encode(f"{user}:{secret}".encode()).decode()


AUTH = basic(USER, SECRET)


def funnel_day(*counts: Any, events: tuple[str, ...] = ("view_item", "purchase")) -> dict:
    steps = [
        {
            "count": count,
            "step_conv_ratio": 1,
            "overall_conv_ratio": 1,
            "avg_time": None if i == 0 else 340,
            "avg_time_from_start": None if i == 0 else 340,
            "goal": event,
            "event": event,
        }
        for i, (count, event) in enumerate(zip(counts, events, strict=True))
    ]
    return {"steps": steps, "analysis": {"completion": counts[-1], "starting_amount": counts[0]}}


def funnel(days: dict[str, dict]) -> dict:
    return {"meta": {"dates": list(days)}, "data": days}


def one_bucket(day: str, *counts: Any) -> dict:
    """A window's funnel as one bucket, dated by its first day."""
    return funnel({day: funnel_day(*counts)})


def segmentation(event: str, counts: dict[str, Any]) -> dict:
    # Mixpanel lists `series` in no particular order.
    return {
        "data": {"series": sorted(counts, reverse=True), "values": {event: counts}},
        "legend_size": 1,
    }


def cohort(first: Any, *counts: Any) -> dict:
    """One cohort day of a retention answer: users born that day (`first`) and, per 24-hour
    interval from each one's born event, how many came back (docs.mixpanel.com/reference/
    retention-query)."""
    return {"counts": list(counts), "first": first}


class FakeMixpanel:
    """Answers by path and parameters; anything it was not told about is a 400 naming the request."""

    def __init__(self, auth: str = AUTH) -> None:
        self.auth = auth
        self.funnels: dict[tuple[str, str], Any] = {}  # (from, to)
        self.segments: dict[tuple[str, str, str, str], Any] = {}  # (event, type, from, to)
        self.retention: dict[tuple[str, str, str], Any] = {}  # (born_event, from, to)
        self.asked: list[dict[str, str]] = []

    def __call__(self, request: Request) -> Response:
        assert request.headers.get("Authorization") == self.auth
        args = request.args.to_dict()
        self.asked.append(args)
        if request.path == "/api/query/funnels":
            key: tuple = (args["from_date"], args["to_date"])
            body = self.funnels.get(key)
        elif request.path == "/api/query/retention":
            key = (args["born_event"], args["from_date"], args["to_date"])
            body = self.retention.get(key)
        else:
            key = (args["event"], args["type"], args["from_date"], args["to_date"])
            body = self.segments.get(key)
        if body is None:
            return Response(f'{{"error": "unexpected request {key}"}}', status=400)
        text = body if isinstance(body, str) else json.dumps(body)
        return Response(text, content_type="application/json")
