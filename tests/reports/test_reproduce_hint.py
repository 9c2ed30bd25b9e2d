"""The reproduce hint in every report: said once per criterion that did not pass, in the Markdown
report's "Why" item, the HTML card, the terminal summary and the JSON report; hostile text stays
text; a long report still fits GitHub's limit. And `seeded:` in cxe.yml, checked at load."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from cxe_gate.errors import ConfigError
from cxe_gate.loader import load
from cxe_gate.report.html import render_html
from cxe_gate.report.markdown import MAX_CHARS, render_markdown
from cxe_gate.report.terminal import render_terminal
from cxe_gate.reproduction import Reproduction
from cxe_gate.results import CriterionResult, GateReport, ReleaseReport, Verdict, WindowReport

DEPLOYED = datetime(2026, 11, 17, 14, tzinfo=UTC)
COMMAND = "pytest tests/seeded -k 'test_home_products or test_checkout'"
# A suite folder with a backtick run and markup: it must neither close the code span nor render.
HOSTILE = "pytest 'tests/``seeded <b>x</b>' -k test_checkout"


def _result(name: str, verdict: Verdict, reproduce: Reproduction | None) -> CriterionResult:
    return CriterionResult(
        name=name, metric="latency", provider="logs", verdict=verdict, severity="fail",
        key=False, weight=1.0, unit="ms", value=900.0, baseline=400.0, threshold=800.0,
        samples=500, p_value=None, message=f"{name} rose", reproduce=reproduce,
    )  # fmt: skip


def _report(*criteria: CriterionResult) -> GateReport:
    window = WindowReport(start=DEPLOYED, end=DEPLOYED)
    return GateReport(
        tool_version="test", generated_at=DEPLOYED, config_file="cxe.yml",
        verdict=Verdict.FAIL, score=50.0, summary="failed",
        release=ReleaseReport(name="shop-1.5.0", deployed_at=DEPLOYED),
        windows={"baseline": window, "release": window}, criteria=list(criteria),
    )  # fmt: skip


def _three() -> GateReport:
    return _report(
        _result("checkout latency", Verdict.FAIL, Reproduction(tests=["a", "b"], command=COMMAND)),
        _result(
            "Apdex", Verdict.WARN, Reproduction(note="'Apdex' has no route filter or funnel steps")
        ),
        _result("home latency", Verdict.PASS, None),
    )


def test_markdown_says_the_command_once_in_the_why_item() -> None:
    text = render_markdown(_three())
    assert text.count(f"reproduce with: `{COMMAND}`") == 1
    why = next(line for line in text.splitlines() if "**checkout latency**" in line)
    assert why.endswith(f"checkout latency rose · reproduce with: `{COMMAND}`")
    apdex = next(line for line in text.splitlines() if "**Apdex**" in line)
    assert apdex.endswith(
        "· no seeded test to reproduce it: 'Apdex' has no route filter or funnel steps"
    )
    assert text.count("reproduce it") == 1
    home = next(line for line in text.splitlines() if "**home latency**" in line)
    assert "reproduce" not in home


def test_a_hostile_command_stays_one_code_span() -> None:
    report = _report(_result("x", Verdict.FAIL, Reproduction(tests=["t"], command=HOSTILE)))
    line = next(x for x in render_markdown(report).splitlines() if "**x**" in x)
    # The longest backtick run inside is 2: a fence of 3 on each side, nothing after it.
    assert line.endswith(f"reproduce with: ```{HOSTILE}```")
    html = render_html(report)
    assert "<b>x</b>" not in html
    assert "Reproduce with: <code>pytest &#x27;tests/``seeded &lt;b&gt;x&lt;/b&gt;&#x27;" in html


def test_html_terminal_and_json_carry_it_once_each() -> None:
    report = _three()
    html = render_html(report)
    assert html.count('class="reproduce"') == 2
    assert html.count("Reproduce with: <code>pytest tests/seeded -k &#x27;test_home_products") == 1
    terminal = render_terminal(report)
    assert terminal.count(f"reproduce with: {COMMAND}") == 1
    assert "no seeded test to reproduce it: 'Apdex' has no route filter" in terminal
    dumped = json.loads(report.model_dump_json())
    assert dumped["criteria"][0]["reproduce"] == {
        "tests": ["a", "b"], "command": COMMAND, "routes": [], "note": None,
    }  # fmt: skip
    assert dumped["criteria"][2]["reproduce"] is None


def test_a_long_report_with_hints_still_fits() -> None:
    many = [
        _result(f"route {n} latency", Verdict.FAIL,
                Reproduction(tests=[f"test_{n}"], command=f"pytest tests/seeded -k test_{n}"))
        for n in range(400)
    ]  # fmt: skip
    text = render_markdown(_report(*many))
    assert len(text) <= MAX_CHARS
    # Every hint shown is whole, and each criterion's at most once.
    shown = re.findall(r"reproduce with: `pytest tests/seeded -k (test_\d+)`", text)
    assert shown and len(shown) == len(set(shown))


CONFIG = """\
providers:
  logs: {type: file, requests: requests.ndjson}
criteria:
  - name: checkout latency
    metric: latency
    percentile: 95
    filter: "route = '/checkout'"
    max: 800ms
seeded:
  map: journeys.json
  suite: seeded
  events:
    purchase: ["POST /checkout", "checkout"]
"""


def test_seeded_files_that_are_not_there_are_configuration_errors_at_their_lines(
    tmp_path: Path,
) -> None:
    (tmp_path / "requests.ndjson").write_text(
        '{"timestamp": "2026-11-10T10:00:00Z", "method": "GET", "route": "/", "path": "/", '
        '"status": 200, "duration_ms": 5, "session_id": "s", "user_id": "u"}\n'
    )
    path = tmp_path / "cxe.yml"
    path.write_text(CONFIG)
    with pytest.raises(ConfigError) as caught:
        load(path)
    problems = "\n".join(caught.value.problems)
    # Line 13: the event's second request is not 'METHOD /route'.
    assert f"{path}:13: seeded.events.purchase[1]: 'checkout' is not a request as" in problems
    path.write_text(CONFIG.replace(', "checkout"', ""))
    with pytest.raises(ConfigError) as caught:
        load(path)
    problems = "\n".join(caught.value.problems)
    # Lines 10 and 11: map and suite, each named with what would write it.
    assert f"{path}:10: seeded.map: no journey map at {tmp_path / 'journeys.json'}" in problems
    assert f"{path}:11: seeded.suite: no seeded suite at {tmp_path / 'seeded'}" in problems
    (tmp_path / "journeys.json").write_text("{}")
    (tmp_path / "seeded").mkdir()
    with pytest.raises(ConfigError) as caught:
        load(path)
    assert caught.value.problems == [
        f"{path}:11: seeded.suite: {tmp_path / 'seeded'} has no seed-manifest.json: not a folder "
        "`cxe-gate seed` wrote (re-seed it)"
    ]
