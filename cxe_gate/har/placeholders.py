"""Placeholders shards agree on: a partial map names each scrubbed value by a keyed digest
(`${CXE_SECRET_EMAIL_KOPC...}`), never by the value, so a merge tells one secret met in two shards
from two different secrets; the merge then numbers them `_1`, `_2`, ... as one run would have."""

from __future__ import annotations

import hashlib
import hmac
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

from .scrub import PLACEHOLDER, Scrubber, ScrubRules

_PREFIX = "${CXE_SECRET_"
# Digests are written in the letters A-P: the scrubber's patterns run over text that already holds
# placeholders, and cards and phones are digit runs, so a digit-free digest never looks like one.
_LETTERS = str.maketrans("0123456789abcdef", "ABCDEFGHIJKLMNOP")


class Digests:
    """HMAC-SHA256 under the run's key (128 bits kept): the same input gives the same digest in
    every shard written with the key, and without the key a digest cannot be checked against a
    guessed value. Without a key (`keyed` false) it is a plain digest, which a guess can test."""

    def __init__(self, key: bytes | None) -> None:
        self.keyed = bool(key)
        self._key = key or b""

    def of(self, *parts: str) -> str:
        data = "\0".join(parts).encode("utf-8", "surrogatepass")
        return hmac.new(self._key, data, hashlib.sha256).hexdigest()[:32].translate(_LETTERS)

    @property
    def check(self) -> str:
        """Tells partial maps written with the same key from others, and says nothing of the key."""
        return self.of("key-check")


class DigestScrubber(Scrubber):
    """A scrubber whose placeholders are digests of the value, listed in the order first met."""

    def __init__(self, rules: ScrubRules | None, digests: Digests) -> None:
        super().__init__(rules)
        self._digests = digests
        self._met: list[str] = []

    def new_placeholder(self, label: str, value: str) -> str:
        token = f"{_PREFIX}{label}_{self._digests.of('value', label, value)}}}"
        self._met.append(token)
        return token

    def take_met(self) -> list[str]:
        """The placeholders made since the last call, in the order their values were first met."""
        met, self._met = self._met, []
        return met


def numbered(tokens: Iterable[str]) -> dict[str, str]:
    """Digest placeholder → `${CXE_SECRET_<NAME>_<N>}`, numbered per name in the order given
    (a repeat keeps its first number): the numbering one run over the same values gives."""
    names: dict[str, str] = {}
    counts: Counter[str] = Counter()
    for token in tokens:
        if token not in names:
            label = token[len(_PREFIX) : -1].rpartition("_")[0]
            counts[label] += 1
            names[token] = f"{_PREFIX}{label}_{counts[label]}}}"
    return names


def renamed(value: Any, names: Mapping[str, str]) -> Any:
    """A recorded value (a string, or JSON) with its placeholders renamed."""
    if isinstance(value, str):
        return PLACEHOLDER.sub(lambda m: names.get(m.group(), m.group()), value)
    if isinstance(value, dict):
        return {k: renamed(v, names) for k, v in value.items()}
    if isinstance(value, list):
        return [renamed(v, names) for v in value]
    return value
