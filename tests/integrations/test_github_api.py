"""The action's pull-request comment and check run (`python -m cxe_gate.github` with a token),
against a fake GitHub on 127.0.0.1 that speaks the REST shapes GitHub documents. The report is the
real gate's, judging the example shop's regressed release shop-1.5.0."""

from __future__ import annotations

import itertools
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from cxe_gate.cli import main as cli
from cxe_gate.github import main
from cxe_gate.github_comment import fit

ROOT = Path(__file__).resolve().parents[2]
SHOP = ROOT / "examples" / "shop"
TOKEN = "ghs_n0tAr3alT0k3nButL00ksL1k3One"
REPO = "octo-org/shop"
SHA = "4f2c1e9d0b7a6c5d4e3f2a1b0c9d8e7f6a5b4c3d"  # GITHUB_SHA: on a pull_request event, the merge
HEAD = "9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e0d"  # the pull request's head commit
RUN_URL = "https://github.com/octo-org/shop/actions/runs/777"
MARK = "<!-- cxe-gate:gate/cxe.yml -->"


class FakeGitHub:
    """The REST endpoints the action calls, in the shapes docs.github.com documents (API version
    2022-11-28); checked with the search tool against the reference and octokit's clients:

    - GET  /repos/{owner}/{repo}/issues/{number}/comments?per_page=100 — "List issue comments"
      (rest/issues/comments): a JSON list, ascending by id; more pages are announced in the `Link`
      header (rest/using-the-rest-api/using-pagination-in-the-rest-api), whose URLs GitHub writes
      as /repositories/{id}/... : a client follows them as given.
    - POST /repos/{owner}/{repo}/issues/{number}/comments {"body"} → 201 the comment — "Create an
      issue comment"; PATCH /repos/{owner}/{repo}/issues/comments/{comment_id} {"body"} → 200 —
      "Update an issue comment". Comment objects carry id, body, html_url, user.
    - GET  /repos/{owner}/{repo}/commits/{commit_sha}/pulls — "List pull requests associated with
      a commit" (rest/commits/commits; octokit's `commit_pulls`): a list of pull requests with
      number and state.
    - POST /repos/{owner}/{repo}/check-runs {name, head_sha, status, conclusion, details_url,
      output{title, summary, annotations}} → 201 the check run — "Create a check run"
      (rest/checks/runs); summary at most 65,535 characters; at most 50 annotations per request,
      more appended by PATCH /repos/{owner}/{repo}/check-runs/{check_run_id} — "Update a check
      run". An annotation is {path, start_line, end_line, annotation_level: notice|warning|failure,
      title, message}.
    - A token without the permission gets 403 {"message": "Resource not accessible by
      integration"}; a secondary rate limit answers 403 or 429 with `Retry-After`
      (rest/using-the-rest-api/rate-limits-for-the-rest-api)."""

    def __init__(self, server: HTTPServer, *, page_size: int = 100) -> None:
        self.server = server
        self.page_size = page_size
        self.comments: dict[int, list[dict[str, Any]]] = {}
        self.pulls_of: dict[str, list[dict[str, Any]]] = {}
        self.check_runs: list[dict[str, Any]] = []
        self.updates: list[tuple[int, dict[str, Any]]] = []
        self.refuse: dict[str, Response] = {}  # "comments" / "check-runs" → the answer to give
        self.fail_first: dict[str, list[Response]] = {}  # answers before the real one
        self._ids = itertools.count(5001)
        issues = r"/(?:repos/octo-org/shop|repositories/4242)/issues/(\d+)/comments"
        server.expect_request(re.compile(f"^{issues}$"), method="GET").respond_with_handler(
            self._list_comments
        )
        server.expect_request(
            re.compile(r"^/repos/octo-org/shop/issues/\d+/comments$"), method="POST"
        ).respond_with_handler(self._create_comment)
        server.expect_request(
            re.compile(r"^/repos/octo-org/shop/issues/comments/\d+$"), method="PATCH"
        ).respond_with_handler(self._update_comment)
        server.expect_request(
            re.compile(r"^/repos/octo-org/shop/commits/[0-9a-f]{40}/pulls$"), method="GET"
        ).respond_with_handler(self._pulls)
        server.expect_request(
            "/repos/octo-org/shop/check-runs", method="POST"
        ).respond_with_handler(self._create_check_run)
        server.expect_request(
            re.compile(r"^/repos/octo-org/shop/check-runs/\d+$"), method="PATCH"
        ).respond_with_handler(self._update_check_run)

    @property
    def url(self) -> str:
        return self.server.url_for("/").rstrip("/")

    def _early(self, what: str) -> Response | None:
        if what in self.refuse:
            return self.refuse[what]
        queued = self.fail_first.get(what)
        return queued.pop(0) if queued else None

    def _list_comments(self, request: Request) -> Response:
        if (early := self._early("comments")) is not None:
            return early
        number = int(request.path.split("/")[-2])
        page = int(request.args.get("page", "1"))
        per_page = min(int(request.args.get("per_page", "30")), self.page_size)
        everything = self.comments.get(number, [])
        found = everything[(page - 1) * per_page : page * per_page]
        headers = {}
        if page * per_page < len(everything):
            last = -(-len(everything) // per_page)
            link = f"{self.url}/repositories/4242/issues/{number}/comments?per_page={per_page}"
            headers["Link"] = (
                f'<{link}&page={page + 1}>; rel="next", <{link}&page={last}>; rel="last"'
            )
        return Response(json.dumps(found), 200, headers, content_type="application/json")

    def _create_comment(self, request: Request) -> Response:
        number = int(request.path.split("/")[-2])
        comment_id = next(self._ids)
        comment = {
            "id": comment_id,
            "body": request.get_json()["body"],
            "user": {"login": "github-actions[bot]"},
            "html_url": f"https://github.com/{REPO}/pull/{number}#issuecomment-{comment_id}",
        }
        self.comments.setdefault(number, []).append(comment)
        return Response(json.dumps(comment), 201, content_type="application/json")

    def _update_comment(self, request: Request) -> Response:
        comment_id = int(request.path.split("/")[-1])
        for comment in itertools.chain.from_iterable(self.comments.values()):
            if comment["id"] == comment_id:
                comment["body"] = request.get_json()["body"]
                return Response(json.dumps(comment), 200, content_type="application/json")
        return Response('{"message": "Not Found"}', 404, content_type="application/json")

    def _pulls(self, request: Request) -> Response:
        sha = request.path.split("/")[-2]
        return Response(json.dumps(self.pulls_of.get(sha, [])), content_type="application/json")

    def _create_check_run(self, request: Request) -> Response:
        if (early := self._early("check-runs")) is not None:
            return early
        run = {**request.get_json(), "id": 90_000 + len(self.check_runs)}
        run["html_url"] = f"https://github.com/{REPO}/runs/{run['id']}"
        self.check_runs.append(run)
        return Response(json.dumps(run), 201, content_type="application/json")

    def _update_check_run(self, request: Request) -> Response:
        run_id = int(request.path.split("/")[-1])
        self.updates.append((run_id, request.get_json()))
        return Response(json.dumps({"id": run_id}), 200, content_type="application/json")


def refusal(status: int, message: str, **headers: str) -> Response:
    body = {"message": message, "documentation_url": "https://docs.github.com/rest"}
    return Response(json.dumps(body), status, headers, content_type="application/json")


@dataclass
class Gate:
    """The gate's reports for shop-1.5.0 in a repository checkout with cxe.yml in gate/."""

    workspace: Path
    config: Path
    report_json: Path
    report_markdown: Path
    env: dict[str, str] = field(default_factory=dict)

    def line_of(self, text: str) -> int:
        lines = self.config.read_text().splitlines()
        return next(i for i, line in enumerate(lines, 1) if text in line)


@pytest.fixture(scope="module")
def judged(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    workspace = tmp_path_factory.mktemp("repo")
    config = workspace / "gate" / "cxe.yml"
    config.parent.mkdir()
    config.write_text((SHOP / "cxe.yml").read_text().replace("data/", f"{SHOP / 'data'}/"))
    reports = tmp_path_factory.mktemp("reports")
    result = CliRunner().invoke(
        cli,
        [
            "evaluate", "-c", str(config), "--release", "shop-1.5.0",
            "--deployed-at", "2026-11-17T14:00:00Z",
            "-o", str(reports / "cxe-gate.json"), "-o", str(reports / "cxe-gate.md"),
        ],
    )  # fmt: skip
    assert result.exit_code == 1, result.output
    return workspace, reports / "cxe-gate.json", reports / "cxe-gate.md"


@pytest.fixture
def gate(
    judged: tuple[Path, Path, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    api_server: HTTPServer,
) -> Gate:
    workspace, report_json, report_markdown = judged
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"action": "synchronize", "pull_request": _pull(12, HEAD)}))
    for name in list(os.environ):
        if name.startswith(("GITHUB_", "CXE_GATE_")):
            monkeypatch.delenv(name)
    env = {
        "GITHUB_ACTIONS": "true",
        "GITHUB_REPOSITORY": REPO,
        "GITHUB_SHA": SHA,
        "GITHUB_SERVER_URL": "https://github.com",
        "GITHUB_RUN_ID": "777",
        "GITHUB_WORKSPACE": str(workspace),
        "GITHUB_EVENT_NAME": "pull_request",
        "GITHUB_EVENT_PATH": str(event),
        "CXE_GATE_GITHUB_TOKEN": TOKEN,
        "GITHUB_API_URL": api_server.url_for("/").rstrip("/"),
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(workspace / "gate")
    return Gate(workspace, workspace / "gate" / "cxe.yml", report_json, report_markdown, env)


def _pull(number: int, head: str, state: str = "open") -> dict[str, Any]:
    return {"number": number, "state": state, "head": {"sha": head, "ref": "feature"}}


def publish(
    gate: Gate,
    github: FakeGitHub,
    capsys: pytest.CaptureFixture[str],
    *args: str,
    report: Path | None = None,
    exit_code: int = 1,
) -> tuple[int, str]:
    assert os.environ["GITHUB_API_URL"] == github.url
    code = main(
        [
            "--exit-code", str(exit_code), "--config", "cxe.yml",
            "--report-json", str(report or gate.report_json), *args,
        ]
    )  # fmt: skip
    out = capsys.readouterr()
    return code, out.out + out.err


def warnings(log: str) -> list[str]:
    return [line for line in log.splitlines() if line.startswith("::warning ")]


# --- the comment -------------------------------------------------------------------------------


def test_the_first_run_posts_the_comment_and_the_second_edits_it_in_place(
    gate: Gate, api_server: HTTPServer, capsys: pytest.CaptureFixture[str]
) -> None:
    github = FakeGitHub(api_server)
    # 150 comments by people and other bots: ours will be the 151st, on page 2 of 100.
    github.comments[12] = [
        {"id": i, "body": f"looks good {i}", "user": {"login": "dev"}, "html_url": "x"}
        for i in range(1, 151)
    ]
    code, log = publish(gate, github, capsys, "--check-run", "false")
    assert code == 0 and warnings(log) == []
    (ours,) = [c for c in github.comments[12] if c["id"] > 150]
    markdown = gate.report_markdown.read_text()
    assert ours["body"] == f"{MARK}\n{markdown}"  # the report the gate wrote, under the marker
    assert f"commented on pull request #12: {ours['html_url']}" in log

    code, log = publish(gate, github, capsys, "--check-run", "false")
    assert code == 0 and warnings(log) == []
    assert len(github.comments[12]) == 151  # no second comment
    assert f"updated its comment on pull request #12: {ours['html_url']}" in log
    calls = [(r.method, r.path, r.query_string.decode()) for r, _ in api_server.log]
    # Each run: page 1, then page 2 through the Link header's URL as given.
    assert calls == [
        ("GET", "/repos/octo-org/shop/issues/12/comments", "per_page=100"),
        ("GET", "/repositories/4242/issues/12/comments", "per_page=100&page=2"),
        ("POST", "/repos/octo-org/shop/issues/12/comments", ""),
        ("GET", "/repos/octo-org/shop/issues/12/comments", "per_page=100"),
        ("GET", "/repositories/4242/issues/12/comments", "per_page=100&page=2"),
        ("PATCH", f"/repos/octo-org/shop/issues/comments/{ours['id']}", ""),
    ]
    for request, _ in api_server.log:
        assert request.headers["Authorization"] == f"Bearer {TOKEN}"
        assert request.headers["Accept"] == "application/vnd.github+json"
        assert request.headers["X-GitHub-Api-Version"] == "2022-11-28"


def test_a_missing_permission_is_a_warning_naming_it_and_the_token_never_shows(
    gate: Gate, api_server: HTTPServer, capsys: pytest.CaptureFixture[str]
) -> None:
    github = FakeGitHub(api_server)
    # A body echoing the token (no GitHub answer does; a proxy might): it must not reach the log.
    github.refuse["comments"] = refusal(403, f"Resource not accessible by integration ({TOKEN})")
    code, log = publish(gate, github, capsys)
    assert code == 0  # the step exits with the gate's code (1), which this never changes
    (warning,) = warnings(log)
    assert warning.startswith("::warning title=cxe-gate::cxe-gate could not comment on pull ")
    assert "403 FORBIDDEN: Resource not accessible by integration (***)" in warning
    assert "`permissions: pull-requests: write`" in warning
    assert "exit code are unchanged" in warning
    assert TOKEN not in log
    assert len(github.check_runs) == 1  # the check run does not depend on the comment


def test_the_token_never_follows_a_link_to_another_host(
    gate: Gate, api_server: HTTPServer, capsys: pytest.CaptureFixture[str]
) -> None:
    elsewhere = "http://198.51.100.7/repositories/4242/issues/12/comments?page=2"
    api_server.expect_request("/repos/octo-org/shop/issues/12/comments").respond_with_json(
        [], headers={"Link": f'<{elsewhere}>; rel="next"'}
    )
    code, log = publish(gate, FakeGitHub(api_server), capsys, "--check-run", "false")
    assert code == 0
    (warning,) = warnings(log)
    assert "next page is on another host: http://198.51.100.7" in warning
    assert len(api_server.log) == 1


def test_the_pull_request_of_a_pushed_commit_comes_from_the_commits_api(
    gate: Gate, api_server: HTTPServer, capsys: pytest.CaptureFixture[str]
) -> None:
    Path(gate.env["GITHUB_EVENT_PATH"]).write_text(json.dumps({"ref": "refs/heads/main"}))
    github = FakeGitHub(api_server)
    github.pulls_of[SHA] = [_pull(7, SHA, state="closed"), _pull(9, SHA)]
    code, log = publish(gate, github, capsys, "--check-run", "false")
    assert code == 0 and warnings(log) == []
    assert list(github.comments) == [9]  # the open one
    assert api_server.log[0][0].path == f"/repos/octo-org/shop/commits/{SHA}/pulls"


@pytest.mark.parametrize(("mode", "warned"), [("auto", False), ("always", True)])
def test_a_run_without_a_pull_request(
    gate: Gate,
    api_server: HTTPServer,
    capsys: pytest.CaptureFixture[str],
    mode: str,
    warned: bool,
) -> None:
    Path(gate.env["GITHUB_EVENT_PATH"]).write_text(json.dumps({"ref": "refs/heads/main"}))
    github = FakeGitHub(api_server)  # the commit belongs to no pull request
    code, log = publish(gate, github, capsys, "--comment", mode, "--check-run", "false")
    assert code == 0
    assert github.comments == {}
    assert bool(warnings(log)) is warned
    assert "no pull request" in log


def test_nothing_is_sent_without_a_token_or_with_both_turned_off(
    gate: Gate,
    api_server: HTTPServer,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    github = FakeGitHub(api_server)
    code, _ = publish(gate, github, capsys, "--comment", "never", "--check-run", "false")
    assert code == 0
    monkeypatch.setenv("CXE_GATE_GITHUB_TOKEN", "")
    code, log = publish(gate, github, capsys)
    assert code == 0 and warnings(log) == []
    assert api_server.log == []


def test_a_comment_over_githubs_limit_is_cut_at_a_line_and_says_where_the_rest_is() -> None:
    # 2,000 criteria-like blocks of 80 characters each: 162,000 characters with the fences.
    block = ["<details>", "<summary>q</summary>", "", "```", "x" * 80, "```", "", "</details>"]
    text = "\n".join(["## ❌ FAIL", "", *block * 2000])
    cut = fit(text, 65_536, RUN_URL)
    assert len(cut) <= 65_536
    kept, note = cut.split("\n\n> **This report was cut at a line boundary**")
    assert note.endswith(
        f"The whole report is in [the run's step summary]({RUN_URL}) and its artifacts."
    )
    assert f"it is {len(text):,} characters" in note
    kept_lines = kept.splitlines()
    # Everything kept is whole lines of the report, then what closes the blocks left open.
    assert text.startswith("\n".join(kept_lines[: len(kept_lines) - 3]))
    assert kept_lines.count("```") % 2 == 0
    assert kept_lines.count("<details>") == kept_lines.count("</details>")
    assert fit("short", 65_536, RUN_URL) == "short"


# --- the check run -----------------------------------------------------------------------------


def test_the_check_run_carries_the_verdict_and_the_annotations(
    gate: Gate, api_server: HTTPServer, capsys: pytest.CaptureFixture[str]
) -> None:
    github = FakeGitHub(api_server)
    code, log = publish(gate, github, capsys, "--comment", "never")
    assert code == 0 and warnings(log) == []
    report = json.loads(gate.report_json.read_text())
    message = {c["name"]: c["message"] for c in report["criteria"]}

    def annotation(name: str, verdict: str, level: str) -> dict[str, Any]:
        line = gate.line_of(f"- name: {name}")
        return {
            "path": "gate/cxe.yml",  # from the repository root, as GitHub shows files
            "start_line": line,
            "end_line": line,
            "annotation_level": level,
            "title": f"cxe-gate: {name} ({verdict})",
            "message": message[name],
        }

    # By hand: shop-1.5.0 fails conversion, error rate and latency (failure), NPS has too few
    # answers (notice); Apdex and wishlist pass and get none. The criteria file is gate/cxe.yml,
    # so the check is named after it; the check belongs on the pull request's head commit.
    (created,) = [json.loads(r.data) for r, _ in api_server.log if r.method == "POST"]
    assert created == {
        "name": "cxe-gate (gate/cxe.yml)",
        "head_sha": HEAD,
        "status": "completed",
        "conclusion": "failure",
        "details_url": RUN_URL,
        "output": {
            "title": "FAIL: release shop-1.5.0, score 22.2",
            "summary": gate.report_markdown.read_text(),
            "annotations": [
                annotation("checkout conversion", "fail", "failure"),
                annotation("API error rate", "fail", "failure"),
                annotation("checkout latency p95", "fail", "failure"),
                annotation("NPS", "inconclusive", "notice"),
            ],
        },
    }
    assert github.updates == []
    assert "check run 'cxe-gate (gate/cxe.yml)' concluded failure" in log


def test_more_than_50_annotations_are_sent_in_batches(
    gate: Gate,
    api_server: HTTPServer,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    report = json.loads(gate.report_json.read_text())
    failed = report["criteria"][0]
    report["criteria"] = [{**failed, "name": f"criterion {i:03}"} for i in range(120)]
    big = tmp_path / "big.json"
    big.write_text(json.dumps(report))
    # One criterion every 3 lines after "criteria:" on line 1: criterion i starts on line 2 + 3i.
    config = tmp_path / "repo" / "gate" / "cxe.yml"
    config.parent.mkdir(parents=True)
    config.write_text(
        "criteria:\n"
        + "".join(f"  - name: criterion {i:03}\n    metric: x\n    max: 1\n" for i in range(120))
    )
    monkeypatch.setenv("GITHUB_WORKSPACE", str(tmp_path / "repo"))
    monkeypatch.chdir(config.parent)
    github = FakeGitHub(api_server)
    code, log = publish(gate, github, capsys, "--comment", "never", report=big)
    assert code == 0 and warnings(log) == []
    (run,) = github.check_runs
    lines = [a["start_line"] for a in run["output"]["annotations"]]
    assert lines == [2 + 3 * i for i in range(50)]
    # 120 = 50 with the create + 50 + 20 appended by two updates of the same run.
    assert [run_id for run_id, _ in github.updates] == [run["id"], run["id"]]
    first, second = (body["output"] for _, body in github.updates)
    assert [a["start_line"] for a in first["annotations"]] == [2 + 3 * i for i in range(50, 100)]
    assert [a["start_line"] for a in second["annotations"]] == [2 + 3 * i for i in range(100, 120)]
    assert first["title"] == run["output"]["title"] and first["summary"] == run["output"]["summary"]
    assert {a["annotation_level"] for a in first["annotations"]} == {"failure"}


@pytest.mark.parametrize(
    ("verdict", "dry_run", "exit_code", "expected"),
    [
        ("pass", False, 0, "success"),
        ("warn", False, 0, "neutral"),
        ("warn", False, 1, "failure"),  # --fail-on warn failed the step
        ("inconclusive", False, 3, "action_required"),
        ("error", False, 4, "failure"),
        ("fail", True, 0, "neutral"),  # a dry run gates nothing
    ],
)
def test_the_conclusion_follows_the_verdict(
    gate: Gate,
    api_server: HTTPServer,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    verdict: str,
    dry_run: bool,
    exit_code: int,
    expected: str,
) -> None:
    report = {**json.loads(gate.report_json.read_text()), "verdict": verdict, "dry_run": dry_run}
    path = tmp_path / "report.json"
    path.write_text(json.dumps(report))
    github = FakeGitHub(api_server)
    code, _ = publish(gate, github, capsys, "--comment", "never", report=path, exit_code=exit_code)
    assert code == 0
    assert github.check_runs[0]["conclusion"] == expected


@pytest.mark.parametrize(
    "first",
    [
        refusal(502, "Server Error", **{"Retry-After": "0"}),
        refusal(403, "You have exceeded a secondary rate limit.", **{"Retry-After": "0"}),
        refusal(429, "Too many requests", **{"Retry-After": "0"}),
    ],
)
def test_a_server_error_or_rate_limit_is_retried(
    gate: Gate, api_server: HTTPServer, capsys: pytest.CaptureFixture[str], first: Response
) -> None:
    github = FakeGitHub(api_server)
    github.fail_first["check-runs"] = [first]
    code, log = publish(gate, github, capsys, "--comment", "never")
    assert code == 0 and warnings(log) == []
    assert len(github.check_runs) == 1
    assert [r.method for r, _ in api_server.log] == ["POST", "POST"]


def test_a_server_that_keeps_failing_is_a_warning_after_three_attempts(
    gate: Gate, api_server: HTTPServer, capsys: pytest.CaptureFixture[str]
) -> None:
    github = FakeGitHub(api_server)
    github.refuse["check-runs"] = refusal(503, "Unavailable", **{"Retry-After": "0"})
    code, log = publish(gate, github, capsys, "--comment", "never")
    assert code == 0
    (warning,) = warnings(log)
    assert "503 SERVICE UNAVAILABLE: Unavailable (after 3 attempts)" in warning
    assert "permissions" not in warning  # not a permission problem
    assert len(api_server.log) == 3
