"""`cxe-gate init`: a starter criteria file from the journeys in HAR files (or a journeys.json) and
what the request and event logs say about them; the file is checked by the loader once written."""

from __future__ import annotations

import sys
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, cast, get_args

import click

from .common import Duration, ExitCode, errors_exit

if TYPE_CHECKING:
    from ..har.journey_map import JourneyMap
    from ..providers.file_presets import PresetName


def _journey_map(inputs: tuple[str, ...], first_party: tuple[str, ...]) -> JourneyMap:
    """A journeys.json as `cxe-gate journeys -o` writes it, or the map of HAR files."""
    from ..har.journey_map import load_journey_map
    from ..har.pipeline import build_journey_map

    maps = [i for i in inputs if i.endswith(".json")]
    if maps and (len(inputs) > 1):
        raise click.BadParameter(
            "give one journeys.json, or HAR files (files, directories, globs), not both",
            param_hint="HAR_OR_MAP",
        )
    if maps:
        return load_journey_map(Path(maps[0]))
    return build_journey_map(inputs, first_party=first_party)


def _time(value: str | None, option: str) -> datetime | None:
    from ..loader import parse_time

    return None if value is None else parse_time(value, what=option)


def _preset_names() -> list[str]:
    from ..providers.file_presets import PresetName

    return list(get_args(PresetName))


@click.command()
@click.argument("inputs", nargs=-1, required=True, metavar="HAR_OR_MAP...")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="The criteria file to write.",
)
@click.option(
    "--requests",
    type=click.Path(exists=True, path_type=Path),
    help="The request log (Parquet, CSV, NDJSON: ts, method, route, status, duration_ms, "
    "session_id): limits per route, and funnels over routes.",
)
@click.option(
    "--events",
    type=click.Path(exists=True, path_type=Path),
    help="The analytics event log or export: funnels over the events the journeys send.",
)
@click.option(
    "--preset",
    type=click.Choice(_preset_names()),
    default="cxe",
    show_default=True,
    help="The event log's shape (as the file provider's `preset`).",
)
@click.option(
    "--min-share",
    type=click.FloatRange(0, 100),
    default=10.0,
    show_default=True,
    help="Percent of the recorded sessions a journey needs to get a funnel.",
)
@click.option("--release", "release", help="The release name to write into the file.")
@click.option("--deployed-at", help="Its deploy time (ISO 8601 with zone).")
@click.option(
    "--release-window",
    type=Duration(),
    default="2h",
    show_default=True,
    help="The release window the file judges (routes with too few calls in one are left out).",
)
@click.option(
    "--until",
    help="Read the logs only before this time (ISO 8601 with zone), e.g. the deploy to judge.",
)
@click.option(
    "--first-party",
    multiple=True,
    metavar="HOST",
    help="The site's own host, when reading HAR files (detected if not given). Repeatable.",
)
@click.option(
    "--seeded-suite",
    type=click.Path(file_okay=False, path_type=Path),
    help="The suite `cxe-gate seed` wrote from the journeys.json given: written as `seeded:`, so "
    "a criterion that does not pass is reported with the seeded tests to rerun.",
)
def init(
    inputs: tuple[str, ...],
    output: Path,
    requests: Path | None,
    events: Path | None,
    preset: str,
    min_share: float,
    release: str | None,
    deployed_at: str | None,
    release_window: timedelta,
    until: str | None,
    first_party: tuple[str, ...],
    seeded_suite: Path | None,
) -> None:
    """Write a starter criteria file from the journeys customers take in HAR files (or a
    journeys.json from `cxe-gate journeys -o`): a conversion funnel per heavy journey (its steps
    as the analytics events the logs show its requests send, else its request-log routes) and an
    error-rate and a latency criterion per route, each limit commented with its source.

    Exit codes: 0 written and valid, 2 usage error, 4 the inputs or logs could not be read.
    """
    from ..loader import load
    from ..starter.criteria import Options, starter
    from ..starter.evidence import Logs
    from ..starter.write import render

    if requests is None and events is None:
        raise click.UsageError("give --requests or --events (or both): criteria need data")
    if seeded_suite is not None and not (len(inputs) == 1 and inputs[0].endswith(".json")):
        raise click.BadParameter(
            "give the journeys.json the suite was seeded from as the only input",
            param_hint="--seeded-suite",
        )
    with errors_exit():
        journey_map = _journey_map(inputs, first_party)
        if not journey_map.journeys:
            click.secho("no journey found in the inputs", fg="red", err=True)
            sys.exit(ExitCode.ERROR)
        options = Options(
            output=output,
            requests=requests,
            events=events,
            preset=preset,
            min_share=min_share / 100,
            release=release,
            deployed_at=_time(deployed_at, "--deployed-at"),
            release_window=release_window,
            until=_time(until, "--until"),
            seeded_map=Path(inputs[0]) if seeded_suite is not None else None,
            seeded_suite=seeded_suite,
        )
        logs = Logs(
            requests=requests,
            events=events,
            preset=cast("PresetName", preset),  # click.Choice checked it
            until=options.until,
        )
        try:
            made = starter(journey_map, logs, options)
        finally:
            logs.close()
        try:
            output.write_text(render(made.document, made.header), encoding="utf-8")
        except OSError as exc:
            click.secho(f"{output}: cannot write: {exc.strerror or exc}", fg="red", err=True)
            sys.exit(ExitCode.ERROR)
        load(output)  # as written, the file must pass `cxe-gate validate`
    click.echo(
        f"wrote {output}: {made.funnels} funnel(s), {made.route_criteria} route criteria; "
        "check it with `cxe-gate validate`, try it with `cxe-gate evaluate --dry-run`"
    )
    for line in made.left_out:
        click.echo(f"  left out: {line}")
