"""The contract's stands for the providers that read the team's own data: the file provider over tiny
event, request and feedback logs, the sql provider on a real PostgreSQL, and the http provider on an
in-house JSON endpoint."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import criteria_files
import shop_warehouse as warehouse
import tiny_logs
from contract_stand import (
    Case,
    Gap,
    Serve,
    Stage,
    Stand,
    credentials_in,
    released,
    served,
    with_filter,
)
from werkzeug import Request, Response

# --- file -----------------------------------------------------------------------------------------


def tiny_logs_in(stage: Stage) -> None:
    tiny_logs.write_tiny_logs(stage.directory)


def requests_a_month_before(stage: Stage) -> None:
    """A request log whose every request is a month older than both windows."""
    tiny_logs.write_ndjson(
        stage.directory / "requests.ndjson",
        [
            {"timestamp": tiny_logs.iso(tiny_logs.at(-43_200 + minutes)), "status": 200}
            | {"duration_ms": 100}
            for minutes in range(5)
        ],
    )


FILE_ERRORS = "{name: errors, metric: error_rate, max: 50%}"

FILE = Stand(
    type="file",
    settings="{type: file, events: events.ndjson, requests: requests.ndjson, "
    "feedback: feedback.ndjson}",
    release=released(tiny_logs.DEPLOY),
    windows="{baseline: 24h, release: 2h}",
    now=tiny_logs.DEPLOY + timedelta(hours=3),
    journeys="{checkout: [a, b, c], never: [x, y]}",
    served=served(
        tiny_logs_in,
        conversion="{name: conversion, metric: conversion, journey: checkout, min: 1%}",
        active_users="{name: users, metric: engagement, measure: active_users, min: 1}",
        events_per_user="{name: per user, metric: engagement, measure: events_per_user, min: 0}",
        events_per_session="{name: per session, metric: engagement, "
        "measure: events_per_session, min: 0}",
        adoption="{name: wishlist, metric: engagement, measure: adoption, "
        "event: wishlist_add, min: 0%}",
        error_rate=FILE_ERRORS,
        apdex="{name: apdex, metric: apdex, t: 200ms, min: 0.1}",
        latency="{name: median, metric: latency, percentile: 50, max: 1s}",
        nps="{name: nps, metric: feedback, scale: nps, filter: \"survey = 'nps'\", min: -100}",
        csat="{name: csat, metric: feedback, scale: csat, filter: \"survey = 'csat'\", min: 0%}",
        custom='{name: orders, metric: custom, max: 100, query: "SELECT count(*) AS value, '
        "count(*) AS samples FROM events WHERE event = 'c' AND ts >= $start AND ts < $end\"}",
    ),
    no_data={
        "no rows in either window": Case(FILE_ERRORS, requests_a_month_before),
        "a filter no row matches": Case(
            "{name: nps, metric: feedback, scale: nps, filter: \"survey = 'none'\", min: 0}",
            tiny_logs_in,
        ),
        "a journey no unit starts": Case(
            "{name: never, metric: conversion, journey: never, min: 1%}", tiny_logs_in
        ),
    },
    credentials=Gap("it reads local files: there is no credential"),
    api=Gap(
        "it reads local files: there is no service to go down; a file missing, cut short or "
        "holding text where a number belongs is test_file_provider.py's"
    ),
    filtered=with_filter(FILE_ERRORS, "route = '/api/x'"),
    cohorts=("{release: \"route = '/api/x'\", baseline: \"route = '/api/y'\"}", FILE_ERRORS),
)

# --- sql ------------------------------------------------------------------------------------------


def one_line(query: str) -> str:
    """An SQL query as a YAML double-quoted scalar."""
    return json.dumps(" ".join(query.split()))


def shop_tables(stage: Stage) -> None:
    assert stage.postgres is not None
    warehouse.fill_postgres(stage.postgres)


def sql_custom(query: str) -> Case:
    return Case(f"{{name: q, metric: custom, max: 1, query: {one_line(query)}}}", shop_tables)


CONVERTED = """
    SELECT count(*) FILTER (WHERE status < 500) AS successes, count(*) AS trials
    FROM requests WHERE ts >= :start AND ts < :end"""
SCORED = """
    SELECT count(DISTINCT score) AS value, count(*) AS samples
    FROM feedback WHERE ts >= :start AND ts < :end"""

SQL = Stand(
    type="sql",
    settings="{type: sql, url: '@postgres', password: '${PG_PASSWORD}', timeout: 2s, "
    "requests: requests, columns: {requests: {timestamp: ts}}}",
    release=released(criteria_files.DEPLOY),
    windows="{baseline: 24h, release: 2h}",
    now=criteria_files.NOW,
    served=served(
        shop_tables,
        error_rate=f"{{name: errors, metric: error_rate, max_rise: 400%, "
        f"query: {one_line(warehouse.ERROR_RATE)}}}",
        apdex=f"{{name: apdex, metric: apdex, t: 300ms, min: 0.5, "
        f"query: {one_line(warehouse.APDEX)}}}",
        latency=f"{{name: p90, metric: latency, percentile: 90, max: 2500ms, "
        f"query: {one_line(warehouse.LATENCY)}}}",
        nps=f"{{name: nps, metric: feedback, scale: nps, min: -100, "
        f"query: {one_line(warehouse.NPS)}}}",
        conversion="{name: served, metric: conversion, journey: checkout, min: 1%, "
        f"query: {one_line(CONVERTED)}}}",
        active_users="{name: scores, metric: engagement, measure: active_users, min: 1, "
        f"query: {one_line(SCORED)}}}",
        custom=f"{{name: mean, metric: custom, unit: ms, max: 1000, "
        f"query: {one_line(warehouse.MEAN_DURATION)}}}",
    ),
    no_data={
        "no row": sql_custom("SELECT 1.0 AS value, 5 AS samples WHERE :start > :end"),
        "null": sql_custom(
            "SELECT avg(duration_ms) AS value, count(*) AS samples FROM requests "
            "WHERE ts >= :start AND ts < :end AND status = 418"
        ),
        "NaN": sql_custom(
            "SELECT 'NaN'::double precision AS value, 7 AS samples WHERE :start < :end"
        ),
        "zero samples": sql_custom("SELECT 0.5 AS value, 0 AS samples WHERE :start < :end"),
        "zero trials": sql_custom("SELECT 0 AS successes, 0 AS trials WHERE :start < :end"),
    },
    credentials=lambda stage: {"PG_PASSWORD": stage.postgres.password if stage.postgres else ""},
    api=Gap(
        "PostgreSQL speaks its own protocol, not HTTP; test_sql_provider.py has no server "
        "listening, a refused password and a statement_timeout (marked server)"
    ),
    cohorts=(
        '{release: "status = 200", baseline: "status <> 200"}',
        '{name: errors, metric: error_rate, max_rise: 10%, query: "SELECT count(*) FILTER '
        "(WHERE status >= 500) AS successes, count(*) AS trials FROM requests WHERE ts >= :start "
        'AND ts < :end AND :cohort"}',
    ),
    # a filter narrows the built-in metrics over the settings' tables; a raw query takes none
    filtered=with_filter("{name: errors, metric: error_rate, max: 1%}", "status <> 404"),
    server="postgres",
)

# --- http -----------------------------------------------------------------------------------------

# What the in-house endpoint answers at each path, per window (keyed by the `since` it is asked).
IN_HOUSE = {
    "/errors": ({"rate": 0.01, "n": 4000}, {"rate": 0.012, "n": 1000}),
    "/latency": ({"p95": 0.4321, "n": 950}, {"p95": 0.512, "n": 950}),
    "/apdex": ({"score": 0.93, "n": 4000}, {"score": 0.91, "n": 1000}),
    "/nps": ({"nps": 41, "response_count": 208}, {"nps": 12, "response_count": 100}),
    "/csat": ({"score": 0.82, "responses": 50}, {"score": 0.8, "responses": 40}),
    "/conversion": ({"rate": 0.12, "n": 900}, {"rate": 0.11, "n": 300}),
    "/users": ({"users": 1795}, {"users": 1830}),
    "/queue": ({"depth": 3.0}, {"depth": 4.0}),
}
BASELINE_START = str(int(criteria_files.WINDOWS[0].start.timestamp()))


def in_house(answers: dict[str, tuple[Any, Any]]) -> Serve:
    """The in-house endpoint: each path's (baseline, release) answer, told apart by `since`."""

    def answer(request: Request) -> Response:
        baseline, release = answers[request.path]
        body = baseline if request.args.get("since") == BASELINE_START else release
        return Response(json.dumps(body), content_type="application/json")

    def serve(stage: Stage) -> None:
        assert stage.server is not None
        for path in answers:
            stage.server.expect_request(path).respond_with_handler(answer)

    return serve


def reading(criterion: str, path: str, fields: str) -> str:
    """A criterion (its keys, as a flow mapping's) reading `fields` of the answer at `path`."""
    window = "params: {since: '${start}'}, time_format: epoch"
    return f"{{{criterion}, query: {{path: {path}, {window}, {fields}}}}}"


NPS_AT = "name: nps, metric: feedback, scale: nps, min: 0"
NPS = reading(NPS_AT, "/nps", "value: $.nps, samples: $.response_count")
NPS_COUNTS = reading(
    NPS_AT, "/nps", "promoters: $.promoters, passives: $.passives, detractors: $.detractors"
)
PROJECTED = reading(
    "name: score, metric: custom, max: 100", "/scores", "value: \"items[?kind=='nps'].score\""
)


def http_no_data(criterion: str, path: str, answer: object) -> Case:
    return Case(criterion, in_house({path: (answer, answer)}))


HTTP = Stand(
    type="http",
    settings="{type: http, base_url: '@url', headers: {Authorization: 'Bearer ${METRICS_TOKEN}'}, "
    "timeout: 700ms, backoff: 10ms}",
    release=released(criteria_files.DEPLOY),
    windows="{baseline: 24h, release: 2h}",
    now=criteria_files.NOW,
    served=served(
        in_house(IN_HOUSE),
        error_rate=reading(
            "name: errors, metric: error_rate, max: 2%", "/errors", "value: rate, samples: n"
        ),
        latency=reading(
            "name: p95, metric: latency, max: 800ms",
            "/latency",
            "value: p95, samples: n, scale: seconds",
        ),
        apdex=reading(
            "name: apdex, metric: apdex, t: 500ms, min: 0.8", "/apdex", "value: score, samples: n"
        ),
        nps=NPS,
        csat=reading(
            "name: csat, metric: feedback, scale: csat, min: 50%",
            "/csat",
            "value: score, samples: responses",
        ),
        conversion=reading(
            "name: checkout, metric: conversion, journey: checkout, min: 5%",
            "/conversion",
            "value: rate, samples: n",
        ),
        active_users=reading(
            "name: users, metric: engagement, measure: active_users, min: 1",
            "/users",
            "value: users, samples: users",
        ),
        custom=reading("name: queue, metric: custom, max: 10", "/queue", "value: depth"),
    ),
    no_data={
        "null": http_no_data(NPS, "/nps", {"nps": None, "response_count": 0}),
        "NaN text": http_no_data(NPS, "/nps", {"nps": "NaN", "response_count": 12}),
        "zero responses": http_no_data(NPS, "/nps", {"nps": 0, "response_count": 0}),
        "nothing matched": http_no_data(NPS, "/nps", {"other": 1}),
        "empty counts": http_no_data(NPS_COUNTS, "/nps", {"response_count": 0}),
        "empty projection": http_no_data(PROJECTED, "/scores", {"items": []}),
    },
    credentials=credentials_in("METRICS_TOKEN"),
    api=".*",
)
