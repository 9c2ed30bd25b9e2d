"""The check run: the gate's verdict as a GitHub check on the commit (a conclusion branch protection
can require), the Markdown report as its summary, and each judged criterion as an annotation at its
line in the criteria file."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from .github_api import GitHubApi, GitHubApiError
from .github_comment import fit
from .report import wording
from .results import GateReport, Verdict

if TYPE_CHECKING:
    from .github import Annotation

CHECK_NAME = "cxe-gate"
MOST_SUMMARY_CHARS = 65_535
MOST_TITLE_CHARS = 255
ANNOTATIONS_PER_REQUEST = 50  # the Checks API's limit; more are appended by updating the run

# Inconclusive is action_required, not neutral: the gate exits 3 on it (an accepted inconclusive
# reaches here as warn or pass), and branch protection counts neutral as passing, so a neutral check
# would let a required check pass while the gate's step failed. action_required does not pass and
# asks a person to act (re-run once the window has data, or accept it), pointing at the run.
_CONCLUSION = {
    Verdict.PASS: "success",
    Verdict.WARN: "neutral",
    Verdict.FAIL: "failure",
    Verdict.INCONCLUSIVE: "action_required",
    Verdict.ERROR: "failure",
}
_LEVEL = {"error": "failure", "warning": "warning", "notice": "notice"}


def check_name(config: str | None) -> str:
    """`cxe-gate`, or `cxe-gate (gate/canary.yml)` so that two criteria files make two checks."""
    return CHECK_NAME if config in (None, "cxe.yml") else f"{CHECK_NAME} ({config})"


def conclusion(report: GateReport, exit_code: int) -> str:
    if report.dry_run:
        return "neutral"  # a dry run gates nothing, whatever its verdict
    if report.verdict == Verdict.WARN and exit_code != 0:
        return "failure"  # fail-on: warn made the warning fail the step
    return _CONCLUSION[report.verdict]


def check_title(report: GateReport) -> str:
    release = report.release.name or "(unnamed)"
    title = f"{report.verdict.value.upper()}: release {release}, score {wording.score(report)}"
    if report.dry_run:
        title += " (dry run)"
    return title[:MOST_TITLE_CHARS]


def check_annotations(annotations: Sequence[Annotation]) -> list[dict[str, Any]]:
    """The Checks API's annotation objects; one without a file in the repository is left out
    (the Checks API needs a path), one without a known line points at the file's first line."""
    return [
        {
            "path": a.file,
            "start_line": a.line or 1,
            "end_line": a.line or 1,
            "annotation_level": _LEVEL[a.level],
            "title": a.title[:MOST_TITLE_CHARS],
            "message": a.message,
        }
        for a in annotations
        if a.file
    ]


def check_run_requests(
    *,
    name: str,
    head_sha: str,
    report: GateReport,
    markdown: str,
    annotations: Sequence[Annotation],
    exit_code: int,
    run_url: str | None,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The body that creates the check run, and the bodies that update it with the annotations
    beyond the first 50 (each update appends its annotations to the run's)."""
    output = {
        "title": check_title(report),
        "summary": fit(markdown, MOST_SUMMARY_CHARS, run_url),
    }
    found = check_annotations(annotations)
    batches = [
        found[i : i + ANNOTATIONS_PER_REQUEST]
        for i in range(0, len(found), ANNOTATIONS_PER_REQUEST)
    ] or [[]]
    create: dict[str, Any] = {
        "name": name,
        "head_sha": head_sha,
        "status": "completed",
        "conclusion": conclusion(report, exit_code),
        "output": {**output, "annotations": batches[0]},
    }
    if run_url:
        create["details_url"] = run_url
    updates = [{"output": {**output, "annotations": batch}} for batch in batches[1:]]
    return create, updates


def publish_check_run(
    api: GitHubApi, create: dict[str, Any], updates: Sequence[dict[str, Any]]
) -> str:
    """Create the check run, then append the rest of its annotations; its page's URL."""
    run = api.post(api.repo_path("check-runs"), create)
    if not isinstance(run.get("id"), int):
        raise GitHubApiError("POST check-runs: the answer has no check run id")
    for update in updates:
        api.patch(api.repo_path(f"check-runs/{run['id']}"), update)
    return str(run.get("html_url", ""))
