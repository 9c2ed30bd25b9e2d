"""README.md as a landing page: short, its two commands where .ci/run finds them, its links
resolving, its exit codes the CLI's, and its quick-start criteria file valid."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from cxe_gate.cli import ExitCode

ROOT = Path(__file__).parents[2]
README = (ROOT / "README.md").read_text()
BIN = Path(sys.executable).parent
ENV = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}


def test_the_readme_is_a_landing_page() -> None:
    assert len(README.splitlines()) <= 400


def test_each_command_block_follows_its_marker() -> None:
    """.ci/run and the tests read the line after the marker's ```sh as the command."""
    for marker, start in [
        ("<!-- main-command -->", "pip install -e . && cxe-gate evaluate"),
        ("<!-- test-command -->", "S=$("),
    ]:
        after = README.split(marker + "\n", 1)[1].splitlines()
        assert after[0] == "```sh", marker
        assert after[1].startswith(start), marker
        assert after[2] == "```", marker
    assert "a missing server, JVM or browser fails\nthem, it never skips them." in README
    assert "## Development" in README


def test_every_relative_link_resolves() -> None:
    links = re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", README)
    local = [link for link in links if not link.startswith(("http://", "https://"))]
    assert len(local) >= 30  # a link to each docs section
    for link in local:
        assert (ROOT / link).exists(), link


def test_the_exit_code_table_is_the_clis() -> None:
    rows = re.findall(r"^\| (\d) \| (.+) \|$", README, re.MULTILINE)
    assert [int(code) for code, _ in rows] == [code.value for code in ExitCode]
    meanings = dict(rows)
    # The contract, written out: 0 pass/warn, 1 fail, 2 usage, 3 inconclusive, 4 error.
    assert meanings["0"].startswith("pass or warn")
    assert meanings["1"] == "fail"
    assert meanings["2"].startswith("usage")
    assert meanings["3"].startswith("inconclusive")
    assert meanings["4"].startswith("error")


def test_the_quick_start_criteria_file_validates(tmp_path: Path) -> None:
    start = README.index("**2. Your own CSV.**")
    yaml_block = README[start:].split("```yaml\n", 1)[1].split("```", 1)[0]
    (tmp_path / "cxe.yml").write_text(yaml_block)
    # The columns its comment names, one row each side of the deploy.
    (tmp_path / "requests.csv").write_text(
        "timestamp,path,status,duration_ms\n"
        "2026-11-10T11:00:00Z,/,200,120\n"
        "2026-11-10T12:30:00Z,/,500,900\n"
    )
    done = subprocess.run(
        ["cxe-gate", "validate", "-c", "cxe.yml"],
        cwd=tmp_path,
        env=ENV,
        check=False,  # the exit code is what the test checks
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "valid (2 criteria, 1 providers" in done.stdout
