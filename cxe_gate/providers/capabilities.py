"""What a provider declares it can do (`Provider.serves`, `takes_filter`, …) turned into the one
message a criterion asking for more gets: when the file loads, and again when a request built in
code reaches `measure`."""

from __future__ import annotations

from collections.abc import Sequence

from ..config import ConversionCriterion, CriterionBase, JourneySpec, Problems
from .answers import provider_error
from .base import MetricRequest, Provider, ProviderSettings
from .registry import type_name

# Where to read a metric a provider does not serve.
_READ_FROM = {
    "conversion": "an analytics provider (ga4, amplitude, mixpanel, newrelic) or the file provider",
    "engagement": "an analytics provider (ga4, amplitude, mixpanel) or the file provider",
    "error_rate": "an APM or error-tracking provider (prometheus, datadog, newrelic, dynatrace, "
    "sentry)",
    "apdex": "an APM provider (prometheus, datadog, newrelic, dynatrace)",
    "latency": "an APM provider (prometheus, datadog, newrelic, dynatrace)",
    "feedback": "the http provider (Delighted, Typeform, your own survey API) or the file provider",
    "retention": "the file or sql provider (an event log or a warehouse table of events), or "
    "mixpanel for day-N retention of new users",
    "custom": "the http or sql provider",
}


def with_article(word: str) -> str:
    """`word` after its indefinite article: a datadog provider, an amplitude provider."""
    return f"{'an' if word[:1] in 'aeiou' else 'a'} {word}"


def cannot_measure(provider: str, metric: str, serves: Sequence[str], why: str = "") -> str:
    """Why a `provider` (its type) refuses `metric`: what it serves instead or, when the product
    itself lacks the data, `why`; and where to read the metric."""
    source = _READ_FROM.get(metric, "another provider")
    if why:
        return (
            f"the {provider} provider cannot measure {metric}: {why}; read {metric} from {source}"
        )
    served = ", ".join(serves[:-1]) + f" and {serves[-1]}" if len(serves) > 1 else serves[0]
    return f"{with_article(provider)} provider serves {served}, not {metric}; read {metric} from {source}"


def declared_problems(provider: type[Provider], criterion: CriterionBase) -> Problems:
    """What `provider`'s declaration rules out: a metric it does not serve (said alone: nothing
    else about the criterion matters then), a filter where it takes none."""
    name = type_name(provider)
    metric = criterion.metric
    if provider.serves is not None and metric not in provider.serves:
        why = provider.why_not.get(metric, "")
        return [(("metric",), cannot_measure(name, metric, provider.serves, why))]
    if criterion.filter is not None and not provider.takes_filter:
        return [
            (("filter",), f"the {name} provider takes no SQL filter; {provider.narrow_instead}")
        ]
    return []


def criterion_problems(
    provider: type[Provider], criterion: CriterionBase, settings: ProviderSettings
) -> Problems:
    """Everything `provider` refuses about a criterion, at places relative to it: its declaration,
    then its own checks of a metric it serves."""
    problems = declared_problems(provider, criterion)
    if any(place == ("metric",) for place, _ in problems):
        return problems
    return problems + provider.criterion_problems(criterion, settings)


def text_query_problems(provider: type[Provider], criterion: CriterionBase) -> Problems:
    """A raw `query` that is not text, for a provider that runs text as written."""
    if criterion.query is None or isinstance(criterion.query, str):
        return []
    expected = (
        f"expected {provider.query_kind} as text for {with_article(type_name(provider))} provider"
    )
    return [(("query",), expected)]


def criterion_journey(request: MetricRequest) -> JourneySpec:
    """The journey a conversion criterion reads, the criterion's `unit` winning over the journey's."""
    assert request.journey is not None
    criterion = request.criterion
    unit = criterion.unit if isinstance(criterion, ConversionCriterion) else None
    return request.journey.model_copy(update={"unit": unit}) if unit else request.journey


def journey_problems(
    provider: type[Provider], request: MetricRequest, settings: ProviderSettings
) -> list[str]:
    """What `provider` cannot measure about the journey a conversion criterion reads."""
    if not isinstance(request.criterion, ConversionCriterion) or request.journey is None:
        return []
    return provider.journey_problems(criterion_journey(request), settings)


def refuse_unservable(provider: Provider, request: MetricRequest) -> None:
    """Raise the first thing the file loader would have refused about a request: for callers that
    build requests in code (the pytest plugin, the API)."""
    kind = type(provider)
    problems = [m for _, m in criterion_problems(kind, request.criterion, provider.settings)]
    problems += journey_problems(kind, request, provider.settings)
    if problems:
        raise provider_error(provider.context, problems[0])
