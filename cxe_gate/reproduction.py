"""What a report says about reproducing a criterion that did not pass: the seeded tests whose
journeys touch its routes, and the pytest command that runs just them (cxe_gate.reproduce)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class Reproduction(BaseModel):
    model_config = ConfigDict(frozen=True)

    tests: list[str] = Field(
        default_factory=list,
        description="the seeded tests whose journeys touch the criterion's routes, by the names in "
        "the suite's seed-manifest.json",
    )
    command: str | None = Field(
        None, description="the pytest command that runs just those tests; null when there are none"
    )
    routes: list[str] = Field(
        default_factory=list,
        description="what was looked for: the criterion's requests as 'METHOD route', or its filter",
    )
    note: str | None = Field(
        None, description="why no test is named, or what could not be looked for; null when none"
    )

    def hint(self) -> str:
        """One line for a report: the command, or why there is none."""
        if self.command is not None:
            more = f" ({self.note})" if self.note else ""
            return f"reproduce with: {self.command}{more}"
        return f"no seeded test to reproduce it: {self.note or 'none touches its routes'}"
