"""One gate evaluation: criteria → provider queries → measurements → verdicts → a GateReport."""

from __future__ import annotations

import hashlib
import os
import threading
import time
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from . import __version__
from .baseline import baseline_of, design, windows_for, with_cohorts
from .checkpoints import CheckpointReport
from .config import ConversionCriterion, CriterionBase, GateConfig
from .config.criteria import RetentionCriterion
from .config.retention_cohorts import cohort_at
from .coverage import with_coverage
from .errors import ConfigError, CxeGateError, ProviderError
from .judge import error_result, judge, overall, score
from .loader import LoadedConfig
from .measurement import TimeWindow, Unit
from .notify.ci import CiRun, ci_run
from .providers import MetricRequest, Provider, ProviderContext, provider_class
from .quantities import format_duration
from .results import CriterionResult, GateReport, ReleaseReport, Verdict, WindowReport
from .series import series_of, with_provider_series

if TYPE_CHECKING:
    from .sequential import Schedule


@dataclass(frozen=True)
class AtCheckpoint(LoadedConfig):
    """A criteria file narrowed to one checkpoint: the checkpoint's release window, and only the
    criteria judged at it. Polling and evaluation read it like any loaded file."""

    checkpoint: CheckpointReport | None = None


def config_digest(config: GateConfig) -> str:
    """The same for every run of one criteria file, whatever release it judges."""
    text = config.model_dump_json(exclude={"release"})
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def at_checkpoint(
    loaded: LoadedConfig, name: str | None = None, *, now: datetime | None = None
) -> LoadedConfig:
    """The file as judged at checkpoint `name` (default: the first); a file without
    `checkpoints:` as it is. With `now`, a checkpoint not reached by then is refused: its
    verdict belongs to its moment, and a window read short of it would be judged early."""
    if isinstance(loaded, AtCheckpoint):
        if name is None or loaded.checkpoint is None or name == loaded.checkpoint.name:
            return loaded
        raise ConfigError(f"already narrowed to checkpoint {loaded.checkpoint.name}")
    config = loaded.config
    file = str(loaded.path)
    if not config.checkpoints:
        if name is None:
            return loaded
        raise ConfigError(f"--checkpoint {name}: the file declares no checkpoints", file=file)
    declared = ", ".join(config.checkpoints)
    name = next(iter(config.checkpoints)) if name is None else name
    checkpoint = config.checkpoints.get(name)
    if checkpoint is None:
        raise ConfigError(
            f"--checkpoint {name}: not declared under checkpoints (declared: {declared})",
            file=file,
        )
    deployed_at = config.release.deployed_at
    if deployed_at is None:
        raise ConfigError(
            "no deploy time: set release.deployed_at in the file or pass --deployed-at", file=file
        )
    reached = deployed_at + checkpoint.after
    if now is not None and reached > now:
        raise ConfigError(
            f"checkpoint {name} ({format_duration(checkpoint.after)} after the deploy) is "
            f"reached at {reached.isoformat()}; judge it then, or poll up to it with a --wait "
            "that reaches it",
            file=file,
        )
    criteria = [
        cohort_at(config.checkpoints, c, checkpoint) if isinstance(c, RetentionCriterion) else c
        for c in config.criteria
        if name in config.judged_at(c)
    ]
    if not criteria:
        raise ConfigError(
            f"no criterion is judged at checkpoint {name}: give one `at: [{name}]`", file=file
        )
    windows = config.windows.model_copy(update={"release": checkpoint.release})
    report = CheckpointReport(
        name=name,
        after=format_duration(checkpoint.after),
        reached_at=reached,
        checkpoints={n: format_duration(c.after) for n, c in config.checkpoints.items()},
        config_digest=config_digest(config),
    )
    return AtCheckpoint(
        config=config.model_copy(update={"windows": windows, "criteria": criteria}),
        path=loaded.path,
        provider_settings=loaded.provider_settings,
        lines=loaded.lines,
        checkpoint=report,
    )


def resolve_windows(loaded: LoadedConfig, now: datetime | None = None) -> list[TimeWindow]:
    """Absolute baseline and release windows around the deploy time."""
    config = loaded.config
    deployed_at = config.release.deployed_at
    if deployed_at is None:
        raise ConfigError(
            "no deploy time: set release.deployed_at in the file or pass --deployed-at",
            file=str(loaded.path),
        )
    now = now or datetime.now(UTC)
    if deployed_at > now:
        raise ConfigError(
            f"the deploy time {deployed_at.isoformat()} is in the future", file=str(loaded.path)
        )
    # A release window still filling is read as far as it goes; its report says where it ended.
    release_end = min(deployed_at + config.windows.release.end, now)
    return windows_for(config.windows, deployed_at, release_end)


def build_provider(loaded: LoadedConfig, name: str, *, deadline: float | None = None) -> Provider:
    """The provider declared under `providers.<name>`, ready to measure. Raises CxeGateError when
    it cannot be built (a missing credential, a missing file)."""
    spec = loaded.config.providers[name]
    provider = provider_class(spec.type)
    assert provider is not None  # the loader checked every type
    context = ProviderContext(
        name=name,
        base_dir=loaded.base_dir,
        where=loaded.where(("providers", name)),
        deadline=deadline,
    )
    return provider(loaded.provider_settings[name], context)


def _request(config: GateConfig, criterion: CriterionBase) -> MetricRequest:
    journey = (
        config.journeys.get(criterion.journey)
        if isinstance(criterion, ConversionCriterion)
        else None
    )
    return MetricRequest(criterion=criterion, journey=journey, release=config.release.name)


def _expected(
    config: GateConfig, windows: list[TimeWindow]
) -> dict[str, list[tuple[MetricRequest, list[TimeWindow]]]]:
    """Per provider, the criteria it will measure and their windows (Provider.expect)."""
    expected: dict[str, list[tuple[MetricRequest, list[TimeWindow]]]] = {}
    for criterion in config.criteria:
        if criterion.reads_provider:
            own = with_cohorts(windows, config.cohorts_for(criterion))
            expected.setdefault(config.provider_for(criterion), []).append(
                (_request(config, criterion), own)
            )
    return expected


class _Providers:
    """Builds each provider on first use; a provider that cannot be built fails only its criteria.
    Shared by the worker threads; each provider's own concurrency limit is kept here."""

    def __init__(
        self,
        loaded: LoadedConfig,
        deadline: float,
        expected: Mapping[str, list[tuple[MetricRequest, list[TimeWindow]]]] | None = None,
    ):
        self._loaded = loaded
        self._deadline = deadline
        self._expected = expected or {}
        self._built: dict[str, Provider | CxeGateError] = {}
        self._slots: dict[str, threading.Semaphore] = {}
        self._lock = threading.Lock()

    def get(self, name: str) -> Provider:
        with self._lock:
            if name not in self._built:
                self._built[name] = self._build(name)
        built = self._built[name]
        if isinstance(built, CxeGateError):
            raise built
        return built

    def _build(self, name: str) -> Provider | CxeGateError:
        try:
            built = build_provider(self._loaded, name, deadline=self._deadline)
            built.expect(self._expected.get(name, []))
        except CxeGateError as exc:
            return exc
        except Exception as exc:
            return ProviderError(f"could not be set up: {type(exc).__name__}: {exc}", provider=name)
        limit = built.concurrency()
        if limit and not built.requests_take_slots:  # else its client counts requests itself
            self._slots[name] = threading.BoundedSemaphore(limit)
        return built

    @contextmanager
    def slot(self, name: str) -> Iterator[None]:
        """Hold one of the provider's query slots (if it limits them) while measuring."""
        semaphore = self._slots.get(name)
        if semaphore is None:
            yield
            return
        with semaphore:
            yield

    def redact(self, name: str, text: str) -> str:
        built = self._built.get(name)
        return built.context.redact(text) if isinstance(built, Provider) else text

    def close(self) -> None:
        for provider in self._built.values():
            if isinstance(provider, Provider):
                provider.close()


def _evaluate_one(
    loaded: LoadedConfig,
    providers: _Providers,
    criterion: CriterionBase,
    windows: list[TimeWindow],
    sequential: Schedule | None = None,
) -> CriterionResult:
    config = loaded.config
    if not criterion.reads_provider:
        return _measured_in_pytest(criterion)
    name = config.provider_for(criterion)
    unit = criterion.default_unit()
    request = _request(config, criterion)
    windows = with_cohorts(windows, config.cohorts_for(criterion))
    try:
        provider = providers.get(name)
        unit = provider.unit(request)
        with providers.slot(name):
            measured = provider.measure(request, windows)
    except CxeGateError as exc:
        query = getattr(exc, "query", None)  # a ProviderError says what it sent
        return error_result(
            criterion,
            provider=name,
            unit=unit,
            # Providers redact what they say; this is the last line of defence for credentials.
            message=providers.redact(name, f"provider {name!r}: {exc}"),
            queries={"query": providers.redact(name, query)} if query else None,
        )
    except Exception as exc:
        return error_result(
            criterion,
            provider=name,
            unit=unit,
            message=providers.redact(
                name, f"provider {name!r} failed unexpectedly: {type(exc).__name__}: {exc}"
            ),
        )
    release = measured.get("release")
    if release is None:
        return error_result(
            criterion,
            provider=name,
            unit=unit,
            message=f"provider {name!r} returned no release measurement",
        )
    series_note = None
    # gate.series costs a second query per criterion (+73% on the file benchmark): opt-in.
    if config.gate.series:
        with providers.slot(name):
            measured, series_note = with_provider_series(provider, request, windows, measured)
    result = judge(
        criterion,
        provider=name,
        unit=unit,
        release=release,
        baseline=baseline_of(measured, windows),
        sequential=sequential,
    )
    covered = with_coverage(
        result,
        measured,
        windows,
        allow_partial=config.windows.allow_partial,
        sequential=sequential is not None,
    )
    if series_note:
        notes = [*covered.notes, providers.redact(name, series_note)]
        covered = covered.model_copy(update={"notes": notes})
    series = series_of(measured, windows)
    return covered.model_copy(update={"series": series}) if series else covered


def _measured_in_pytest(criterion: CriterionBase) -> CriterionResult:
    # journeys_pass_rate: only a pytest run sees the journey tests' outcomes (cxe_gate_pytest).
    unmeasured = error_result(
        criterion,
        provider="pytest",
        unit=Unit.RATIO,
        message=f"{criterion.name}: measured only inside a pytest run (the cxe-gate pytest "
        "plugin judges it from the journey tests' outcomes)",
    )
    return unmeasured.model_copy(update={"verdict": Verdict.INCONCLUSIVE})


def _past_deadline(
    loaded: LoadedConfig, criterion: CriterionBase, deadline: timedelta
) -> CriterionResult:
    return error_result(
        criterion,
        provider=loaded.config.provider_for(criterion),
        unit=criterion.default_unit(),
        message=f"no answer before the evaluation's deadline ({format_duration(deadline)}, "
        "gate.deadline)",
    )


def evaluate(
    loaded: LoadedConfig,
    *,
    now: datetime | None = None,
    dry_run: bool = False,
    sequential: Schedule | None = None,
) -> GateReport:
    """Judge every criterion of a loaded criteria file and sum up the release's verdict.
    `sequential` judges the release window as the look it names of a polled sequence
    (group-sequential tests: see cxe_gate.sequential); at the sequence's last look a criterion
    without a sequential test is judged once, the fixed way. A file with `checkpoints:` not yet
    narrowed to one (`at_checkpoint`) is judged at its first."""
    loaded = at_checkpoint(loaded)
    config = loaded.config
    windows = resolve_windows(loaded, now)
    budget = config.gate.deadline.total_seconds()
    providers = _Providers(
        loaded, deadline=time.monotonic() + budget, expected=_expected(config, windows)
    )
    pool = ThreadPoolExecutor(
        max_workers=min(config.gate.concurrency, max(1, len(config.criteria))),
        thread_name_prefix="cxe-gate",
    )
    futures = []
    try:
        futures = [
            pool.submit(_evaluate_one, loaded, providers, c, windows, sequential)
            for c in config.criteria
        ]
        _, late = wait(futures, timeout=budget)
        results = [
            _past_deadline(loaded, criterion, config.gate.deadline)
            if future in late
            else future.result()
            for criterion, future in zip(config.criteria, futures, strict=True)
        ]
    finally:
        # Providers cut their own requests at the deadline; do not wait on a straggler.
        pool.shutdown(wait=not any(f.running() for f in futures), cancel_futures=True)
        providers.close()
    verdict, summary = overall(results, config.gate)
    assert config.release.deployed_at is not None  # resolve_windows checked it
    return GateReport(
        tool_version=__version__,
        generated_at=datetime.now(UTC),
        config_file=str(loaded.path),
        verdict=verdict,
        score=score(results),
        summary=summary,
        dry_run=dry_run,
        release=ReleaseReport(name=config.release.name, deployed_at=config.release.deployed_at),
        windows={w.label: WindowReport(start=w.start, end=w.end) for w in windows},
        design=design(config.windows, windows[-1]),
        criteria=results,
        checkpoint=loaded.checkpoint if isinstance(loaded, AtCheckpoint) else None,
        policy=config.gate.policy,
        pass_score=config.gate.pass_score,
        warn_score=config.gate.warn_score,
        links=report_links(config.links, ci_run(os.environ)),
    )


def report_links(configured: Mapping[str, object], run: CiRun | None) -> dict[str, str]:
    """The report's links: cxe.yml's `links:`, then the CI run and the commit when known."""
    links = {title: str(url) for title, url in configured.items()}
    if run is not None and run.url:
        links.setdefault(f"{run.system} run", run.url)
    if run is not None and run.commit_url and run.commit:
        links.setdefault(f"commit {run.commit[:7]}", run.commit_url)
    return links
