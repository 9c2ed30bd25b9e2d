"""The gate's part of pytest's terminal summary: the verdict and score, one line per criterion."""

from __future__ import annotations

from cxe_gate.measurement import format_value
from cxe_gate.report import wording
from cxe_gate.results import CriterionResult, GateReport, Verdict

_MARKUP = {
    Verdict.PASS: {"green": True},
    Verdict.WARN: {"yellow": True},
    Verdict.FAIL: {"red": True},
    Verdict.INCONCLUSIVE: {"purple": True},
    Verdict.ERROR: {"red": True, "bold": True},
}


def title(report: GateReport) -> str:
    release = report.release
    return (
        f"cxe-gate: release {release.name or '(unnamed)'} "
        f"deployed {wording.utc_time(release.deployed_at)}"
    )


def _figures(c: CriterionResult) -> str:
    if c.value is None:
        return " ".join(c.message.split())  # nothing measured: say why
    figures = format_value(c.value, c.unit)
    if c.baseline is not None:
        figures += f" (baseline {format_value(c.baseline, c.unit)})"
    figures += f"  n={c.samples:,}"
    if c.p_value is not None:
        figures += f", p={c.p_value:.3g}"
    return figures


def lines(report: GateReport, notes: list[str]) -> list[tuple[str, dict[str, bool]]]:
    """(text, markup) per line."""
    width = max(len(c.name) for c in report.criteria)
    out = [
        (
            f"{c.verdict.value.upper():<13}{c.name:<{width}}  {_figures(c)}"
            + ("  [key]" if c.key else ""),
            _MARKUP[c.verdict],
        )
        for c in report.criteria
    ]
    score = wording.score(report)
    out.append(
        (
            f"{report.verdict.value.upper():<13}score {score}: {report.summary}",
            {**_MARKUP[report.verdict], "bold": True},
        )
    )
    out += [(note, {}) for note in notes]
    return out
