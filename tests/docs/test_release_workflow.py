"""The release workflow example (examples/workflows/release.yml): built on a version tag, the
version checked against the tag, published by trusted publishing with nothing but an OIDC token.
(tests/integrations/test_action.py checks that its actions are pinned by commit, as for every
example workflow.)"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).parents[2]
WORKFLOW = ROOT / "examples" / "workflows" / "release.yml"
# pypa/gh-action-pypi-publish's tag v1.8.14, read from the action's own repository.
PYPI_PUBLISH = "pypa/gh-action-pypi-publish@81e9d935c883d0b210363ab89cf05f3894778450"


def workflow() -> dict[Any, Any]:
    loaded = yaml.safe_load(WORKFLOW.read_text())
    assert isinstance(loaded, dict)
    return loaded


def steps(job: str) -> list[dict[str, Any]]:
    found = workflow()["jobs"][job]["steps"]
    assert isinstance(found, list)
    return found


def test_it_runs_on_version_tags_only() -> None:
    # PyYAML reads the key `on` as True (YAML 1.1); GitHub reads it as "on".
    assert workflow()[True] == {"push": {"tags": ["v*"]}}


def test_the_build_sees_the_tags_and_builds_with_build() -> None:
    build = steps("build")
    checkout = build[0]
    assert checkout["uses"].startswith("actions/checkout@")
    assert checkout["with"]["fetch-depth"] == 0  # setuptools-scm needs the tag in the history
    runs = [step.get("run", "") for step in build]
    assert any(run.strip().startswith("python -m build") for run in runs)
    upload = [step for step in build if step.get("uses", "").startswith("actions/upload-artifact@")]
    assert upload and upload[0]["with"]["path"] == "dist/"


def test_publishing_is_trusted_publishing_with_the_least_permissions() -> None:
    loaded = workflow()
    assert loaded["permissions"] == {"contents": "read"}
    publish = loaded["jobs"]["publish"]
    assert publish["needs"] == "build"
    assert publish["permissions"] == {"id-token": "write"}
    assert publish["environment"]["name"] == "pypi"
    (last,) = [step for step in publish["steps"] if "pypa/" in step.get("uses", "")]
    assert last["uses"] == PYPI_PUBLISH
    assert "with" not in last  # no password: the OIDC token is the credential
    assert "secrets." not in WORKFLOW.read_text()


def _version_check() -> str:
    (step,) = [step for step in steps("build") if step.get("name") == "The version is the tag's"]
    script = step["run"]
    assert isinstance(script, str)
    return script


@pytest.mark.parametrize(
    ("tag", "built", "passes"),
    [
        ("v1.2.0", "1.2.0", True),
        # A tag on another commit: setuptools-scm builds 1.2.1.devN+g<sha>, which must not ship.
        ("v1.2.0", "1.2.1.dev3+gabc1234", False),
    ],
)
def test_the_version_check_refuses_a_build_that_is_not_the_tags(
    tmp_path: Path, tag: str, built: str, passes: bool
) -> None:
    dist = tmp_path / "dist"
    dist.mkdir()
    (dist / f"cxe_gate-{built}.tar.gz").write_bytes(b"")
    (dist / f"cxe_gate-{built}-py3-none-any.whl").write_bytes(b"")
    done = subprocess.run(
        ["bash", "-e", "-c", _version_check()],
        cwd=tmp_path,
        env={"TAG": tag, "PATH": "/usr/bin:/bin"},
        check=False,  # the exit code is what the test checks
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert (done.returncode == 0) is passes, done.stdout + done.stderr
    if not passes:
        assert "::error::the built version is not 1.2.0" in done.stdout
