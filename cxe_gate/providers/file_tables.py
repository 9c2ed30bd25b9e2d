"""The `file` provider's data as DuckDB tables: each log or export found and read under canonical
column names (a view over Parquet, a table parsed once for text formats), its shape checked against
what criteria need before any query runs, and DuckDB's errors explained in the file's terms."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

import duckdb
from pydantic import Field, model_validator

from ..config import ApdexCriterion, CriterionBase, ErrorRateCriterion, Location, Problems
from ..config.criteria import RetentionCriterion
from ..errors import DataError
from ..measurement import TimeWindow
from .answers import first_line
from .base import ProviderContext, ProviderSettings
from .exports import Export, ExportError, Schema, find_export, quote
from .file_presets import DEDUP, NATIVE, PRESETS, PresetName

Table = Literal["events", "requests", "feedback"]
TABLES: tuple[Table, ...] = ("events", "requests", "feedback")
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
    """Where the `file` provider's tables are, and how their columns map to the canonical ones."""

    events: str | None = Field(
        None,
        description="event log or export: a path, a glob or a folder of shards (.parquet, .csv, "
        ".ndjson, .json)",
    )
    requests: str | None = Field(None, description="request log: a path, glob or folder")
    feedback: str | None = Field(None, description="survey answers: a path, glob or folder")
    preset: PresetName = Field(
        "cxe",
        description="the event log's shape: cxe (our own), ga4 (BigQuery export), amplitude "
        "(export API), mixpanel (raw export API), posthog (batch export), segment, rudderstack",
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


def sql_string(text: str) -> str:
    """An SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


def timestamp(moment: datetime) -> str:
    """A time as a DuckDB literal."""
    return f"TIMESTAMPTZ '{moment.isoformat()}'"


def span_of(windows: list[TimeWindow]) -> str:
    """A condition on `ts` that holds for the rows of any of the windows."""
    start = min(w.start for w in windows)
    end = max(w.end for w in windows)
    return f"ts >= {timestamp(start)} AND ts < {timestamp(end)}"


def conditions_of(criterion: CriterionBase) -> list[tuple[str, str]]:
    """The criterion's SQL conditions: (field, text)."""
    found = []
    if criterion.filter is not None:
        found.append(("filter", criterion.filter))
    if isinstance(criterion, ErrorRateCriterion | ApdexCriterion):
        found.append(("errors", criterion.errors))
    return found


def utc(moment: datetime | None) -> datetime | None:
    """DuckDB's answer as an aware UTC time (a TIMESTAMP without zone is UTC, as `ts` is)."""
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


class FileTables:
    """The provider's tables on one DuckDB connection, which parallelises each query itself: one
    query at a time (`lock`)."""

    def __init__(self, settings: FileSettings, context: ProviderContext):
        self.settings = settings
        self.context = context
        self.lock = threading.Lock()
        self._connection: duckdb.DuckDBPyConnection | None = None
        self._prepared: dict[str, str] = {}  # table → the span it holds (text formats) or "view"
        self._unmapped: dict[str, dict[str, str]] = {}  # table → canonical columns the file lacks
        # (table, the windows' spans) → each window's newest row: see data_ends
        self._ends: dict[tuple, tuple[datetime | None, ...]] = {}

    def connect(self) -> duckdb.DuckDBPyConnection:
        if self._connection is None:
            self._connection = duckdb.connect(":memory:")
            self._connection.execute("SET TimeZone = 'UTC'")
            # DuckDB draws a progress bar on stdout for long queries; the core never prints.
            self._connection.execute("SET enable_progress_bar = false")
            if self.settings.memory_limit:
                self._connection.execute(
                    f"SET memory_limit = {sql_string(self.settings.memory_limit)}"
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
        mapping: dict[str, str | None] = dict(NATIVE[table])
        return mapping | self.settings.columns.get(table, {})

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

    def prepare(self, table: Table, windows: list[TimeWindow]) -> None:
        """A view (Parquet) or a table (text formats, parsed once; exports deduplicated) with
        canonical column names."""
        span = span_of(windows)
        if self._prepared.get(table) in ("view", span):
            return
        connection = self.connect()
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
                f"{table}: cannot read {where}: {first_line(exc)}", provider=self.context.name
            ) from exc
        self._prepared[table] = "view" if kind == "VIEW" else span

    def _columns(self, table: Table, export: Export) -> tuple[str, set[str]]:
        """The select list naming the table's canonical columns (then the file's own), and the
        canonical names it has. Each mapping is bound against an empty table of the file's
        shape: binding against the reader itself would detect the shape of every JSON shard
        again, for every column."""
        connection = self.connect()
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
                f"{table}: cannot read {where}: {first_line(exc)}", provider=self.context.name
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
    ) -> Problems:
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
        connection = self.connect()
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
        connection = self.connect()
        columns = {}
        self._unmapped[table] = {}
        for name, expression in self._mapping(table, schema).items():
            if expression is None:
                self._unmapped[table][name] = self._source_of(table, name)
                continue
            sql = f"CAST(({expression}) AS TIMESTAMPTZ)" if name == "ts" else f"({expression})"
            try:
                described = connection.execute(f"DESCRIBE SELECT {sql} FROM {shape}").fetchone()
            except duckdb.Error:
                self._unmapped[table][name] = self._source_of(table, name)
                continue
            assert described is not None  # DESCRIBE answers a row per column
            kind = described[1]
            if name in _NUMERIC and not _is_numeric(kind):
                self._check_numbers(name, sql, source, where)
                sql = f"CAST({sql} AS DOUBLE)"
            columns[name] = sql
        return columns

    def rows(
        self, table: Table, sql: str, windows: list[TimeWindow], criterion: CriterionBase
    ) -> dict[str, tuple]:
        with self.lock:
            self.prepare(table, _read_by(criterion, windows))
            try:
                rows = self.connect().execute(sql).fetchall()
            except duckdb.Error as exc:
                raise DataError(
                    self._explain(table, exc, criterion), provider=self.context.name, query=sql
                ) from exc
        return {row[0]: tuple(row[1:]) for row in rows if row[0] is not None}

    def scan(self, table: Table, sql: str, windows: list[TimeWindow]) -> list[tuple]:
        """The rows of a query over `table` in `windows` (file_batch.py's shared scan). DuckDB's
        errors are raised as they are: the caller queries each criterion alone to say which is
        at fault."""
        with self.lock:
            self.prepare(table, windows)
            return self.connect().execute(sql).fetchall()

    def remember_ends(
        self, table: Table, windows: list[TimeWindow], ends: dict[str, datetime | None]
    ) -> None:
        """Each window's newest row, read by a scan that was made anyway: `data_ends` of these
        windows then costs no pass of its own."""
        key = (table, tuple((w.start, w.end) for w in windows))
        with self.lock:
            self._ends[key] = tuple(ends[w.label] for w in windows)

    def _check_numbers(self, name: str, sql: str, source: str, path: str) -> None:
        """A text column that should hold numbers: name the first row that does not."""
        bad = (
            self.connect()
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
        message = first_line(exc)
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
        connection = self.connect()
        for field, text in conditions_of(criterion):
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

    def knows_ends(self, table: Table, windows: list[TimeWindow]) -> bool:
        """Whether `data_ends` of these windows is already known (costs no pass)."""
        with self.lock:
            return (table, tuple((w.start, w.end) for w in windows)) in self._ends

    def data_ends(self, table: Table, windows: list[TimeWindow]) -> dict[str, datetime | None]:
        """Per window, the time of the table's newest row in it, whatever a criterion's filter or
        cohort: how far the log reaches is the log's, and a rare route's newest request says
        nothing about what is missing. One pass over the time column per table, shared by every
        criterion (the coverage check's slack is in cxe_gate.coverage)."""
        key = (table, tuple((w.start, w.end) for w in windows))
        with self.lock:
            if key not in self._ends:
                newest = ", ".join(
                    f"max(ts) FILTER (WHERE ts >= {timestamp(w.start)} AND ts < {timestamp(w.end)})"
                    for w in windows
                )
                row = (
                    self.connect()
                    .execute(f"SELECT {newest} FROM {table} WHERE {span_of(windows)}")
                    .fetchone()
                )
                self._ends[key] = tuple(utc(v) for v in (row or (None,) * len(windows)))
        return {w.label: end for w, end in zip(windows, self._ends[key], strict=True)}


def _read_by(criterion: CriterionBase, windows: list[TimeWindow]) -> list[TimeWindow]:
    """The windows, and for retention the events before (who is new) and after them (who came
    back) that its query reads: a text format's table must hold them too."""
    from .retention import reach  # retention's SQL builds on file_metrics, which builds on this

    if not isinstance(criterion, RetentionCriterion):
        return windows
    start, end = reach(criterion, windows)
    return [*windows, TimeWindow("retention follow-up", start, end)]


def _bind(
    connection: duckdb.DuckDBPyConnection, source: str, text: str, *, failed: str
) -> str | None:
    """Why the condition cannot be a WHERE over `source` (a column it lacks, a text where true or
    false belongs), or None. DESCRIBE binds the condition alone and runs nothing."""
    try:
        described = connection.execute(f"DESCRIBE SELECT ({text}) FROM {source}").fetchone()
    except duckdb.Error as exc:
        return f"{failed}: {first_line(exc)}"
    assert described is not None  # DESCRIBE answers a row per column
    kind = described[1]
    return None if kind in ("BOOLEAN", '"NULL"') else f"is {kind}, not true or false"
