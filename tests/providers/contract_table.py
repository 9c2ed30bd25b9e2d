"""The provider contract's table: every built-in provider type as the contract stands it up, and the
parameters a contract test runs over (a stand its case applies to, marked `server` when the stand
needs a real server)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping

import pytest
from contract_analytics import AMPLITUDE, GA4, MIXPANEL
from contract_apm import DATADOG, DYNATRACE, NEWRELIC, PROMETHEUS, SENTRY
from contract_local import FILE, HTTP, SQL
from contract_stand import Case, Stand

STANDS: dict[str, Stand] = {
    stand.type: stand
    for stand in (
        FILE,
        PROMETHEUS,
        SQL,
        HTTP,
        DATADOG,
        NEWRELIC,
        DYNATRACE,
        SENTRY,
        GA4,
        AMPLITUDE,
        MIXPANEL,
    )
}


def _marks(stand: Stand) -> list[pytest.MarkDecorator]:
    return [pytest.mark.server] if stand.server else []


def stands(applies: Callable[[Stand], object] = lambda stand: True) -> list:
    """A parameter per stand `applies` to (the others say why not, in the table)."""
    return [
        pytest.param(stand, id=stand.type, marks=_marks(stand))
        for stand in STANDS.values()
        if applies(stand)
    ]


def cases(of: Callable[[Stand], Mapping[str, Case]]) -> list:
    """A parameter per (stand, case) of each stand's cases `of` lists."""

    def each() -> Iterator:
        for stand in STANDS.values():
            for name, case in of(stand).items():
                yield pytest.param(stand, case, id=f"{stand.type}-{name}", marks=_marks(stand))

    return list(each())
