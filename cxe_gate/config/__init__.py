"""Pydantic models of the success-criteria file (cxe.yml): release, windows, providers, journeys and
criteria. Validated once, at the door; everything downstream works on these models.

One module per part of the file: fields.py (the shared field types), secrets.py, windows.py (the
release and its windows), journeys.py, scales.py (the values a metric can take), criteria.py, notify.py
(where a verdict is announced), and file.py (the whole file, and the checks across it)."""

from __future__ import annotations

from .criteria import (
    DEFAULT_ERRORS,
    ApdexCriterion,
    ConversionCriterion,
    Criterion,
    CriterionBase,
    CustomCriterion,
    CustomScale,
    EngagementCriterion,
    ErrorRateCriterion,
    FeedbackCriterion,
    JourneysPassRateCriterion,
    LatencyCriterion,
    RawQuery,
    RetentionCriterion,
    Severity,
)
from .fields import ChangeLimit, Duration, Level, Strict
from .file import GateConfig, GateSettings, Location, Problems, ProviderSpec, reference_problems
from .journeys import CountingUnit, JourneySpec
from .notify import Announced, Links, NotifyTarget, SlackTarget, TeamsTarget, WebhookTarget
from .scales import RATE, SHARE, Scale
from .secrets import Secret, SecretRef
from .windows import Cohorts, Concurrent, Release, SameHours, Windows, WindowSpec

__all__ = [
    "DEFAULT_ERRORS",
    "RATE",
    "SHARE",
    "Announced",
    "ApdexCriterion",
    "ChangeLimit",
    "Cohorts",
    "Concurrent",
    "ConversionCriterion",
    "CountingUnit",
    "Criterion",
    "CriterionBase",
    "CustomCriterion",
    "CustomScale",
    "Duration",
    "EngagementCriterion",
    "ErrorRateCriterion",
    "FeedbackCriterion",
    "GateConfig",
    "GateSettings",
    "JourneySpec",
    "JourneysPassRateCriterion",
    "LatencyCriterion",
    "Level",
    "Links",
    "Location",
    "NotifyTarget",
    "Problems",
    "ProviderSpec",
    "RawQuery",
    "Release",
    "RetentionCriterion",
    "SameHours",
    "Scale",
    "Secret",
    "SecretRef",
    "Severity",
    "SlackTarget",
    "Strict",
    "TeamsTarget",
    "WebhookTarget",
    "WindowSpec",
    "Windows",
    "reference_problems",
]
