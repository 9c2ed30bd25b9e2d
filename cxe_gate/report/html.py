"""The HTML report: one self-contained page (no network, no script) with a card and a chart per
criterion, readable on a laptop or a phone, in light or dark mode."""

from __future__ import annotations

import math
from datetime import datetime
from html import escape
from urllib.parse import urlsplit

from ..measurement import format_p_value, format_value
from ..results import Check, CriterionResult, GateReport, Verdict
from . import polls, wording
from .line_chart import CHART_STYLE, levels
from .order import by_attention, warn_only
from .series_chart import series_svg

_WORD = {
    Verdict.PASS: "Pass",
    Verdict.WARN: "Warn",
    Verdict.FAIL: "Fail",
    Verdict.INCONCLUSIVE: "Inconclusive",
    Verdict.ERROR: "Error",
}

STYLE = (
    """
:root {
  color-scheme: light dark;
  --bg: #f5f6f8; --fg: #1b1f24; --muted: #59636e; --card: #ffffff; --line: #d1d9e0;
  --pass: #1a7f37; --warn: #9a6700; --fail: #cf222e; --inconclusive: #8250df; --error: #a40e26;
  --bar: #8c959f;
}
@media (prefers-color-scheme: dark) {
  :root {
    --bg: #0d1117; --fg: #e6edf3; --muted: #9198a1; --card: #161b22; --line: #3d444d;
    --pass: #3fb950; --warn: #d29922; --fail: #f85149; --inconclusive: #ab7df8; --error: #ff7b72;
    --bar: #6e7681;
  }
}
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--fg);
  font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
main { max-width: 76rem; margin: 0 auto; padding: 1rem; }
.v-pass { --accent: var(--pass); } .v-warn { --accent: var(--warn); }
.v-fail { --accent: var(--fail); } .v-inconclusive { --accent: var(--inconclusive); }
.v-error { --accent: var(--error); }
.banner, .card { background: var(--card); border: 1px solid var(--line); border-radius: .5rem;
  border-top: .35rem solid var(--accent); overflow-wrap: anywhere; }
.banner { padding: 1rem 1.25rem; margin-bottom: 1rem; }
.banner h1 { margin: 0 0 .25rem; font-size: 1.5rem; }
.summary { margin: .25rem 0 .75rem; font-size: 1.05rem; }
.dry-run { margin: .5rem 0; padding: .4rem .75rem; border: 1px dashed var(--warn);
  border-radius: .35rem; color: var(--warn); font-weight: 600; }
.badge { display: inline-block; padding: 0 .55rem; border: 2px solid currentColor;
  border-radius: 999px; color: var(--accent); font-size: .8rem; font-weight: 700;
  letter-spacing: .04em; text-transform: uppercase; vertical-align: middle; white-space: nowrap; }
.badge.key, .badge.warn-only { color: var(--muted); }
.links { margin: .5rem 0 0; display: flex; flex-wrap: wrap; gap: .25rem 1rem; }
.links a { color: var(--fg); }
.facts { display: grid; gap: .5rem 1.5rem; margin: 0;
  grid-template-columns: repeat(auto-fit, minmax(min(100%, 13rem), 1fr)); }
.facts div, .figures div { min-width: 0; }
dt { color: var(--muted); font-size: .8rem; }
dd { margin: 0; font-variant-numeric: tabular-nums; }
.cards { display: grid; gap: 1rem;
  grid-template-columns: repeat(auto-fill, minmax(min(100%, 22rem), 1fr)); }
.card { padding: .9rem 1rem; display: flex; flex-direction: column; gap: .6rem; min-width: 0; }
.card h2 { margin: 0; font-size: 1.05rem; display: flex; flex-wrap: wrap; gap: .4rem;
  align-items: center; justify-content: space-between; }
.message { margin: 0; }
.reproduce { margin: 0; font-size: .9rem; overflow-wrap: anywhere; }
.stats { margin: 0; color: var(--muted); font-size: .9rem; }
.figures { display: grid; gap: .4rem .75rem; margin: 0;
  grid-template-columns: repeat(auto-fit, minmax(6.5rem, 1fr)); }
.chart { width: 100%; height: auto; display: block; }
.chart text { fill: var(--fg); font-size: 11px; }
.chart .nodata { fill: var(--muted); font-style: italic; }
.chart .bar-baseline { fill: var(--bar); }
.chart .bar-release { fill: var(--accent); }
.chart .axis { stroke: var(--line); stroke-width: 1; }
.chart .threshold { stroke: var(--fg); stroke-width: 1.5; stroke-dasharray: 4 3; }
.chart .threshold-label { fill: var(--muted); font-size: 10px; }
.chart .path { fill: none; stroke: var(--accent); stroke-width: 1.5; }
.chart .point { fill: var(--accent); }
.chart .tick { fill: var(--muted); font-size: 10px; }
details { border-top: 1px solid var(--line); padding-top: .4rem; }
summary { cursor: pointer; color: var(--muted); }
details ul { padding-left: 1.1rem; margin: .4rem 0; }
pre { margin: .25rem 0 .5rem; padding: .5rem; background: var(--bg); border-radius: .35rem;
  white-space: pre-wrap; overflow-wrap: anywhere; font-size: .8rem; }
footer { color: var(--muted); font-size: .8rem; margin-top: 1rem; }
"""
    + CHART_STYLE
)

# No network and no script, enforced by the browser even if something slipped through escaping.
CSP = "default-src 'none'; style-src 'unsafe-inline'"

# Chart geometry, in SVG user units: a label column, the plot, and a value column.
_WIDTH, _LABEL_W, _VALUE_W = 320, 62, 86
_PLOT_LEFT, _PLOT_RIGHT = _LABEL_W, _WIDTH - _VALUE_W
_TOP, _ROW, _BAR = 16, 24, 16
_HEIGHT = _TOP + 2 * _ROW + 2


def _e(text: object) -> str:
    return escape(str(text), quote=True)


def _finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


def _chart_svg(criterion: CriterionResult) -> str:
    """Baseline and release as two horizontal bars from zero, with the threshold dashed across."""
    unit = criterion.unit
    baseline, value = _finite(criterion.baseline), _finite(criterion.value)
    threshold = _finite(criterion.threshold)
    known = [v for v in (baseline, value, threshold) if v is not None]
    # Work in -1..1 so that values near the float limits cannot overflow the arithmetic below.
    scale = max((abs(v) for v in known), default=0.0) or 1.0
    low, high = min([0.0, *(v / scale for v in known)]), max([0.0, *(v / scale for v in known)])
    if high == low:
        high = 1.0  # all zero or nothing known: any scale will do, the bars are empty
    # Room past the ends so a bar or the threshold never sits on the edge; zero stays put.
    span = high - low
    high += 0.08 * span if high > 0 else 0.0
    low -= 0.08 * span if low < 0 else 0.0

    def x(v: float) -> float:
        return _PLOT_LEFT + (v / scale - low) / (high - low) * (_PLOT_RIGHT - _PLOT_LEFT)

    described = [
        f"baseline {format_value(criterion.baseline, unit)}",
        f"release {format_value(criterion.value, unit)}",
    ]
    if criterion.threshold is not None:
        described.append(f"threshold {format_value(criterion.threshold, unit)}")
    parts = [
        f'<svg class="chart" viewBox="0 0 {_WIDTH} {_HEIGHT}" role="img" '
        f'aria-label="{_e(", ".join(described))}">'
    ]
    bottom = _TOP + 2 * _ROW - (_ROW - _BAR)
    parts.append(
        f'<line class="axis" x1="{x(0):.1f}" y1="{_TOP - 2}" x2="{x(0):.1f}" y2="{bottom + 2}"/>'
    )
    for row, (label, amount, css) in enumerate(
        (("Baseline", baseline, "bar-baseline"), ("Release", value, "bar-release"))
    ):
        top = _TOP + row * _ROW
        text_y = top + _BAR / 2 + 4
        parts.append(f'<text x="0" y="{text_y:.1f}">{label}</text>')
        if amount is None:
            parts.append(
                f'<text class="nodata" x="{_PLOT_LEFT + 4}" y="{text_y:.1f}">no data</text>'
            )
            continue
        left, right = x(min(0.0, amount)), x(max(0.0, amount))
        # A zero bar stays a visible sliver on the axis rather than vanishing.
        width = max(right - left, 1.0)
        parts.append(
            f'<rect class="{css}" x="{left:.1f}" y="{top}" width="{width:.1f}" '
            f'height="{_BAR}" rx="2"/>'
        )
        parts.append(
            f'<text x="{_WIDTH}" y="{text_y:.1f}" text-anchor="end">'
            f"{_e(format_value(amount, unit))}</text>"
        )
    if threshold is not None:
        at = x(threshold)
        parts.append(
            f'<line class="threshold" x1="{at:.1f}" y1="{_TOP - 4}" x2="{at:.1f}" '
            f'y2="{bottom + 2}"/>'
        )
        # Label on the side with room, so it never runs off the chart.
        middle = (_PLOT_LEFT + _PLOT_RIGHT) / 2
        anchor, shift = ("start", 3) if at < middle else ("end", -3)
        parts.append(
            f'<text class="threshold-label" x="{at + shift:.1f}" y="10" '
            f'text-anchor="{anchor}">threshold {_e(format_value(threshold, unit))}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


# The path chart: value over the polls, a label column on the left, times below.
_PATH_HEIGHT, _PATH_LEFT, _PATH_RIGHT = 120, 62, _WIDTH - 8
_PATH_TOP, _PATH_BOTTOM = 16, 120 - 18


def _clock(moment: datetime) -> str:
    return wording.utc_time(moment).split(" ", 1)[1]  # "14:25 UTC": the day is in the banner


def _path_svg(report: GateReport, criterion: CriterionResult) -> str:
    """The criterion's value at each poll as a line over time, a dot per poll in the colour of its
    verdict then, and the threshold dashed across."""
    unit = criterion.unit
    seen = polls.path(report, criterion.name)
    points = [(at, p, _finite(p.value)) for at, p in seen]
    thresholds = [t for _, p in seen if (t := _finite(p.threshold)) is not None]
    threshold = thresholds[-1] if thresholds else None
    known = [v for _, _, v in points if v is not None]
    label = f"{criterion.name} over {len(seen)} polls"
    if known:
        label += f": {format_value(known[0], unit)} to {format_value(known[-1], unit)}"
    if threshold is not None:
        label += f", threshold {format_value(threshold, unit)}"
    parts = [
        f'<svg class="chart" viewBox="0 0 {_WIDTH} {_PATH_HEIGHT}" role="img" '
        f'aria-label="{_e(label)}">'
    ]
    if not known:
        parts.append(
            f'<text class="nodata" x="{_PATH_LEFT + 4}" y="{_PATH_TOP + 20}">no data</text></svg>'
        )
        return "".join(parts)
    share_of = levels(known + ([threshold] if threshold is not None else []))
    start, end = seen[0][0], seen[-1][0]
    length = (end - start).total_seconds()

    def x(at: datetime) -> float:
        if not length:
            return (_PATH_LEFT + _PATH_RIGHT) / 2
        share = (at - start).total_seconds() / length
        return _PATH_LEFT + share * (_PATH_RIGHT - _PATH_LEFT)

    def y(v: float) -> float:
        return _PATH_BOTTOM - share_of(v) * (_PATH_BOTTOM - _PATH_TOP)

    parts.append(
        f'<line class="axis" x1="{_PATH_LEFT}" y1="{_PATH_BOTTOM}" x2="{_PATH_RIGHT}" '
        f'y2="{_PATH_BOTTOM}"/>'
    )
    # The highest and lowest value, each level with its place; the times of the first and the
    # last poll below.
    for tick in sorted({max(known), min(known)}):
        parts.append(
            f'<text class="tick" x="0" y="{y(tick) + 4:.1f}">{_e(format_value(tick, unit))}</text>'
        )
    parts.append(
        f'<text class="tick" x="{_PATH_LEFT}" y="{_PATH_HEIGHT - 4}">'
        f"{_e(_clock(start))}</text>"
        f'<text class="tick" x="{_PATH_RIGHT}" y="{_PATH_HEIGHT - 4}" text-anchor="end">'
        f"{_e(_clock(end))}</text>"
    )
    if threshold is not None:
        level = y(threshold)
        parts.append(
            f'<line class="threshold" x1="{_PATH_LEFT}" y1="{level:.1f}" x2="{_PATH_RIGHT}" '
            f'y2="{level:.1f}"/>'
        )
        # In the margin above the plot, where no point can hide it; the dashes tell which line.
        parts.append(
            f'<text class="threshold-label" x="{_PATH_RIGHT}" y="10" text-anchor="end">'
            f"- - threshold {_e(format_value(threshold, unit))}</text>"
        )
    # A poll without a value breaks the line rather than bridging the gap.
    runs: list[list[str]] = [[]]
    for at, _, v in points:
        if v is None:
            runs.append([])
        else:
            runs[-1].append(f"{x(at):.1f},{y(v):.1f}")
    parts += [f'<polyline class="path" points="{" ".join(r)}"/>' for r in runs if len(r) > 1]
    for at, p, v in points:
        if v is not None:
            parts.append(
                f'<circle class="point v-{p.verdict.value}" cx="{x(at):.1f}" cy="{y(v):.1f}" '
                f'r="2.5"><title>{_e(wording.utc_time(at))}: {_e(format_value(v, unit))}, '
                f"{_e(p.verdict.value)}</title></circle>"
            )
    parts.append("</svg>")
    return "".join(parts)


def _fact(term: str, definition: str) -> str:
    return f"<div><dt>{_e(term)}</dt><dd>{_e(definition)}</dd></div>"


def _banner(report: GateReport) -> str:
    verdict = report.verdict
    release = report.release.name or "(unnamed)"
    score = wording.score(report, " / 100")
    facts = [_fact("Deployed", wording.utc_time(report.release.deployed_at))]
    if wording.checkpoint(report):
        facts.append(_fact("Checkpoint", wording.checkpoint(report) or ""))
    facts += [
        _fact(
            f"{label.capitalize()} window",
            f"{wording.utc_time(w.start)} → {wording.utc_time(w.end)}",
        )
        for label, w in report.windows.items()
    ]
    if report.design:
        facts.append(_fact("Design", report.design))
    if report.polls:
        facts.append(_fact("Waited", polls.wait_sentence(report)))
    policy = wording.policy(report)
    facts += [
        _fact("Score", f"{score} ({policy})" if policy else score),
        _fact(
            "Criteria",
            ", ".join(f"{report.count(v)} {v.value}" for v in Verdict if report.count(v)) or "none",
        ),
    ]
    dry_run = (
        (
            '<p class="dry-run">Dry run: the exit code ignores this verdict; it does not gate '
            "the release.</p>"
        )
        if report.dry_run
        else ""
    )
    return (
        f'<header class="banner v-{verdict.value}">'
        f'<h1><span class="badge">{_WORD[verdict]}</span> release {_e(release)}</h1>'
        f"{dry_run}"
        f'<p class="summary">{_e(report.summary)}</p>'
        f'<dl class="facts">{"".join(facts)}</dl>'
        f"{_links(report.links)}"
        "</header>"
    )


def _links(links: dict[str, str]) -> str:
    """The report's links (dashboards, the CI run, the commit). Only http(s) addresses are links;
    following one is the reader's choice: the page itself still loads nothing."""
    if not links:
        return ""
    shown = [
        f'<a href="{_e(url)}" rel="noopener noreferrer">{_e(title)}</a>'
        if urlsplit(url).scheme in ("http", "https")
        else f"{_e(title)}: {_e(url)}"
        for title, url in links.items()
    ]
    return f'<p class="links">{"".join(f"<span>{link}</span>" for link in shown)}</p>'


def _check_item(check: Check, unit: str) -> str:
    p = "" if check.p_value is None else f", p {format_p_value(check.p_value)}"
    return (
        f"<li><strong>{_e(check.rule)} {_e(check.limit)}</strong> "
        f"(threshold {_e(wording.threshold(check, unit))}): {_e(check.outcome.value)}{_e(p)}. "
        f"{_e(check.note)}</li>"
    )


def _more(c: CriterionResult) -> str:
    """Checks, counts and queries: there for whoever needs to trace a verdict, folded away."""
    parts = [
        "<details><summary>Checks and queries</summary>",
        f"<p>Metric {_e(c.metric)} from provider {_e(c.provider)}, severity "
        f"{_e(c.severity)}, weight {c.weight:g}.</p>",
    ]
    if c.checks:
        parts.append("<ul>" + "".join(_check_item(k, c.unit) for k in c.checks) + "</ul>")
    else:
        parts.append("<p>No comparison rule was checked.</p>")
    for window, counts in c.details.items():
        figures = ", ".join(f"{name} {wording.count(n)}" for name, n in counts.items())
        parts.append(f"<p><strong>{_e(window)}:</strong> {_e(figures)}</p>")
    if c.notes:
        parts.append("<ul>" + "".join(f"<li>{_e(note)}</li>" for note in c.notes) + "</ul>")
    for title, query, varies in wording.query_groups(c.queries):
        same = " (with each window's own times and values)" if varies else ""
        parts.append(
            f"<p><strong>{_e(title)}</strong>{_e(same)}</p><pre><code>{_e(query)}</code></pre>"
        )
    parts.append("</details>")
    return "".join(parts)


def _chance(p: float) -> str:
    if p < 0.001:
        return "less than once in 1,000 comparisons"
    if p < 0.01:
        return f"about {p * 1000:.0f} times in 1,000"
    return f"about {p * 100:.0f} times in 100"


def _statistics(c: CriterionResult) -> str:
    """The numbers behind the verdict in plain words, for a reader who does not read p-values."""
    samples = f"Measured on {c.samples:,} samples in the release window"
    if c.baseline_samples is not None:
        samples += f" and {c.baseline_samples:,} in the baseline"
    sentences = [samples + "."]
    if c.change is not None and math.isfinite(c.change):
        direction = "up" if c.change > 0 else "down" if c.change < 0 else "unchanged"
        amount = "" if direction == "unchanged" else f" {abs(c.change) * 100:.1f}%"
        sentences.append(f"Release vs baseline: {direction}{amount}.")
    if c.p_value is not None:
        p = format_p_value(c.p_value)
        sentences.append(
            f"p {p if p.startswith('<') else '= ' + p}: if nothing had really changed, a gap "
            f"this large would turn up by chance {_chance(c.p_value)}."
        )
    else:
        sentences.append("No significance test decided this: the numbers are compared as measured.")
    return f'<p class="stats">{_e(" ".join(sentences))}</p>'


def _reproduce(c: CriterionResult) -> str:
    if c.reproduce is None:
        return ""
    said = c.reproduce.hint(code=lambda command: f"<code>{_e(command)}</code>", text=_e, unsaid="")
    end = "." if c.reproduce.command is None else ""
    return f'<p class="reproduce">{said[0].upper()}{said[1:]}{end}</p>'


def _card(c: CriterionResult, report: GateReport) -> str:
    figures = [
        _fact("Value", format_value(c.value, c.unit)),
        _fact("Baseline", format_value(c.baseline, c.unit)),
        _fact("Threshold", wording.threshold(c, c.unit)),
        _fact("Samples", f"{c.samples:,}"),
        _fact("Baseline samples", "—" if c.baseline_samples is None else f"{c.baseline_samples:,}"),
        _fact("p-value", format_p_value(c.p_value)),
    ]
    key = ' <span class="badge key">key</span>' if c.key else ""
    if warn_only(c):
        key += ' <span class="badge warn-only">warn only</span>'
    return (
        f'<article class="card v-{c.verdict.value}">'
        f"<h2><span>{_e(c.name)}{key}</span>"
        f'<span class="badge">{_WORD[c.verdict]}</span></h2>'
        f'<p class="message">{_e(c.message)}</p>'
        f"{_reproduce(c)}"
        f"{_statistics(c)}"
        f'<dl class="figures">{"".join(figures)}</dl>'
        f"{_chart_svg(c)}"
        f"{series_svg(c, report) if c.series else ''}"
        f"{_path_svg(report, c) if report.polls else ''}"
        f"{_more(c)}"
        "</article>"
    )


def render_html(report: GateReport) -> str:
    release = report.release.name or "(unnamed)"
    title = f"cxe-gate: {_WORD[report.verdict]}, release {release}"
    if report.dry_run:
        title += " (dry run)"
    cards = (
        "".join(_card(c, report) for c in by_attention(report.criteria))
        if report.criteria
        else "<p>No criteria were evaluated.</p>"
    )
    config = f" from {report.config_file}" if report.config_file else ""
    return page(
        title,
        f"{_banner(report)}\n"
        f'<section class="cards">{cards}</section>\n'
        f"<footer>{_e(report.tool)} {_e(report.tool_version)}, report generated "
        f"{_e(wording.utc_time(report.generated_at))}{_e(config)}.</footer>\n",
    )


def page(title: str, body: str, *, style: str = STYLE) -> str:
    """A self-contained page around `body`: no network (the CSP), light and dark colours."""
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        '<meta name="color-scheme" content="light dark">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">\n'
        f"<title>{_e(title)}</title>\n"
        f"<style>{style}</style>\n"
        "</head>\n<body>\n<main>\n"
        f"{body}"
        "</main>\n</body>\n</html>\n"
    )
