"""The one interface every data source implements: measure a criterion over time windows."""

from __future__ import annotations

import os
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import ClassVar

from pydantic import BaseModel, ConfigDict

from ..config import Cohorts, CriterionBase, JourneySpec, Problems, SecretRef
from ..errors import ConfigError
from ..measurement import Measurement, TimeWindow, Unit


class ProviderSettings(BaseModel):
    """Base of each provider's own settings model: the keys under `providers.<name>` besides `type`."""

    model_config = ConfigDict(extra="forbid", frozen=True)


@dataclass(frozen=True)
class ProviderContext:
    """What a provider may know about where it runs."""

    name: str  # the name under `providers`
    base_dir: Path  # relative paths in the settings are relative to the criteria file
    environ: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    where: str = ""  # "cxe.yml:12" for error messages
    # time.monotonic() by which the whole evaluation must be over; None: no deadline
    deadline: float | None = None
    # every secret resolved so far, by variable: redacted from anything the provider says
    _secrets: dict[str, str] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def secret(self, written: str, key: str) -> str:
        """Resolve a `${VAR}` secret (a setting validated as `Secret`), or say exactly which
        variable is missing."""
        ref = SecretRef(written)
        value = self.environ.get(ref.variable)
        if not value:
            raise ConfigError(
                f"providers.{self.name}.{key}: environment variable {ref.variable} is not set "
                f"(the secret {ref} is read from it)",
                file=self.where or None,
            )
        with self._lock:
            self._secrets[ref.variable] = value
        return value

    def add_secret(self, value: str) -> None:
        """Redact a credential derived from a secret too (an OAuth access token, a signed
        assertion), so no message, query or report shows it."""
        if value:
            with self._lock:
                self._secrets[f"derived:{len(self._secrets)}"] = value

    @property
    def secret_variables(self) -> list[str]:
        """The variables the credentials came from: what to check after a 401 or 403."""
        return sorted(name for name in self._secrets if not name.startswith("derived:"))

    def redact(self, text: str) -> str:
        """`text` with every resolved secret replaced by `***`."""
        # Longest first, so a secret that contains another is removed whole.
        for value in sorted(self._secrets.values(), key=len, reverse=True):
            text = text.replace(value, "***")
        return text

    def remaining(self) -> float | None:
        """Seconds left before the deadline (never negative), or None without one."""
        if self.deadline is None:
            return None
        return max(0.0, self.deadline - time.monotonic())


@dataclass(frozen=True)
class DataCheck:
    """One criterion as `data_problems` sees it: where it is, and the cohorts it compares."""

    index: int  # its place under `criteria`
    criterion: CriterionBase
    cohorts: Cohorts | None = None
    journey: JourneySpec | None = None  # a conversion's journey


@dataclass(frozen=True)
class MetricRequest:
    """One criterion to measure, with what it refers to resolved."""

    criterion: CriterionBase
    journey: JourneySpec | None = None
    release: str | None = None  # the release's name (release.name or --release), when given


# What a provider that does not declare `takes_cohorts` says of any cohorts.
COHORTS_REFUSED = (
    "this provider cannot split traffic into cohorts; judge it against the same hours on "
    "earlier days (windows.baseline: {same_hours: 7}) or a before/after window"
)


class Provider(ABC):
    """Register a subclass under a `type` name (see cxe_gate.providers.registry)."""

    settings_model: ClassVar[type[ProviderSettings]] = ProviderSettings
    # How many criteria may query this provider at once (None: as many as the gate runs).
    max_concurrency: ClassVar[int | None] = None
    # Whether its client holds one of the provider's `request_slots` for each request it sends: the
    # limit then counts requests, and a criterion's windows and the criteria run at once within it.
    # Otherwise the gate holds a slot for each criterion measured.
    requests_take_slots: ClassVar[bool] = False

    # What the provider declares it can do. capabilities.py refuses the rest with one message per
    # kind, when the file loads and again when a request built in code is measured.
    serves: ClassVar[tuple[str, ...] | None] = None  # the metrics it measures; None: every one
    why_not: ClassVar[Mapping[str, str]] = {}  # a metric it does not serve → why the product cannot
    takes_filter: ClassVar[bool] = True  # whether it reads a criterion's `filter`
    narrow_instead: ClassVar[str] = ""  # without a filter: how to narrow what it measures
    takes_cohorts: ClassVar[bool] = False  # whether it splits traffic into cohorts
    query_kind: ClassVar[str] = "a raw query"  # what its raw `query` is: "a PromQL query", "NRQL"

    @classmethod
    def criterion_problems(cls, criterion: CriterionBase, settings: ProviderSettings) -> Problems:
        """Problems with a criterion of a metric this provider serves (a malformed raw query, a
        field it cannot apply), each at a place relative to the criterion. Checked when the file
        is loaded, after what the declarations above refuse (capabilities.criterion_problems)."""
        return []

    @classmethod
    def data_problems(
        cls, settings: ProviderSettings, context: ProviderContext, checks: list[DataCheck]
    ) -> Problems:
        """What the data's own shape refuses before any query runs (a filter or cohort naming a
        column the data does not have), at places in the criteria file. Called by `validate`
        with the criteria this provider reads; a provider that cannot tell cheaply says nothing."""
        return []

    @classmethod
    def cohort_problems(
        cls, cohorts: Cohorts, criterion: CriterionBase, settings: ProviderSettings
    ) -> list[str]:
        """Why this provider cannot compare these cohorts (a condition it cannot read, a raw query
        it cannot narrow). Checked at load time for `windows.baseline: concurrent`; a provider
        that does not declare `takes_cohorts` refuses all of them."""
        return [] if cls.takes_cohorts else [COHORTS_REFUSED]

    @classmethod
    def journey_problems(cls, journey: JourneySpec, settings: ProviderSettings) -> list[str]:
        """What this provider cannot measure about a journey a conversion criterion reads (session
        funnels from a users-only API, a `within` it cannot express). Checked at load time."""
        return []

    def concurrency(self) -> int | None:
        """The limit for this instance: a `max_concurrency` setting wins over the class default."""
        return getattr(self.settings, "max_concurrency", None) or self.max_concurrency

    def __init__(self, settings: ProviderSettings, context: ProviderContext):
        self.settings = settings
        self.context = context
        self._request_slots: threading.BoundedSemaphore | None = None

    def request_slots(self) -> threading.BoundedSemaphore | None:
        """The slots each request holds while in flight (None: no limit), one set per instance
        shared by all its clients."""
        limit = self.concurrency()
        if limit and self._request_slots is None:
            self._request_slots = threading.BoundedSemaphore(limit)
        return self._request_slots

    @abstractmethod
    def measure(self, request: MetricRequest, windows: list[TimeWindow]) -> dict[str, Measurement]:
        """A measurement per window label. Raise ProviderError when the data cannot be read; return a
        Measurement with `value=None` when a window simply has no data (never a zero)."""

    def each_window(
        self, windows: Sequence[TimeWindow], read: Callable[[TimeWindow], Measurement]
    ) -> dict[str, Measurement]:
        """`read` of every window, by label, the windows read at once (see `at_once`)."""
        return self.at_once({window.label: partial(read, window) for window in windows})

    def at_once(self, reads: Mapping[str, Callable[[], Measurement]]) -> dict[str, Measurement]:
        """Every read, by label, run side by side: a criterion waits one round trip, not one per
        window. The first read to fail, in the order given, raises, as if they were run one after
        the other. A provider whose limit the gate counts per criterion runs them in turn, so the
        limit still counts queries."""
        if len(reads) < 2 or (self.concurrency() is not None and not self.requests_take_slots):
            return {label: read() for label, read in reads.items()}
        # The first read runs in this thread, the others each in a bare thread of their own: a
        # thread start is much of a criterion's own cost on a busy runner, and a pool per
        # criterion cost ~0.1 ms of CPU where a bare thread costs ~0.06 ms. Every thread is
        # joined before returning, so no request outlives the measurement, even when one raises.
        (first_label, first), *rest = reads.items()
        outcomes: dict[str, Measurement | BaseException] = {}

        def run(label: str, read: Callable[[], Measurement]) -> None:
            try:
                outcomes[label] = read()
            except BaseException as exc:  # handed to the caller below, as a pool's future would
                outcomes[label] = exc

        threads = [
            threading.Thread(target=run, args=item, name=f"cxe-window-{item[0]}") for item in rest
        ]
        for thread in threads:
            thread.start()
        try:
            result = {first_label: first()}
        finally:
            for thread in threads:
                thread.join()
        for label, _ in rest:
            outcome = outcomes[label]
            if isinstance(outcome, BaseException):
                raise outcome
            result[label] = outcome
        return result

    def expect(self, requests: Sequence[tuple[MetricRequest, list[TimeWindow]]]) -> None:  # noqa: B027
        """The criteria this evaluation will measure with this provider, with their windows, told
        once before the first `measure`: a provider that answers several from one query may plan
        it (the file provider scans a table once for all of them). Each is still measured, and
        fails, on its own."""

    def unit(self, request: MetricRequest) -> Unit | str:
        """The unit of the values `measure` returns for this criterion."""
        return request.criterion.default_unit()

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections; called once after the evaluation."""
