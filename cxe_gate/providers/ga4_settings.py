"""The `ga4` provider's settings (`providers.<name>` in cxe.yml): the property, the service account's
key, and how the property's days are cut into the gate's windows."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from ..config import Secret
from .days import time_zone
from .transport import HttpSettings


class Ga4Settings(HttpSettings):
    property_id: str = Field(
        pattern=r"^(properties/)?\d+$", description="the GA4 property's numeric id (not G-XXXX)"
    )
    credentials: Secret = Field(
        description="a service account key: the key file's JSON itself or the path to the key "
        "file (relative to the criteria file), as ${VAR}"
    )
    base_url: str = Field(
        "https://analyticsdata.googleapis.com", description="the Data API's address"
    )
    timezone: str = Field(
        "UTC", description="the property's reporting time zone (Admin → Property details)"
    )
    partial_days: Literal["hours", "widen"] = Field(
        "hours",
        description="a window that is not whole days: hours (cut it to the hour with a dateHour "
        "filter) or widen (read the whole days it touches; a day both windows touch counts in the "
        "release window only)",
    )

    @field_validator("property_id")
    @classmethod
    def _bare_id(cls, value: str) -> str:
        return value.removeprefix("properties/")

    _zone = field_validator("timezone")(time_zone)
