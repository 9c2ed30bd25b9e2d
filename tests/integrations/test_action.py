"""The composite action (action.yml) without GitHub: its metadata checked against the action metadata
format, then its `run:` steps executed the way a runner executes them, on the example shop's logs.

The runner here evaluates `${{ }}` expressions (inputs, github, runner and step outputs, `||`), sets
INPUT_*, GITHUB_OUTPUT, GITHUB_STEP_SUMMARY, GITHUB_ACTION_PATH, GITHUB_WORKSPACE and RUNNER_TEMP to
temporary files and folders, and runs each bash step with `bash --noprofile --norc -eo pipefail` as
GitHub does. `uses:` steps (setup-python, cache) are skipped: this interpreter stands in for the
Python they set up. The `install` step is skipped too (it would reinstall this checkout from the
network over the editable install); a test checks what it would run instead."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from pytest_httpserver import HTTPServer

from cxe_gate.cli import main

ROOT = Path(__file__).resolve().parents[2]
ACTION = ROOT / "action.yml"
SHOP_DATA = ROOT / "examples" / "shop" / "data"
SHOP_CONFIG = ROOT / "examples" / "shop" / "cxe.yml"
SHA = "4f2c1e9d0b7a6c5d4e3f2a1b0c9d8e7f6a5b4c3d"
SECRET = "s3cr3t-provider-token-do-not-print"

# --- the action metadata format (docs.github.com: "Metadata syntax for GitHub Actions") ----------

TOP_KEYS = {"name", "author", "description", "inputs", "outputs", "runs", "branding"}
INPUT_KEYS = {"description", "required", "default", "deprecationMessage"}
STEP_KEYS = {
    "id",
    "name",
    "if",
    "run",
    "shell",
    "env",
    "working-directory",
    "uses",
    "with",
    "continue-on-error",
    "timeout-minutes",
}
BRANDING_COLORS = {
    "white",
    "black",
    "yellow",
    "blue",
    "green",
    "orange",
    "red",
    "purple",
    "gray-dark",
}
NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")
EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")
CONTEXT_REF = re.compile(r"^(inputs|github|runner|steps)\.([A-Za-z0-9_.-]+)$")


def load_action() -> dict[str, Any]:
    return yaml.safe_load(ACTION.read_text(encoding="utf-8"))


def metadata_problems(action: dict[str, Any]) -> list[str]:
    """The essential rules of the action metadata format, for a composite action."""
    problems = [f"unknown top-level key {k!r}" for k in set(action) - TOP_KEYS]
    problems += [f"missing {k!r}" for k in ("name", "description", "runs") if k not in action]
    for name, spec in (action.get("inputs") or {}).items():
        if not NAME.match(name):
            problems.append(f"input {name!r}: invalid id")
        if not isinstance(spec, dict) or not isinstance(spec.get("description"), str):
            problems.append(f"input {name!r}: needs a description")
            continue
        problems += [f"input {name!r}: unknown key {k!r}" for k in set(spec) - INPUT_KEYS]
        if "default" in spec and not isinstance(spec["default"], str):
            problems.append(f"input {name!r}: default must be a string")
        if "${{" in spec["description"]:
            # The runner evaluates descriptions too, before any context exists: the action would
            # not load ("Unrecognized named-value: 'github'").
            problems.append(f"input {name!r}: an expression in the description")
    for name, spec in (action.get("outputs") or {}).items():
        if not NAME.match(name) or not isinstance(spec, dict):
            problems.append(f"output {name!r}: invalid")
        elif set(spec) != {"description", "value"}:
            problems.append(f"output {name!r}: a composite output needs description and value")
    runs = action.get("runs") or {}
    if runs.get("using") != "composite":
        problems.append("runs.using must be composite")
    steps = runs.get("steps")
    if not isinstance(steps, list) or not steps:
        return [*problems, "runs.steps must be a non-empty list"]
    seen: set[str] = set()
    for i, step in enumerate(steps):
        where = f"step {step.get('id', i)!r}"
        problems += [f"{where}: unknown key {k!r}" for k in set(step) - STEP_KEYS]
        if ("run" in step) == ("uses" in step):
            problems.append(f"{where}: needs exactly one of run and uses")
        if "run" in step and "shell" not in step:
            problems.append(f"{where}: a run step needs shell")
        if "uses" in step and not re.match(r"^[\w.-]+/[\w./-]+@[\w.-]+$", step["uses"]):
            problems.append(f"{where}: uses must be owner/repo@ref")
        if "id" in step:
            if not NAME.match(step["id"]) or step["id"] in seen:
                problems.append(f"{where}: invalid or duplicate id")
            seen.add(step["id"])
    branding = action.get("branding") or {}
    if branding and branding.get("color") not in BRANDING_COLORS:
        problems.append(f"branding.color {branding.get('color')!r} is not allowed")
    return problems


def expressions(node: Any) -> list[str]:
    if isinstance(node, dict):
        return [e for value in node.values() for e in expressions(value)]
    if isinstance(node, list):
        return [e for value in node for e in expressions(value)]
    return EXPRESSION.findall(node) if isinstance(node, str) else []


def test_action_metadata_is_valid() -> None:
    assert metadata_problems(load_action()) == []


def test_the_checker_catches_mistakes() -> None:
    broken = load_action()
    broken["runs"] = {
        "using": "node20",
        "steps": [{"id": "a", "run": "true"}, {"id": "a", "uses": "x", "run": "y"}],
    }
    broken["inputs"]["config"] = {"default": 1}
    broken["inputs"]["release"] = {"description": "default ${{ github.sha }}"}
    broken["outputs"]["verdict"] = {"description": "no value"}
    problems = "\n".join(metadata_problems(broken))
    for expected in (
        "runs.using",
        "needs shell",
        "exactly one of run and uses",
        "duplicate id",
        "input 'config': needs a description",
        "input 'release': an expression in the description",
        "output 'verdict'",
    ):
        assert expected in problems


def test_action_declares_the_documented_inputs_and_outputs() -> None:
    action = load_action()
    assert set(action["inputs"]) == {
        "config",
        "release",
        "deployed-at",
        "wait",
        "interval",
        "fail-on",
        "on-inconclusive",
        "reports",
        "python-version",
        "working-directory",
        "extra-packages",
        "seed",
        "seed-output",
        "seed-mode",
        "github-token",
        "comment",
        "check-run",
    }
    assert action["inputs"]["release"]["default"] == "${{ github.sha }}"
    # No token, no calls to GitHub: a workflow opts in, and grants the permissions it needs.
    token = action["inputs"]["github-token"]
    assert token["default"] == ""
    for documented in ("github.token", "`pull-requests: write`", "`checks: write`"):
        assert documented in token["description"]
    assert action["inputs"]["comment"]["default"] == "auto"
    assert action["inputs"]["check-run"]["default"] == "true"
    assert set(action["outputs"]) == {
        "verdict",
        "score",
        "report-json",
        "report-html",
        "report-markdown",
    }


def test_every_expression_is_one_the_runner_can_evaluate() -> None:
    """Only contexts this test's runner emulates, only declared inputs, only earlier steps' ids;
    and `run:` scripts never paste an expression into shell text (inputs go through env)."""
    action = load_action()
    step_ids: list[str] = []
    for step in action["runs"]["steps"]:
        assert not EXPRESSION.search(step.get("run", "")), f"{step['id']}: expression in run"
        for expression in expressions(step):
            for operand in expression.split("||"):
                match = CONTEXT_REF.match(operand.strip())
                assert match, f"{step['id']}: cannot evaluate {expression!r}"
                context, rest = match.groups()
                if context == "inputs":
                    assert rest in action["inputs"]
                if context == "steps":
                    assert rest.split(".")[0] in step_ids
        step_ids.append(step.get("id", ""))
    for spec in action["outputs"].values():
        assert re.fullmatch(r"\$\{\{ steps\.gate\.outputs\.[\w-]+ \}\}", spec["value"])


@pytest.mark.parametrize(
    ("ref", "version"),
    [("v1.2.0", "1.2.0"), ("2.0", "2.0"), ("main", None), ("4f1c2d9e" * 5, None)],
)
def test_install_step_installs_this_checkout_pinned_and_versioned_by_its_tag(
    tmp_path: Path, ref: str, version: str | None
) -> None:
    """What the skipped step would do, run with a `python` that records how it was called: pip
    install from the action's own checkout with every dependency pinned by constraints.txt, the
    extra packages as separate requirements, and a tag ref as the version."""
    install = next(s for s in load_action()["runs"]["steps"] if s.get("id") == "install")
    assert install["env"]["ACTION_PATH"] == "${{ github.action_path }}"
    assert install["env"]["ACTION_REF"] == "${{ github.action_ref }}"
    fake = tmp_path / "bin" / "python"
    fake.parent.mkdir()
    fake.write_text(
        '#!/bin/sh\nprintf "%s\\n" "version=${SETUPTOOLS_SCM_PRETEND_VERSION-unset}" "$@"\n'
    )
    fake.chmod(0o755)
    env = {
        "PATH": f"{fake.parent}:{os.environ['PATH']}",
        "ACTION_PATH": "/actions/cxe-gate",
        "ACTION_REF": ref,
        "EXTRA_PACKAGES": "sqlalchemy psycopg[binary]",
    }
    ran = subprocess.run(
        ["bash", "-e", "-c", install["run"]], env=env, capture_output=True, text=True, check=True
    )
    assert ran.stdout.splitlines() == [
        f"version={version or 'unset'}",
        "-m", "pip", "install", "--disable-pip-version-check",
        "-c", "/actions/cxe-gate/constraints.txt",
        "/actions/cxe-gate", "sqlalchemy", "psycopg[binary]",
    ]  # fmt: skip


def test_every_third_party_action_is_pinned_by_commit() -> None:
    """A tag can be moved; a commit cannot. Ours (your-org/cxe-gate) is the user's to pin."""
    files = [ROOT / "action.yml", *sorted((ROOT / "examples" / "workflows").glob("*.yml"))]
    found = 0
    for path in files:
        for line in path.read_text().splitlines():
            used = re.search(r"uses:\s*([\w.-]+/[\w.-]+)@(\S+)", line)
            if used is None or used[1].endswith("/cxe-gate"):
                continue
            found += 1
            assert re.fullmatch(r"[0-9a-f]{40}", used[2]), f"{path.name}: {line.strip()}"
            assert re.search(r"#\s*v\d+(\.\d+)*$", line), f"{path.name}: say which tag: {line}"
    assert found >= 10


# --- a runner -----------------------------------------------------------------------------------


@dataclass
class Run:
    exit_code: int
    log: str
    outputs: dict[str, str]
    summary: str
    ran: list[str] = field(default_factory=list)

    def annotations(self, level: str) -> list[str]:
        return [line for line in self.log.splitlines() if line.startswith(f"::{level} ")]


def parse_outputs(text: str) -> dict[str, str]:
    outputs: dict[str, str] = {}
    lines = iter(text.splitlines())
    for line in lines:
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            name, delimiter = line.split("<<", 1)
            body_lines = []
            for body in lines:
                if body == delimiter:
                    break
                body_lines.append(body)
            outputs[name] = "\n".join(body_lines)
        elif "=" in line:
            name, value = line.split("=", 1)
            outputs[name] = value
    return outputs


def run_action(
    tmp_path: Path,
    inputs: dict[str, str],
    *,
    env: dict[str, str] | None = None,
    event: dict[str, Any] | None = None,
) -> Run:
    action = load_action()
    workspace, temp = tmp_path / "workspace", tmp_path / "runner-temp"
    workspace.mkdir(exist_ok=True)
    temp.mkdir(exist_ok=True)
    summary_file = tmp_path / "step-summary.md"
    summary_file.touch()
    contexts: dict[str, Any] = {
        "github": {
            "action_path": str(ROOT),
            "sha": SHA,
            "workspace": str(workspace),
            "event": event or {},
        },
        "runner": {"temp": str(temp), "os": "Linux"},
        "steps": {},
    }

    def evaluate(text: str) -> str:
        def one(match: re.Match[str]) -> str:
            for operand in match.group(1).split("||"):
                context, rest = CONTEXT_REF.match(operand.strip()).groups()  # type: ignore[union-attr]
                value: Any = contexts[context]
                for part in rest.split(".") if context != "inputs" else [rest]:
                    value = value.get(part, "") if isinstance(value, dict) else ""
                if value:
                    return str(value)
            return ""

        return EXPRESSION.sub(one, text)

    contexts["inputs"] = {}
    for name, spec in action["inputs"].items():
        contexts["inputs"][name] = inputs.get(name, evaluate(spec.get("default", "")))
    assert set(inputs) <= set(action["inputs"]), "an input the action does not declare"

    base_env = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "INPUT_"))}
    base_env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{base_env['PATH']}"
    base_env.update(env or {})
    base_env.update(
        {
            f"INPUT_{name.upper()}": value  # the runner keeps dashes: INPUT_FAIL-ON
            for name, value in contexts["inputs"].items()
        }
    )
    base_env.update(
        GITHUB_ACTION_PATH=str(ROOT),
        GITHUB_WORKSPACE=str(workspace),
        GITHUB_STEP_SUMMARY=str(summary_file),
        GITHUB_SHA=SHA,
        RUNNER_TEMP=str(temp),
        GITHUB_ACTIONS="true",
    )
    log: list[str] = []
    ran: list[str] = []
    exit_code = 0
    for index, step in enumerate(action["runs"]["steps"]):
        step_id = step.get("id", f"__{index}")
        if "uses" in step or step_id == "install":
            continue
        output_file = tmp_path / f"output-{step_id}"
        output_file.write_text("")
        script = tmp_path / f"step-{step_id}.sh"
        script.write_text(step["run"])
        step_env = {**base_env, "GITHUB_OUTPUT": str(output_file)}
        step_env.update({k: evaluate(str(v)) for k, v in (step.get("env") or {}).items()})
        cwd = workspace / evaluate(step.get("working-directory", "."))
        assert step["shell"] == "bash"
        done = subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)],
            cwd=cwd,
            env=step_env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        ran.append(step_id)
        log.append(done.stdout + done.stderr)
        contexts["steps"][step_id] = {"outputs": parse_outputs(output_file.read_text())}
        if done.returncode != 0:
            exit_code = done.returncode
            break
    outputs = {name: evaluate(spec["value"]) for name, spec in action["outputs"].items()}
    return Run(exit_code, "".join(log), outputs, summary_file.read_text(), ran)


# --- scenarios on the example shop's logs --------------------------------------------------------

SHOP_PROVIDER = f"""\
providers:
  shop:
    type: file
    events: {SHOP_DATA}/events.parquet
    requests: {SHOP_DATA}/requests.parquet
    feedback: {SHOP_DATA}/feedback.parquet
journeys:
  checkout: {{steps: [view_product, add_to_cart, begin_checkout, purchase], unit: session}}
"""
HEADER = """\
version: 1
release: {name: shop-1.4.0, deployed_at: 2026-11-10T14:00:00Z}
windows: {baseline: 24h, release: 2h}
gate: {pass_score: 90, warn_score: 50}
"""
CONVERSION = """\
  - name: checkout conversion
    metric: conversion
    journey: checkout
    max_drop: 10%
"""
# shop-1.4.0's checkout p95 is about 400 ms: a 1 ms bound is breached, and it only warns.
WARN_CRITERIA = (
    CONVERSION
    + """\
  - name: checkout latency p95
    metric: latency
    percentile: 95
    filter: "route = '/checkout'"
    max: 1ms
    severity: warn
"""
)
# About 1,100 checkout sessions in the release window: far too few for this.
INCONCLUSIVE_CRITERIA = CONVERSION + "    min_samples: 1000000\n"


def gate_dir(tmp_path: Path, config: str) -> Path:
    """The criteria file in `workspace/gate/`, as a repository with it in a subfolder has it."""
    directory = tmp_path / "workspace" / "gate"
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "cxe.yml").write_text(config)
    return directory / "cxe.yml"


def shop_config(tmp_path: Path) -> Path:
    return gate_dir(tmp_path, SHOP_CONFIG.read_text().replace("data/", f"{SHOP_DATA}/"))


def line_of(config: Path, text: str) -> int:
    return next(i for i, line in enumerate(config.read_text().splitlines(), 1) if text in line)


# shop-1.4.0's deploy: the action needs the deploy time of the release it judges.
GATE_INPUTS = {
    "working-directory": "gate",
    "config": "cxe.yml",
    "deployed-at": "2026-11-10T14:00:00Z",
}


def test_a_passing_release(tmp_path: Path) -> None:
    shop_config(tmp_path)
    run = run_action(tmp_path, {**GATE_INPUTS, "release": "shop-1.4.0"}, env={"SHOP_TOKEN": SECRET})
    assert run.exit_code == 0, run.log
    assert run.ran == ["inputs", "cache-key", "seed", "gate"]
    assert run.outputs["verdict"] == "pass"
    assert run.outputs["score"] == "100"
    assert run.annotations("error") == run.annotations("warning") == []
    report = json.loads(Path(run.outputs["report-json"]).read_text())
    assert report["verdict"] == "pass" and report["release"]["name"] == "shop-1.4.0"
    assert Path(run.outputs["report-html"]).read_text().startswith("<!DOCTYPE html>")
    assert Path(run.outputs["report-markdown"]).read_text() in run.summary
    assert "## ✅ PASS: release shop-1.4.0" in run.summary
    # reports go to the runner's temp folder, not into the repository being gated
    assert Path(run.outputs["report-json"]).is_relative_to(tmp_path / "runner-temp")
    assert SECRET not in run.log + run.summary + json.dumps(run.outputs)


def test_a_failing_release_annotates_each_failed_criterion_at_its_line(tmp_path: Path) -> None:
    config = shop_config(tmp_path)
    run = run_action(
        tmp_path,
        {**GATE_INPUTS, "release": "shop-1.5.0", "deployed-at": "2026-11-17T14:00:00Z"},
    )
    assert run.exit_code == 1, run.log
    assert run.outputs["verdict"] == "fail"
    assert run.outputs["score"] == "22.2"
    errors = run.annotations("error")
    assert len(errors) == 3
    conversion = line_of(config, "- name: checkout conversion")
    assert errors[0].startswith(
        f"::error file=gate/cxe.yml,line={conversion},title=cxe-gate%3A checkout conversion (fail)::"
        # `%` is escaped as GitHub's workflow commands require; the log shows the decoded text
        "checkout conversion fell 42.7%25 (25.2%25 → 14.4%25) on 928 units"
    )
    assert f"line={line_of(config, '- name: API error rate')}," in errors[1]
    assert f"line={line_of(config, '- name: checkout latency p95')}," in errors[2]
    notices = run.annotations("notice")  # NPS: too few answers
    assert len(notices) == 1 and "NPS (inconclusive)" in notices[0]
    assert "## ❌ FAIL: release shop-1.5.0" in run.summary
    assert "key criterion failed: checkout conversion, API error rate" in run.summary


def test_the_release_defaults_to_the_commit_sha(tmp_path: Path) -> None:
    shop_config(tmp_path)
    run = run_action(tmp_path, GATE_INPUTS)
    assert run.exit_code == 0, run.log
    assert json.loads(Path(run.outputs["report-json"]).read_text())["release"]["name"] == SHA


def test_the_deploy_time_is_required_so_no_stale_window_is_judged(tmp_path: Path) -> None:
    shop_config(tmp_path)
    inputs = {k: v for k, v in GATE_INPUTS.items() if k != "deployed-at"}
    run = run_action(tmp_path, inputs)
    assert run.exit_code == 1
    assert run.ran == ["inputs"]
    (error,) = run.annotations("error")
    assert "input 'deployed-at' is required" in error


def test_the_deploy_time_comes_from_the_deployment_that_triggered_the_workflow(
    tmp_path: Path,
) -> None:
    shop_config(tmp_path)
    inputs = {k: v for k, v in GATE_INPUTS.items() if k != "deployed-at"}
    # The deployment_status webhook payload: the status's own time is when the deploy finished.
    event = {
        "deployment_status": {"state": "success", "created_at": "2026-11-10T14:00:00Z"},
        "deployment": {"created_at": "2026-11-10T13:52:10Z"},
    }
    run = run_action(tmp_path, inputs, event=event)
    assert run.exit_code == 0, run.log
    report = json.loads(Path(run.outputs["report-json"]).read_text())
    assert report["release"]["deployed_at"] == "2026-11-10T14:00:00Z"
    # The step summary says which windows were judged.
    assert "**release window** 2026-11-10 14:00 UTC → 2026-11-10 16:00 UTC" in run.summary


def test_on_inconclusive_reaches_the_gate(tmp_path: Path) -> None:
    gate_dir(tmp_path, HEADER + SHOP_PROVIDER + "criteria:\n" + INCONCLUSIVE_CRITERIA)
    run = run_action(tmp_path, {**GATE_INPUTS, "on-inconclusive": "warn"})
    assert run.exit_code == 0, run.log
    assert run.outputs["verdict"] == "warn"
    assert "accepted by on_inconclusive: warn: checkout conversion" in run.log
    bad = run_action(tmp_path, {**GATE_INPUTS, "on-inconclusive": "maybe"})
    assert bad.exit_code == 1 and bad.ran == ["inputs"]


def test_a_warned_release_passes_unless_fail_on_warn(tmp_path: Path) -> None:
    config = gate_dir(tmp_path, HEADER + SHOP_PROVIDER + "criteria:\n" + WARN_CRITERIA)
    run = run_action(tmp_path, {**GATE_INPUTS, "reports": "json,md,xml"})
    assert run.exit_code == 0, run.log
    assert run.outputs["verdict"] == "warn"
    assert run.outputs["score"] == "75"
    assert run.outputs["report-html"] == ""  # not asked for
    assert (Path(run.outputs["report-json"]).parent / "cxe-gate.xml").is_file()
    (warning,) = run.annotations("warning")
    assert warning.startswith(
        f"::warning file=gate/cxe.yml,line={line_of(config, '- name: checkout latency p95')},"
        "title=cxe-gate%3A checkout latency p95 (warn)::"
    )
    assert run.annotations("error") == []
    assert "WARN" in run.summary

    strict = run_action(tmp_path, {**GATE_INPUTS, "fail-on": "warn"})
    assert strict.exit_code == 1, strict.log
    assert strict.outputs["verdict"] == "warn"


def test_an_inconclusive_release_exits_3(tmp_path: Path) -> None:
    gate_dir(tmp_path, HEADER + SHOP_PROVIDER + "criteria:\n" + INCONCLUSIVE_CRITERIA)
    run = run_action(tmp_path, GATE_INPUTS)
    assert run.exit_code == 3, run.log
    assert run.outputs["verdict"] == "inconclusive"
    assert run.outputs["score"] == ""
    (notice,) = run.annotations("notice")
    assert "too few to judge (min_samples 1,000,000)" in notice
    assert run.annotations("error") == []
    assert "INCONCLUSIVE" in run.summary


@pytest.mark.parametrize(
    ("inputs", "message"),
    [
        ({"interval": "5m"}, "input 'interval' needs 'wait'"),
        ({"seed-mode": "ui"}, "input 'seed-mode' must be 'browser' or 'api'"),
        ({"fail-on": "never"}, "input 'fail-on' must be 'fail' or 'warn'"),
        ({"comment": "sometimes"}, "input 'comment' must be 'auto', 'always' or 'never'"),
        ({"check-run": "yes"}, "input 'check-run' must be 'true' or 'false'"),
    ],
)
def test_unsupported_inputs_fail_before_the_gate_runs(
    tmp_path: Path, inputs: dict[str, str], message: str
) -> None:
    shop_config(tmp_path)
    run = run_action(tmp_path, {**GATE_INPUTS, **inputs})
    assert run.exit_code == 1
    assert run.ran == ["inputs"]
    (error,) = run.annotations("error")
    assert message in error
    assert run.outputs["verdict"] == ""


def test_the_github_inputs_reach_the_step_through_env() -> None:
    steps = {s["id"]: s for s in load_action()["runs"]["steps"] if "id" in s}
    for step in ("inputs", "gate"):
        assert steps[step]["env"]["COMMENT"] == "${{ inputs.comment }}"
        assert steps[step]["env"]["CHECK_RUN"] == "${{ inputs.check-run }}"
    assert steps["gate"]["env"]["CXE_GATE_GITHUB_TOKEN"] == "${{ inputs.github-token }}"
    assert '--comment "$COMMENT" --check-run "$CHECK_RUN"' in steps["gate"]["run"]
    assert "CXE_GATE_GITHUB_TOKEN" not in steps["inputs"]["env"]


TOKEN = "ghs_n0tAr3alT0k3nButL00ksL1k3One"
PR_HEAD = "9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e0d"


@pytest.mark.parametrize("granted", [True, False])
def test_the_report_goes_to_the_pull_request_and_a_check_run(
    tmp_path: Path, api_server: HTTPServer, granted: bool
) -> None:
    """With `github-token`, against a fake GitHub on 127.0.0.1 (test_github_api.py has the REST
    shapes): one comment and one check run; without the permissions, two warnings. Either way the
    step exits 1, the regressed release's code."""
    shop_config(tmp_path)
    comments = "/repos/octo-org/shop/issues/12/comments"
    refused = {"message": "Resource not accessible by integration"}
    api_server.expect_request(comments, method="GET").respond_with_json(
        [] if granted else refused, status=200 if granted else 403
    )
    if granted:
        api_server.expect_request(comments, method="POST").respond_with_json(
            {"id": 1, "html_url": "https://github.com/octo-org/shop/pull/12#issuecomment-1"}, 201
        )
    api_server.expect_request("/repos/octo-org/shop/check-runs", method="POST").respond_with_json(
        {"id": 2, "html_url": "https://github.com/octo-org/shop/runs/2"} if granted else refused,
        201 if granted else 403,
    )
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"pull_request": {"number": 12, "head": {"sha": PR_HEAD}}}))
    run = run_action(
        tmp_path,
        {
            **GATE_INPUTS,
            "release": "shop-1.5.0",
            "deployed-at": "2026-11-17T14:00:00Z",
            "github-token": TOKEN,
        },
        env={
            "GITHUB_API_URL": api_server.url_for("/").rstrip("/"),
            "GITHUB_REPOSITORY": "octo-org/shop",
            "GITHUB_EVENT_PATH": str(event),
        },
    )
    assert run.exit_code == 1, run.log
    assert run.outputs["verdict"] == "fail"
    assert TOKEN not in run.log + run.summary
    sent = {(r.method, r.path): r for r, _ in api_server.log}
    assert all(r.headers["Authorization"] == f"Bearer {TOKEN}" for r in sent.values())
    checked = json.loads(sent["POST", "/repos/octo-org/shop/check-runs"].data)
    assert (checked["name"], checked["head_sha"]) == ("cxe-gate (gate/cxe.yml)", PR_HEAD)
    assert checked["conclusion"] == "failure"
    if granted:
        body = json.loads(sent["POST", comments].data)["body"]
        assert body.startswith("<!-- cxe-gate:gate/cxe.yml -->\n## ❌ FAIL: release shop-1.5.0")
        assert "commented on pull request #12" in run.log
        assert "check run 'cxe-gate (gate/cxe.yml)' concluded failure" in run.log
        assert run.annotations("warning") == []
    else:
        comment, check = run.annotations("warning")
        assert "`permissions: pull-requests: write`" in comment
        assert "`permissions: checks: write`" in check


def test_the_gate_itself_never_sees_the_token(tmp_path: Path) -> None:
    """Only the publishing step gets it: a stand-in `cxe-gate` says what it was given."""
    shop_config(tmp_path)
    fake = tmp_path / "bin" / "cxe-gate"
    fake.parent.mkdir()
    fake.write_text('#!/bin/sh\necho "gate saw token: ${CXE_GATE_GITHUB_TOKEN:-none}"\nexit 4\n')
    fake.chmod(0o755)
    path = os.pathsep.join([str(fake.parent), str(Path(sys.executable).parent), os.environ["PATH"]])
    run = run_action(tmp_path, {**GATE_INPUTS, "github-token": TOKEN}, env={"PATH": path})
    assert run.exit_code == 4
    assert "gate saw token: none" in run.log
    assert TOKEN not in run.log


def test_wait_and_interval_reach_the_gate(tmp_path: Path) -> None:
    """The regressed release's window closed long ago: the first poll settles it, and the report
    keeps that poll."""
    shop_config(tmp_path)
    run = run_action(
        tmp_path,
        {
            **GATE_INPUTS,
            "release": "shop-1.5.0",
            "deployed-at": "2026-11-17T14:00:00Z",
            "wait": "2h",
            "interval": "5m",
        },
    )
    assert run.exit_code == 1, run.log
    assert run.ran == ["inputs", "cache-key", "seed", "gate"]
    assert run.outputs["verdict"] == "fail"
    assert "poll 1 at 2026-" in run.log  # the live display, one line per poll in a CI log
    report = json.loads(Path(run.outputs["report-json"]).read_text())
    assert report["wait"]["wait"] == "2h" and report["wait"]["interval"] == "5m"
    assert report["wait"]["stopped"] == "regression"
    assert len(report["polls"]) == 1
    assert "### Polls" in run.summary


def test_a_wait_the_gate_cannot_read_is_a_usage_error(tmp_path: Path) -> None:
    shop_config(tmp_path)
    run = run_action(tmp_path, {**GATE_INPUTS, "wait": "2 hours", "interval": "5m"})
    assert run.exit_code == 2, run.log
    assert "expected a duration such as" in run.log
    assert any("without writing a report" in e for e in run.annotations("error"))


def test_a_broken_criteria_file_exits_2_and_says_there_is_no_report(tmp_path: Path) -> None:
    gate_dir(tmp_path, HEADER + SHOP_PROVIDER + "criteria:\n  - {name: x, metric: conversion}\n")
    run = run_action(tmp_path, GATE_INPUTS)
    assert run.exit_code == 2, run.log
    assert "cxe.yml" in run.log  # the gate's own message, with the file
    assert any("without writing a report" in e for e in run.annotations("error"))
    assert run.outputs["verdict"] == ""


def test_an_unknown_report_format_is_a_usage_error(tmp_path: Path) -> None:
    shop_config(tmp_path)
    run = run_action(tmp_path, {**GATE_INPUTS, "reports": "json pdf"})
    assert run.exit_code == 2
    assert any("unknown report format 'pdf'" in e for e in run.annotations("error"))


# --- the examples -------------------------------------------------------------------------------


def test_the_example_workflow_uses_only_declared_inputs_and_outputs() -> None:
    action = load_action()
    workflow = yaml.safe_load((ROOT / "examples" / "workflows" / "deploy-and-gate.yml").read_text())
    (gate,) = [s for s in workflow["jobs"]["gate"]["steps"] if s.get("id") == "gate"]
    assert set(gate["with"]) <= set(action["inputs"])
    text = (ROOT / "examples" / "workflows" / "deploy-and-gate.yml").read_text()
    for output in re.findall(r"steps\.gate\.outputs\.([\w-]+)", text):
        assert output in action["outputs"]
    assert "secrets." not in json.dumps(gate["with"])  # secrets go through env only


@pytest.mark.parametrize(
    ("env", "code", "message"),
    [
        ({}, 0, "release passed"),
        (
            {"RELEASE": "shop-1.5.0", "DEPLOYED_AT": "2026-11-17T14:00:00Z"},
            1,
            "release FAILED",
        ),
    ],
)
def test_the_plain_shell_step(tmp_path: Path, env: dict[str, str], code: int, message: str) -> None:
    done = subprocess.run(
        ["bash", str(ROOT / "examples" / "ci-shell.sh")],
        cwd=tmp_path,
        env={**os.environ, "CXE_CONFIG": str(SHOP_CONFIG), "CXE_REPORTS": "out", **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == code, done.stderr
    assert message in done.stdout + done.stderr
    assert {p.name for p in (tmp_path / "out").iterdir()} == {
        "report.html",
        "report.md",
        "report.json",
        "junit.xml",
    }


def test_seed_writes_a_suite_before_the_gate(tmp_path: Path) -> None:
    from har_producers import write_all

    shop_config(tmp_path)
    hars = tmp_path / "workspace" / "gate" / "hars"
    hars.mkdir()
    write_all(hars)
    run = run_action(
        tmp_path,
        {**GATE_INPUTS, "release": "shop-1.4.0", "seed": "hars/*.har", "seed-mode": "api"},
        env={"SHOP_TOKEN": SECRET},
    )
    assert run.exit_code == 0, run.log
    assert run.ran.index("seed") < run.ran.index("gate")
    suite = tmp_path / "workspace" / "gate" / "tests" / "seeded"
    tests = (suite / "test_journeys.py").read_text("utf-8")
    compile(tests, "test_journeys.py", "exec")
    assert "def test_home_products_checkout_post_checkout_orders(" in tests
    assert "SEEDED_MODE = 'api'" in (suite / "conftest.py").read_text("utf-8")


def test_no_example_mentions_the_projects_own_issues_or_a_feature_to_come() -> None:
    """Examples are pasted into other projects' CI: they must work as written today."""
    examples = [*sorted((ROOT / "examples").rglob("*.yml")), ROOT / "examples" / "ci-shell.sh"]
    stale_phrases = ("issue ", "not available yet", "no polling", "cannot poll", "until cxe-gate")
    for example in examples:
        text = example.read_text().lower()
        for stale in stale_phrases:
            assert stale not in text, f"{example.relative_to(ROOT)} says {stale!r}"


def test_the_example_workflows_poll_with_options_that_exist() -> None:
    action = load_action()
    workflow = yaml.safe_load((ROOT / "examples" / "workflows" / "deploy-and-gate.yml").read_text())
    (gate,) = [s for s in workflow["jobs"]["gate"]["steps"] if s.get("id") == "gate"]
    assert {"wait", "interval"} <= set(action["inputs"]) and gate["with"]["wait"] == "2h"
    gitlab = yaml.safe_load((ROOT / "examples" / "gitlab-ci.yml").read_text())
    command = " ".join(gitlab["cxe-gate"]["script"])
    assert "--wait 2h" in command and "start_in" not in gitlab["cxe-gate"]
    # The options the GitLab job passes are the CLI's own.
    result = CliRunner().invoke(main, ["evaluate", "--help"])
    for option in re.findall(r"(--[a-z-]+)", command.split("cxe-gate evaluate", 1)[1]):
        assert option in result.output, option
