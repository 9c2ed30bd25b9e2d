"""The `prometheus` provider's settings (`providers.<name>` in cxe.yml), and the label matchers they
and a criterion give: its scope, and what counts as an error."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator, model_validator

from ..config import ApdexCriterion, CriterionBase, ErrorRateCriterion, Secret, SecretRef
from .promql import parse_matchers, promql_string
from .transport import HttpSettings

_METRIC_NAME = re.compile(r"^[A-Za-z_:][A-Za-z0-9_:]*$")
_LABEL_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_HEADER_NAME = re.compile(r"^[A-Za-z0-9!#$%&'*+.^_`|~-]+$")
_DEFAULT_ERRORS = ErrorRateCriterion.model_fields["errors"].default


class PrometheusSettings(HttpSettings):
    url: str = Field(
        description="the server's base URL, with any path prefix a proxy adds "
        "(https://prometheus.example.com, https://example.com/prometheus)"
    )
    token: Secret | None = Field(
        None, description="bearer token (a proxy's or a managed service's): ${PROMETHEUS_TOKEN}"
    )
    username: str | None = Field(None, description="basic auth user (Prometheus' web config)")
    password: Secret | None = Field(None, description="basic auth password: ${PROMETHEUS_PASSWORD}")
    headers: dict[str, str] = Field(
        default_factory=dict,
        description="extra headers, e.g. X-Scope-OrgID for Mimir or Cortex; a value written as "
        "${VAR} is read from that variable and kept out of reports",
    )
    requests_counter: str = Field(
        "http_requests_total", description="counter of answered requests, with the status label"
    )
    duration_histogram: str = Field(
        "http_request_duration_seconds",
        description="histogram of request durations (its name without _bucket)",
    )
    duration_unit: Literal["s", "ms"] | None = Field(
        None,
        description="the histogram's unit; by default from its name (_seconds; _milliseconds or "
        "_ms), else from its bucket bounds (the report then says so)",
    )
    status_label: str = Field("code", description="the status label on the requests counter")
    error_status: str = Field(
        "5..", description="regular expression of the status values that are errors"
    )
    selector: str | None = Field(
        None, description='label matchers added to every default query, e.g. job="shop"'
    )
    status_on_histogram: bool = Field(
        False,
        description="the histogram carries the status label too: Apdex then counts failed "
        "requests as frustrated; otherwise by their duration",
    )

    @field_validator("url")
    @classmethod
    def _http(cls, url: str) -> str:
        if not re.match(r"^https?://[^/\s]+", url):
            raise ValueError(f"expected an http:// or https:// URL, got {url!r}")
        return url.rstrip("/")

    @field_validator("requests_counter", "duration_histogram")
    @classmethod
    def _metric_name(cls, name: str) -> str:
        if not _METRIC_NAME.match(name):
            raise ValueError(f"expected a Prometheus metric name, got {name!r}")
        return name.removesuffix("_bucket")

    @field_validator("status_label")
    @classmethod
    def _label_name(cls, name: str) -> str:
        if not _LABEL_NAME.match(name):
            raise ValueError(f"expected a Prometheus label name, got {name!r}")
        return name

    @field_validator("error_status")
    @classmethod
    def _regex(cls, pattern: str) -> str:
        try:
            re.compile(pattern)
        except re.error as exc:
            raise ValueError(f"expected a regular expression, got {pattern!r}: {exc}") from None
        return pattern

    @field_validator("selector")
    @classmethod
    def _matchers(cls, text: str | None) -> str | None:
        return None if text is None else ", ".join(parse_matchers(text))

    @field_validator("headers")
    @classmethod
    def _headers(cls, headers: dict[str, str]) -> dict[str, str]:
        for name, value in headers.items():
            if not _HEADER_NAME.match(name):
                raise ValueError(f"{name!r} is not an HTTP header name")
            if "${" in value:
                SecretRef.validate(value)  # all of the value or none of it, never echoed
        return headers

    @model_validator(mode="after")
    def _one_way_in(self) -> PrometheusSettings:
        if self.token is not None and (self.username is not None or self.password is not None):
            raise ValueError(
                "give either token (bearer) or username and password (basic), not both"
            )
        if (self.username is None) != (self.password is None):
            raise ValueError("basic auth needs both username and password")
        return self

    @property
    def scope(self) -> list[str]:
        return parse_matchers(self.selector) if self.selector else []

    @property
    def error_matcher(self) -> str:
        return f"{self.status_label}=~{promql_string(self.error_status)}"

    def scope_of(self, criterion: CriterionBase) -> list[str]:
        """The label matchers a criterion's default queries select: the selector's and its filter's."""
        extra = parse_matchers(criterion.filter) if criterion.filter else []
        return [*self.scope, *extra]


def default_errors(criterion: ErrorRateCriterion | ApdexCriterion) -> bool:
    """The criterion leaves `errors` to the provider (status_label and error_status)."""
    return criterion.errors == _DEFAULT_ERRORS


def error_matchers(
    criterion: ErrorRateCriterion | ApdexCriterion, settings: PrometheusSettings
) -> list[str]:
    """The criterion's `errors` as PromQL matchers: the settings' by default, else its own."""
    if default_errors(criterion):
        return [settings.error_matcher]
    return parse_matchers(criterion.errors)
