"""Splitting a seeded suite for a CI matrix: `--shard I/N` runs the I-th of N parts. A test's part
is a hash of its name (which never carries a rank; the `test_j3_` of suites seeded before names.py
is left out), so seeding a new journey moves no other test."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

_RANK = re.compile(r"^test_j\d+_")
_SPEC = re.compile(r"\s*(\d+)\s*/\s*(\d+)\s*")


@dataclass(frozen=True)
class Shard:
    number: int  # 1-based
    count: int

    def takes(self, test_name: str) -> bool:
        return shard_of(test_name, self.count) == self.number


def parse_shard(spec: str) -> Shard:
    """`I/N` with 1 <= I <= N; a ValueError says what was wrong."""
    found = _SPEC.fullmatch(spec)
    if found is None:
        raise ValueError(f"expected I/N, such as 1/4, got {spec!r}")
    number, count = int(found[1]), int(found[2])
    if not 1 <= number <= count:
        raise ValueError(f"the shard must be between 1 and {count}, got {spec!r}")
    return Shard(number, count)


def shard_of(test_name: str, count: int) -> int:
    """The part (1-based) of `count` a test belongs to, the same on every machine and run."""
    key = _RANK.sub("test_", test_name)
    digest = hashlib.sha256(key.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % count + 1
