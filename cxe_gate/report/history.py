"""`cxe-gate history`: each criterion's value, baseline and verdict across releases, read from their
JSON reports and ordered by deploy time, as one self-contained HTML page (a trend per criterion)
or as Markdown."""

from __future__ import annotations

import json
from dataclasses import dataclass
from html import escape
from pathlib import Path

from pydantic import ValidationError

from ..errors import ConfigError
from ..measurement import format_value
from ..results import CriterionResult, GateReport
from . import polls, wording
from .html import STYLE, page
from .line_chart import Dot, Line, line_chart
from .markdown import EMOJI, inline
from .order import ATTENTION


@dataclass(frozen=True)
class Trend:
    """One criterion across the releases: its result in each report, None where it was not judged."""

    name: str
    unit: str
    results: list[CriterionResult | None]


def load_reports(paths: list[Path]) -> list[GateReport]:
    """The JSON reports, ordered by deploy time (then by when they were made). A file that is not
    a report is refused, named with the place in it that is wrong."""
    reports = []
    for path in paths:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise ConfigError(f"cannot read it: {exc.strerror}", file=str(path)) from None
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ConfigError(
                f"not JSON ({exc}); expected a cxe-gate JSON report", file=str(path)
            ) from None
        try:
            reports.append(GateReport.model_validate(data))
        except ValidationError as exc:
            first = exc.errors()[0]
            place = ".".join(str(part) for part in first["loc"]) or "(top)"
            raise ConfigError(
                f"not a cxe-gate JSON report: {first['msg']}", file=str(path), location=place
            ) from None
    if not reports:
        raise ConfigError("no reports given; expected one or more cxe-gate JSON reports")
    return sorted(reports, key=lambda r: (r.release.deployed_at, r.generated_at))


def trends(reports: list[GateReport]) -> list[Trend]:
    """A trend per criterion name: the newest report's criteria, those needing attention first
    (error, fail, warn, inconclusive, pass; its order within a verdict), then the criteria only
    older reports judged."""
    names: list[str] = []
    for report in reversed(reports):
        names += [c.name for c in report.criteria if c.name not in names]
    found = []
    for name in names:
        results = [next((c for c in r.criteria if c.name == name), None) for r in reports]
        unit = next(c.unit for c in reversed(results) if c is not None)
        found.append(Trend(name, unit, results))
    # What needs attention now first: by each criterion's latest verdict (sorted() is stable).
    return sorted(found, key=lambda t: (t.results[-1] is None, ATTENTION.index(_latest(t).verdict)))


def _latest(trend: Trend) -> CriterionResult:
    return next(r for r in reversed(trend.results) if r is not None)


def release_label(report: GateReport) -> str:
    return report.release.name or wording.utc_time(report.release.deployed_at)


# --- Markdown -----------------------------------------------------------------------------------


def _cell(result: CriterionResult | None) -> str:
    if result is None:
        return "—"
    value = inline(format_value(result.value, result.unit))
    baseline = inline(format_value(result.baseline, result.unit))
    return f"{EMOJI[result.verdict]} {value} (baseline {baseline})"


def render_history_markdown(reports: list[GateReport]) -> str:
    """A table: a row per criterion, a column per release (oldest first), each cell its verdict,
    value and baseline; a sparkline of the values on the criterion's own scale."""
    labels = [inline(release_label(r)) for r in reports]
    lines = [
        f"## Release history: {len(reports)} report{'s' if len(reports) != 1 else ''}",
        "",
        f"From {inline(labels[0])} ({wording.utc_time(reports[0].release.deployed_at)}) to "
        f"{inline(labels[-1])} ({wording.utc_time(reports[-1].release.deployed_at)}).",
        "",
        "| Criterion | Trend | " + " | ".join(labels) + " |",
        "|:--|:--|" + "--:|" * len(labels),
    ]
    for trend in trends(reports):
        values = [r.value if r is not None else None for r in trend.results]
        line = polls.sparkline(values)
        spark = f"`{line}`" if line.strip() else "no data"
        cells = [_cell(r) for r in trend.results]
        lines.append(f"| {inline(trend.name)} | {spark} | " + " | ".join(cells) + " |")
    verdicts = " | ".join(f"{EMOJI[r.verdict]} {r.verdict.value}" for r in reports)
    lines.append(f"| **Release verdict** | | {verdicts} |")
    return "\n".join([*lines, ""])


# --- HTML ---------------------------------------------------------------------------------------

_HISTORY_STYLE = """
table { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums;
  font-size: .85rem; }
th, td { padding: .2rem .35rem; border-bottom: 1px solid var(--line); text-align: right;
  white-space: nowrap; overflow-wrap: normal; }
th:first-child, td:first-child { text-align: left; }
.table { overflow-x: auto; }
@media (max-width: 30rem) { .deployed { display: none; } }  /* a phone: the release names it */
"""


def _e(text: object) -> str:
    return escape(str(text), quote=True)


def _trend_svg(trend: Trend, labels: list[str]) -> str:
    count = len(trend.results)

    def at(i: int) -> float:
        return 0.5 if count == 1 else i / (count - 1)

    def dots(pick: str) -> list[Dot]:
        return [
            Dot(
                at(i),
                getattr(r, pick) if r is not None else None,
                f"{labels[i]}: {pick} {format_value(getattr(r, pick), trend.unit)}"
                + (f", {r.verdict.value}" if pick == "value" else "")
                if r is not None
                else f"{labels[i]}: not judged",
                f"v-{r.verdict.value}" if r is not None and pick == "value" else "",
            )
            for i, r in enumerate(trend.results)
        ]

    threshold = _latest(trend).threshold
    return line_chart(
        [Line("baseline", "baseline", dots("baseline")), Line("release", "release", dots("value"))],
        unit=trend.unit,
        label=f"{trend.name} across {count} releases, from {labels[0]} to {labels[-1]}",
        threshold=threshold,
        left=labels[0],
        right=labels[-1] if count > 1 else "",
    )


def _row(label: str, report: GateReport, result: CriterionResult | None) -> str:
    if result is None:
        cells = ["—", "—", "not judged"]
    else:
        cells = [
            format_value(result.value, result.unit),
            format_value(result.baseline, result.unit),
            result.verdict.value,
        ]
    deployed = wording.utc_time(report.release.deployed_at).removesuffix(" UTC")
    tds = [f"<td>{_e(label)}</td>", f'<td class="deployed">{_e(deployed)}</td>']
    tds += [f"<td>{_e(c)}</td>" for c in cells]
    return "<tr>" + "".join(tds) + "</tr>"


def _card(trend: Trend, reports: list[GateReport], labels: list[str]) -> str:
    verdict = _latest(trend).verdict
    rows = "".join(
        _row(label, report, result)
        for label, report, result in zip(labels, reports, trend.results, strict=True)
    )
    return (
        f'<article class="card v-{verdict.value}">'
        f'<h2><span>{_e(trend.name)}</span><span class="badge">{_e(verdict.value)}</span></h2>'
        f"{_trend_svg(trend, labels)}"
        '<div class="table"><table><thead><tr><th>Release</th><th class="deployed">Deployed (UTC)</th><th>Value</th>'
        f"<th>Baseline</th><th>Verdict</th></tr></thead><tbody>{rows}</tbody></table></div>"
        "</article>"
    )


def render_history_html(reports: list[GateReport]) -> str:
    """One page, no network and no script: a card per criterion with its trend (release values in
    their verdict's colour, the baseline dashed, the newest threshold) and a row per release."""
    labels = [release_label(r) for r in reports]
    latest = reports[-1]
    cards = "".join(_card(t, reports, labels) for t in trends(reports))
    verdicts = ", ".join(
        f"{label} {r.verdict.value}" for label, r in zip(labels, reports, strict=True)
    )
    return page(
        f"cxe-gate history: {labels[0]} to {labels[-1]}",
        f'<header class="banner v-{latest.verdict.value}">'
        f"<h1>Release history: {len(reports)} report{'s' if len(reports) != 1 else ''}</h1>"
        f'<p class="summary">{_e(verdicts)}</p></header>\n'
        f'<section class="cards">{cards}</section>\n'
        f"<footer>{_e(latest.tool)} history of {len(reports)} JSON reports.</footer>\n",
        style=STYLE + _HISTORY_STYLE,
    )


def write_history(paths: list[Path], output: Path) -> Path:
    """Read the reports and write the history as `output`'s extension says (.html, .htm, .md)."""
    suffix = output.suffix.lower()
    if suffix not in (".html", ".htm", ".md"):
        raise ConfigError(
            f"-o {output}: unknown history format {output.suffix or '(none)'!r}; "
            "expected .html or .md"
        )
    reports = load_reports(paths)
    text = render_history_markdown(reports) if suffix == ".md" else render_history_html(reports)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(text, encoding="utf-8")
    return output
