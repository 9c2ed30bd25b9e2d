"""The JUnit XML report: one test case per criterion, so CI dashboards show the gate like tests.

Inconclusive counts as a failure: a criterion the gate could not decide must not look green."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime

from ..measurement import format_p_value, format_value
from ..results import CriterionResult, GateReport, Verdict
from . import wording

# Characters XML 1.0 cannot carry at all, not even escaped; ElementTree would write them anyway and
# leave a file no CI server can parse.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _x(text: object) -> str:
    return _NOT_XML.sub("\ufffd", str(text))


def _line(text: str) -> str:
    """Names and messages on one line: CI dashboards show them as titles."""
    return " ".join(_x(text).split())


def _number(value: float | int | None) -> str:
    # repr gives the shortest text that reads back as the same float; empty means no value.
    return "" if value is None else repr(value)


def _timestamp(moment: datetime) -> str:
    # The JUnit schema's timestamp has no time zone, so it is written in UTC.
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return aware.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="seconds")


def _properties(parent: ET.Element, values: dict[str, str]) -> None:
    properties = ET.SubElement(parent, "properties")
    for name, value in values.items():
        ET.SubElement(properties, "property", name=_x(name), value=_x(value))


def _explanation(c: CriterionResult) -> str:
    """The text under a verdict: figures, checks and queries, for whoever reads the CI log."""
    threshold = "none" if c.threshold is None else format_value(c.threshold, c.unit)
    lines = [
        c.message,
        f"value {format_value(c.value, c.unit)}, baseline {format_value(c.baseline, c.unit)}, "
        f"threshold {threshold}, samples {c.samples:,}, p-value {format_p_value(c.p_value, none='none')}",
    ]
    lines += [f"{k.rule} {k.limit}: {k.outcome.value}: {k.note}" for k in c.checks]
    lines += [f"{wording.query_title(window)}:\n{query}" for window, query in c.queries.items()]
    return _x("\n".join(lines))


def _testcase(suite: ET.Element, c: CriterionResult) -> None:
    case = ET.SubElement(
        suite, "testcase", classname=_line(f"cxe-gate.{c.metric}"), name=_line(c.name), time="0"
    )
    _properties(
        case,
        {
            "verdict": c.verdict.value,
            "value": _number(c.value),
            "baseline": _number(c.baseline),
            "change": _number(c.change),
            "threshold": _number(c.threshold),
            "unit": c.unit,
            "samples": _number(c.samples),
            "baseline_samples": _number(c.baseline_samples),
            "p_value": _number(c.p_value),
            "provider": c.provider,
            "severity": c.severity,
            "key": "true" if c.key else "false",
            "weight": _number(c.weight),
        },
    )
    message = _line(c.message)
    match c.verdict:
        case Verdict.FAIL | Verdict.INCONCLUSIVE:
            failure = ET.SubElement(case, "failure", type=c.verdict.value, message=message)
            failure.text = _explanation(c)
        case Verdict.ERROR:
            error = ET.SubElement(case, "error", type="error", message=message)
            error.text = _explanation(c)
        case Verdict.WARN | Verdict.PASS:
            out = ET.SubElement(case, "system-out")
            out.text = f"{c.verdict.value.upper()}: {_explanation(c)}"


def render_junit(report: GateReport) -> str:
    counts = {
        "tests": str(len(report.criteria)),
        "failures": str(report.count(Verdict.FAIL) + report.count(Verdict.INCONCLUSIVE)),
        "errors": str(report.count(Verdict.ERROR)),
        "skipped": "0",
    }
    root = ET.Element("testsuites", {"name": "cxe-gate", **counts, "time": "0"})
    suite = ET.SubElement(
        root,
        "testsuite",
        {
            "name": "cxe-gate",
            **counts,
            "time": "0",
            "timestamp": _timestamp(report.generated_at),
        },
    )
    properties = {
        "release": report.release.name or "",
        "deployed_at": report.release.deployed_at.isoformat(),
        "verdict": report.verdict.value,
        "score": _number(report.score),
        "summary": _line(report.summary),
        "dry_run": "true" if report.dry_run else "false",
        "tool_version": report.tool_version,
        "config_file": report.config_file or "",
    }
    for label, window in report.windows.items():
        properties[f"{label}_window"] = f"{window.start.isoformat()}/{window.end.isoformat()}"
    _properties(suite, properties)
    for c in report.criteria:
        _testcase(suite, c)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
