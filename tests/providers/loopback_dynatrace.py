"""Answers of Dynatrace's Metrics API v2 (GET /api/v2/metrics/query) in their documented shape, and
the hours of a release it is asked about: a two-hour baseline before a 10:00 deploy, an hour after."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from cxe_gate.measurement import TimeWindow

DEPLOY = datetime(2026, 11, 23, 10, tzinfo=UTC)
NOW = datetime(2026, 11, 23, 12, tzinfo=UTC)
BASELINE = TimeWindow("baseline", DEPLOY - timedelta(hours=2), DEPLOY)
RELEASE = TimeWindow("release", DEPLOY, DEPLOY + timedelta(hours=1))
B0, B1 = int(BASELINE.start.timestamp() * 1000), int(BASELINE.end.timestamp() * 1000)
R0, R1 = int(RELEASE.start.timestamp() * 1000), int(RELEASE.end.timestamp() * 1000)
SERVICE = 'type(SERVICE),entityId("SERVICE-1A2B3C4D5E6F7A8B")'
APP = 'type(APPLICATION),entityId("APPLICATION-EA7C4B59F27D43EB")'
PATH = "/api/v2/metrics/query"
JSON = "application/json"
P95 = "builtin:service.response.time:splitBy():percentile(95)"


def series(*values, dimensions: dict[str, str] | None = None) -> dict:
    dimensions = dimensions or {}
    return {
        "dimensions": list(dimensions.values()),
        "dimensionMap": dimensions,
        "timestamps": [R1] * len(values),
        "values": list(values),
    }


def answer(*results: list[dict], next_page: str | None = None) -> dict:
    """A Metrics API answer: one result per selector, in order, each with its series."""
    return {
        "totalCount": sum(len(data) for data in results),
        "nextPageKey": next_page,
        "resolution": "Inf",
        "result": [
            {"metricId": f"m{i}", "dataPointCountRatio": 0.0001, "warnings": [], "data": data}
            for i, data in enumerate(results)
        ],
    }


def query(selector: str, start: int, end: int, entity: str | None = SERVICE) -> dict[str, str]:
    """The parameters the provider sends for `selector` over [start, end) (epoch ms)."""
    params = {"metricSelector": selector, "from": str(start), "to": str(end), "resolution": "Inf"}
    if entity:
        params["entitySelector"] = entity
    return params
