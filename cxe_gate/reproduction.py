"""What a report says about reproducing a criterion that did not pass: the seeded tests whose
journeys touch its routes, and the pytest command that runs just them (cxe_gate.reproduce)."""

from __future__ import annotations

from collections.abc import Callable

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

    def hint(
        self,
        *,
        code: Callable[[str], str] = str,
        text: Callable[[str], str] = str,
        unsaid: str = "none touches its routes",
    ) -> str:
        """One line for a report: the command, or why there is none. `code` and `text` render
        the command and the note in the report's own markup (escaped, quoted as code); `unsaid`
        stands for a note that is missing."""
        if self.command is not None:
            more = f" ({text(self.note)})" if self.note else ""
            return f"reproduce with: {code(self.command)}{more}"
        return f"no seeded test to reproduce it: {text(self.note or unsaid)}"
