"""Which releases went live in a span of time, from GitHub's deployments API: a scheduled job finds
the releases deployed 24 hours (or 7 days) ago and judges their checkpoints.

`python -m cxe_gate.deployments --repo OWNER/NAME --older-than 24h --younger-than 48h` prints one
`release deployed_at` line per release (oldest first); the token is read from $GITHUB_TOKEN."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import requests

from .errors import CxeGateError
from .moments import parse_deploy_time
from .quantities import DURATION_HINT, to_timedelta

API_URL = "https://api.github.com"
PER_PAGE = 100  # the API's largest page
# A deployment created this long before the span may still have gone live inside it (a slow
# rollout); older pages are not read.
SLOWEST_ROLLOUT = timedelta(days=1)
TIMEOUT = 30.0  # seconds per request
# States a live deployment leaves by: replaced by a newer one (inactive), or rolled back.
_ENDED = {"inactive", "failure", "error"}


@dataclass(frozen=True)
class Deployed:
    release: str
    deployed_at: datetime
    deployment_id: int


class GitHubError(CxeGateError):
    """The deployments API could not be read (network, token, repository)."""


class _Api:
    def __init__(self, api_url: str, repo: str, token: str | None):
        self._base = f"{api_url.rstrip('/')}/repos/{repo}"
        self._session = requests.Session()
        self._session.headers.update(
            {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28"}
        )
        if token:
            self._session.headers["Authorization"] = f"Bearer {token}"

    def get(self, path: str, params: dict[str, str | int]) -> list[dict[str, Any]]:
        url = f"{self._base}{path}"
        try:
            answer = self._session.get(url, params=params, timeout=TIMEOUT)
        except requests.RequestException as exc:
            raise GitHubError(f"GET {url}: {type(exc).__name__}") from None
        if answer.status_code != 200:
            # GitHub's error bodies say what is wrong ("Not Found", "Bad credentials").
            try:
                said = answer.json().get("message", "")
            except ValueError:
                said = ""
            raise GitHubError(f"GET {url}: HTTP {answer.status_code} {said}".rstrip())
        try:
            body = answer.json()
        except ValueError:
            raise GitHubError(f"GET {url}: the answer is not JSON") from None
        if not isinstance(body, list):
            raise GitHubError(f"GET {url}: expected a JSON list, got {type(body).__name__}")
        return [item for item in body if isinstance(item, dict)]

    def close(self) -> None:
        self._session.close()


def _time(item: dict[str, Any], where: str) -> datetime:
    try:
        return parse_deploy_time(item.get("created_at"))
    except (ValueError, TypeError):
        raise GitHubError(
            f"{where}: created_at is not a time: {item.get('created_at')!r}"
        ) from None


def _deployments(api: _Api, environment: str, since: datetime) -> Iterator[dict[str, Any]]:
    """The environment's deployments, newest first, back to `since`."""
    page = 1
    while True:
        found = api.get(
            "/deployments", {"environment": environment, "per_page": PER_PAGE, "page": page}
        )
        yield from found
        if len(found) < PER_PAGE or _time(found[-1], "deployment") < since:
            return
        page += 1


def deployed_between(
    api_url: str,
    repo: str,
    *,
    environment: str,
    start: datetime,
    end: datetime,
    live_for: timedelta = timedelta(0),
    token: str | None = None,
) -> list[Deployed]:
    """The releases that went live (their first `success` status) in [start, end) and stayed
    live for `live_for` after: a release replaced (inactive) or rolled back sooner is left out,
    as its checkpoint's window would hold the next release's traffic. Oldest first."""
    api = _Api(api_url, repo, token)
    found: list[Deployed] = []
    try:
        for deployment in _deployments(api, environment, start - SLOWEST_ROLLOUT):
            where = f"deployment {deployment.get('id')}"
            if _time(deployment, where) >= end:
                continue
            statuses = api.get(f"/deployments/{deployment.get('id')}/statuses", {"per_page": 100})
            # Statuses come newest first; read them in the order they happened.
            timeline = sorted(
                ((_time(s, f"{where} status"), str(s.get("state"))) for s in statuses),
                key=lambda pair: pair[0],
            )
            live = next((at for at, state in timeline if state == "success"), None)
            if live is None or not start <= live < end:
                continue
            if any(state in _ENDED and live <= at < live + live_for for at, state in timeline):
                continue
            release = str(deployment.get("ref") or deployment.get("sha") or "")
            found.append(Deployed(release, live, int(deployment.get("id") or 0)))
    finally:
        api.close()
    return sorted(found, key=lambda d: d.deployed_at)


def _duration(text: str) -> timedelta:
    try:
        value = to_timedelta(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {DURATION_HINT}, got {text!r}") from None
    if value <= timedelta(0):
        raise argparse.ArgumentTypeError(f"must be longer than zero, got {text!r}")
    return value


def main(argv: Sequence[str] | None = None, now: datetime | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m cxe_gate.deployments",
        description="Print `release deployed_at` (the deployment's ref and its first success) "
        "for each release that went live between --younger-than and --older-than ago and "
        "stayed live for --older-than.",
    )
    parser.add_argument(
        "--repo",
        default=os.environ.get("GITHUB_REPOSITORY"),
        help="OWNER/NAME (default: $GITHUB_REPOSITORY)",
    )
    parser.add_argument("--environment", default="production", help="default: production")
    parser.add_argument("--older-than", type=_duration, required=True, help="e.g. 24h")
    parser.add_argument("--younger-than", type=_duration, required=True, help="e.g. 48h")
    parser.add_argument(
        "--api-url",
        default=os.environ.get("GITHUB_API_URL", API_URL),
        help="default: $GITHUB_API_URL or https://api.github.com",
    )
    args = parser.parse_args(argv)
    if not args.repo or args.repo.count("/") != 1:
        parser.error(f"--repo must be OWNER/NAME, got {args.repo!r}")
    if args.younger_than <= args.older_than:
        parser.error("--younger-than must be longer than --older-than")
    now = now or datetime.now(UTC)
    try:
        found = deployed_between(
            args.api_url,
            args.repo,
            environment=args.environment,
            start=now - args.younger_than,
            end=now - args.older_than,
            live_for=args.older_than,
            token=os.environ.get("GITHUB_TOKEN") or None,
        )
    except CxeGateError as exc:
        print(f"cxe_gate.deployments: {exc}", file=sys.stderr)
        return 4
    for deployed in found:
        stamp = deployed.deployed_at.astimezone(UTC).isoformat().replace("+00:00", "Z")
        print(f"{deployed.release} {stamp}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
