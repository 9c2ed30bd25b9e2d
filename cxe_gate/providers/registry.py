"""Providers by `type` name: the built-in modules, plus any package's `cxe_gate.providers` entry point."""

from __future__ import annotations

import importlib
from importlib.metadata import entry_points

from .base import Provider

ENTRY_POINT_GROUP = "cxe_gate.providers"

# Built-ins are imported only when used, so a provider's optional dependency costs nothing otherwise.
_BUILTIN = {
    "file": "cxe_gate.providers.file:FileProvider",
    "prometheus": "cxe_gate.providers.prometheus:PrometheusProvider",
    "datadog": "cxe_gate.providers.datadog:DatadogProvider",
    "newrelic": "cxe_gate.providers.newrelic:NewRelicProvider",
    "dynatrace": "cxe_gate.providers.dynatrace:DynatraceProvider",
    "sentry": "cxe_gate.providers.sentry:SentryProvider",
    "ga4": "cxe_gate.providers.ga4:Ga4Provider",
    "amplitude": "cxe_gate.providers.amplitude:AmplitudeProvider",
    "mixpanel": "cxe_gate.providers.mixpanel:MixpanelProvider",
    "http": "cxe_gate.providers.http:HttpProvider",
    "sql": "cxe_gate.providers.sql:SqlProvider",
}
_registered: dict[str, type[Provider]] = {}


def register(type_name: str, provider: type[Provider]) -> None:
    """Make `type: <type_name>` in cxe.yml use `provider` (for plugins and tests)."""
    _registered[type_name] = provider


def built_in() -> list[str]:
    """The provider types cxe-gate itself ships."""
    return sorted(_BUILTIN)


def available() -> list[str]:
    names = set(_BUILTIN) | set(_registered)
    names.update(ep.name for ep in entry_points(group=ENTRY_POINT_GROUP))
    return sorted(names)


def provider_class(type_name: str) -> type[Provider] | None:
    """The class for `type_name`, or None when no provider has that name."""
    if type_name in _registered:
        return _registered[type_name]
    target = _BUILTIN.get(type_name)
    if target is None:
        found = [ep for ep in entry_points(group=ENTRY_POINT_GROUP) if ep.name == type_name]
        if not found:
            return None
        provider = found[0].load()
    else:
        module_name, _, attribute = target.partition(":")
        provider = getattr(importlib.import_module(module_name), attribute)
    _registered[type_name] = provider
    return provider


def type_name(provider: type[Provider]) -> str:
    """The `type` a provider class is known by in cxe.yml, for its messages ("a datadog provider");
    its class name when it was never registered."""
    path = f"{provider.__module__}:{provider.__qualname__}"
    for name, target in _BUILTIN.items():
        if target == path:
            return name
    for name, registered in _registered.items():
        if registered is provider:
            return name
    return provider.__name__
