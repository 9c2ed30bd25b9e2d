"""Tiny event, request and feedback logs whose metrics are computed by hand in the tests."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

DEPLOY = datetime(2026, 11, 10, 14, tzinfo=UTC)


def at(minutes: float) -> datetime:
    """Minutes relative to the deploy: negative is the baseline, positive the release window."""
    return DEPLOY + timedelta(minutes=minutes)


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


# (minutes, session, user, event). Journey a → b → c, by session.
EVENTS = [
    # baseline: s1 in order (converts); s2 a, c, b (c before b: does not); s3 b, a, b, c (converts);
    # s4 only a; s9 has b and c but never a (did not start)
    (-300, "s1", "u1", "a"),
    (-299, "s1", "u1", "b"),
    (-298, "s1", "u1", "c"),
    (-200, "s2", "u2", "a"),
    (-199, "s2", "u2", "c"),
    (-198, "s2", "u2", "b"),
    (-100, "s3", "u3", "b"),
    (-99, "s3", "u3", "a"),
    (-98, "s3", "u3", "b"),
    (-96, "s3", "u3", "c"),
    (-50, "s4", "u4", "a"),
    (-40, "s9", "u4", "b"),
    (-39, "s9", "u4", "c"),
    # release: s5 converts, s6 and s7 do not; u1 uses the wishlist
    (10, "s5", "u1", "a"),
    (11, "s5", "u1", "wishlist_add"),
    (12, "s5", "u1", "b"),
    (13, "s5", "u1", "c"),
    (20, "s6", "u5", "a"),
    (21, "s6", "u5", "b"),
    (30, "s7", "u6", "a"),
    # outside both windows: ignored
    (-2000, "s0", "u0", "a"),
    (500, "s8", "u8", "a"),
]
# (minutes, status, duration_ms). T = 200 ms: satisfied ≤ 200, tolerating ≤ 800, frustrated above
# or failed.
REQUESTS = [
    (-10, 200, 100),
    (-9, 200, 300),
    (-8, 200, 900),
    (-7, 503, 150),  # apdex (1 + 0.5)/4 = 0.375
    (5, 200, 100),
    (6, 200, 100),
    (7, 200, 500),
    (8, 500, 50),
    (9, 404, 100),
]
FEEDBACK = [  # (minutes, survey, score)
    (-60, "nps", 10),
    (-59, "nps", 9),
    (-58, "nps", 8),
    (-57, "nps", 7),
    (-56, "nps", 6),
    (-55, "nps", 0),
    (15, "nps", 10),
    (16, "nps", 9),
    (17, "nps", 3),
    (18, "csat", 5),
    (19, "csat", 4),
    (20, "csat", 2),
]


def write_ndjson(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def write_tiny_logs(tmp_path):
    write_ndjson(
        tmp_path / "events.ndjson",
        [
            {"timestamp": iso(at(m)), "session_id": s, "user_id": u, "event": e}
            for m, s, u, e in EVENTS
        ],
    )
    write_ndjson(
        tmp_path / "requests.ndjson",
        [
            {
                "timestamp": iso(at(m)),
                "method": "GET",
                "path": "/api/x",
                "route": "/api/x",
                "status": st,
                "duration_ms": d,
            }
            for m, st, d in REQUESTS
        ],
    )
    write_ndjson(
        tmp_path / "feedback.ndjson",
        [
            {"timestamp": iso(at(m)), "survey": sv, "score": sc, "user_id": "u"}
            for m, sv, sc in FEEDBACK
        ],
    )
    return tmp_path


@pytest.fixture
def shop_files(tmp_path):
    return write_tiny_logs(tmp_path)
