"""Retention on a hand-built event log, the same numbers from the file provider (NDJSON) and the sql
provider on DuckDB and on ClickHouse (chdb): day-N retention in 24-hour blocks from each user's
first event, `within` as a later session, new and active cohorts, and a follow-up the data do not
reach yet, which is inconclusive whatever `no_data` says."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest
from engine_gate import judge, tables, values
from engine_tables import Logs, write_chdb, write_duckdb, write_files
from tiny_logs import DEPLOY

from cxe_gate.results import Verdict

H, D = timedelta(hours=1), timedelta(days=1)
M = timedelta(minutes=1)


def t(offset: timedelta) -> datetime:
    return DEPLOY + offset


# (time, session, user, event). Windows: baseline [DEPLOY - 24h, DEPLOY), release [DEPLOY,
# DEPLOY + 2h). "Day N" below is [first_seen + N x 24h, first_seen + (N+1) x 24h).
EVENTS = [
    # u0: first seen three days before the baseline: never new; active in the release window
    # from +30m, and back 29 h later (day 1 of the active cohort).
    (t(-3 * D), "s0", "u0", "page_view"),
    (t(30 * M), "s0b", "u0", "page_view"),
    (t(30 * M + D + 5 * H), "s0c", "u0", "page_view"),
    # --- new in the release window: r1..r5 -------------------------------------------------
    # r1: back at +1d1h (day 1) and at +7d2h (day 7).
    (t(10 * M), "sA", "r1", "page_view"),
    (t(10 * M + D + H), "sB", "r1", "page_view"),
    (t(10 * M + 7 * D + 2 * H), "sC", "r1", "search"),
    # r2: more of its first session 5 minutes on (no return), a new session at +23h (within
    # 7d, but before day 1), and one at exactly +8d (day 8, not day 7: the block is half-open).
    (t(20 * M), "sD", "r2", "page_view"),
    (t(25 * M), "sD", "r2", "search"),
    (t(20 * M + 23 * H), "sE", "r2", "page_view"),
    (t(20 * M + 8 * D), "sF", "r2", "page_view"),
    # r3: never back.
    (t(60 * M), "sG", "r3", "page_view"),
    # r4: back at exactly +48h: day 2, so not day 1; within 7d.
    (t(90 * M), "sH", "r4", "page_view"),
    (t(90 * M + 2 * D), "sI", "r4", "page_view"),
    # r5: back at +7d23h59m: day 7, but after 7 days.
    (t(119 * M), "sJ", "r5", "page_view"),
    (t(119 * M + 7 * D + 23 * H + 59 * M), "sK", "r5", "page_view"),
    # --- new in the baseline window: b1..b4 ------------------------------------------------
    (t(-20 * H), "sL", "b1", "page_view"),  # back at +30h: day 1, within 7d
    (t(-20 * H + 30 * H), "sM", "b1", "page_view"),
    (t(-10 * H), "sN", "b2", "page_view"),  # back at +7d12h: day 7, after 7 days
    (t(-10 * H + 7 * D + 12 * H), "sO", "b2", "page_view"),
    (t(-5 * H), "sP", "b3", "page_view"),  # never back
    (t(-1 * H), "sQ", "b4", "page_view"),  # back at +6d: within 7d only
    (t(-1 * H + 6 * D), "sR", "b4", "page_view"),
    # z: first seen after both windows, in no cohort: the log goes on past each follow-up's end
    # (day 1 of the release window's last users ends at +2d2h, day 7 at +8d2h); it ends at +9d.
    (t(2 * D + 3 * H), "sY", "z", "page_view"),
    (t(9 * D), "sZ", "z", "page_view"),
]
LOGS = Logs(
    events=EVENTS,
    requests=[(t(M), "/", 200, 12.0)],
    feedback=[(t(M), "nps", 9)],
)

# Worked out from the comments above: (baseline, release).
#   new, day 1:   baseline b1 of b1..b4 = 1/4; release r1 of r1..r5 = 1/5
#   new, day 7:   baseline b2 = 1/4; release r1, r5 = 2/5
#   new, within 7d: baseline b1, b4 = 2/4; release r1, r2, r4 = 3/5
#   active, day 1: baseline b1 = 1/4; release r1 and u0 of r1..r5, u0 = 2/6
CRITERIA = """\
  - {name: day 1, metric: retention, day: 1, max_drop: 90%, min_samples: 1}
  - {name: day 7, metric: retention, day: 7, max_drop: 90%, min_samples: 1}
  - {name: within 7d, metric: retention, within: 7d, max_drop: 90%, min_samples: 1}
  - {name: active day 1, metric: retention, day: 1, cohort: active, max_drop: 90%,
     min_samples: 1}
"""
WANTED = {
    "day 1": (1 / 4, 1 / 5),
    "day 7": (1 / 4, 2 / 5),
    "within 7d": (2 / 4, 3 / 5),
    "active day 1": (1 / 4, 2 / 6),
}


def _provider(kind: str, directory: Path) -> str:
    if kind == "file":
        write_files(LOGS, directory)
        return "{type: file, events: events.ndjson, requests: requests.ndjson}"
    if kind == "duckdb":
        write_duckdb(LOGS, directory / "events.duckdb")
        return f"{{type: sql, url: 'duckdb:///{directory}/events.duckdb', {tables('logs')}}}"
    write_chdb(LOGS, directory / "chdb")
    return f"{{type: sql, url: 'chdb:///{directory}/chdb', {tables('logs')}}}"


ENGINES = ("file", "duckdb", "chdb")


@pytest.mark.parametrize("engine", ENGINES)
def test_each_engine_counts_the_returns_worked_out_by_hand(tmp_path: Path, engine: str):
    report = judge(tmp_path, _provider(engine, tmp_path), CRITERIA)
    found = values(report)
    assert found.keys() == WANTED.keys()
    for name, (baseline, release) in WANTED.items():
        assert found[name] == (pytest.approx(baseline), pytest.approx(release)), name
    day7 = next(c for c in report.criteria if c.name == "day 7")
    assert day7.samples == 5  # users, each a trial of the two-proportion test
    assert day7.verdict == Verdict.PASS


@pytest.mark.parametrize("engine", ENGINES)
def test_a_follow_up_the_data_do_not_reach_is_not_yet_measurable(tmp_path: Path, engine: str):
    # Day 30 of the release window's last users ends at DEPLOY + 2h + 31d; the data end at +9d.
    criteria = (
        "  - {name: day 30, metric: retention, day: 30, max_drop: 10%, min_samples: 1, "
        "no_data: fail}\n"
    )
    report = judge(tmp_path, _provider(engine, tmp_path), criteria)
    (result,) = report.criteria
    assert result.verdict == Verdict.INCONCLUSIVE, result.message
    assert "not yet measurable" in result.message
    assert "2026-12-11 16:00 UTC" in result.message  # 2026-11-10 14:00 + 2h + 31d


def test_a_drop_in_retention_fails_with_a_two_proportion_test(tmp_path: Path):
    # 40 users new in the baseline window all come back on day 1; of 40 new in the release
    # window none do: 100% -> 0%, far beyond a 20% drop, p far below 0.05.
    events = []
    for i in range(40):
        events.append((t(-20 * H + i * M), f"b{i}", f"bu{i}", "page_view"))
        events.append((t(-20 * H + i * M + 25 * H), f"b{i}x", f"bu{i}", "page_view"))
        events.append((t(10 * M + i * M), f"r{i}", f"ru{i}", "page_view"))
    events.append((t(3 * D), "end", "z", "page_view"))  # the data reach day 1 of everyone
    logs = Logs(events=events, requests=LOGS.requests, feedback=LOGS.feedback)
    write_files(logs, tmp_path)
    provider = "{type: file, events: events.ndjson, requests: requests.ndjson}"
    criteria = "  - {name: day 1, metric: retention, day: 1, max_drop: 20%, min_samples: 30}\n"
    (result,) = judge(tmp_path, provider, criteria).criteria
    assert (result.baseline, result.value, result.samples) == (1.0, 0.0, 40)
    assert result.verdict == Verdict.FAIL, result.message
    assert result.p_value is not None and result.p_value < 0.001


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ("day: 7, within: 7d", "give day .day-N retention. or within"),
        ("max_drop: 10", "is ambiguous"),
        ("day: 0", "greater than or equal to 1"),
    ],
)
def test_a_malformed_retention_criterion_is_refused_at_load(tmp_path, fields, expected):
    from cxe_gate.errors import ConfigError

    criteria = f"  - {{name: r, metric: retention, max_drop: 10%, {fields}}}\n".replace(
        "max_drop: 10%, max_drop: 10", "max_drop: 10, day: 1"
    )
    with pytest.raises(ConfigError, match=expected):
        judge(tmp_path, "{type: file, events: events.ndjson}", criteria)


@pytest.mark.parametrize(
    ("provider", "refusal"),
    [
        ("ga4", "cannot measure retention"),
        ("amplitude", "cannot measure retention"),
        # mixpanel reads day-N retention of new users (test_mixpanel_retention.py), given the
        # event that makes a user new
        ("mixpanel", "needs the event that makes a user new: set first_event"),
    ],
)
def test_analytics_services_refuse_retention_at_load(tmp_path, provider, refusal):
    from cxe_gate.errors import ConfigError

    settings = {
        "ga4": "{type: ga4, property_id: '123', credentials: '${GA4_KEY}'}",
        "amplitude": "{type: amplitude, api_key: '${AMP_KEY}', secret_key: '${AMP_SECRET}'}",
        "mixpanel": "{type: mixpanel, project_id: 1, username: '${MP_USER}', secret: '${MP_S}'}",
    }[provider]
    criteria = "  - {name: r, metric: retention, day: 7, max_drop: 10%}\n"
    with pytest.raises(ConfigError, match=refusal):
        judge(tmp_path, settings, criteria)


# --- checkpoints: every checkpoint judges the gate window's cohort -------------------------------
# checkpoints {gate: 2h, day1: 24h, day3: 3d}, baseline 24h. The release cohort is the users first
# seen in the gate window [DEPLOY, DEPLOY + 2h); the baseline cohort those first seen in the
# baseline window's last 2 hours [DEPLOY - 2h, DEPLOY). Day 1 is [first_seen + 24h, + 48h).
COHORT_EVENTS = [
    (t(-3 * D), "c0", "u0", "page_view"),  # u0: never new
    (t(30 * M), "c0b", "u0", "page_view"),
    # --- release cohort: r1..r3 (new in 0-2h) ---
    (t(10 * M), "c1", "r1", "page_view"),  # r1: back at +25h, day 1
    (t(10 * M + 25 * H), "c1b", "r1", "page_view"),
    (t(20 * M), "c2", "r2", "page_view"),  # r2: never back
    (t(90 * M), "c3", "r3", "page_view"),  # r3: back at +24h30m, day 1
    (t(90 * M + D + 30 * M), "c3b", "r3", "page_view"),
    # --- new after the gate window, inside day3's window [0, 3d): in no checkpoint's cohort ---
    (t(5 * H), "c4", "n1", "page_view"),  # n1: back at +30h, day 1
    (t(5 * H + 30 * H), "c4b", "n1", "page_view"),
    (t(10 * H), "c5", "n2", "page_view"),  # n2: never back
    # --- baseline cohort: b1, b2 (new in the last 2 hours before the deploy) ---
    (t(-90 * M), "c6", "b1", "page_view"),  # b1: back at +25h, day 1
    (t(-90 * M + 25 * H), "c6b", "b1", "page_view"),
    (t(-30 * M), "c7", "b2", "page_view"),  # b2: never back
    # --- new earlier in the 24-hour baseline window: only in a 24-hour cohort ---
    (t(-10 * H), "c8", "b3", "page_view"),  # b3: back at +26h, day 1
    (t(-10 * H + 26 * H), "c8b", "b3", "page_view"),
    # z: the log goes on past the last follow-up's end (day 1 of users first seen at up to 2h
    # ends at 2d2h; of a 24-hour cohort at 3d), inside the day after it that the query reads.
    (t(2 * D + 6 * H), "c9", "z", "page_view"),
    (t(3 * D + 6 * H), "c9b", "z", "page_view"),
]
COHORT_LOGS = Logs(events=COHORT_EVENTS, requests=LOGS.requests, feedback=LOGS.feedback)
COHORT_CHECKPOINTS = "{gate: 2h, day1: 24h, day3: 3d}"


def _judge_at(directory: Path, provider: str, criteria: str, checkpoint: str, checkpoints: str):
    from tiny_logs import iso

    from cxe_gate.gate import at_checkpoint, evaluate
    from cxe_gate.loader import load

    (directory / "cxe.yml").write_text(
        f"release: {{deployed_at: {iso(DEPLOY)}}}\n"
        "windows: {baseline: 24h}\n"
        f"checkpoints: {checkpoints}\n"
        f"providers:\n  db: {provider}\n"
        f"criteria:\n{criteria}"
    )
    loaded = at_checkpoint(load(directory / "cxe.yml"), checkpoint)
    return evaluate(loaded, now=DEPLOY + 5 * D)


def _cohort_provider(kind: str, directory: Path) -> str:
    if kind == "file":
        write_files(COHORT_LOGS, directory)
        return "{type: file, events: events.ndjson, requests: requests.ndjson}"
    if kind == "duckdb":
        write_duckdb(COHORT_LOGS, directory / "events.duckdb")
        return f"{{type: sql, url: 'duckdb:///{directory}/events.duckdb', {tables('logs')}}}"
    write_chdb(COHORT_LOGS, directory / "chdb")
    return f"{{type: sql, url: 'chdb:///{directory}/chdb', {tables('logs')}}}"


@pytest.mark.parametrize("engine", ENGINES)
def test_a_later_checkpoint_judges_the_gate_windows_cohort(tmp_path: Path, engine: str):
    # day3's release window is [0, 3d); its cohort stays the gate window's: r1, r3 of r1..r3 back
    # on day 1 = 2/3 (the whole window's new users would give r1, r3, n1 of 5 = 3/5); baseline
    # b1 of b1, b2 = 1/2 (the whole 24-hour baseline: b1, b3 of 3 = 2/3).
    criteria = (
        "  - {name: day 1, metric: retention, day: 1, max_drop: 90%, min_samples: 1, at: [day3]}\n"
    )
    report = _judge_at(
        tmp_path, _cohort_provider(engine, tmp_path), criteria, "day3", COHORT_CHECKPOINTS
    )
    (result,) = report.criteria
    assert (result.baseline, result.value) == (pytest.approx(1 / 2), pytest.approx(2 / 3))
    assert result.samples == 3
    assert result.verdict == Verdict.PASS, result.message


def test_a_checkpoint_with_a_window_of_its_own_still_judges_the_gate_windows_cohort(tmp_path):
    # day3 judges [2d, 3d) for other criteria; retention still counts the gate window's users:
    # the same 1/2 and 2/3 as above.
    checkpoints = "{gate: 2h, day1: 24h, day3: {after: 3d, window: 24h}}"
    criteria = (
        "  - {name: day 1, metric: retention, day: 1, max_drop: 90%, min_samples: 1, at: [day3]}\n"
    )
    report = _judge_at(tmp_path, _cohort_provider("file", tmp_path), criteria, "day3", checkpoints)
    (result,) = report.criteria
    assert (result.baseline, result.value) == (pytest.approx(1 / 2), pytest.approx(2 / 3))
    assert report.windows["release"].start == DEPLOY + 2 * D


def test_checkpoints_whose_windows_start_apart_judge_the_same_cohort(tmp_path):
    # day3's window is [2d, 3d), day4's [0, 4d): each places the gate window's cohort from its
    # own start (2d before it, and at it), so both judge the same users: 1/2 and 2/3 as above.
    checkpoints = "{gate: 2h, day3: {after: 3d, window: 24h}, day4: 4d}"
    criteria = (
        "  - {name: day 1, metric: retention, day: 1, max_drop: 90%, min_samples: 1,"
        " at: [day3, day4]}\n"
    )
    provider = _cohort_provider("file", tmp_path)
    for checkpoint, start in (("day3", DEPLOY + 2 * D), ("day4", DEPLOY)):
        report = _judge_at(tmp_path, provider, criteria, checkpoint, checkpoints)
        (result,) = report.criteria
        assert (result.baseline, result.value) == (pytest.approx(1 / 2), pytest.approx(2 / 3))
        assert report.windows["release"].start == start
        assert any(
            "users first seen 2026-11-10 14:00 UTC to 2026-11-10 16:00 UTC" in n
            for n in result.notes
        )


def test_cohort_window_widens_both_cohorts(tmp_path: Path):
    # cohort_window: 24h: release users first seen in [0, 24h): r1, r2, r3, n1, n2, back on day 1
    # r1, r3, n1 = 3/5; baseline [-24h, 0): b1, b2, b3, back b1, b3 = 2/3. Known at 24h + 48h = 3d:
    # day3 is just late enough.
    criteria = (
        "  - {name: day 1, metric: retention, day: 1, cohort_window: 24h, max_drop: 90%,"
        " min_samples: 1, at: [day3]}\n"
    )
    report = _judge_at(
        tmp_path, _cohort_provider("file", tmp_path), criteria, "day3", COHORT_CHECKPOINTS
    )
    (result,) = report.criteria
    assert (result.baseline, result.value) == (pytest.approx(2 / 3), pytest.approx(3 / 5))
    assert any(
        "users first seen 2026-11-10 14:00 UTC to 2026-11-11 14:00 UTC" in n for n in result.notes
    )


def test_a_checkpoint_before_the_follow_up_ends_is_refused_at_load(tmp_path: Path):
    from cxe_gate.errors import ConfigError

    # day 7 of the gate window's last users (first seen up to 2h) ends at 2h + 8d = 8d2h: day3
    # (3d) is too early, and no declared checkpoint is late enough.
    criteria = "  - {name: r7, metric: retention, day: 7, max_drop: 10%, at: [day3]}\n"
    with pytest.raises(ConfigError) as raised:
        _judge_at(
            tmp_path, _cohort_provider("file", tmp_path), criteria, "day3", COHORT_CHECKPOINTS
        )
    text = str(raised.value)
    # line 7: release, windows, checkpoints, providers, db, criteria, then the criterion
    assert "cxe.yml:7: criteria[0].at:" in text
    assert "'r7'" in text and "checkpoint day3 (3d) is too early" in text
    assert "known 194h after it" in text and "add one at 194h or later" in text  # 8d2h
    # With a checkpoint late enough declared, the message names it.
    later = "{gate: 2h, day3: 3d, week2: 9d}"
    with pytest.raises(ConfigError, match=r"judge it at week2 \(9d\), the earliest checkpoint"):
        _judge_at(tmp_path, _cohort_provider("file", tmp_path), criteria, "day3", later)


def test_cohort_window_without_checkpoints_is_refused(tmp_path: Path):
    from cxe_gate.errors import ConfigError

    criteria = "  - {name: r, metric: retention, day: 1, cohort_window: 24h, max_drop: 10%}\n"
    with pytest.raises(ConfigError, match="cohort_window places the cohort"):
        judge(tmp_path, _cohort_provider("file", tmp_path), criteria)
