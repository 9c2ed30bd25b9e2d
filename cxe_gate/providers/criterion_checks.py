"""What a criterion may ask of an APM metrics API, checked when loading: the metrics it serves, the
parts a raw `query` may hold per metric (read again when measuring), and an Apdex T it fixes."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta

from ..config import ApdexCriterion, CriterionBase, Problems
from ..quantities import format_duration

# What an APM metrics API serves: its providers declare `serves = APM_METRICS`.
APM_METRICS = ("error_rate", "latency", "apdex", "custom")


@dataclass(frozen=True)
class QueryForm:
    """What a raw `query` may be for one metric: the parts a mapping must and may have, and the
    part a text query stands for (None: text cannot express the metric)."""

    required: frozenset[str]
    optional: frozenset[str] = frozenset()
    text_part: str | None = None

    @property
    def mapping(self) -> str:
        """The mapping as a message spells it: {errors: …, requests: …} (optional: unit)."""
        text = "{" + ", ".join(f"{part}: …" for part in sorted(self.required)) + "}"
        if self.optional:
            text += f" (optional: {', '.join(sorted(self.optional))})"
        return text


def query_parts(
    criterion: CriterionBase, forms: Mapping[str, QueryForm], *, strip: bool = False
) -> dict[str, str]:
    """A raw `query` as its named parts (a text query stands for the metric's main part); `strip`
    trims each part's text."""
    query = criterion.query
    if query is None:
        return {}
    if isinstance(query, str):
        part = forms[criterion.metric].text_part
        return {part: query} if part else {}
    return {str(key): str(value).strip() if strip else str(value) for key, value in query.items()}


def query_problems(
    criterion: CriterionBase,
    forms: Mapping[str, QueryForm],
    *,
    query_kind: str,
    not_counts: str,
    part_problem: Callable[[str, str], str | None] = lambda part, value: None,
) -> Problems:
    """What is wrong with a criterion's raw `query`: text where the metric needs a mapping (the
    gate needs both counts, not `not_counts`), empty text (where `query_kind` was expected), parts
    unknown, missing or not text, and what `part_problem` says of a part's text."""
    query = criterion.query
    if query is None:
        return []
    form = forms[criterion.metric]
    if isinstance(query, str):
        if form.text_part is None:
            return [
                (
                    ("query",),
                    f"expected a mapping {form.mapping}: the gate needs both counts, not "
                    f"{not_counts}",
                )
            ]
        if not query.strip():
            return [(("query",), f"expected {query_kind}, got empty text")]
        return []
    problems: Problems = []
    allowed = form.required | form.optional
    unknown = sorted(set(query) - allowed)
    if unknown:
        problems.append((("query",), f"unknown part {', '.join(unknown)}; expected {form.mapping}"))
    missing = sorted(form.required - set(query))
    if missing:
        problems.append((("query",), f"missing {', '.join(missing)}; expected {form.mapping}"))
    for part, value in query.items():
        if part not in allowed:
            continue
        if not isinstance(value, str) or not value.strip():
            problems.append((("query", part), f"expected text, got {value!r}"))
        elif problem := part_problem(part, value):
            problems.append((("query", part), problem))
    return problems


def apdex_t_problems(
    criterion: ApdexCriterion,
    apdex_t: timedelta | None,
    *,
    product: str,
    own_t: str,
    with_t: str,
) -> Problems:
    """An Apdex T the product cannot apply at query time: the criterion's t must be the T set in
    the product (`apdex_t`), which the product applies as `own_t` says (and, with a T, `with_t`)."""
    t = format_duration(criterion.t)
    if apdex_t is None:
        return [
            (
                ("t",),
                f"{product} {own_t} and cannot apply t = {t} at query time; set the provider's "
                "apdex_t to the T configured there, so the gate knows the two agree",
            )
        ]
    if apdex_t != criterion.t:
        return [
            (
                ("t",),
                f"t = {t}, but {product} {with_t} T = {format_duration(apdex_t)} (the provider's "
                f"apdex_t) and cannot apply another T at query time; use that T, or change it in "
                f"{product} and in apdex_t",
            )
        ]
    return []
