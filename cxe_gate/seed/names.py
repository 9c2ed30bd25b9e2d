"""Stable test names for seeded journeys: made from the journey's own pages (never its weight rank),
so adding sessions or journeys renames no test and keeps history, quarantine lists and `-k` valid."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence

from ..har.journey_map import MappedJourney

MAX_SLUG = 60
# A segment that carries a scrubbed value (or what is left of one) never reaches a name.
_SCRUBBED = re.compile(r"\$|\{|cxe_secret", re.IGNORECASE)
_CHANGING = ("post", "put", "patch", "delete")


def identifier(text: str, fallback: str) -> str:
    """`text` reduced to `[a-z0-9_]`, or `fallback` when nothing is left."""
    name = re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")
    return name or fallback


def signature(journey: MappedJourney) -> str:
    """What makes a journey itself: its pages and calls, method and route (the key journeys are
    merged on, so two journeys of one map never share it)."""
    return "\n".join(
        " ".join(f"{r.method} {r.route}" for r in (step.page, *step.calls))
        for step in journey.steps
    )


def journey_key(journey: MappedJourney) -> str:
    """A short digest of the journey's signature: how the manifest ties a test to its journey, so a
    report finds the test of a journey whatever its rank or id in a later map."""
    return hashlib.sha256(signature(journey).encode("utf-8")).hexdigest()[:16]


def _step_word(method: str, route: str) -> str:
    segments = [s for s in route.partition("?")[0].split("/") if s and not _SCRUBBED.search(s)]
    word = identifier("_".join(segments[-2:]), "home")
    return word if method in ("GET", "HEAD") else f"{method.lower()}_{word}"


def _words(journey: MappedJourney) -> list[str]:
    words: list[str] = []
    for step in journey.steps:
        word = _step_word(step.page.method, step.page.route)
        if not words or words[-1] != word:
            words.append(word)
    return words


def _slug(words: list[str]) -> str:
    """Every page when they fit; else the first, the pages that change something (not GET), `to`
    and the last, dropping middle pages from the end until it fits."""
    whole = "_".join(words)
    if len(whole) <= MAX_SLUG:
        return whole
    middle = [w for w in words[1:-1] if w.split("_", 1)[0] in _CHANGING]
    while True:
        slug = "_".join([words[0], *middle, "to", words[-1]])
        if len(slug) <= MAX_SLUG or not middle:
            break
        middle.pop()
    return slug[:MAX_SLUG].rstrip("_")


def base_name(journey: MappedJourney) -> str:
    return f"test_{_slug(_words(journey)) or 'home'}"


def _suffix(journey: MappedJourney, length: int) -> str:
    return hashlib.sha256(signature(journey).encode("utf-8")).hexdigest()[:length]


def journey_test_names(journeys: Sequence[MappedJourney]) -> list[str]:
    """One name per journey, in the order given. Journeys whose pages give the same name each get
    a short hash of their own signature, so the name never depends on the order or the weights."""
    bases = [base_name(j) for j in journeys]
    names = []
    for journey, base in zip(journeys, bases, strict=True):
        if bases.count(base) == 1:
            names.append(base)
        else:
            names.append(f"{base}_{_suffix(journey, 6)}")
    if len(set(names)) < len(names):  # two signatures' hashes met in 6 digits: use more
        names = [n if bases.count(b) == 1 else f"{b}_{_suffix(j, 16)}"
                 for n, b, j in zip(names, bases, journeys, strict=True)]  # fmt: skip
    return names
