"""Data sources behind one interface (`Provider`), found by their `type` name."""

from .base import MetricRequest, Provider, ProviderContext, ProviderSettings
from .registry import available, provider_class, register

__all__ = [
    "MetricRequest",
    "Provider",
    "ProviderContext",
    "ProviderSettings",
    "available",
    "provider_class",
    "register",
]
