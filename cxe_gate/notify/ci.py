"""Where this run of the gate lives, read from the CI system's own environment variables: a link
to the run (its log and artifacts) and the commit, for messages and reports."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class CiRun:
    system: str  # e.g. "GitHub Actions"
    url: str | None  # the run's page
    commit: str | None  # the full SHA when the system gives it
    commit_url: str | None = None


def ci_run(environ: Mapping[str, str]) -> CiRun | None:
    """The CI run this process belongs to, or None outside a known CI system."""
    get = environ.get
    if get("GITHUB_ACTIONS") == "true":
        server = get("GITHUB_SERVER_URL", "https://github.com").rstrip("/")
        repository, run, sha = get("GITHUB_REPOSITORY"), get("GITHUB_RUN_ID"), get("GITHUB_SHA")
        url = f"{server}/{repository}/actions/runs/{run}" if repository and run else None
        commit_url = f"{server}/{repository}/commit/{sha}" if repository and sha else None
        return CiRun("GitHub Actions", url, sha, commit_url)
    if get("GITLAB_CI") == "true":
        project, sha = get("CI_PROJECT_URL"), get("CI_COMMIT_SHA")
        commit_url = f"{project}/-/commit/{sha}" if project and sha else None
        return CiRun("GitLab CI", get("CI_JOB_URL") or get("CI_PIPELINE_URL"), sha, commit_url)
    if get("BUILDKITE") == "true":
        return CiRun("Buildkite", get("BUILDKITE_BUILD_URL"), get("BUILDKITE_COMMIT"))
    if get("CIRCLECI") == "true":
        return CiRun("CircleCI", get("CIRCLE_BUILD_URL"), get("CIRCLE_SHA1"))
    if get("TF_BUILD") == "True":  # Azure Pipelines
        collection, project, build = (
            get("SYSTEM_COLLECTIONURI"),
            get("SYSTEM_TEAMPROJECT"),
            get("BUILD_BUILDID"),
        )
        url = (
            f"{collection.rstrip('/')}/{project}/_build/results?buildId={build}"
            if collection and project and build
            else None
        )
        return CiRun("Azure Pipelines", url, get("BUILD_SOURCEVERSION"))
    if get("JENKINS_URL"):
        return CiRun("Jenkins", get("BUILD_URL"), get("GIT_COMMIT"))
    return None
