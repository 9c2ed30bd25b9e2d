"""A loopback Datadog metrics API (POST /api/v2/query/timeseries) answering in its documented shape,
and the hour of a release it is asked about: a two-hour baseline before a 10:00 deploy, an hour
after it."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from werkzeug import Request, Response

from cxe_gate.measurement import TimeWindow

DEPLOY = datetime(2026, 11, 23, 10, tzinfo=UTC)
NOW = datetime(2026, 11, 23, 12, tzinfo=UTC)
BASELINE = TimeWindow("baseline", DEPLOY - timedelta(hours=2), DEPLOY)
RELEASE = TimeWindow("release", DEPLOY, DEPLOY + timedelta(hours=1))
B0 = int(BASELINE.start.timestamp() * 1000)
R0 = int(RELEASE.start.timestamp() * 1000)
SECOND = {"family": "time", "name": "second", "plural": "seconds", "scale_factor": 1.0}
PATH = "/api/v2/query/timeseries"


class FakeDatadog:
    """Answers POST /api/v2/query/timeseries the way Datadog does: for each query (by its name) that
    has points in the window starting at `from`, a series and its values; a query with no points
    at all is left out, as Datadog leaves out a count with nothing counted."""

    def __init__(
        self,
        points: dict[tuple[int, str], list],
        units: dict[str, dict | None] | None = None,
        step_ms: int = 60_000,
    ):
        self.points = points
        self.units = units or {}
        self.step_ms = step_ms  # the rollup interval: each time is the start of its bucket
        self.bodies: list[dict] = []
        self.headers: list[dict] = []

    def __call__(self, request: Request) -> Response:
        body = request.get_json()
        self.bodies.append(body)
        self.headers.append(dict(request.headers))
        attributes = body["data"]["attributes"]
        series, values = [], []
        for index, query in enumerate(attributes["queries"]):
            points = self.points.get((attributes["from"], query["name"]))
            if points is None:
                continue
            unit = self.units.get(query["name"])
            series.append({"group_tags": [], "query_index": index, "unit": [unit, None]})
            values.append(points)
        count = max((len(v) for v in values), default=0)
        times = [attributes["from"] + k * self.step_ms for k in range(count)]
        answer = {
            "data": {
                "type": "timeseries_response",
                "attributes": {"series": series, "times": times, "values": values},
            }
        }
        return Response(json.dumps(answer), content_type="application/json")
