"""The docs site as CI builds it: `mkdocs build --strict` succeeds, and the generated reference
pages list every command, criterion kind, provider and provider setting the code has."""

from __future__ import annotations

import html
import re
import shutil
import subprocess
import sys
import typing
from pathlib import Path

import click
import pytest

from cxe_gate.cli import main as cli_group
from cxe_gate.config.criteria import Criterion
from cxe_gate.providers.registry import provider_class

ROOT = Path(__file__).parents[2]


def build(config: Path, site: Path) -> subprocess.CompletedProcess[str]:
    # A missing mkdocs (or theme) fails here with its own message: never a skip.
    return subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-f", str(config), "-d", str(site)],
        check=False,  # the exit code is what the test checks
        capture_output=True,
        text=True,
        timeout=300,
        env={"NO_MKDOCS_2_WARNING": "1", "PATH": str(Path(sys.executable).parent)},
    )


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("site")
    built = build(ROOT / "mkdocs.yml", out)
    assert built.returncode == 0, built.stderr
    return out


def text_of(site: Path, page: str) -> str:
    """A built page's visible text: tags dropped, entities decoded."""
    raw = (site / page / "index.html").read_text()
    return html.unescape(re.sub(r"<[^>]+>", "", raw))


def test_the_cli_reference_shows_every_commands_help(site: Path) -> None:
    page = (site / "reference/cli/index.html").read_text()
    text = text_of(site, "reference/cli")
    names = sorted(cli_group.commands)
    # The commands cxe_gate/cli/__init__.py adds, written out: a new one must reach the page too.
    assert {"evaluate", "validate", "plan", "schema", "queries", "journeys", "seed", "init"} <= set(
        names
    )
    for name in names:
        assert f'id="cxe-gate-{name}"' in page, name
        assert f"Usage: cxe-gate {name} [OPTIONS]" in text, name
        command = cli_group.commands[name]
        for param in command.params:
            if isinstance(param, click.Option) and not param.hidden:
                assert param.opts[-1] in text, f"{name} {param.opts}"


def test_the_config_reference_lists_every_criterion_kind(site: Path) -> None:
    text = text_of(site, "reference/config")
    kinds = [
        typing.get_args(model.model_fields["metric"].annotation)[0]
        for model in typing.get_args(typing.get_args(Criterion)[0])
    ]
    assert "conversion" in kinds and "latency" in kinds  # the union is what we think it is
    for kind in kinds:
        assert f"metric: {kind}" in text, kind


def test_the_config_reference_lists_every_provider_and_its_settings(site: Path) -> None:
    text = text_of(site, "reference/config")
    # The providers a fresh process has (built in and entry points), as `mkdocs build` sees them:
    # tests in this worker may have registered stand-ins of their own.
    listed = subprocess.run(
        [sys.executable, "-c", "from cxe_gate.providers.registry import available; "
         "print(' '.join(available()))"],
        capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    providers = listed
    assert len(providers) >= 11  # the built-in ones: file … sql, in providers/registry.py
    for name in providers:
        assert f"type: {name}" in text, name
        provider = provider_class(name)
        assert provider is not None
        for field_name, field in provider.settings_model.model_fields.items():
            key = field.validation_alias if isinstance(field.validation_alias, str) else None
            assert (key or field.alias or field_name) in text, f"{name}.{field_name}"


def test_each_built_in_provider_has_a_page_with_its_settings(site: Path) -> None:
    built_in = "file prometheus datadog newrelic dynatrace sentry ga4 amplitude mixpanel http sql"
    for name in built_in.split():
        text = text_of(site, f"providers/{name}")
        assert "Settings" in text and "Generated from the provider's settings model" in text, name


def test_the_exit_codes_page_gives_each_code_its_verdicts(site: Path) -> None:
    text = " ".join(text_of(site, "reference/exit-codes").split())
    # From the gate's contract (README, exit codes): pass/warn 0, fail 1, usage 2, inconclusive 3,
    # error 4; a warning exits 1 under --fail-on warn.
    assert "0 pass, warn" in text
    assert "1 fail, warn with --fail-on warn" in text
    assert "2 — a usage or configuration error" in text
    assert "3 inconclusive" in text
    assert "4 error" in text


def test_a_broken_link_fails_the_strict_build(tmp_path: Path) -> None:
    """The build is really strict: a page linking to a page that does not exist stops it."""
    shutil.copytree(ROOT / "docs", tmp_path / "docs")
    shutil.copy(ROOT / "mkdocs.yml", tmp_path / "mkdocs.yml")
    usage = tmp_path / "docs" / "usage.md"
    usage.write_text(usage.read_text() + "\nSee [nowhere](no-such-page.md).\n")
    built = build(tmp_path / "mkdocs.yml", tmp_path / "site")
    assert built.returncode != 0
    assert "no-such-page.md" in built.stderr


def test_no_page_mentions_the_projects_issue_numbers() -> None:
    for page in sorted((ROOT / "docs").rglob("*.md")):
        found = re.search(r"\bissues?\s*#?\d+", page.read_text(), re.IGNORECASE)
        assert found is None, f"{page.relative_to(ROOT)}: {found[0] if found else ''}"
