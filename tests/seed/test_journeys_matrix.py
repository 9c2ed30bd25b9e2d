"""The CI matrix example (examples/workflows/journeys-matrix.yml) as written: its YAML parses, and
its shell steps, run job by job on shop sessions recorded by a real Chromium, shard the HARs, merge
the partial maps into the map one run over all the HARs gives, seed the suite, and run the suite
in parts (--shard), each in parallel (-n 2), against the shop: every journey once, green."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import shop_sessions
import yaml

from cxe_gate.cli import main
from examples.shop import pages

pytestmark = [pytest.mark.server, pytest.mark.slow, pytest.mark.browser]
ROOT = Path(__file__).resolve().parents[2]
WORKFLOW = ROOT / "examples" / "workflows" / "journeys-matrix.yml"
EXPRESSION = re.compile(r"\$\{\{\s*([\w.-]+)\s*\}\}")
# Steps that need the network (installing, fetching from the bucket): the test does their work.
OFFLINE = ("pip install", "aws s3")
ACCOUNT = {
    "secrets.QA_NAME": "Quinn Tester",
    "secrets.QA_EMAIL": "qa@shop.test",
    "secrets.QA_ADDRESS": "2 Test Lane",
    "secrets.QA_CARD_NUMBER": "4111 1111 1111 1111",
    "secrets.QA_AUTHORIZATION": "Bearer qa-token",
}
JOURNEYS = {"test_home_products", "test_home_products_checkout_post_checkout_orders"}


def _workflow() -> dict[str, Any]:
    return yaml.safe_load(WORKFLOW.read_text("utf-8"))


def test_the_workflow_is_shards_then_a_merge_then_parts_of_the_suite():
    workflow = _workflow()
    jobs = workflow["jobs"]
    assert list(jobs) == ["shard", "merge", "journeys"]
    assert (jobs["merge"]["needs"], jobs["journeys"]["needs"]) == ("shard", "merge")
    shards = jobs["shard"]["strategy"]["matrix"]["shard"]
    assert shards == list(range(1, int(workflow["env"]["SHARDS"]) + 1))
    runs = "\n".join(s.get("run", "") for job in jobs.values() for s in job["steps"])
    commands = re.findall(r"^\s*cxe-gate (\w+)(.*)$", runs, re.MULTILINE)
    assert [name for name, _ in commands] == ["journeys", "journeys", "seed"]
    assert all(name in main.commands for name, _ in commands)
    assert "--partial" in commands[0][1]
    assert "--shard" in runs and "-n 2" in runs
    # Uploads and downloads meet: what a job needs, an earlier job uploaded.
    uploads = [s["with"]["name"] for job in jobs.values() for s in job["steps"]
               if s.get("uses", "").startswith("actions/upload-artifact")]  # fmt: skip
    assert uploads == ["part-${{ matrix.shard }}", "seeded-suite"]


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """The example shop running (declining no card), with three sessions recorded from it."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(pages, "BASE_DECLINE_RATE", 0.0)
        root = tmp_path_factory.mktemp("matrix")
        with shop_sessions.shop_with_sessions(root, 3, password=False) as (base, hars, _):
            yield {"base": base, "hars": hars, "root": root}


class _Runner:
    """Runs a job's shell steps as Actions would (bash -e, the workflow's, job's and step's env),
    with `cxe-gate` this source tree's and expressions taken from `context`."""

    def __init__(self, workflow: dict[str, Any], context: dict[str, str], bin_dir: Path) -> None:
        self.workflow = workflow
        self.context = context
        self.path = f"{bin_dir}{os.pathsep}{Path(sys.executable).parent}{os.pathsep}"
        self.path += os.environ["PATH"]

    def expand(self, text: str, matrix: dict[str, Any]) -> str:
        values = {**self.context, **{f"matrix.{k}": str(v) for k, v in matrix.items()}}
        return EXPRESSION.sub(lambda m: values[m.group(1)], str(text))

    def run(
        self, job_name: str, workspace: Path, matrix: dict[str, Any], **extra: str
    ) -> list[str]:
        job = self.workflow["jobs"][job_name]
        outputs = []
        for step in job["steps"]:
            script = step.get("run")
            if script is None or any(word in script for word in OFFLINE):
                continue
            env = {**os.environ, **extra, "PATH": self.path, "PYTHONPATH": str(ROOT)}
            for scope in (self.workflow.get("env", {}), job.get("env", {}), step.get("env", {})):
                env.update({k: self.expand(v, matrix) for k, v in scope.items()})
            done = subprocess.run(
                ["bash", "-e", "-c", self.expand(script, matrix)],
                cwd=workspace, env=env, capture_output=True, text=True, timeout=600, check=False,
            )  # fmt: skip
            assert done.returncode == 0, (job_name, matrix, script, done.stdout, done.stderr)
            outputs.append(done.stdout)
        return outputs


def test_the_workflow_runs_as_written(shop, tmp_path):
    workflow = _workflow()
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    shim = bin_dir / "cxe-gate"
    shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m cxe_gate.cli "$@"\n', "utf-8")
    shim.chmod(0o755)
    context = {"secrets.CXE_GATE_MERGE_KEY": "k-3f9a", "vars.STAGING_URL": shop["base"], **ACCOUNT}
    runner = _Runner(workflow, context, bin_dir)

    merge = tmp_path / "merge"
    (merge / "parts").mkdir(parents=True)
    for shard in workflow["jobs"]["shard"]["strategy"]["matrix"]["shard"]:
        workspace = tmp_path / f"shard-{shard}"
        shutil.copytree(shop["hars"], workspace / "all-hars")  # what the fetch step syncs
        runner.run("shard", workspace, {"shard": shard})
        shutil.copy(workspace / f"part-{shard}.json", merge / "parts")  # the artifact
    runner.run("merge", merge, {})

    # The merged map is the one a single run over all the HARs writes.
    single = tmp_path / "single"
    shutil.copytree(shop["hars"], single / "hars")
    done = subprocess.run(
        [sys.executable, "-m", "cxe_gate.cli", "journeys", "hars/", "-o", "journeys.json"],
        cwd=single, env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert (merge / "journeys.json").read_bytes() == (single / "journeys.json").read_bytes()

    ran: list[str] = []
    for shard in workflow["jobs"]["journeys"]["strategy"]["matrix"]["shard"]:
        junit = tmp_path / f"journeys-{shard}.xml"
        addopts = f"--junitxml={junit} -p no:cacheprovider"
        runner.run("journeys", merge, {"shard": shard}, PYTEST_ADDOPTS=addopts)
        for case in ET.parse(junit).iter("testcase"):
            assert case.find("failure") is None and case.find("error") is None, ET.tostring(case)
            ran.append(case.get("name", ""))
    assert sorted(ran) == sorted(JOURNEYS)  # every journey, in exactly one part
