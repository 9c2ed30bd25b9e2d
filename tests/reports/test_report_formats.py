"""The Markdown, HTML and JUnit reports, rendered from GateReport objects built by hand."""

from __future__ import annotations

import html
import math
import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cxe_gate.report.html import render_html
from cxe_gate.report.junit import render_junit
from cxe_gate.report.markdown import render_markdown
from cxe_gate.results import (
    Check,
    CriterionResult,
    GateReport,
    Outcome,
    ReleaseReport,
    Verdict,
    WindowReport,
)

HOSTILE = "checkout <script>alert(1)</script> | conversion\nsecond line"
HOSTILE_ONE_LINE = "checkout <script>alert(1)</script> | conversion second line"
# A line of three backticks would close a naive fence and let "</details>" end the section early.
HOSTILE_QUERY = "sum(x) | `y`\n```\n</details>\n<script>q()</script>"
DEPLOYED = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def _criterion(**fields: object) -> CriterionResult:
    defaults: dict[str, object] = {
        "provider": "prometheus",
        "severity": "fail",
        "key": False,
        "weight": 1.0,
        "samples": 1000,
        "baseline_samples": 1000,
        "threshold": None,
        "p_value": None,
    }
    return CriterionResult.model_validate({**defaults, **fields})


def _criteria() -> list[CriterionResult]:
    """One criterion of each verdict, in this order: pass, warn, fail, inconclusive, error."""
    return [
        _criterion(
            name="error rate",
            metric="error_rate",
            verdict=Verdict.PASS,
            unit="ratio",
            value=0.004,
            baseline=0.005,
            change=-0.2,
            threshold=0.01,
            p_value=0.21,
            message="error rate fell 20.0% (0.5% → 0.4%) on 1,000 requests: within max 1%",
            checks=[
                Check(
                    rule="max",
                    limit="1%",
                    threshold=0.01,
                    outcome=Outcome.OK,
                    p_value=0.21,
                    note="0.4% is within max 1% (threshold 1.0%)",
                )
            ],
            details={"release": {"errors": 4, "requests": 1000}},
            queries={
                "baseline": 'sum(rate(http_errors_total{code=~"5.."}[5m]))',
                "release": 'sum(rate(http_errors_total{code=~"5.."}[5m]))',
            },
        ),
        _criterion(
            name=HOSTILE,
            metric="latency",
            verdict=Verdict.WARN,
            severity="warn",
            unit="ms",
            value=850.0,
            baseline=700.0,
            change=0.214,
            threshold=800.0,
            p_value=0.02,
            message=f"{HOSTILE} rose 21.4% (700 ms → 850 ms) on 1,000 requests",
            checks=[
                Check(
                    rule="max",
                    limit="800 ms",
                    threshold=800.0,
                    outcome=Outcome.BREACH,
                    p_value=0.02,
                    note="850 ms is above the maximum 800 ms | <b>",
                )
            ],
            queries={"release": HOSTILE_QUERY},
        ),
        _criterion(
            name="NPS",
            metric="feedback",
            verdict=Verdict.FAIL,
            unit="points",
            key=True,
            value=-12.0,
            baseline=8.0,
            change=-2.5,
            threshold=-2.0,
            p_value=0.003,
            message="NPS fell 250.0% (8.0 → -12.0) on 1,000 responses",
        ),
        _criterion(
            name="checkout conversion",
            metric="conversion",
            verdict=Verdict.INCONCLUSIVE,
            unit="ratio",
            value=None,
            baseline=0.279,
            samples=0,
            message="checkout conversion: the release window has no data (no_data: inconclusive)",
        ),
        _criterion(
            name="signups",
            metric="custom",
            verdict=Verdict.ERROR,
            unit="per hour",
            value=None,
            baseline=None,
            samples=0,
            baseline_samples=None,
            message="provider 'warehouse': connection refused",
            queries={"query": "select count(*) from signups"},
        ),
    ]


def make_report(
    *,
    criteria: list[CriterionResult] | None = None,
    score: float | None = 62.5,
    dry_run: bool = False,
    verdict: Verdict = Verdict.FAIL,
) -> GateReport:
    return GateReport(
        tool_version="0.1.0",
        generated_at=DEPLOYED + timedelta(hours=2),
        config_file="cxe.yml",
        verdict=verdict,
        score=score,
        summary="key criterion failed: NPS",
        dry_run=dry_run,
        release=ReleaseReport(name="v1.2.3", deployed_at=DEPLOYED),
        windows={
            "baseline": WindowReport(start=DEPLOYED - timedelta(days=7), end=DEPLOYED),
            "release": WindowReport(start=DEPLOYED, end=DEPLOYED + timedelta(hours=2)),
        },
        criteria=_criteria() if criteria is None else criteria,
    )


# --- Markdown -----------------------------------------------------------------------------------


def _split_fences(markdown: str) -> tuple[list[str], list[str]]:
    """(lines outside fenced code blocks, the code blocks' bodies), per CommonMark's backtick
    fences: a block closes only on a fence at least as long as the one that opened it."""
    outside: list[str] = []
    blocks: list[str] = []
    fence, body = "", []
    for line in markdown.splitlines():
        run = re.match(r"^(`{3,})\s*$", line) or re.match(r"^(`{3,})[^`]*$", line)
        if not fence and run:
            fence, body = run.group(1), []
        elif fence and re.fullmatch(rf"`{{{len(fence)},}}\s*", line):
            blocks.append("\n".join(body))
            fence = ""
        elif fence:
            body.append(line)
        else:
            outside.append(line)
    assert not fence, "a fenced code block was never closed"
    return outside, blocks


def _table_rows(markdown: str) -> tuple[list[str], list[list[str]]]:
    lines = markdown.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("| Verdict |"))
    table = []
    for line in lines[start:]:
        if not line.strip():
            break
        table.append(line)

    def cells(row: str) -> list[str]:
        # GFM splits a row on every pipe not escaped by a backslash, whatever else surrounds it.
        assert row.startswith("|"), row
        assert row.endswith("|"), row
        return [cell.strip() for cell in re.split(r"(?<!\\)\|", row[1:-1])]

    return cells(table[0]), [cells(row) for row in table[2:]]


def test_markdown_table_has_one_row_of_fixed_width_per_criterion() -> None:
    header, rows = _table_rows(render_markdown(make_report()))

    assert header == [
        "Verdict",
        "Criterion",
        "Value",
        "Baseline",
        "Change",
        "Threshold",
        "Samples",
        "p-value",
    ]
    assert len(rows) == 5
    assert all(len(row) == len(header) for row in rows)
    # Attention first: error, fail, warn, inconclusive, pass (the fixture lists them reversed).
    assert [row[0].split()[-1] for row in rows] == ["error", "fail", "warn", "inconclusive", "pass"]


def test_markdown_rows_show_formatted_numbers() -> None:
    _, rows = _table_rows(render_markdown(make_report()))
    signups, nps, _, conversion, error_rate = rows

    assert error_rate[2:] == ["0.4%", "0.5%", "-0.1pp (-20.0%)", "1%", "1,000", "0.210"]
    assert nps[2:] == ["-12.0", "8.0", "-20.0 (-250.0%)", "-2.0", "1,000", "0.003"]
    assert conversion[2:] == ["no data", "27.9%", "—", "—", "0", "—"]
    assert signups[2:4] == ["no data", "no data"]


def test_markdown_escapes_a_hostile_name() -> None:
    markdown = render_markdown(make_report())
    outside, _ = _split_fences(markdown)
    text = "\n".join(outside)
    _, rows = _table_rows(markdown)

    assert "<script" not in text.lower()
    assert "`" not in rows[2][1]
    # The name reads back whole once the character references are decoded, on one line; the
    # criterion is of severity warn, so marked warn only.
    assert html.unescape(rows[2][1]) == HOSTILE_ONE_LINE + " (warn only)"
    assert not any(line.startswith("second line") for line in outside)


def test_markdown_fences_queries_verbatim_and_keeps_details_balanced() -> None:
    outside, blocks = _split_fences(render_markdown(make_report()))

    assert HOSTILE_QUERY in blocks
    assert 'sum(rate(http_errors_total{code=~"5.."}[5m]))' in blocks
    # The query's own "</details>" stays inside its code block.
    assert outside.count("<details>") == 5
    assert outside.count("</details>") == 5


def test_markdown_explains_each_criterion() -> None:
    markdown = render_markdown(make_report())
    why = markdown.split("### Why", 1)[1].split("<details>", 1)[0]
    items = [line for line in why.splitlines() if line.startswith("- ")]

    assert len(items) == 5
    assert "connection refused" in items[0]
    assert "rose 21.4%" in html.unescape(items[2])


@pytest.mark.parametrize(
    ("score", "shown"), [(62.5, "**Score** 62.5/100"), (None, "**Score** n/a")]
)
def test_markdown_heading_shows_verdict_release_and_score(score: float | None, shown: str) -> None:
    markdown = render_markdown(make_report(score=score))
    heading = markdown.splitlines()[0]

    assert heading.startswith("## ")
    assert "FAIL" in heading
    assert "v1.2.3" in heading
    assert shown in markdown
    assert "2024-05-01 12:00 UTC" in markdown


def test_markdown_marks_a_dry_run() -> None:
    assert "dry run" in render_markdown(make_report(dry_run=True)).splitlines()[0].lower()
    assert "dry run" not in render_markdown(make_report()).lower()


# --- HTML ---------------------------------------------------------------------------------------

_VOID = {"meta", "link", "br", "hr", "img", "input", "wbr", "source", "col", "area", "base"}


class _TagChecker(HTMLParser):
    """Records start tags and every end tag that does not close the innermost open element."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.started: list[str] = []
        self.mismatched: list[tuple[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.started.append(tag)
        if tag not in _VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.started.append(tag)  # <rect/>, <line/>: closed where they open

    def handle_endtag(self, tag: str) -> None:
        top = self.stack.pop() if self.stack else None
        if top != tag:
            self.mismatched.append((tag, top))


def _parse(page: str) -> _TagChecker:
    checker = _TagChecker()
    checker.feed(page)
    checker.close()
    return checker


def _cards(page: str) -> list[str]:
    return ["<article" + part.split("</article>")[0] for part in page.split("<article")[1:]]


def _svg(card: str) -> str:
    return re.search(r"<svg.*?</svg>", card, re.S).group(0)  # type: ignore[union-attr]


def _attrs(svg: str, element: str, css: str) -> list[dict[str, float]]:
    found = []
    for tag in re.findall(rf'<{element} class="{css}"[^>]*>', svg):
        found.append({k: float(v) for k, v in re.findall(r'\b(x|y|x1|x2|width)="([^"]+)"', tag)})
    return found


def test_html_tags_are_balanced() -> None:
    checker = _parse(render_html(make_report()))

    assert checker.mismatched == []
    assert checker.stack == []
    assert {"html", "head", "body", "title", "style", "svg"} <= set(checker.started)


def test_html_is_self_contained() -> None:
    page = render_html(make_report())
    tags = set(_parse(page).started)

    assert not re.search(r"""(?:src|href)\s*=\s*["']?\s*(?:https?:)?//""", page, re.I)
    assert not re.search(r"""url\(\s*["']?\s*(?:https?:)?//""", page, re.I)
    assert "http://" not in page
    assert "https://" not in page
    assert not tags & {"script", "link", "img", "iframe", "object", "embed"}
    assert "<style>" in page


def test_html_is_responsive_and_dark_mode_aware() -> None:
    page = render_html(make_report())

    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in page
    assert "@media (prefers-color-scheme: dark)" in page
    assert re.search(r"<title>[^<]*Fail[^<]*v1\.2\.3[^<]*</title>", page)


def test_html_has_one_chart_per_criterion() -> None:
    page = render_html(make_report())

    assert page.count("<svg") == 5
    assert [page.count("<svg") for page in _cards(page)] == [1, 1, 1, 1, 1]


def test_html_escapes_a_hostile_name_and_query() -> None:
    page = render_html(make_report())

    assert "<script" not in page.lower()
    assert "&lt;script&gt;alert(1)&lt;/script&gt; | conversion" in page
    assert "&lt;script&gt;q()&lt;/script&gt;" in page
    assert "<b>" not in page
    assert "script" not in _parse(page).started


def test_html_shows_no_data_for_missing_values() -> None:
    signups, _, _, conversion, _ = _cards(render_html(make_report()))

    assert _svg(conversion).count(">no data</text>") == 1  # the baseline is known, not the release
    assert _attrs(_svg(conversion), "rect", "bar-release") == []
    assert len(_attrs(_svg(conversion), "rect", "bar-baseline")) == 1
    assert _svg(signups).count(">no data</text>") == 2
    assert "<rect" not in _svg(signups)
    assert "<dd>no data</dd>" in conversion


def test_html_chart_draws_a_negative_value_left_of_zero() -> None:
    nps = _cards(render_html(make_report()))[1]
    svg = _svg(nps)
    (axis,) = _attrs(svg, "line", "axis")
    (release,) = _attrs(svg, "rect", "bar-release")
    (baseline,) = _attrs(svg, "rect", "bar-baseline")
    (threshold,) = _attrs(svg, "line", "threshold")

    zero = axis["x1"]
    assert release["x"] < zero
    assert release["x"] + release["width"] == pytest.approx(zero, abs=0.1)
    assert baseline["x"] == pytest.approx(zero, abs=0.1)
    assert release["x"] < threshold["x1"] < zero
    # -12 is further from zero than 8: the bars' lengths keep their proportion.
    assert release["width"] / baseline["width"] == pytest.approx(12 / 8, rel=0.02)


def test_html_chart_handles_equal_and_zero_values() -> None:
    flat = _criterion(
        name="refunds",
        metric="custom",
        verdict=Verdict.PASS,
        unit="",
        value=0.0,
        baseline=0.0,
        threshold=0.0,
        message="refunds held at 0",
    )
    svg = _svg(_cards(render_html(make_report(criteria=[flat])))[0])

    assert len(_attrs(svg, "rect", "bar-baseline")) == 1
    assert len(_attrs(svg, "rect", "bar-release")) == 1
    assert len(_attrs(svg, "line", "threshold")) == 1
    assert "nan" not in svg.lower()


_values = st.none() | st.floats()  # NaN, infinities and the float limits included


@given(value=_values, baseline=_values, threshold=_values)
def test_html_chart_stays_inside_its_box(
    value: float | None, baseline: float | None, threshold: float | None
) -> None:
    criterion = _criterion(
        name="c",
        metric="custom",
        verdict=Verdict.PASS,
        unit="points",
        value=value,
        baseline=baseline,
        threshold=threshold,
        message="m",
    )
    svg = _svg(_cards(render_html(make_report(criteria=[criterion])))[0])
    width, height = (float(n) for n in re.search(r'viewBox="0 0 (\S+) (\S+)"', svg).groups())  # type: ignore[union-attr]

    for name, number in re.findall(r'\b(x|y|x1|x2|y1|y2|width|height)="([^"]+)"', svg):
        assert math.isfinite(float(number)), (name, number)
        limit = height if name.startswith(("y", "h")) else width
        assert 0 <= float(number) <= limit, (name, number)
    assert len(_attrs(svg, "line", "threshold")) == (
        threshold is not None and math.isfinite(threshold)
    )
    missing = [v for v in (value, baseline) if v is None or not math.isfinite(v)]
    assert svg.count(">no data</text>") == len(missing)


def test_html_banner_shows_release_windows_score_and_dry_run() -> None:
    page = render_html(make_report(score=None, dry_run=True))
    banner = page.split("</header>")[0]

    assert "v1.2.3" in banner
    assert "2024-04-24 12:00 UTC → 2024-05-01 12:00 UTC" in banner
    assert "<dd>n/a</dd>" in banner
    assert "Dry run" in banner
    assert "Dry run" not in render_html(make_report())


# --- JUnit --------------------------------------------------------------------------------------


def _junit(report: GateReport) -> ET.Element:
    root = ET.fromstring(render_junit(report))
    assert root.tag == "testsuites"
    (suite,) = root.findall("testsuite")
    return suite


def _cases(suite: ET.Element) -> dict[str, ET.Element]:
    return {case.get("name", ""): case for case in suite.findall("testcase")}


def _props(element: ET.Element) -> dict[str, str]:
    return {p.get("name", ""): p.get("value", "") for p in element.findall("properties/property")}


def test_junit_counts_match_the_verdicts() -> None:
    suite = _junit(make_report())

    assert suite.get("name") == "cxe-gate"
    assert (
        suite.get("tests"),
        suite.get("failures"),
        suite.get("errors"),
        suite.get("skipped"),
    ) == ("5", "2", "1", "0")
    assert len(suite.findall("testcase/failure")) == 2
    assert len(suite.findall("testcase/error")) == 1
    assert datetime.fromisoformat(suite.get("timestamp", "")) == datetime(2024, 5, 1, 14, 0)


def test_junit_maps_each_verdict() -> None:
    cases = _cases(_junit(make_report()))
    warn = cases[HOSTILE_ONE_LINE]

    assert cases["error rate"].find("failure") is None
    assert cases["error rate"].find("error") is None
    assert warn.find("failure") is None
    assert "rose 21.4%" in (warn.findtext("system-out") or "")
    assert cases["NPS"].find("failure").get("type") == "fail"  # type: ignore[union-attr]
    inconclusive = cases["checkout conversion"].find("failure")
    assert inconclusive is not None
    assert inconclusive.get("type") == "inconclusive"
    assert "no data" in inconclusive.get("message", "")
    assert cases["signups"].find("error").get("message") == (  # type: ignore[union-attr]
        "provider 'warehouse': connection refused"
    )
    assert [c.get("classname") for c in cases.values()] == [
        "cxe-gate.error_rate",
        "cxe-gate.latency",
        "cxe-gate.feedback",
        "cxe-gate.conversion",
        "cxe-gate.custom",
    ]


def test_junit_properties_hold_the_numbers() -> None:
    suite = _junit(make_report())
    cases = _cases(suite)
    nps = _props(cases["NPS"])

    assert float(nps["value"]) == -12.0
    assert float(nps["baseline"]) == 8.0
    assert float(nps["threshold"]) == -2.0
    assert int(nps["samples"]) == 1000
    assert float(nps["p_value"]) == 0.003
    assert nps["verdict"] == "fail"
    assert float(_props(cases["error rate"])["value"]) == 0.004
    assert _props(cases["checkout conversion"])["value"] == ""
    suite_props = _props(suite)
    assert (suite_props["release"], suite_props["verdict"], suite_props["score"]) == (
        "v1.2.3",
        "fail",
        "62.5",
    )


def test_junit_stays_parseable_with_control_characters() -> None:
    odd = _criterion(
        name="bad\x00name\x1b[31m",
        metric="custom",
        verdict=Verdict.FAIL,
        unit="",
        value=1.0,
        baseline=0.0,
        message="broke\x07 here",
    )
    suite = _junit(make_report(criteria=[odd], score=None))
    (case,) = suite.findall("testcase")

    assert case.get("name") == "bad\ufffdname\ufffd[31m"
    assert case.find("failure").get("message") == "broke\ufffd here"  # type: ignore[union-attr]
    assert _props(suite)["score"] == ""
