"""The `cxe-gate` command: parses options, calls the core, renders results. Nothing else lives here."""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import timedelta
from enum import IntEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click

from . import __version__
from .config import GateConfig
from .errors import ConfigError, CxeGateError
from .gate import evaluate as evaluate_gate
from .loader import LoadedConfig, load
from .polling import wait_for_verdict
from .quantities import DURATION_HINT, parse_duration_ms
from .report import check_report_path, write_report
from .report.terminal import render_poll_line, render_poll_table, render_terminal
from .results import GateReport, Verdict

if TYPE_CHECKING:
    from .har.journey_map import JourneyMap


class ExitCode(IntEnum):
    """What `cxe-gate` exits with; CI steps and the action branch on these numbers (README)."""

    OK = 0  # passed (or warned, unless --fail-on warn)
    FAIL = 1  # the release failed its criteria
    USAGE = 2  # the criteria file or the options are wrong
    INCONCLUSIVE = 3  # too little data to decide
    ERROR = 4  # the data could not be read


_EXIT_CODES = {
    Verdict.PASS: ExitCode.OK,
    Verdict.WARN: ExitCode.OK,
    Verdict.FAIL: ExitCode.FAIL,
    Verdict.INCONCLUSIVE: ExitCode.INCONCLUSIVE,
    Verdict.ERROR: ExitCode.ERROR,
}


def exit_code(verdict: Verdict, *, fail_on: str = "fail") -> ExitCode:
    if verdict == Verdict.WARN and fail_on == "warn":
        return ExitCode.FAIL
    return _EXIT_CODES[verdict]


def _fail(error: CxeGateError, code: ExitCode) -> NoReturn:
    click.secho(str(error), fg="red", err=True)
    sys.exit(code)


@contextmanager
def _errors_exit() -> Iterator[None]:
    """A mistake in the criteria file exits 2, data that cannot be read 4: one red line each."""
    try:
        yield
    except ConfigError as exc:
        _fail(exc, ExitCode.USAGE)
    except CxeGateError as exc:
        _fail(exc, ExitCode.ERROR)


class _Duration(click.ParamType):
    """A duration as cxe.yml spells it: 90s, 5m, 2h, 1h30m."""

    name = "duration"

    def convert(
        self, value: object, param: click.Parameter | None, ctx: click.Context | None
    ) -> timedelta:
        if isinstance(value, timedelta):
            return value
        try:
            ms = parse_duration_ms(str(value))
        except ValueError:
            self.fail(f"expected {DURATION_HINT}, got {value!r}", param, ctx)
        if ms <= 0:
            self.fail(f"must be longer than zero, got {value!r}", param, ctx)
        return timedelta(milliseconds=ms)


DEFAULT_INTERVAL = timedelta(minutes=5)


class _LiveDisplay:
    """Each poll's estimates on stderr while waiting: a table redrawn in place on a terminal, one
    line per poll in a CI log (which cannot move the cursor back)."""

    def __init__(self, *, tty: bool, colour: bool):
        self._tty = tty
        self._colour = colour
        self._drawn = 0  # lines of the table currently on the screen

    def __call__(self, report: GateReport) -> None:
        if not self._tty:
            click.echo(render_poll_line(report), err=True)
            return
        table = render_poll_table(report, colour=self._colour)
        # Back to the table's first line and clear below it, then draw the new one.
        erase = f"\x1b[{self._drawn}F\x1b[J" if self._drawn else ""
        # We checked the tty ourselves: keep the cursor moves even where click would strip them.
        click.echo(erase + table, err=True, color=True)
        # A line wider than the terminal wraps: count the rows it really took.
        columns = max(1, shutil.get_terminal_size().columns)
        self._drawn = sum(
            max(1, -(-len(click.unstyle(line)) // columns)) for line in table.split("\n")
        )


def _evaluate(
    loaded: LoadedConfig,
    *,
    dry_run: bool,
    wait: timedelta | None,
    interval: timedelta | None,
    colour: bool,
) -> GateReport:
    if wait is None:
        return evaluate_gate(loaded, dry_run=dry_run)
    tty = sys.stderr.isatty()
    return wait_for_verdict(
        loaded,
        wait=wait,
        interval=interval or min(DEFAULT_INTERVAL, wait),
        dry_run=dry_run,
        on_poll=_LiveDisplay(tty=tty, colour=colour and tty),
    )


def _with_gate(loaded: LoadedConfig, **settings: str) -> LoadedConfig:
    """The loaded file with `gate:` settings overridden from the command line."""
    config = loaded.config
    gate = config.gate.model_copy(update=settings)
    return replace(loaded, config=config.model_copy(update={"gate": gate}))


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
    "--on-inconclusive",
    type=click.Choice(["fail", "warn", "pass"]),
    help="The release's verdict when a criterion is undecided (overrides "
    "gate.on_inconclusive): fail keeps it inconclusive (exit 3); warn or pass accept that no "
    "evidence of harm was found. A criterion without data stays inconclusive.",
)
@click.option(
    "--dry-run",
    is_flag=True,
    help="Judge and report, but exit 0 whatever the verdict (to tune criteria).",
)
@click.option(
    "--color/--no-color", default=None, help="Colour the terminal summary (default: on a tty)."
)
@click.option(
    "--wait",
    type=_Duration(),
    help="Poll the release window as it fills, for at most this long (e.g. 2h); stop as soon as "
    "every criterion is decided or a regression fails the release.",
)
@click.option(
    "--interval",
    type=_Duration(),
    help="Time between polls with --wait (default 5m, or the wait when shorter).",
)
def evaluate(
    config_path: Path,
    release_name: str | None,
    deployed_at: str | None,
    outputs: tuple[Path, ...],
    fail_on: str,
    on_inconclusive: str | None,
    dry_run: bool,
    color: bool | None,
    wait: timedelta | None,
    interval: timedelta | None,
) -> None:
    """Judge the release against the criteria file.

    Exit codes: 0 pass or warn, 1 fail, 2 usage or config error, 3 inconclusive, 4 error (data could
    not be read).
    """
    if interval is not None and wait is None:
        raise click.BadParameter("needs --wait (how long to poll)", param_hint="--interval")
    if interval is not None and wait is not None and interval > wait:
        raise click.BadParameter("must not be longer than --wait", param_hint="--interval")
    colour = sys.stdout.isatty() if color is None else color
    with _errors_exit():
        paths = [check_report_path(p) for p in outputs]
        loaded = load(config_path, release=release_name, deployed_at=deployed_at)
        if on_inconclusive is not None:
            loaded = _with_gate(loaded, on_inconclusive=on_inconclusive)
        report = _evaluate(loaded, dry_run=dry_run, wait=wait, interval=interval, colour=colour)
    click.echo(render_terminal(report, colour=colour))
    for path in paths:
        try:
            write_report(report, path)
        except OSError as exc:
            click.secho(
                f"{path}: cannot write the report: {exc.strerror or exc}", fg="red", err=True
            )
            sys.exit(ExitCode.ERROR)
        click.echo(f"wrote {path}")
    sys.exit(ExitCode.OK if dry_run else exit_code(report.verdict, fail_on=fail_on))


@main.command()
@_config_option
def validate(config_path: Path) -> None:
    """Check the criteria file and report every mistake with its line."""
    with _errors_exit():
        loaded = load(config_path)
    config = loaded.config
    click.echo(
        f"{config_path}: valid ({len(config.criteria)} criteria, {len(config.providers)} "
        f"providers, {len(config.journeys)} journeys)"
    )


@main.command()
@_config_option
@click.option(
    "--deployed-at",
    help="The deploy to plan for, ISO 8601 (default release.deployed_at, or now for a deploy not "
    "made yet).",
)
def plan(config_path: Path, deployed_at: str | None) -> None:
    """How long must the release window be? Per criterion, from the baseline's traffic and
    spread: the smallest change the release window can detect (80% power, at the criterion's
    alpha) and the window its tolerance needs, also with cohorts split 50/50."""
    from datetime import UTC, datetime

    from .plan import plan as plan_release

    with _errors_exit():
        loaded = load(config_path, deployed_at=deployed_at)
        plans = plan_release(loaded, now=datetime.now(UTC))
    for line in plans:
        click.echo(line.sentence)


@main.command()
def schema() -> None:
    """Print the JSON Schema of the criteria file (for editor autocompletion)."""
    click.echo(json.dumps(GateConfig.model_json_schema(), indent=2))


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value / 1000:.2f} s"


def _har_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """What `journeys` and `seed` share: where the site is and what to scrub."""
    for option in reversed(
        (
            click.option(
                "--first-party",
                "first_party",
                multiple=True,
                metavar="HOST",
                help="The site's own host (and its subdomains); detected from the navigations "
                "if not given. Repeatable.",
            ),
            click.option(
                "--keep", multiple=True, metavar="NAME", help="A field never to scrub. Repeatable."
            ),
            click.option(
                "--scrub-pattern",
                multiple=True,
                metavar="KIND=REGEX",
                help="Also scrub values matching REGEX, reported as KIND. Repeatable.",
            ),
        )
    ):
        command = option(command)
    return command


def _read_hars(
    inputs: tuple[str, ...],
    first_party: tuple[str, ...],
    keep: tuple[str, ...],
    scrub_pattern: tuple[str, ...],
) -> JourneyMap:
    from .har.load import expand
    from .har.pipeline import build_journey_map
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
        return build_journey_map(
            inputs, first_party=first_party, rules=rules, on_file=lambda _path: bar.update(1)
        )


def _echo_failures(journey_map: JourneyMap) -> None:
    for failure in journey_map.failures:
        where = ":".join(p for p in (failure.file, failure.location) if p)
        click.secho(f"{where}: {failure.message}", fg="red", err=True)


@main.command()
@click.argument("inputs", nargs=-1, required=True, metavar="HAR_OR_DIR...")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the journey map as JSON (schema version 1.1).",
)
@_har_options
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
    journey_map = _read_hars(inputs, first_party, keep, scrub_pattern)
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
    _echo_failures(journey_map)
    if output is not None:
        try:
            output.write_text(journey_map.model_dump_json(indent=2) + "\n", encoding="utf-8")
        except OSError as exc:
            click.secho(f"{output}: cannot write: {exc.strerror or exc}", fg="red", err=True)
            sys.exit(ExitCode.ERROR)
        click.echo(f"wrote {output}")
    sys.exit(ExitCode.ERROR if journey_map.failures else ExitCode.OK)


@main.command()
@click.argument("inputs", nargs=-1, required=True, metavar="HAR_OR_DIR_OR_JOURNEYS_JSON...")
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="The directory to write the suite into (created if needed).",
)
@click.option(
    "--mode",
    type=click.Choice(["browser", "api"]),
    default="browser",
    show_default=True,
    help="browser: real navigation and forms; api: Playwright's request context only, no browser.",
)
@click.option("--top", type=click.IntRange(min=1), help="Only the N heaviest journeys.")
@click.option(
    "--budget-factor",
    type=click.FloatRange(min=1.0),
    default=2.0,
    show_default=True,
    help="A step's time budget: its recorded p90 times this (and at least p90 + 1 s).",
)
@_har_options
def seed(
    inputs: tuple[str, ...],
    output: Path,
    mode: str,
    top: int | None,
    budget_factor: float,
    first_party: tuple[str, ...],
    keep: tuple[str, ...],
    scrub_pattern: tuple[str, ...],
) -> None:
    """Write a pytest-playwright regression suite from HAR files or a journeys.json.

    Run it with: pytest OUTPUT --base-url https://staging.example.com. Exit codes: 0 written,
    2 usage error, 4 an input could not be read (nothing written if no journey is left).
    """
    from .errors import HarError
    from .har.journey_map import load_journey_map
    from .seed.codegen import SeedOptions, generate
    from .seed.write import write_suite

    maps = [i for i in inputs if i.lower().endswith(".json")]
    if maps and (len(maps) > 1 or len(inputs) > 1):
        raise click.BadParameter(
            "give one journeys.json, or HAR files and directories", param_hint="INPUTS"
        )
    try:
        journey_map = (
            load_journey_map(Path(maps[0]))
            if maps
            else _read_hars(inputs, first_party, keep, scrub_pattern)
        )
    except HarError as exc:
        _fail(exc, ExitCode.ERROR)
        return
    _echo_failures(journey_map)
    if not journey_map.journeys:
        click.secho("no journey found: nothing to seed", fg="red", err=True)
        sys.exit(ExitCode.ERROR)
    files = generate(journey_map, SeedOptions(mode=mode, top=top, budget_factor=budget_factor))
    try:
        written = write_suite(output, files)
    except OSError as exc:
        click.secho(f"{output}: cannot write: {exc.strerror or exc}", fg="red", err=True)
        sys.exit(ExitCode.ERROR)
    count = min(top or len(journey_map.journeys), len(journey_map.journeys))
    click.echo(
        f"{count} journey test(s) in {mode} mode from {journey_map.summary.sessions} session(s)"
    )
    for path in written:
        click.echo(f"wrote {path}")
    click.echo(f"run: pytest {output} --base-url URL")
    sys.exit(ExitCode.ERROR if journey_map.failures else ExitCode.OK)


if __name__ == "__main__":  # pragma: no cover
    main()
