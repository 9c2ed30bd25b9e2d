"""Fixtures of the provider tests: the stage a provider contract case runs on."""

from __future__ import annotations

import pytest
from contract_stand import Gap, Stage, Stand
from pytest_httpserver import HTTPServer


@pytest.fixture
def stage(
    request: pytest.FixtureRequest,
    stand: Stand,
    api_server: HTTPServer,
    tmp_path,
    monkeypatch: pytest.MonkeyPatch,
) -> Stage:
    """Where `stand`'s case runs: the loopback server, a directory for the criteria file and local
    data, the real server the stand needs (started by its fixture, never skipped), and the stand's
    credentials in the environment."""
    postgres = request.getfixturevalue(stand.server) if stand.server else None
    stage = Stage(api_server, tmp_path, postgres)
    if not isinstance(stand.credentials, Gap):
        for variable, value in stand.credentials(stage).items():
            monkeypatch.setenv(variable, value)
    return stage
