"""`cxe-gate schema`: the JSON Schema of cxe.yml with each provider's own settings (built-in or
plugin), checked with `jsonschema`, the reference validator, on files as an editor reads them."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match
from referencing import Registry, Resource
from third_party import install_provider

from cxe_gate.cli import main
from cxe_gate.loader import load
from cxe_gate.schema import SCHEMA_ID, gate_schema

ROOT = Path(__file__).resolve().parents[2]
CRITERIA = "criteria:\n  - {name: errors, metric: error_rate, max: 1%}\n"


class _EditorYaml(yaml.SafeLoader):
    """YAML 1.2 as editors read it (the YAML extension's default): a timestamp stays text and only
    true/false are booleans, so `on:` is a key, not True."""


_EditorYaml.yaml_implicit_resolvers = {
    first: [
        (tag, regexp)
        for tag, regexp in resolvers
        if tag not in ("tag:yaml.org,2002:timestamp", "tag:yaml.org,2002:bool")
    ]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_EditorYaml.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


def _validator(schema: dict[str, Any] | None = None) -> Draft202012Validator:
    schema = schema if schema is not None else gate_schema().schema
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def _errors(text: str, schema: dict[str, Any] | None = None) -> list[tuple[list[Any], str]]:
    data = yaml.load(text, _EditorYaml)
    return [(list(e.absolute_path), e.message) for e in _validator(schema).iter_errors(data)]


def _best(text: str) -> tuple[list[Any], str, str]:
    data = yaml.load(text, _EditorYaml)
    error = best_match(_validator().iter_errors(data))
    assert error is not None, "expected the file to be refused"
    return list(error.absolute_path), str(error.validator), error.message


# --- files that are right validate --------------------------------------------------------------


def test_the_example_shop_criteria_validate():
    assert _errors((ROOT / "examples/shop/cxe.yml").read_text()) == []


# Provider settings as the provider pages (docs/providers/) write them (prometheus' headers quoted:
# a `${VAR}` ending a flow mapping would close it early).
README_PROVIDERS = {
    "file": """\
        providers:
          warehouse_export:
            type: file
            events: exports/segment/
            preset: segment
            columns:
              events:
                session_id: "anonymousId || ':' || properties.session_id"
                country: "context.location.country"
        """,
    "prometheus": """\
        providers:
          prom:
            type: prometheus
            url: https://prometheus.example.com
            token: ${PROMETHEUS_TOKEN}
            headers: {X-Scope-OrgID: "${TENANT}"}
            selector: 'job="shop"'
            requests_counter: http_requests_total
            duration_histogram: http_request_duration_seconds
            status_label: code
            error_status: "5.."
        """,
    "datadog": """\
        providers:
          apm:
            type: datadog
            site: datadoghq.eu
            api_key: ${DD_API_KEY}
            app_key: ${DD_APP_KEY}
            service: checkout
            env: prod
            operation: http.request
            apdex_t: 500ms
        """,
    "sql": """\
        providers:
          warehouse:
            type: sql
            url: postgresql+psycopg://gate@db.internal:5432/analytics
            password: ${WAREHOUSE_PASSWORD}
            timeout: 30s
            max_concurrency: 4
            requests: logs.requests
            events: analytics.events
            feedback: surveys.answers
            columns:
              requests: {ts: created_at, duration_ms: "latency_us / 1000.0"}
          ga4:
            type: sql
            url: bigquery://my-project/analytics_123456
            credentials: ${GOOGLE_APPLICATION_CREDENTIALS}
        """,
    "http": """\
        providers:
          delighted:
            type: http
            base_url: https://api.delighted.com/v1
            basic_auth: {username: "${DELIGHTED_API_KEY}"}
            time_format: epoch
          metrics:
            type: http
            base_url: https://metrics.internal.example.com
            headers: {Authorization: "Bearer ${METRICS_TOKEN}", Accept: application/json}
            params: {tenant: shop}
            no_data_statuses: [404]
        criteria:
          - name: NPS
            provider: delighted
            metric: feedback
            scale: nps
            max_drop: 10
            query:
              path: /metrics.json
              params: {since: "${start}", until: "${end}"}
              promoters: $.promoter_count
              passives: $.passive_count
              detractors: $.detractor_count
        """,
}


@pytest.mark.parametrize("kind", sorted(README_PROVIDERS))
def test_readme_provider_settings_validate_and_load(kind, tmp_path):
    text = textwrap.dedent(README_PROVIDERS[kind])
    if "criteria:" not in text:
        provider = next(iter(yaml.safe_load(text)["providers"]))
        text += CRITERIA.replace("max: 1%}", f"max: 1%, provider: {provider}}}")
    assert _errors(text) == []
    # The schema is no stricter than the loader: the same file loads.
    (tmp_path / "cxe.yml").write_text(text)
    assert load(tmp_path / "cxe.yml").config.providers


# --- mistakes are refused where they are ---------------------------------------------------------

PROM = (
    """\
providers:
  prom:
    type: prometheus
    url: http://127.0.0.1:9090
    SETTING
"""
    + CRITERIA
)


def test_a_typo_in_a_provider_setting_is_refused_at_that_provider():
    path, keyword, message = _best(PROM.replace("SETTING", "tokne: ${PROMETHEUS_TOKEN}"))
    assert path == ["providers", "prom"]
    assert keyword == "additionalProperties"
    assert "'tokne' was unexpected" in message


def test_a_wrong_type_is_refused_at_its_key():
    path, keyword, message = _best(PROM.replace("SETTING", "retries: many"))
    assert path == ["providers", "prom", "retries"]
    assert keyword == "type"
    assert message == "'many' is not of type 'integer'"


def test_the_same_key_means_different_things_for_different_providers():
    # `events:` is a file provider's path, but no prometheus setting.
    path, keyword, message = _best(PROM.replace("SETTING", "events: data/events.parquet"))
    assert (path, keyword) == (["providers", "prom"], "additionalProperties")
    assert "'events' was unexpected" in message


def test_an_unknown_provider_type_is_refused_with_the_known_ones():
    text = "providers:\n  x: {type: prometheos}\n" + CRITERIA
    path, keyword, message = _best(text)
    assert (path, keyword) == (["providers", "x", "type"], "enum")
    assert "'prometheus'" in message and "'datadog'" in message


def test_a_secret_written_inline_is_refused_and_the_pattern_is_in_the_schema():
    schema = gate_schema().schema
    api_key = schema["$defs"]["provider-datadog"]["properties"]["api_key"]
    # secrets.py's rule, written out: ${ then a shell variable name then }.
    assert api_key["pattern"] == r"^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$"
    text = textwrap.dedent(README_PROVIDERS["datadog"]) + CRITERIA
    path, keyword, _ = _best(text.replace("${DD_API_KEY}", "abcdef0123456789"))
    assert (path, keyword) == (["providers", "apm", "api_key"], "pattern")


# --- plugins ------------------------------------------------------------------------------------

# Two plugins whose models share class names with each other and with http's nested BasicAuth.
PLUGIN = """
from pydantic import BaseModel
from cxe_gate.measurement import Measurement
from cxe_gate.providers import Provider, ProviderSettings


class BasicAuth(BaseModel):
    model_config = {{"extra": "forbid"}}
    realm: str


class Settings(ProviderSettings):
    {field}
    auth: BasicAuth | None = None


class ThisProvider(Provider):
    settings_model = Settings

    def measure(self, request, windows):
        return {{w.label: Measurement(0.0, 1, 0) for w in windows}}
"""


@pytest.fixture
def two_plugins(tmp_path, monkeypatch):
    site = tmp_path / "site-packages"
    for module, name, field in (
        ("acme_const", "acme-const", "errors: int"),
        ("acme_slash", "acme/metrics", "endpoint: str"),  # `/` must be escaped in a $ref
    ):
        install_provider(
            site,
            monkeypatch,
            module=module,
            source=PLUGIN.format(field=field),
            entry=f"{name} = {module}:ThisProvider",
        )


def test_plugin_providers_have_their_settings_in_the_schema(two_plugins):
    built = gate_schema()
    assert built.left_out == []
    defs = built.schema["$defs"]
    const = defs["provider-acme-const"]["properties"]
    assert const["type"] == {"const": "acme-const", "description": const["type"]["description"]}
    assert "errors" in const and "endpoint" not in const
    assert "endpoint" in defs["provider-acme/metrics"]["properties"]
    # Each nested BasicAuth keeps its own fields under its own name.
    auths = [d for name, d in defs.items() if "BasicAuth" in name]
    # http's, and one per plugin module (two classes, though alike).
    assert sorted(sorted(a["properties"]) for a in auths) == [
        ["password", "username"],
        ["realm"],
        ["realm"],
    ]
    text = """\
providers:
  a: {type: acme-const, errors: 3, auth: {realm: shop}}
  b: {type: acme/metrics, endpoint: x, auth: {realm: shop}}
  h: {type: http, base_url: http://127.0.0.1, basic_auth: {username: "${U}"}}
criteria:
  - {name: errors, metric: error_rate, max: 1%, provider: a}
"""
    assert _errors(text, built.schema) == []
    assert _errors(text.replace("errors: 3", "errors: lots"), built.schema) == [
        (["providers", "a", "errors"], "'lots' is not of type 'integer'")
    ]
    assert _errors(text.replace("endpoint: x,", ""), built.schema) == [
        (["providers", "b"], "'endpoint' is a required property")
    ]
    # http's BasicAuth does not take the plugins' realm (basic_auth may be null: an anyOf).
    wrong = yaml.load(text.replace('{username: "${U}"}', "{realm: shop}"), _EditorYaml)
    (error,) = _validator(built.schema).iter_errors(wrong)
    assert list(error.absolute_path) == ["providers", "h", "basic_auth"]
    assert {e.message for e in error.context or []} >= {
        "'username' is a required property",
        "Additional properties are not allowed ('realm' was unexpected)",
    }


def test_every_ref_points_at_a_definition(two_plugins):
    schema = gate_schema().schema
    resolver = Registry().with_resource(SCHEMA_ID, Resource.from_contents(schema))
    lookup = resolver.resolver(base_uri=SCHEMA_ID)
    refs = set(re.findall(r'"\$ref": "([^"]+)"', json.dumps(schema)))
    assert "#/$defs/provider-acme~1metrics" in refs
    for ref in refs:
        assert isinstance(lookup.lookup(ref).contents, dict), ref
    # Nothing unreachable is left: the loose ProviderSpec is gone.
    assert "ProviderSpec" not in schema["$defs"]


def test_a_plugin_that_cannot_be_imported_is_left_out_with_a_note(tmp_path, monkeypatch):
    install_provider(
        tmp_path / "site-packages",
        monkeypatch,
        module="acme_broken",
        source="raise ImportError('needs acme-sdk')\n",
        entry="acme-broken = acme_broken:Provider",
    )
    result = CliRunner().invoke(main, ["schema", "-o", str(tmp_path / "cxe.schema.json")])
    assert result.exit_code == 0, result.output
    assert (
        "provider 'acme-broken' is left out of the schema: cannot be imported: "
        "ImportError: needs acme-sdk" in result.output
    )
    schema = json.loads((tmp_path / "cxe.schema.json").read_text())
    kinds = schema["properties"]["providers"]["additionalProperties"]["properties"]["type"]["enum"]
    assert "acme-broken" not in kinds and "prometheus" in kinds


# --- the command --------------------------------------------------------------------------------


def test_the_schema_names_its_dialect_and_id_and_is_written_with_o(tmp_path):
    runner = CliRunner()
    printed = runner.invoke(main, ["schema"])
    assert printed.exit_code == 0
    schema = json.loads(printed.output)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"] == "https://cxe-gate.dev/schema/v1/cxe.schema.json"
    assert schema["title"] == "cxe-gate success criteria"
    assert "providers" in schema["description"]

    out = tmp_path / "cxe.schema.json"
    written = runner.invoke(main, ["schema", "-o", str(out), "--id", "https://example.com/s.json"])
    assert written.exit_code == 0 and written.output == f"wrote {out}\n"
    assert json.loads(out.read_text())["$id"] == "https://example.com/s.json"

    refused = runner.invoke(main, ["schema", "--id", "cxe.schema.json"])
    assert refused.exit_code == 2
    assert "--id: expected an absolute URL without #fragment" in refused.output


def test_the_schema_is_the_same_bytes_every_time(tmp_path):
    # Separate processes with different hash seeds: no set or dict order may leak into the file.
    script = Path(sys.executable).parent / "cxe-gate"
    outputs = []
    for seed in ("1", "2"):
        out = tmp_path / f"{seed}.json"
        env = {**os.environ, "PYTHONHASHSEED": seed}
        subprocess.run([script, "schema", "-o", out], check=True, env=env, capture_output=True)
        outputs.append(out.read_bytes())
    assert outputs[0] == outputs[1]
    # (Not compared with this process's schema: other tests in it register providers of their own.)
    assert json.loads(outputs[0])["$id"] == "https://cxe-gate.dev/schema/v1/cxe.schema.json"
