"""The embedded `file` provider over small files whose answers are computed by hand."""

from __future__ import annotations

import csv
import json

import pytest
from tiny_logs import DEPLOY, EVENTS, at, iso, write_ndjson

from cxe_gate.errors import ConfigError
from cxe_gate.gate import evaluate
from cxe_gate.loader import load
from cxe_gate.results import Verdict


def gate(directory, criteria: str, provider: str = "", journeys: str = "checkout: [a, b, c]"):
    provider = provider or (
        "{type: file, events: events.ndjson, requests: requests.ndjson, feedback: feedback.ndjson}"
    )
    (directory / "cxe.yml").write_text(
        f"release: {{deployed_at: {iso(DEPLOY)}}}\n"
        "windows: {baseline: 24h, release: 2h}\n"
        f"providers:\n  local: {provider}\n"
        f"journeys:\n  {journeys}\n"
        f"criteria:\n{criteria}"
    )
    return evaluate(load(directory / "cxe.yml"))


def one(directory, criterion: str, **kwargs):
    report = gate(directory, f"  - {{{criterion}, min_samples: 1}}\n", **kwargs)
    return report.criteria[0]


def test_conversion_counts_steps_in_order_among_units_that_started(shop_files):
    result = one(shop_files, "name: conv, metric: conversion, journey: checkout, max_drop: 90%")
    assert (result.baseline, result.baseline_samples) == (0.5, 4)  # s1 and s3 of s1..s4
    assert result.value == pytest.approx(1 / 3)  # s5 of s5..s7
    assert result.details["release"] == {
        "successes": 1,
        "trials": 3,
        "step 1: a": 3,
        "step 2: b": 2,
        "step 3: c": 1,
    }


def test_conversion_by_user(shop_files):
    result = one(
        shop_files, "name: conv, metric: conversion, journey: checkout, unit: user, max_drop: 90%"
    )
    # baseline users u1..u4; u4's a (s4) comes before its b, c (s9): by user it converts
    assert result.baseline == pytest.approx(3 / 4)


def test_conversion_within_a_time_limit(shop_files):
    result = one(
        shop_files,
        "name: conv, metric: conversion, journey: checkout, max_drop: 90%",
        journeys="checkout: {steps: [a, b, c], within: 2m}",
    )
    assert result.baseline == pytest.approx(1 / 4)  # s1 takes 2 minutes from a to c, s3 takes 3


def test_error_rate_apdex_and_latency(shop_files):
    report = gate(
        shop_files,
        """\
  - {name: errors, metric: error_rate, max: 50%, min_samples: 1, test: none}
  - {name: client errors too, metric: error_rate, errors: "status >= 400", max: 50%, min_samples: 1, test: none}
  - {name: apdex, metric: apdex, t: 200ms, min: 0.1, min_samples: 1}
  - {name: median, metric: latency, percentile: 50, max: 1s, min_samples: 1}
""",
    )
    errors, client, apdex, median = report.criteria
    assert (errors.baseline, errors.value) == (0.25, 0.2)
    assert client.value == pytest.approx(0.4)
    assert apdex.baseline == pytest.approx(0.375)
    # release: 100, 100 satisfied (and 404 at 100 ms: not an error by default), 500 tolerating,
    # the 500 failed → (3 + 0.5) / 5
    assert apdex.value == pytest.approx(0.7)
    assert apdex.details["release"] == {"satisfied": 3, "tolerating": 1, "frustrated": 1}
    assert median.baseline == pytest.approx(225.0)  # between 150 and 300
    assert median.value == pytest.approx(100.0)


def test_nps_csat_and_engagement(shop_files):
    report = gate(
        shop_files,
        """\
  - {name: nps, metric: feedback, scale: nps, filter: "survey = 'nps'", min: -100, min_samples: 1}
  - {name: csat, metric: feedback, scale: csat, filter: "survey = 'csat'", min: 0%, min_samples: 1}
  - {name: wishlist, metric: engagement, measure: adoption, event: wishlist_add, min: 0%, min_samples: 1}
  - {name: wishlist users, metric: engagement, measure: adoption, unit: user, event: wishlist_add, min: 0%,
     min_samples: 1}
  - {name: per session, metric: engagement, measure: events_per_session, min: 0, min_samples: 1}
  - {name: per user, metric: engagement, measure: events_per_user, min: 0, min_samples: 1}
  - {name: users, metric: engagement, measure: active_users, min: 1, min_samples: 1}
""",
    )
    nps, csat, wishlist, wishlist_users, per_session, per_user, users = report.criteria
    assert nps.baseline == pytest.approx(0.0)  # 2 promoters, 2 detractors of 6
    assert nps.value == pytest.approx(100 * (2 - 1) / 3)
    assert csat.value == pytest.approx(2 / 3)
    assert wishlist.value == pytest.approx(1 / 3)  # s5 of s5, s6, s7
    assert wishlist_users.value == pytest.approx(1 / 3)  # u1 of u1, u5, u6
    assert per_session.value == pytest.approx(7 / 3)  # 7 events, 3 sessions
    assert per_user.value == pytest.approx(7 / 3)  # 7 events, 3 users
    # baseline: u4 has two sessions (s4, s9), so per session and per user differ
    assert per_session.baseline == pytest.approx(13 / 5)
    assert per_user.baseline == pytest.approx(13 / 4)
    assert users.value == 3


def test_a_custom_query_with_window_parameters(shop_files):
    result = one(
        shop_files,
        'name: big orders, metric: custom, max: 100, query: "SELECT count(*) AS '
        "value, count(*) AS samples FROM events WHERE event = 'c' AND ts >= $start "
        'AND ts < $end"',
    )
    assert (result.baseline, result.value) == (4, 1)  # s1, s2, s3, s9; s5


def test_parquet_and_csv_read_the_same(shop_files):
    import duckdb

    duckdb.execute(
        f"COPY (SELECT * FROM read_json('{shop_files}/events.ndjson')) TO "
        f"'{shop_files}/events.parquet'"
    )
    rows = [json.loads(line) for line in (shop_files / "events.ndjson").read_text().splitlines()]
    with (shop_files / "events.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    for name in ("events.parquet", "events.csv"):
        result = one(
            shop_files,
            "name: conv, metric: conversion, journey: checkout, max_drop: 90%",
            provider=f"{{type: file, events: {name}}}",
        )
        assert (result.baseline, result.value) == (0.5, pytest.approx(1 / 3)), name


def _preset_rows(preset: str) -> list[dict]:
    rows = []
    for minutes, session, user, event in EVENTS:
        moment = at(minutes)
        if preset == "ga4":
            rows.append(
                {
                    "event_timestamp": int(moment.timestamp() * 1_000_000),
                    "event_name": event,
                    "user_pseudo_id": user,
                    "event_params": [
                        {"key": "page_title", "value": {"string_value": "x", "int_value": None}},
                        {
                            "key": "ga_session_id",
                            "value": {"string_value": None, "int_value": int(session[1:])},
                        },
                    ],
                }
            )
        elif preset == "amplitude":
            rows.append(
                {
                    "event_time": moment.strftime("%Y-%m-%d %H:%M:%S.%f"),
                    "event_type": event,
                    "user_id": None if user == "u4" else user,
                    "device_id": "d-" + user,
                    "session_id": 1_700_000_000_000 + int(session[1:]),
                }
            )
        else:  # segment
            rows.append(
                {
                    "type": "track",
                    "timestamp": iso(moment),
                    "event": event,
                    "userId": user,
                    "anonymousId": "a-" + user,
                    "properties": {"session": session},
                }
            )
    return rows


@pytest.mark.parametrize("preset", ["ga4", "amplitude", "segment"])
def test_presets_for_common_exports(tmp_path, preset):
    write_ndjson(tmp_path / "export.ndjson", _preset_rows(preset))
    unit = "user" if preset == "segment" else "session"  # Segment has no session id
    result = one(
        tmp_path,
        f"name: conv, metric: conversion, journey: checkout, unit: {unit}, max_drop: 90%",
        provider=f"{{type: file, events: export.ndjson, preset: {preset}}}",
    )
    assert result.verdict != Verdict.ERROR, result.message
    assert result.baseline == pytest.approx(0.5 if unit == "session" else 0.75)
    assert result.value == pytest.approx(1 / 3)


def test_segment_without_sessions_says_what_to_map(tmp_path):
    write_ndjson(tmp_path / "export.ndjson", _preset_rows("segment"))
    with pytest.raises(ConfigError) as refused:  # known before any query: refused at load
        one(
            tmp_path,
            "name: conv, metric: conversion, journey: checkout, max_drop: 90%",
            provider="{type: file, events: export.ndjson, preset: segment}",
        )
    (problem,) = refused.value.problems
    assert "criteria[0].journey: preset segment has no session id" in problem
    assert "columns.events.session_id" in problem and "unit: user" in problem


def test_malformed_and_missing_files_are_errors_never_passes(shop_files):
    (shop_files / "requests.ndjson").write_text('{"timestamp": "2026-11-10T14:05:00Z", "status": 2')
    report = gate(
        shop_files,
        """\
  - {name: errors, metric: error_rate, max: 50%, min_samples: 1}
  - {name: conv, metric: conversion, journey: checkout, max_drop: 90%, min_samples: 1}
""",
    )
    errors, conversion = report.criteria
    assert errors.verdict == Verdict.ERROR
    assert "requests.ndjson" in errors.message
    assert conversion.verdict != Verdict.ERROR  # one broken file fails only its criteria
    assert report.verdict == Verdict.ERROR

    (shop_files / "requests.ndjson").unlink()
    result = one(shop_files, "name: errors, metric: error_rate, max: 50%")
    assert result.verdict == Verdict.ERROR
    assert "no file matches" in result.message and "requests.ndjson" in result.message


def test_scores_off_the_scale_are_a_data_error(shop_files):
    # no filter: the NPS answers (0-10) are read as CSAT (1-5)
    result = one(shop_files, "name: csat, metric: feedback, scale: csat, min: 0%")
    assert result.verdict == Verdict.ERROR
    assert "CSAT scores are not whole numbers from 1 to 5" in result.message


def test_the_provider_never_prints(shop_files, capfd):
    from cxe_gate.providers.base import ProviderContext
    from cxe_gate.providers.file import FileProvider, FileSettings

    one(shop_files, "name: conv, metric: conversion, journey: checkout, max_drop: 90%")
    assert capfd.readouterr().out == ""
    # Long queries make DuckDB draw a progress bar on stdout unless the connection forbids it.
    provider = FileProvider(
        FileSettings(events="events.ndjson"), ProviderContext(name="local", base_dir=shop_files)
    )
    try:
        query = "SELECT current_setting('enable_progress_bar')"
        assert provider._tables.connect().execute(query).fetchone()[0] is False
    finally:
        provider.close()


def test_a_text_where_a_number_belongs_names_the_row(tmp_path):
    (tmp_path / "requests.csv").write_text(
        "timestamp,status,duration_ms\n"
        f"{iso(at(5))},200,12\n{iso(at(6))},200,13\n{iso(at(7))},abc,13\n"
    )
    result = one(
        tmp_path,
        "name: errors, metric: error_rate, max: 1%",
        provider="{type: file, requests: requests.csv}",
    )
    assert result.verdict == Verdict.ERROR
    assert "requests.csv: data row 3: status is 'abc', expected a number" in result.message


def test_numbers_written_as_strings_still_count(tmp_path):
    write_ndjson(
        tmp_path / "requests.ndjson",
        [
            {"timestamp": iso(at(m)), "status": str(st), "duration_ms": str(d)}
            for m, st, d in ((5, 200, 10), (6, 503, 20), (-5, 200, 10), (-6, 200, 10))
        ],
    )
    result = one(
        tmp_path,
        "name: errors, metric: error_rate, max: 60%",
        provider="{type: file, requests: requests.ndjson}",
    )
    assert (result.baseline, result.value) == (0.0, 0.5)
