"""The one interface every data source implements: measure a criterion over time windows."""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from pydantic import BaseModel, ConfigDict

from ..config import CriterionBase, Journey, SecretRef
from ..errors import ConfigError
from ..measurement import Measurement, TimeWindow, Unit


class ProviderSettings(BaseModel):
    """Base of each provider's own settings model: the keys under `providers.<name>` besides `type`."""

    model_config = ConfigDict(extra="forbid", frozen=True)


@dataclass(frozen=True)
class ProviderContext:
    """What a provider may know about where it runs."""

    name: str  # the name under `providers`
    base_dir: Path  # relative paths in the settings are relative to the criteria file
    environ: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    where: str = ""  # "cxe.yml:12" for error messages

    def secret(self, ref: SecretRef, key: str) -> str:
        """Resolve a `${VAR}` secret, or say exactly which variable is missing."""
        value = self.environ.get(ref.variable)
        if not value:
            raise ConfigError(
                f"providers.{self.name}.{key}: environment variable {ref.variable} is not set "
                f"(the secret {ref} is read from it)",
                file=self.where or None,
            )
        return value


@dataclass(frozen=True)
class MetricRequest:
    """One criterion to measure, with what it refers to resolved."""

    criterion: CriterionBase
    journey: Journey | None = None


class Provider(ABC):
    """Register a subclass under a `type` name (see cxe_gate.providers.registry)."""

    settings_model: ClassVar[type[ProviderSettings]] = ProviderSettings

    def __init__(self, settings: ProviderSettings, context: ProviderContext):
        self.settings = settings
        self.context = context

    @abstractmethod
    def measure(self, request: MetricRequest, windows: list[TimeWindow]) -> dict[str, Measurement]:
        """A measurement per window label. Raise ProviderError when the data cannot be read; return a
        Measurement with `value=None` when a window simply has no data (never a zero)."""

    def unit(self, request: MetricRequest) -> Unit | str:
        """The unit of the values `measure` returns for this criterion."""
        return default_unit(request.criterion)

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections; called once after the evaluation."""


def default_unit(criterion: CriterionBase) -> Unit | str:
    metric = getattr(criterion, "metric", "custom")
    if metric in ("conversion", "error_rate"):
        return Unit.RATIO
    if metric == "apdex":
        return Unit.SCORE
    if metric == "latency":
        return Unit.MILLISECONDS
    if metric == "feedback":
        return Unit.POINTS if getattr(criterion, "scale", "") == "nps" else Unit.RATIO
    if metric == "engagement":
        measure = getattr(criterion, "measure", "")
        return {
            "active_users": "users",
            "events_per_user": Unit.PER_USER,
            "events_per_session": "per session",
        }.get(measure, Unit.RATIO)
    return getattr(criterion, "unit", None) or Unit.NUMBER
