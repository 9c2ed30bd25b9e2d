"""`seeded:` in cxe.yml: where the journey map and the seeded suite of the same journeys are, so a
report can name the seeded tests that reproduce a criterion that did not pass."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated

from pydantic import AfterValidator, Field

from .fields import Strict

MANIFEST = "seed-manifest.json"  # what `cxe-gate seed` writes beside its suite (seed/write.py)
# A funnel step or a route as the request log names it: "POST /checkout".
ROUTE_STEP = re.compile(r"[A-Z]+ /\S*")

Location = tuple[str | int, ...]


def _request(text: str) -> str:
    if not ROUTE_STEP.fullmatch(text):
        raise ValueError(f"{text!r} is not a request as 'METHOD /route' (e.g. 'POST /api/cart')")
    return text


Request = Annotated[str, AfterValidator(_request)]


class SeededSuite(Strict):
    map: str = Field(
        description="the journey map (`cxe-gate journeys -o journeys.json`), relative to this file"
    )
    suite: str = Field(
        description="the folder `cxe-gate seed` wrote the suite to (it holds seed-manifest.json), "
        "relative to this file"
    )
    events: dict[str, list[Request]] = Field(
        default_factory=dict,
        description="analytics event → the requests that send it, as 'METHOD route' (e.g. "
        "add_to_cart: ['POST /api/cart']): how a funnel of events finds its seeded tests",
    )


def seeded_suite_problems(seeded: SeededSuite | None, base_dir: Path) -> list[tuple[Location, str]]:
    """The files `seeded:` names that are not there, each at its key."""
    if seeded is None:
        return []
    problems: list[tuple[Location, str]] = []
    journey_map = base_dir / seeded.map
    if not journey_map.is_file():
        problems.append(
            (
                ("seeded", "map"),
                f"no journey map at {journey_map}; write one with `cxe-gate journeys HAR... -o "
                f"{seeded.map}`",
            )
        )
    suite = base_dir / seeded.suite
    if not suite.is_dir():
        problems.append(
            (
                ("seeded", "suite"),
                f"no seeded suite at {suite}; write one with `cxe-gate seed {seeded.map} -o "
                f"{seeded.suite}`",
            )
        )
    elif not (suite / MANIFEST).is_file():
        problems.append(
            (
                ("seeded", "suite"),
                f"{suite} has no {MANIFEST}: not a folder `cxe-gate seed` wrote (re-seed it)",
            )
        )
    return problems
