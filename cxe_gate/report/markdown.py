"""The Markdown report for a GitHub step summary or pull-request comment: one row per criterion."""

from __future__ import annotations

import re

from ..measurement import Unit, format_change, format_p_value, format_value
from ..results import CriterionResult, GateReport, Verdict
from . import polls, wording

_EMOJI = {
    Verdict.PASS: "✅",
    Verdict.WARN: "⚠️",
    Verdict.FAIL: "❌",
    Verdict.INCONCLUSIVE: "❔",
    Verdict.ERROR: "💥",
}

# Every character Markdown, GFM tables or HTML give a meaning to becomes a numeric character
# reference: CommonMark treats those as literal text, so a name cannot open a code span, a link, a
# table cell or a tag. Backslash escapes would not do: GFM splits table cells before it reads them.
_ESCAPES = str.maketrans({c: f"&#{ord(c)};" for c in "&<>|`\\*_[]~!#$"})


def _text(value: str) -> str:
    """Untrusted text on one line: a newline would end a table row or open a new block. Never put
    the result in a code span: character references are not decoded there."""
    return " ".join(value.split()).translate(_ESCAPES)


def _signed(text: str, amount: float) -> str:
    return f"+{text}" if amount > 0 else text


def _change(c: CriterionResult) -> str:
    """The absolute difference in the metric's unit, and the relative change when it is defined."""
    if c.value is None or c.baseline is None:
        return "—"
    amount = c.value - c.baseline
    text = _signed(format_change(amount, c.unit), amount)
    if c.change is not None:
        text += f" ({_signed(format_value(c.change, Unit.RATIO), c.change)})"
    return text


def _row(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def _header(report: GateReport) -> list[str]:
    release = _text(report.release.name) if report.release.name else "(unnamed)"
    verdict = report.verdict
    title = f"## {_EMOJI[verdict]} {verdict.value.upper()}: release {release}"
    if report.dry_run:
        title += " (dry run)"
    lines = [title, ""]
    if report.dry_run:
        lines += [
            "> **Dry run:** the exit code ignores this verdict; it does not gate the release.",
            "",
        ]
    score = wording.score(report, "/100")
    facts = [f"**Deployed** {wording.utc_time(report.release.deployed_at)}"]
    facts += [
        f"**{_text(label)} window** {wording.utc_time(w.start)} → {wording.utc_time(w.end)}"
        for label, w in report.windows.items()
    ]
    facts.append(f"**Score** {score}")
    lines += [" · ".join(facts), ""]
    if report.design:
        lines += [f"**Design** {_text(report.design)}", ""]
    lines += [_text(report.summary), ""]
    return lines


def _table(report: GateReport) -> list[str]:
    lines = [
        _row(
            [
                "Verdict",
                "Criterion",
                "Value",
                "Baseline",
                "Change",
                "Threshold",
                "Samples",
                "p-value",
            ]
        ),
        "|:--|:--|--:|--:|--:|--:|--:|--:|",
    ]
    for c in report.criteria:
        name = _text(c.name) + (" 🔑" if c.key else "")
        lines.append(
            _row(
                [
                    f"{_EMOJI[c.verdict]} {c.verdict.value}",
                    name,
                    format_value(c.value, c.unit),
                    format_value(c.baseline, c.unit),
                    _change(c),
                    wording.threshold(c, c.unit),
                    f"{c.samples:,}",
                    format_p_value(c.p_value),
                ]
            )
        )
    return [*lines, ""]


def _why(report: GateReport) -> list[str]:
    lines = ["### Why", ""]
    # The emoji comes first so untrusted text never starts a list item (no "# heading" inside it).
    lines += [
        f"- {_EMOJI[c.verdict]} **{_text(c.name)}**: {_text(c.message)}" for c in report.criteria
    ]
    return [*lines, ""]


def _fence(code: str) -> str:
    """A fenced block longer than any backtick run inside, so the query cannot close it."""
    longest = max((len(run) for run in re.findall(r"`+", code)), default=0)
    fence = "`" * max(3, longest + 1)
    body = code.replace("\r\n", "\n").replace("\r", "\n")
    return f"{fence}\n{body}\n{fence}"


def _details(c: CriterionResult) -> list[str]:
    lines = [
        "<details>",
        f"<summary>{_EMOJI[c.verdict]} {_text(c.name)}: checks and queries</summary>",
        "",
        f"Metric {_text(c.metric)} from provider {_text(c.provider)}, severity "
        f"{_text(c.severity)}, weight {c.weight:g}; samples {c.samples:,} in the release window"
        + ("" if c.baseline_samples is None else f", {c.baseline_samples:,} in the baseline")
        + ".",
        "",
    ]
    if c.checks:
        lines += [
            _row(["Rule", "Limit", "Threshold", "Outcome", "p-value", "Note"]),
            "|:--|:--|--:|:--|--:|:--|",
        ]
        lines += [
            _row(
                [
                    _text(k.rule),
                    _text(k.limit),
                    wording.threshold(k, c.unit),
                    k.outcome.value,
                    format_p_value(k.p_value),
                    _text(k.note),
                ]
            )
            for k in c.checks
        ]
        lines.append("")
    else:
        lines += ["No comparison rule was checked.", ""]
    for window, counts in c.details.items():
        figures = ", ".join(f"{_text(name)} {wording.count(n)}" for name, n in counts.items())
        lines += [f"**{_text(window)}:** {figures}", ""]
    if c.notes:
        lines += [*(f"- {_text(note)}" for note in c.notes), ""]
    for window, query in c.queries.items():
        lines += [f"**{_text(wording.query_title(window))}**", "", _fence(query), ""]
    return [*lines, "</details>", ""]


def _seen(value: float | None, verdict: Verdict, unit: str) -> str:
    return f"{format_value(value, unit)} {_EMOJI[verdict]}"


def _sparkline(values: list[float | None]) -> str:
    if all(v is None for v in values):
        return "no data"
    # In a code span the blocks keep one width; they need no escaping.
    return f"`{polls.sparkline(values)}`"


def _polls(report: GateReport) -> list[str]:
    """The metric's path while the gate waited: a sparkline per criterion, each poll folded away."""
    lines = ["### Polls", "", _text(polls.wait_sentence(report)), ""]
    lines += [_row(["Criterion", "Path", "First poll", "Last poll"]), "|:--|:--|--:|--:|"]
    units = {c.name: c.unit for c in report.criteria}
    for c in report.criteria:
        seen = [p for _, p in polls.path(report, c.name)]
        if not seen:
            continue
        lines.append(
            _row(
                [
                    _text(c.name),
                    _sparkline([p.value for p in seen]),
                    _seen(seen[0].value, seen[0].verdict, c.unit),
                    _seen(seen[-1].value, seen[-1].verdict, c.unit),
                ]
            )
        )
    names = [c.name for c in report.criteria]
    lines += [
        "",
        "<details>",
        "<summary>Each poll</summary>",
        "",
        _row(["Poll", "Time", "Release window to", *(_text(n) for n in names)]),
        "|--:|:--|:--|" + "--:|" * len(names),
    ]
    for number, poll in enumerate(report.polls, 1):
        by_name = {p.name: p for p in poll.criteria}
        cells = [
            _seen(by_name[n].value, by_name[n].verdict, units[n]) if n in by_name else "—"
            for n in names
        ]
        lines.append(
            _row(
                [
                    str(number),
                    wording.utc_time(poll.at),
                    wording.utc_time(poll.release_end),
                    *cells,
                ]
            )
        )
    return [*lines, "", "</details>", ""]


def render_markdown(report: GateReport) -> str:
    lines = _header(report)
    if not report.criteria:
        lines += ["No criteria were evaluated.", ""]
        return "\n".join(lines)
    lines += _table(report) + _why(report)
    if report.polls:
        lines += _polls(report)
    for c in report.criteria:
        lines += _details(c)
    return "\n".join(lines)
