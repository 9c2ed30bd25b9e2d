"""Reading a metrics API's answer: its data points (null and NaN are no data, never zero), the totals
of its series, the error rate its counts give, values nested in it, and errors that quote what came
back."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any, Protocol

from .. import metrics
from ..errors import ProviderError
from ..measurement import Measurement
from .base import ProviderContext


class Points(Protocol):
    """A series of an answer: its values in order, None where there was no data."""

    @property
    def values(self) -> tuple[float | None, ...]: ...


def provider_error(
    context: ProviderContext, message: str, query: str | None = None
) -> ProviderError:
    """A failure of `query`, with every secret (and derived credential) redacted from what it says."""
    return ProviderError(
        context.redact(message),
        provider=context.name,
        query=context.redact(query) if query else None,
    )


def data_point(
    value: Any, what: str, context: ProviderContext, query: str, *, plural: bool = False
) -> float | None:
    """A data point; null and NaN are no data, never zero. `what` names it in an error ("a value",
    or "values" with `plural`)."""
    if value is None:
        return None
    number, finite = ("numbers", "finite numbers") if plural else ("a number", "a finite number")
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise provider_error(context, f"expected {what} as {number} or null, got {value!r}", query)
    if math.isnan(value):
        return None
    if math.isinf(value):
        raise provider_error(context, f"expected {what} as {finite}, got {value!r}", query)
    return float(value)


def total(series: Iterable[Points]) -> float | None:
    """The sum of every value of every series, or None when there was none."""
    values = [v for s in series for v in s.values if v is not None]
    return sum(values) if values else None


def error_rate_of_counts(
    errors: float | None,
    requests: float | None,
    context: ProviderContext,
    query: str,
    *,
    same_source: str,
) -> Measurement:
    """Errors of requests, from the two counts' totals over a window: no request count is no data.
    More errors than requests fails, asking `same_source` ("do both queries read the same …?")."""
    if requests is None:
        return Measurement(value=None, samples=0, query=query)
    # A count with nothing counted has no data points: no error points is 0 errors.
    trials, successes = round(requests), round(errors or 0.0)
    if successes < 0 or successes > trials:
        raise provider_error(
            context,
            f"expected errors between 0 and the request count, got {successes:,} errors "
            f"of {trials:,} requests ({same_source})",
            query,
        )
    return metrics.proportion(
        successes, trials, query=query, details={"requests": trials, "errors": successes}
    )


def expected_shape(expected: str, got: Any) -> str:
    """An answer not shaped as `expected`, quoting the start of what came."""
    text = repr(got)
    return f"expected {expected}, got {text[:200]}{'…' if len(text) > 200 else ''}"


def shown(value: Any, limit: int = 200) -> str:
    """A value as an error quotes it: its repr on one line, cut at `limit` characters."""
    text = " ".join(repr(value).split()) if not isinstance(value, str) else repr(value)
    return text if len(text) <= limit else text[:limit] + "…"


def dig(answer: Any, keys: tuple[str, ...]) -> Any:
    """The value under `keys` in nested JSON objects, or None where one is missing."""
    for key in keys:
        if not isinstance(answer, dict):
            return None
        answer = answer.get(key)
    return answer


def first_line(exc: BaseException) -> str:
    """The first line of what an exception says (a library's error may run on for lines), or its
    type's name when it says nothing."""
    text = str(exc).strip()
    return text.splitlines()[0].strip() if text else type(exc).__name__
