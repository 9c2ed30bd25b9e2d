"""Which checkpoint of a release's life a report judges (`checkpoints:` in cxe.yml): what a JSON
report records so that a scorecard can put one release's checkpoints side by side."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class CheckpointReport(BaseModel):
    """A report's checkpoint: its name, when it falls and which criteria file judged it."""

    model_config = ConfigDict(frozen=True)

    name: str = Field(description="the checkpoint's name under checkpoints:, e.g. day1")
    after: str = Field(description="how long after the deploy it falls, e.g. 24h")
    reached_at: datetime = Field(description="the deploy time plus `after`")
    checkpoints: dict[str, str] = Field(
        description="every checkpoint of the criteria file, earliest first: name → after"
    )
    config_digest: str = Field(
        description="a digest of the criteria file as read (release name and deploy time left "
        "out): every checkpoint of one release judged by one file has the same"
    )
