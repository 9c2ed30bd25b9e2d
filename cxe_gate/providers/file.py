"""The embedded `file` provider: local event logs, request logs and feedback (NDJSON, CSV, Parquet),
and analytics services' event exports, queried with DuckDB. No account needed; 10 million events
evaluate in seconds.

Each metric is one SQL query that labels rows by window, so both windows come from a single scan."""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

import duckdb
from pydantic import Field, model_validator

from .. import metrics
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
    Journey,
    LatencyCriterion,
    Location,
)
from ..errors import DataError
from ..measurement import Measurement, TimeWindow
from .base import DataCheck, MetricRequest, Provider, ProviderContext, ProviderSettings
from .exports import Export, ExportError, Schema, find_export, quote
from .file_presets import CANONICAL, DEDUP, NATIVE, PRESETS

Table = Literal["events", "requests", "feedback"]
_NUMERIC = frozenset({"status", "duration_ms", "score"})


def _is_numeric(duckdb_type: str) -> bool:
    return duckdb_type.split("(", maxsplit=1)[0] in {
        "TINYINT",
        "SMALLINT",
        "INTEGER",
        "BIGINT",
        "HUGEINT",
        "UTINYINT",
        "USMALLINT",
        "UINTEGER",
        "UBIGINT",
        "UHUGEINT",
        "FLOAT",
        "DOUBLE",
        "DECIMAL",
    }


class FileSettings(ProviderSettings):
    events: str | None = Field(
        None,
        description="event log or export: a path, a glob or a folder of shards (.parquet, .csv, "
        ".ndjson, .json)",
    )
    requests: str | None = Field(None, description="request log: a path, glob or folder")
    feedback: str | None = Field(None, description="survey answers: a path, glob or folder")
    preset: Literal["cxe", "ga4", "amplitude", "mixpanel", "posthog", "segment", "rudderstack"] = (
        Field(
            "cxe",
            description="the event log's shape: cxe (our own), ga4 (BigQuery export), amplitude "
            "(export API), mixpanel (raw export API), posthog (batch export), segment, rudderstack",
        )
    )
    columns: dict[Table, dict[str, str]] = Field(
        default_factory=dict,
        description="per table, canonical column → SQL expression over the file's columns; extra "
        "names add columns usable in `filter`",
    )
    memory_limit: str | None = Field(None, description="DuckDB memory limit, e.g. 2GB")

    @model_validator(mode="after")
    def _some_data(self) -> FileSettings:
        if not (self.events or self.requests or self.feedback):
            raise ValueError("give at least one of events, requests, feedback")
        return self


def _sql_string(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _timestamp(moment: datetime) -> str:
    return f"TIMESTAMPTZ '{moment.isoformat()}'"


def _window_label(windows: list[TimeWindow]) -> str:
    """A CASE expression naming each row's window. Windows do not overlap in time (the config
    guarantees it), except concurrent cohorts, which their conditions tell apart."""
    whens = " ".join(
        f"WHEN ts >= {_timestamp(w.start)} AND ts < {_timestamp(w.end)}"
        + (f" AND coalesce(({w.cohort}), false)" if w.cohort else "")
        + f" THEN {_sql_string(w.label)}"
        for w in windows
    )
    return f"CASE {whens} END"


def _span(windows: list[TimeWindow]) -> str:
    start = min(w.start for w in windows)
    end = max(w.end for w in windows)
    return f"ts >= {_timestamp(start)} AND ts < {_timestamp(end)}"


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


def _needed(check: DataCheck) -> list[str]:
    """The canonical columns a built-in metric reads, beyond the time."""
    criterion = check.criterion
    if isinstance(criterion, ConversionCriterion):
        unit = criterion.unit or (check.journey.unit if check.journey else "session")
        return ["event", f"{unit}_id"]
    if isinstance(criterion, EngagementCriterion):
        unit = "user_id" if criterion.per_user else "session_id"
        return [unit] if criterion.measure == "active_users" else ["event", unit]
    columns = []
    if isinstance(criterion, ErrorRateCriterion | ApdexCriterion):
        columns += ["status"] if criterion.errors == DEFAULT_ERRORS else []
    if isinstance(criterion, ApdexCriterion | LatencyCriterion):
        columns.append("duration_ms")
    if isinstance(criterion, FeedbackCriterion):
        columns.append("score")
    return columns


def _table_of(criterion: CriterionBase) -> Table | None:
    """The table a built-in metric reads (None: a custom query names its own)."""
    if isinstance(criterion, ConversionCriterion | EngagementCriterion):
        return "events"
    if isinstance(criterion, ErrorRateCriterion | ApdexCriterion | LatencyCriterion):
        return "requests"
    if isinstance(criterion, FeedbackCriterion):
        return "feedback"
    return None


def _conditions(criterion: CriterionBase) -> list[tuple[str, str]]:
    """The criterion's SQL conditions: (field, text)."""
    found = []
    if criterion.filter is not None:
        found.append(("filter", criterion.filter))
    if isinstance(criterion, ErrorRateCriterion | ApdexCriterion):
        found.append(("errors", criterion.errors))
    return found


def _utc(moment: datetime | None) -> datetime | None:
    """DuckDB's answer as an aware UTC time (a TIMESTAMP without zone is UTC, as `ts` is)."""
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


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

    @classmethod
    def criterion_problems(
        cls, criterion: CriterionBase, settings: ProviderSettings
    ) -> list[tuple[Location, str]]:
        assert isinstance(settings, FileSettings)
        if criterion.query is not None and not isinstance(criterion.query, str):
            return [(("query",), "expected an SQL query as text for a file provider")]
        if isinstance(criterion, CustomCriterion) and criterion.filter is not None:
            # A custom query is run as written: a filter beside it would be silently ignored.
            return [(("filter",), "a custom query runs as written: put this condition in it")]
        problems: list[tuple[Location, str]] = []
        instead = _session_alternative(criterion)
        if instead is not None:
            problem = _session_problem(settings, instead[1])
            if problem:
                problems.append(((instead[0],), problem))
        for field, text in _conditions(criterion):
            problem = check_condition(text, "duckdb", example=_EXAMPLES[field])
            if problem:
                problems.append(((field,), problem))
        return problems

    @classmethod
    def journey_problems(cls, journey: Journey, settings: ProviderSettings) -> list[str]:
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
    ) -> list[tuple[Location, str]]:
        assert isinstance(settings, FileSettings)
        by_table: dict[Table, list[tuple[Location, str]]] = {}
        needs: dict[Table, list[tuple[Location, str]]] = {}
        for check in checks:
            table = _table_of(check.criterion)
            if table is None:
                continue
            here: Location = ("criteria", check.index)
            needs.setdefault(table, []).extend((here, c) for c in _needed(check))
            conditions = [
                ((*here, field), text)
                for field, text in _conditions(check.criterion)
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
        provider = cls(settings, context)
        problems: list[tuple[Location, str]] = []
        try:
            for table in {*by_table, *needs}:
                if getattr(settings, table) is None:
                    continue
                try:
                    problems += provider.condition_problems(
                        table, by_table.get(table, []), needs.get(table, [])
                    )
                except DataError:
                    continue  # a missing or unreadable file is said when the gate reads it
        finally:
            provider.close()
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
        self._connection: duckdb.DuckDBPyConnection | None = None
        self._prepared: dict[str, str] = {}  # table → the span it holds (text formats) or "view"
        self._unmapped: dict[str, dict[str, str]] = {}  # table → canonical columns the file lacks
        self._lock = threading.Lock()  # one DuckDB connection; it parallelises each query itself
        # (table, the windows' spans) → each window's newest row: see _data_ends
        self._ends: dict[tuple, tuple[datetime | None, ...]] = {}

    # --- data sources ---------------------------------------------------------------------------

    def _connect(self) -> duckdb.DuckDBPyConnection:
        if self._connection is None:
            self._connection = duckdb.connect(":memory:")
            self._connection.execute("SET TimeZone = 'UTC'")
            # DuckDB draws a progress bar on stdout for long queries; the core never prints.
            self._connection.execute("SET enable_progress_bar = false")
            if self.settings.memory_limit:
                self._connection.execute(
                    f"SET memory_limit = {_sql_string(self.settings.memory_limit)}"
                )
        return self._connection

    def _export(self, table: Table) -> Export:
        pattern = getattr(self.settings, table)
        if pattern is None:
            raise DataError(
                f"a {table} file is needed for this criterion; set providers.{self.context.name}."
                f"{table}",
                provider=self.context.name,
                file=self.context.where or None,
            )
        path = Path(pattern)
        if not path.is_absolute():
            path = self.context.base_dir / path
        try:
            return find_export(path)
        except ExportError as exc:
            raise DataError(
                f"{table}: {exc}", provider=self.context.name, file=self.context.where or None
            ) from None

    def _mapping(self, table: Table, schema: Schema) -> dict[str, str | None]:
        """Canonical column → SQL over the file's columns (None: the file lacks its source)."""
        if table == "events":
            return PRESETS[self.settings.preset].build(schema) | self.settings.columns.get(
                table, {}
            )
        return NATIVE[table] | self.settings.columns.get(table, {})

    def _source_of(self, table: Table, name: str) -> str:
        """Where a canonical column is read from, for messages."""
        override = self.settings.columns.get(table, {}).get(name)
        if override is not None:
            return f"mapped as {override!r}"
        if table == "events" and self.settings.preset != "cxe":
            sources = PRESETS[self.settings.preset].sources
            if name in sources:
                return f"preset {self.settings.preset} reads it from {sources[name]}"
        return f"mapped as {NATIVE[table].get(name, name)!r}"

    def _prepare(self, table: Table, windows: list[TimeWindow]) -> None:
        """A view (Parquet) or a table (text formats, parsed once; exports deduplicated) with
        canonical column names."""
        span = _span(windows)
        if self._prepared.get(table) in ("view", span):
            return
        connection = self._connect()
        export = self._export(table)
        source = export.reader
        where = export.files[0] if len(export.files) == 1 else getattr(self.settings, table)
        selected, taken = self._columns(table, export)
        body = f"SELECT {selected} FROM {source}"
        deduplicated = DEDUP in taken
        kind = "VIEW" if export.format == "parquet" and not deduplicated else "TABLE"
        if kind == "TABLE":
            body = f"SELECT * FROM ({body}) WHERE {span}"
        if deduplicated:
            # The service counts an event sent twice (a retry, an overlapping export) once; keep
            # its first copy. Rows without an insert id are all kept.
            body += (
                f" QUALIFY {DEDUP} IS NULL OR row_number() OVER "
                f"(PARTITION BY {DEDUP} ORDER BY ts) = 1"
            )
        try:
            connection.execute(f"CREATE OR REPLACE TEMP {kind} {table} AS {body}")
        except duckdb.Error as exc:
            raise DataError(
                f"{table}: cannot read {where}: {_first_line(exc)}", provider=self.context.name
            ) from exc
        self._prepared[table] = "view" if kind == "VIEW" else span

    def _columns(self, table: Table, export: Export) -> tuple[str, set[str]]:
        """The select list naming the table's canonical columns (then the file's own), and the
        canonical names it has. Each mapping is bound against an empty table of the file's
        shape: binding against the reader itself would detect the shape of every JSON shard
        again, for every column."""
        connection = self._connect()
        source = export.reader
        where = export.files[0] if len(export.files) == 1 else getattr(self.settings, table)
        shape = f"_{table}_shape"
        try:
            connection.execute(
                f"CREATE OR REPLACE TEMP TABLE {shape} AS SELECT * FROM {source} LIMIT 0"
            )
            described = connection.sql(f"SELECT * FROM {shape}")
            schema = Schema(dict(zip(described.columns, described.types, strict=True)))
        except duckdb.Error as exc:
            raise DataError(
                f"{table}: cannot read {where}: {_first_line(exc)}", provider=self.context.name
            ) from exc
        try:
            columns = self._canonical_columns(table, schema, shape, source, where)
        finally:
            connection.execute(f"DROP TABLE {shape}")
        if "ts" not in columns:
            raise DataError(
                f"{table}: {where} has no usable time column ({self._source_of(table, 'ts')}); "
                f"map columns.{table}.ts",
                provider=self.context.name,
            )
        taken = set(columns)
        select = [f"{sql} AS {quote(name)}" for name, sql in columns.items()]
        raw = [quote(name) for name in schema.columns if name not in taken]
        return ", ".join(select + raw), taken

    def condition_problems(
        self,
        table: Table,
        conditions: list[tuple[Location, str]],
        needs: list[tuple[Location, str]] | None = None,
    ) -> list[tuple[Location, str]]:
        """Conditions (filters, error rules, cohorts) bound against the table's columns before any
        query runs, and the canonical columns each criterion needs: a column that is not mapped
        is a configuration error at validate, with the columns there are. Only the files' shapes
        are read (an empty table of each)."""
        export = self._export(table)
        selected, taken = self._columns(table, export)
        missing = [
            (
                place,
                f"the {table} file has no {column} column ({self._source_of(table, column)}); "
                f"map columns.{table}.{column} to an expression over the file's columns",
            )
            for place, column in needs or []
            if column not in taken
        ]
        view = f"_{table}_columns"
        connection = self._connect()
        connection.execute(
            f"CREATE OR REPLACE TEMP VIEW {view} AS SELECT {selected} FROM "
            f"(SELECT * FROM {export.reader} LIMIT 0)"
        )
        problems = []
        try:
            names = [row[0] for row in connection.execute(f"DESCRIBE {view}").fetchall()]
            for place, text in conditions:
                found = _bind(connection, view, text, failed="cannot be read")
                if found:
                    problems.append(
                        (
                            place,
                            f"{text!r} on the {table} file {found}; its columns are "
                            f"{', '.join(names)} (map more under columns.{table})",
                        )
                    )
        finally:
            connection.execute(f"DROP VIEW {view}")
        return list(dict.fromkeys(missing)) + problems

    def _canonical_columns(
        self, table: Table, schema: Schema, shape: str, source: str, where: str
    ) -> dict[str, str]:
        """Canonical column → its SQL, for those the file has (bound against `shape`, an empty
        table of the file's columns); the others are noted in _unmapped for the error messages
        of the queries that need them."""
        connection = self._connect()
        columns = {}
        self._unmapped[table] = {}
        for name, expression in self._mapping(table, schema).items():
            if expression is None:
                self._unmapped[table][name] = self._source_of(table, name)
                continue
            sql = f"CAST(({expression}) AS TIMESTAMPTZ)" if name == "ts" else f"({expression})"
            try:
                kind = connection.execute(f"DESCRIBE SELECT {sql} FROM {shape}").fetchone()[1]
            except duckdb.Error:
                self._unmapped[table][name] = self._source_of(table, name)
                continue
            if name in _NUMERIC and not _is_numeric(kind):
                self._check_numbers(name, sql, source, where)
                sql = f"CAST({sql} AS DOUBLE)"
            columns[name] = sql
        return columns

    def _rows(
        self, table: Table, sql: str, windows: list[TimeWindow], criterion: CriterionBase
    ) -> dict[str, tuple]:
        with self._lock:
            self._prepare(table, windows)
            try:
                rows = self._connect().execute(sql).fetchall()
            except duckdb.Error as exc:
                raise DataError(
                    self._explain(table, exc, criterion), provider=self.context.name, query=sql
                ) from exc
        return {row[0]: tuple(row[1:]) for row in rows if row[0] is not None}

    def _check_numbers(self, name: str, sql: str, source: str, path: str) -> None:
        """A text column that should hold numbers: name the first row that does not."""
        bad = (
            self._connect()
            .execute(
                f"SELECT n, v FROM (SELECT row_number() OVER () AS n, {sql} AS v FROM {source}) "
                "WHERE v IS NOT NULL AND TRY_CAST(v AS DOUBLE) IS NULL LIMIT 1"
            )
            .fetchone()
        )
        if bad is not None:
            raise DataError(
                f"{path}: data row {bad[0]}: {name} is {str(bad[1])[:40]!r}, expected a number",
                provider=self.context.name,
            )

    def _explain(self, table: Table, exc: Exception, criterion: CriterionBase) -> str:
        message = _first_line(exc)
        for name, source in self._unmapped.get(table, {}).items():
            if f'"{name}"' in message:
                return (
                    f"{table}: {getattr(self.settings, table)} has no {name} column ({source}); "
                    f"map columns.{table}.{name} to an expression over the file's columns"
                    + (", or judge conversion by unit: user" if name == "session_id" else "")
                )
        return self._blame_condition(table, criterion) or f"{table}: query failed: {message}"

    def _blame_condition(self, table: str, criterion: CriterionBase) -> str | None:
        """When the query failed because of the criterion's own SQL (an unknown column, a text
        where true or false belongs), say which field and what the table has. DESCRIBE binds the
        condition alone and runs nothing."""
        connection = self._connect()
        for field, text in _conditions(criterion):
            problem = _bind(connection, table, text, failed="failed")
            if problem:
                columns = [row[0] for row in connection.execute(f"DESCRIBE {table}").fetchall()]
                return (
                    f"{table}: criterion {criterion.name!r}: {field} {text!r} {problem}; the "
                    f"{table} columns are {', '.join(columns)}"
                )
        return None

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    # --- metrics --------------------------------------------------------------------------------

    def measure(self, request: MetricRequest, windows: list[TimeWindow]) -> dict[str, Measurement]:
        criterion = request.criterion
        for window in windows:  # checked at load time; again here, as the filter is
            problem = window.cohort and check_condition(window.cohort, "duckdb")
            if problem:
                raise DataError(f"the {window.label} cohort {problem}", provider=self.context.name)
        if isinstance(criterion, CustomCriterion):
            return self._custom(criterion, windows)
        if isinstance(criterion, ConversionCriterion):
            return self._conversion(request, windows)
        handlers = {
            ErrorRateCriterion: self._error_rate,
            ApdexCriterion: self._apdex,
            LatencyCriterion: self._latency,
            FeedbackCriterion: self._feedback,
            EngagementCriterion: self._engagement,
        }
        return handlers[type(criterion)](criterion, windows)

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
        where = _span(windows)
        if criterion.filter:
            where += f" AND {self._condition(criterion, 'filter')}"
        return f"SELECT *, {_window_label(windows)} AS win FROM {table} WHERE {where}"

    def _per_window(
        self, table: Table, sql: str, windows: list[TimeWindow], criterion: CriterionBase, build
    ) -> dict[str, Measurement]:
        """`sql` returns a row per window: its label, then what `build` reads."""
        rows = self._rows(table, sql, windows, criterion)
        ends = self._data_ends(table, windows)
        return {
            w.label: replace(build(rows.get(w.label), sql), data_end=ends[w.label]) for w in windows
        }

    def _data_ends(self, table: Table, windows: list[TimeWindow]) -> dict[str, datetime | None]:
        """Per window, the time of the table's newest row in it, whatever a criterion's filter or
        cohort: how far the log reaches is the log's, and a rare route's newest request says
        nothing about what is missing. One pass over the time column per table, shared by every
        criterion (the coverage check's slack is in cxe_gate.coverage)."""
        key = (table, tuple((w.start, w.end) for w in windows))
        with self._lock:
            if key not in self._ends:
                newest = ", ".join(
                    f"max(ts) FILTER (WHERE ts >= {_timestamp(w.start)} AND ts < "
                    f"{_timestamp(w.end)})"
                    for w in windows
                )
                row = (
                    self._connect()
                    .execute(f"SELECT {newest} FROM {table} WHERE {_span(windows)}")
                    .fetchone()
                )
                self._ends[key] = tuple(_utc(v) for v in (row or (None,) * len(windows)))
        return {w.label: end for w, end in zip(windows, self._ends[key], strict=True)}

    def _require_sessions(self, instead: str) -> None:
        """Checked at load time too; again here, for criteria that reach the provider without the
        loader (the pytest plugin, the API)."""
        problem = _session_problem(self.settings, instead)
        if problem:
            raise DataError(problem, provider=self.context.name)

    def _error_rate(self, criterion: ErrorRateCriterion, windows: list[TimeWindow]):
        errors = self._condition(criterion, "errors")
        sql = (
            f"SELECT win, count(*), count(*) FILTER (WHERE coalesce({errors}, false)) "
            f"FROM ({self._scoped('requests', criterion, windows)}) GROUP BY win"
        )

        def build(row, query):
            requests, errors = row or (0, 0)
            return metrics.proportion(
                errors, requests, query=query, details={"requests": requests, "errors": errors}
            )

        return self._per_window("requests", sql, windows, criterion, build)

    def _apdex(self, criterion: ApdexCriterion, windows: list[TimeWindow]):
        t = criterion.t.total_seconds() * 1000
        errors = self._condition(criterion, "errors")
        ok = f"NOT coalesce({errors}, false) AND duration_ms IS NOT NULL"
        sql = (
            f"SELECT win, count(*) FILTER (WHERE {ok} AND duration_ms <= {t!r}), "
            f"count(*) FILTER (WHERE {ok} AND duration_ms > {t!r} AND duration_ms <= {4 * t!r}), "
            f"count(*) FROM ({self._scoped('requests', criterion, windows)}) GROUP BY win"
        )

        def build(row, query):
            satisfied, tolerating, total = row or (0, 0, 0)
            return metrics.apdex(satisfied, tolerating, total - satisfied - tolerating, query=query)

        return self._per_window("requests", sql, windows, criterion, build)

    def _latency(self, criterion: LatencyCriterion, windows: list[TimeWindow]):
        fraction = criterion.percentile / 100
        sql = (
            f"SELECT win, quantile_cont(duration_ms, {fraction!r}), count(duration_ms) "
            f"FROM ({self._scoped('requests', criterion, windows)}) GROUP BY win"
        )

        def build(row, query):
            value, samples = row or (None, 0)
            return Measurement(
                value=None if not samples else float(value),
                samples=samples,
                details={"requests": samples},
                query=query,
            )

        return self._per_window("requests", sql, windows, criterion, build)

    def _feedback(self, criterion: FeedbackCriterion, windows: list[TimeWindow]):
        low, high = (0, 10) if criterion.scale == "nps" else (1, 5)
        valid = f"score BETWEEN {low} AND {high} AND score = floor(score)"
        if criterion.scale == "nps":
            counts = (
                "count(*) FILTER (WHERE score >= 9), count(*) FILTER (WHERE score BETWEEN 7 AND 8), "
                "count(*) FILTER (WHERE score <= 6)"
            )
        else:
            counts = "count(*) FILTER (WHERE score >= 4), count(*)"
        sql = (
            f"SELECT win, {counts}, count(*) FILTER (WHERE score IS NOT NULL AND NOT ({valid})), "
            f"any_value(score) FILTER (WHERE NOT ({valid})) "
            f"FROM ({self._scoped('feedback', criterion, windows)}) GROUP BY win"
        )

        def build(row, query):
            if row is None:
                return (
                    metrics.nps(0, 0, 0, query=query)
                    if criterion.scale == "nps"
                    else metrics.csat(0, 0, query=query)
                )
            *counts_, invalid, example = row
            if invalid:
                raise DataError(
                    f"feedback: {invalid} {criterion.scale.upper()} scores are not whole numbers "
                    f"from {low} to {high} (e.g. {example}); check criterion {criterion.name!r}'s "
                    "filter selects only this survey's answers",
                    provider=self.context.name,
                    query=query,
                )
            if criterion.scale == "nps":
                return metrics.nps(*counts_, query=query)
            return metrics.csat(*counts_, query=query)

        return self._per_window("feedback", sql, windows, criterion, build)

    def _engagement(self, criterion: EngagementCriterion, windows: list[TimeWindow]):
        alternative = _session_alternative(criterion)
        if alternative is not None:
            self._require_sessions(alternative[1])
        scoped = self._scoped("events", criterion, windows)
        if criterion.measure == "active_users":
            sql = f"SELECT win, count(DISTINCT user_id) FROM ({scoped}) GROUP BY win"

            def count_users(row, query):
                users = row[0] if row else 0
                return Measurement(
                    value=float(users) if users else None,
                    samples=users,
                    details={"users": users},
                    query=query,
                )

            return self._per_window("events", sql, windows, criterion, count_users)
        counted = f"event = {_sql_string(criterion.event)}" if criterion.event else "true"
        unit = "user_id" if criterion.per_user else "session_id"
        sql = (
            f"WITH per_unit AS (SELECT win, {unit}, count(*) FILTER (WHERE {counted}) AS n "
            f"FROM ({scoped}) WHERE {unit} IS NOT NULL GROUP BY win, {unit}) "
            f"SELECT win, count(*), count(*) FILTER (WHERE n > 0), avg(n), coalesce(var_samp(n), 0) "
            f"FROM per_unit GROUP BY win"
        )
        word = "users" if criterion.per_user else "sessions"

        def build(row, query):
            units, adopters, mean, variance = row or (0, 0, None, None)
            if criterion.measure == "adoption":
                return metrics.proportion(
                    adopters, units, query=query, details={word: units, "adopters": adopters}
                )
            if not units:
                return Measurement(value=None, samples=0, query=query)
            return Measurement(
                value=float(mean),
                samples=units,
                variance=float(variance),
                details={word: units},
                query=query,
            )

        return self._per_window("events", sql, windows, criterion, build)

    def _conversion(self, request: MetricRequest, windows: list[TimeWindow]):
        criterion = request.criterion
        assert isinstance(criterion, ConversionCriterion) and request.journey is not None
        journey = request.journey
        if (criterion.unit or journey.unit) == "session":
            self._require_sessions("judge conversion by user (unit: user)")
        unit = f"{criterion.unit or journey.unit}_id"
        steps = journey.steps
        names = ", ".join(_sql_string(s) for s in steps)
        scoped = self._scoped("events", criterion, windows)
        # Greedy earliest match of each step after the previous one: a unit has completed the steps
        # in order if and only if this chain reaches the last step.
        parts = [
            f"e AS (SELECT win, {unit} AS unit, ts, event FROM ({scoped}) "
            f"WHERE event IN ({names}) AND {unit} IS NOT NULL)",
            f"s1 AS (SELECT win, unit, min(ts) AS t, min(ts) AS t0 FROM e "
            f"WHERE event = {_sql_string(steps[0])} GROUP BY win, unit)",
        ]
        for k, step in enumerate(steps[1:], start=2):
            within = ""
            if journey.within is not None:
                within = f" AND e.ts <= p.t0 + INTERVAL '{journey.within.total_seconds()} seconds'"
            parts.append(
                f"s{k} AS (SELECT e.win, e.unit, min(e.ts) AS t, min(p.t0) AS t0 FROM e "
                f"JOIN s{k - 1} p ON e.win = p.win AND e.unit = p.unit AND e.ts >= p.t{within} "
                f"WHERE e.event = {_sql_string(step)} GROUP BY e.win, e.unit)"
            )
        counts = ", ".join(f"count(s{k}.unit)" for k in range(1, len(steps) + 1))
        joins = " ".join(f"LEFT JOIN s{k} USING (win, unit)" for k in range(2, len(steps) + 1))
        sql = f"WITH {', '.join(parts)} SELECT win, {counts} FROM s1 {joins} GROUP BY win"

        def build(row, query):
            reached = row or (0,) * len(steps)
            return metrics.proportion(
                reached[-1],
                reached[0],
                query=query,
                details={f"step {i + 1}: {s}": reached[i] for i, s in enumerate(steps)},
            )

        return self._per_window("events", sql, windows, criterion, build)

    def _custom(self, criterion: CustomCriterion, windows: list[TimeWindow]):
        tables = [t for t in CANONICAL if getattr(self.settings, t)]
        result = {}
        with self._lock:
            for table in tables:
                self._prepare(table, windows)
            for window in windows:
                try:
                    cursor = self._connect().execute(
                        criterion.query, {"start": window.start, "end": window.end}
                    )
                    row = cursor.fetchone()
                    names = [d[0].lower() for d in cursor.description or []]
                except duckdb.Error as exc:
                    raise DataError(
                        f"custom query failed: {_first_line(exc)}",
                        provider=self.context.name,
                        query=criterion.query,
                    ) from exc
                result[window.label] = _custom_measurement(names, row, criterion.query)
        return result


def _custom_measurement(names: list[str], row: tuple | None, query: str) -> Measurement:
    if "value" not in names and not {"successes", "trials"} <= set(names):
        raise DataError(
            "a custom query must return a column named value (and optionally samples), "
            "or successes and trials",
            provider="custom",
            query=query,
        )
    values = dict(zip(names, row, strict=True)) if row else {}
    newest = values.get("data_end")  # optional: the window's newest row, as for built-in metrics
    if newest is not None and not isinstance(newest, datetime):
        raise DataError(
            f"a custom query's data_end is {newest!r} ({type(newest).__name__}), expected a "
            "timestamp such as max(ts)",
            provider="custom",
            query=query,
        )
    if "successes" in values and "trials" in values:
        measured = metrics.proportion(
            int(values["successes"] or 0), int(values["trials"] or 0), query=query
        )
    else:
        value = values.get("value")
        samples = int(values.get("samples") or (1 if value is not None else 0))
        measured = Measurement(
            value=None if value is None else float(value), samples=samples, query=query
        )
    return replace(measured, data_end=_utc(newest))


def _bind(
    connection: duckdb.DuckDBPyConnection, source: str, text: str, *, failed: str
) -> str | None:
    """Why the condition cannot be a WHERE over `source` (a column it lacks, a text where true or
    false belongs), or None. DESCRIBE binds the condition alone and runs nothing."""
    try:
        kind = connection.execute(f"DESCRIBE SELECT ({text}) FROM {source}").fetchone()[1]
    except duckdb.Error as exc:
        return f"{failed}: {_first_line(exc)}"
    return None if kind in ("BOOLEAN", '"NULL"') else f"is {kind}, not true or false"


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
