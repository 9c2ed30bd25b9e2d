"""The `cxe-gate` command: parses options, calls the core, renders results. Nothing else lives here."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from . import __version__
from .config import GateConfig
from .errors import ConfigError, CxeGateError
from .gate import evaluate as evaluate_gate
from .loader import load
from .report import check_report_path, write_report
from .report.terminal import render_terminal
from .results import Verdict

EXIT_OK, EXIT_FAIL, EXIT_USAGE, EXIT_INCONCLUSIVE, EXIT_ERROR = 0, 1, 2, 3, 4

_EXIT_CODES = {
    Verdict.PASS: EXIT_OK,
    Verdict.WARN: EXIT_OK,
    Verdict.FAIL: EXIT_FAIL,
    Verdict.INCONCLUSIVE: EXIT_INCONCLUSIVE,
    Verdict.ERROR: EXIT_ERROR,
}


def exit_code(verdict: Verdict, *, fail_on: str = "fail") -> int:
    if verdict == Verdict.WARN and fail_on == "warn":
        return EXIT_FAIL
    return _EXIT_CODES[verdict]


def _fail(error: CxeGateError, code: int) -> None:
    click.secho(str(error), fg="red", err=True)
    sys.exit(code)


_config_option = click.option(
    "-c",
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default="cxe.yml",
    show_default=True,
    help="The success-criteria file.",
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="cxe-gate")
def main() -> None:
    """Did this release succeed for customers? A release gate on customer-experience metrics."""


@main.command()
@_config_option
@click.option("--release", "release_name", help="Release name (overrides release.name).")
@click.option("--deployed-at", help="Deploy time, ISO 8601 (overrides release.deployed_at).")
@click.option(
    "-o",
    "--output",
    "outputs",
    multiple=True,
    type=click.Path(path_type=Path),
    help="Write a report; the extension picks the format: .json .md .html .xml. Repeatable.",
)
@click.option(
    "--fail-on",
    type=click.Choice(["fail", "warn"]),
    default="fail",
    show_default=True,
    help="warn: a warn verdict also exits 1.",
)
@click.option(
    "--dry-run",
    is_flag=True,
    help="Judge and report, but exit 0 whatever the verdict (to tune criteria).",
)
@click.option(
    "--color/--no-color", default=None, help="Colour the terminal summary (default: on a tty)."
)
def evaluate(
    config_path: Path,
    release_name: str | None,
    deployed_at: str | None,
    outputs: tuple[Path, ...],
    fail_on: str,
    dry_run: bool,
    color: bool | None,
) -> None:
    """Judge the release against the criteria file.

    Exit codes: 0 pass or warn, 1 fail, 2 usage or config error, 3 inconclusive, 4 error (data could
    not be read).
    """
    try:
        paths = [check_report_path(p) for p in outputs]
        loaded = load(config_path, release=release_name, deployed_at=deployed_at)
        report = evaluate_gate(loaded, dry_run=dry_run)
    except ConfigError as exc:
        _fail(exc, EXIT_USAGE)
        return
    except CxeGateError as exc:
        _fail(exc, EXIT_ERROR)
        return
    colour = sys.stdout.isatty() if color is None else color
    click.echo(render_terminal(report, colour=colour))
    for path in paths:
        try:
            write_report(report, path)
        except OSError as exc:
            click.secho(
                f"{path}: cannot write the report: {exc.strerror or exc}", fg="red", err=True
            )
            sys.exit(EXIT_ERROR)
        click.echo(f"wrote {path}")
    sys.exit(EXIT_OK if dry_run else exit_code(report.verdict, fail_on=fail_on))


@main.command()
@_config_option
def validate(config_path: Path) -> None:
    """Check the criteria file and report every mistake with its line."""
    try:
        loaded = load(config_path)
    except ConfigError as exc:
        _fail(exc, EXIT_USAGE)
        return
    config = loaded.config
    click.echo(
        f"{config_path}: valid ({len(config.criteria)} criteria, {len(config.providers)} "
        f"providers, {len(config.journeys)} journeys)"
    )


@main.command()
def schema() -> None:
    """Print the JSON Schema of the criteria file (for editor autocompletion)."""
    click.echo(json.dumps(GateConfig.model_json_schema(), indent=2))


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value / 1000:.2f} s"


@main.command()
@click.argument("inputs", nargs=-1, required=True, metavar="HAR_OR_DIR...")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the journey map as JSON (schema version 1.0).",
)
@click.option(
    "--first-party",
    "first_party",
    multiple=True,
    metavar="HOST",
    help="The site's own host (and its subdomains); detected from the navigations if not given. "
    "Repeatable.",
)
@click.option("--keep", multiple=True, metavar="NAME", help="A field never to scrub. Repeatable.")
@click.option(
    "--scrub-pattern",
    multiple=True,
    metavar="KIND=REGEX",
    help="Also scrub values matching REGEX, reported as KIND. Repeatable.",
)
def journeys(
    inputs: tuple[str, ...],
    output: Path | None,
    first_party: tuple[str, ...],
    keep: tuple[str, ...],
    scrub_pattern: tuple[str, ...],
) -> None:
    """Find the journeys customers take in HAR files (files, directories, globs).

    Secrets and personal data are replaced by ${CXE_SECRET_...} placeholders before anything is
    kept; assets, trackers and other sites are dropped. Exit codes: 0 all read, 2 usage error,
    4 some file could not be read (the others are still used).
    """
    from .har.journey_map import build_journey_map
    from .har.load import expand
    from .har.scrub import ScrubRules

    patterns = {}
    for item in scrub_pattern:
        kind, sep, regex = item.partition("=")
        if not sep or not kind:
            raise click.BadParameter(
                f"expected KIND=REGEX, got {item!r}", param_hint="--scrub-pattern"
            )
        patterns[kind] = regex
    rules = ScrubRules(keep=frozenset(keep), patterns=patterns)
    total = len(expand(inputs))
    with click.progressbar(
        length=total, label="Reading HAR files", file=sys.stderr, show_pos=True
    ) as bar:
        journey_map = build_journey_map(
            inputs, first_party=first_party, rules=rules, on_file=lambda _path: bar.update(1)
        )
    summary = journey_map.summary
    click.echo(
        f"{summary.files} HAR file(s), {summary.files_failed} failed: {summary.entries_read} "
        f"entries, {summary.entries_kept} kept, {summary.entries_dropped} dropped"
    )
    click.echo(f"first party: {', '.join(journey_map.first_party) or '(none)'}")
    click.echo(f"\n{summary.journeys} journey(s) over {summary.sessions} session(s):")
    for journey in journey_map.journeys:
        click.echo(
            f"  {journey.id}  weight {journey.weight} ({journey.share:.0%})  "
            f"p50 {_ms(journey.duration.p50_ms)}  {len(journey.steps)} step(s)"
        )
        for step in journey.steps:
            calls = ", ".join(f"{c.method} {c.route}" for c in step.calls)
            click.echo(
                f"      {step.page.method} {step.page.route}" + (f"  [{calls}]" if calls else "")
            )
    if journey_map.scrubbed:
        click.echo("\nscrubbed (kind, where, count):")
        for item in journey_map.scrubbed:
            click.echo(f"  {item.kind:<14} {item.where:<44} {item.count}")
    if journey_map.dropped:
        click.echo("\ndropped: " + ", ".join(f"{k} {v}" for k, v in journey_map.dropped.items()))
    for failure in journey_map.failures:
        where = ":".join(p for p in (failure.file, failure.location) if p)
        click.secho(f"{where}: {failure.message}", fg="red", err=True)
    if output is not None:
        try:
            output.write_text(journey_map.model_dump_json(indent=2) + "\n", encoding="utf-8")
        except OSError as exc:
            click.secho(f"{output}: cannot write: {exc.strerror or exc}", fg="red", err=True)
            sys.exit(EXIT_ERROR)
        click.echo(f"wrote {output}")
    sys.exit(EXIT_ERROR if journey_map.failures else EXIT_OK)


if __name__ == "__main__":  # pragma: no cover
    main()
