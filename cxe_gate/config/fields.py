"""The field types cxe.yml models share: durations, absolute levels and change limits as users spell
them (30m, 1%, 800ms, 5%, 0.5pp), and the strict base every model derives from."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, PlainSerializer, WithJsonSchema

from ..quantities import (
    DURATION_HINT,
    Change,
    format_duration,
    parse_change,
    parse_level,
    to_timedelta,
)

_DURATION_SCHEMA = {
    "type": "string",
    "pattern": r"^-?(\d+(\.\d+)?(ms|s|m|h|d|w))+$",
    "description": DURATION_HINT,
    "examples": ["30m", "2h", "7d"],
}
Duration = Annotated[
    timedelta,
    BeforeValidator(to_timedelta),
    PlainSerializer(format_duration, return_type=str),
    WithJsonSchema(_DURATION_SCHEMA),
]
Level = Annotated[
    float,
    BeforeValidator(parse_level),
    WithJsonSchema(
        {
            "anyOf": [{"type": "number"}, {"type": "string", "pattern": r"^\S+(%|ms|s|m)?$"}],
            "description": "an absolute bound: a number, a percentage (1%) or a duration (800ms)",
            "examples": [0.9, "1%", "800ms"],
        }
    ),
]
ChangeLimit = Annotated[
    Change,
    BeforeValidator(parse_change),
    PlainSerializer(lambda c: c.describe(), return_type=str),
    WithJsonSchema(
        {
            "anyOf": [{"type": "number", "minimum": 0}, {"type": "string"}],
            "description": "relative to the baseline (5%), or absolute (0.5pp, 100ms, 3)",
            "examples": ["5%", "0.5pp", "100ms"],
        }
    ),
]


class Strict(BaseModel):
    """Base for every cxe.yml model: unknown keys are mistakes, not silently ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True)
