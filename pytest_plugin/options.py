"""The plugin's command-line and ini options, read once into `GateOptions`."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import pytest

Policy = Literal["fail", "skip"]


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("cxe-gate", "cxe-gate release gate")
    group.addoption(
        "--cxe-config",
        metavar="PATH",
        help="judge the release against this criteria file: each criterion becomes a test item "
        "(ini: cxe_config). Without it the plugin does nothing.",
    )
    group.addoption("--cxe-release", metavar="NAME", help="release name (overrides release.name)")
    group.addoption(
        "--cxe-deployed-at",
        metavar="TIME",
        help="deploy time, ISO 8601 (overrides release.deployed_at)",
    )
    group.addoption(
        "--cxe-checkpoint",
        metavar="NAME",
        help="judge the criteria of this checkpoint (names under checkpoints:; default the first)",
    )
    group.addoption(
        "--cxe-inconclusive",
        choices=("fail", "skip"),
        default="fail",
        help="what an inconclusive or error criterion does to its item (default: fail)",
    )
    group.addoption(
        "--cxe-journeys",
        action="append",
        default=[],
        metavar="PATH",
        help="tests under PATH are journey tests, as if marked cxe_journey; repeatable "
        "(ini: cxe_journeys)",
    )
    parser.addini("cxe_config", "the criteria file (as --cxe-config)", type="paths", default=[])
    parser.addini(
        "cxe_journeys", "paths of journey tests (as --cxe-journeys)", type="paths", default=[]
    )


@dataclass(frozen=True)
class GateOptions:
    config_path: Path
    release: str | None
    deployed_at: str | None
    checkpoint: str | None
    inconclusive: Policy
    journey_paths: tuple[Path, ...]

    @classmethod
    def read(cls, config: pytest.Config) -> GateOptions | None:
        """The options, or None when no criteria file was asked for (the plugin stays out)."""
        here = config.invocation_params.dir
        given = config.getoption("cxe_config")
        if given:
            path = here / given
        else:
            from_ini: list[Path] = config.getini("cxe_config")
            if not from_ini:
                return None
            if len(from_ini) > 1:
                raise pytest.UsageError("cxe_config: give one criteria file")
            path = from_ini[0]
        journeys = [here / p for p in config.getoption("cxe_journeys")]
        journeys += config.getini("cxe_journeys")
        return cls(
            config_path=path.resolve(),
            release=config.getoption("cxe_release"),
            deployed_at=config.getoption("cxe_deployed_at"),
            checkpoint=config.getoption("cxe_checkpoint"),
            inconclusive=config.getoption("cxe_inconclusive"),
            journey_paths=tuple(p.resolve() for p in journeys),
        )

    def is_journey(self, path: Path) -> bool:
        return any(path == p or p in path.parents for p in self.journey_paths)
