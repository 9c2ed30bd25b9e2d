"""cxe.yml validation: every mistake, with its file and line and what was expected."""

from __future__ import annotations

import textwrap
from datetime import timedelta

import pytest
from pydantic import TypeAdapter, ValidationError

from cxe_gate.config import Criterion, CustomCriterion, GateConfig, Secret
from cxe_gate.errors import ConfigError
from cxe_gate.gate import evaluate
from cxe_gate.loader import load
from cxe_gate.measurement import Measurement, Unit
from cxe_gate.providers import Provider, ProviderSettings, register
from cxe_gate.results import Verdict

VALID = """\
release:
  name: v1
  deployed_at: 2026-11-10T14:00:00Z
windows:
  baseline: 24h
  release: {start: 10m, end: 2h}
providers:
  local: {type: file, events: events.ndjson}
journeys:
  checkout: [view_product, add_to_cart, purchase]
criteria:
  - name: checkout conversion
    metric: conversion
    journey: checkout
    max_drop: 5%
"""


def write(tmp_path, text):
    path = tmp_path / "cxe.yml"
    path.write_text(textwrap.dedent(text))
    return path


def problems(tmp_path, text):
    with pytest.raises(ConfigError) as caught:
        load(write(tmp_path, text))
    return str(caught.value).splitlines()


def test_a_valid_file_loads_with_its_durations_and_shorthands(tmp_path):
    loaded = load(write(tmp_path, VALID))
    config = loaded.config
    assert config.windows.baseline.start == timedelta(hours=-24)
    assert config.windows.release.start == timedelta(minutes=10)
    assert config.journeys["checkout"].steps == ["view_product", "add_to_cart", "purchase"]
    assert config.criteria[0].max_drop.relative
    assert config.release.deployed_at.isoformat() == "2026-11-10T14:00:00+00:00"


def test_command_line_overrides_the_release(tmp_path):
    loaded = load(write(tmp_path, VALID), release="v2", deployed_at="2026-11-17T14:00:00Z")
    assert loaded.config.release.name == "v2"
    assert loaded.config.release.deployed_at.isoformat() == "2026-11-17T14:00:00+00:00"


MORE = (
    VALID
    + """\
  - name: errors
    metric: error_rate
    provider: datadog
    max: lots
  - name: signups
    metric: conversion
    journey: signup
    max_drop: 5%
"""
)


def test_every_mistake_is_reported_with_its_line(tmp_path):
    lines = problems(tmp_path, MORE.replace("    max_drop: 5%\n", "    mx_drop: 5%\n", 1))
    path = tmp_path / "cxe.yml"
    assert (
        f"{path}:15: criteria[0].mx_drop: unknown key 'mx_drop'; did you mean 'max_drop'?" in lines
    )
    assert any(
        line.startswith(f"{path}:19: criteria[1].max: expected a number") for line in lines
    ), lines
    # the model's own mistakes come first; references are checked once the model is valid
    assert len(lines) == 2


def test_references_to_undeclared_providers_and_journeys(tmp_path):
    lines = problems(tmp_path, MORE.replace("max: lots", "max: 1%"))
    path = tmp_path / "cxe.yml"
    assert (
        f"{path}:18: criteria[1].provider: provider 'datadog' is not declared under providers "
        "(declared: local)"
    ) in lines
    assert (
        f"{path}:22: criteria[2].journey: journey 'signup' is not declared under journeys "
        "(declared: checkout)"
    ) in lines


def test_unknown_metric_and_missing_fields(tmp_path):
    text = VALID.replace("metric: conversion", "metric: conversions")
    lines = problems(tmp_path, text)
    assert any(":13: criteria[0].metric: unknown metric 'conversions'" in line for line in lines), (
        lines
    )
    text = VALID.replace("    journey: checkout\n", "")
    lines = problems(tmp_path, text)
    assert any(":12: criteria[0].journey: required, but not given" in line for line in lines), lines


def test_per_user_engagement_over_unequal_windows_is_refused(tmp_path):
    criterion = "  - {name: users, metric: engagement, measure: active_users, max_drop: 10%}\n"
    lines = problems(tmp_path, VALID + criterion)
    assert any(
        ":16: criteria[1]: active_users per user compares only over windows of equal length" in line
        for line in lines
    ), lines
    equal = VALID.replace("baseline: 24h", "baseline: {start: -7d, end: -166h10m}") + criterion
    assert load(write(tmp_path, equal)).config.criteria[1].measure == "active_users"


def test_a_criterion_needs_a_comparison(tmp_path):
    lines = problems(tmp_path, VALID.replace("    max_drop: 5%\n", ""))
    assert any("give at least one comparison" in line for line in lines), lines


def test_overlapping_windows_are_refused(tmp_path):
    lines = problems(tmp_path, VALID.replace("baseline: 24h", "baseline: {start: -1h, end: 30m}"))
    assert any(":4: windows:" in line and "overlap" in line for line in lines), lines


def test_provider_settings_are_checked_by_the_provider(tmp_path):
    lines = problems(tmp_path, VALID.replace("events: events.ndjson", "evnts: events.ndjson"))
    assert any(
        ":8: providers.local.evnts: unknown key 'evnts'; did you mean 'events'?" in line
        for line in lines
    ), lines
    lines = problems(tmp_path, VALID.replace("type: file", "type: graphite"))
    # Other tests may register providers of their own; the built-ins are always offered.
    assert any(
        "providers.local.type: unknown provider 'graphite'; available: amplitude, " in line
        and ", file, " in line
        and ", prometheus, " in line
        for line in lines
    ), lines


def test_yaml_syntax_errors_and_duplicate_keys_name_the_line(tmp_path):
    lines = problems(
        tmp_path, VALID.replace("  release: {start: 10m, end: 2h}", "  release: [oops")
    )
    assert lines[0].startswith(f"{tmp_path / 'cxe.yml'}:") and "not valid YAML" in lines[0]
    lines = problems(
        tmp_path, VALID.replace("    max_drop: 5%\n", "    max_drop: 5%\n    max_drop: 6%\n")
    )
    assert any(":16: criteria[0].max_drop: this key is written twice" in line for line in lines), (
        lines
    )


def test_missing_and_empty_files(tmp_path):
    with pytest.raises(ConfigError, match="no such criteria file"):
        load(tmp_path / "absent.yml")
    assert "empty" in problems(tmp_path, "")[0]


def test_bad_deploy_time_override(tmp_path):
    with pytest.raises(ConfigError, match="--deployed-at: expected an ISO 8601 time"):
        load(write(tmp_path, VALID), deployed_at="yesterday")


class _VaultSettings(ProviderSettings):
    url: str
    api_key: Secret


class _VaultProvider(Provider):
    """A third-party provider: registered by name, with a secret in its settings."""

    settings_model = _VaultSettings

    def __init__(self, settings, context):
        super().__init__(settings, context)
        self.key = context.secret(settings.api_key, "api_key")

    def measure(self, request, windows):
        return {w.label: Measurement(value=0.01, samples=1000) for w in windows}


SECRET_CONFIG = """\
release: {deployed_at: 2026-11-10T14:00:00Z}
providers:
  vault:
    type: vault-test
    url: http://127.0.0.1:1
    api_key: API_KEY_VALUE
criteria:
  - {name: errors, metric: error_rate, max: 1%}
"""


def test_secrets_must_be_environment_references_and_are_never_echoed(tmp_path):
    register("vault-test", _VaultProvider)
    lines = problems(tmp_path, SECRET_CONFIG.replace("API_KEY_VALUE", "sk-live-1234567890"))
    assert any(
        ":6: providers.vault.api_key: secrets must be written as an environment variable "
        "reference" in line
        for line in lines
    ), lines
    assert "sk-live-1234567890" not in "\n".join(lines)
    loaded = load(write(tmp_path, SECRET_CONFIG.replace("API_KEY_VALUE", "${CXE_TEST_VAULT_KEY}")))
    assert loaded.provider_settings["vault"].api_key.variable == "CXE_TEST_VAULT_KEY"


def test_a_missing_secret_variable_is_named_and_only_that_provider_errors(tmp_path, monkeypatch):
    register("vault-test", _VaultProvider)
    monkeypatch.delenv("CXE_TEST_VAULT_KEY", raising=False)
    loaded = load(write(tmp_path, SECRET_CONFIG.replace("API_KEY_VALUE", "${CXE_TEST_VAULT_KEY}")))
    report = evaluate(loaded)
    assert report.verdict == Verdict.ERROR
    assert "environment variable CXE_TEST_VAULT_KEY is not set" in report.criteria[0].message
    monkeypatch.setenv("CXE_TEST_VAULT_KEY", "sk-live-1234567890")
    report = evaluate(
        load(write(tmp_path, SECRET_CONFIG.replace("API_KEY_VALUE", "${CXE_TEST_VAULT_KEY}")))
    )
    assert report.verdict == Verdict.PASS
    assert "sk-live-1234567890" not in report.model_dump_json()


def test_json_schema_describes_the_file():
    schema = GateConfig.model_json_schema()
    assert set(schema["required"]) == {"providers", "criteria"}
    metrics = {
        ref.split("/")[-1]
        for ref in (m["$ref"] for m in schema["properties"]["criteria"]["items"]["oneOf"])
    }
    assert "ConversionCriterion" in metrics and "ApdexCriterion" in metrics
    assert schema["$defs"]["JourneySpec"]["additionalProperties"] is False


CRITERIA = TypeAdapter(Criterion)


@pytest.mark.parametrize(
    ("fields", "samples", "unit"),
    [
        ({"metric": "conversion", "journey": "checkout", "max_drop": "5%"}, "units", Unit.RATIO),
        ({"metric": "error_rate", "max": "1%"}, "requests", Unit.RATIO),
        ({"metric": "apdex", "t": "500ms", "min": 0.9}, "requests", Unit.SCORE),
        ({"metric": "latency", "max": "800ms"}, "requests", Unit.MILLISECONDS),
        ({"metric": "feedback", "scale": "nps", "min": 10}, "responses", Unit.POINTS),
        ({"metric": "feedback", "scale": "csat", "min": "80%"}, "responses", Unit.RATIO),
        ({"metric": "engagement", "measure": "active_users", "min": 10}, "users", "users"),
        (
            {"metric": "engagement", "measure": "events_per_session", "min": 1},
            "sessions",
            "per session",
        ),
        ({"metric": "engagement", "measure": "events_per_user", "min": 1}, "users", Unit.PER_USER),
        (
            {"metric": "engagement", "measure": "adoption", "event": "e", "min": "5%"},
            "sessions",
            Unit.RATIO,
        ),
        ({"metric": "custom", "query": "SELECT 1 AS value", "max": 5}, "samples", Unit.NUMBER),
        ({"metric": "journeys_pass_rate", "min": "90%"}, "tests", Unit.NUMBER),
    ],
)
def test_every_criterion_says_what_it_counts_and_the_unit_it_reads_in(fields, samples, unit):
    criterion = CRITERIA.validate_python({"name": "c", **fields})
    assert criterion.metric == fields["metric"]
    assert criterion.samples_word == samples
    assert criterion.default_unit() == unit


def test_a_custom_criterion_keeps_unit_as_its_key_for_the_value_suffix():
    fields = {"name": "queue", "metric": "custom", "query": "q", "max": 5, "unit": "jobs"}
    criterion = CRITERIA.validate_python(fields)
    assert isinstance(criterion, CustomCriterion)
    assert criterion.suffix == "jobs" and criterion.default_unit() == "jobs"
    # A dump is written as cxe.yml is, and validates again.
    dumped = criterion.model_dump(exclude_unset=True)
    assert dumped["unit"] == "jobs" and "suffix" not in dumped
    assert CRITERIA.validate_python(dumped) == criterion
    schema = GateConfig.model_json_schema()["$defs"]["CustomCriterion"]["properties"]
    assert "unit" in schema and "suffix" not in schema
    with pytest.raises(ValidationError, match="suffix"):
        CRITERIA.validate_python({**fields, "suffix": "jobs"})
