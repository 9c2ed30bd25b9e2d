"""`cxe-gate history`: JSON reports of three releases, given out of order, read back as each
criterion's value, baseline and verdict across releases, in HTML (a trend per criterion) and in
Markdown, through the click command."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from test_report_formats import _criterion

from cxe_gate.cli.history_command import history
from cxe_gate.results import GateReport, ReleaseReport, Verdict, WindowReport

DAY = timedelta(days=1)
T0 = datetime(2026, 11, 1, 12, tzinfo=UTC)


def _report(
    name: str, deployed: datetime, rate: float, verdict: Verdict, *, nps: bool = True
) -> GateReport:
    criteria = [
        _criterion(
            name="error rate",
            metric="error_rate",
            verdict=verdict,
            unit="ratio",
            value=rate,
            baseline=0.005,
            threshold=0.01,
            message="m",
        )
    ]
    if nps:
        criteria.append(
            _criterion(
                name="NPS",
                metric="feedback",
                verdict=Verdict.PASS,
                unit="points",
                value=30.0,
                baseline=28.0,
                message="m",
            )
        )
    return GateReport(
        tool_version="0.1.0",
        generated_at=deployed + timedelta(hours=2),
        config_file="cxe.yml",
        verdict=verdict,
        score=None,
        summary="s",
        release=ReleaseReport(name=name, deployed_at=deployed),
        windows={"release": WindowReport(start=deployed, end=deployed + timedelta(hours=2))},
        criteria=criteria,
    )


@pytest.fixture
def reports(tmp_path: Path) -> list[Path]:
    """v1.1 (0.4%, pass), v1.2 (0.8%, pass, judged without the NPS criterion), v1.3 (1.5%,
    fail), written in the order v1.3, v1.1, v1.2: the history must sort them by deploy time."""
    written = []
    for name, day, rate, verdict, nps in [
        ("v1.3", 2, 0.015, Verdict.FAIL, True),
        ("v1.1", 0, 0.004, Verdict.PASS, True),
        ("v1.2", 1, 0.008, Verdict.PASS, False),
    ]:
        path = tmp_path / f"{name}.json"
        path.write_text(_report(name, T0 + day * DAY, rate, verdict, nps=nps).model_dump_json())
        written.append(path)
    return written


def test_html_history_orders_releases_by_deploy_time(reports: list[Path], tmp_path: Path) -> None:
    out = tmp_path / "history.html"
    result = CliRunner().invoke(history, [*map(str, reports), "-o", str(out)])
    assert result.exit_code == 0, result.output
    page = out.read_text()

    cards = page.split("<article")[1:]
    assert len(cards) == 2  # error rate and NPS
    error_rate = cards[0]
    rows = re.findall(
        r"<tr><td>(.*?)</td><td class=\"deployed\">.*?</td><td>(.*?)</td><td>(.*?)</td><td>(.*?)</td></tr>",
        error_rate,
    )
    assert rows == [
        ("v1.1", "0.4%", "0.5%", "pass"),
        ("v1.2", "0.8%", "0.5%", "pass"),
        ("v1.3", "1.5%", "0.5%", "fail"),
    ]
    # The trend: three release dots left to right, rising (smaller y), in their verdict's colour.
    dots = re.findall(
        r'<circle class="dot-release (v-\w+)" cx="([\d.]+)" cy="([\d.]+)"', error_rate
    )
    assert [d[0] for d in dots] == ["v-pass", "v-pass", "v-fail"]
    # x: release i of 3 at i/2 of the plot from 62 to 312.
    assert [float(d[1]) for d in dots] == pytest.approx([62, 187, 312], abs=0.1)
    ys = [float(d[2]) for d in dots]
    assert ys[0] > ys[1] > ys[2]
    # v1.2 had no NPS criterion: its row says so, and the NPS line breaks there.
    assert (
        '<td>v1.2</td><td class="deployed">2026-11-02 12:00</td><td>—</td><td>—</td>'
        "<td>not judged</td>" in cards[1]
    )
    assert 'class="line line-release"' not in cards[1]  # two dots apart, no run of two
    assert cards[1].count('<circle class="dot-release') == 2


def test_html_history_is_self_contained(reports: list[Path], tmp_path: Path) -> None:
    out = tmp_path / "history.html"
    CliRunner().invoke(history, [*map(str, reports), "-o", str(out)])
    page = out.read_text()

    assert "default-src 'none'" in page
    assert "http://" not in page and "https://" not in page
    assert not re.search(r"<(?:script|img|link|iframe)\b", page)
    assert "<title>cxe-gate history: v1.1 to v1.3</title>" in page


def test_markdown_history_has_a_row_per_criterion(reports: list[Path], tmp_path: Path) -> None:
    out = tmp_path / "history.md"
    result = CliRunner().invoke(history, [*map(str, reports), "-o", str(out)])
    assert result.exit_code == 0, result.output
    lines = out.read_text().splitlines()

    assert "| Criterion | Trend | v1.1 | v1.2 | v1.3 |" in lines
    (row,) = [line for line in lines if line.startswith("| error rate |")]
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[2:] == [
        "✅ 0.4% (baseline 0.5%)",
        "✅ 0.8% (baseline 0.5%)",
        "❌ 1.5% (baseline 0.5%)",
    ]
    # 0.4%, 0.8%, 1.5% on one scale of 8 blocks: the lowest ▁; (0.8 - 0.4) / (1.5 - 0.4) = 0.36,
    # × 8 = 2.9 → block 2, ▃; the highest █.
    assert cells[1] == "`▁▃█`"
    (nps,) = [line for line in lines if line.startswith("| NPS |")]
    assert "| — |" in nps


def test_a_file_that_is_not_a_report_is_named(reports: list[Path], tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"tool": "cxe-gate"}')
    not_json = tmp_path / "broken.json"
    not_json.write_text("{")

    result = CliRunner().invoke(
        history, [str(reports[0]), str(bad), "-o", str(tmp_path / "h.html")]
    )
    assert result.exit_code == 2
    assert "bad.json" in result.output and "not a cxe-gate JSON report" in result.output
    assert "Traceback" not in result.output
    result = CliRunner().invoke(history, [str(not_json), "-o", str(tmp_path / "h.html")])
    assert result.exit_code == 2
    assert "broken.json: not JSON" in result.output
    result = CliRunner().invoke(history, [str(reports[0]), "-o", str(tmp_path / "h.pdf")])
    assert result.exit_code == 2
    assert "expected .html or .md" in result.output
    assert not (tmp_path / "h.html").exists()


def test_hostile_names_are_escaped(tmp_path: Path) -> None:
    report = _report("<b>v9</b> | x", T0, 0.004, Verdict.PASS)
    report = report.model_copy(
        update={
            "criteria": [report.criteria[0].model_copy(update={"name": "<script>x</script> | y"})]
        }
    )
    path = tmp_path / "r.json"
    path.write_text(report.model_dump_json())
    CliRunner().invoke(history, [str(path), "-o", str(tmp_path / "h.html")])
    CliRunner().invoke(history, [str(path), "-o", str(tmp_path / "h.md")])
    page = (tmp_path / "h.html").read_text()
    markdown = (tmp_path / "h.md").read_text()

    assert "<script>" not in page and "<b>" not in page
    assert "<script>" not in markdown
    (row,) = [line for line in markdown.splitlines() if "script" in line]
    assert html.unescape(row.split(" | ")[0].lstrip("| ")) == "<script>x</script> | y"
