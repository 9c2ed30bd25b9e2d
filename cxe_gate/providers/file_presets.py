"""Column mappings of the `file` provider: our own log format, and common analytics exports.

Each mapping gives, per canonical column, a DuckDB SQL expression over the file's own columns."""

from __future__ import annotations

# The canonical columns the metric queries use, per table.
CANONICAL = {
    "events": ("ts", "event", "user_id", "session_id"),
    "requests": ("ts", "method", "path", "route", "status", "duration_ms", "user_id", "session_id"),
    "feedback": ("ts", "score", "survey", "user_id"),
}

# Our own NDJSON/CSV/Parquet logs (what the example shop writes): every column under its own name,
# the time in `timestamp`.
NATIVE = {
    table: {"ts": "timestamp"} | {c: c for c in columns if c != "ts"}
    for table, columns in CANONICAL.items()
}

EVENT_PRESETS: dict[str, dict[str, str]] = {
    "cxe": NATIVE["events"],
    # GA4's BigQuery export: microsecond epoch times; the session is the ga_session_id event parameter.
    "ga4": {
        "ts": "make_timestamp(event_timestamp)",
        "event": "event_name",
        "user_id": "user_pseudo_id",
        "session_id": "user_pseudo_id || '.' || CAST(list_filter(event_params, "
        "lambda p: p.key = 'ga_session_id')[1].value.int_value AS VARCHAR)",
    },
    # Segment track calls: anonymous visitors have only anonymousId; Segment has no session id.
    "segment": {
        "ts": "timestamp",
        "event": "event",
        "user_id": "coalesce(userId, anonymousId)",
    },
    # Amplitude's export: UTC times without an offset; session_id is the session's start in ms.
    "amplitude": {
        "ts": "event_time",
        "event": "event_type",
        "user_id": "coalesce(user_id, device_id)",
        "session_id": "CAST(session_id AS VARCHAR)",
    },
}
