"""Criteria of the `file` provider that read the same table over the same windows, answered from
one scan: a query returning every criterion's aggregates and each window's newest row (the data
end that coverage reads), so five request metrics read the request log once, not six times; and a
query that reads every row of its windows anyway (engagement) carrying the data end for the
criteria on its table that cannot (a funnel), which then need no pass of their own."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

import duckdb

from ..config import CriterionBase
from ..errors import DataError
from ..measurement import TimeWindow
from .base import MetricRequest
from .file_metrics import Aggregate, MetricQuery, Row, grouped, scoped
from .file_tables import FileTables, Table, utc


@dataclass(frozen=True)
class Member:
    """One criterion's share of a scan: its metric query and its checked filter (parenthesised)."""

    criterion: CriterionBase
    query: MetricQuery
    condition: str | None


@dataclass(frozen=True)
class Answer:
    """What one scan said: per member (by position), each window's row; and each window's newest
    row of the table, when the scan could tell (None: it could not, see `Scan.reads_ends`)."""

    rows: tuple[dict[str, Row], ...]
    ends: dict[str, datetime | None] | None


@dataclass(frozen=True)
class Scan:
    """One query over `table` in `windows` for all `members`."""

    table: Table
    windows: tuple[TimeWindow, ...]
    members: tuple[Member, ...]

    @property
    def reads_ends(self) -> bool:
        # A cohort's window is labelled by its condition too: the newest row of a label would
        # then be the cohort's, not the log's.
        return not any(w.cohort for w in self.windows)

    def sql(self) -> str:
        columns = [a.narrowed(m.condition) for m in self.members for a in m.query.aggregates]
        if self.reads_ends:
            columns.insert(0, Aggregate("max(ts)"))
        return grouped(tuple(columns), scoped(self.table, list(self.windows), None))

    def answer(self, rows: list[tuple]) -> Answer:
        """The scan's rows (a label first, per window) split back into each member's."""
        by_window = {row[0]: row[1:] for row in rows if row[0] is not None}
        ends: dict[str, datetime | None] | None = None
        if self.reads_ends:
            ends = {
                w.label: utc(by_window[w.label][0]) if w.label in by_window else None
                for w in self.windows
            }
            by_window = {label: row[1:] for label, row in by_window.items()}
        shares: list[dict[str, Row]] = []
        at = 0
        for member in self.members:
            width = len(member.query.aggregates)
            shares.append({label: tuple(row[at : at + width]) for label, row in by_window.items()})
            at += width
        return Answer(tuple(shares), ends)


class SharedScans:
    """The scans of one evaluation. `expect` names the criteria to come; the first of them measured
    runs the scan for all that share its table and windows, the others read its answer. When the
    shared query fails (one criterion's filter names a column the log lacks), every criterion is
    queried on its own, so the failure stays that criterion's."""

    def __init__(self, tables: FileTables):
        self._tables = tables
        self._expected: list[tuple[MetricRequest, tuple[TimeWindow, ...]]] = []
        self._answers: dict[tuple[Table, tuple[TimeWindow, ...]], tuple[Scan, Answer] | None] = {}
        self._carried: dict[tuple[int, tuple[TimeWindow, ...]], _Once] = {}
        self._lock = threading.Lock()

    def expect(self, requests: Sequence[tuple[MetricRequest, Sequence[TimeWindow]]]) -> None:
        with self._lock:
            self._expected = [(request, tuple(windows)) for request, windows in requests]
            self._answers.clear()
            self._carried.clear()

    def expected_over(self, windows: Sequence[TimeWindow]) -> list[MetricRequest]:
        """The expected criteria measured over exactly these windows."""
        key = tuple(windows)
        with self._lock:
            return [request for request, others in self._expected if others == key]

    def carried(
        self, criterion: CriterionBase, windows: Sequence[TimeWindow], run: Callable[[], Rows]
    ) -> Rows:
        """`run`'s rows (a query with the data end first, see MetricQuery.with_end), run once per
        criterion and windows, whether its own measure or another criterion's need for the data
        end asks first; a failure is kept and raised to each asker."""
        with self._lock:
            once = self._carried.setdefault((id(criterion), tuple(windows)), _Once())
        return once.result(run)

    def rows(
        self,
        member: Member,
        windows: list[TimeWindow],
        member_of: Callable[[MetricRequest, list[TimeWindow]], Member | None],
    ) -> tuple[dict[str, Row], dict[str, datetime | None] | None] | None:
        """The member's row per window, and each window's newest row when the scan read them; None
        when the shared query failed (the caller then queries this criterion on its own, and
        says what is wrong with it). `member_of` builds another expected criterion's share, or None
        when it cannot take part (its own query is refused: that is said when it is measured)."""
        key = (member.query.table, tuple(windows))
        with self._lock:
            if key not in self._answers:
                members = [member] + [
                    other
                    for request, others in self._expected
                    if others == key[1] and request.criterion != member.criterion
                    if (other := _share(member_of, request, windows, member.query.table))
                ]
                scan = Scan(member.query.table, key[1], tuple(members))
                self._answers[key] = self._run(scan)
            found = self._answers[key]
        if found is None:
            return None
        scan, answer = found
        for place, taking in enumerate(scan.members):
            if taking.criterion == member.criterion:
                return answer.rows[place], answer.ends
        # Not expected (measured from code, or twice over other windows): a scan of its own.
        alone = self._run(Scan(member.query.table, key[1], (member,)))
        return None if alone is None else (alone[1].rows[0], alone[1].ends)

    def _run(self, scan: Scan) -> tuple[Scan, Answer] | None:
        try:
            rows = self._tables.scan(scan.table, scan.sql(), list(scan.windows))
        except duckdb.Error:
            return None  # each criterion is queried alone, and the one at fault says why
        answer = scan.answer(rows)
        if answer.ends is not None:
            self._tables.remember_ends(scan.table, list(scan.windows), answer.ends)
        return scan, answer


Rows = dict[str, Row]  # a query's row per window label


class _Once:
    """A computation run by the first thread to ask; the others wait for its answer (or error)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._done = False
        self._rows: Rows = {}
        self._error: Exception | None = None

    def result(self, run: Callable[[], Rows]) -> Rows:
        with self._lock:
            if not self._done:
                try:
                    self._rows = run()
                except Exception as exc:  # kept for every asker; each says it its own way
                    self._error = exc
                self._done = True
        if self._error is not None:
            raise self._error
        return self._rows


def _share(
    member_of: Callable[[MetricRequest, list[TimeWindow]], Member | None],
    request: MetricRequest,
    windows: list[TimeWindow],
    table: Table,
) -> Member | None:
    try:
        found = member_of(request, windows)
    except DataError:
        return None  # its own measure says what is wrong with it
    return found if found is not None and found.query.table == table else None
