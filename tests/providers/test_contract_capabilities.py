"""The provider contract, capabilities: what each provider declares (`Provider.serves`,
`takes_filter`, `takes_cohorts` in cxe_gate/providers/base.py) is exactly what the loader refuses,
in the one message capabilities.py writes for each kind: a metric it does not serve, a filter
where it takes none, cohorts where it cannot split traffic; and what it declares it takes loads. A
request built in code (the pytest plugin's, the API's) is refused the same way by `measure`."""

from __future__ import annotations

import re

import pytest
import yaml
from contract_stand import Gap, Stage, Stand, criteria_file, load_problems, measure, with_filter
from contract_table import STANDS, stands
from pydantic import TypeAdapter

from cxe_gate.config import Criterion
from cxe_gate.errors import ProviderError
from cxe_gate.providers.base import COHORTS_REFUSED, Provider
from cxe_gate.providers.capabilities import cannot_measure
from cxe_gate.providers.registry import built_in, provider_class

pytest_plugins = ["postgres_server"]  # the sql provider is built on a real PostgreSQL

# A criterion of each metric a provider may be asked for.
METRICS = {
    "conversion": "{name: c, metric: conversion, journey: checkout, min: 1%}",
    "engagement": "{name: e, metric: engagement, measure: active_users, min: 1}",
    "error_rate": "{name: e, metric: error_rate, max: 1%}",
    "apdex": "{name: a, metric: apdex, t: 500ms, min: 0.5}",
    "latency": "{name: l, metric: latency, max: 800ms}",
    "feedback": "{name: f, metric: feedback, scale: nps, min: 0}",
    "custom": "{name: c, metric: custom, max: 1, query: x}",
}
CONCURRENT = "{baseline: concurrent, release: 1h}"


def declared(stand: Stand) -> type[Provider]:
    provider = provider_class(stand.type)
    assert provider is not None
    return provider


def said_at(problems: list[str], place: str) -> list[str]:
    """What the loader said at `place` (criteria[0].metric, cohorts)."""
    return [
        problem.split(f": {place}: ", 1)[1] for problem in problems if f": {place}: " in problem
    ]


def test_every_provider_has_a_stand_and_every_gap_says_why():
    # Built-ins only: tests elsewhere register providers of their own in the same process.
    assert set(STANDS) == set(built_in())
    for stand in STANDS.values():
        assert stand.served and stand.no_data, stand.type
        for case in (stand.credentials, stand.api):
            if isinstance(case, Gap):
                assert case.why.strip(), stand.type
        # a filter and cohorts in the provider's own language where it takes them, else none
        assert (stand.filtered is not None) == declared(stand).takes_filter, stand.type
        assert (stand.cohorts is not None) == declared(stand).takes_cohorts, stand.type


@pytest.mark.parametrize("metric", sorted(METRICS))
@pytest.mark.parametrize("stand", stands())
def test_a_metric_is_refused_exactly_when_the_provider_does_not_serve_it(
    stand: Stand, metric: str, tmp_path
):
    provider = declared(stand)
    problems = load_problems(criteria_file(stand, Stage(None, tmp_path), METRICS[metric]))
    refused = said_at(problems, "criteria[0].metric")
    if provider.serves is None or metric in provider.serves:
        assert refused == []
    else:
        why = provider.why_not.get(metric, "")
        assert refused == [cannot_measure(stand.type, metric, provider.serves, why)]
        assert len(problems) == 1  # said alone: nothing else about the criterion matters then


@pytest.mark.parametrize("stand", stands(lambda stand: stand.filtered))
def test_a_filter_in_the_providers_own_language_loads(stand: Stand, tmp_path):
    assert stand.filtered is not None
    assert load_problems(criteria_file(stand, Stage(None, tmp_path), stand.filtered)) == []


@pytest.mark.parametrize("stand", stands(lambda stand: not stand.filtered))
def test_a_filter_is_refused_where_the_provider_takes_none(stand: Stand, tmp_path):
    criterion = with_filter(stand.main.criterion, "country = 'DE'")
    problems = load_problems(criteria_file(stand, Stage(None, tmp_path), criterion))
    narrow = declared(stand).narrow_instead
    expected = f"the {stand.type} provider takes no SQL filter; {narrow}"
    assert said_at(problems, "criteria[0].filter") == [expected]


@pytest.mark.parametrize("stand", stands(lambda stand: stand.cohorts))
def test_cohorts_in_the_providers_own_language_load(stand: Stand, tmp_path):
    assert stand.cohorts is not None
    cohorts, criterion = stand.cohorts
    path = criteria_file(
        stand, Stage(None, tmp_path), criterion, windows=CONCURRENT, cohorts=cohorts
    )
    assert load_problems(path) == []


@pytest.mark.parametrize("stand", stands(lambda stand: not stand.cohorts))
def test_cohorts_are_refused_where_the_provider_cannot_split_traffic(stand: Stand, tmp_path):
    cohorts = "{release: 'version 2.0', baseline: 'version 1.9'}"
    path = criteria_file(
        stand, Stage(None, tmp_path), stand.main.criterion, windows=CONCURRENT, cohorts=cohorts
    )
    name = yaml.safe_load(stand.main.criterion)["name"]
    expected = f"criterion {name!r}, provider 'svc': {COHORTS_REFUSED}"
    assert said_at(load_problems(path), "cohorts") == [expected]


def ruled_out() -> list:
    """(stand, criterion, message): a criterion each stand's declaration rules out, with the
    message the loader gives it."""
    found = []
    for stand in STANDS.values():
        provider = declared(stand)
        if provider.serves is not None:
            metric = next(m for m in sorted(METRICS) if m not in provider.serves)
            why = provider.why_not.get(metric, "")
            expected = cannot_measure(stand.type, metric, provider.serves, why)
            found.append(param(stand, METRICS[metric], expected, f"{stand}-{metric}"))
        if not provider.takes_filter:
            criterion = with_filter(stand.main.criterion, "country = 'DE'")
            expected = f"the {stand.type} provider takes no SQL filter; {provider.narrow_instead}"
            found.append(param(stand, criterion, expected, f"{stand}-filter"))
    return found


def param(stand: Stand, criterion: str, message: str, name: str):
    marks = [pytest.mark.server] if stand.server else []
    return pytest.param(stand, criterion, message, id=name, marks=marks)


@pytest.mark.parametrize(("stand", "criterion", "message"), ruled_out())
def test_a_request_built_in_code_is_refused_as_the_loader_refuses_it(
    stand: Stand, criterion: str, message: str, stage: Stage
):
    if stage.server is not None:  # a provider that sends anything is answered, and told apart
        stage.server.expect_request(re.compile(".*")).respond_with_data("not asked for", 400)
    asked = TypeAdapter(Criterion).validate_python(yaml.safe_load(criterion))
    with pytest.raises(ProviderError) as refused:
        measure(stand, stage, stand.main.criterion, asked=asked)
    assert message in str(refused.value)
    assert stage.server is None or stage.server.log == []  # refused before anything was sent
