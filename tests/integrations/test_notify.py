"""`notify:` end to end: the CLI judges the tiny logs, then posts the verdict to a Slack, Teams or
generic webhook served on 127.0.0.1 in the shape each service documents. A message that cannot be
sent is reported and never changes the exit code; the webhook URL (its credential) never shows."""

from __future__ import annotations

import hashlib
import hmac
import json
import re

import pytest
from click.testing import CliRunner
from pytest_httpserver import HTTPServer
from tiny_logs import DEPLOY, iso
from werkzeug import Request, Response

from cxe_gate.cli import main

HOOK = "/services/T0001/B0002/s3cr3tW3bh00kT0k3n"  # what the path of a Slack webhook URL holds
CONFIG = """\
release: {{name: v1, deployed_at: {deployed}}}
providers:
  local: {{type: file, events: events.ndjson, requests: requests.ndjson}}
journeys:
  checkout: [a, b, c]
criteria:
  - {{name: errors, metric: error_rate, max_rise: 10%, min_samples: 1, test: none}}
{conversion}
links:
  dashboard: https://grafana.example/d/shop
notify:
{notify}
"""
# On the tiny logs: errors 25% → 20% (pass); conversion a → b → c 50% → 33% (a 33% drop: fail).
CONVERSION = (
    "  - {name: 'checkout <@here> & co', metric: conversion, journey: checkout, max_drop: 10%,"
    " min_samples: 1, test: none}"
)
GITHUB = {
    "GITHUB_ACTIONS": "true",
    "GITHUB_SERVER_URL": "https://github.example",
    "GITHUB_REPOSITORY": "acme/shop",
    "GITHUB_RUN_ID": "4242",
    "GITHUB_SHA": "0123456789abcdef0123456789abcdef01234567",
}


@pytest.fixture
def hook_env(monkeypatch, api_server: HTTPServer):
    for name in ("GITLAB_CI", "BUILDKITE", "CIRCLECI", "TF_BUILD", "JENKINS_URL"):
        monkeypatch.delenv(name, raising=False)
    for name, value in GITHUB.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("HOOK_URL", api_server.url_for(HOOK))
    return api_server


def run(directory, notify: str, *args: str, conversion: str = CONVERSION):
    path = directory / "cxe.yml"
    path.write_text(CONFIG.format(deployed=iso(DEPLOY), conversion=conversion, notify=notify))
    return CliRunner().invoke(main, ["evaluate", "-c", str(path), *args])


def posted(server: HTTPServer) -> list[dict]:
    return [json.loads(request.get_data()) for request, _ in server.log]


def test_a_failed_release_posts_a_block_kit_message_to_slack(shop_files, hook_env):
    hook_env.expect_request(HOOK, method="POST").respond_with_data("ok")
    result = run(shop_files, "  - {type: slack, webhook: '${HOOK_URL}'}")
    assert result.exit_code == 1, result.output  # the verdict's own exit code
    assert "notified slack (${HOOK_URL})" in result.output
    (message,) = posted(hook_env)
    request = hook_env.log[0][0]
    assert request.headers["Content-Type"] == "application/json"
    assert message["text"].startswith("cxe-gate: v1: FAIL")
    header, verdict, listed, actions = message["blocks"]
    assert header == {
        "type": "header",
        "text": {"type": "plain_text", "text": "v1: FAIL", "emoji": True},
    }
    assert verdict["text"]["type"] == "mrkdwn"
    assert ":x: *fail*" in verdict["text"]["text"]
    assert "2 criteria: 1 fail, 1 pass" in verdict["text"]["text"]
    # The failed criterion, its name escaped: Slack would otherwise ping the channel.
    text = listed["text"]["text"]
    assert text.startswith(":x: *checkout &lt;@here&gt; &amp; co* (fail): ")
    assert "<@here>" not in json.dumps(message)
    assert "errors" not in text  # a passing criterion is not listed
    assert actions["type"] == "actions"
    assert [(b["text"]["text"], b["url"]) for b in actions["elements"]] == [
        ("GitHub Actions run", "https://github.example/acme/shop/actions/runs/4242"),
        (
            "commit 0123456",
            "https://github.example/acme/shop/commit/0123456789abcdef0123456789abcdef01234567",
        ),
        ("dashboard", "https://grafana.example/d/shop"),
    ]


def test_teams_gets_an_adaptive_card_in_a_workflow_envelope(shop_files, hook_env):
    hook_env.expect_request(HOOK, method="POST").respond_with_data("", status=202)
    result = run(shop_files, "  - {type: teams, webhook: '${HOOK_URL}', on: [fail]}")
    assert result.exit_code == 1 and "notified teams" in result.output, result.output
    (message,) = posted(hook_env)
    assert message["type"] == "message"
    (attachment,) = message["attachments"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    assert attachment["contentUrl"] is None
    card = attachment["content"]
    assert (card["type"], card["version"]) == ("AdaptiveCard", "1.4")
    title, facts, summary, heading, listed = card["body"]
    assert (title["text"], title["color"]) == ("v1: FAIL", "Attention")
    facts = {f["title"]: f["value"] for f in facts["facts"]}
    assert (facts["Verdict"], facts["Criteria"]) == ("fail", "2 criteria: 1 fail, 1 pass")
    assert re.fullmatch(r"score \d+\.\d", facts["Score"])
    assert "checkout" in summary["text"] and heading["text"] == "Criteria to look at"
    assert listed["text"].startswith("- **checkout <@here> & co** (fail): ")
    assert [a["url"] for a in card["actions"]][-1] == "https://grafana.example/d/shop"


def test_a_generic_webhook_gets_the_verdict_signed(shop_files, hook_env, monkeypatch):
    monkeypatch.setenv("HOOK_KEY", "k3y-f0r-s1gn1ng")
    seen: list[Request] = []

    def take(request: Request) -> Response:
        seen.append(request)
        return Response("", status=204)

    hook_env.expect_request(HOOK, method="POST").respond_with_handler(take)
    notify = "  - {type: webhook, webhook: '${HOOK_URL}', secret: '${HOOK_KEY}'}"
    result = run(shop_files, notify)
    assert result.exit_code == 1 and "notified webhook" in result.output, result.output
    (request,) = seen
    body = request.get_data()
    expected = hmac.new(b"k3y-f0r-s1gn1ng", body, hashlib.sha256).hexdigest()
    assert request.headers["X-Cxe-Signature-256"] == f"sha256={expected}"
    message = json.loads(body)
    assert (message["event"], message["release"], message["verdict"]) == (
        "cxe-gate.verdict",
        "v1",
        "fail",
    )
    assert message["counts"] == {"fail": 1, "pass": 1}
    assert [c["name"] for c in message["criteria"]] == ["checkout <@here> & co"]
    assert message["commit"] == GITHUB["GITHUB_SHA"]


def test_only_the_verdicts_in_on_send_a_message(shop_files, hook_env):
    hook_env.expect_request(HOOK, method="POST").respond_with_data("ok")
    passing = run(shop_files, "  - {type: slack, webhook: '${HOOK_URL}'}", conversion="")
    assert passing.exit_code == 0, passing.output
    assert hook_env.log == [] and "notif" not in passing.output  # on: [fail, error] by default
    run(shop_files, "  - {type: slack, webhook: '${HOOK_URL}', on: [pass]}", conversion="")
    assert len(hook_env.log) == 1


def test_a_dry_run_notifies_only_when_asked(shop_files, hook_env):
    hook_env.expect_request(HOOK, method="POST").respond_with_data("ok")
    quiet = run(shop_files, "  - {type: slack, webhook: '${HOOK_URL}'}", "--dry-run")
    assert quiet.exit_code == 0 and hook_env.log == []
    loud = run(shop_files, "  - {type: slack, webhook: '${HOOK_URL}'}", "--dry-run", "--notify")
    assert loud.exit_code == 0 and len(hook_env.log) == 1
    assert posted(hook_env)[0]["blocks"][0]["text"]["text"] == "v1: FAIL (dry run)"


def test_a_refused_message_is_reported_and_the_exit_code_stands(shop_files, hook_env):
    hook_env.expect_request(HOOK, method="POST").respond_with_data("no_service", status=404)
    result = run(shop_files, "  - {type: slack, webhook: '${HOOK_URL}'}")
    assert result.exit_code == 1, result.output
    assert (
        "could not notify slack (${HOOK_URL}): 404 NOT FOUND: 'no_service' (the webhook was "
        "removed or its URL is wrong)"
    ) in result.output
    assert len(hook_env.log) == 1  # a refusal is not retried
    assert "s3cr3tW3bh00kT0k3n" not in result.output


def test_a_busy_endpoint_is_retried_as_it_asks(shop_files, hook_env):
    answers = iter(
        [
            Response("rate_limited", status=429, headers={"Retry-After": "0"}),
            Response("", status=503, headers={"Retry-After": "0"}),
            Response("ok"),
        ]
    )
    hook_env.expect_request(HOOK, method="POST").respond_with_handler(lambda r: next(answers))
    result = run(shop_files, "  - {type: slack, webhook: '${HOOK_URL}'}")
    assert result.exit_code == 1 and "notified slack" in result.output, result.output
    assert len(hook_env.log) == 3


def test_an_endpoint_down_for_good_is_reported_after_three_attempts(shop_files, hook_env):
    echo = f"upstream failed for {HOOK}"  # a proxy echoing the URL must not leak it
    hook_env.expect_request(HOOK, method="POST").respond_with_handler(
        lambda r: Response(echo, status=502, headers={"Retry-After": "0"})
    )
    result = run(shop_files, "  - {type: teams, webhook: '${HOOK_URL}'}")
    assert result.exit_code == 1, result.output
    assert "could not notify teams (${HOOK_URL}): 502 BAD GATEWAY" in result.output
    assert "(after 3 attempts)" in result.output
    assert "s3cr3tW3bh00kT0k3n" not in result.output


def test_an_unset_variable_is_named_and_nothing_is_sent(shop_files, hook_env, monkeypatch):
    monkeypatch.delenv("HOOK_URL")
    result = run(shop_files, "  - {type: slack, webhook: '${HOOK_URL}'}")
    assert result.exit_code == 1, result.output
    assert "could not notify slack (${HOOK_URL}): the environment variable HOOK_URL is not set" in (
        result.output
    )
    assert hook_env.log == []


def test_an_inline_webhook_url_is_a_config_error_that_does_not_echo_it(shop_files):
    result = run(shop_files, "  - {type: slack, webhook: 'https://hooks.slack.com" + HOOK + "'}")
    assert result.exit_code == 2, result.output
    assert "notify" in result.output and "environment variable reference" in result.output
    assert "s3cr3tW3bh00kT0k3n" not in result.output


def test_an_unknown_target_type_names_the_choices(shop_files):
    result = run(shop_files, "  - {type: pagerduty, webhook: '${HOOK_URL}'}")
    assert result.exit_code == 2, result.output
    assert "slack" in result.output and "teams" in result.output and "webhook" in result.output
