"""Finding the releases to judge at a checkpoint from GitHub's deployments API: a loopback server
answers in the REST shape (GET /repos/{owner}/{repo}/deployments?environment=production, newest
first, 100 a page, and each deployment's /statuses, newest first), and
`python -m cxe_gate.deployments` prints the releases that went live in the span asked for."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from pytest_httpserver import HTTPServer

from cxe_gate.cli import main as cli_main
from cxe_gate.cli.scorecard_command import scorecard
from cxe_gate.deployments import main

REPO = "shop/web"
BASE = f"/repos/{REPO}"
NOW = datetime.now(UTC).replace(microsecond=0)


def stamp(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def ago(hours: float) -> datetime:
    return NOW - timedelta(hours=hours)


def deployment(id_: int, ref: str, created: datetime) -> dict[str, Any]:
    # The fields of GitHub's deployment object this lookup reads, among others it ignores.
    return {
        "id": id_,
        "sha": f"{id_:040x}",
        "ref": ref,
        "task": "deploy",
        "environment": "production",
        "created_at": stamp(created),
        "updated_at": stamp(created),
        "statuses_url": f"https://api.github.com{BASE}/deployments/{id_}/statuses",
    }


def status(state: str, created: datetime) -> dict[str, Any]:
    return {"state": state, "created_at": stamp(created), "environment": "production"}


def serve(server: HTTPServer) -> None:
    """A day's worth of deployments on page 1 (100, all younger than 24 h: none is asked about),
    and on page 2 (newest first):
    - 103 v2.4.1, created 30 h ago, failed 29.5 h ago: never live;
    - 102 v2.4.0, created 40 h ago, live (success) 39.5 h ago, made inactive by a newer release
      10 h ago: live for 29.5 h, more than 24 h — judged;
    - 101 v2.3.9, live 44 h ago, rolled back (failure) 43 h ago: live for 1 h — not judged;
    - 100 v2.3.8, live 50 h ago: before the span (24–48 h ago)."""
    page1 = [deployment(1000 + i, f"v3.0.{i}", ago(3 + i * 0.2)) for i in range(100)]
    page2 = [
        deployment(103, "v2.4.1", ago(30)),
        deployment(102, "v2.4.0", ago(40)),
        deployment(101, "v2.3.9", ago(44.5)),
        deployment(100, "v2.3.8", ago(50.5)),
    ]
    query = {"environment": "production", "per_page": "100"}
    server.expect_request(
        f"{BASE}/deployments", query_string={**query, "page": "1"}
    ).respond_with_json(page1)
    server.expect_request(
        f"{BASE}/deployments", query_string={**query, "page": "2"}
    ).respond_with_json(page2)
    statuses = {
        103: [status("failure", ago(29.5)), status("in_progress", ago(30))],
        102: [status("inactive", ago(10)), status("success", ago(39.5)), status("queued", ago(40))],
        101: [status("failure", ago(43)), status("success", ago(44))],
        100: [status("success", ago(50))],
    }
    for id_, answer in statuses.items():
        server.expect_request(
            f"{BASE}/deployments/{id_}/statuses", query_string={"per_page": "100"}
        ).respond_with_json(answer)


def test_the_releases_live_in_the_span_are_printed(
    api_server: HTTPServer, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
):
    serve(api_server)
    monkeypatch.setenv("GITHUB_TOKEN", "ghs_loopbacktoken")
    code = main(
        [
            "--repo",
            REPO,
            "--older-than",
            "24h",
            "--younger-than",
            "48h",
            "--api-url",
            api_server.url_for("/"),
        ],
        now=NOW,
    )
    out, err = capsys.readouterr()
    assert (code, err) == (0, "")
    # Only v2.4.0: live 39.5 h ago, for longer than 24 h.
    assert out == f"v2.4.0 {stamp(ago(39.5))}\n"
    requests = [request for request, _ in api_server.log]
    assert all(r.headers["Authorization"] == "Bearer ghs_loopbacktoken" for r in requests)
    assert all(r.headers["X-GitHub-Api-Version"] == "2022-11-28" for r in requests)
    # Two pages of deployments and the statuses of the four old enough: none of page 1's.
    assert sorted(r.path for r in requests if "statuses" in r.path) == [
        f"{BASE}/deployments/{i}/statuses" for i in (100, 101, 102, 103)
    ]


def test_a_release_replaced_before_its_checkpoint_is_left_out(
    api_server: HTTPServer, capsys: pytest.CaptureFixture[str]
):
    serve(api_server)
    # At 30 h, v2.4.0 (live 39.5 h ago, replaced 10 h ago: 29.5 h live) is left out; nothing
    # else went live 30–48 h ago and stayed live.
    code = main(
        [
            "--repo",
            REPO,
            "--older-than",
            "30h",
            "--younger-than",
            "48h",
            "--api-url",
            api_server.url_for("/"),
        ],
        now=NOW,
    )
    assert (code, capsys.readouterr().out) == (0, "")


def test_the_module_runs_as_a_command(api_server: HTTPServer):
    serve(api_server)
    env = {**os.environ, "GITHUB_REPOSITORY": REPO, "GITHUB_API_URL": api_server.url_for("/")}
    env.pop("GITHUB_TOKEN", None)
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "cxe_gate.deployments",
            "--older-than",
            "24h",
            "--younger-than",
            "2d",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    # The real clock has moved on by seconds since NOW: v2.4.0's time is still 39.5 h before NOW.
    assert done.stdout == f"v2.4.0 {stamp(ago(39.5))}\n"
    assert all("Authorization" not in r.headers for r, _ in api_server.log)


def test_an_api_error_is_one_line_and_exit_4(
    api_server: HTTPServer, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("GITHUB_TOKEN", "ghs_wrong")
    api_server.expect_request(f"{BASE}/deployments").respond_with_json(
        {"message": "Bad credentials", "documentation_url": "https://docs.github.com/rest"},
        status=401,
    )
    code = main(
        [
            "--repo",
            REPO,
            "--older-than",
            "24h",
            "--younger-than",
            "48h",
            "--api-url",
            api_server.url_for("/"),
        ],
        now=NOW,
    )
    out, err = capsys.readouterr()
    assert (code, out) == (4, "")
    assert err == (
        f"cxe_gate.deployments: GET {api_server.url_for('/')}repos/{REPO}/deployments: "
        "HTTP 401 Bad credentials\n"
    )
    assert "ghs_wrong" not in err


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (
            ["--repo", "shop", "--older-than", "1d", "--younger-than", "2d"],
            "--repo must be OWNER/NAME",
        ),
        (
            ["--repo", REPO, "--older-than", "2d", "--younger-than", "1d"],
            "--younger-than must be longer",
        ),
        (["--repo", REPO, "--older-than", "soon", "--younger-than", "1d"], "expected a duration"),
    ],
)
def test_wrong_options_are_usage_errors(
    argv: list[str], expected: str, capsys: pytest.CaptureFixture[str]
):
    with pytest.raises(SystemExit) as exited:
        main(argv, now=NOW)
    assert exited.value.code == 2
    assert expected in capsys.readouterr().err


# --- the example workflow -------------------------------------------------------------------------

WORKFLOW = Path(__file__).parents[2] / "examples" / "workflows" / "checkpoints.yml"


def step(job: str, id_or_name: str) -> dict[str, Any]:
    workflow = yaml.safe_load(WORKFLOW.read_text())
    steps = workflow["jobs"][job]["steps"]
    return next(s for s in steps if id_or_name in (s.get("id"), s.get("name")))


def test_the_example_workflow_finds_the_releases_due(api_server: HTTPServer, tmp_path: Path):
    serve(api_server)
    output = tmp_path / "github_output"
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "GITHUB_OUTPUT": str(output),
        "GITHUB_REPOSITORY": REPO,
        "GITHUB_API_URL": api_server.url_for("/"),
        "GITHUB_TOKEN": "ghs_loopbacktoken",
    }
    done = subprocess.run(
        ["bash", "-e", "-o", "pipefail", "-c", step("find", "find")["run"]],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    # v2.4.0 is due at day1 (live 39.5 h ago, for more than 24 h); nothing went live 7–8 days ago.
    (line,) = output.read_text().splitlines()
    assert line.startswith("due=")
    assert json.loads(line.removeprefix("due=")) == [
        {"release": "v2.4.0", "deployed-at": stamp(ago(39.5)), "checkpoint": "day1"}
    ]


def test_the_example_workflow_uses_options_that_exist():
    judge = step("judge", "judge")["run"]
    evaluate_help = CliRunner().invoke(cli_main, ["evaluate", "--help"]).output
    command = judge.split("cxe-gate evaluate", 1)[1].split("||", 1)[0]
    assert "--checkpoint" in command
    for option in re.findall(r"(--[a-z-]+)", command):
        assert option in evaluate_help, option
    scorecard_run = step("judge", "Scorecard")["run"]
    scorecard_help = CliRunner().invoke(scorecard, ["--help"]).output
    assert "cxe-gate scorecard reports/*.json" in scorecard_run
    for option in re.findall(r" (-o|--[a-z-]+)", scorecard_run.split("cxe-gate scorecard", 1)[1]):
        assert option in scorecard_help, option
