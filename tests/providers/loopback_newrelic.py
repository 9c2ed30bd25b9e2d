"""A loopback NerdGraph (New Relic's GraphQL API) running each aliased NRQL query through an answer
function, the day of a release it is asked about (a day's baseline, two hours after a 10:00
deploy), and the rows a healthy service answers with."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from werkzeug import Request, Response

from cxe_gate.measurement import TimeWindow

KEY = "NRAK-0123456789abcdefSECRET"
BASELINE = TimeWindow(
    "baseline", datetime(2026, 11, 22, 10, tzinfo=UTC), datetime(2026, 11, 23, 10, tzinfo=UTC)
)
RELEASE = TimeWindow(
    "release", datetime(2026, 11, 23, 10, tzinfo=UTC), datetime(2026, 11, 23, 12, tzinfo=UTC)
)
WINDOWS = [BASELINE, RELEASE]
NOW = datetime(2026, 11, 23, 12, tzinfo=UTC)

Answer = Callable[[str, str], Any]  # (window, nrql) → the query's results


def ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def window_of(nrql: str) -> str:
    found = re.search(r"SINCE (\d+) UNTIL (\d+)$", nrql)
    assert found is not None, nrql
    return {ms(BASELINE.start): "baseline", ms(RELEASE.start): "release"}[int(found[1])]


def nerdgraph(
    answer: Answer, seen: list[dict] | None = None, *, key: str = KEY
) -> Callable[[Request], Response]:
    """A NerdGraph that runs each aliased NRQL variable through `answer(window, nrql)`."""

    def handle(request: Request) -> Response:
        assert request.headers["API-Key"] == key
        body = request.get_json()
        if seen is not None:
            seen.append(body)
        account = {}
        for name, nrql in body["variables"].items():
            if name != "account":
                account[name] = {"results": answer(window_of(nrql), nrql)}
        return Response(
            json.dumps({"data": {"actor": {"account": account}}}), content_type="application/json"
        )

    return handle


def rows(**per_window: Any) -> Answer:
    return lambda window, nrql: per_window[window]


def apdex_rows(
    *, within_t: int, within_4t: int, failed_t: int, failed_4t: int, requests: int
) -> list[dict]:
    """The one row the gate's Apdex NRQL returns: requests by zone, under the aliases it gives."""
    row = {"within_t": within_t, "within_4t": within_4t, "requests": requests}
    return [{**row, "failed_within_t": failed_t, "failed_within_4t": failed_4t}]


def healthy(window: str, nrql: str) -> list[dict]:
    """A healthy shop's rows for each of the gate's default queries, per window."""
    big = window == "baseline"
    if "uniqueCount(" in nrql:
        return [{"values": 240 if big else 200}]
    if "funnel(" in nrql:
        return [{"steps": [240, 96, 48] if big else [200, 80, 41]}]
    if "within_t" in nrql:
        n = 10000 if big else 2000
        return apdex_rows(
            within_t=int(n * 0.9), within_4t=int(n * 0.98), failed_t=0, failed_4t=0, requests=n
        )
    if "percentile" in nrql:
        return [{"percentile.duration": {"95": 0.31 if big else 0.287}, "requests": 2000}]
    return [{"errors": 50 if big else 10, "requests": 10000 if big else 2000}]
