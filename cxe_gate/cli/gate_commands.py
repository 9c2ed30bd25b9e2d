"""The gate's commands: `evaluate` (once, or `--wait` polling), `validate`, `plan`, `schema` and
`queries`."""

from __future__ import annotations

import os
import shutil
import sys
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import click

from ..gate import at_checkpoint
from ..gate import evaluate as evaluate_gate
from ..loader import LoadedConfig, load
from ..polling import wait_for_verdict
from ..providers.sql_dialects import DIALECTS as SQL_DIALECTS
from ..report import check_report_path, write_report
from ..report.terminal import render_poll_line, render_poll_table, render_terminal
from ..results import GateReport
from .common import Duration, ExitCode, config_option, errors_exit, exit_code

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


@click.command()
@config_option
@click.option("--release", "release_name", help="Release name (overrides release.name).")
@click.option("--deployed-at", help="Deploy time, ISO 8601 (overrides release.deployed_at).")
@click.option(
    "--checkpoint",
    help="Judge the release at this checkpoint (a name under checkpoints:): its release window and "
    "the criteria `at` it. Default: the first. Refused before the checkpoint is reached (or, "
    "with --wait, if the wait ends before it).",
)
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
    type=Duration(),
    help="Poll the release window as it fills, for at most this long (e.g. 2h); stop as soon as "
    "every criterion is decided or a regression fails the release.",
)
@click.option(
    "--interval",
    type=Duration(),
    help="Time between polls with --wait (default 5m, or the wait when shorter).",
)
@click.option(
    "--notify/--no-notify",
    default=None,
    help="Send the `notify:` messages of the criteria file (default: yes, but not on a dry run). "
    "A message that cannot be sent is reported and never changes the exit code.",
)
def evaluate(
    config_path: Path,
    release_name: str | None,
    deployed_at: str | None,
    checkpoint: str | None,
    outputs: tuple[Path, ...],
    fail_on: str,
    on_inconclusive: str | None,
    dry_run: bool,
    color: bool | None,
    wait: timedelta | None,
    interval: timedelta | None,
    notify: bool | None,
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
    with errors_exit():
        paths = [check_report_path(p) for p in outputs]
        loaded = load(config_path, release=release_name, deployed_at=deployed_at)
        # A named checkpoint is judged once reached; a wait polls its window up to it.
        reached_by = datetime.now(UTC) + (wait or timedelta(0))
        loaded = at_checkpoint(loaded, checkpoint, now=reached_by if checkpoint else None)
        if on_inconclusive is not None:
            loaded = _with_gate(loaded, on_inconclusive=on_inconclusive)
        report = _evaluate(loaded, dry_run=dry_run, wait=wait, interval=interval, colour=colour)
        if loaded.config.seeded is not None:
            from ..reproduce import with_reproductions  # sqlglot: only for a file naming a suite

            report = with_reproductions(report, loaded)
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
    if notify if notify is not None else not dry_run:
        _announce(loaded, report)
    sys.exit(ExitCode.OK if dry_run else exit_code(report.verdict, fail_on=fail_on))


def _announce(loaded: LoadedConfig, report: GateReport) -> None:
    config = loaded.config
    if not config.notify:
        return
    from ..notify import announce  # requests, for a run that notifies

    links = {title: str(url) for title, url in config.links.items()}
    for sent in announce(report, config.notify, links=links, environ=os.environ):
        if sent.delivered:
            click.echo(f"notified {sent.target}", err=True)
        else:
            click.secho(f"could not notify {sent.target}: {sent.problem}", fg="yellow", err=True)


@click.command()
@config_option
def validate(config_path: Path) -> None:
    """Check the criteria file and report every mistake with its line."""
    with errors_exit():
        loaded = load(config_path)
    config = loaded.config
    click.echo(
        f"{config_path}: valid ({len(config.criteria)} criteria, {len(config.providers)} "
        f"providers, {len(config.journeys)} journeys)"
    )


@click.command()
@config_option
@click.option(
    "--deployed-at",
    help="The deploy to plan for, ISO 8601 (default release.deployed_at, or now for a deploy not "
    "made yet).",
)
@click.option(
    "--checkpoint",
    help="Plan the release window of this checkpoint (a name under checkpoints:) and the criteria "
    "`at` it. Default: the first.",
)
def plan(config_path: Path, deployed_at: str | None, checkpoint: str | None) -> None:
    """How long must the release window be? Per criterion, from the baseline's traffic and
    spread: the smallest change the release window can detect (80% power, at the criterion's
    alpha) and the window its tolerance needs, also with cohorts split 50/50."""
    from datetime import UTC, datetime

    from ..plan import plan as plan_release

    with errors_exit():
        loaded = load(config_path, deployed_at=deployed_at)
        plans = plan_release(loaded, now=datetime.now(UTC), checkpoint=checkpoint)
    for line in plans:
        click.echo(line.sentence)


@click.command()
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the schema to this file (e.g. cxe.schema.json) instead of printing it.",
)
@click.option(
    "--id",
    "schema_id",
    metavar="URL",
    help="The schema's $id, where you publish it (default: "
    "https://cxe-gate.dev/schema/v1/cxe.schema.json).",
)
def schema(output: Path | None, schema_id: str | None) -> None:
    """Print the JSON Schema of the criteria file, with the settings of every provider installed
    (built-in or plugin), for editors to complete and check cxe.yml."""
    from urllib.parse import urlsplit

    from ..schema import SCHEMA_ID, gate_schema

    if schema_id is not None:
        parts = urlsplit(schema_id)
        # JSON Schema 2020-12: an $id is an absolute URI without a fragment.
        if not parts.scheme or not (parts.netloc or parts.path) or parts.fragment:
            raise click.BadParameter(
                f"expected an absolute URL without #fragment, got {schema_id!r}",
                param_hint="--id",
            )
    built = gate_schema(schema_id or SCHEMA_ID)
    for left in built.left_out:
        click.secho(
            f"provider {left.name!r} is left out of the schema: {left.problem}",
            fg="yellow",
            err=True,
        )
    if output is None:
        click.echo(built.text(), nl=False)
        return
    try:
        output.write_text(built.text(), encoding="utf-8")
    except OSError as exc:
        click.secho(f"{output}: cannot write the schema: {exc.strerror or exc}", fg="red", err=True)
        sys.exit(ExitCode.ERROR)
    click.echo(f"wrote {output}")


@click.command()
@config_option
@click.option(
    "--dialect",
    type=click.Choice(SQL_DIALECTS),
    help="Write the built-in metrics in this SQL dialect (default: each sql provider's own).",
)
@click.option(
    "--deployed-at",
    help="The deploy the windows are placed around, ISO 8601 (default release.deployed_at, or "
    "now for a deploy not made yet).",
)
@click.option(
    "--dry-run",
    is_flag=True,
    help="On BigQuery, dry-run each statement and print the bytes it would scan (signs in with "
    "the provider's key; runs and bills nothing).",
)
@click.option(
    "--checkpoint",
    help="The queries of this checkpoint (a name under checkpoints:): its release window and the "
    "criteria `at` it. Default: the first.",
)
def queries(
    config_path: Path,
    dialect: str | None,
    deployed_at: str | None,
    dry_run: bool,
    checkpoint: str | None,
) -> None:
    """Print the SQL each criterion would run on its sql provider, without connecting: one
    statement per criterion for the built-in metrics, one per window for a criterion's own query.
    Review it before it runs against a paid warehouse."""
    from datetime import UTC, datetime

    from ..baseline import windows_for
    from ..plan import planned_at
    from ..providers.base import ProviderContext
    from ..providers.sql_review import dry_run as dry_run_of
    from ..providers.sql_review import review

    now = datetime.now(UTC)
    with errors_exit():
        loaded = planned_at(load(config_path, deployed_at=deployed_at), checkpoint, now=now)
    config = loaded.config
    deployed = config.release.deployed_at or now
    windows = windows_for(config.windows, deployed, deployed + config.windows.release.end)
    failed = False
    shown: set[tuple[str, tuple[str, ...]]] = set()
    for found in review(config, loaded.provider_settings, windows, dialect):
        if found.problem:
            failed = True
            click.secho(
                f"-- {found.criterion}: cannot be written: {found.problem}\n", fg="red", err=True
            )
        elif found.elsewhere:
            click.echo(
                f"-- {found.criterion}: provider {found.provider} ({found.elsewhere}) runs no SQL\n"
            )
        # the newest-row one: once per table
        fresh = [s for s in found.statements if (s.sql, s.notes) not in shown]
        said: list[str] = []
        if dry_run and fresh:
            context = ProviderContext(
                name=found.provider,
                base_dir=loaded.base_dir,
                where=loaded.where(("providers", found.provider)),
            )
            with errors_exit():
                said = dry_run_of(loaded.provider_settings[found.provider], context, fresh)
        for i, statement in enumerate(fresh):
            shown.add((statement.sql, statement.notes))
            notes = (*statement.notes, *said[i : i + 1])
            click.echo(f"-- {found.criterion}: {statement.purpose} (provider {found.provider})")
            click.echo("".join(f"-- {note}\n" for note in notes) + f"{statement.sql};\n")
    if failed:
        sys.exit(ExitCode.USAGE)
