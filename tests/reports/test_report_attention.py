"""What a team reads first: failed criteria first in every format, the score's policy lines,
warn-only criteria marked, the report's links, each query once, and a Markdown summary that fits
a pull-request comment however many criteria there are."""

from __future__ import annotations

import html
import re
from datetime import timedelta
from pathlib import Path

import pytest
from test_report_formats import DEPLOYED, _criterion, make_report

from cxe_gate.gate import evaluate
from cxe_gate.loader import load
from cxe_gate.report.html import render_html
from cxe_gate.report.markdown import render_markdown
from cxe_gate.report.terminal import render_terminal
from cxe_gate.results import GateReport, Verdict

# GitHub refuses a comment or step summary longer than this.
GITHUB_LIMIT = 65_536
# The fixture's criteria in file order are pass, warn, fail, inconclusive, error; attention order
# is error, fail, warn, inconclusive, pass: the reverse.
ATTENTION = ["signups", "NPS", "warn", "checkout conversion", "error rate"]


def _order(text: str, names: list[str]) -> list[str]:
    return sorted(names, key=text.index)


def test_every_format_lists_criteria_needing_attention_first() -> None:
    report = make_report()
    plain = [c.name for c in report.criteria]
    warn_name = next(n for n in plain if "script" in n)
    expected = [warn_name if n == "warn" else n for n in ATTENTION]

    terminal = render_terminal(report)
    assert _order(terminal, plain) == expected
    markdown = html.unescape(render_markdown(report))
    table = markdown.split("| Verdict |")[1].split("### Why")[0]  # the summary names NPS too
    assert _order(table, [n.split("\n")[0] for n in plain]) == [n.split("\n")[0] for n in expected]
    cards = html.unescape(render_html(report).split('<section class="cards">')[1])
    assert _order(cards, [n.split("<")[0] for n in plain]) == [n.split("<")[0] for n in expected]


def test_file_order_holds_within_a_verdict() -> None:
    failed = [
        _criterion(
            name=n,
            metric="custom",
            verdict=Verdict.FAIL,
            unit="",
            value=1.0,
            baseline=0.0,
            message="m",
        )
        for n in ("zeta", "alpha", "mid")
    ]
    passed = _criterion(
        name="first",
        metric="custom",
        verdict=Verdict.PASS,
        unit="",
        value=1.0,
        baseline=1.0,
        message="m",
    )
    report = make_report(criteria=[passed, *failed])
    names = ["first", "zeta", "alpha", "mid"]

    assert _order(render_terminal(report), names) == ["zeta", "alpha", "mid", "first"]
    assert _order(render_markdown(report), names) == ["zeta", "alpha", "mid", "first"]


def test_warn_only_criteria_are_marked() -> None:
    report = make_report()  # the second criterion has severity warn

    assert render_markdown(report).count("(warn only)") == 2  # its table row and its details
    assert render_html(report).count('class="badge warn-only"') == 1
    assert render_terminal(report).count("[warn only]") == 1


def _scored(policy: str | None) -> GateReport:
    fields = {"policy": policy, "pass_score": 90.0, "warn_score": 75.0} if policy else {}
    return make_report(verdict=Verdict.WARN).model_copy(update=fields)


def test_the_score_policy_is_shown_under_policy_score() -> None:
    line = "policy score: pass at 90 or more, warn from 75, fail below 75"

    assert f"**Score** 62.5/100 ({line})" in render_markdown(_scored("score"))
    assert f"<dd>62.5 / 100 ({line})</dd>" in render_html(_scored("score"))
    assert line in render_terminal(_scored("score")).splitlines()[-1]
    for report in (_scored("any_fail"), _scored(None)):
        assert "policy score" not in render_markdown(report)
        assert "policy score" not in render_html(report)


def test_an_old_json_report_still_loads() -> None:
    # A report written before series, policy and links existed: none of those keys.
    old = make_report().model_dump(mode="json")
    for key in ("policy", "pass_score", "warn_score", "links"):
        old.pop(key)
    for criterion in old["criteria"]:
        criterion.pop("series")
    report = GateReport.model_validate(old)

    assert (report.policy, report.pass_score, report.links) == (None, None, {})
    assert report.criteria[0].series == {}
    assert "policy" not in render_markdown(report)


LINKS = {
    "dashboard": "https://grafana.example/d/abc?from=now-2h&to=now",
    "runbook (odd)": "https://wiki.example/a_(b)|c d",
    "not a web page": "javascript:alert(1)",
}


def test_markdown_links_are_links_and_cannot_break_out() -> None:
    markdown = render_markdown(make_report().model_copy(update={"links": LINKS}))
    (line,) = [line for line in markdown.splitlines() if line.startswith("**Links**")]

    assert "[dashboard](https://grafana.example/d/abc?from=now-2h&to=now)" in line
    # Parentheses, the pipe and the space are percent-encoded: the link ends where it should.
    assert "[runbook (odd)](https://wiki.example/a_%28b%29%7Cc%20d)" in html.unescape(line)
    assert "](javascript" not in line
    assert "not a web page: javascript:alert(1)" in html.unescape(line)


def test_html_links_are_anchors_only_for_web_addresses() -> None:
    page = render_html(make_report().model_copy(update={"links": LINKS}))
    banner = page.split("</header>")[0]

    anchors = re.findall(r'<a href="([^"]+)" rel="noopener noreferrer">([^<]+)</a>', banner)
    assert [(html.unescape(h), t) for h, t in anchors] == [
        ("https://grafana.example/d/abc?from=now-2h&to=now", "dashboard"),
        ("https://wiki.example/a_(b)|c d", "runbook (odd)"),
    ]
    assert 'href="javascript' not in page
    # Still nothing the page loads by itself.
    assert not re.search(r"<(?:img|script|link|iframe)\b", page)


def test_evaluate_records_policy_links_and_the_ci_run(
    shop_files: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in {
        "GITHUB_ACTIONS": "true",
        "GITHUB_SERVER_URL": "https://github.com",
        "GITHUB_REPOSITORY": "shop/web",
        "GITHUB_RUN_ID": "42",
        "GITHUB_SHA": "0123456789abcdef",
    }.items():
        monkeypatch.setenv(name, value)
    (shop_files / "cxe.yml").write_text(
        "release: {deployed_at: '2026-11-10T14:00:00Z'}\n"
        "windows: {baseline: 24h, release: 2h}\n"
        "gate: {policy: score, pass_score: 80, warn_score: 60}\n"
        "providers:\n  local: {type: file, requests: requests.ndjson}\n"
        "links: {dashboard: 'https://grafana.example/d/1'}\n"
        "criteria:\n  - {name: errors, metric: error_rate, max: 90%, min_samples: 1}\n"
    )
    report = evaluate(load(shop_files / "cxe.yml"))

    assert (report.policy, report.pass_score, report.warn_score) == ("score", 80, 60)
    assert report.links == {
        "dashboard": "https://grafana.example/d/1",
        "GitHub Actions run": "https://github.com/shop/web/actions/runs/42",
        "commit 0123456": "https://github.com/shop/web/commit/0123456789abcdef",
    }


# --- each query once, and a summary that fits ---------------------------------------------------


def _with_queries(queries: dict[str, str]) -> GateReport:
    c = _criterion(
        name="q",
        metric="custom",
        verdict=Verdict.PASS,
        unit="",
        value=1.0,
        baseline=1.0,
        message="m",
        queries=queries,
    )
    return make_report(criteria=[c])


def test_a_query_sent_for_every_window_is_printed_once() -> None:
    query = "SELECT win, count(*) FROM requests GROUP BY win"
    markdown = render_markdown(_with_queries({"baseline": query, "release": query}))

    assert markdown.count(query) == 1
    assert "**Query (baseline and release windows)**" in markdown


def test_queries_differing_only_in_their_times_are_printed_once() -> None:
    baseline = "SELECT count(*) FROM t WHERE ts >= '2026-11-09 14:00' AND ts < '2026-11-10 14:00'"
    release = "SELECT count(*) FROM t WHERE ts >= '2026-11-10 14:00' AND ts < '2026-11-10 16:00'"
    markdown = render_markdown(_with_queries({"baseline": baseline, "release": release}))

    assert markdown.count("SELECT count(*)") == 1
    assert "with that window's own times and values" in markdown
    different = render_markdown(
        _with_queries({"baseline": "SELECT 1 FROM a", "release": "SELECT 1 FROM b"})
    )
    assert different.count("SELECT 1 FROM") == 2


def test_a_very_long_query_is_cut_with_a_pointer_to_the_json() -> None:
    query = "x" * 10_000
    markdown = render_markdown(_with_queries({"release": query}))

    assert "x" * 4_000 in markdown
    assert "x" * 4_001 not in markdown
    assert "Cut at 4,000 of 10,000 characters: the whole query is in the JSON report." in markdown


def _hundred(query_chars: int) -> GateReport:
    criteria = [
        _criterion(
            name=f"criterion {i:03d}",
            metric="custom",
            verdict=Verdict.FAIL if i % 10 == 0 else Verdict.PASS,
            unit="ms",
            value=800.0 + i,
            baseline=700.0,
            change=0.1,
            threshold=900.0,
            message=f"criterion {i:03d} rose from 700 ms to {800 + i} ms on 1,000 requests",
            queries={
                "baseline": f"SELECT {i} AS n, " + "q" * query_chars,
                "release": f"SELECT {i} AS n, " + "q" * query_chars,
            },
        )
        for i in range(100)
    ]
    return make_report(criteria=criteria)


def test_a_hundred_criteria_with_long_queries_fit_a_pull_request_comment() -> None:
    report = _hundred(3_000)
    markdown = render_markdown(report)
    rows = [line for line in markdown.splitlines() if line.startswith("| ") and "criterion" in line]
    kept = markdown.count("<details>")

    assert len(markdown) <= 60_000 < GITHUB_LIMIT
    # Every criterion keeps its row and its reason; the details are what gives way.
    assert len(rows) == 100
    assert len(re.findall(r"^- .*\*\*criterion \d{3}\*\*", markdown, re.M)) == 100
    # Each details block holds one query of over 3,000 characters (printed once, not twice): fewer
    # than 20 fit in 60,000, and at least 1 does after ~27,000 of table and reasons.
    assert 1 <= kept < 20
    assert markdown.count("<details>") == markdown.count("</details>")
    assert f"…{100 - kept} more criteria's checks and queries in the JSON report." in markdown
    # The ten failed criteria (0, 10, ..., 90) come first, so their details are the ones kept.
    assert "criterion 000: checks and queries" in markdown
    first_rows = [re.search(r"criterion (\d{3})", r).group(1) for r in rows[:10]]  # type: ignore[union-attr]
    assert first_rows == [f"{i:03d}" for i in range(0, 100, 10)]


def test_even_the_table_gives_way_row_by_row_in_a_small_budget() -> None:
    markdown = render_markdown(_hundred(10), max_chars=5_000)
    table_rows = [
        line for line in markdown.splitlines() if line.startswith("| ") and "criterion" in line
    ]

    assert len(markdown) <= 5_000
    assert "<details>" not in markdown
    # The reasons go before the table does: all 100, then the rows that still do not fit.
    assert "…100 more reasons in the JSON report." in markdown
    left = re.search(r"…(\d+) more criteria in the JSON report\.", markdown)
    assert left is not None
    assert len(table_rows) + int(left.group(1)) == 100
    # The table ends on a whole row, then a blank line, then the note.
    lines = markdown.splitlines()
    note = lines.index(left.group(0))
    assert lines[note - 1] == "" and lines[note - 2].endswith(" |")


def test_the_report_fits_when_the_heading_alone_is_long() -> None:
    report = _hundred(10).model_copy(
        update={"summary": "s" * 2_000, "generated_at": DEPLOYED + timedelta(hours=3)}
    )
    assert len(render_markdown(report, max_chars=8_000)) <= 8_000
