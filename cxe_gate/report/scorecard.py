"""A release's scorecard: the JSON reports of its checkpoints side by side ("passed at 2h, warned
at 1d, passed at 1w"), read as they were written and never judged again."""

from __future__ import annotations

import html
import json
from datetime import datetime
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, computed_field

from ..errors import ConfigError
from ..quantities import to_timedelta
from ..results import SCHEMA_VERSION, CriterionResult, GateReport, Outcome, Verdict
from .html import page
from .wording import utc_time

# What each verdict says of a checkpoint, in a sentence: "warned at 1d".
_DONE = {
    Verdict.PASS: "passed",
    Verdict.WARN: "warned",
    Verdict.FAIL: "failed",
    Verdict.INCONCLUSIVE: "was inconclusive",
    Verdict.ERROR: "could not be judged",
}
FORMATS = (".json", ".md", ".html")


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True)


class Concern(_Model):
    """A criterion that did not pass at a checkpoint, with its deciding rule's sentence."""

    criterion: str
    verdict: Verdict
    note: str


class CheckpointRow(_Model):
    """One checkpoint of the release: its report's verdict, or null when none was given."""

    name: str
    after: str | None = Field(description="how long after the deploy, e.g. 1d")
    reached_at: datetime | None
    verdict: Verdict | None = Field(description="null: no report of this checkpoint was given")
    score: float | None = None
    summary: str | None = None
    concerns: list[Concern] = Field(default_factory=list)
    report_file: str | None = Field(None, description="the JSON report it was read from")
    generated_at: datetime | None = None

    @property
    def sentence(self) -> str:
        if self.verdict is None:
            when = f", due {utc_time(self.reached_at)}" if self.reached_at else ""
            return f"not judged at {self.after or self.name} yet{when}"
        said = f"{_DONE[self.verdict]} at {self.after or self.name}"
        if self.concerns:
            said += " (" + "; ".join(f"{c.criterion}: {c.note}" for c in self.concerns) + ")"
        return said


class Scorecard(_Model):
    """One release judged by one criteria file at each of its checkpoints."""

    schema_version: str = SCHEMA_VERSION
    release: str | None
    deployed_at: datetime
    config_file: str | None
    config_digest: str | None
    checkpoints: list[CheckpointRow]

    @computed_field  # type: ignore[prop-decorator]
    @property
    def headline(self) -> str:
        name = self.release or "the release"
        said = ", ".join(row.sentence for row in self.checkpoints)
        return f"{name} (deployed {utc_time(self.deployed_at)}): {said}"


def read_report(path: Path) -> GateReport:
    """A JSON report as `evaluate -o report.json` wrote it; anything else is refused by name."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(
            f"cannot read the report: {exc.strerror or exc}", file=str(path)
        ) from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(
            f"not JSON: {exc.msg}", file=str(path), location=f"{exc.lineno}:{exc.colno}"
        ) from None
    if not isinstance(data, dict) or data.get("tool") != "cxe-gate":
        raise ConfigError("not a cxe-gate JSON report (evaluate -o report.json)", file=str(path))
    try:
        return GateReport.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        place = ".".join(str(p) for p in first["loc"])
        raise ConfigError(
            f"a cxe-gate report this version cannot read ({place}: {first['msg']})",
            file=str(path),
        ) from None


def _concerns(criteria: list[CriterionResult]) -> list[Concern]:
    concerns = []
    for c in criteria:
        if c.verdict == Verdict.PASS:
            continue
        deciding = next((k for k in c.checks if k.outcome != Outcome.OK), None)
        concerns.append(
            Concern(
                criterion=c.name, verdict=c.verdict, note=deciding.note if deciding else c.message
            )
        )
    return concerns


def _identity(report: GateReport) -> tuple[str | None, datetime, str | None]:
    digest = report.checkpoint.config_digest if report.checkpoint else None
    return report.release.name, report.release.deployed_at, digest


def build_scorecard(reports: list[tuple[Path, GateReport]]) -> Scorecard:
    """The scorecard of one release from its checkpoints' reports. Reports of other releases, of
    another criteria file, or two of one checkpoint are refused: a scorecard mixing them would
    tell a story that never happened."""
    if not reports:
        raise ConfigError("give the JSON reports of the release's checkpoints")
    first_path, first = reports[0]
    name, deployed_at, digest = _identity(first)
    seen: dict[str, Path] = {}
    for path, report in reports:
        other_name, other_deploy, other_digest = _identity(report)
        if (other_name, other_deploy) != (name, deployed_at):
            raise ConfigError(
                f"release {other_name or '(unnamed)'} deployed {utc_time(other_deploy)} is not "
                f"the release of {first_path} ({name or '(unnamed)'} deployed "
                f"{utc_time(deployed_at)}); a scorecard is one release's",
                file=str(path),
            )
        if other_digest != digest:
            raise ConfigError(
                f"judged by another criteria file (or another version of it) than {first_path}; "
                "a scorecard compares checkpoints judged by one file",
                file=str(path),
            )
        key = report.checkpoint.name if report.checkpoint else "release"
        if key in seen:
            raise ConfigError(
                f"a second report of checkpoint {key} (the first is {seen[key]}); give one each",
                file=str(path),
            )
        seen[key] = path
    by_name = {(r.checkpoint.name if r.checkpoint else "release"): (p, r) for p, r in reports}
    declared = first.checkpoint.checkpoints if first.checkpoint else {"release": None}
    rows = []
    for checkpoint, after in declared.items():
        found = by_name.get(checkpoint)
        if found is None:
            due = deployed_at + to_timedelta(after) if after else None
            rows.append(CheckpointRow(name=checkpoint, after=after, reached_at=due, verdict=None))
            continue
        path, report = found
        rows.append(
            CheckpointRow(
                name=checkpoint,
                after=report.checkpoint.after if report.checkpoint else None,
                reached_at=report.checkpoint.reached_at if report.checkpoint else None,
                verdict=report.verdict,
                score=report.score,
                summary=report.summary,
                concerns=_concerns(report.criteria),
                report_file=str(path),
                generated_at=report.generated_at,
            )
        )
    return Scorecard(
        release=name,
        deployed_at=deployed_at,
        config_file=first.config_file,
        config_digest=digest,
        checkpoints=rows,
    )


def render_markdown(card: Scorecard) -> str:
    lines = [
        f"# Scorecard: {_md(card.release or 'release')}",
        "",
        _md(card.headline),
        "",
        "| Checkpoint | After | Verdict | Score | What did not pass |",
        "|---|---|---|---|---|",
    ]
    for row in card.checkpoints:
        verdict = row.verdict.value if row.verdict else "not judged yet"
        score = "—" if row.score is None else f"{row.score:.0f}"
        concerns = "<br>".join(
            _md(f"{c.criterion} ({c.verdict.value}): {c.note}") for c in row.concerns
        )
        cells = [_md(cell) for cell in (row.name, row.after or "—", verdict, score)]
        lines.append("| " + " | ".join([*cells, concerns or "—"]) + " |")
    lines += [
        "",
        f"Deployed {utc_time(card.deployed_at)}; criteria file {_md(card.config_file or '—')}.",
    ]
    return "\n".join(lines) + "\n"


def _md(text: str) -> str:
    # Names and sentences come from the criteria file and the data: keep them from making markup.
    return html.escape(text, quote=False).replace("|", "\\|").replace("\n", " ")


def render_html(card: Scorecard) -> str:
    e = html.escape
    rows = []
    for row in card.checkpoints:
        verdict = row.verdict.value if row.verdict else "pending"
        concerns = "".join(
            f"<li><b>{e(c.criterion)}</b> ({e(c.verdict.value)}): {e(c.note)}</li>"
            for c in row.concerns
        )
        rows.append(
            f'<tr class="{verdict}"><th scope="row">{e(row.name)}</th>'
            f"<td>{e(row.after or '—')}</td>"
            f"<td>{e(row.verdict.value if row.verdict else 'not judged yet')}</td>"
            f"<td>{'—' if row.score is None else f'{row.score:.0f}'}</td>"
            f"<td>{f'<ul>{concerns}</ul>' if concerns else '—'}</td></tr>"
        )
    title = f"Scorecard: {card.release or 'release'}"
    # The report's page shell: self-contained, no network (its CSP), as every report page.
    return page(
        title,
        f"<h1>{e(title)}</h1><p>{e(card.headline)}</p>"
        "<table><thead><tr><th>Checkpoint</th><th>After</th><th>Verdict</th><th>Score</th>"
        f"<th>What did not pass</th></tr></thead><tbody>{''.join(rows)}</tbody></table>"
        f"<p>Deployed {e(utc_time(card.deployed_at))}; criteria file "
        f"{e(card.config_file or '—')}.</p>\n",
        style=_CSS,
    )


_CSS = (
    "body{font-family:system-ui,sans-serif;margin:2rem}table{border-collapse:collapse}"
    "th,td{border:1px solid #ccc;padding:.4rem .6rem;text-align:left;vertical-align:top}"
    "tr.pass td:nth-child(3){color:#176f2c}tr.warn td:nth-child(3){color:#8a5a00}"
    "tr.fail td:nth-child(3),tr.error td:nth-child(3){color:#b00020}"
    "tr.pending td{color:#666}ul{margin:0;padding-left:1.2rem}"
)


def render_json(card: Scorecard) -> str:
    return card.model_dump_json(indent=2) + "\n"


def check_scorecard_path(path: Path) -> Path:
    """Refuse an unknown extension before any report is read."""
    if path.suffix.lower() not in FORMATS:
        raise ConfigError(
            f"-o {path}: unknown scorecard format {path.suffix or '(none)'!r}; "
            f"expected one of {', '.join(FORMATS)}"
        )
    return path


def write_scorecard(card: Scorecard, path: Path) -> Path:
    render = {".json": render_json, ".md": render_markdown, ".html": render_html}
    text = render[check_scorecard_path(path).suffix.lower()](card)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path
