"""The "first cxe.yml" page as a reader follows it: its files written as the page shows them, its
commands run by the installed `cxe-gate`, and the verdicts the page promises."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
PAGE = ROOT / "docs" / "first-cxe-yml.md"
BIN = Path(sys.executable).parent  # where the installed console script is
ENV = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
FENCE = re.compile(r'^```(\w+)(?: title="([^"]+)")?\n(.*?)^```$', re.MULTILINE | re.DOTALL)


def blocks() -> list[tuple[str, str | None, str]]:
    """(language, title, body) of every fenced block, in page order."""
    return [(lang, title, body) for lang, title, body in FENCE.findall(PAGE.read_text())]


def run(line: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        shlex.split(line),
        cwd=cwd,
        env=ENV,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """The empty folder the page starts in, holding the files the page tells the reader to save."""
    for _, title, body in blocks():
        if title:
            (tmp_path / title).write_text(body)
    return tmp_path


def commands() -> list[list[str]]:
    """Each shell block's command lines."""
    return [
        [line for line in body.splitlines() if line.strip() and not line.startswith("#")]
        for lang, _, body in blocks()
        if lang == "sh"
    ]


def test_the_page_saves_two_files_and_runs_two_blocks_of_commands() -> None:
    assert sorted(title for _, title, _ in blocks() if title) == ["cxe.yml", "requests.csv"]
    assert len(commands()) == 2


def test_release_v1_passes_and_release_v2_fails_as_the_page_says(folder: Path) -> None:
    check, fail = commands()
    ran = [run(line, folder) for line in check]
    assert [done.returncode for done in ran] == [0, 0, 0], [done.stderr for done in ran]
    assert "valid" in ran[1].stdout
    summary = ran[2].stdout
    # Release v1 (12:00–13:00): 0 errors in 10 requests. Its ten durations sorted are
    # 105 110 115 125 145 150 165 175 250 280; p95 at rank 0.95 × 9 = 8.55 → 250 + 0.55 × 30
    # = 266.5 ms, as the page says ("266 ms").
    assert re.search(r"PASS\s+error rate\s+0%", summary), summary
    assert re.search(r"PASS\s+p95 latency\s+266 ms", summary), summary

    (v2,) = fail
    done = run(v2, folder)
    assert done.returncode == 1, done.stderr  # a failed release
    report = json.loads((folder / "v2.json").read_text())
    assert report["verdict"] == "fail"
    by_name = {c["name"]: c for c in report["criteria"]}
    # Release v2 (14:00–15:00): statuses 200 500 500 200 200 500 500 200 200 500: 5 of 10.
    assert by_name["error rate"]["verdict"] == "fail"
    assert by_name["error rate"]["value"] == pytest.approx(0.5)
    # P(X ≥ 5) for X ~ Binomial(10, 0.1) = 1 − (0.3486784401 + 0.387420489 + 0.1937102445
    # + 0.057395628 + 0.0111602610) = 0.0016349374: the page's "p = 0.0016".
    assert by_name["error rate"]["p_value"] == pytest.approx(0.0016349374, rel=1e-6)
    # Three of ten durations are 1500 ms, so the top ranks 8.55 → both neighbours are 1500.
    assert by_name["p95 latency"]["verdict"] == "fail"
    assert by_name["p95 latency"]["value"] == pytest.approx(1500)
    assert (folder / "v2.html").read_text().startswith("<!DOCTYPE html>")


def test_the_schema_line_the_page_starts_cxe_yml_with_names_the_file_it_writes(
    folder: Path,
) -> None:
    first_line = (folder / "cxe.yml").read_text().splitlines()[0]
    assert first_line == "# yaml-language-server: $schema=./cxe.schema.json"
    check, _ = commands()
    assert "cxe-gate schema -o cxe.schema.json" in check
