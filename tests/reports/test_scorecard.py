"""A release's scorecard: its checkpoints' JSON reports side by side, read as written (never judged
again), in Markdown, HTML and JSON; reports of another release or another criteria file refused.

The reports are real: `cxe-gate evaluate --checkpoint` over the week of tests/release_life.py,
where (worked out there) the release passes at 2 h, warns at 1 d (p95 1000 ms, above 800 ms) and
fails at 1 w (50% errors, above 10%)."""

from __future__ import annotations

import json
from html.parser import HTMLParser
from pathlib import Path

import pytest
from click.testing import CliRunner
from release_life import write_life

from cxe_gate.cli import main
from cxe_gate.cli.scorecard_command import scorecard


def judge(config: Path, checkpoint: str, out: Path, *extra: str) -> Path:
    result = CliRunner().invoke(
        main,
        ["evaluate", "-c", str(config), "--checkpoint", checkpoint, "-o", str(out), *extra],
    )
    assert out.exists(), result.output
    return out


@pytest.fixture(scope="module")
def life(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    here = tmp_path_factory.mktemp("life")
    config = write_life(here)
    reports = {
        name: judge(config, name, here / f"{name}.json") for name in ("gate", "day1", "week1")
    }
    return {"config": config, **reports}


def run(*args: str | Path) -> tuple[int, str]:
    result = CliRunner().invoke(scorecard, [str(a) for a in args])
    return result.exit_code, result.output


def test_the_scorecard_tells_the_release_s_life_checkpoint_by_checkpoint(
    life: dict[str, Path], tmp_path: Path
):
    out = tmp_path / "scorecard.json"
    code, output = run(life["week1"], life["gate"], life["day1"], "-o", out)
    assert code == 0, output
    headline = output.splitlines()[0]
    # In the file's order (gate, day1, week1), whatever the order the reports were given in.
    assert headline.startswith("2.4.0 (deployed 2026-11-10 14:00 UTC): passed at 2h, warned at 1d")
    assert "warned at 1d (slow: " in headline and "failed at 1w (errors: " in headline
    card = json.loads(out.read_text())
    rows = card["checkpoints"]
    assert [(r["name"], r["after"], r["verdict"]) for r in rows] == [
        ("gate", "2h", "pass"),
        ("day1", "1d", "warn"),
        ("week1", "1w", "fail"),
    ]
    assert [c["criterion"] for c in rows[1]["concerns"]] == ["slow"]
    assert rows[2]["report_file"] == str(life["week1"])
    assert card["headline"] == headline


def test_results_are_read_from_the_reports_never_judged_again(
    life: dict[str, Path], tmp_path: Path
):
    # The gate's report, hand-edited to warn: the scorecard says what the report says.
    edited = json.loads(life["gate"].read_text())
    edited["verdict"] = "warn"
    gate = tmp_path / "gate.json"
    gate.write_text(json.dumps(edited))
    code, output = run(gate, life["day1"])
    assert code == 0, output
    assert "warned at 2h, warned at 1d" in output
    # week1 has no report yet: due 7 days after the deploy, 2026-11-10 14:00.
    assert output.splitlines()[0].endswith("not judged at 1w yet, due 2026-11-17 14:00 UTC")


def test_markdown_and_html_show_each_checkpoint(life: dict[str, Path], tmp_path: Path):
    md, page = tmp_path / "card.md", tmp_path / "card.html"
    code, output = run(life["gate"], life["day1"], life["week1"], "-o", md, "-o", page)
    assert code == 0, output
    table = [line for line in md.read_text().splitlines() if line.startswith("| ")]
    assert table[0] == "| Checkpoint | After | Verdict | Score | What did not pass |"
    assert [row.split(" | ")[:3] for row in table[1:]] == [
        ["| gate", "2h", "pass"],
        ["| day1", "1d", "warn"],
        ["| week1", "1w", "fail"],
    ]

    class Rows(HTMLParser):
        def __init__(self) -> None:
            super().__init__()
            self.classes: list[str | None] = []

        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            if tag == "tr" and dict(attrs).get("class"):
                self.classes.append(dict(attrs)["class"])

    parser = Rows()
    parser.feed(page.read_text())
    assert parser.classes == ["pass", "warn", "fail"]
    # Like the gate's report: self-contained, and its CSP lets it load nothing from the network.
    assert "Content-Security-Policy\" content=\"default-src 'none'" in page.read_text()


def test_text_from_a_report_cannot_make_markup(life: dict[str, Path], tmp_path: Path):
    edited = json.loads(life["day1"].read_text())
    slow = next(c for c in edited["criteria"] if c["name"] == "slow")
    for check in slow["checks"]:
        check["note"] = "<img src=x onerror=alert(1)> | broken"
    day1 = tmp_path / "day1.json"
    day1.write_text(json.dumps(edited))
    md, page = tmp_path / "card.md", tmp_path / "card.html"
    code, output = run(life["gate"], day1, "-o", md, "-o", page)
    assert code == 0, output
    assert "<img" not in page.read_text() and "&lt;img src=x" in page.read_text()
    assert "<img" not in md.read_text() and "&lt;img src=x onerror=alert(1)&gt; \\| broken" in (
        md.read_text()
    )


def test_reports_of_another_release_are_refused(life: dict[str, Path], tmp_path: Path):
    other = judge(
        life["config"],
        "gate",
        tmp_path / "other.json",
        "--release",
        "2.4.1",
        "--deployed-at",
        "2026-11-10T14:00:00Z",
    )
    code, output = run(life["gate"], other)
    assert code == 2
    assert f"{other}: release 2.4.1 deployed 2026-11-10 14:00 UTC is not the release of " in output
    assert "a scorecard is one release's" in output


def test_reports_of_another_criteria_file_are_refused(life: dict[str, Path], tmp_path: Path):
    config = write_life(tmp_path)
    config.write_text(config.read_text().replace("max: 10%", "max: 20%"))
    changed = judge(config, "week1", tmp_path / "week1.json")
    code, output = run(life["gate"], changed)
    assert code == 2
    assert f"{changed}: judged by another criteria file (or another version of it) than " in output


def test_two_reports_of_one_checkpoint_are_refused(life: dict[str, Path], tmp_path: Path):
    again = tmp_path / "day1-again.json"
    again.write_text(life["day1"].read_text())
    code, output = run(life["day1"], again)
    assert code == 2
    assert f"{again}: a second report of checkpoint day1 (the first is {life['day1']})" in output


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("{not json", "not JSON: Expecting property name enclosed in double quotes"),
        ('{"tool": "k6"}', "not a cxe-gate JSON report"),
        ('{"tool": "cxe-gate", "verdict": "pass"}', "a cxe-gate report this version cannot read"),
    ],
)
def test_what_is_not_a_report_is_refused_by_name(tmp_path: Path, content: str, expected: str):
    bad = tmp_path / "bad.json"
    bad.write_text(content)
    code, output = run(bad)
    assert code == 2
    assert output.startswith(f"{bad}") and expected in output


def test_an_unknown_format_is_refused_before_anything_is_read(tmp_path: Path):
    code, output = run(tmp_path / "missing.json", "-o", tmp_path / "card.pdf")
    assert code == 2
    assert "unknown scorecard format '.pdf'; expected one of .json, .md, .html" in output
