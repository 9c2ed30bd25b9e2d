"""The Markdown report for a GitHub step summary or pull-request comment: one row per criterion."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import quote, urlsplit

from ..measurement import Unit, format_change, format_p_value, format_value
from ..results import CriterionResult, GateReport, Verdict
from . import polls, wording
from .order import by_attention, warn_only

# GitHub refuses a comment or step summary over 65,536 characters; the rest is room for what a
# caller wraps around the report (a marker, a heading).
MAX_CHARS = 60_000
# A query longer than this is cut in the Markdown (the JSON report keeps it whole).
_QUERY_CHARS = 4_000
_MORE_ROWS = "…{n} more criteria in the JSON report."
_MORE_REASONS = "…{n} more reasons in the JSON report."
_MORE_POLLS = "The polls are in the JSON report."
_MORE_DETAILS = "…{n} more criteria's checks and queries in the JSON report."
# What a percent-encoded URL may keep: everything but what Markdown or a table reads.
_URL_SAFE = ":/?#@!$&'*+,;=%-._~[]"

# Each verdict's mark in Markdown (also the history page's).
EMOJI = {
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


def inline(value: str) -> str:
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
    release = inline(report.release.name) if report.release.name else "(unnamed)"
    verdict = report.verdict
    title = f"## {EMOJI[verdict]} {verdict.value.upper()}: release {release}"
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
    if wording.checkpoint(report):
        facts.append(f"**Checkpoint** {inline(wording.checkpoint(report) or '')}")
    facts += [
        f"**{inline(label)} window** {wording.utc_time(w.start)} → {wording.utc_time(w.end)}"
        for label, w in report.windows.items()
    ]
    policy = wording.policy(report)
    facts.append(f"**Score** {score}" + (f" ({inline(policy)})" if policy else ""))
    lines += [" · ".join(facts), ""]
    if report.design:
        lines += [f"**Design** {inline(report.design)}", ""]
    if report.links:
        shown = [_link(title, url) for title, url in report.links.items()]
        lines += ["**Links** " + " · ".join(shown), ""]
    lines += [inline(report.summary), ""]
    return lines


def _link(title: str, url: str) -> str:
    """A link to an http(s) address, percent-encoded so it cannot close the link or open another;
    any other address is shown as text only, never linked."""
    if urlsplit(url).scheme not in ("http", "https"):
        return f"{inline(title)}: {inline(url)}"
    return f"[{inline(title)}]({quote(url, safe=_URL_SAFE)})"


def _name(c: CriterionResult) -> str:
    return inline(c.name) + (" 🔑" if c.key else "") + (" (warn only)" if warn_only(c) else "")


_TABLE_HEAD = [
    _row(
        ["Verdict", "Criterion", "Value", "Baseline", "Change", "Threshold", "Samples", "p-value"]
    ),
    "|:--|:--|--:|--:|--:|--:|--:|--:|",
]


def _table_row(c: CriterionResult) -> str:
    return _row(
        [
            f"{EMOJI[c.verdict]} {c.verdict.value}",
            _name(c),
            format_value(c.value, c.unit),
            format_value(c.baseline, c.unit),
            _change(c),
            wording.threshold(c, c.unit),
            f"{c.samples:,}",
            format_p_value(c.p_value),
        ]
    )


def _why_item(c: CriterionResult) -> str:
    # The emoji comes first so untrusted text never starts a list item (no "# heading" inside it).
    return f"- {EMOJI[c.verdict]} **{inline(c.name)}**: {inline(c.message)}{_reproduce(c)}"


def _code(text: str) -> str:
    """A code span on one line that nothing inside can close: fenced by more backticks than the
    longest run in it (character references would show verbatim in a span, so none are used)."""
    flat = " ".join(text.split())
    longest = max((len(run) for run in re.findall(r"`+", flat)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if flat.startswith("`") or flat.endswith("`") else ""
    return f"{fence}{pad}{flat}{pad}{fence}"


def _reproduce(c: CriterionResult) -> str:
    # Said once, with the reason: in the criterion's "Why" item, never again in its details.
    if c.reproduce is None:
        return ""
    return f" · {c.reproduce.hint(code=_code, text=inline, unsaid='')}"


def _fence(code: str) -> str:
    """A fenced block longer than any backtick run inside, so the query cannot close it."""
    longest = max((len(run) for run in re.findall(r"`+", code)), default=0)
    fence = "`" * max(3, longest + 1)
    body = code.replace("\r\n", "\n").replace("\r", "\n")
    return f"{fence}\n{body}\n{fence}"


def _details(c: CriterionResult) -> str:
    lines = [
        "<details>",
        f"<summary>{EMOJI[c.verdict]} {_name(c)}: checks and queries</summary>",
        "",
        f"Metric {inline(c.metric)} from provider {inline(c.provider)}, severity "
        f"{inline(c.severity)}, weight {c.weight:g}; samples {c.samples:,} in the release window"
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
                    inline(k.rule),
                    inline(k.limit),
                    wording.threshold(k, c.unit),
                    k.outcome.value,
                    format_p_value(k.p_value),
                    inline(k.note),
                ]
            )
            for k in c.checks
        ]
        lines.append("")
    else:
        lines += ["No comparison rule was checked.", ""]
    for window, counts in c.details.items():
        figures = ", ".join(f"{inline(name)} {wording.count(n)}" for name, n in counts.items())
        lines += [f"**{inline(window)}:** {figures}", ""]
    if c.series:
        lines += [_series(c), ""]
    if c.notes:
        lines += [*(f"- {inline(note)}" for note in c.notes), ""]
    for title, query, varies in wording.query_groups(c.queries):
        lines += [f"**{inline(title)}**", ""]
        if varies:
            lines += [
                "The same query for each window, with that window's own times and values.",
                "",
            ]
        lines += [_fence(query[:_QUERY_CHARS]), ""]
        if len(query) > _QUERY_CHARS:
            lines += [
                f"Cut at {_QUERY_CHARS:,} of {len(query):,} characters: the whole query is in "
                "the JSON report.",
                "",
            ]
    return "\n".join([*lines, "</details>", ""])


def _series(c: CriterionResult) -> str:
    """Each window's value per interval as sparklines on one scale, so their heights compare."""
    windows = list(c.series.items())
    values = [p.value for _, points in windows for p in points]
    blocks = polls.sparkline(values)
    shown, at = [], 0
    for window, points in windows:
        line = blocks[at : at + len(points)]
        at += len(points)
        shown.append(f"{inline(window)} `{line}`" if line.strip() else f"{inline(window)} no data")
    count = max(len(points) for _, points in windows)
    return f"**Per interval** ({count} equal intervals of each window, one scale): " + ", ".join(
        shown
    )


def _seen(value: float | None, verdict: Verdict, unit: str) -> str:
    return f"{format_value(value, unit)} {EMOJI[verdict]}"


def _sparkline(values: list[float | None]) -> str:
    if all(v is None for v in values):
        return "no data"
    # In a code span the blocks keep one width; they need no escaping.
    return f"`{polls.sparkline(values)}`"


def _polls(report: GateReport) -> list[str]:
    """The metric's path while the gate waited: a sparkline per criterion, each poll folded away."""
    lines = ["### Polls", "", inline(polls.wait_sentence(report)), ""]
    lines += [_row(["Criterion", "Path", "First poll", "Last poll"]), "|:--|:--|--:|--:|"]
    units = {c.name: c.unit for c in report.criteria}
    for c in by_attention(report.criteria):
        seen = [p for _, p in polls.path(report, c.name)]
        if not seen:
            continue
        lines.append(
            _row(
                [
                    inline(c.name),
                    _sparkline([p.value for p in seen]),
                    _seen(seen[0].value, seen[0].verdict, c.unit),
                    _seen(seen[-1].value, seen[-1].verdict, c.unit),
                ]
            )
        )
    names = [c.name for c in by_attention(report.criteria)]
    lines += [
        "",
        "<details>",
        "<summary>Each poll</summary>",
        "",
        _row(["Poll", "Time", "Release window to", *(inline(n) for n in names)]),
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


@dataclass
class _Section:
    """Lines that always show, then items that may be left out from the end to fit, with a
    sentence saying how many were."""

    head: list[str]
    items: list[str]
    more: str  # "{n}" is replaced by the number left out
    kept: int = 0

    def lines(self) -> list[str]:
        left_out = len(self.items) - self.kept
        if not self.kept and not self.head and not left_out:
            return []
        note = ["", self.more.format(n=left_out)] if left_out else []
        return [*self.head, *self.items[: self.kept], *note, ""]


def _fit(header: list[str], sections: list[_Section], max_chars: int) -> str:
    """Every section whole if the text fits in `max_chars`; else items left out, the last
    section's last item first, until it does. Never cuts inside an item: tables stay tables."""

    def render() -> str:
        return "\n".join(header + [line for s in sections for line in s.lines()])

    for section in sections:
        section.kept = len(section.items)
    text = render()
    for section in reversed(sections):
        while len(text) > max_chars and section.kept:
            excess = len(text) - max_chars
            while excess > 0 and section.kept:
                section.kept -= 1
                excess -= len(section.items[section.kept]) + 1
            text = render()
    return text


def render_markdown(report: GateReport, *, max_chars: int = MAX_CHARS) -> str:
    """The report in GitHub Markdown, criteria needing attention first, in at most `max_chars`
    characters: the criteria's details, then the polls, then the reasons and the table's rows are
    left out from the end where it would be longer, each with a line saying so."""
    header = _header(report)
    if not report.criteria:
        return "\n".join([*header, "No criteria were evaluated.", ""])
    criteria = by_attention(report.criteria)
    sections = [
        _Section(_TABLE_HEAD, [_table_row(c) for c in criteria], _MORE_ROWS),
        _Section(["### Why", ""], [_why_item(c) for c in criteria], _MORE_REASONS),
    ]
    if report.polls:
        polls_lines = _polls(report)
        sections.append(_Section([], ["\n".join(polls_lines[:-1])], _MORE_POLLS))
    sections.append(_Section([], [_details(c) for c in criteria], _MORE_DETAILS))
    return _fit(header, sections, max_chars)
