"""Friction signals from a session-replay or RUM export (rage clicks, dead clicks, JavaScript
errors), judged as ordinary criteria by the file provider: the examples of docs/concepts/metrics.md,
run on a hand-built export whose numbers are worked out in the comments."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cxe_gate.gate import evaluate
from cxe_gate.loader import load
from cxe_gate.results import Verdict

DEPLOY = datetime(2026, 11, 10, 14, tzinfo=UTC)
NOW = DEPLOY + timedelta(hours=3)

# (minutes from the deploy, session, events besides its page view)
# baseline (the 24h before): b1 two rage clicks; b2 a JS error; b3 nothing; b4 a rage and a dead
# click. release (the 2h after): r1 three rage clicks; r2 and r3 a JS error each; r4 a rage click
# and two dead clicks.
SESSIONS = [
    (-600, "b1", ["rage_click", "rage_click"]),
    (-500, "b2", ["js_error"]),
    (-400, "b3", []),
    (-300, "b4", ["rage_click", "dead_click"]),
    (10, "r1", ["rage_click", "rage_click", "rage_click"]),
    (20, "r2", ["js_error"]),
    (30, "r3", ["js_error"]),
    (40, "r4", ["rage_click", "dead_click", "dead_click"]),
]
# Per active session (4 a window): rage clicks 3/4 = 0.75 → 4/4 = 1.0; dead clicks 1/4 = 0.25 →
# 2/4 = 0.5; sessions with a JS error 1/4 = 25% → 2/4 = 50%.
CRITERIA = """\
release: {deployed_at: 2026-11-10T14:00:00Z}
windows: {baseline: 24h, release: 2h}
providers:
  rum: {type: file, events: rum.ndjson}
criteria:
  - {name: rage clicks, metric: engagement, measure: events_per_session, event: rage_click,
     max_rise: 50%, min_samples: 1, test: none}
  - {name: dead clicks, metric: engagement, measure: events_per_session, event: dead_click,
     max_rise: 50%, min_samples: 1, test: none}
  - {name: sessions with a JS error, metric: engagement, measure: adoption, event: js_error,
     max: 40%, min_samples: 1, test: none}
"""


def test_friction_signals_are_criteria_like_any_other(tmp_path: Path):
    rows = []
    for minutes, session, events in SESSIONS:
        at = DEPLOY + timedelta(minutes=minutes)
        for n, event in enumerate(["page_view", *events]):
            when = (at + timedelta(seconds=n)).isoformat().replace("+00:00", "Z")
            rows.append(
                {"timestamp": when, "session_id": session, "user_id": session, "event": event}
            )
    (tmp_path / "rum.ndjson").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (tmp_path / "cxe.yml").write_text(CRITERIA)
    report = evaluate(load(tmp_path / "cxe.yml"), now=NOW)
    found = {c.name: c for c in report.criteria}
    rage, dead, errors = (
        found["rage clicks"],
        found["dead clicks"],
        found["sessions with a JS error"],
    )
    assert (rage.baseline, rage.value) == (0.75, 1.0)
    assert rage.verdict == Verdict.PASS  # a 33% rise, within 50%
    assert (dead.baseline, dead.value) == (0.25, 0.5)
    assert dead.verdict == Verdict.FAIL  # doubled: a 100% rise
    assert (errors.baseline, errors.value) == (0.25, 0.5)
    assert errors.verdict == Verdict.FAIL  # half the sessions, above 40%
    assert report.verdict == Verdict.FAIL
