"""Criteria → seeded tests: for each criterion that did not pass, the tests of the seeded suite whose
journeys touch its routes (its filter's route, path and method, read by route_filters, or its
funnel's steps), named as the suite's manifest names them. Joins the two halves, like the starter:
only front ends use it."""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from dataclasses import dataclass
from os.path import relpath
from pathlib import Path

from pydantic import ValidationError

from .config import ConversionCriterion, CriterionBase, GateConfig
from .config.suite_links import MANIFEST, ROUTE_STEP, SeededSuite
from .errors import CxeGateError
from .har.journey_map import JourneyMap, load_journey_map
from .loader import LoadedConfig
from .reproduction import Reproduction
from .results import GateReport, Verdict
from .route_filters import Touch, filter_predicate, same_route
from .seed.names import journey_key
from .seed.parts import split
from .seed.write import Manifest

TESTS_FILE = "test_journeys.py"  # where codegen writes the tests


@dataclass(frozen=True)
class SeededTest:
    name: str
    touches: tuple[Touch, ...]


@dataclass(frozen=True)
class Suite:
    """The seeded suite as the report sees it: its folder, as a command names it, and its tests."""

    command_path: str
    tests: tuple[SeededTest, ...]
    names: frozenset[str]  # every test in the suite's file, seeded or not
    note: str | None = None  # what the manifest and the map disagree on


# --- the suite ------------------------------------------------------------------------------


def _shown(path: Path) -> str:
    """The path as a command run from here names it."""
    try:
        shown = relpath(path.resolve(), Path.cwd())
    except ValueError:  # another drive
        return str(path.resolve())
    return str(path.resolve()) if shown.startswith("..") else shown


def _touches(journey_map: JourneyMap, index: int) -> tuple[Touch, ...]:
    first_party = set(journey_map.first_party)
    found = []
    for step in journey_map.journeys[index].steps:
        for request in (step.page, *step.calls):
            if first_party and request.host not in first_party:
                continue
            path = (request.path or request.route).partition("?")[0]
            found.append(Touch(request.method.upper(), request.route.partition("?")[0], path))
    return tuple(dict.fromkeys(found))


def load_suite(seeded: SeededSuite, base_dir: Path) -> Suite:
    """The tests the manifest names, with the requests their journeys make. Raises CxeGateError
    when the map or the manifest cannot be read."""
    journey_map = load_journey_map(base_dir / seeded.map)
    folder = base_dir / seeded.suite
    manifest_path = folder / MANIFEST
    try:
        manifest = Manifest.model_validate_json(manifest_path.read_bytes())
    except (OSError, ValidationError) as exc:
        first = str(exc).splitlines()[0]
        raise CxeGateError(f"not a seed manifest: {first}", file=str(manifest_path)) from None
    if not manifest.tests:
        raise CxeGateError(
            "names no test's journey (written before cxe-gate recorded them): re-seed the suite",
            file=str(manifest_path),
        )
    try:
        written = (folder / TESTS_FILE).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CxeGateError(f"cannot read the tests: {exc}", file=str(folder / TESTS_FILE)) from None
    present = frozenset(p.key for p in split(TESTS_FILE, written) or [])
    by_key = {key: name for name, key in manifest.tests.items()}
    tests, unseeded = [], 0
    for index, journey in enumerate(journey_map.journeys):
        name = by_key.get(journey_key(journey))
        if name is None:
            unseeded += 1
        elif name in present:
            tests.append(SeededTest(name, _touches(journey_map, index)))
    gone = sorted(set(manifest.tests) - present)
    notes = []
    if unseeded:
        notes.append(f"{unseeded} journey(s) of {seeded.map} are not in the suite (re-seed it)")
    if gone:
        notes.append(f"deleted from the suite by hand: {', '.join(gone)}")
    return Suite(_shown(folder), tuple(tests), present, "; ".join(notes) or None)


# --- what a criterion looks at ----------------------------------------------------------------


def _funnel(
    criterion: ConversionCriterion, config: GateConfig, events: dict[str, list[str]]
) -> tuple[list[list[str]], list[str]]:
    """Per funnel step, the requests ('METHOD route') it stands for; and the steps without any."""
    steps: list[list[str]] = []
    unmapped = []
    for step in config.journeys[criterion.journey].steps:
        if ROUTE_STEP.fullmatch(step):
            steps.append([step])
        elif step in events:
            steps.append(events[step])
        else:
            unmapped.append(step)
    return steps, unmapped


def _request_touched(request: str, test: SeededTest) -> bool:
    method, _, route = request.partition(" ")
    return any(t.method == method and same_route(route, t) for t in test.touches)


def _by_funnel(steps: list[list[str]], tests: Sequence[SeededTest]) -> list[str]:
    """The tests that go furthest into the funnel: most of its steps taken, and at least one."""
    taken = {
        t.name: sum(any(_request_touched(r, t) for r in step) for step in steps) for t in tests
    }
    best = max(taken.values(), default=0)
    return [name for name, count in taken.items() if count == best and best > 0]


# --- criteria → reproductions ---------------------------------------------------------------


def _command(suite: Suite, names: list[str]) -> str:
    """`pytest SUITE -k 'a or b'`; node ids instead where -k's substring match would pick more."""
    others = [n for n in suite.names if n not in names] + [
        TESTS_FILE,
        *Path(suite.command_path).parts,
    ]
    if any(name in other for name in names for other in others):
        ids = " ".join(shlex.quote(f"{suite.command_path}/{TESTS_FILE}::{n}") for n in names)
        return f"pytest {ids}"
    expression = " or ".join(names)
    return f"pytest {shlex.quote(suite.command_path)} -k {shlex.quote(expression)}"


def reproduction(criterion: CriterionBase, config: GateConfig, suite: Suite) -> Reproduction:
    """The seeded tests that exercise the criterion's routes, or why there are none."""
    events = config.seeded.events if config.seeded else {}
    if isinstance(criterion, ConversionCriterion) and criterion.journey in config.journeys:
        steps, unmapped = _funnel(criterion, config, events)
        looked = [r for step in steps for r in step]
        names = _by_funnel(steps, suite.tests)
        missing = (
            f"funnel steps without a request (add them under seeded.events): {', '.join(unmapped)}"
            if unmapped
            else None
        )
        why = missing if not names else None
    elif criterion.filter is not None:
        language = config.providers[config.provider_for(criterion)].type
        holds, why = filter_predicate(criterion.filter, language)
        looked = [criterion.filter]
        names = [
            t.name
            for t in suite.tests
            if holds is not None and any(holds(touch) is not False for touch in t.touches)
        ]
        missing = None
    else:
        looked, names, missing = [], [], None
        why = f"{criterion.name!r} has no route filter or funnel steps"
    if not names and why is None:
        why = "no seeded journey touches its routes"
    note = "; ".join(n for n in (why if not names else missing, suite.note) if n) or None
    return Reproduction(
        tests=names,
        command=_command(suite, names) if names else None,
        routes=looked,
        note=note,
    )


def with_reproductions(report: GateReport, loaded: LoadedConfig) -> GateReport:
    """The report with, for each criterion that did not pass, its seeded tests (see the module);
    unchanged without `seeded:` in the file. A suite that cannot be read is said on each."""
    config = loaded.config
    if config.seeded is None or all(c.verdict == Verdict.PASS for c in report.criteria):
        return report
    criteria = {c.name: c for c in config.criteria}
    try:
        suite: Suite | str = load_suite(config.seeded, loaded.base_dir)
    except CxeGateError as exc:
        suite = f"the seeded suite cannot be read: {exc}"
    results = []
    for result in report.criteria:
        criterion = criteria.get(result.name)
        if result.verdict == Verdict.PASS or criterion is None:
            results.append(result)
            continue
        found = (
            Reproduction(note=suite)
            if isinstance(suite, str)
            else reproduction(criterion, config, suite)
        )
        results.append(result.model_copy(update={"reproduce": found}))
    return report.model_copy(update={"criteria": results})
