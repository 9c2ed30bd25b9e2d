"""Data coverage: does a window's data reach its end? A release window judged at 15:00 over data that
stops at 14:00 has an unseen hour, and "no regression seen" over it is not a pass."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from .measurement import Measurement, TimeWindow
from .results import CriterionResult, Verdict

# Events and requests come at random moments: the newest one lies a little before the window's end
# even when nothing is missing. A gap counts only beyond this, or beyond GAPS mean spacings between
# samples (at low traffic): the chance of such a gap in complete data is about e^-GAPS (0.7%).
SLACK = timedelta(minutes=5)
GAPS = 5


def _utc(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


@dataclass(frozen=True)
class Shortfall:
    """A window whose data ends before the window does."""

    window: TimeWindow
    data_end: datetime

    def describe(self) -> str:
        return (
            f"{self.window.label} data ends {_utc(self.data_end)}, window to "
            f"{_utc(self.window.end)}"
        )


def shortfall(window: TimeWindow, measurement: Measurement | None) -> Shortfall | None:
    """The window's shortfall, or None when its data reach the end (or the provider does not say
    where its data end)."""
    if measurement is None or measurement.data_end is None or not measurement.has_data:
        return None
    spacing = (window.end - window.start) / max(measurement.samples, 1)
    slack = max(SLACK, GAPS * spacing)
    if window.end - measurement.data_end <= slack:
        return None
    return Shortfall(window, measurement.data_end)


def with_coverage(
    result: CriterionResult,
    measured: dict[str, Measurement],
    windows: list[TimeWindow],
    *,
    allow_partial: bool,
    sequential: bool,
) -> CriterionResult:
    """The result with each window's data end recorded, and a release window that reaches past the
    data flagged. Judged once (not polled), such a window cannot pass unless `allow_partial`: the
    unseen hours could hold the regression. A breach already seen stands. While polling, a look
    over a short window is simply an earlier look: flagged, not overruled."""
    ends = {label: m.data_end for label, m in measured.items() if m.data_end is not None}
    gaps = [
        gap
        for window in windows
        if (gap := shortfall(window, measured.get(window.label))) is not None
    ]
    if not ends and not gaps:
        return result
    update: dict[str, object] = {"data_end": ends}
    release_gap = next((g for g in gaps if g.window.label == "release"), None)
    notes = [f"{gap.describe()}: the window reaches past the data" for gap in gaps]
    if release_gap is not None:
        update["partial"] = True
        flag = release_gap.describe()
        if result.verdict == Verdict.PASS and not allow_partial and not sequential:
            update["verdict"] = Verdict.INCONCLUSIVE
            update["message"] = (
                f"{result.message}; but the {flag}: the hours without data are unseen "
                "(windows.allow_partial: true judges what there is)"
            )
        else:
            update["message"] = f"{result.message} ({flag})"
    if notes:
        update["notes"] = [*result.notes, *notes]
    return result.model_copy(update=update)
