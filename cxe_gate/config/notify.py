"""Where a verdict is announced (`notify:`) and the links a report and a message carry (`links:`):
Slack and Teams channels through their incoming webhooks, or any HTTP endpoint. A webhook's URL
holds its credential, so it is written as `${ENV_VAR}` like every other secret."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Literal

from pydantic import Field, HttpUrl

from .fields import Duration, Strict
from .secrets import Secret

# The verdicts of a release; `on` lists those that send a message.
Announced = Literal["pass", "warn", "fail", "inconclusive", "error"]


def _fail_and_error() -> list[Announced]:
    return ["fail", "error"]


class _Target(Strict):
    on: list[Announced] = Field(
        default_factory=_fail_and_error,
        min_length=1,
        description="the release verdicts that send a message",
    )
    timeout: Duration = Field(
        timedelta(seconds=10), description="how long to wait for the endpoint, each attempt"
    )


class SlackTarget(_Target):
    """A Slack channel's incoming webhook (a Block Kit message)."""

    type: Literal["slack"]
    webhook: Secret = Field(description="the webhook URL, e.g. ${SLACK_WEBHOOK_URL}")


class TeamsTarget(_Target):
    """A Microsoft Teams channel through a Workflows webhook ("When a Teams webhook request is
    received"; an Adaptive Card message)."""

    type: Literal["teams"]
    webhook: Secret = Field(description="the workflow's URL, e.g. ${TEAMS_WEBHOOK_URL}")


class WebhookTarget(_Target):
    """Any HTTP endpoint: the verdict as JSON, signed with HMAC-SHA256 when a secret is given."""

    type: Literal["webhook"]
    webhook: Secret = Field(description="the endpoint's URL, e.g. ${RELEASE_HOOK_URL}")
    secret: Secret | None = Field(
        None,
        description="signs the body: header X-Cxe-Signature-256: sha256=<hex HMAC of the body>",
    )


NotifyTarget = Annotated[SlackTarget | TeamsTarget | WebhookTarget, Field(discriminator="type")]

# Named links shown in reports and messages: dashboards, runbooks, the release notes.
Links = dict[str, HttpUrl]
