"""What the action publishes through the GitHub REST API when it has a token: the sticky
pull-request comment and the check run. Each failure is said as a warning naming the permission
to grant; none can change the gate's verdict or exit code."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .github_api import DEFAULT_API_URL, GitHubApi, GitHubApiError
from .github_check import check_name, check_run_requests, publish_check_run
from .github_comment import (
    comment_body,
    commit_pull_request,
    event_pull_request,
    marker,
    upsert_comment,
)
from .notify.ci import ci_run
from .report.markdown import render_markdown
from .results import GateReport

if TYPE_CHECKING:
    from .github import Annotation

# The action hands the `github-token` input to this process only, under a name of its own.
TOKEN_VARIABLE = "CXE_GATE_GITHUB_TOKEN"
COMMENT_MODES = ("auto", "always", "never")


@dataclass(frozen=True)
class Said:
    """One line for the job's log; `warning` lines become workflow warnings."""

    text: str
    warning: bool = False


def publish(
    report: GateReport,
    *,
    config: str | None,
    annotations: Sequence[Annotation],
    exit_code: int,
    comment: str,
    check_run: bool,
    environ: Mapping[str, str],
) -> list[Said]:
    token = environ.get(TOKEN_VARIABLE, "").strip()
    if not token or (comment == "never" and not check_run):
        return []
    repository = environ.get("GITHUB_REPOSITORY", "")
    if not repository:
        return [Said("GITHUB_REPOSITORY is not set: no comment, no check run", warning=True)]
    try:
        api = GitHubApi(
            token, repository, base_url=environ.get("GITHUB_API_URL") or DEFAULT_API_URL
        )
    except GitHubApiError as exc:
        return [Said(str(exc), warning=True)]
    event = _event(environ.get("GITHUB_EVENT_PATH"))
    run = ci_run(environ)
    run_url = run.url if run else None
    markdown = render_markdown(report)
    said: list[Said] = []
    try:
        if comment != "never":
            said.append(_comment(api, markdown, config, comment, event, environ, run_url))
        if check_run:
            sha = _head_sha(event, environ)
            if not sha:
                said.append(Said("no commit SHA (GITHUB_SHA): no check run", warning=True))
            else:
                create, updates = check_run_requests(
                    name=check_name(config),
                    head_sha=sha,
                    report=report,
                    markdown=markdown,
                    annotations=annotations,
                    exit_code=exit_code,
                    run_url=run_url,
                )
                said.append(_check_run(api, create, updates))
    finally:
        api.close()
    return [Said(api.redact(s.text), s.warning) for s in said]


def _comment(
    api: GitHubApi,
    markdown: str,
    config: str | None,
    mode: str,
    event: Mapping[str, Any],
    environ: Mapping[str, str],
    run_url: str | None,
) -> Said:
    sha = environ.get("GITHUB_SHA", "")
    try:
        number = event_pull_request(event) or (commit_pull_request(api, sha) if sha else None)
    except GitHubApiError as exc:
        return _refused("find the pull request for the comment", exc, "pull-requests: read")
    if number is None:
        if mode == "always":
            return Said("comment: always, but this run has no pull request to comment on", True)
        return Said("cxe-gate: no pull request for this run, so no comment")
    mark = marker(config or "cxe.yml")
    try:
        posted = upsert_comment(api, number, comment_body(markdown, mark, run_url), mark)
    except GitHubApiError as exc:
        return _refused(f"comment on pull request #{number}", exc, "pull-requests: write")
    done = "updated its comment on" if posted.edited else "commented on"
    return Said(f"cxe-gate: {done} pull request #{number}: {posted.url}")


def _check_run(api: GitHubApi, create: dict[str, Any], updates: Sequence[dict[str, Any]]) -> Said:
    try:
        url = publish_check_run(api, create, updates)
    except GitHubApiError as exc:
        return _refused(f"create the check run {create['name']!r}", exc, "checks: write")
    return Said(f"cxe-gate: check run {create['name']!r} concluded {create['conclusion']}: {url}")


def _refused(what: str, exc: GitHubApiError, permission: str) -> Said:
    text = f"cxe-gate could not {what}: {exc}"
    if exc.status in (403, 404):
        # GitHub answers 404 rather than 403 where the token may not even see the resource.
        text += (
            f". The token needs `{permission}`: add `permissions: {permission}` to the job "
            "(on a pull request from a fork, GITHUB_TOKEN is read-only)"
        )
    return Said(text + ". The gate's verdict and exit code are unchanged.", warning=True)


def _event(path: str | None) -> dict[str, Any]:
    """The webhook payload of the event that started the workflow; {} when there is none."""
    if not path:
        return {}
    try:
        with open(path, encoding="utf-8") as handle:
            event = json.load(handle)
    except (OSError, ValueError):
        return {}
    return event if isinstance(event, dict) else {}


def _head_sha(event: Mapping[str, Any], environ: Mapping[str, str]) -> str:
    """The commit a check run belongs on: a pull request's head (on pull_request events
    GITHUB_SHA is the merge commit GitHub made, which the pull request page does not show)."""
    pull = event.get("pull_request")
    head = pull.get("head") if isinstance(pull, Mapping) else None
    sha = head.get("sha") if isinstance(head, Mapping) else None
    return sha if isinstance(sha, str) and sha else environ.get("GITHUB_SHA", "")
