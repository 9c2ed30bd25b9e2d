"""A third party adds a provider by installing a package with a `cxe_gate.providers` entry point: no
change to cxe-gate. The test installs such a package the way pip does (a module and a .dist-info
folder on sys.path) and runs the gate on it."""

from __future__ import annotations

import textwrap
from datetime import UTC, datetime

import pytest
from third_party import install_provider

from cxe_gate.errors import ConfigError
from cxe_gate.gate import evaluate
from cxe_gate.loader import load
from cxe_gate.providers import available
from cxe_gate.results import Verdict

PROVIDER = """
from cxe_gate.measurement import Measurement
from cxe_gate.providers import Provider, ProviderSettings


class ConstSettings(ProviderSettings):
    errors: int


class ConstProvider(Provider):
    settings_model = ConstSettings

    def measure(self, request, windows):
        return {
            w.label: Measurement(self.settings.errors / 1000, 1000, self.settings.errors)
            for w in windows
        }
"""


def test_a_provider_from_another_package_is_found_by_its_entry_point(tmp_path, monkeypatch):
    install_provider(
        tmp_path / "site-packages",
        monkeypatch,
        module="acme_const_provider",
        source=PROVIDER,
        entry="acme-const = acme_const_provider:ConstProvider",
    )
    assert "acme-const" in available()
    path = tmp_path / "cxe.yml"
    path.write_text(
        textwrap.dedent(
            """\
            release: {name: r1, deployed_at: 2026-11-23T10:00:00Z}
            providers:
              acme: {type: acme-const, errors: 3}
            criteria:
              - {name: errors, metric: error_rate, max: 1%, test: none}
            """
        )
    )
    report = evaluate(load(path), now=datetime(2026, 11, 23, 13, tzinfo=UTC))
    assert report.verdict is Verdict.PASS
    assert report.criteria[0].value == 0.003

    path.write_text(path.read_text().replace("errors: 3}", "errros: 3}"))
    # The third party's own settings model checks its keys, with the usual file:line message.
    with pytest.raises(
        ConfigError, match=r"providers\.acme\.errros: unknown key 'errros'; did you mean 'errors'\?"
    ):
        load(path)
