"""Provider.at_once: a criterion's windows read side by side, failures raised in the order given,
and no read outliving the measurement."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import ClassVar

import pytest

from cxe_gate.errors import ProviderError
from cxe_gate.measurement import Measurement, TimeWindow
from cxe_gate.providers.base import MetricRequest, Provider, ProviderContext, ProviderSettings


class Reader(Provider):
    """A provider whose limit, when it has one, its client counts per request."""

    requests_take_slots: ClassVar[bool] = True

    def measure(self, request: MetricRequest, windows: list[TimeWindow]) -> dict[str, Measurement]:
        raise NotImplementedError  # only at_once is under test


def reader(*, per_criterion_limit: bool = False) -> Reader:
    provider = Reader(ProviderSettings(), ProviderContext(name="svc", base_dir=Path(".")))
    if per_criterion_limit:  # the gate then counts criteria: windows are read in turn
        provider.max_concurrency = 1  # type: ignore[misc]
        provider.requests_take_slots = False  # type: ignore[misc]
    return provider


def value(number: float) -> Measurement:
    return Measurement(value=number, samples=1)


def test_windows_are_read_at_the_same_time():
    # Each read waits until all three have started: read one after the other, the first would
    # wait out the barrier's timeout and break it.
    started = threading.Barrier(3, timeout=5)

    def read(number: float) -> Measurement:
        started.wait()
        return value(number)

    result = reader().at_once(
        {"baseline": lambda: read(1), "mid": lambda: read(2), "release": lambda: read(3)}
    )
    assert result == {"baseline": value(1), "mid": value(2), "release": value(3)}
    assert list(result) == ["baseline", "mid", "release"]


def test_the_first_failure_in_the_order_given_is_raised():
    def fails(message: str, after: float) -> Measurement:
        time.sleep(after)
        raise ProviderError(message, provider="svc")

    # The release read fails first in time, the mid one first in order: the order decides.
    with pytest.raises(ProviderError, match="mid"):
        reader().at_once(
            {
                "baseline": lambda: value(1),
                "mid": lambda: fails("mid", 0.2),
                "release": lambda: fails("release", 0.0),
            }
        )


def test_no_read_outlives_the_measurement_even_when_the_first_fails():
    finished = threading.Event()

    def slow() -> Measurement:
        time.sleep(0.3)
        finished.set()
        return value(2)

    def fails() -> Measurement:
        raise ProviderError("baseline", provider="svc")

    with pytest.raises(ProviderError, match="baseline"):
        reader().at_once({"baseline": fails, "release": slow})
    assert finished.is_set()


def test_a_limit_counted_per_criterion_reads_the_windows_in_turn():
    running: list[str] = []

    def read(label: str) -> Measurement:
        running.append(f"start {label}")
        time.sleep(0.05)
        running.append(f"end {label}")
        return value(1)

    reader(per_criterion_limit=True).at_once(
        {"baseline": lambda: read("baseline"), "release": lambda: read("release")}
    )
    assert running == ["start baseline", "end baseline", "start release", "end release"]
