"""Column mappings of the `file` provider: our own log format, and the exports of analytics services
in the shapes the services write them.

A mapping gives, per canonical column, a DuckDB SQL expression over the file's own columns. An
export preset builds its expressions from the file's column types, so one preset reads the
service's export as Parquet, as NDJSON with numbers as numbers or as strings, or as Avro's JSON."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from .exports import Schema, Value, field, integer, integer_text, quote, scalar, text

# The canonical columns the metric queries use, per table.
CANONICAL = {
    "events": ("ts", "event", "user_id", "session_id"),
    "requests": ("ts", "method", "path", "route", "status", "duration_ms", "user_id", "session_id"),
    "feedback": ("ts", "score", "survey", "user_id"),
}
# Optional in events: rows with the same non-null insert_id are one event, counted once.
DEDUP = "insert_id"

# Our own NDJSON/CSV/Parquet logs (what the example shop writes): every column under its own name,
# the time in `timestamp`.
NATIVE = {
    table: {"ts": "timestamp"} | {c: c for c in columns if c != "ts"}
    for table, columns in CANONICAL.items()
}

Mapping = dict[str, str | None]  # None: the file lacks what the preset reads this column from


@dataclass(frozen=True)
class Preset:
    """How one service's event export maps to the canonical columns."""

    # canonical column → where the export keeps it: for error messages and the README
    sources: dict[str, str]
    build: Callable[[Schema], Mapping]
    # for an export without a session id: an expression that would key sessions, as an example
    session_example: str = ""

    @property
    def sessions(self) -> bool:
        """Whether the export carries a session id at all."""
        return "session_id" in self.sources


def _session(owner: str | None, session: str | None) -> str | None:
    """A session key unique across people: a session id is unique only per user or device (it is
    the session's start time in GA4, Amplitude and RudderStack), so two people whose sessions
    start in the same second or millisecond must not merge. The id comes last and holds no ':'."""
    if owner is None or session is None:
        return None
    return f"(({owner}) || ':' || ({session}))"


def _dedup_key(last: str | None, *parts: str | None) -> str | None:
    """A JSON list of the parts that identify one event to the service; none when `last` (the
    insert id) is missing, so events without one are all kept."""
    if last is None or any(part is None for part in parts):
        return None
    items = ", ".join(f"CAST({part} AS VARCHAR)" for part in (*parts, last))
    return f"CASE WHEN ({last}) IS NULL THEN NULL ELSE to_json([{items}]) END"


def _text(schema: Schema, column: str, *keys: str) -> str | None:
    found = schema.get(column, *keys)
    return None if found is None else text(found)


def _first(*options: str | None) -> str | None:
    """coalesce() of the options the file has."""
    present = [o for o in options if o is not None]
    if not present:
        return None
    return present[0] if len(present) == 1 else f"coalesce({', '.join(present)})"


def _epoch(value: Value) -> str:
    """Seconds since the epoch, or milliseconds (Mixpanel's export with time_in_ms): 1e11 seconds
    is the year 5138, so a number that large is milliseconds."""
    number = f"CAST({scalar(value)} AS DOUBLE)"
    return (
        f"make_timestamp(CAST(round(CASE WHEN {number} >= 1e11 THEN {number} * 1000 "
        f"ELSE {number} * 1000000 END) AS BIGINT))"
    )


# --- GA4 BigQuery export ----------------------------------------------------------------------


def _ga4_param(schema: Schema, key: str) -> str | None:
    """An event parameter's value as text, whichever of int_value, string_value, double_value or
    float_value holds it."""
    params = schema.columns.get("event_params")
    if params is None or params.id != "list":
        return None
    element = Value("p", params.children[0][1])
    name = field(element, "key")
    if name is None:
        return None
    match = Value(
        f"list_filter({quote('event_params')}, lambda p: {text(name)} = '{key}')[1]",
        element.type,
    )
    values = [
        integer_text(found)
        for kind in ("int_value", "string_value", "double_value", "float_value")
        if (found := field(match, "value", kind)) is not None
    ]
    return _first(*values)


def _ga4(schema: Schema) -> Mapping:
    stamp = schema.get("event_timestamp")
    user = _text(schema, "user_pseudo_id")
    return {
        "ts": None if stamp is None else f"make_timestamp({integer(stamp)})",
        "event": _text(schema, "event_name"),
        "user_id": user,
        "session_id": _session(user, _ga4_param(schema, "ga_session_id")),
    }


# --- Amplitude export ---------------------------------------------------------------------------


def _amplitude(schema: Schema) -> Mapping:
    # amplitude_id is Amplitude's own user: it joins a device's anonymous events to the user who
    # logs in on it, as Amplitude's user and session counts do.
    amplitude_id = _text(schema, "amplitude_id")
    device = _text(schema, "device_id")
    session = schema.get("session_id")
    session_id = None
    if session is not None:
        # -1 means "no session" in Amplitude's export.
        session_id = (
            f"CASE WHEN TRY_CAST({scalar(session)} AS BIGINT) = -1 THEN NULL "
            f"ELSE {integer_text(session)} END"
        )
    event_time = schema.get("event_time")
    return {
        "ts": None if event_time is None else scalar(event_time),  # UTC, written without offset
        "event": _text(schema, "event_type"),
        "user_id": amplitude_id or _first(_text(schema, "user_id"), device),
        "session_id": _session(amplitude_id or device, session_id),
        # Amplitude drops an event whose insert_id its device already sent.
        DEDUP: _dedup_key(_text(schema, "$insert_id"), device),
    }


# --- Mixpanel raw export --------------------------------------------------------------------------


def _mixpanel(schema: Schema) -> Mapping:
    time = schema.get("properties", "time")
    event = _text(schema, "event")
    distinct_id = _text(schema, "properties", "distinct_id")
    return {
        "ts": None if time is None else _epoch(time),
        "event": event,
        "user_id": distinct_id,
        # Mixpanel counts events with the same name, distinct_id, time and $insert_id once.
        DEDUP: _dedup_key(
            _text(schema, "properties", "$insert_id"),
            event,
            distinct_id,
            None if time is None else text(time),
        ),
    }


# --- PostHog events export ----------------------------------------------------------------------


def _posthog(schema: Schema) -> Mapping:
    # person_id joins the anonymous distinct_id of a visitor to the one they get when identified
    # (PostHog counts persons); a session keyed by distinct_id would split at the login.
    person = _first(_text(schema, "person_id"), _text(schema, "distinct_id"))
    session = _text(schema, "properties", "$session_id")
    stamp = schema.get("timestamp")
    return {
        "ts": None if stamp is None else scalar(stamp),
        "event": _text(schema, "event"),
        "user_id": person,
        "session_id": _session(person, None if session is None else f"nullif({session}, '')"),
        DEDUP: _dedup_key(_text(schema, "uuid")),  # each event's unique id
    }


# --- Segment and RudderStack ----------------------------------------------------------------------


def _segment_like(schema: Schema) -> Mapping:
    stamp = schema.get("timestamp")
    return {
        "ts": None if stamp is None else scalar(stamp),
        "event": _text(schema, "event"),
        "user_id": _first(_text(schema, "userId"), _text(schema, "anonymousId")),
        # Both deduplicate on messageId; a replayed delivery carries the same one.
        DEDUP: _dedup_key(_text(schema, "messageId")),
    }


def _rudderstack(schema: Schema) -> Mapping:
    session = schema.get("context", "sessionId")
    # The anonymousId stays the same when the visitor identifies, the session too.
    owner = _first(_text(schema, "anonymousId"), _text(schema, "userId"))
    return _segment_like(schema) | {
        "session_id": _session(owner, None if session is None else integer_text(session))
    }


def _native(schema: Schema) -> Mapping:
    return dict(NATIVE["events"])


# The shapes an event log may come in: ours, and the exports of analytics services.
PresetName = Literal["cxe", "ga4", "amplitude", "mixpanel", "posthog", "segment", "rudderstack"]

PRESETS: dict[str, Preset] = {
    "cxe": Preset(
        sources={c: NATIVE["events"][c] for c in CANONICAL["events"]},
        build=_native,
    ),
    "ga4": Preset(
        sources={
            "ts": "event_timestamp (µs since the epoch, a number or a string)",
            "event": "event_name",
            "user_id": "user_pseudo_id",
            "session_id": "user_pseudo_id and the ga_session_id event parameter "
            "(event_params[key = 'ga_session_id'].value)",
        },
        build=_ga4,
    ),
    "amplitude": Preset(
        sources={
            "ts": "event_time (UTC, no offset)",
            "event": "event_type",
            "user_id": "amplitude_id (else user_id, then device_id)",
            "session_id": "amplitude_id (else device_id) and session_id (-1: none)",
            DEDUP: "device_id and $insert_id",
        },
        build=_amplitude,
    ),
    "mixpanel": Preset(
        sources={
            "ts": "properties.time (seconds since the epoch, or milliseconds)",
            "event": "event",
            "user_id": "properties.distinct_id",
            DEDUP: "event, properties.distinct_id, properties.time and properties.$insert_id",
        },
        build=_mixpanel,
        session_example="properties.\"$device_id\" || ':' || properties.session_id",
    ),
    "posthog": Preset(
        sources={
            "ts": "timestamp",
            "event": "event",
            "user_id": "person_id (else distinct_id)",
            "session_id": "person_id (else distinct_id) and properties.$session_id",
            DEDUP: "uuid",
        },
        build=_posthog,
    ),
    "segment": Preset(
        sources={
            "ts": "timestamp",
            "event": "event",
            "user_id": "userId (else anonymousId)",
            DEDUP: "messageId",
        },
        build=_segment_like,
        session_example="anonymousId || ':' || properties.session_id",
    ),
    "rudderstack": Preset(
        sources={
            "ts": "timestamp",
            "event": "event",
            "user_id": "userId (else anonymousId)",
            "session_id": "anonymousId (else userId) and context.sessionId",
            DEDUP: "messageId",
        },
        build=_rudderstack,
    ),
}
