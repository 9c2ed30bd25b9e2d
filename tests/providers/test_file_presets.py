"""The `file` provider's presets over exports in each service's own shape: small files whose
answers are counted by hand, larger generated ones checked against plain Python, and the
configurations `cxe-gate validate` refuses."""

from __future__ import annotations

import gzip
import json
import random
import uuid
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import get_args

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from tiny_logs import DEPLOY, iso, write_ndjson

from cxe_gate.cli import main
from cxe_gate.config import ConversionCriterion, JourneySpec
from cxe_gate.errors import ConfigError, DataError
from cxe_gate.gate import evaluate
from cxe_gate.loader import load
from cxe_gate.measurement import TimeWindow
from cxe_gate.providers.base import MetricRequest, ProviderContext
from cxe_gate.providers.file import FileProvider, FileSettings
from cxe_gate.providers.file_presets import PRESETS
from cxe_gate.results import CriterionResult, Verdict

NOW = DEPLOY + timedelta(hours=3)  # the release window (2 h) is over
JOURNEY = ("view_item", "add_to_cart", "purchase")
BASELINE = (-24 * 3600, 0)  # seconds from the deploy: [start, end)
RELEASE = (0, 2 * 3600)


@dataclass(frozen=True)
class Event:
    """One event as a person did it; each preset writes it in its service's shape."""

    at: int  # seconds from the deploy
    person: str
    session: int | None  # the session's start, seconds from the deploy; None: in no session
    name: str
    copies: int = 1  # delivered this many times with the same insert id (a retry)
    anonymous: bool = False  # sent before the person logged in
    insert_id: str | None = None  # the service's event id, when the story sets it


# --- the story every preset tells ---------------------------------------------------------------
# JourneySpec view_item → add_to_cart → purchase.
STORY = [
    # baseline: alice and bob start sessions in the same second (and millisecond): keyed by
    # person, they stay two sessions. Merged, the pair would look like one converting session.
    Event(-7200, "alice", -7200, "view_item"),
    Event(-7190, "alice", -7200, "add_to_cart"),
    Event(-7180, "alice", -7200, "purchase"),  # converts
    Event(-7199, "bob", -7200, "view_item"),
    Event(-7170, "bob", -7200, "add_to_cart"),  # stops at the cart
    # carol, the day before (-20 h): purchase before the cart, so this session does not convert;
    # her second session has no view_item, so it never starts the journey. By user she converts:
    # view -72000, cart -71980, purchase -1790.
    Event(-72000, "carol", -72000, "view_item"),
    Event(-71990, "carol", -72000, "purchase"),
    Event(-71980, "carol", -72000, "add_to_cart"),
    Event(-1800, "carol", -1800, "add_to_cart"),
    Event(-1790, "carol", -1800, "purchase"),
    # release: dan's first session starts in alice's second; both convert
    Event(600, "alice", 600, "view_item"),
    Event(610, "alice", 600, "wishlist_add"),
    Event(620, "alice", 600, "add_to_cart"),
    Event(630, "alice", 600, "purchase"),
    Event(600, "dan", 600, "view_item"),
    Event(615, "dan", 600, "add_to_cart"),
    Event(625, "dan", 600, "purchase"),
    Event(1200, "eve", 1200, "view_item"),
    Event(1210, "eve", 1200, "add_to_cart"),
    Event(1800, "frank", 1800, "view_item"),
    Event(3600, "dan", 3600, "view_item"),
    # outside both windows: ignored
    Event(-100_000, "zoe", -100_000, "view_item"),
    Event(9000, "zoe", 9000, "view_item"),
]
# Counted by hand from STORY:
#   baseline sessions: alice-7200, bob-7200, carol-72000 start (3), alice's converts → 1/3;
#     steps 3 (view), 3 (cart after the view: alice, bob, carol's), 1 (purchase after the cart)
#   baseline users: alice, bob, carol start, alice and carol convert → 2/3
#   release sessions: alice600, dan600, eve1200, frank1800, dan3600 (5), two convert → 2/5;
#     steps 5, 3, 2
#   release users: alice, dan, eve, frank (4), alice and dan convert → 2/4
#   wishlist_add adoption, release: 1 of 5 sessions, 1 of 4 users; baseline 0 of 4 sessions
#   events per session: release 4 + 3 + 2 + 1 + 1 = 11 over 5; baseline 3 + 2 + 3 + 2 = 10 over 4
#   events per user: release 11 over 4; baseline 10 over 3; active users 4 and 3
STORY_SESSIONS = {
    "by session": (1 / 3, 2 / 5),
    "wishlist sessions": (0.0, 1 / 5),
    "per session": (10 / 4, 11 / 5),
}
STORY_USERS = {
    "by user": (2 / 3, 2 / 4),
    "wishlist users": (0.0, 1 / 4),
    "per user": (10 / 3, 11 / 4),
    "users": (3, 4),
}

# Eve's purchase, sent from the server without a session (a GA4 Measurement Protocol hit without
# ga_session_id, an Amplitude event with session_id -1, a server-side RudderStack or PostHog call):
# it belongs to eve but to no session. By user she now converts (release 3/4, 12 events over 4
# users); her session does not (still 2/5, 11 events over 5 sessions).
SESSIONLESS_PURCHASE = Event(1500, "eve", None, "purchase")
WITH_SESSIONLESS = (
    STORY_SESSIONS | STORY_USERS | {"by user": (2 / 3, 3 / 4), "per user": (10 / 3, 3.0)}
)

SESSION_CRITERIA = """\
  - {name: by session, metric: conversion, journey: checkout, max_drop: 99%, min_samples: 1}
  - {name: wishlist sessions, metric: engagement, measure: adoption, event: wishlist_add, min: 0%,
     min_samples: 1}
  - {name: per session, metric: engagement, measure: events_per_session, min: 0, min_samples: 1}
"""
USER_CRITERIA = """\
  - {name: by user, metric: conversion, journey: checkout, unit: user, max_drop: 99%, min_samples: 1}
  - {name: wishlist users, metric: engagement, measure: adoption, unit: user, event: wishlist_add,
     min: 0%, min_samples: 1}
  - {name: per user, metric: engagement, measure: events_per_user, min: 0, min_samples: 1}
  - {name: users, metric: engagement, measure: active_users, min: 1, min_samples: 1}
"""


def write_config(directory: Path, provider: str, criteria: str) -> Path:
    path = directory / "cxe.yml"
    path.write_text(
        f"release: {{deployed_at: {iso(DEPLOY)}}}\n"
        "windows: {baseline: 24h, release: 2h}\n"
        f"providers:\n  export: {provider}\n"
        f"journeys:\n  checkout: [{', '.join(JOURNEY)}]\n"
        f"criteria:\n{criteria}"
    )
    return path


def judge(directory: Path, provider: str, criteria: str) -> dict[str, CriterionResult]:
    report = evaluate(load(write_config(directory, provider, criteria)), now=NOW)
    results = {r.name: r for r in report.criteria}
    for result in results.values():
        assert result.verdict != Verdict.ERROR, result.message
    return results


def assert_values(results: dict[str, CriterionResult], expected: dict[str, tuple[float, float]]):
    for name, (baseline, release) in expected.items():
        result = results[name]
        assert (result.baseline, result.value) == (
            pytest.approx(baseline, abs=1e-9),
            pytest.approx(release, abs=1e-9),
        ), name


def moment(at: int):
    return DEPLOY + timedelta(seconds=at)


def epoch(at: int) -> int:
    return int(moment(at).timestamp())


def deliveries(events: list[Event]) -> list[tuple[int, Event]]:
    """Each event as often as it was delivered, with its position in the story."""
    return [(n, e) for n, e in enumerate(events) for _ in range(e.copies)]


def edit(events: list[Event], person: str, when: int | None = None, **changes) -> list[Event]:
    """The story with `person`'s events (the one at `when` only, when given) changed."""
    return [
        replace(e, **changes) if e.person == person and when in (None, e.at) else e for e in events
    ]


def person_number(person: str) -> int:
    return int(uuid.uuid5(uuid.NAMESPACE_URL, person).int % 1_000_000_000)


def session_uuid(event: Event) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"{event.person}/{event.session}"))


def drop_nulls(value):
    """As BigQuery's JSON export writes a row: fields that are NULL are left out."""
    if isinstance(value, dict):
        return {k: drop_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [drop_nulls(v) for v in value]
    return value


# --- GA4: the BigQuery export (https://support.google.com/analytics/answer/7029846) ------------


def ga4_param(key: str, *, string=None, integer=None, double=None, as_text=True) -> dict:
    """An event_params entry; `bq extract` writes INT64 as a JSON string."""
    return {
        "key": key,
        "value": {
            "string_value": string,
            "int_value": None if integer is None else (str(integer) if as_text else integer),
            "float_value": None,
            "double_value": double,
        },
    }


def ga4_rows(events: list[Event], *, as_text: bool = True) -> list[dict]:
    number = str if as_text else int
    rows = []
    for n, event in deliveries(events):
        pseudo_id = f"{person_number(event.person)}.{epoch(-86400 * 30)}"
        params = [
            ga4_param("page_location", string="https://shop.example/"),
            ga4_param("engagement_time_msec", integer=100 + n, as_text=as_text),
        ]
        if event.session is not None:
            params.insert(
                0, ga4_param("ga_session_id", integer=epoch(event.session), as_text=as_text)
            )
            params.append(ga4_param("ga_session_number", integer=1, as_text=as_text))
        if event.name == "purchase":
            params.append(ga4_param("value", double=19.9))
        micros = epoch(event.at) * 1_000_000 + 123
        rows.append(
            {
                "event_date": moment(event.at).strftime("%Y%m%d"),
                "event_timestamp": number(micros),
                "event_name": event.name,
                "event_params": params,
                "event_previous_timestamp": None,
                "event_value_in_usd": 19.9 if event.name == "purchase" else None,
                "event_bundle_sequence_id": number(1000 + n),
                "event_server_timestamp_offset": number(512),
                "user_id": "u-1001" if event.person == "alice" else None,  # set by the site
                "user_pseudo_id": pseudo_id,
                "privacy_info": {
                    "analytics_storage": "Yes",
                    "ads_storage": "No",
                    "uses_transient_token": "No",
                },
                "user_properties": [],
                "user_first_touch_timestamp": number(epoch(-86400 * 30) * 1_000_000),
                "device": {"category": "desktop", "operating_system": "Linux", "language": "en-us"},
                "geo": {"country": "Germany", "city": "Berlin"},
                "app_info": None,
                "traffic_source": {"name": "(direct)", "medium": "(none)", "source": "(direct)"},
                "stream_id": number(4_178_200_001),
                "platform": "WEB",
                "items": [],
            }
        )
    return rows


def test_ga4_ndjson_with_int64_as_strings(tmp_path):
    # `bq extract --destination_format NEWLINE_DELIMITED_JSON`: every INT64 a JSON string
    write_ndjson(tmp_path / "events_20261110.json", ga4_rows([*STORY, SESSIONLESS_PURCHASE]))
    sample = json.loads((tmp_path / "events_20261110.json").read_text().splitlines()[0])
    assert isinstance(sample["event_timestamp"], str)
    assert isinstance(sample["event_params"][0]["value"]["int_value"], str)
    results = judge(
        tmp_path,
        "{type: file, events: events_20261110.json, preset: ga4}",
        SESSION_CRITERIA + USER_CRITERIA,
    )
    assert_values(results, WITH_SESSIONLESS)
    assert results["by session"].details["release"] == {
        "successes": 2,
        "trials": 5,
        "step 1: view_item": 5,
        "step 2: add_to_cart": 3,
        "step 3: purchase": 2,
    }
    assert results["by session"].details["baseline"]["step 2: add_to_cart"] == 3


def ga4_parquet(rows: list[dict], path: Path) -> None:
    """The export's own types: INT64 as int64, event_params as a repeated record."""
    value = pa.struct(
        [
            ("string_value", pa.string()),
            ("int_value", pa.int64()),
            ("float_value", pa.float64()),
            ("double_value", pa.float64()),
        ]
    )
    schema = pa.schema(
        [
            ("event_date", pa.string()),
            ("event_timestamp", pa.int64()),
            ("event_name", pa.string()),
            ("event_params", pa.list_(pa.struct([("key", pa.string()), ("value", value)]))),
            ("user_id", pa.string()),
            ("user_pseudo_id", pa.string()),
        ]
    )
    table = pa.Table.from_pylist([{k: r[k] for k in schema.names} for r in rows], schema=schema)
    pq.write_table(table, path)


def avro_json(row: dict) -> dict:
    """A row in Avro's JSON encoding, as avro-tools tojson prints a BigQuery Avro export: each
    non-null value of a NULLABLE field wrapped in its type's name, a NULLABLE RECORD in its record's
    name; REPEATED fields are plain arrays."""

    def record(fields: dict) -> dict:
        return {k: wrap(v, k) for k, v in fields.items()}

    def wrap(value, name):
        if value is None:
            return None
        if isinstance(value, list):
            return [record(v) if isinstance(v, dict) else v for v in value]
        if isinstance(value, dict):
            return {name: record(value)}
        kinds = {bool: "boolean", int: "long", float: "double", str: "string"}
        return {kinds[type(value)]: value}

    return record(row)


def test_ga4_reads_the_same_from_every_export_format(tmp_path):
    as_numbers = ga4_rows([*STORY, SESSIONLESS_PURCHASE], as_text=False)
    variants = {
        "strings.json": [drop_nulls(r) for r in ga4_rows([*STORY, SESSIONLESS_PURCHASE])],
        "numbers.json": as_numbers,
        "avro.json": [avro_json(r) for r in as_numbers],
    }
    for name, rows in variants.items():
        write_ndjson(tmp_path / name, rows)
    ga4_parquet(as_numbers, tmp_path / "export.parquet")
    assert "long" in (tmp_path / "avro.json").read_text()
    for name in [*variants, "export.parquet"]:
        results = judge(
            tmp_path,
            f"{{type: file, events: {name}, preset: ga4}}",
            SESSION_CRITERIA + USER_CRITERIA,
        )
        assert_values(results, WITH_SESSIONLESS)


def test_ga4_daily_shards_and_the_intraday_table(tmp_path):
    rows = ga4_rows([*STORY, SESSIONLESS_PURCHASE])
    shards = tmp_path / "analytics_123456"
    shards.mkdir()
    by_day: dict[str, list[dict]] = {}
    for row in rows:
        by_day.setdefault(row["event_date"], []).append(row)
    assert sorted(by_day) == ["20261109", "20261110"]  # zoe's and carol's first day, the rest
    write_ndjson(shards / "events_20261109.json", by_day["20261109"])
    # a wildcard extract splits a day into numbered files
    today = by_day["20261110"]
    write_ndjson(shards / "events_20261110-000000000000.json", today[:7])
    write_ndjson(shards / "events_20261110-000000000001.json", today[7:])
    # the streaming export's copy of a day whose daily table is there: read once, not twice
    write_ndjson(shards / "events_intraday_20261110.json", today)
    (shards / "_SUCCESS").write_text("")
    for events in ("analytics_123456", "analytics_123456/events_*.json"):
        results = judge(
            tmp_path,
            f"{{type: file, events: '{events}', preset: ga4}}",
            SESSION_CRITERIA + USER_CRITERIA,
        )
        assert_values(results, WITH_SESSIONLESS)

    # only the streaming export for today: it is read
    for name in ("events_20261110-000000000000.json", "events_20261110-000000000001.json"):
        (shards / name).unlink()
    results = judge(tmp_path, "{type: file, events: analytics_123456, preset: ga4}", USER_CRITERIA)
    assert_values(results, {"by user": (2 / 3, 3 / 4)})


# --- Amplitude: the Export API's files ------------------------------------------------------------


def amplitude_rows(events: list[Event]) -> list[dict]:
    rows = []
    for n, event in deliveries(events):
        number = person_number(event.person)
        when = moment(event.at).strftime("%Y-%m-%d %H:%M:%S.%f")
        rows.append(
            {
                "$insert_id": event.insert_id or f"{event.person}-{event.at}-{event.name}",
                "amplitude_id": 500_000_000 + number,
                "app": 123456,
                "client_event_time": when,
                "client_upload_time": when,
                "device_id": f"d-{number:09d}",
                "event_id": n,
                "event_properties": {},
                "event_time": when,  # UTC, written without an offset
                "event_type": event.name,
                "platform": "Web",
                "server_received_time": when,
                "server_upload_time": when,
                # the session's start in ms since the epoch; -1: no session
                "session_id": -1 if event.session is None else epoch(event.session) * 1000,
                "user_id": None if event.anonymous else f"{event.person}@example.com",
                "user_properties": {},
                "uuid": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{n}")),
            }
        )
    return rows


def test_amplitude_export(tmp_path):
    # dan logs in during his first release session: user_id is null, then set; his amplitude_id
    # joins the two, so the session stays one
    events = edit(STORY, "dan", 600, anonymous=True)
    # frank's view delivered twice with one $insert_id: counted once
    events = edit(events, "frank", copies=2, insert_id="ins-frank")
    # eve's view carries the same $insert_id from another device: not a duplicate of frank's
    events = edit(events, "eve", 1200, insert_id="ins-frank")
    events.append(SESSIONLESS_PURCHASE)  # session_id -1
    rows = amplitude_rows(events)
    assert sum(r["$insert_id"] == "ins-frank" for r in rows) == 3
    assert [r["session_id"] for r in rows if r["event_time"].endswith("14:25:00.000000")] == [-1]
    # alice's and dan's release sessions start in the same millisecond
    assert {r["session_id"] for r in rows if r["event_time"].startswith("2026-11-10 14:10:00")} == {
        epoch(600) * 1000
    }
    export = tmp_path / "amplitude"  # as the Export API's zip unpacks: one gzip file per hour
    export.mkdir()
    with gzip.open(export / "123456_2026-11-10_14#0.json.gz", "wt") as handle:
        handle.writelines(json.dumps(r) + "\n" for r in rows)
    results = judge(
        tmp_path,
        "{type: file, events: amplitude, preset: amplitude}",
        SESSION_CRITERIA + USER_CRITERIA,
    )
    assert_values(results, WITH_SESSIONLESS)


# --- Mixpanel: the raw export API's NDJSON --------------------------------------------------------


def mixpanel_rows(events: list[Event], *, in_ms: bool = False) -> list[dict]:
    return [
        {
            "event": event.name,
            "properties": {
                # seconds since the epoch; milliseconds when exported with time_in_ms=true
                "time": epoch(event.at) * (1000 if in_ms else 1),
                "distinct_id": event.person,
                "$insert_id": event.insert_id or f"{event.person}{event.at}{n}",
                "mp_processing_time_ms": epoch(event.at) * 1000 + 2500,
                "$device_id": f"d-{person_number(event.person)}",
                "$current_url": "https://shop.example/",
                "mp_lib": "web",
            },
        }
        for n, event in deliveries(events)
    ]


def test_mixpanel_raw_export(tmp_path):
    # frank's view sent twice: the same name, distinct_id, time and $insert_id, counted once
    events = edit(STORY, "frank", copies=2)
    # dan's cart in his view's second, with his view's $insert_id: another event name, so not a
    # duplicate to Mixpanel (the journey allows a step in the second of the one before)
    events = edit(events, "dan", 600, insert_id="ins-dan")
    events = edit(events, "dan", 615, insert_id="ins-dan", at=600)
    rows = mixpanel_rows(events)
    assert len(rows) == len(STORY) + 1
    assert [r["event"] for r in rows if r["properties"]["$insert_id"] == "ins-dan"] == [
        "view_item",
        "add_to_cart",
    ]
    write_ndjson(tmp_path / "export.ndjson", rows)
    write_ndjson(tmp_path / "in_ms.ndjson", mixpanel_rows(events, in_ms=True))
    for name in ("export.ndjson", "in_ms.ndjson"):
        results = judge(
            tmp_path, f"{{type: file, events: {name}, preset: mixpanel}}", USER_CRITERIA
        )
        assert_values(results, STORY_USERS)
        assert results["by user"].details["release"]["step 2: add_to_cart"] == 3


# --- PostHog: batch exports (JSONLines: properties an object; Parquet: a JSON string) -----------


def posthog_rows(events: list[Event]) -> list[dict]:
    rows = []
    for n, event in deliveries(events):
        stamp = moment(event.at)
        properties = {"$current_url": "https://shop.example/", "$lib": "web"}
        if event.session is not None:
            properties["$session_id"] = session_uuid(event)
        rows.append(
            {
                "uuid": str(uuid.uuid5(uuid.NAMESPACE_DNS, f"{n}")),
                "event": event.name,
                # before identifying, a visitor's distinct_id is an anonymous one
                "distinct_id": f"anon-{event.person}" if event.anonymous else event.person,
                "person_id": str(uuid.uuid5(uuid.NAMESPACE_OID, event.person)),
                "properties": properties,
                "person_properties": {"email": f"{event.person}@example.com"},
                "elements_chain": "",
                "timestamp": stamp.isoformat(),
                "created_at": (stamp + timedelta(seconds=2)).isoformat(),
                "_inserted_at": (stamp + timedelta(seconds=3)).isoformat(),
            }
        )
    return rows


def posthog_parquet(rows: list[dict], path: Path) -> None:
    """The Parquet export's types: properties as JSON-encoded text, times as UTC timestamps."""
    texts = ("uuid", "event", "distinct_id", "person_id", "elements_chain")
    objects = ("properties", "person_properties")
    times = ("timestamp", "created_at", "_inserted_at")
    schema = pa.schema(
        [(name, pa.string()) for name in (*texts, *objects)]
        + [(name, pa.timestamp("us", tz="UTC")) for name in times]
    )
    converted = [
        {name: row[name] for name in texts}
        | {name: json.dumps(row[name]) for name in objects}
        | {name: datetime.fromisoformat(row[name]) for name in times}
        for row in rows
    ]
    pq.write_table(pa.Table.from_pylist(converted, schema=schema), path)


def test_posthog_export(tmp_path):
    # dan identifies after his first view: his distinct_id changes, his person_id does not
    events = edit(STORY, "dan", 600, anonymous=True)
    events = edit(events, "frank", copies=2)  # one uuid exported twice (a retried batch)
    events.append(SESSIONLESS_PURCHASE)  # a server-side capture without $session_id
    rows = posthog_rows(events)
    assert {r["distinct_id"] for r in rows if r["person_id"] == rows[14]["person_id"]} == {
        "anon-dan",
        "dan",
    }
    write_ndjson(tmp_path / "export.jsonl", rows)
    posthog_parquet(rows, tmp_path / "export.parquet")
    for name in ("export.jsonl", "export.parquet"):
        results = judge(
            tmp_path,
            f"{{type: file, events: {name}, preset: posthog}}",
            SESSION_CRITERIA + USER_CRITERIA,
        )
        assert_values(results, WITH_SESSIONLESS)


# --- Segment and RudderStack ------------------------------------------------------------------------


def segment_rows(events: list[Event], *, rudderstack: bool = False) -> list[dict]:
    rows = []
    for n, event in deliveries(events):
        stamp = iso(moment(event.at))
        context = {
            "library": {"name": "analytics.js", "version": "5.2.0"},
            "page": {"url": "https://shop.example/"},
        }
        if rudderstack and event.session is not None:
            context["sessionId"] = epoch(event.session) * 1000  # the session's start, ms
            if event.at == event.session:
                context["sessionStart"] = True
        rows.append(
            {
                "type": "track",
                "event": event.name,
                "messageId": event.insert_id or f"msg-{event.person}-{event.at}",
                "anonymousId": f"anon-{event.person}",
                "userId": None if event.anonymous else event.person,
                "properties": {"session_id": event.session},
                "context": context,
                "timestamp": stamp,
                "originalTimestamp": stamp,
                "sentAt": stamp,
                "receivedAt": stamp,
                "integrations": {},
            }
            | ({"channel": "web", "rudderId": f"r-{n}"} if rudderstack else {"version": 2})
        )
    return rows


def test_segment_counts_users_and_takes_a_mapped_session(tmp_path):
    events = edit(STORY, "frank", copies=2)  # one messageId delivered twice: counted once
    write_ndjson(tmp_path / "export.ndjson", segment_rows(events))
    provider = "{type: file, events: export.ndjson, preset: segment}"
    assert_values(judge(tmp_path, provider, USER_CRITERIA), STORY_USERS)
    # deduplication turned off: frank's view counts twice, 12 events over 4 users
    undeduplicated = provider.replace("}", ", columns: {events: {insert_id: 'NULL'}}}")
    assert_values(judge(tmp_path, undeduplicated, USER_CRITERIA), {"per user": (10 / 3, 3.0)})
    # A session id the app put in the properties, mapped by hand with its owner
    mapped = (
        "{type: file, events: export.ndjson, preset: segment, columns: {events: "
        "{session_id: \"anonymousId || ':' || properties.session_id\"}}}"
    )
    assert_values(judge(tmp_path, mapped, SESSION_CRITERIA), STORY_SESSIONS)


def test_rudderstack_sessions_survive_a_login(tmp_path):
    # dan browses anonymously, then identifies before his cart: his anonymousId and his session
    # stay, so by session he converts (2/5, 11 events over 5 sessions, as the story).
    events = edit(STORY, "dan", 600, anonymous=True)
    events = edit(events, "frank", copies=2)  # one messageId delivered twice: counted once
    events.append(SESSIONLESS_PURCHASE)  # from a server-side SDK: no context.sessionId
    write_ndjson(tmp_path / "export.ndjson", segment_rows(events, rudderstack=True))
    results = judge(
        tmp_path,
        "{type: file, events: export.ndjson, preset: rudderstack}",
        SESSION_CRITERIA + USER_CRITERIA,
    )
    # Users are userId else anonymousId, as Segment's and RudderStack's own tables count them:
    # dan's anonymous view and his identified events are two users. Release users: alice
    # (converts), anon-dan (a view), dan (cart 615, purchase 625, view 3600: no), eve (converts
    # with her sessionless purchase), frank → 2 of 5; 12 events over 5 users.
    assert_values(
        results,
        STORY_SESSIONS
        | {
            "by user": (2 / 3, 2 / 5),
            "wishlist users": (0.0, 1 / 5),
            "per user": (10 / 3, 12 / 5),
            "users": (3, 5),
        },
    )


# --- what validate refuses ------------------------------------------------------------------------


def validate(directory: Path, provider: str, criteria: str):
    write_config(directory, provider, criteria)
    return CliRunner().invoke(main, ["validate", "-c", str(directory / "cxe.yml")])


@pytest.mark.parametrize("preset", ["segment", "mixpanel"])
def test_validate_refuses_sessions_from_an_export_without_them(tmp_path, preset):
    provider = f"{{type: file, events: export.ndjson, preset: {preset}}}"
    result = validate(
        tmp_path,
        provider,
        "  - {name: conv, metric: conversion, journey: checkout, max_drop: 10%}\n"
        "  - {name: depth, metric: engagement, measure: events_per_session, min: 1}\n"
        "  - {name: wishlist, metric: engagement, measure: adoption, event: wishlist_add, min: 1%}\n"
        "  - {name: fine, metric: conversion, journey: checkout, unit: user, max_drop: 10%}\n",
    )
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 3, result.output  # the per-user criterion is fine
    conversion, depth, wishlist = lines
    for line in lines:
        assert f"preset {preset} has no session id" in line
        assert "columns.events.session_id:" in line
    assert conversion.startswith(f"{tmp_path / 'cxe.yml'}:8: criteria[0].journey:")
    assert "unit: user" in conversion
    assert ":9: criteria[1].measure:" in depth and "measure: events_per_user" in depth
    assert ":10: criteria[2]" in wishlist and "unit: user" in wishlist


def test_validate_accepts_sessions_once_mapped_or_carried(tmp_path):
    criteria = "  - {name: conv, metric: conversion, journey: checkout, max_drop: 10%}\n"
    mapped = (
        "{type: file, events: e.ndjson, preset: segment, columns: {events: "
        "{session_id: \"anonymousId || ':' || properties.session_id\"}}}"
    )
    assert validate(tmp_path, mapped, criteria).exit_code == 0
    for preset in ("cxe", "ga4", "amplitude", "posthog", "rudderstack"):
        result = validate(tmp_path, f"{{type: file, events: e.ndjson, preset: {preset}}}", criteria)
        assert result.exit_code == 0, (preset, result.output)


def test_a_session_criterion_reaching_the_provider_directly_is_refused(tmp_path):
    """The pytest plugin and the API hand criteria to the provider without the loader."""
    write_ndjson(tmp_path / "export.ndjson", segment_rows(STORY))
    provider = FileProvider(
        FileSettings(events="export.ndjson", preset="segment"),
        ProviderContext(name="export", base_dir=tmp_path),
    )
    criterion = ConversionCriterion(name="c", metric="conversion", journey="j", max_drop="10%")
    window = TimeWindow(label="release", start=moment(0), end=moment(7200))
    with pytest.raises(DataError, match="preset segment has no session id"):
        provider.measure(
            MetricRequest(criterion, journey=JourneySpec(steps=list(JOURNEY))), [window]
        )
    provider.close()


# --- larger generated exports, checked against plain Python ---------------------------------------


def generate(seed: int, *, sessionless: bool, duplicates: bool) -> list[Event]:
    """About 3,000 sessions of 1,800 people. Sessions start on a coarse grid of seconds, so many
    people share a session's start; some people never log in."""
    rng = random.Random(seed)
    baseline_slots = [-23 * 3600 + i * 1800 for i in range(44)]  # half-hour slots, -23 h to -1 h
    release_slots = [60 + j * 1800 for j in range(3)]
    outside = [-30 * 3600, 2 * 3600 + 600]  # before the baseline, after the release window
    events = []
    for number in range(1800):
        person = f"p{number:04d}"
        anonymous = rng.random() < 0.3
        for slot in rng.sample(baseline_slots + release_slots + outside, rng.choice([1, 1, 2, 3])):
            start = slot + rng.choice([0, 1, 2])
            at = start
            for name in session_steps(rng):
                events.append(
                    Event(
                        at,
                        person,
                        None if sessionless and rng.random() < 0.03 else start,
                        name,
                        copies=2 if duplicates and rng.random() < 0.03 else 1,
                        anonymous=anonymous,
                    )
                )
                at += rng.randint(1, 120)  # a session lasts under 15 minutes
    return events


def session_steps(rng: random.Random) -> list[str]:
    if rng.random() < 0.5:  # along the journey, not always to its end
        names = list(JOURNEY[: rng.randint(1, 3)])
    else:  # in any order
        names = [rng.choice(JOURNEY) for _ in range(rng.randint(1, 3))]
    for _ in range(rng.randint(0, 2)):
        names.insert(rng.randint(0, len(names)), rng.choice(["wishlist_add", "search"]))
    return names


def expected(events: list[Event], *, sessions: bool) -> dict[str, tuple[float, float]]:
    """What each criterion must read, computed without SQL: per window, each unit's events in
    time order, a unit converting when the journey's steps appear among them in order."""

    def window(bounds: tuple[int, int]) -> dict[str, float]:
        inside = sorted((e for e in events if bounds[0] <= e.at < bounds[1]), key=lambda e: e.at)
        by_user: dict[str, list[str]] = {}
        by_session: dict[tuple[str, int], list[str]] = {}
        for e in inside:
            by_user.setdefault(e.person, []).append(e.name)
            if e.session is not None:
                by_session.setdefault((e.person, e.session), []).append(e.name)
        values = {}
        for label, units in (("session", by_session), ("user", by_user)):
            started = [names for names in units.values() if JOURNEY[0] in names]
            values[f"by {label}"] = sum(map(converts, started)) / len(started)
            adopters = sum("wishlist_add" in names for names in units.values())
            values[f"wishlist {label}s"] = adopters / len(units)
            values[f"per {label}"] = sum(map(len, units.values())) / len(units)
        values["users"] = len(by_user)
        return values

    baseline, release = window(BASELINE), window(RELEASE)
    names = [n for n in baseline if sessions or "session" not in n]
    return {name: (baseline[name], release[name]) for name in names}


def converts(names: list[str]) -> bool:
    step = 0
    for name in names:
        if name == JOURNEY[step]:
            step += 1
            if step == len(JOURNEY):
                return True
    return False


def write_ga4_shards(events: list[Event], directory: Path) -> str:
    """Daily tables of string INT64s without NULL fields, each extracted to numbered files."""
    directory.mkdir()
    rows = [drop_nulls(r) for r in ga4_rows(events)]
    days = sorted({r["event_date"] for r in rows})
    for day in days:
        of_day = [r for r in rows if r["event_date"] == day]
        for part in range(0, len(of_day), 2500):
            name = f"events_{day}-{part // 2500:012d}.json"
            write_ndjson(directory / name, of_day[part : part + 2500])
    return str(directory.name)


def write_amplitude_hours(events: list[Event], directory: Path) -> str:
    directory.mkdir()
    hours: dict[str, list[dict]] = {}
    for row in amplitude_rows(events):
        hours.setdefault(row["event_time"][:13].replace(" ", "_"), []).append(row)
    for hour, rows in hours.items():
        with gzip.open(directory / f"123456_{hour}#0.json.gz", "wt") as handle:
            handle.writelines(json.dumps(r) + "\n" for r in rows)
    return str(directory.name)


def write_one(rows: list[dict], path: Path) -> str:
    write_ndjson(path, rows)
    return path.name


def write_posthog_parquet(events: list[Event], path: Path) -> str:
    posthog_parquet(posthog_rows(events), path)
    return path.name


GENERATED = {
    # preset: (sessions, sessionless events, duplicate deliveries, writer)
    "ga4": (True, True, False, lambda ev, d: write_ga4_shards(ev, d / "ga4")),
    "amplitude": (True, True, True, lambda ev, d: write_amplitude_hours(ev, d / "amplitude")),
    "mixpanel": (False, False, True, lambda ev, d: write_one(mixpanel_rows(ev), d / "mp.ndjson")),
    "posthog": (True, True, True, lambda ev, d: write_posthog_parquet(ev, d / "ph.parquet")),
    "segment": (False, False, True, lambda ev, d: write_one(segment_rows(ev), d / "s.ndjson")),
    "rudderstack": (
        True,
        True,
        True,
        lambda ev, d: write_one(segment_rows(ev, rudderstack=True), d / "r.ndjson"),
    ),
}


@pytest.mark.parametrize("preset", list(GENERATED))
def test_a_generated_export_reads_as_plain_python_counts_it(tmp_path, preset):
    sessions, sessionless, duplicates, write = GENERATED[preset]
    events = generate(2026, sessionless=sessionless, duplicates=duplicates)
    assert len({(e.person, e.session) for e in events}) > 3000
    shared = {}
    for e in events:
        if e.session is not None:
            shared.setdefault(e.session, set()).add(e.person)
    assert max(map(len, shared.values())) > 20  # many people start sessions in the same second
    source = write(events, tmp_path)
    criteria = (SESSION_CRITERIA if sessions else "") + USER_CRITERIA
    results = judge(tmp_path, f"{{type: file, events: {source}, preset: {preset}}}", criteria)
    assert_values(results, expected(events, sessions=sessions))
    assert results["users"].samples == expected(events, sessions=False)["users"][1]


def test_the_presets_are_the_settings_choices():
    assert set(get_args(FileSettings.model_fields["preset"].annotation)) == set(PRESETS)


def test_exports_that_cannot_be_read_say_why(tmp_path):
    criteria = (
        "  - {name: users, metric: engagement, measure: active_users, min: 1, min_samples: 1}\n"
    )
    (tmp_path / "export.avro").write_bytes(b"Obj\x01")
    mixed = tmp_path / "mixed"
    mixed.mkdir()
    write_ndjson(mixed / "events_20261110.json", ga4_rows(STORY))
    ga4_parquet(ga4_rows(STORY, as_text=False), mixed / "events_20261109.parquet")
    (tmp_path / "empty").mkdir()
    for events, message in (
        ("export.avro", "export Avro tables as Parquet or NEWLINE_DELIMITED_JSON"),
        ("mixed", "names files of several formats (json, parquet)"),
        ("empty", "holds no .parquet, .csv"),
        ("'shards/*.json'", "no file matches"),
    ):
        report = evaluate(
            load(
                write_config(tmp_path, f"{{type: file, events: {events}, preset: ga4}}", criteria)
            ),
            now=NOW,
        )
        (result,) = report.criteria
        assert result.verdict == Verdict.ERROR
        assert message in result.message, result.message


def test_an_export_lacking_the_session_field_names_it(tmp_path):
    # RudderStack's server-side SDKs track no sessions: no context.sessionId anywhere. `validate`
    # reads the export's shape and says so before any query runs.
    write_ndjson(tmp_path / "export.ndjson", segment_rows(STORY))
    path = write_config(
        tmp_path, "{type: file, events: export.ndjson, preset: rudderstack}", SESSION_CRITERIA
    )
    with pytest.raises(ConfigError) as caught:
        load(path)
    assert (
        "the events file has no session_id column (preset rudderstack reads it from anonymousId "
        "(else userId) and context.sessionId); map columns.events.session_id" in str(caught.value)
    )
