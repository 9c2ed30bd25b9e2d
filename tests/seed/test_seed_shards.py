"""Seeded suites split for a CI matrix: `--shard I/N` runs each test in exactly one of N parts, the
part a hash of the test's name (which carries no rank), so seeding a new journey moves no other test."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from har_producers import chrome, visit, write

from cxe_gate.har.pipeline import build_journey_map
from cxe_gate.seed.codegen import SeedOptions, generate
from cxe_gate.seed.shards import Shard, parse_shard, shard_of
from cxe_gate.seed.write import write_suite

START = datetime(2024, 5, 1, 10, 0, tzinfo=UTC)
# The part of har_producers.visit each session recorded: five kinds of journey, and a sixth.
KINDS = ((0, 1), (0, 7), (0, 9), (0, 10), (0, 12))
NEW = (9, 12)  # straight to the checkout


def test_a_shard_is_written_i_of_n():
    assert parse_shard("2/4") == Shard(2, 4)
    assert parse_shard(" 1 / 1 ") == Shard(1, 1)
    for bad, said in [("0/4", "between 1 and 4"), ("5/4", "between 1 and 4"), ("2", "I/N"),
                      ("a/b", "I/N"), ("1/0", "between 1 and 0")]:  # fmt: skip
        with pytest.raises(ValueError, match=said):
            parse_shard(bad)


def test_a_tests_part_is_a_hash_of_its_name_without_the_rank():
    # Pinned: a suite split on one machine is split the same way on every other, in every run.
    assert [shard_of("test_j1_home_products", n) for n in (2, 3, 4)] == [2, 3, 4]
    assert shard_of("test_j1_home_products", 4) == shard_of("test_j9_home_products", 4)
    # Suites seeded before names had no rank split as they do now.
    assert shard_of("test_home_products", 4) == shard_of("test_j1_home_products", 4)
    names = [f"test_j{i}_journey_{i}" for i in range(1, 200)]
    for count in (1, 2, 3, 5):
        parts = [[n for n in names if Shard(i, count).takes(n)] for i in range(1, count + 1)]
        assert sorted(n for part in parts for n in part) == sorted(names)  # each once
        assert all(len(p) > len(names) / count / 2 for p in parts)  # and roughly even


def _suite(directory: Path, hars: Path) -> Path:
    files = generate(build_journey_map([hars]), SeedOptions(mode="api"))
    write_suite(directory, files)
    return directory


def _hars(directory: Path, kinds: dict[tuple[int, int], int]) -> Path:
    """`count` sessions for each kind of journey (the part of the visit recorded)."""
    directory.mkdir()
    number = 0
    for (first, last), count in kinds.items():
        for _ in range(count):
            number += 1
            reqs = visit(order_id=f"{number:020x}")[first:last]
            write(directory / f"s{number:02d}.har", chrome(reqs, START + timedelta(hours=number)))
    return directory


def _collect(suite: Path, *options: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    done = subprocess.run(
        [sys.executable, "-m", "pytest", str(suite), "--collect-only", "-q", "-p",
         "no:cacheprovider", "-p", "no:xdist", "--rootdir", str(suite), *options],
        env={**os.environ, **(env or {})}, capture_output=True, text=True, timeout=120,
        check=False,
    )  # fmt: skip
    return done.returncode, done.stdout + done.stderr


def _tests(output: str) -> set[str]:
    return set(re.findall(r"::(test_\w+)", output))


@pytest.fixture(scope="module")
def suites(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("shards")
    before = _hars(root / "before", dict.fromkeys(KINDS, 1) | {(0, 12): 2})
    after = _hars(root / "after", dict.fromkeys(KINDS, 1) | {(0, 12): 2, NEW: 4})  # the heaviest
    return {
        "before": _suite(root / "suite-before", before),
        "after": _suite(root / "suite-after", after),
    }


def test_every_test_runs_in_exactly_one_part(suites):
    code, output = _collect(suites["before"])
    assert code == 0, output
    everything = _tests(output)
    assert len(everything) == len(KINDS)
    parts = []
    for i in (1, 2, 3):
        code, output = _collect(suites["before"], "--shard", f"{i}/3")
        assert code == 0, output
        parts.append(_tests(output))
    assert set().union(*parts) == everything
    assert sum(len(p) for p in parts) == len(everything)


def test_seeding_a_new_journey_moves_no_other_test(suites):
    def parts(suite: Path) -> dict[str, int]:
        found = {}
        for i in (1, 2, 3):
            for name in _tests(_collect(suite, "--shard", f"{i}/3")[1]):
                found[name] = i
        return found

    before, after = parts(suites["before"]), parts(suites["after"])
    # The new sessions are the heaviest journey now, and bring two (their order ids template as
    # {id} in some, {hash} in others): every test seeded before keeps its name and its part.
    assert len(after) == len(before) + 2
    assert {name: after[name] for name in before} == before
    assert not any(re.match(r"test_j\d+_", name) for name in after)


def test_the_part_can_come_from_the_environment_and_a_bad_one_is_named(suites):
    by_option = _tests(_collect(suites["before"], "--shard", "2/3")[1])
    by_env = _tests(_collect(suites["before"], env={"CXE_SEEDED_SHARD": "2/3"})[1])
    assert by_env == by_option
    code, output = _collect(suites["before"], "--shard", "4/3")
    assert code == 4
    assert "--shard: the shard must be between 1 and 3, got '4/3'" in output


def test_a_part_the_hash_left_empty_passes(suites, tmp_path):
    names = _tests(_collect(suites["before"])[1])
    empty = next(i for i in range(1, 41) if all(shard_of(n, 40) != i for n in names))
    for parallel in ((), ("-n", "2")):
        done = subprocess.run(
            [sys.executable, "-m", "pytest", str(suites["before"]), "-q", "-p", "no:cacheprovider",
             "--rootdir", str(suites["before"]), "--base-url", "http://127.0.0.1:9",
             "--shard", f"{empty}/40", *parallel],
            capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        assert done.returncode == 0, done.stdout + done.stderr
        assert "no tests ran" in done.stdout or "deselected" in done.stdout, done.stdout
