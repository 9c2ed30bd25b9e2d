"""The readable terminal summary: one line per criterion and the plain sentence behind it; while
`evaluate --wait` polls, the live view of each poll."""

from __future__ import annotations

from ..measurement import format_value
from ..results import CriterionResult, GateReport, Verdict
from . import polls, wording
from .order import by_attention, warn_only

_COLOURS = {
    Verdict.PASS: "32",  # green
    Verdict.WARN: "33",  # yellow
    Verdict.FAIL: "31",  # red
    Verdict.INCONCLUSIVE: "35",  # magenta
    Verdict.ERROR: "31;1",  # bold red
}


def _badge(verdict: Verdict, colour: bool) -> str:
    text = f"{verdict.value.upper():<13}"
    return f"\x1b[{_COLOURS[verdict]}m{text}\x1b[0m" if colour else text


def render_terminal(report: GateReport, *, colour: bool = False) -> str:
    release = report.release
    lines = [
        f"cxe-gate {report.tool_version}: release {release.name or '(unnamed)'} "
        f"deployed {wording.utc_time(release.deployed_at)}",
    ]
    if wording.checkpoint(report):
        lines.append(f"  checkpoint: {wording.checkpoint(report)}")
    if report.design:
        lines.append(f"  design: {report.design}")
    for label, window in report.windows.items():
        lines.append(
            f"  {label:<8} window {wording.utc_time(window.start)} → {wording.utc_time(window.end)}"
        )
    lines.append("")
    width = max(len(c.name) for c in report.criteria)
    for c in by_attention(report.criteria):
        figures = f"{format_value(c.value, c.unit)}"
        if c.baseline is not None:
            figures += f" (baseline {format_value(c.baseline, c.unit)})"
        stats = f"n={c.samples:,}"
        if c.p_value is not None:
            stats += f", p={c.p_value:.3g}"
        key = (" [key]" if c.key else "") + (" [warn only]" if warn_only(c) else "")
        lines.append(f"{_badge(c.verdict, colour)}{c.name:<{width}}  {figures}  {stats}{key}")
        lines.append(f"{'':13}{c.message}")
        if c.reproduce is not None:
            lines.append(f"{'':13}{c.reproduce.hint()}")
    lines.append("")
    if report.polls:
        lines += _path(report, width)
    score = wording.score(report)
    suffix = "  (dry run: the exit code ignores the verdict)" if report.dry_run else ""
    lines.append(f"{_badge(report.verdict, colour)}score {score}: {report.summary}{suffix}")
    policy = wording.policy(report)
    if policy:
        lines.append(f"{'':13}{policy}")
    return "\n".join(lines)


def _path(report: GateReport, width: int) -> list[str]:
    """Each criterion's value over the polls, as a sparkline from the first poll to the last."""
    lines = [polls.wait_sentence(report)]
    for c in by_attention(report.criteria):
        seen = [p for _, p in polls.path(report, c.name)]
        values = [p.value for p in seen]
        if all(v is None for v in values):
            lines.append(f"  {c.name:<{width}}  no data")
            continue
        first, last = format_value(values[0], c.unit), format_value(values[-1], c.unit)
        lines.append(f"  {c.name:<{width}}  {polls.sparkline(values)}  {first} → {last}")
    return [*lines, ""]


def _status(c: CriterionResult) -> str:
    # While the gate waits, inconclusive means "not decided yet", not "gave up".
    return "undecided" if c.verdict == Verdict.INCONCLUSIVE else c.verdict.value


def render_poll_line(report: GateReport) -> str:
    """One log line per poll, for a CI log: the counts, and the criteria still open or failed."""
    poll = report.polls[-1]
    counts: dict[str, list[str]] = {}
    for c in report.criteria:
        counts.setdefault(_status(c), []).append(c.name)
    parts = []
    for status, names in counts.items():
        named = f" ({', '.join(names)})" if status in ("undecided", "fail", "error") else ""
        parts.append(f"{len(names)} {status}{named}")
    line = (
        f"poll {len(report.polls)} at {wording.utc_time(poll.at)}, release window read to "
        f"{wording.utc_time(poll.release_end)}: {', '.join(parts)}"
    )
    reason = polls.why(report)
    if reason is not None:
        line += f"; stopped: {reason}"
    return line


def render_poll_table(report: GateReport, *, colour: bool = False) -> str:
    """The live view while waiting: each criterion's current estimate and status."""
    poll = report.polls[-1]
    wait = report.wait
    deadline = f", deadline {wording.utc_time(wait.deadline)}" if wait is not None else ""
    lines = [
        f"poll {len(report.polls)} at {wording.utc_time(poll.at)}: release window read to "
        f"{wording.utc_time(poll.release_end)}{deadline}"
    ]
    width = max((len(c.name) for c in report.criteria), default=0)
    for c in report.criteria:
        estimate = format_value(c.value, c.unit)
        if c.baseline is not None:
            estimate += f" (baseline {format_value(c.baseline, c.unit)})"
        status = f"{_status(c):<13}"
        if colour:
            status = f"\x1b[{_COLOURS[c.verdict]}m{status}\x1b[0m"
        lines.append(f"  {status}{c.name:<{width}}  {estimate}  n={c.samples:,}")
    if wait is not None and wait.stopped is not None:
        lines.append(polls.wait_sentence(report))
    return "\n".join(lines)
