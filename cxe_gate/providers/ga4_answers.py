"""The Data API's answers read and checked: a report's row per window, a funnel's users per step,
values as numbers and counts, sampling, thresholding, the quota left and the property's time zone;
and a used-up quota told from a busy property."""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field, replace
from typing import Any

from ..errors import ProviderError
from ..measurement import Measurement
from .answers import provider_error
from .base import ProviderContext
from .ga4_requests import Span
from .ga4_settings import Ga4Settings
from .transport import Reply

Values = dict[str, float | None]

# What a 429 RESOURCE_EXHAUSTED message names (by a word in it), the quota's name in
# PropertyQuota, and when it refills. Only the concurrent-requests quota frees up within seconds.
_QUOTAS = (
    ("thresholded", "potentiallyThresholdedRequestsPerHour", "within the hour"),
    ("server error", "serverErrorsPerProjectPerHour", "within the hour"),
    ("project", "tokensPerProjectPerHour", "within the hour"),
    ("hour", "tokensPerHour", "within the hour"),
    ("day", "tokensPerDay", "within a day"),
)
_STEP_PREFIX = re.compile(r"^(\d+)\.\s*(.*)$")


@dataclass(frozen=True)
class Answer:
    """One window's row of a report (None: GA4 had no row for it), how it was asked for, and what
    the report said about itself (the quota left; whether small counts were withheld)."""

    values: Values | None
    query: str
    details: dict[str, float] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    def add_to(self, measurement: Measurement) -> Measurement:
        return replace(
            measurement,
            details=measurement.details | self.details,
            notes=measurement.notes + tuple(n for n in self.notes if n not in measurement.notes),
        )


def sampled_note(read: int, space: int) -> str:
    return (
        f"sampled: GA4 read {read / space:.1%} of the events ({read:,} of {space:,}) and scaled "
        "its counts up"
    )


class AnswerReader:
    """Reads one property's answers; whatever is not as GA4 documents it is a ProviderError."""

    def __init__(self, settings: Ga4Settings, context: ProviderContext):
        self.settings = settings
        self.context = context

    def fail(self, message: str, query: str | None) -> ProviderError:
        # Tokens, assertions and key material are registered with add_secret: redacted here too.
        return provider_error(self.context, message, query)

    # --- reports --------------------------------------------------------------------------------

    def rows(self, reply: Any, group: list[Span], query: str) -> dict[str, Values]:
        """The report's row per window label, metrics by name (GA4 sends values as text)."""
        if not isinstance(reply, dict):
            raise self.fail(f"expected a runReport answer (an object), got {kind(reply)}", query)
        rows = reply.get("rows") or []
        if not isinstance(rows, list):
            raise self.fail(f"expected rows to be a list, got {kind(rows)}", query)
        if not rows:
            return {}
        names = _header_names(reply.get("metricHeaders"))
        dimensions = _header_names(reply.get("dimensionHeaders") or [])
        if names is None or dimensions is None:
            raise self.fail(
                "expected metricHeaders and dimensionHeaders naming the columns of the rows, "
                f"got {kind(reply.get('metricHeaders'))}",
                query,
            )
        labels = {s.label: s.label for s in group}
        labels.update({f"date_range_{i}": s.label for i, s in enumerate(group)})
        by_range = dimensions.index("dateRange") if "dateRange" in dimensions else None
        if by_range is None and len(group) > 1:
            raise self.fail(
                f"expected a dateRange dimension telling {' and '.join(s.label for s in group)} rows "
                f"apart, got "
                f"dimensions {dimensions}",
                query,
            )
        found: dict[str, Values] = {}
        for row in rows:
            cells = row.get("metricValues") if isinstance(row, dict) else None
            keys = row.get("dimensionValues") if isinstance(row, dict) else None
            if not isinstance(cells, list) or len(cells) != len(names):
                raise self.fail(
                    f"expected {len(names)} metricValues per row ({', '.join(names)}), got "
                    f"{json.dumps(row)[:200]}",
                    query,
                )
            label = group[0].label
            if by_range is not None:
                if not isinstance(keys, list) or len(keys) != len(dimensions):
                    raise self.fail(
                        f"expected {len(dimensions)} dimensionValues per row, got {json.dumps(row)[:200]}",
                        query,
                    )
                name = _cell(keys[by_range])
                if name not in labels:
                    raise self.fail(
                        f"a row is for date range {name!r}; expected one of {', '.join(labels)}",
                        query,
                    )
                label = labels[name]
            if label in found:
                raise self.fail(
                    f"more than one row for the {label} window; a report read by the gate must "
                    "give one row per window (drop its dimensions, or filter them to one value)",
                    query,
                )
            found[label] = {
                name: self.number(_cell(cell), f"{label} {name}", query)
                for name, cell in zip(names, cells, strict=True)
            }
        return found

    def funnel_users(self, table: dict[str, Any], steps: list[str], query: str) -> list[int] | None:
        """Active users per step, in step order; None when GA4 had no rows (no data)."""
        rows = table.get("rows") or []
        if not isinstance(rows, list):
            raise self.fail(f"expected funnelTable.rows to be a list, got {kind(rows)}", query)
        if not rows:
            return None
        dimensions = _header_names(table.get("dimensionHeaders"))
        names = _header_names(table.get("metricHeaders"))
        if (
            dimensions is None
            or names is None
            or "funnelStepName" not in dimensions
            or "activeUsers" not in names
        ):
            raise self.fail(
                "expected funnelTable headers with the dimension funnelStepName and the metric "
                f"activeUsers, got dimensions {dimensions} and metrics {names}",
                query,
            )
        step_at, users_at = dimensions.index("funnelStepName"), names.index("activeUsers")
        users: dict[int, int | None] = {}
        for row in rows:
            keys = row.get("dimensionValues") if isinstance(row, dict) else None
            cells = row.get("metricValues") if isinstance(row, dict) else None
            if not (isinstance(keys, list) and isinstance(cells, list)) or len(cells) != len(names):
                raise self.fail(f"a funnelTable row is malformed: {json.dumps(row)[:200]}", query)
            label = str(_cell(keys[step_at]) if step_at < len(keys) else "")
            match = _STEP_PREFIX.match(label)
            index = int(match[1]) - 1 if match else (steps.index(label) if label in steps else -1)
            if not 0 <= index < len(steps):
                raise self.fail(
                    f"a funnelTable row is for step {label!r}; expected one of "
                    + ", ".join(f"{i + 1}. {s}" for i, s in enumerate(steps)),
                    query,
                )
            if index in users:
                raise self.fail(f"two funnelTable rows for step {label!r}", query)
            value = self.number(_cell(cells[users_at]), f"{label} activeUsers", query)
            users[index] = self.count(value, f"{label} activeUsers", query)
        missing = [f"{i + 1}. {s}" for i, s in enumerate(steps) if i not in users]
        if missing:
            raise self.fail(
                f"the funnelTable has no row for step {', '.join(missing)}; expected one row per "
                "step",
                query,
            )
        counts = [users[i] for i in range(len(steps))]
        if any(n is None for n in counts):
            return None
        return [n for n in counts if n is not None]

    # --- what a report says about itself --------------------------------------------------------

    def metadata(
        self, reply: dict[str, Any], metadata: Any, query: str
    ) -> tuple[dict[str, float], tuple[str, ...]]:
        """Check the property's time zone; the quota left (details) and thresholding (a note)."""
        details: dict[str, float] = {}
        notes: tuple[str, ...] = ()
        if isinstance(metadata, dict):
            zone = metadata.get("timeZone")
            if zone:
                self.guard_zone(str(zone), query)
            if metadata.get("subjectToThresholding"):
                notes = ("thresholded: GA4 withheld small counts, so values may be too low",)
        quota = reply.get("propertyQuota")
        if isinstance(quota, dict):
            for key, label in (
                ("tokensPerHour", "quota tokens left this hour"),
                ("tokensPerDay", "quota tokens left today"),
            ):
                remaining = (quota.get(key) or {}).get("remaining")
                if isinstance(remaining, int | float):
                    details[label] = float(remaining)
        return details, notes

    def guard_zone(self, zone: str, query: str) -> None:
        if zone != self.settings.timezone:
            raise self.fail(
                f"GA4 property {self.settings.property_id} reports days in {zone}, but "
                f"providers.{self.context.name}.timezone is {self.settings.timezone}: the "
                f"windows would be cut at the wrong midnight; set timezone: {zone}",
                query,
            )

    def sampling(self, metadata: Any, query: str) -> list[tuple[int, int] | None]:
        """Per date range, in the order asked: (events read, events there) where GA4 sampled;
        empty when it did not (GA4 then leaves samplingMetadatas out)."""
        found = metadata.get("samplingMetadatas") if isinstance(metadata, dict) else None
        if not found:
            return []
        if not isinstance(found, list):
            raise self.fail(
                f"expected metadata.samplingMetadatas to be a list, got {kind(found)}", query
            )
        result: list[tuple[int, int] | None] = []
        for item in found:
            said = item if isinstance(item, dict) else {}
            read, space = (
                self.count(self.number(said.get(key), key, query), key, query)
                for key in ("samplesReadCount", "samplingSpaceSize")
            )
            if read is not None and space is not None and read < space:
                result.append((read, space))
            else:
                result.append(None)  # all of it read, or GA4 did not say how much
        return result

    def worth_retrying(self, reply: Reply, query: str) -> bool:
        """A 429 RESOURCE_EXHAUSTED is a used-up property quota: only the concurrent-requests one
        frees up within seconds; the hourly and daily ones refill within the hour or the day, so
        no retry can help, and the error says which quota it was. Other 429s and 5xx are
        retried."""
        error = reply.body.get("error") if isinstance(reply.body, dict) else None
        if reply.status != 429 or not isinstance(error, dict):
            return True
        if error.get("status") != "RESOURCE_EXHAUSTED":
            return True
        message = str(error.get("message") or "").strip()
        words = message.lower()
        if "concurrent" in words:
            return True
        named = next(((q, when) for word, q, when in _QUOTAS if word in words), None)
        quota = (
            f"its {named[0]} quota, which refills {named[1]}"
            if named
            else "a quota GA4 did not name"
        )
        raise self.fail(
            f"429 RESOURCE_EXHAUSTED: GA4 property {self.settings.property_id} has used up "
            f"{quota} ({message or 'no message'}); not retried, since no wait of seconds "
            "refills it: evaluate again once it has (the report details show the tokens left "
            "after each answer)",
            query,
        )

    # --- values ---------------------------------------------------------------------------------

    def number(self, text: Any, what: str, query: str) -> float | None:
        """A GA4 value: numbers come as text; null or NaN means no data, never zero."""
        if text is None or isinstance(text, bool):
            return None
        if isinstance(text, int | float):
            value = float(text)
        else:
            cleaned = str(text).strip()
            if cleaned == "" or cleaned.lower() in ("nan", "null", "(not set)"):
                return None
            try:
                value = float(cleaned)
            except ValueError:
                raise self.fail(f"{what} is {str(text)[:40]!r}; expected a number", query) from None
        if math.isnan(value):
            return None
        if math.isinf(value):
            raise self.fail(f"{what} is {text!r}; expected a finite number", query)
        return value

    def count(self, value: float | None, what: str, query: str) -> int | None:
        if value is None:
            return None
        if value < 0 or value != int(value):
            raise self.fail(f"{what} is {value:g}; expected a count (a whole number ≥ 0)", query)
        return int(value)


def _header_names(headers: Any) -> list[str] | None:
    """The names of a report's metric or dimension headers; None unless each has one."""
    if not isinstance(headers, list):
        return None
    names = [h.get("name") if isinstance(h, dict) else None for h in headers]
    named = [n for n in names if isinstance(n, str)]
    return named if len(named) == len(names) else None


def _cell(cell: Any) -> Any:
    return cell.get("value") if isinstance(cell, dict) else None


def kind(value: Any) -> str:
    """What came instead of what was expected: "nothing", "an object", "a list", or the value."""
    if value is None:
        return "nothing"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "a list"
    return f"{type(value).__name__} {str(value)[:40]!r}"
