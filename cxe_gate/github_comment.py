"""The sticky pull-request comment: the Markdown report under a hidden marker naming the criteria
file, posted once and then edited in place on every run, so a pull request carries one current
verdict per criteria file rather than a trail of old ones."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .github_api import GitHubApi, GitHubApiError

MOST_COMMENT_CHARS = 65_536  # GitHub refuses a longer issue comment body


@dataclass(frozen=True)
class Posted:
    url: str
    edited: bool  # True: an earlier comment was updated; False: a new one was posted


def marker(config: str) -> str:
    # "--" cannot appear inside an HTML comment; a path with it still gets a marker of its own.
    return f"<!-- cxe-gate:{config.replace('--', '-&#45;')} -->"


def event_pull_request(event: Mapping[str, Any]) -> int | None:
    """The pull request a `pull_request` (or `pull_request_target`, review ...) event is about."""
    pull = event.get("pull_request")
    number = pull.get("number") if isinstance(pull, Mapping) else None
    return number if isinstance(number, int) else None


def commit_pull_request(api: GitHubApi, sha: str) -> int | None:
    """The pull request a pushed commit belongs to (`GET /repos/{o}/{r}/commits/{sha}/pulls`):
    an open one first, else the one it was merged from."""
    pulls = api.get(api.repo_path(f"commits/{sha}/pulls"), {"per_page": 100})
    if not isinstance(pulls, list):
        raise GitHubApiError(f"GET commits/{sha}/pulls: expected a JSON list")
    pulls = [p for p in pulls if isinstance(p, dict)]
    if not pulls:
        return None
    chosen = next((p for p in pulls if p.get("state") == "open"), pulls[0])
    number = chosen.get("number")
    return number if isinstance(number, int) else None


def comment_body(markdown: str, mark: str, run_url: str | None) -> str:
    return fit(f"{mark}\n{markdown}", MOST_COMMENT_CHARS, run_url)


def fit(text: str, most: int, run_url: str | None) -> str:
    """`text` whole when it fits in `most` characters; else cut at a line boundary, with any open
    code fence or <details> closed so the note after the cut is seen, and a note saying where the
    whole report is."""
    if len(text) <= most:
        return text
    where = f"[the run's step summary]({run_url})" if run_url else "the run's step summary"
    note = (
        f"\n\n> **This report was cut at a line boundary**: it is {len(text):,} characters and "
        f"GitHub keeps at most {most:,}. The whole report is in {where} and its artifacts."
    )
    lines = text.splitlines()
    kept: list[str] = []
    size = 0
    # Room for the note and for closing what the cut leaves open (a fence, a few </details>).
    budget = most - len(note) - 200
    for line in lines:
        if size + len(line) + 1 > budget:
            break
        kept.append(line)
        size += len(line) + 1
    return "\n".join([*kept, *_closers(kept)]) + note


_FENCE = re.compile(r"^(`{3,})")


def _closers(lines: list[str]) -> list[str]:
    """The lines that close a fenced block and <details> elements left open at the end of
    `lines` (render_markdown writes fences longer than any backtick run they hold)."""
    fence = ""
    open_details = 0
    for line in lines:
        if fence:
            # A closing fence is backticks alone, at least as many as opened the block.
            if re.fullmatch(r"`{3,}\s*", line) and len(line.strip()) >= len(fence):
                fence = ""
            continue
        found = _FENCE.match(line)
        if found:
            fence = found[1]
        elif line.strip() == "<details>":
            open_details += 1
        elif line.strip() == "</details>":
            open_details = max(0, open_details - 1)
    closers = [fence] if fence else []
    return [*closers, *(["", "</details>"] * open_details)]


def upsert_comment(api: GitHubApi, number: int, body: str, mark: str) -> Posted:
    """Edit our comment on pull request `number` (found by its marker on any page of the issue's
    comments) or post a new one."""
    comments = api.repo_path(f"issues/{number}/comments")
    for comment in api.pages(comments, {"per_page": 100}):
        if str(comment.get("body") or "").startswith(mark) and isinstance(comment.get("id"), int):
            edited = api.patch(api.repo_path(f"issues/comments/{comment['id']}"), {"body": body})
            return Posted(str(edited.get("html_url", "")), edited=True)
    created = api.post(comments, {"body": body})
    return Posted(str(created.get("html_url", "")), edited=False)
