"""The reports per metric: conversion from a closed funnel report, engagement from core reports
(with the event's own counts where asked), and a raw runReport's named metric, each read into one
Measurement per window."""

from __future__ import annotations

from typing import Any

from .. import metrics
from ..config import ConversionCriterion, EngagementCriterion
from ..measurement import Measurement
from .base import MetricRequest
from .capabilities import criterion_journey
from .funnels import funnel_measurement, judged_on
from .ga4_answers import Answer, kind, sampled_note
from .ga4_client import Ga4Client
from .ga4_requests import Span, event_filter, funnel_body

_ENGAGEMENT = ("activeUsers", "sessions", "eventCount", "engagementRate", "userEngagementDuration")
_EVENT_COUNTS = ("activeUsers", "sessions", "eventCount")


class MetricReader:
    """Reads a criterion from one GA4 property, every window that has begun at once."""

    def __init__(self, client: Ga4Client):
        self.client = client
        self.reader = client.reader

    def read(self, request: MetricRequest, spans: list[Span]) -> dict[str, Measurement]:
        criterion = request.criterion
        if criterion.query is not None:
            return self._raw(criterion.query, spans)
        if isinstance(criterion, ConversionCriterion):
            return self._conversion(request, spans)
        assert isinstance(criterion, EngagementCriterion)  # criterion_problems saw to it
        return self._engagement(criterion, spans)

    def _conversion(self, request: MetricRequest, spans: list[Span]) -> dict[str, Measurement]:
        journey = criterion_journey(request)
        zone_query, zone_notes = self.client.zone_checked()
        result: dict[str, Measurement] = {}
        for span in spans:  # a funnel report reads one date range at a time
            reply, query = self.client.call("runFunnelReport", funnel_body(span, journey.steps))
            table = reply.get("funnelTable") if isinstance(reply, dict) else None
            if not isinstance(table, dict):
                raise self.reader.fail(
                    f"expected a runFunnelReport answer with a funnelTable, got {kind(reply)}"
                    + (f" with keys {', '.join(sorted(reply))}" if isinstance(reply, dict) else ""),
                    query,
                )
            details, notes = self.reader.metadata(reply, table.get("metadata"), query)
            shown = f"{query}\n# the property's time zone, read with: {zone_query}"
            said = Answer(None, shown, details, notes + zone_notes)
            users = self.reader.funnel_users(table, journey.steps, query)
            if users is None:
                result[span.label] = said.add_to(Measurement(value=None, samples=0, query=shown))
                continue
            measured = funnel_measurement(
                self.reader.context,
                journey.steps,
                users,
                query=shown,
                rising="the funnel's last step has more users ({last}) than its first "
                "({first}); a closed funnel cannot grow",
                suffix=" (users)",
            )
            sampled = self.reader.sampling(table.get("metadata"), query)
            if sampled and sampled[0] is not None and users[0] > 0:
                read, space = sampled[0]
                # The users GA4 saw are about its sampled share of those it reports: the
                # conversion is a proportion of them (the effective sample), not of the scaled-up
                # count.
                effective = int(users[0] * read / space)
                measured = judged_on(
                    measured,
                    effective,
                    sampled_note(read, space) + f"; the conversion is judged as a proportion of "
                    f"the {max(1, effective):,} users that share holds, not of the {users[0]:,} "
                    "reported",
                )
            result[span.label] = said.add_to(measured)
        return result

    def _engagement(
        self, criterion: EngagementCriterion, spans: list[Span]
    ) -> dict[str, Measurement]:
        totals = self.client.report({"metrics": [{"name": m} for m in _ENGAGEMENT]}, spans)
        counted: dict[str, Answer] | None = None
        if criterion.event and criterion.measure != "active_users":
            counted = self.client.report(
                {
                    "metrics": [{"name": m} for m in _EVENT_COUNTS],
                    "dimensionFilter": event_filter(criterion.event),
                },
                spans,
            )
        result: dict[str, Measurement] = {}
        for span in spans:
            total = totals[span.label]
            event = counted[span.label] if counted is not None else None
            query = total.query if event is None else f"{total.query}\n{event.query}"
            measured = self._engagement_measurement(criterion, total, event, query)
            result[span.label] = total.add_to(event.add_to(measured) if event else measured)
        return result

    def _engagement_measurement(
        self, criterion: EngagementCriterion, total: Answer, event: Answer | None, query: str
    ) -> Measurement:
        count = self.reader.count
        values = total.values or {}
        users = count(values.get("activeUsers"), "activeUsers", query)
        sessions = count(values.get("sessions"), "sessions", query)
        events = count(values.get("eventCount"), "eventCount", query)
        details: dict[str, float] = {}
        for label, number in (
            ("active users", users),
            ("sessions", sessions),
            ("events", events),
            ("engagement rate", values.get("engagementRate")),
        ):
            if number is not None:
                details[label] = float(number)
        duration = values.get("userEngagementDuration")
        if duration is not None and users:
            details["engagement seconds per user"] = duration / users
        adopters = 0
        if event is not None:
            # No row: active users sent none of the event, a true zero (the totals had a row).
            counted = event.values or {}
            word = criterion.event
            events = count(counted.get("eventCount"), f"{word} eventCount", query) or 0
            details[f"{word} events"] = float(events)
            unit = "activeUsers" if criterion.unit == "user" else "sessions"
            adopters = count(counted.get(unit), f"{word} {unit}", query) or 0
        empty = Measurement(value=None, samples=0, details=details, query=query)
        if criterion.measure == "active_users":
            if not users:
                return empty
            return Measurement(value=float(users), samples=users, details=details, query=query)
        if criterion.measure == "adoption":
            trials = users if criterion.unit == "user" else sessions
            if not trials:
                return empty
            details["adopters"] = float(adopters)
            # GA4 estimates distinct counts (HyperLogLog++): a filtered count may exceed the total.
            return metrics.proportion(min(adopters, trials), trials, query=query, details=details)
        per = users if criterion.measure == "events_per_user" else sessions
        if not per or events is None:
            return empty
        # GA4 gives totals only, no per-user counts: no variance, so no significance test.
        return Measurement(value=events / per, samples=per, details=details, query=query)

    def _raw(self, query: Any, spans: list[Span]) -> dict[str, Measurement]:
        assert isinstance(query, dict)  # criterion_problems checked the shape
        answers = self.client.report(dict(query["report"]), spans)
        result: dict[str, Measurement] = {}
        for span in spans:
            answer = answers[span.label]
            result[span.label] = answer.add_to(self._raw_measurement(query, span, answer))
        return result

    def _raw_measurement(self, query: dict[str, Any], span: Span, answer: Answer) -> Measurement:
        """One window of a raw report: its named metric, or successes of trials for a rate."""
        count, asked = self.reader.count, answer.query
        values = answer.values or {}
        details = {k: v for k, v in values.items() if v is not None}
        empty = Measurement(value=None, samples=0, details=details, query=asked)
        if "successes" in query:
            successes = count(values.get(query["successes"]), query["successes"], asked)
            trials = count(values.get(query["trials"]), query["trials"], asked)
            if successes is None or not trials:
                return empty
            if successes > trials:
                raise self.reader.fail(
                    f"{query['successes']} ({successes}) exceeds {query['trials']} ({trials}) "
                    f"in the {span.label} window; successes must be a part of the trials",
                    asked,
                )
            return metrics.proportion(successes, trials, query=asked, details=details)
        value = values.get(query["metric"])
        if "samples" in query:
            samples = count(values.get(query["samples"]), query["samples"], asked)
        else:
            samples = 1 if value is not None else 0
        if value is None or not samples:
            return empty
        return Measurement(value=value, samples=samples, details=details, query=asked)
