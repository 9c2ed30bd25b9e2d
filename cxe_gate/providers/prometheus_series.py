"""What the series are, checked before a count is trusted: a label the error matchers read must be
on the series (else every request reads as a success), and a metric without samples must exist at
all (else a misspelled name reads as no data forever)."""

from __future__ import annotations

import difflib

from ..measurement import Measurement
from .prometheus_api import HISTORY, Asked, PrometheusApi
from .prometheus_counts import whole_count
from .prometheus_settings import PrometheusSettings
from .promql import matcher_parts, selector

_STATUS_LABELS = ("status", "code", "status_code", "http_status", "response_code", "http_code")


def _matcher_label(matcher: str) -> str:
    parts = matcher_parts(matcher)
    assert parts  # only normalised matchers come here
    return parts[0]


def check_labels(
    api: PrometheusApi,
    metric: str,
    scope: list[str],
    matchers: list[str],
    asked: Asked,
    default: bool,
) -> None:
    """Fail when a label the error matchers read is on no series of `metric` in the window: a
    matcher on a missing label matches nothing, which would read as 0 errors and pass. `default`:
    the matchers are the provider's (status_label), not the criterion's own."""
    sel, window = selector(metric, scope), asked.range
    for label in dict.fromkeys(map(_matcher_label, matchers)):
        data = api.query(f"count by ({label}) (last_over_time({sel}[{window}]))", asked)
        with_label = without = 0
        for series in api.vector(data, asked):
            n = whole_count(api.number(series.get("value"), asked))
            if series.get("metric", {}).get(label):
                with_label += n
            else:
                without += n
        if with_label == 0 and not default and label in api.label_names(sel, asked, True):
            continue  # a label only failed requests carry, and none failed in the window
        if with_label == 0:
            names = [n for n in api.label_names(sel, asked) if n != "__name__"]
            setting = "status_label" if default else "the criterion's errors"
            likely = next((n for n in _STATUS_LABELS if n in names and n != label), None)
            hint = f", e.g. status_label: {likely}" if likely and default else ""
            raise api.error(
                f"errors are read from the label {label!r} ({' '.join(matchers)}), but no "
                f"series of {sel} has it in the window, so every request would count as a "
                f"success; its labels are: {', '.join(names) or 'none'}. Set {setting} to "
                f"the label that holds the status{hint}",
                asked,
            )
        if without and default:
            asked.notes.append(
                f"{without:,} of {with_label + without:,} series of {sel} have no {label!r} "
                "label: their requests are counted, their errors cannot be"
            )


def no_data(
    api: PrometheusApi,
    settings: PrometheusSettings,
    metric: str,
    setting: str,
    asked: Asked,
    suffix: str = "",
) -> Measurement:
    """A window without a sample of `metric` (the setting's value and `suffix`): no data, or
    an error when the metric is not in Prometheus at all (a misspelled name would otherwise
    read as no data forever)."""
    if not api.label_names(metric, asked, True):
        names = [n for n in api.metric_names(asked) if n.endswith(suffix)]
        close = [
            c.removesuffix(suffix)
            for c in difflib.get_close_matches(metric, names, n=3, cutoff=0.6)
        ]
        hint = f"; did you mean {setting}: {' or '.join(close)}?" if close else ""
        raise api.error(
            f"metric {metric} not found: Prometheus has no series of it in the "
            f"{HISTORY.days} days up to the window's end (check {setting}; GET "
            f"/api/v1/label/__name__/values lists the metrics it has){hint}",
            asked,
        )
    scoped = selector(metric, settings.scope)
    if settings.scope and not api.label_names(scoped, asked, True):
        raise api.error(
            f"no series of {metric} match the selector {settings.selector} in the "
            f"{HISTORY.days} days up to the window's end: check selector",
            asked,
        )
    asked.notes.append(f"no samples of {metric} in the window (the metric exists)")
    return Measurement(value=None, samples=0, query=asked.text())
