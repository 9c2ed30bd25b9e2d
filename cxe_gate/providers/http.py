"""The `http` provider: any JSON HTTP API (NPS/CSAT tools, in-house metric endpoints). Each criterion's
`query` says which request to send per window and where in the answer its numbers are, as JSONPath
(starting with `$`) or JMESPath (anything else): see json_paths.py."""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import UTC, datetime
from functools import lru_cache, partial
from typing import Any, Literal
from urllib.parse import quote_plus, urlencode

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from ..config import CriterionBase, Location, Problems
from ..errors import ProviderError
from ..measurement import Measurement, TimeWindow
from .base import MetricRequest, Provider, ProviderContext, ProviderSettings
from .capabilities import refuse_unservable
from .json_paths import Answer, check_path
from .prepared import encoded_query
from .query_contract import COUNTS, counts_problem, from_counts, parameters, takes_successes
from .transport import ApiClient, HttpSettings, basic_auth

TimeFormat = Literal["iso", "epoch", "epoch_ms"]

_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
# Names of headers and parameters that carry a credential: their values must come from ${VAR}.
_CREDENTIAL = re.compile(
    r"auth|token|secret|passw|cookie|signature|apikey|(^|[-_])key$", re.IGNORECASE
)
_SCALES = {"percent": 0.01, "seconds": 1000.0, "microseconds": 0.001}
# Left as they are in the query string the report shows, so ${VAR} and times read as written;
# urlencode escapes them as %24 %7B %7D %3A in the one that is sent.
_SHOWN_SAFE = "${}:"
_REVEAL = {f"%{ord(c):02X}": c for c in _SHOWN_SAFE}
_REVEALED = re.compile("|".join(_REVEAL))


def _refs(text: str) -> list[str]:
    return _REF.findall(text)


def _credential_problem(kind: str, name: str, value: str) -> str | None:
    if _CREDENTIAL.search(name) and not _refs(value):
        return (
            f"{kind} {name!r} carries a credential: write it as an environment variable "
            f'reference, e.g. "Bearer ${{API_TOKEN}}", never inline'
        )
    return None


class BasicAuth(BaseModel):
    """HTTP Basic credentials; either part may hold `${VAR}` references (Delighted: the API key as
    the username and an empty password)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    username: str
    password: str = ""

    @model_validator(mode="after")
    def _from_environment(self) -> BasicAuth:
        if not (_refs(self.username) or _refs(self.password)):
            raise ValueError("write the username or the password as ${VAR}, never inline")
        if self.password and not _refs(self.password):
            raise ValueError("write the password as ${VAR}, never inline")
        return self


class HttpProviderSettings(HttpSettings):
    base_url: str = Field(description="the API's root, e.g. https://api.delighted.com/v1")
    headers: dict[str, str] = Field(
        default_factory=dict,
        description="sent with every request; ${VAR} references are filled from the environment",
    )
    params: dict[str, str] = Field(
        default_factory=dict,
        description="query parameters sent with every request (e.g. an api_key: ${VAR})",
    )
    basic_auth: BasicAuth | None = Field(None, description="{username, password}, from ${VAR}")
    time_format: TimeFormat = Field(
        "iso",
        description="how ${start} and ${end} are written: iso (2026-11-10T14:00:00Z), epoch "
        "(seconds) or epoch_ms; a query's own time_format wins",
    )
    no_data_statuses: list[int] = Field(
        default_factory=list,
        description="statuses that mean 'no data in this window' (e.g. [404]), not an error",
    )

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, url: str) -> str:
        if not url.startswith(("http://", "https://")):
            raise ValueError("expected an http:// or https:// URL")
        if _refs(url):
            raise ValueError("put credentials in headers, params or basic_auth, not in base_url")
        return url.rstrip("/")

    @model_validator(mode="after")
    def _credentials_from_environment(self) -> HttpProviderSettings:
        if self.basic_auth is not None and any(
            name.lower() == "authorization" for name in self.headers
        ):
            raise ValueError("give basic_auth or an Authorization header, not both")
        for kind, values in (("header", self.headers), ("parameter", self.params)):
            for name, value in values.items():
                problem = _credential_problem(kind, name, value)
                if problem:
                    raise ValueError(problem)
        return self


# --- the criterion's query ----------------------------------------------------------------------


Scalar = str | int | float | bool


class HttpQuery(BaseModel):
    """A criterion's `query` for the http provider."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    method: Literal["GET", "POST"] = "GET"
    path: str = Field(description="appended to the provider's base_url; starts with /")
    params: dict[str, Scalar | list[Scalar]] = Field(default_factory=dict)
    body: Any = Field(None, description="JSON body (method: POST)")
    time_format: TimeFormat | None = None
    scale: float | Literal["percent", "seconds", "microseconds"] = Field(
        1.0,
        description="multiplies the value into our units: percent (0-100 → 0-1), seconds and "
        "microseconds (→ ms), or a number",
    )
    value: str | None = None
    samples: str | int | None = Field(None, description="a path, or a fixed count")
    successes: str | None = None
    variance: str | None = None
    promoters: str | None = None
    passives: str | None = None
    detractors: str | None = None
    satisfied: str | None = None
    tolerating: str | None = None
    frustrated: str | None = None
    data_end: str | None = Field(
        None,
        description="a path to the time of the newest data point the answer covers (e.g. "
        "$.items[*].submitted_at, or $.meta.last_ingested): ISO 8601 (UTC when it names no "
        "zone) or Unix time as a number (seconds, or milliseconds from 10^11 up); of several "
        "matches the newest counts. The gate compares it with the window's end, so a window the "
        "data does not reach yet is not judged as complete",
    )

    @field_validator(
        "value",
        "successes",
        "variance",
        "promoters",
        "passives",
        "detractors",
        "satisfied",
        "tolerating",
        "frustrated",
        "data_end",
    )
    @classmethod
    def _path(cls, path: str | None) -> str | None:
        return None if path is None else check_path(path)

    @field_validator("samples")
    @classmethod
    def _samples(cls, samples: str | int | None) -> str | int | None:
        if isinstance(samples, int) and not isinstance(samples, bool):
            if samples < 1:
                raise ValueError("a fixed samples count must be at least 1")
            return samples
        return None if samples is None else check_path(str(samples))

    @field_validator("path")
    @classmethod
    def _relative(cls, path: str) -> str:
        if not path.startswith("/"):
            raise ValueError(
                "expected a path under the provider's base_url, starting with / (the provider's "
                "credentials are sent only to its base_url)"
            )
        return path

    @model_validator(mode="after")
    def _readable(self) -> HttpQuery:
        if self.factor <= 0:
            raise ValueError("scale must be a positive number, percent, seconds or microseconds")
        if self.body is not None and self.method != "POST":
            raise ValueError("a body needs method: POST")
        counted = [kind for kind, names in COUNTS.items() if any(getattr(self, n) for n in names)]
        for kind in counted:
            missing = [n for n in COUNTS[kind] if getattr(self, n) is None]
            if missing:
                raise ValueError(
                    f"give all of {', '.join(COUNTS[kind])} (missing: {', '.join(missing)})"
                )
        if len(counted) > 1:
            raise ValueError("give NPS counts or Apdex counts, not both")
        if counted and self.value is not None:
            raise ValueError(
                f"give either value or the {counted[0]} counts (the value is computed from them)"
            )
        if self.successes is not None and self.samples is None:
            raise ValueError("successes needs samples: the number they are counted among")
        if self.value is None and self.successes is None and not counted:
            raise ValueError(
                "give value: a JSONPath ($.score) or JMESPath (data.score) to the number"
            )
        return self

    @property
    def factor(self) -> float:
        return _SCALES[self.scale] if isinstance(self.scale, str) else self.scale

    def placeholders(self) -> set[str]:
        found = set(_refs(self.path))
        pending: list[Any] = [self.params, self.body]
        while pending:
            item = pending.pop()
            if isinstance(item, str):
                found.update(_refs(item))
            elif isinstance(item, Mapping):
                pending.extend(item.keys())
                pending.extend(item.values())
            elif isinstance(item, list):
                pending.extend(item)
        return found


# What a key takes, for keys whose pydantic message would list each member of a union.
_EXPECTED = {
    "scale": "a positive number, or percent, seconds or microseconds",
    "params": "a mapping of names to text, numbers or lists of them",
    "samples": "a path to the count, or a whole number of at least 1",
}


def _validation_problems(exc: ValidationError, prefix: Location) -> Problems:
    """pydantic's errors about a query, one per key, in cxe.yml's words."""
    found: dict[Location, list[str]] = {}
    for error in exc.errors():
        place = tuple(error["loc"][:1])
        message = str(error["msg"]).removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            close = difflib.get_close_matches(str(place[0]), list(HttpQuery.model_fields), n=1)
            hint = f"did you mean {close[0]!r}?" if close else "see the http provider's keys"
            message = f"unknown key {place[0]!r}; {hint}"
        elif error["type"] == "missing":
            message = "required, but not given"
        elif place and str(place[0]) in _EXPECTED and error["type"] != "value_error":
            message = f"expected {_EXPECTED[str(place[0])]}"
        messages = found.setdefault((*prefix, *place), [])
        if message not in messages:
            messages.append(message)
    return [(place, "; ".join(messages)) for place, messages in found.items()]


# --- the provider -------------------------------------------------------------------------------


@lru_cache(maxsize=64)  # every criterion of an evaluation asks for the same windows' bounds
def _moment(moment: datetime, time_format: TimeFormat) -> str | int:
    moment = moment.astimezone(UTC)
    if time_format == "epoch":
        return int(moment.timestamp())
    if time_format == "epoch_ms":
        return int(moment.timestamp() * 1000)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _plain(value: str | int | float) -> str | int | float:
    """95.0 as 95: what a person would write in a URL."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


def _fill(item: Any, values: Mapping[str, str | int | float]) -> Any:
    """`item` with every `${name}` replaced; a string that is only a placeholder takes the value's
    own type (an epoch stays a number in a JSON body)."""
    if isinstance(item, str):
        if "${" not in item:  # most text has no placeholder: no regex to run
            return item
        whole = _REF.fullmatch(item)
        if whole:
            return _plain(values[whole[1]])
        return _REF.sub(lambda m: str(_plain(values[m[1]])), item)
    if isinstance(item, Mapping):
        return {_fill(k, values): _fill(v, values) for k, v in item.items()}
    if isinstance(item, list):
        return [_fill(v, values) for v in item]
    return item


_NO_DEFAULT_QUERY = (
    "the http provider has no default query: give a mapping with path and value (a JSONPath such "
    "as $.nps, or a JMESPath), and optionally params, samples, successes, variance"
)


class HttpProvider(Provider):
    settings_model = HttpProviderSettings
    settings: HttpProviderSettings
    requests_take_slots = True
    takes_filter = False
    narrow_instead = "put the condition in params"
    query_kind = "a mapping with path and value"

    @classmethod
    def criterion_problems(cls, criterion: CriterionBase, settings: ProviderSettings) -> Problems:
        if criterion.query is None:
            return [(("query",), _NO_DEFAULT_QUERY)]
        if not isinstance(criterion.query, dict):
            return [(("query",), f"expected {cls.query_kind} for an http provider")]
        problems: Problems = []
        try:
            query = HttpQuery.model_validate(criterion.query)
        except ValidationError as exc:
            return problems + _validation_problems(exc, ("query",))
        for name in query.params:
            if _CREDENTIAL.search(name):
                problems.append(
                    (
                        ("query", "params", name),
                        f"parameter {name!r} carries a credential: give it in the provider's "
                        "params as ${VAR}, never in a criterion",
                    )
                )
        known = ["start", "end", *parameters(criterion)]
        for name in sorted(query.placeholders() - set(known)):
            problems.append(
                (
                    ("query",),
                    f"unknown placeholder ${{{name}}}; a query may use "
                    f"{', '.join('${' + k + '}' for k in known)} (credentials belong in the "
                    "provider's headers, params or basic_auth)",
                )
            )
        if query.successes is not None and not takes_successes(criterion):
            problems.append(
                (("query", "successes"), "successes are for rates; this metric is not a rate")
            )
        for kind, names in COUNTS.items():
            problem = counts_problem(kind, criterion)
            if getattr(query, names[0]) is not None and problem:
                problems.append((("query", names[0]), problem))
        return problems

    def __init__(self, settings: HttpProviderSettings, context: ProviderContext):
        super().__init__(settings, context)
        headers = {
            name: self._resolve(value, f"headers.{name}")
            for name, value in settings.headers.items()
        }
        self._params = {
            name: self._resolve(value, f"params.{name}") for name, value in settings.params.items()
        }
        # The provider's own params, encoded once: shown with their ${VAR} references, and sent.
        self._shown_params = urlencode(settings.params, doseq=True, safe=_SHOWN_SAFE)
        self._sent_params = encoded_query(self._params)
        if settings.basic_auth is not None:
            user = self._resolve(settings.basic_auth.username, "basic_auth.username")
            password = self._resolve(settings.basic_auth.password, "basic_auth.password")
            # The encoded pair shows neither part: redacting the parts could not hide it.
            headers.update(basic_auth(context, user, password))
        self._client = ApiClient(
            context,
            settings,
            base_url=settings.base_url,
            headers=headers,
            auth_hint="and that base_url is the account's host",
            slots=self.request_slots(),
        )

    def _resolve(self, template: str, key: str) -> str:
        """A header or parameter with its `${VAR}` references filled from the environment; the
        whole value, and as a query string carries it, is redacted like the secrets in it."""
        value = _REF.sub(lambda m: self.context.secret(m[0], key), template)
        if value != template:
            self.context.add_secret(value)
            self.context.add_secret(quote_plus(value))
        return value

    def close(self) -> None:
        self._client.close()

    def _query_strings(self, params: Mapping[str, Any]) -> tuple[str, str]:
        """The query string as the report shows it (the provider's params as ${VAR} references,
        `${}:` left readable) and as it is sent (the references filled), from one encoding of the
        criterion's params: the shown form is the sent one with those four characters' escapes
        undone (an escape starts only at a %, which is itself escaped, so none is mistaken), and
        the provider's own params are encoded once."""
        if params.keys() & self._params.keys():  # a criterion's param replaces the provider's
            return (
                urlencode({**self.settings.params, **params}, doseq=True, safe=_SHOWN_SAFE),
                encoded_query({**self._params, **params}),
            )
        sent = encoded_query(params)
        own = _REVEALED.sub(lambda m: _REVEAL[m[0]], sent) if "%" in sent else sent
        if not self._shown_params:
            return own, sent
        if not own:
            return self._shown_params, self._sent_params
        return f"{self._shown_params}&{own}", f"{self._sent_params}&{sent}"

    def measure(self, request: MetricRequest, windows: list[TimeWindow]) -> dict[str, Measurement]:
        refuse_unservable(self, request)
        criterion = request.criterion
        query = HttpQuery.model_validate(criterion.query)
        return self.each_window(windows, partial(self._measure_window, criterion, query))

    def _measure_window(
        self, criterion: CriterionBase, query: HttpQuery, window: TimeWindow
    ) -> Measurement:
        time_format = query.time_format or self.settings.time_format
        values: dict[str, str | int | float] = {
            "start": _moment(window.start, time_format),
            "end": _moment(window.end, time_format),
            **parameters(criterion),
        }
        path = _fill(query.path, values)
        params = _fill(query.params, values)
        body = _fill(query.body, values)
        # The query as the report shows it: credentials stay ${VAR} references.
        shown = f"{query.method} {self.settings.base_url}{path}"
        shown_query, sent_query = self._query_strings(params)
        if shown_query:
            shown += "?" + shown_query
        if body is not None:
            shown += " " + json.dumps(body)
        reply = self._client.request(
            query.method,
            path,
            params=sent_query,
            json_body=body,
            query=shown,
            accept=self.settings.no_data_statuses,
        )
        if reply.status in self.settings.no_data_statuses or reply.body is None:
            return Measurement(value=None, samples=0, details={"status": reply.status}, query=shown)

        def error(message: str) -> ProviderError:
            return ProviderError(
                self.context.redact(f"{query.method} {path}: {message}"),
                provider=self.context.name,
                query=shown,
            )

        answer = Answer(reply.body, error)
        measured = _measurement(query, answer, shown, error)
        if query.data_end is not None:
            measured = replace(measured, data_end=answer.newest(query.data_end))
        return measured


def _measurement(
    query: HttpQuery,
    answer: Answer,
    shown: str,
    error: Callable[[str], ProviderError],
) -> Measurement:
    for kind, names in COUNTS.items():
        if getattr(query, names[0]) is None:
            continue
        counts = [answer.count(getattr(query, n)) for n in names]
        if all(c is None for c in counts):
            return Measurement(value=None, samples=0, query=shown)
        if any(c is None for c in counts):
            missing = [getattr(query, n) for n, c in zip(names, counts, strict=True) if c is None]
            raise error(f"{', '.join(missing)} matched nothing while the other counts did")
        return from_counts(kind, [c for c in counts if c is not None], query=shown)

    if isinstance(query.samples, int):
        samples: int | None = query.samples
    elif query.samples is not None:
        samples = answer.count(query.samples)
    else:
        samples = None
    value = answer.number(query.value) if query.value is not None else None

    if query.successes is not None:
        successes = answer.count(query.successes)
        if samples == 0 or (samples is None and successes is None and value is None):
            return Measurement(value=None, samples=0, query=shown)
        if samples is None or successes is None:
            given = query.samples if samples is None else query.successes
            raise error(f"{given} matched nothing while the other paths did")
        if successes > samples:
            raise error(f"{successes} successes of {samples} samples: more successes than samples")
        rate = successes / samples if value is None else value * query.factor
        return Measurement(
            rate,
            samples,
            successes=successes,
            details={"successes": successes, "samples": samples},
            query=shown,
        )

    if value is None or samples == 0:
        return Measurement(value=None, samples=0, query=shown)
    if samples is None:
        if query.samples is not None:
            raise error(f"{query.samples} matched nothing while {query.value} did")
        samples = 1  # the judge's min_samples decides whether one number is enough
    variance = answer.number(query.variance) if query.variance is not None else None
    details = {"samples": float(samples)}
    if query.factor != 1:
        details["as sent"] = value
    return Measurement(
        value * query.factor,
        samples,
        variance=None if variance is None else variance * query.factor**2,
        details=details,
        query=shown,
    )
