"""What the provider contract knows of one provider type (a stand): how to stand it up against a
loopback service or real data, the criteria it serves and the service's good answers to them, the
ways its service says "no data", and where a contract case does not apply to it (a gap, with why).
Also running a case through the loader and the whole gate on a stand."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from pytest_httpserver import HTTPServer

from cxe_gate.config import CriterionBase
from cxe_gate.errors import ConfigError
from cxe_gate.gate import build_provider, evaluate, resolve_windows
from cxe_gate.loader import load
from cxe_gate.measurement import Measurement, Unit
from cxe_gate.providers.base import MetricRequest
from cxe_gate.results import GateReport

if TYPE_CHECKING:
    from postgres_server import PostgresServer

T = TypeVar("T")
PROVIDER = "svc"  # the provider's name under `providers` in every contract criteria file
# Where a stand's settings point when no real server was started (a criteria file only loaded).
NOWHERE = "http://127.0.0.1:9"
NO_POSTGRES = "postgresql+psycopg://gate@127.0.0.1:9/shop"


@dataclass(frozen=True)
class Gap:
    """A contract case that does not apply to a provider, and why (where its own tests cover it)."""

    why: str


@dataclass(frozen=True)
class Stage:
    """Where a case runs: the loopback server a service's API answers on, the directory of the
    criteria file (a provider's local data goes there), and a real PostgreSQL when a stand needs it."""

    server: HTTPServer | None
    directory: Path
    postgres: PostgresServer | None = None

    @property
    def url(self) -> str:
        return self.server.url_for("/").rstrip("/") if self.server else NOWHERE


# Stands a service up: handlers on the loopback server, files in the directory.
Serve = Callable[[Stage], None]


SECRET = "k-7Hq2Zp9Lx4Vb8Nc3"  # in every credential a stand is given


def credentials_in(*variables: str) -> Callable[[Stage], dict[str, str]]:
    """Credentials read from `variables`, each holding SECRET."""
    return lambda stage: {variable: f"{SECRET}-{variable}" for variable in variables}


def no_sign_in(stage: Stage) -> None:
    """The sign-in of a service that takes its credential with each request."""


@dataclass(frozen=True)
class Case:
    """One criterion (a YAML flow mapping) and what the service answers to it."""

    criterion: str
    serve: Serve
    # The unit the provider says its values are in, when it is not the criterion's default_unit()
    # (a Dynatrace metric declared in percent is a ratio), and why.
    declared_unit: tuple[Unit | str, str] | None = None


@dataclass(frozen=True)
class Stand:
    """One provider type as the contract stands it up."""

    type: str
    # The provider's settings, a YAML flow mapping: @url is the loopback server, @postgres the real
    # PostgreSQL's URL.
    settings: str
    release: str  # the `release:` mapping
    windows: str  # the `windows:` mapping
    now: datetime
    # Each metric it serves (the first is the one the outage and secret cases read), by case id.
    served: Mapping[str, Case]
    # Each way its service says "no data" (an empty result, null, NaN, zero samples), by name.
    no_data: Mapping[str, Case]
    # The environment variables its credentials come from, and their values on a stage.
    credentials: Callable[[Stage], dict[str, str]] | Gap
    # The paths (a regex) of the API the outage and echo cases break, or why there is none.
    api: str | Gap
    journeys: str = "{checkout: {steps: [view_item, add_to_cart, purchase], unit: user}}"
    filtered: str | None = None  # a criterion with a filter in its own language, if it takes one
    # A `cohorts:` mapping and a criterion it narrows, when it splits traffic into cohorts.
    cohorts: tuple[str, str] | None = None
    # The real server it needs beside the loopback one ("postgres"): its cases are marked `server`.
    server: str | None = None
    sign_in: Serve = no_sign_in  # the service's sign-in, which the outage cases leave working
    refusals: int = 1  # requests to the API before a refused credential is given up on
    # Credential material besides the variables' values that must never be shown (a private key).
    hidden: Callable[[Mapping[str, str]], list[str]] = lambda credentials: []

    @property
    def main(self) -> Case:
        """The criterion the outage and secret cases read."""
        return next(iter(self.served.values()))

    def __str__(self) -> str:
        return self.type


def released(deployed_at: datetime, name: str | None = None) -> str:
    """The `release:` mapping of a release deployed at `deployed_at`."""
    named = f"name: {json.dumps(name)}, " if name else ""
    return f"{{{named}deployed_at: '{deployed_at.isoformat()}'}}"


def served(answers: Serve, **criteria: str) -> dict[str, Case]:
    """Cases of `criteria` (a metric's id → its criterion) that one healthy service answers."""
    return {name: Case(criterion, answers) for name, criterion in criteria.items()}


def disguised(kind: str, case: Callable[[T], Case], answers: Mapping[str, T]) -> dict[str, Case]:
    """A no-data case per answer, named "kind: name", each made by `case`."""
    return {f"{kind}: {name}": case(answer) for name, answer in answers.items()}


def with_filter(criterion: str, condition: str) -> str:
    """`criterion` (a flow mapping) with a `filter`."""
    return f"{criterion[:-1]}, filter: {json.dumps(condition)}}}"


def criteria_file(
    stand: Stand,
    stage: Stage,
    criterion: str,
    *,
    gate: str = "",
    windows: str | None = None,
    cohorts: str | None = None,
) -> Path:
    """A criteria file with `stand`'s provider (as `svc`) and `criterion` alone, on `stage`."""
    settings = stand.settings.replace("@url", stage.url)
    settings = settings.replace("@postgres", stage.postgres.url if stage.postgres else NO_POSTGRES)
    path = stage.directory / "cxe.yml"
    path.write_text(
        f"release: {stand.release}\n"
        f"windows: {windows or stand.windows}\n"
        + (f"cohorts: {cohorts}\n" if cohorts else "")
        + f"gate: {{{gate}}}\n"
        "providers:\n"
        f"  {PROVIDER}: {settings}\n"
        f"journeys: {stand.journeys}\n"
        f"criteria:\n  - {criterion}\n"
    )
    return path


def gate_report(stand: Stand, stage: Stage, criterion: str, gate: str = "") -> GateReport:
    """The gate's report on `criterion` alone."""
    return evaluate(load(criteria_file(stand, stage, criterion, gate=gate)), now=stand.now)


def measure(
    stand: Stand, stage: Stage, criterion: str, *, asked: CriterionBase | None = None
) -> dict[str, Measurement]:
    """The provider's own measurements of `criterion` (before the gate's last-line redaction),
    built from the criteria file as the gate builds it; a ProviderError propagates. `asked`: a
    criterion built in code to measure instead, which the loader never saw."""
    loaded = load(criteria_file(stand, stage, criterion))
    config = loaded.config
    (written,) = config.criteria
    read: CriterionBase = asked or written
    journey = config.journeys.get(getattr(read, "journey", None) or "")
    request = MetricRequest(read, journey=journey, release=config.release.name)
    provider = build_provider(loaded, PROVIDER)
    try:
        return provider.measure(request, resolve_windows(loaded, stand.now))
    finally:
        provider.close()


def load_problems(path: Path) -> list[str]:
    """What the loader refuses about a criteria file, one line each; none when it loads."""
    try:
        load(path)
    except ConfigError as refused:
        return refused.problems or [str(refused)]
    return []


def never_shown(stand: Stand, stage: Stage) -> list[str]:
    """Every form of the stand's credentials no message, query or report may show: the variables'
    values, what the stand hides besides (a private key's lines), and each token the service was
    sent in an Authorization header (a Basic pair, an OAuth access token)."""
    assert not isinstance(stand.credentials, Gap)
    credentials = stand.credentials(stage)
    forms = [*credentials.values(), *stand.hidden(credentials)]
    for request, _ in stage.server.log if stage.server else []:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        forms.append(token or scheme)
    return [form for form in forms if form]
