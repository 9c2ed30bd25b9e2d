"""A week of one release's life as a request log, and the criteria file that judges it at three
checkpoints (2 h, 1 d, and the last day of the first week); the numbers each checkpoint sees are
worked out in write_life's docstring."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

DEPLOY = datetime(2026, 11, 10, 14, tzinfo=UTC)
CHECKPOINTS = "checkpoints: {gate: 2h, day1: 24h, week1: {after: 7d, window: 24h}}\n"
CRITERIA = (
    "criteria:\n"
    "  - {name: errors, metric: error_rate, max: 10%, min_samples: 10, at: [gate, day1, week1]}\n"
    "  - {name: slow, metric: latency, percentile: 95, max: 800ms, severity: warn,"
    " min_samples: 10, at: [day1]}\n"
)


def request(moment: datetime, status: int, duration_ms: int) -> str:
    stamp = moment.isoformat().replace("+00:00", "Z")
    row = {"timestamp": stamp, "route": "/x", "status": status, "duration_ms": duration_ms}
    return json.dumps(row) + "\n"


def write_life(tmp_path: Path, deploy: datetime = DEPLOY, extra: str = "") -> Path:
    """A week of a release's life; each window's requests run up to its last minute, so that
    the data reach every window's end:
    - baseline (the 2 hours before): 40 requests, all 200 in 100 ms;
    - 0–2 h: 40 requests, one every 3 minutes, all 200 in 100 ms;
    - 4.5–24 h: 40 requests, one every 30 minutes, all 200 but each 1000 ms;
    - day 3: 40 requests, all 500 (read by no checkpoint: week1 has a window of its own);
    - 6 d 4.5 h – 7 d: 40 requests, one every 30 minutes, the first 20 status 500, the rest 200;
    - 7 d 1 h: one more request."""
    minute = timedelta(minutes=1)
    rows = [request(deploy - minute * (1 + 3 * i), 200, 100) for i in range(40)]
    rows += [
        request(deploy + timedelta(hours=2) - minute * (1 + 3 * i), 200, 100) for i in range(40)
    ]
    day1_end = deploy + timedelta(days=1)
    rows += [request(day1_end - minute * (1 + 30 * i), 200, 1000) for i in range(40)]
    rows += [request(deploy + timedelta(days=3, minutes=i), 500, 100) for i in range(40)]
    week1_end = deploy + timedelta(days=7)
    rows += [
        request(week1_end - minute * (1 + 30 * i), 500 if i >= 20 else 200, 100) for i in range(40)
    ]
    rows.append(request(deploy + timedelta(days=7, hours=1), 200, 100))
    (tmp_path / "requests.ndjson").write_text("".join(rows))
    path = tmp_path / "cxe.yml"
    path.write_text(
        f"release: {{name: '2.4.0', deployed_at: '{deploy.isoformat()}'}}\n"
        "windows: {baseline: 24h}\n"
        f"{CHECKPOINTS}"
        "providers:\n  api: {type: file, requests: requests.ndjson}\n"
        f"{CRITERIA}{extra}"
    )
    return path
