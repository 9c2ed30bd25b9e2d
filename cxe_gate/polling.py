"""Waiting for the release window to fill (`evaluate --wait`): poll it until every criterion is
decided, a regression has settled the release's verdict, or the wait runs out."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta

from .config import CriterionBase, GateSettings
from .gate import at_checkpoint, evaluate, resolve_windows
from .judge import overall
from .loader import LoadedConfig
from .quantities import format_duration
from .results import (
    CriterionResult,
    GateReport,
    Poll,
    PollCriterion,
    StopReason,
    Verdict,
    WaitReport,
)

Clock = Callable[[], datetime]
Sleep = Callable[[float], None]


def _utc_now() -> datetime:
    return datetime.now(UTC)


def decided(result: CriterionResult, criterion: CriterionBase, settings: GateSettings) -> bool:
    """Whether more data can no longer change this criterion's answer, for the purpose of ending
    the wait."""
    if not criterion.reads_provider:
        return True  # judged inside a pytest run: waiting cannot change what this run reports
    if result.verdict == Verdict.INCONCLUSIVE:
        return False
    if result.verdict == Verdict.ERROR:
        # Under `closed` an error already settles the release at `error` (or worse), so it cannot
        # end in pass. Under `open` an error is left out of the verdict: counting it as decided
        # could stop the wait at a pass before the criterion was ever read, so keep polling.
        return settings.on_error == "closed"
    return True


def stop_reason(
    results: Sequence[CriterionResult],
    criteria: Sequence[CriterionBase],
    settings: GateSettings,
    *,
    at: datetime,
    deadline: datetime,
) -> StopReason | None:
    """Why the wait should end after a poll with these results, or None to keep polling."""
    undecided = {
        r.name for r, c in zip(results, criteria, strict=True) if not decided(r, c, settings)
    }
    if not undecided:
        return StopReason.DECIDED
    # Fail fast: if the release fails even when every undecided criterion passes (the best they
    # can do: passes only raise the score and add no key failure), more data cannot save it.
    best_case = [
        r.model_copy(update={"verdict": Verdict.PASS}) if r.name in undecided else r
        for r in results
    ]
    if overall(best_case, settings)[0] == Verdict.FAIL:
        return StopReason.REGRESSION
    if at >= deadline:
        return StopReason.DEADLINE
    return None


def _partial(report: GateReport) -> bool:
    """A criterion's release window reaches past the newest data its provider has."""
    return any(c.partial for c in report.criteria)


def _poll(report: GateReport, at: datetime) -> Poll:
    return Poll(
        at=at,
        release_end=report.windows["release"].end,
        verdict=report.verdict,
        criteria=[
            PollCriterion(
                name=c.name,
                verdict=c.verdict,
                value=c.value,
                baseline=c.baseline,
                threshold=c.threshold,
                samples=c.samples,
            )
            for c in report.criteria
        ],
    )


def wait_for_verdict(
    loaded: LoadedConfig,
    *,
    wait: timedelta,
    interval: timedelta,
    dry_run: bool = False,
    clock: Clock = _utc_now,
    sleep: Sleep = time.sleep,
    on_poll: Callable[[GateReport], None] | None = None,
) -> GateReport:
    """Evaluate the gate every `interval` for at most `wait`, each time over the release window as
    far as it has filled, and return the last poll's report with every poll in `polls`.

    Each poll is judged sequentially (group-sequential tests that know which look of the wait it
    is), so that looking again and again does not make a false fail or a false pass likelier: a
    criterion is `fail` once the data establish the breach, `pass` once they exclude it, and
    `inconclusive` until then. An interval so short that the wait would hold more than
    MAX_LOOKS looks is lengthened. `on_poll` gets the report after every poll (its `wait.stopped`
    is set on the last one). `clock` and `sleep` are the wall clock and the pause, replaced in
    tests."""
    # numpy and scipy only once a wait starts: every other command stays quick to start.
    from .sequential import MAX_LOOKS, Schedule

    if wait <= timedelta(0) or interval <= timedelta(0):
        raise ValueError("wait and interval must be positive")
    # The first look comes one interval after the window opens, the last at the deadline.
    shortest = wait / (MAX_LOOKS - 2)
    if interval < shortest:
        unit = (
            timedelta(seconds=1) if shortest >= timedelta(seconds=1) else timedelta(milliseconds=1)
        )
        interval = unit * math.ceil(shortest / unit)  # a round figure for the report
    # The criteria judged at one checkpoint (the first, unless the caller narrowed it already):
    # each poll's results line up with these.
    loaded = at_checkpoint(loaded)
    config = loaded.config
    started = clock()
    resolve_windows(loaded, started)  # a missing or future deploy time is refused before waiting
    assert config.release.deployed_at is not None  # resolve_windows checked it
    opens = config.release.deployed_at + config.windows.release.start
    deadline = started + wait
    # The wait's information is spent by the time it ends: its deadline, or the release window's
    # end if that comes first.
    horizon = min(deadline, config.release.deployed_at + config.windows.release.end)
    plan = WaitReport(
        wait=format_duration(wait),
        interval=format_duration(interval),
        started_at=started,
        deadline=deadline,
    )
    polls: list[Poll] = []
    awaiting_data = False  # the release window closed before its data all came in
    while True:
        now = clock()
        if now <= opens and now < deadline:
            # An empty release window has nothing to read yet (and some services refuse a query
            # over no time at all): the first poll comes one interval after it opens.
            sleep((min(opens + interval, deadline) - now).total_seconds())
            continue
        release = next(w for w in resolve_windows(loaded, now) if w.label == "release")
        # It grows no more: this look is the last one worth taking, unless its data lags behind.
        closed = release.end < now and not awaiting_data
        if closed and not polls:
            # Closed before the first look: one look at all of its data, the fixed way, is valid.
            report = evaluate(loaded, now=now, dry_run=dry_run)
        else:
            # At the last look (share 1), criteria without a sequential test (percentiles) are
            # judged once, the fixed way; the others stay sequential.
            share = 1.0 if closed or now >= horizon else (now - opens) / (horizon - opens)
            schedule = Schedule(look=len(polls) + 1, share=share)
            report = evaluate(loaded, now=now, dry_run=dry_run, sequential=schedule)
        if (closed or now >= horizon) and now < deadline and _partial(report):
            # The window has closed but its data has not all come in (ingestion lag, a scrape
            # gap): this is not the last look. Judge it as an earlier one, spending alpha by the
            # wait's deadline from now on, and keep waiting for the data. (The look just taken is
            # dropped unread: nothing was decided on it.)
            horizon, closed, awaiting_data = deadline, False, True
            share = min((now - opens) / (deadline - opens), 0.999)
            schedule = Schedule(look=len(polls) + 1, share=share)
            report = evaluate(loaded, now=now, dry_run=dry_run, sequential=schedule)
        elif awaiting_data and release.end < now and not _partial(report):
            # The late data have come in: the window is complete, and this is its last look.
            closed = True
            schedule = Schedule(look=len(polls) + 1, share=1.0)
            report = evaluate(loaded, now=now, dry_run=dry_run, sequential=schedule)
        polls.append(_poll(report, now))
        after = clock()
        stopped = stop_reason(
            report.criteria, config.criteria, config.gate, at=after, deadline=deadline
        )
        if stopped is None and closed:
            stopped = StopReason.WINDOW_CLOSED
        report = report.model_copy(
            update={"wait": plan.model_copy(update={"stopped": stopped}), "polls": list(polls)}
        )
        if on_poll is not None:
            on_poll(report)
        if stopped is not None:
            return report
        # The last pause ends at the deadline, so that the last poll reads as much as there is.
        sleep(min(interval, deadline - after).total_seconds())
