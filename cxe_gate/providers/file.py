"""The embedded `file` provider: local event logs, request logs and feedback (NDJSON, CSV, Parquet),
and analytics services' event exports, queried with DuckDB. No account needed; 10 million events
evaluate in seconds. Its data is read in file_tables.py; the SQL of each metric is in file_metrics.py."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from functools import partial

import duckdb

from ..config import (
    DEFAULT_ERRORS,
    ApdexCriterion,
    Cohorts,
    ConversionCriterion,
    CriterionBase,
    CustomCriterion,
    EngagementCriterion,
    ErrorRateCriterion,
    FeedbackCriterion,
    JourneySpec,
    LatencyCriterion,
    Location,
    Problems,
)
from ..config.criteria import RetentionCriterion
from ..errors import DataError
from ..measurement import Measurement, Point, TimeWindow
from . import file_metrics, retention
from .answers import first_line
from .base import DataCheck, MetricRequest, Provider, ProviderContext, ProviderSettings
from .capabilities import text_query_problems
from .file_batch import Member, SharedScans
from .file_metrics import MetricQuery, Row, table_of
from .file_presets import PRESETS
from .file_series import file_series
from .file_tables import TABLES, FileSettings, FileTables, Table, conditions_of, utc

__all__ = ["FileProvider", "FileSettings"]

# The criterion's fields holding an SQL condition the queries paste in, with an example of one.
_EXAMPLES = {"filter": "route = '/checkout'", "errors": "status >= 500"}


def check_condition(text: str, dialect: str | None, *, example: str | None = None) -> str | None:
    """conditions.check_condition, imported when a condition is first checked: SQLGlot and its
    dialect cost about 0.15 s, which a gate with only the default error rule need not pay."""
    if text == DEFAULT_ERRORS:
        return None  # our own default, written here, not by a user
    from .conditions import EXAMPLE
    from .conditions import check_condition as check

    return check(text, dialect, example=example or EXAMPLE)


def _carries_end(query: MetricQuery, windows: list[TimeWindow]) -> bool:
    """Whether the query's `with_end` tells each window's newest row: not over cohorts, whose
    windows are told apart by a condition, so a label's newest row is the cohort's."""
    return query.with_end is not None and not any(w.cohort for w in windows)


def _needed(check: DataCheck) -> list[str]:
    """The canonical columns a built-in metric reads, beyond the time."""
    criterion = check.criterion
    if isinstance(criterion, ConversionCriterion):
        unit = criterion.unit or (check.journey.unit if check.journey else "session")
        return ["event", f"{unit}_id"]
    if isinstance(criterion, EngagementCriterion):
        column = "user_id" if criterion.per_user else "session_id"
        return [column] if criterion.measure == "active_users" else ["event", column]
    if isinstance(criterion, RetentionCriterion):
        return ["user_id"] if criterion.within is None else ["user_id", "session_id"]
    columns = []
    if isinstance(criterion, ErrorRateCriterion | ApdexCriterion):
        columns += ["status"] if criterion.errors == DEFAULT_ERRORS else []
    if isinstance(criterion, ApdexCriterion | LatencyCriterion):
        columns.append("duration_ms")
    if isinstance(criterion, FeedbackCriterion):
        columns.append("score")
    return columns


def _session_alternative(criterion: CriterionBase) -> tuple[str, str] | None:
    """For an engagement measure counted per session: the field to change and how, to count per
    user instead. (A conversion's unit may come from its journey: see journey_problems.)"""
    if not isinstance(criterion, EngagementCriterion) or criterion.per_user:
        return None
    if criterion.measure == "events_per_session":
        return "measure", "count per user (measure: events_per_user)"
    return "unit", "count per user (unit: user)"


def _session_problem(settings: FileSettings, instead: str) -> str | None:
    """Why sessions cannot be told apart in this provider's events, or None when they can."""
    preset = PRESETS[settings.preset]
    if preset.sessions or "session_id" in settings.columns.get("events", {}):
        return None
    return (
        f"preset {settings.preset} has no session id (the export carries none): map one with "
        f"columns.events.session_id: <SQL over the export's columns, unique across users, e.g. "
        f"{preset.session_example}>, or {instead}"
    )


class FileProvider(Provider):
    settings_model = FileSettings
    settings: FileSettings
    max_concurrency = 1  # one DuckDB connection, which parallelises each query itself
    takes_cohorts = True
    query_kind = "an SQL query"  # a filter is an SQL condition on each row too

    @classmethod
    def criterion_problems(cls, criterion: CriterionBase, settings: ProviderSettings) -> Problems:
        assert isinstance(settings, FileSettings)
        if refused := text_query_problems(cls, criterion):
            return refused
        if isinstance(criterion, CustomCriterion) and criterion.filter is not None:
            # A custom query is run as written: a filter beside it would be silently ignored.
            return [(("filter",), "a custom query runs as written: put this condition in it")]
        problems: Problems = []
        instead = _session_alternative(criterion)
        if instead is not None:
            problem = _session_problem(settings, instead[1])
            if problem:
                problems.append(((instead[0],), problem))
        for field, text in conditions_of(criterion):
            problem = check_condition(text, "duckdb", example=_EXAMPLES[field])
            if problem:
                problems.append(((field,), problem))
        return problems

    @classmethod
    def journey_problems(cls, journey: JourneySpec, settings: ProviderSettings) -> list[str]:
        assert isinstance(settings, FileSettings)
        if journey.unit != "session":
            return []
        problem = _session_problem(
            settings, "judge conversion by user (unit: user on the journey or on this criterion)"
        )
        return [problem] if problem else []

    @classmethod
    def data_problems(
        cls, settings: ProviderSettings, context: ProviderContext, checks: list[DataCheck]
    ) -> Problems:
        assert isinstance(settings, FileSettings)
        by_table: dict[Table, list[tuple[Location, str]]] = {}
        needs: dict[Table, list[tuple[Location, str]]] = {}
        for check in checks:
            table = table_of(check.criterion)
            if table is None:
                continue
            here: Location = ("criteria", check.index)
            needs.setdefault(table, []).extend((here, c) for c in _needed(check))
            conditions = [
                ((*here, field), text)
                for field, text in conditions_of(check.criterion)
                if text != DEFAULT_ERRORS
            ]
            if check.cohorts is not None:
                where: Location = (*here, "cohorts") if check.criterion.cohorts else ("cohorts",)
                conditions += [
                    ((*where, "release"), check.cohorts.release),
                    ((*where, "baseline"), check.cohorts.baseline),
                ]
            listed = by_table.setdefault(table, [])
            listed.extend(c for c in conditions if c not in listed)  # file-wide cohorts once
        tables = FileTables(settings, context)
        problems: Problems = []
        try:
            for table in {*by_table, *needs}:
                if getattr(settings, table) is None:
                    continue
                try:
                    problems += tables.condition_problems(
                        table, by_table.get(table, []), needs.get(table, [])
                    )
                except DataError:
                    continue  # a missing or unreadable file is said when the gate reads it
        finally:
            tables.close()
        return problems

    @classmethod
    def cohort_problems(
        cls, cohorts: Cohorts, criterion: CriterionBase, settings: ProviderSettings
    ) -> list[str]:
        if isinstance(criterion, CustomCriterion):
            return ["a custom query runs as written: it cannot be split into cohorts"]
        return [
            f"the {label} cohort {problem}"
            for label, text in (("release", cohorts.release), ("baseline", cohorts.baseline))
            if (problem := check_condition(text, "duckdb", example="version = '2.0'"))
        ]

    def __init__(self, settings: FileSettings, context: ProviderContext):
        super().__init__(settings, context)
        self._tables = FileTables(settings, context)
        self._scans = SharedScans(self._tables)

    def expect(self, requests: Sequence[tuple[MetricRequest, list[TimeWindow]]]) -> None:
        """The criteria to come: those on one table and the same windows share one scan."""
        self._scans.expect(requests)

    def close(self) -> None:
        self._tables.close()

    # --- metrics --------------------------------------------------------------------------------

    def measure(self, request: MetricRequest, windows: list[TimeWindow]) -> dict[str, Measurement]:
        criterion = request.criterion
        for window in windows:  # checked at load time; again here, as the filter is
            problem = window.cohort and check_condition(window.cohort, "duckdb")
            if problem:
                raise DataError(f"the {window.label} cohort {problem}", provider=self.context.name)
        if isinstance(criterion, CustomCriterion):
            return self._custom(criterion, windows)
        query = self._query(request, windows)
        rows, ends = self._rows(request, query, windows)
        # Each measurement keeps its own query, which gives the same numbers as the shared scan:
        # the one to run again when checking a figure.
        return {
            w.label: replace(query.build(rows.get(w.label), query.sql), data_end=ends[w.label])
            for w in windows
        }

    def _rows(
        self, request: MetricRequest, query: MetricQuery, windows: list[TimeWindow]
    ) -> tuple[dict[str, Row], dict[str, datetime | None]]:
        """Each window's row of the metric and newest row of its table: from the scan shared with
        the criteria on the same table and windows when the metric can share one, else from its
        own query and a pass over the table's time column."""
        member = self._member(request, windows, query)
        if member is not None:
            shared = self._scans.rows(member, windows, self._member)
            if shared is not None:
                rows, ends = shared
                return rows, ends if ends is not None else self._data_ends(query.table, windows)
        if _carries_end(query, windows):
            return self._carried(request.criterion, query, windows)
        rows = self._tables.rows(query.table, query.sql, windows, request.criterion)
        return rows, self._data_ends(query.table, windows)

    def _carried(
        self, criterion: CriterionBase, query: MetricQuery, windows: list[TimeWindow]
    ) -> tuple[dict[str, Row], dict[str, datetime | None]]:
        """The rows of a query carrying the data end (run once, see SharedScans.carried), and
        that end, remembered for the other criteria on its table."""
        assert query.with_end is not None
        sql = query.with_end

        def run() -> dict[str, Row]:
            return self._tables.rows(query.table, sql, windows, criterion)

        carried = self._scans.carried(criterion, windows, run)
        ends = {w.label: utc(carried[w.label][0]) if w.label in carried else None for w in windows}
        self._tables.remember_ends(query.table, windows, ends)
        return {label: row[1:] for label, row in carried.items()}, ends

    def _data_ends(self, table: Table, windows: list[TimeWindow]) -> dict[str, datetime | None]:
        """Each window's newest row of `table`: read by an expected criterion's query that reads
        every row anyway, run now if it has not run yet; else by a pass of its own."""
        if not self._tables.knows_ends(table, windows):
            for other in self._scans.expected_over(windows):
                if not isinstance(other.criterion, EngagementCriterion):
                    continue  # the only metric whose query can carry it (MetricQuery.with_end)
                try:
                    query = self._query(other, windows)
                except DataError:
                    continue  # its own measure says what is wrong with it
                if query.table == table and _carries_end(query, windows):
                    try:
                        self._carried(other.criterion, query, windows)
                    except DataError:
                        continue  # said when that criterion is measured
                    break
        return self._tables.data_ends(table, windows)

    def _member(
        self, request: MetricRequest, windows: list[TimeWindow], query: MetricQuery | None = None
    ) -> Member | None:
        """The criterion's share of a scan, or None when its metric cannot share one."""
        if isinstance(
            request.criterion, CustomCriterion | RetentionCriterion | ConversionCriterion
        ):
            return None
        query = query or self._query(request, windows)
        if not query.aggregates:
            return None
        criterion = request.criterion
        condition = self._condition(criterion, "filter") if criterion.filter else None
        return Member(criterion, query, condition)

    def measure_series(
        self, request: MetricRequest, windows: list[TimeWindow]
    ) -> dict[str, tuple[Point, ...]]:
        """Each window's value per interval (gate.series): the metric's query once more, after
        `measure` checked the request. A custom query has no intervals to cut."""
        if isinstance(request.criterion, CustomCriterion):
            return {}
        query_for = partial(self._query, request)
        return file_series(query_for, self._tables, request.criterion, windows)

    def _query(self, request: MetricRequest, windows: list[TimeWindow]) -> MetricQuery:
        """The metric's SQL, its conditions checked first (the error rule before the filter)."""
        criterion = request.criterion
        if isinstance(criterion, ErrorRateCriterion):
            errors = self._condition(criterion, "errors")
            return file_metrics.error_rate(self._scoped("requests", criterion, windows), errors)
        if isinstance(criterion, ApdexCriterion):
            errors = self._condition(criterion, "errors")
            rows = self._scoped("requests", criterion, windows)
            return file_metrics.apdex(criterion, rows, errors)
        if isinstance(criterion, LatencyCriterion):
            return file_metrics.latency(criterion, self._scoped("requests", criterion, windows))
        if isinstance(criterion, FeedbackCriterion):
            rows = self._scoped("feedback", criterion, windows)
            return file_metrics.feedback(criterion, rows, self.context.name)
        if isinstance(criterion, EngagementCriterion):
            alternative = _session_alternative(criterion)
            if alternative is not None:
                self._require_sessions(alternative[1])
            return file_metrics.engagement(criterion, self._scoped("events", criterion, windows))
        if isinstance(criterion, RetentionCriterion):
            condition = self._condition(criterion, "filter") if criterion.filter else None
            return retention.retention(criterion, windows, condition)
        assert isinstance(criterion, ConversionCriterion) and request.journey is not None
        if (criterion.unit or request.journey.unit) == "session":
            self._require_sessions("judge conversion by user (unit: user)")
        rows = self._scoped("events", criterion, windows)
        return file_metrics.conversion(criterion, request.journey, rows)

    def _condition(self, criterion: CriterionBase, field: str) -> str:
        """The criterion's own SQL condition, parenthesised to be pasted into a query. Checked again
        here, for criteria that reach a provider without the loader (the pytest plugin, the API):
        whatever is pasted cannot change the query's structure."""
        text = getattr(criterion, field)
        problem = check_condition(text, "duckdb", example=_EXAMPLES[field])
        if problem:
            raise DataError(
                f"criterion {criterion.name!r}: {field} {problem}", provider=self.context.name
            )
        return f"({text})"

    def _scoped(self, table: Table, criterion: CriterionBase, windows: list[TimeWindow]) -> str:
        """Rows of `table` in any window, labelled `win`, narrowed by the criterion's filter."""
        condition = self._condition(criterion, "filter") if criterion.filter else None
        return file_metrics.scoped(table, windows, condition)

    def _require_sessions(self, instead: str) -> None:
        """Checked at load time too; again here, for criteria that reach the provider without the
        loader (the pytest plugin, the API)."""
        problem = _session_problem(self.settings, instead)
        if problem:
            raise DataError(problem, provider=self.context.name)

    def _custom(
        self, criterion: CustomCriterion, windows: list[TimeWindow]
    ) -> dict[str, Measurement]:
        query = criterion.query
        assert isinstance(query, str)  # criterion_problems refused the rest
        tables = [t for t in TABLES if getattr(self.settings, t)]
        result = {}
        with self._tables.lock:
            for table in tables:
                self._tables.prepare(table, windows)
            for window in windows:
                try:
                    cursor = self._tables.connect().execute(
                        query, {"start": window.start, "end": window.end}
                    )
                    row = cursor.fetchone()
                    names = [d[0].lower() for d in cursor.description or []]
                except duckdb.Error as exc:
                    raise DataError(
                        f"custom query failed: {first_line(exc)}",
                        provider=self.context.name,
                        query=query,
                    ) from exc
                result[window.label] = file_metrics.custom_measurement(names, row, query)
        return result
