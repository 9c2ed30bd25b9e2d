"""A loopback Delighted `metrics.json` (the NPS of the responses between `since` and `until`), and
the http provider's queries that read it: by its counts, or as the score it reports."""

from __future__ import annotations

import base64

from criteria_files import WINDOWS
from pytest_httpserver import HTTPServer

KEY = "dlt-api-key-5e3c9a"  # Delighted: the API key is the Basic username, the password empty
EPOCH = {w.label: (int(w.start.timestamp()), int(w.end.timestamp())) for w in WINDOWS}

DELIGHTED_WINDOW = {"path": "/metrics.json", "params": {"since": "${start}", "until": "${end}"}}
DELIGHTED_COUNTS = {
    **DELIGHTED_WINDOW,
    "promoters": "$.promoter_count",
    "passives": "$.passive_count",
    "detractors": "$.detractor_count",
}
DELIGHTED_SCORE = {**DELIGHTED_WINDOW, "value": "$.nps", "samples": "$.response_count"}
BASELINE_ANSWER = {
    "nps": 41,
    "promoter_count": 120,
    "promoter_percent": 57.7,
    "passive_count": 50,
    "passive_percent": 24.0,
    "detractor_count": 38,
    "detractor_percent": 18.3,
    "response_count": 208,
}
RELEASE_ANSWER = {
    "nps": 12,
    "promoter_count": 40,
    "passive_count": 30,
    "detractor_count": 30,
    "response_count": 100,
}


def basic(key: str) -> str:
    """The Authorization header Delighted takes: the API key as the Basic username."""
    return "Basic " + base64.b64encode(f"{key}:".encode()).decode()


def delighted(
    server: HTTPServer, baseline: object = None, release: object = None, *, key: str = KEY
) -> None:
    """A metrics.json that answers each window, checking the since/until and the Basic login."""
    for label, answer in (
        ("baseline", BASELINE_ANSWER if baseline is None else baseline),
        ("release", RELEASE_ANSWER if release is None else release),
    ):
        since, until = EPOCH[label]
        server.expect_request(
            "/v1/metrics.json",
            query_string={"since": str(since), "until": str(until)},
            headers={"Authorization": basic(key)},
        ).respond_with_json(answer)
