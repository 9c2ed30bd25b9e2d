"""What the judge judges: one criterion with its release and baseline measurements and the unit
their values read in. Every stage takes a Case."""

from __future__ import annotations

from dataclasses import dataclass

from ..config import CriterionBase
from ..measurement import Measurement, Unit


@dataclass(frozen=True)
class Case:
    criterion: CriterionBase
    release: Measurement
    baseline: Measurement | None
    unit: Unit | str

    @property
    def compared(self) -> Measurement | None:
        """The baseline, when it has data to compare with."""
        return self.baseline if self.baseline is not None and self.baseline.has_data else None

    @property
    def value(self) -> float:
        """The release value (a stage past validation only: the release window has data)."""
        assert self.release.value is not None
        return self.release.value


def relative_change(value: float | None, baseline: float | None) -> float | None:
    """-0.071 for a fall of 7.1%; None from a baseline of zero, or without both values."""
    if value is None or baseline is None or baseline == 0:
        return None
    return (value - baseline) / abs(baseline)
