"""Journeys: the ordered events a conversion criterion counts customers through, and the unit that
converts (a session or a user)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from .fields import Duration, Strict

# What converts, or is counted: one word for it on journeys, conversion and engagement criteria.
CountingUnit = Literal["session", "user"]


class JourneySpec(Strict):
    steps: list[str] = Field(
        min_length=2, description="event names, in the order customers take them"
    )
    unit: CountingUnit = Field("session", description="what converts: a session or a user")
    within: Duration | None = Field(
        None, description="the last step must follow the first within this"
    )

    @field_validator("steps")
    @classmethod
    def _distinct(cls, steps: list[str]) -> list[str]:
        if len(set(steps)) != len(steps):
            raise ValueError("a journey's steps must be distinct event names")
        return steps


def journey_shorthand(value: object) -> object:
    """`checkout: [cart, pay]` is a journey of those steps."""
    return {"steps": value} if isinstance(value, list) else value
