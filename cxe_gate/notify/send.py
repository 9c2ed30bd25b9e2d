"""Sending the messages: each target whose `on` lists the verdict gets one POST, retried on a
dropped connection, a 429 or a 5xx. A failure is returned as an outcome saying what went wrong,
never raised: a notification can never change the verdict or the exit code. The webhook URL
carries its credential, so no outcome or log line ever shows more of it than its host."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests

from .. import __version__
from ..config import NotifyTarget, SecretRef, SlackTarget, TeamsTarget, WebhookTarget
from ..results import GateReport
from .announcement import Announcement, announcement
from .slack import slack_message
from .teams import teams_message
from .webhook import SIGNATURE_HEADER, body_bytes, signature, webhook_message

log = logging.getLogger(__name__)

ATTEMPTS = 3
MOST_WAIT_S = 10.0  # a Retry-After longer than this is not waited out: the gate is done


@dataclass(frozen=True)
class Sent:
    """What became of one target's message."""

    target: str  # e.g. "slack (${SLACK_WEBHOOK_URL})"
    delivered: bool
    problem: str = ""  # why not, when it was not


def announce(
    report: GateReport,
    targets: Sequence[NotifyTarget],
    *,
    links: Mapping[str, str],
    environ: Mapping[str, str],
    backoff_s: float = 1.0,
) -> list[Sent]:
    """Send the report's message to every target that wants this verdict."""
    wanted = [t for t in targets if report.verdict.value in t.on]
    if not wanted:
        return []
    said = announcement(report, links, environ)
    return [_send(target, said, environ, backoff_s) for target in wanted]


def _name(target: NotifyTarget) -> str:
    return f"{target.type} ({target.webhook})"


def _send(
    target: NotifyTarget, said: Announcement, environ: Mapping[str, str], backoff_s: float
) -> Sent:
    name = _name(target)
    variable = SecretRef(target.webhook).variable
    url = environ.get(variable, "").strip()
    if not url:
        return Sent(name, False, f"the environment variable {variable} is not set")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return Sent(name, False, f"{variable} does not hold an http(s) URL")
    headers = {"Content-Type": "application/json", "User-Agent": f"cxe-gate/{__version__}"}
    if isinstance(target, SlackTarget):
        body = body_bytes(slack_message(said))
    elif isinstance(target, TeamsTarget):
        body = body_bytes(teams_message(said))
    else:
        assert isinstance(target, WebhookTarget)
        body = body_bytes(webhook_message(said))
        if target.secret is not None:
            key_variable = SecretRef(target.secret).variable
            key = environ.get(key_variable)
            if not key:
                return Sent(name, False, f"the environment variable {key_variable} is not set")
            headers[SIGNATURE_HEADER] = signature(key, body)
    redact = _redactor(url)
    problem = _post(url, body, headers, target.timeout.total_seconds(), backoff_s, redact, target)
    if problem:
        log.warning("%s: %s", name, problem)
    return Sent(name, not problem, problem)


def _redactor(url: str) -> Callable[[str], str]:
    """Hides the URL's path and query (Slack's and Teams' hold the credential) in any text."""
    parts = urlsplit(url)
    secret_parts = [p for p in (parts.path.strip("/"), parts.query) if len(p) > 3]

    def redact(text: str) -> str:
        for part in secret_parts:
            text = text.replace(part, "***")
        return text

    return redact


def _post(
    url: str,
    body: bytes,
    headers: dict[str, str],
    timeout: float,
    backoff_s: float,
    redact: Callable[[str], str],
    target: NotifyTarget,
) -> str:
    """'' when the endpoint took the message, else why not (the last attempt's reason)."""
    host = urlsplit(url).hostname
    problem = ""
    for attempt in range(1, ATTEMPTS + 1):
        wait = backoff_s * 2 ** (attempt - 1)
        try:
            response = requests.post(
                url, data=body, headers=headers, timeout=timeout, allow_redirects=False
            )
        except requests.Timeout:
            problem = f"{host} did not answer within {timeout:g} s"
        except requests.RequestException as exc:
            problem = f"cannot reach {host}: {redact(type(exc).__name__)}"
        else:
            problem = _refusal(response, target, redact)
            if not problem:
                return ""
            if response.status_code != 429 and response.status_code < 500:
                return problem  # a refusal another attempt would not change
            wait = _retry_after(response, wait)
            if wait > MOST_WAIT_S:
                return f"{problem}; asked to wait {wait:g} s, longer than the gate waits"
        if attempt < ATTEMPTS:
            time.sleep(wait)
    return f"{problem} (after {ATTEMPTS} attempts)"


def _refusal(
    response: requests.Response, target: NotifyTarget, redact: Callable[[str], str]
) -> str:
    """'' when the answer means delivered, else what the endpoint said."""
    status = response.status_code
    text = redact(response.text.strip())[:200]
    if isinstance(target, SlackTarget) and status == 200:
        # Slack answers a delivered message with the two letters "ok".
        return "" if text == "ok" else f"Slack answered 200 but not 'ok': {text!r}"
    if 200 <= status < 300:
        return ""
    if 300 <= status < 400:
        return f"{status} redirect to elsewhere: check the URL in the variable"
    hint = _HINTS.get((target.type, text), "")
    return f"{status} {response.reason}: {text!r}{hint}"


def _retry_after(response: requests.Response, default: float) -> float:
    value: Any = response.headers.get("Retry-After")
    try:
        return max(0.0, float(value)) if value is not None else default
    except ValueError:
        return default


# What Slack's documented webhook errors mean for the person reading the log.
_HINTS = {
    ("slack", "no_service"): " (the webhook was removed or its URL is wrong)",
    ("slack", "invalid_token"): " (the webhook's URL is no longer valid)",
    ("slack", "channel_not_found"): " (the channel is gone)",
    ("slack", "channel_is_archived"): " (the channel is archived)",
    ("slack", "action_prohibited"): " (an admin restricted posting to the channel)",
    ("slack", "invalid_payload"): " (a bug in cxe-gate: please report it)",
    ("slack", "invalid_blocks"): " (a bug in cxe-gate: please report it)",
}
