"""Small journey maps built by hand for the seeder's tests: journeys named by their pages, with
recorded form fields where a test needs scrubbed values."""

from __future__ import annotations

from typing import Any

from cxe_gate.har.journey_map import JourneyMap, MappedJourney, Request, Step, Summary, Timing

TIMING = Timing(count=1, min_ms=5.0, p50_ms=5.0, p90_ms=5.0, max_ms=5.0, mean_ms=5.0)


def request(signature: str, form: dict[str, Any] | None = None) -> Request:
    """`"POST /checkout"`, sending `form` when given."""
    method, route = signature.split(" ", 1)
    return Request(method=method, host="shop.test", route=route, path=route,
                   status=303 if form else 200, body="form" if form else "none", fields=form,
                   time=TIMING)  # fmt: skip


def journey(
    *pages: str,
    calls: tuple[str, ...] = (),
    weight: int = 1,
    forms: dict[str, dict[str, Any]] | None = None,
) -> MappedJourney:
    """A journey over `pages` ("GET /products"); `calls` are made from the last page; `forms`:
    page → the form it posts."""
    steps = [Step(page=request(p, (forms or {}).get(p)), calls=[]) for p in pages]
    steps[-1] = Step(page=steps[-1].page, calls=[request(c) for c in calls])
    return MappedJourney(
        id="j", name=" → ".join(pages), weight=weight, share=0.5, occurrences=weight,
        sessions=["s.har"], recorded=["2026-11-23"], duration=TIMING, steps=steps,
    )  # fmt: skip


def journey_map(*journeys: MappedJourney) -> JourneyMap:
    summary = Summary(files=1, files_failed=0, sessions=len(journeys), entries_read=1,
                      entries_kept=1, entries_dropped=0, journeys=len(journeys))  # fmt: skip
    return JourneyMap(first_party=["shop.test"], summary=summary, journeys=list(journeys),
                      scrubbed=[], dropped={}, placeholders=[], failures=[])  # fmt: skip
