"""The container image and the integrations that run it: the Dockerfile's shape (slim Python, a
non-root user, the `cxe-gate` entrypoint; its install command is run for real by test_wheel.py),
and the Argo Rollouts AnalysisTemplate and GitLab job, each run as written against the example
shop: what Argo's Job or GitLab would execute must judge the good release 0 and the regressed one 1."""

from __future__ import annotations

import json
import re
import shutil
import tomllib
from pathlib import Path

import yaml
from click.testing import CliRunner

from cxe_gate.cli import main

ROOT = Path(__file__).resolve().parents[2]
SHOP = ROOT / "examples" / "shop"
GOOD = ("shop-1.4.0", "2026-11-10T14:00:00Z")
REGRESSED = ("shop-1.5.0", "2026-11-17T14:00:00Z")


def instructions(dockerfile: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) in order, continuation lines joined, comments left out."""
    joined = re.sub(r"\\\n", " ", dockerfile.read_text())
    found = []
    for raw in joined.splitlines():
        line = raw.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            found.append((word.upper(), " ".join(rest.split())))
    return found


def final_stage(steps: list[tuple[str, str]]) -> list[tuple[str, str]]:
    last = max(i for i, (word, _) in enumerate(steps) if word == "FROM")
    return steps[last:]


def test_the_image_is_slim_python_run_as_a_user_with_the_gate_as_entrypoint():
    stage = final_stage(instructions(ROOT / "Dockerfile"))
    assert stage[0] == ("FROM", "python:3.11-slim")
    (user,) = [rest for word, rest in stage if word == "USER"]
    assert user.isdigit() and int(user) >= 1000  # numeric: Kubernetes' runAsNonRoot can check it
    assert json.loads(dict(stage)["ENTRYPOINT"]) == ["cxe-gate"]
    assert f"useradd --create-home --uid {user}" in dict(stage)["RUN"]
    # Dependencies pinned like the action's, with extras that exist.
    install = dict(stage)["RUN"]
    assert "-c /tmp/constraints.txt" in install
    extras = re.search(r'\[([\w,]+)\]"', install)[1].split(",")
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert set(extras) <= set(declared["optional-dependencies"]) and "browser" not in extras
    for word, rest in instructions(ROOT / "Dockerfile"):
        if word == "COPY" and not rest.startswith("--from"):
            for source in rest.split()[:-1]:
                assert source == "." or (ROOT / source).exists(), source
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert ".git" in ignored and "tests/" in ignored


def criteria_mount(tmp_path: Path) -> Path:
    """What the ConfigMap mounts: the criteria file (here the example shop's, with its data)."""
    mount = tmp_path / "criteria"
    shutil.copytree(SHOP / "data", mount / "data")
    shutil.copy(SHOP / "cxe.yml", mount / "cxe.yml")
    return mount


def test_the_argo_analysis_runs_the_gate_and_fails_on_a_regression(tmp_path: Path):
    template = yaml.safe_load((ROOT / "examples" / "argo" / "analysis-template.yml").read_text())
    assert (template["apiVersion"], template["kind"]) == (
        "argoproj.io/v1alpha1",
        "AnalysisTemplate",
    )
    (metric,) = template["spec"]["metrics"]
    job = metric["provider"]["job"]["spec"]
    assert job["backoffLimit"] == 0 and metric["failureLimit"] == 0  # one failed gate fails it
    pod = job["template"]["spec"]
    assert pod["restartPolicy"] == "Never" and pod["securityContext"]["runAsNonRoot"] is True
    (container,) = pod["containers"]
    declared = {a["name"]: a.get("value") for a in template["spec"]["args"]}
    used = set(re.findall(r"\{\{args\.([\w-]+)\}\}", " ".join(container["args"])))
    assert used == set(declared)
    (mounted,) = container["volumeMounts"]
    mount = criteria_mount(tmp_path)
    for (release, deployed_at), code, verdict in ((GOOD, 0, "PASS"), (REGRESSED, 1, "FAIL")):
        values = {"release": release, "deployed-at": deployed_at, "wait": declared["wait"]}
        args = [
            re.sub(r"\{\{args\.([\w-]+)\}\}", lambda m, v=values: v[m[1]], a).replace(
                mounted["mountPath"], str(mount)
            )
            for a in container["args"]
        ]
        result = CliRunner().invoke(main, args)  # the image's entrypoint is `cxe-gate`
        assert result.exit_code == code, result.output
        assert verdict in result.output


def test_the_gitlab_job_runs_the_gate_in_the_image(tmp_path: Path):
    gitlab = yaml.safe_load((ROOT / "examples" / "gitlab-ci.yml").read_text())
    job = gitlab["cxe-gate"]
    assert job["image"] == {"name": "${CXE_GATE_IMAGE}", "entrypoint": [""]}
    (command,) = [line for line in job["script"] if line.startswith("cxe-gate ")]
    mount = criteria_mount(tmp_path)
    release, deployed_at = REGRESSED
    variables = {"CI_COMMIT_SHORT_SHA": release, "DEPLOYED_AT": deployed_at}
    words = [
        re.sub(r'"?\$(\w+)"?', lambda m: variables[m[1]], word) for word in command.split()[1:]
    ]
    words = [str(mount / "cxe.yml") if w == "cxe.yml" else w for w in words]
    words = [str(tmp_path / w) if w.startswith("cxe-gate/") else w for w in words]
    result = CliRunner().invoke(main, words)
    assert result.exit_code == 1, result.output  # a failed release fails the job
    junit = (tmp_path / "cxe-gate" / "junit.xml").read_text()
    assert "<testcase" in junit and job["artifacts"]["reports"]["junit"] == "cxe-gate/junit.xml"
