"""The `sentry` provider: release health (crash rate of sessions or users) from the sessions
endpoint, and event counts from the Discover (events) endpoint, for the release against a baseline.

The release window reads the gate's release only (`release:<name>`). The baseline reads the same
projects over the baseline window without a release filter, what customers had before the deploy,
unless `baseline_release` names the release(s) to compare with.

Measurements leave `data_end` None: session totals carry no time of their data (hourly series would
place it within an hour at best), and the newest event's time (`last_seen()`) tells when the last
error happened, not how far ingestion reached: an hour without errors is no gap in the data."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any, Literal
from urllib.parse import parse_qs, urlencode, urlsplit

from pydantic import Field, field_validator, model_validator
from requests.utils import parse_header_links

from .. import metrics
from ..config import CriterionBase, CustomCriterion, ErrorRateCriterion, Problems, Secret
from ..errors import ConfigError
from ..measurement import Measurement, TimeWindow
from .answers import data_point, expected_shape
from .api_provider import ApiProvider
from .base import MetricRequest, ProviderContext, ProviderSettings
from .capabilities import refuse_unservable
from .transport import HttpSettings, Reply, token_auth, unix_time

DEFAULT_URL = "https://sentry.io"
_VARIABLE = re.compile(r"^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$")
_NEEDS_QUOTES = re.compile(r'[\s",()\[\]]')
_ERROR_RATE_KEYS = {"unit"}
_CUSTOM_KEYS = {"endpoint", "field", "query", "dataset"}
_HOUR = timedelta(hours=1)
# Session groups come in pages (Link cursors); more than this many pages is a query to narrow.
_MAX_PAGES = 20

# When a rate limit lifts: every answer of Sentry's web API carries X-Sentry-Rate-Limit-Reset, the
# UTC epoch second at which the next rate-limit window begins (docs.sentry.io/api/ratelimits).
# Sentry's own rate-limit middleware sets no Retry-After on its 429 (getsentry/sentry,
# src/sentry/middleware/ratelimit.py); one sent by a proxy is still read first.
RESET_HEADERS = {"X-Sentry-Rate-Limit-Reset": unix_time}


class SentrySettings(HttpSettings):
    token: Secret = Field(description="an auth token with org:read, as ${SENTRY_AUTH_TOKEN}")
    organization: str = Field(min_length=1, description="the organization's slug")
    release: str | None = Field(
        None,
        min_length=1,
        description="the release to judge, if not the gate's own (release.name or --release): "
        "its name, or ${VAR} to read it from",
    )
    baseline_release: str | list[str] | None = Field(
        None,
        description="release(s) for the baseline window (name or ${VAR}); default: every "
        "release the projects had in the baseline window",
    )
    project: list[str] = Field(
        default_factory=list, description="project ids or slugs; -1 for every project"
    )
    environment: list[str] = Field(default_factory=list, description="e.g. production")
    url: str = Field(DEFAULT_URL, description="the Sentry base URL (self-hosted: your host)")
    region: Literal["us", "de"] | None = Field(
        None, description="sentry.io data region: calls us.sentry.io or de.sentry.io directly"
    )
    max_concurrency: int | None = Field(
        None, ge=1, description="queries in flight at once (Sentry limits concurrent requests)"
    )

    @field_validator(
        "project", "environment", mode="before", json_schema_input_type=str | int | list[str | int]
    )
    @classmethod
    def _listed(cls, value: object) -> object:
        if isinstance(value, str | int):
            value = [value]
        if isinstance(value, list):
            return [str(v) if isinstance(v, int) else v for v in value]
        return value

    @field_validator("url")
    @classmethod
    def _http_url(cls, url: str) -> str:
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"expected an http(s) URL such as {DEFAULT_URL}")
        return url.rstrip("/")

    @model_validator(mode="after")
    def _one_host(self) -> SentrySettings:
        if self.region is not None and "url" in self.model_fields_set:
            raise ValueError(
                "give url (a self-hosted Sentry) or region (sentry.io's us or de), not both"
            )
        return self

    @property
    def base_url(self) -> str:
        return f"https://{self.region}.sentry.io" if self.region else self.url


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _release_search(releases: list[str]) -> str:
    quoted = [
        '"' + r.replace("\\", "\\\\").replace('"', '\\"') + '"' if _NEEDS_QUOTES.search(r) else r
        for r in releases
    ]
    return f"release:{quoted[0]}" if len(quoted) == 1 else f"release:[{','.join(quoted)}]"


def crash_free_ratio(value: float) -> tuple[float, bool]:
    """The crash-free rate as 0-1, and whether it came as a percentage. Sentry documents a 0-1
    fraction (unconfirmed against a live org): a value above 1 can only be a percentage."""
    if not 0 <= value <= 100:
        raise ValueError(value)
    return (value / 100, True) if value > 1 else (value, False)


class SentryProvider(ApiProvider):
    settings_model = SentrySettings
    settings: SentrySettings
    max_concurrency = 10  # Sentry limits concurrent requests per caller and endpoint
    serves = ("error_rate", "custom")  # the crash rate; a sessions or events field
    query_kind = "a mapping of Sentry query parameters"  # a filter is Sentry search syntax

    @classmethod
    def criterion_problems(cls, criterion: CriterionBase, settings: ProviderSettings) -> Problems:
        problems: Problems = []
        if isinstance(criterion, ErrorRateCriterion) and "errors" in criterion.model_fields_set:
            problems.append(
                (
                    ("errors",),
                    "a sentry error rate is the crash rate (crashed sessions or users); `errors` "
                    "does not apply: leave it out",
                )
            )
        query = criterion.query
        if isinstance(criterion, CustomCriterion):
            problems += _custom_query_problems(query)
        elif query is not None:
            problems += _error_rate_query_problems(query)
        return problems

    def __init__(self, settings: SentrySettings, context: ProviderContext):
        super().__init__(settings, context)
        token = context.secret(settings.token, "token")
        # None: the gate's release, which only a request carries
        self.release = self._name(settings.release, "release") if settings.release else None
        baseline = settings.baseline_release
        listed = [baseline] if isinstance(baseline, str) else baseline or []
        self.baseline_releases = [self._name(r, "baseline_release") for r in listed]
        self.client = self._api_client(
            base_url=settings.base_url,
            headers=token_auth(context, token),
            auth_hint="(a token with org:read) and that url/region is the organization's",
            reset_headers=RESET_HEADERS,
        )

    def _name(self, value: str, key: str) -> str:
        """A release name as written, or read from the `${VAR}` it is written as (not a secret: it
        belongs in the report)."""
        match = _VARIABLE.match(value.strip())
        if match is None:
            return value
        name = self.context.environ.get(match[1], "").strip()
        if not name:
            raise ConfigError(
                f"providers.{self.context.name}.{key}: environment variable {match[1]} is not set "
                "(the release name is read from it)",
                file=self.context.where or None,
            )
        return name

    # --- queries ----------------------------------------------------------------------------------

    def measure(self, request: MetricRequest, windows: list[TimeWindow]) -> dict[str, Measurement]:
        refuse_unservable(self, request)
        criterion = request.criterion
        options = criterion.query if isinstance(criterion.query, Mapping) else {}
        release = self._release(request)

        def read(window: TimeWindow) -> Measurement:
            releases = [release] if window.label == "release" else self.baseline_releases
            if isinstance(criterion, CustomCriterion):
                return self._custom(criterion, options, window, releases)
            return self._crash_rate(criterion, options.get("unit", "session"), window, releases)

        return self.each_window(windows, read)

    def _release(self, request: MetricRequest) -> str:
        """The release whose sessions and events the release window reads."""
        release = self.release or request.release
        if not release:
            raise ConfigError(
                f"providers.{self.context.name}.release: no release to judge: name it in cxe.yml "
                "(release.name) or with --release, or give the provider a release",
                file=self.context.where or None,
            )
        return release

    def _search(self, criterion: CriterionBase, releases: list[str], extra: str = "") -> str:
        parts = [_release_search(releases)] if releases else []
        parts += [p for p in (extra.strip(), (criterion.filter or "").strip()) if p]
        return " ".join(parts)

    def _scope(self) -> list[tuple[str, str]]:
        return [("project", p) for p in self.settings.project] + [
            ("environment", e) for e in self.settings.environment
        ]

    def _span(self, window: TimeWindow, releases: list[str]) -> tuple[datetime, datetime]:
        """The range to ask for. Sentry widens a sessions range to whole hours; a window that does
        not name its release ends at the hour before its end, so the widening never reaches past
        the deploy into the release's own sessions."""
        if releases:
            return window.start, window.end
        end = window.end.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
        return (window.start, end) if end > window.start else (window.start, window.end)

    def _get(self, path: str, params: list[tuple[str, str]]) -> tuple[Reply, str]:
        org = self.settings.organization
        full = f"/api/0/organizations/{org}/{path}/"
        shown = f"GET {full}?{urlencode(params)}"
        return self.client.get(full, params=params, query=shown), shown

    def _sessions(self, params: list[tuple[str, str]]) -> tuple[dict[str, Any], str]:
        """The sessions answer with the groups of every page: Sentry pages the groups, and a
        `Link` header's `rel="next"` with `results="true"` carries the next page's cursor
        (docs.sentry.io/api/pagination)."""
        reply, shown = self._get("sessions", params)
        body = reply.body
        groups = list(self._groups(body, shown))
        cursors: set[str] = set()
        while (cursor := _next_cursor(reply.headers.get("Link"))) is not None:
            if not cursor:
                raise self._fail("Sentry announced a next page of groups but no cursor", shown)
            if cursor in cursors:
                raise self._fail(f"Sentry sent the next-page cursor {cursor!r} twice", shown)
            if len(cursors) + 1 >= _MAX_PAGES:
                raise self._fail(
                    f"more than {_MAX_PAGES} pages of session groups; narrow the query (fewer "
                    "projects, environments or baseline releases) rather than read part of it",
                    shown,
                )
            cursors.add(cursor)
            reply, _ = self._get("sessions", [*params, ("cursor", cursor)])
            groups += self._groups(reply.body, shown)
        return {**body, "groups": groups}, shown

    def _crash_rate(
        self, criterion: CriterionBase, unit: str, window: TimeWindow, releases: list[str]
    ) -> Measurement:
        count = "sum(session)" if unit == "session" else "count_unique(user)"
        rate = f"crash_free_rate({unit})"
        start, end = self._span(window, releases)
        params = [
            ("field", rate),
            ("field", count),
            ("start", _iso(start)),
            ("end", _iso(end)),
            ("interval", "1h"),
            ("includeSeries", "0"),
            *self._scope(),
        ]
        if releases:
            params.append(("groupBy", "release"))
        search = self._search(criterion, releases)
        if search:
            params.append(("query", search))
        body, shown = self._sessions(params)
        groups = body["groups"]
        total = crashed = 0
        converted = False
        for group in groups:
            totals = group.get("totals")
            if not isinstance(totals, dict):
                raise self._fail(expected_shape("totals in each group", group), shown)
            n = self._whole(totals, count, shown)
            if n == 0:
                continue
            free = data_point(totals.get(rate), rate, self.context, shown)
            if free is None:
                raise self._fail(
                    f"{count} is {n} but {rate} is null: expected the crash-free rate of "
                    f"those {unit}s (a partial answer)",
                    shown,
                )
            try:
                ratio, percent = crash_free_ratio(free)
            except ValueError:
                raise self._fail(
                    f"{rate} is {free:g}: expected a fraction 0-1 (or a percentage 0-100)", shown
                ) from None
            converted |= percent
            total += n
            crashed += min(n, max(0, round(n * (1 - ratio))))
        notes = [f"{rate} came as a percentage (0-100)"] if converted else []
        widened = self._widened(body, start, end)
        if widened:
            notes.append(f"Sentry rounded the range to whole hours: {widened:g} minutes added")
        measured = metrics.proportion(
            crashed, total, query=shown, details={f"{unit}s": total, f"crashed {unit}s": crashed}
        )
        return replace(measured, notes=tuple(notes))

    def _groups(self, body: Any, shown: str) -> list[dict[str, Any]]:
        if not isinstance(body, dict) or not isinstance(body.get("groups"), list):
            raise self._fail(expected_shape("an object with groups", body), shown)
        groups = body["groups"]
        if not all(isinstance(g, dict) for g in groups):
            raise self._fail(expected_shape("each group to be an object", groups), shown)
        return groups

    def _whole(self, totals: dict[str, Any], key: str, shown: str) -> int:
        value = data_point(totals.get(key), key, self.context, shown)
        if value is None:
            return 0  # Sentry's null: no sessions (the SDK sends none, or no release is set)
        if value < 0 or value != int(value):
            raise self._fail(f"expected {key} as a whole count, got {value:g}", shown)
        return int(value)

    def _widened(self, body: dict[str, Any], start: datetime, end: datetime) -> float:
        """Minutes the answer's range exceeds the one asked for (Sentry rounds to the interval)."""
        try:
            got_start = datetime.fromisoformat(str(body["start"]))
            got_end = datetime.fromisoformat(str(body["end"]))
        except (KeyError, ValueError):
            return 0.0
        if got_start.tzinfo is None or got_end.tzinfo is None:
            return 0.0
        extra = max(timedelta(0), start - got_start) + max(timedelta(0), got_end - end)
        return round(extra.total_seconds() / 60, 1)

    def _custom(
        self,
        criterion: CustomCriterion,
        options: Mapping[str, Any],
        window: TimeWindow,
        releases: list[str],
    ) -> Measurement:
        field = str(options["field"])
        endpoint = options.get("endpoint", "events")
        start, end = window.start, window.end
        if endpoint == "sessions":
            start, end = self._span(window, releases)
        params = [("field", field), ("start", _iso(start)), ("end", _iso(end)), *self._scope()]
        search = self._search(criterion, releases, str(options.get("query") or ""))
        if search:
            params.append(("query", search))
        if endpoint == "sessions":
            params += [("interval", "1h"), ("includeSeries", "0")]
            body, shown = self._sessions(params)
            groups = body["groups"]
            if len(groups) > 1:
                raise self._fail(f"expected one group of totals, got {len(groups)}", shown)
            totals = groups[0].get("totals") if groups else {}
            if not isinstance(totals, dict):
                raise self._fail(expected_shape("totals in the group", groups[0]), shown)
            raw = totals.get(field)
        else:
            params += [("dataset", str(options.get("dataset", "errors"))), ("per_page", "1")]
            reply, shown = self._get("events", params)
            body = reply.body
            if not isinstance(body, dict) or not isinstance(body.get("data"), list):
                raise self._fail(expected_shape("an object with data rows", body), shown)
            rows = body["data"]
            if rows and not isinstance(rows[0], dict):
                raise self._fail(expected_shape("rows as objects", rows[0]), shown)
            if rows and field not in rows[0]:
                raise self._fail(f"expected {field} in the row, got {sorted(rows[0])}", shown)
            raw = rows[0][field] if rows else None
        try:
            # Sentry sends some counts as strings (an issue's `count`)
            raw = float(raw) if isinstance(raw, str) else raw
        except ValueError:
            raise self._fail(expected_shape(f"{field} as a number", raw), shown) from None
        value = data_point(raw, field, self.context, shown)
        if value is None:
            return Measurement(value=None, samples=0, query=shown)
        notes: tuple[str, ...] = ()
        if field.startswith(("crash_free_rate", "crash_rate")):
            try:
                value, percent = crash_free_ratio(value)
            except ValueError:
                raise self._fail(f"{field} is {value:g}: expected 0-1 or 0-100", shown) from None
            if percent:
                notes = (f"{field} came as a percentage (0-100)",)
        return Measurement(value=value, samples=1, query=shown, notes=notes)


def _next_cursor(link: str | None) -> str | None:
    """The cursor of the next page, or None on the last: Sentry always sends a `next` link, with
    `results="false"` when there is nothing more. Cursors are opaque text, named in the link's
    `cursor` (or, failing that, in its URL)."""
    for item in parse_header_links(link or ""):
        if item.get("rel") == "next" and item.get("results") == "true":
            in_url = parse_qs(urlsplit(item.get("url", "")).query).get("cursor", [""])
            return item.get("cursor") or in_url[0]  # "": a next page without a cursor
    return None


def _error_rate_query_problems(query: Any) -> Problems:
    expected = "expected a mapping such as {unit: user} (unit: session or user)"
    if not isinstance(query, Mapping):
        return [(("query",), expected)]
    unknown = sorted(set(query) - _ERROR_RATE_KEYS)
    if unknown:
        return [(("query", unknown[0]), f"unknown key; {expected}")]
    if query.get("unit", "session") not in ("session", "user"):
        return [(("query", "unit"), "expected session or user")]
    return []


def _custom_query_problems(query: Any) -> Problems:
    expected = (
        "expected a mapping such as {endpoint: events, field: count(), query: level:error} "
        "or {endpoint: sessions, field: count_unique(user)}"
    )
    if not isinstance(query, Mapping):
        return [(("query",), expected)]
    unknown = sorted(set(query) - _CUSTOM_KEYS)
    if unknown:
        return [(("query", unknown[0]), f"unknown key; {expected}")]
    if not isinstance(query.get("field"), str) or not query["field"].strip():
        return [(("query", "field"), f"required: the field to read; {expected}")]
    if query.get("endpoint", "events") not in ("events", "sessions"):
        return [(("query", "endpoint"), "expected events or sessions")]
    for key in ("query", "dataset"):
        if key in query and not isinstance(query[key], str):
            return [(("query", key), "expected text")]
    if "dataset" in query and query.get("endpoint", "events") != "events":
        return [(("query", "dataset"), "only the events endpoint takes a dataset")]
    return []
