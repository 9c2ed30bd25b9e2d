"""The seeder's commands: `journeys` (HAR files or partial maps → a journey map or a partial map)
and `seed` (→ a pytest-playwright suite)."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from ..har.journey_map import JourneyMap
    from ..har.partial import PartialMap
    from ..har.scrub import ScrubRules

from .common import ExitCode, fail

# The key partial maps' digests of scrubbed values are made with: the same for every shard.
MERGE_KEY_ENV = "CXE_GATE_MERGE_KEY"


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
            click.option(
                "--scrub-field",
                multiple=True,
                metavar="NAME",
                help="Also scrub the field (form, query, JSON key, header, cookie) called NAME, "
                "whatever it holds. Repeatable.",
            ),
        )
    ):
        command = option(command)
    return command


def _scrub_rules(
    keep: tuple[str, ...], scrub_pattern: tuple[str, ...], scrub_field: tuple[str, ...] = ()
) -> ScrubRules:
    from ..har.scrub import ScrubRules

    patterns = {}
    for item in scrub_pattern:
        kind, sep, regex = item.partition("=")
        if not sep or not kind:
            raise click.BadParameter(
                f"expected KIND=REGEX, got {item!r}", param_hint="--scrub-pattern"
            )
        patterns[kind] = regex
    fields = dict.fromkeys(scrub_field, "field")
    return ScrubRules(keep=frozenset(keep), fields=fields, patterns=patterns)


def _exit_code(journey_map: JourneyMap) -> ExitCode:
    """One rule for `journeys` and `seed`: 4 when an input could not be read or no journey is left."""
    if not journey_map.journeys:
        click.secho(
            f"no journey found in {journey_map.summary.files} file(s): every entry was dropped "
            "(see `dropped`; is --first-party right?)",
            fg="red",
            err=True,
        )
        return ExitCode.ERROR
    return ExitCode.ERROR if journey_map.failures else ExitCode.OK


@contextmanager
def _reading(inputs: tuple[str, ...]) -> Iterator[Callable[[Path], None]]:
    """A progress bar over the HAR files the inputs name; yields what to call after each file."""
    from ..har.load import expand

    total = len(expand(inputs))
    with click.progressbar(
        length=total, label="Reading HAR files", file=sys.stderr, show_pos=True
    ) as bar:
        yield lambda _path: bar.update(1)


def _read_hars(
    inputs: tuple[str, ...],
    first_party: tuple[str, ...],
    keep: tuple[str, ...],
    scrub_pattern: tuple[str, ...],
    scrub_field: tuple[str, ...],
) -> JourneyMap:
    from ..har.pipeline import build_journey_map

    rules = _scrub_rules(keep, scrub_pattern, scrub_field)
    with _reading(inputs) as on_file:
        return build_journey_map(inputs, first_party=first_party, rules=rules, on_file=on_file)


def _partial_maps(inputs: tuple[str, ...]) -> list[str]:
    from ..har.partial import is_partial_map

    return [i for i in inputs if is_partial_map(Path(i))]


def _read_partial(
    inputs: tuple[str, ...],
    first_party: tuple[str, ...],
    keep: tuple[str, ...],
    scrub_pattern: tuple[str, ...],
    scrub_field: tuple[str, ...],
) -> PartialMap:
    """Partial maps and HAR files → one partial map: the HARs read into one, then all merged."""
    from ..errors import HarError
    from ..har.merge import combine
    from ..har.partial import load_partial_map
    from ..har.pipeline import build_partial_map

    maps = _partial_maps(inputs)
    hars = tuple(i for i in inputs if i not in maps)
    if not hars and (first_party or keep or scrub_pattern or scrub_field):
        raise click.BadParameter(
            "partial maps were scrubbed when they were written: give these options to the "
            "commands that wrote them",
            param_hint="--first-party, --keep, --scrub-pattern, --scrub-field",
        )
    try:
        parts = [(name, load_partial_map(Path(name))) for name in maps]
    except HarError as exc:
        fail(exc, ExitCode.ERROR)
    if hars:
        key = os.environ.get(MERGE_KEY_ENV, "").encode() or None
        rules = _scrub_rules(keep, scrub_pattern, scrub_field)
        with _reading(hars) as on_file:
            shard = build_partial_map(
                hars, key=key, first_party=first_party, rules=rules, on_file=on_file
            )
        parts.append((" ".join(hars), shard))
    try:
        return combine(parts)
    except HarError as exc:
        fail(exc, ExitCode.USAGE)


def _echo_failures(journey_map: JourneyMap) -> None:
    for failure in journey_map.failures:
        where = ":".join(p for p in (failure.file, failure.location) if p)
        click.secho(f"{where}: {failure.message}", fg="red", err=True)


@click.command()
@click.argument("inputs", nargs=-1, required=True, metavar="HAR_OR_DIR_OR_PARTIAL_JSON...")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the journey map as JSON (schema version 1.1).",
)
@click.option(
    "--partial",
    is_flag=True,
    help="Write a partial map to -o instead: a shard's, to merge with the others' by giving "
    f"them all to `cxe-gate journeys`. Set {MERGE_KEY_ENV} to the same secret for every shard.",
)
@_har_options
def journeys(
    inputs: tuple[str, ...],
    output: Path | None,
    partial: bool,
    first_party: tuple[str, ...],
    keep: tuple[str, ...],
    scrub_pattern: tuple[str, ...],
    scrub_field: tuple[str, ...],
) -> None:
    """Find the journeys customers take in HAR files (files, directories, globs), or merge the
    partial maps of shards (written with --partial) into the journey map one run would give.

    Secrets and personal data are replaced by ${CXE_SECRET_...} placeholders before anything is
    kept; assets, trackers and other sites are dropped. Exit codes: 0 all read, 2 usage error,
    4 some file could not be read (the others are still used) or no journey was found (a partial
    map may hold none).
    """
    from ..har.merge import finish

    if partial and output is None:
        raise click.BadParameter(
            "a partial map is written to a file: give -o", param_hint="--partial"
        )
    shard = None
    if partial or _partial_maps(inputs):
        shard = _read_partial(inputs, first_party, keep, scrub_pattern, scrub_field)
        journey_map = finish(shard)
    else:
        journey_map = _read_hars(inputs, first_party, keep, scrub_pattern, scrub_field)
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
        written = (
            shard.model_dump_json()
            if partial and shard is not None
            else journey_map.model_dump_json(indent=2)
        )
        try:
            output.write_text(written + "\n", encoding="utf-8")
        except OSError as exc:
            click.secho(f"{output}: cannot write: {exc.strerror or exc}", fg="red", err=True)
            sys.exit(ExitCode.ERROR)
        click.echo(f"wrote {output}" + (" (a partial map)" if partial else ""))
        if partial and shard is not None and not shard.digests.keyed:
            click.secho(
                f"note: {MERGE_KEY_ENV} is not set, so the digests standing for scrubbed values "
                "are unkeyed and a guessed value can be checked against them; set it to the same "
                "secret for every shard when partial maps leave this machine",
                fg="yellow",
                err=True,
            )
    if partial:  # a shard may hold no journey
        sys.exit(ExitCode.ERROR if journey_map.failures else ExitCode.OK)
    sys.exit(_exit_code(journey_map))


@click.command()
@click.argument(
    "inputs", nargs=-1, required=True, metavar="HAR_OR_DIR_OR_JOURNEYS_JSON_OR_PARTIAL_JSON..."
)
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
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["playwright", "k6"]),
    default="playwright",
    show_default=True,
    help="playwright: a pytest-playwright suite; k6: one k6 load script, OUTPUT/journeys.k6.js "
    "(--mode does not apply; --think-time: the script always pauses as recorded, THINK_SCALE=0 "
    "turns pauses off).",
)
@click.option("--top", type=click.IntRange(min=1), help="Only the N heaviest journeys.")
@click.option(
    "--budget-factor",
    type=click.FloatRange(min=1.0),
    default=2.0,
    show_default=True,
    help="A step's time budget: its recorded p90 times this (and at least p90 + 1 s).",
)
@click.option(
    "--think-time",
    type=click.Choice(["none", "recorded"]),
    default="none",
    show_default=True,
    help="recorded: pause between steps as the customers did (at most 10 s a step).",
)
@_har_options
def seed(
    inputs: tuple[str, ...],
    output: Path,
    mode: str,
    output_format: str,
    top: int | None,
    budget_factor: float,
    think_time: str,
    first_party: tuple[str, ...],
    keep: tuple[str, ...],
    scrub_pattern: tuple[str, ...],
    scrub_field: tuple[str, ...],
) -> None:
    """Write a pytest-playwright regression suite from HAR files, a journeys.json, or the partial
    maps of shards (merged first).

    Run it with: pytest OUTPUT --base-url https://staging.example.com (add -n auto to run the
    tests in parallel, or --shard I/N to run one of N parts). Re-seeding into the same directory
    keeps every test a person edited and writes the seeded versions to reseed.diff. Exit codes:
    0 written, 2 usage error, 4 an input could not be read or no journey is left (then nothing is
    written).
    """
    from ..errors import HarError
    from ..har.journey_map import load_journey_map
    from ..har.merge import finish
    from ..seed.codegen import SeedOptions, generate, seeded_tests
    from ..seed.write import reseed

    partials = _partial_maps(inputs)
    maps = [i for i in inputs if i.lower().endswith(".json") and i not in partials]
    if maps and (len(maps) > 1 or len(inputs) > 1):
        raise click.BadParameter(
            "give one journeys.json, or HAR files and directories", param_hint="INPUTS"
        )
    try:
        if maps:
            journey_map = load_journey_map(Path(maps[0]))
        elif partials:
            journey_map = finish(
                _read_partial(inputs, first_party, keep, scrub_pattern, scrub_field)
            )
        else:
            journey_map = _read_hars(inputs, first_party, keep, scrub_pattern, scrub_field)
    except HarError as exc:
        fail(exc, ExitCode.ERROR)
        return
    _echo_failures(journey_map)
    if not journey_map.journeys:
        sys.exit(_exit_code(journey_map))  # nothing to seed
    if output_format == "k6":
        _seed_k6(journey_map, output, top, budget_factor)
    options = SeedOptions(mode=mode, top=top, budget_factor=budget_factor, think_time=think_time)
    files = generate(journey_map, options)
    try:
        result = reseed(output, files, seeded_tests(journey_map, options))
    except OSError as exc:
        click.secho(f"{output}: cannot write: {exc.strerror or exc}", fg="red", err=True)
        sys.exit(ExitCode.ERROR)
    count = min(top or len(journey_map.journeys), len(journey_map.journeys))
    click.echo(
        f"{count} journey test(s) in {mode} mode from {journey_map.summary.sessions} session(s)"
    )
    for path in result.written:
        click.echo(f"wrote {path}")
    for note in result.notes:
        click.secho(f"note: {note}", fg="yellow", err=True)
    for kept in result.kept:
        click.secho(f"kept {output / kept.file}::{kept.part}: {kept.reason}", fg="yellow")
    if result.diff_file is not None:
        click.echo(result.diff, nl=False)
        click.secho(
            f"the seeded versions of edited parts are in {result.diff_file} "
            f"(apply what you want: cd {output} && patch -p1 < {result.diff_file.name})",
            fg="yellow",
        )
    click.echo(f"variables: {output / '.env.example'}")
    click.echo(f"run: pytest {output} --base-url URL")
    sys.exit(ExitCode.ERROR if journey_map.failures else ExitCode.OK)


def _seed_k6(journey_map: JourneyMap, output: Path, top: int | None, budget_factor: float) -> None:
    """`seed --format k6`: the journeys as one k6 script; exits."""
    from ..seed.k6 import K6Options, generate_k6, write_k6

    script = generate_k6(journey_map, K6Options(top=top, budget_factor=budget_factor))
    try:
        path = write_k6(output, script)
    except OSError as exc:
        click.secho(f"{output}: cannot write: {exc.strerror or exc}", fg="red", err=True)
        sys.exit(ExitCode.ERROR)
    count = min(top or len(journey_map.journeys), len(journey_map.journeys))
    click.echo(f"{count} journey scenario(s) from {journey_map.summary.sessions} session(s)")
    click.echo(f"wrote {path}")
    click.echo(f"run: k6 run -e BASE_URL=URL {path}  (-e ITERATIONS=1 for a smoke run)")
    sys.exit(ExitCode.ERROR if journey_map.failures else ExitCode.OK)
