"""GitHub Actions glue: turn the gate's JSON report into step outputs, one annotation per failed or
warned criterion (a notice per inconclusive one), the job's step summary and, given a token, a
pull-request comment and a check run. Run by action.yml as `python -m cxe_gate.github`; the step
then exits with the gate's own exit code."""

from __future__ import annotations

import argparse
import os
import secrets
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml

from .github_publish import COMMENT_MODES, publish
from .results import GateReport, Verdict

# Which criteria get an annotation, and of which kind.
_ANNOTATION = {
    Verdict.FAIL: "error",
    Verdict.ERROR: "error",
    Verdict.WARN: "warning",
    Verdict.INCONCLUSIVE: "notice",
}


@dataclass(frozen=True)
class Annotation:
    level: str  # error, warning or notice
    title: str
    message: str
    file: str | None = None
    line: int | None = None

    def command(self) -> str:
        properties = []
        if self.file:
            properties.append(f"file={_escape_property(self.file)}")
            if self.line:
                properties.append(f"line={self.line}")
        properties.append(f"title={_escape_property(self.title)}")
        return f"::{self.level} {','.join(properties)}::{_escape_data(self.message)}"


def _escape_data(text: str) -> str:
    # The workflow-command encoding used by @actions/core (toCommandValue / escapeData).
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def criterion_lines(config: Path) -> dict[str, int]:
    """Line (1-based) of each criterion in the criteria file, by name. Only the YAML structure is
    read: the gate has already validated the file."""
    root = yaml.compose(config.read_text(encoding="utf-8"))
    lines: dict[str, int] = {}
    if not isinstance(root, yaml.MappingNode):
        return lines
    for key, value in root.value:
        if key.value != "criteria" or not isinstance(value, yaml.SequenceNode):
            continue
        for item in value.value:
            if not isinstance(item, yaml.MappingNode):
                continue
            for field, name in item.value:
                if field.value == "name" and isinstance(name, yaml.ScalarNode):
                    lines.setdefault(name.value, item.start_mark.line + 1)
    return lines


def workflow_annotations(
    report: GateReport, *, config: str | None = None, lines: dict[str, int] | None = None
) -> list[Annotation]:
    lines = lines or {}
    found = []
    for criterion in report.criteria:
        level = _ANNOTATION.get(criterion.verdict)
        if level is None:
            continue
        found.append(
            Annotation(
                level=level,
                title=f"cxe-gate: {criterion.name} ({criterion.verdict.value})",
                message=criterion.message,
                file=config,
                line=lines.get(criterion.name),
            )
        )
    return found


def output_lines(values: dict[str, str]) -> Iterable[str]:
    """`$GITHUB_OUTPUT` lines; a value with a newline uses the heredoc form with a random delimiter
    so that no value can end it early."""
    for name, value in values.items():
        if "\n" in value or "\r" in value:
            delimiter = f"ghadelimiter_{secrets.token_hex(8)}"
            yield f"{name}<<{delimiter}\n{value}\n{delimiter}\n"
        else:
            yield f"{name}={value}\n"


def _append(path: str | None, text: str) -> None:
    if path:
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(text)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m cxe_gate.github",
        description="Publish a cxe-gate JSON report to GitHub Actions: outputs, annotations and "
        "the step summary.",
    )
    parser.add_argument("--report-json", type=Path, required=True)
    parser.add_argument("--report-markdown", type=Path)
    parser.add_argument("--report-html", type=Path)
    parser.add_argument("--config", help="the criteria file, for annotations' file and line")
    parser.add_argument(
        "--exit-code", type=int, required=True, help="the gate's exit code (for messages only)"
    )
    parser.add_argument(
        "--comment",
        choices=COMMENT_MODES,
        default="auto",
        help="the pull-request comment, when CXE_GATE_GITHUB_TOKEN holds a token: auto (when the "
        "run has a pull request), always (warn when it has none) or never",
    )
    parser.add_argument(
        "--check-run",
        choices=("true", "false"),
        default="true",
        help="a check run with the verdict, when CXE_GATE_GITHUB_TOKEN holds a token",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    github_output = os.environ.get("GITHUB_OUTPUT")
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if not args.report_json.is_file():
        # Exit codes 2 (usage) and 4 (error) can come before any report: the gate's own message
        # is already in the log above; say why there are no outputs.
        print(
            f"::error title=cxe-gate::the gate exited {args.exit_code} without writing a report; "
            "see its message above"
        )
        _append(github_output, "".join(output_lines({"verdict": "", "score": ""})))
        _append(summary, f"**cxe-gate** exited {args.exit_code} without a report.\n")
        return 0
    report = GateReport.model_validate_json(args.report_json.read_text(encoding="utf-8"))

    lines = (
        criterion_lines(Path(args.config)) if args.config and Path(args.config).is_file() else {}
    )
    where = _workspace_path(args.config)
    annotations = workflow_annotations(report, config=where, lines=lines)
    for annotation in annotations:
        print(annotation.command())

    values = {
        "verdict": report.verdict.value,
        "score": "" if report.score is None else f"{report.score:g}",
        "report-json": str(args.report_json.resolve()),
        "report-markdown": _existing(args.report_markdown),
        "report-html": _existing(args.report_html),
    }
    _append(github_output, "".join(output_lines(values)))
    if args.report_markdown and args.report_markdown.is_file():
        _append(summary, args.report_markdown.read_text(encoding="utf-8") + "\n")
    said = publish(
        report,
        # Named from the repository root, so that two jobs' criteria files keep apart.
        config=where or args.config,
        annotations=annotations,
        exit_code=args.exit_code,
        comment=args.comment,
        check_run=args.check_run == "true",
        environ=os.environ,
    )
    for line in said:
        print(Annotation("warning", "cxe-gate", line.text).command() if line.warning else line.text)
    return 0


def _workspace_path(config: str | None) -> str | None:
    """Annotations name files relative to the repository root, whatever the working directory."""
    workspace = os.environ.get("GITHUB_WORKSPACE")
    if not config or not workspace:
        return config
    path, root = Path(config).resolve(), Path(workspace).resolve()
    return path.relative_to(root).as_posix() if path.is_relative_to(root) else None


def _existing(path: Path | None) -> str:
    return str(path.resolve()) if path and path.is_file() else ""


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
