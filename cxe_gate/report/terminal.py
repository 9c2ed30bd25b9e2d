"""The readable terminal summary: one line per criterion and the plain sentence behind it."""

from __future__ import annotations

from ..measurement import format_value
from ..results import GateReport, Verdict
from . import wording

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
    for label, window in report.windows.items():
        lines.append(
            f"  {label:<8} window {wording.utc_time(window.start)} → {wording.utc_time(window.end)}"
        )
    lines.append("")
    width = max(len(c.name) for c in report.criteria)
    for c in report.criteria:
        figures = f"{format_value(c.value, c.unit)}"
        if c.baseline is not None:
            figures += f" (baseline {format_value(c.baseline, c.unit)})"
        stats = f"n={c.samples:,}"
        if c.p_value is not None:
            stats += f", p={c.p_value:.3g}"
        key = " [key]" if c.key else ""
        lines.append(f"{_badge(c.verdict, colour)}{c.name:<{width}}  {figures}  {stats}{key}")
        lines.append(f"{'':13}{c.message}")
    lines.append("")
    score = "n/a" if report.score is None else f"{report.score:g}"
    suffix = "  (dry run: the exit code ignores the verdict)" if report.dry_run else ""
    lines.append(f"{_badge(report.verdict, colour)}score {score}: {report.summary}{suffix}")
    return "\n".join(lines)
