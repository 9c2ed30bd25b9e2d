"""The sql provider's tables: a warehouse table named in its settings, read under the canonical
column names the metric SQL uses (the file provider's presets and `columns`), narrowed to the
windows' span inside the database, so that no event row leaves it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError

from .exports import Schema
from .file_presets import DEDUP, NATIVE, PRESETS
from .file_tables import Table
from .sql_compile import CompileError, moment_literal, parse_duckdb, parse_in

# The presets a warehouse table can be read with: our own columns, BigQuery's GA4 export and
# Segment's warehouse schema.
WAREHOUSE_PRESETS = ("cxe", "ga4", "segment")
# Columns computed in the innermost query and named in the metric SQL in their place.
CONDITION = "cxe_{}"


@dataclass(frozen=True)
class _Type:
    """A column type as the presets read it (exports.DuckType), declared rather than read."""

    id: str
    children: tuple[tuple[str, Any], ...] = ()

    def __str__(self) -> str:
        return self.id.upper()


def _struct(**fields: _Type) -> _Type:
    return _Type("struct", tuple(fields.items()))


_TEXT, _INT, _FLOAT = _Type("varchar"), _Type("bigint"), _Type("double")
# The GA4 export's own schema (BigQuery's events_YYYYMMDD tables), what the ga4 preset reads.
_GA4 = Schema(
    {
        "event_timestamp": _INT,
        "event_name": _TEXT,
        "user_pseudo_id": _TEXT,
        "event_params": _Type(
            "list",
            (
                (
                    "child",
                    _struct(
                        key=_TEXT,
                        value=_struct(
                            string_value=_TEXT,
                            int_value=_INT,
                            float_value=_FLOAT,
                            double_value=_FLOAT,
                        ),
                    ),
                ),
            ),
        ),
    }
)


# Segment's warehouse schema: each track call a row of <source>.tracks (and of its event's own
# table) under snake_case columns: id is the call's messageId, anonymous_id and user_id its ids,
# timestamp the clock-skew corrected time. Read as the file provider's segment preset reads the
# JSON export: the user is user_id, else anonymous_id; a messageId sent twice counts once.
_SEGMENT: dict[str, str | None] = {
    "ts": "timestamp",
    "event": "event",
    "user_id": "coalesce(user_id, anonymous_id)",
    "session_id": None,
    DEDUP: "id",
}
_SEGMENT_SOURCES = {
    "ts": "timestamp",
    "event": "event",
    "user_id": "user_id (else anonymous_id)",
    DEDUP: "id (the messageId)",
}


def preset_problem(preset: str) -> str | None:
    """Why a warehouse table cannot be read with `preset`, or None."""
    if preset in WAREHOUSE_PRESETS:
        return None
    return (
        f"preset {preset} reads the service's file export; a warehouse table is read with preset "
        "cxe (the canonical columns), ga4 (BigQuery's GA4 export) or segment (Segment's tracks "
        "table): map this table's columns under columns.events (ts, event, user_id, session_id)"
    )


def _preset_mapping(table: Table, preset: str) -> dict[str, str | None]:
    """Canonical column → DuckDB SQL over the table's own columns."""
    if table == "events" and preset == "ga4":
        return PRESETS["ga4"].build(_GA4)
    if table == "events" and preset == "segment":
        return dict(_SEGMENT)
    return dict(NATIVE[table])


def _source_of(table: Table, preset: str, name: str) -> str:
    if table == "events" and preset == "segment" and name == "session_id":
        return "Segment's tables keep none; e.g. anonymous_id || ':' || <a session property>"
    if table == "events" and preset == "segment":
        return f"preset segment reads it from {_SEGMENT_SOURCES.get(name, 'nowhere')}"
    if table == "events" and preset != "cxe":
        return f"preset {preset} reads it from {PRESETS[preset].sources.get(name, 'nowhere')}"
    return f"mapped as {NATIVE[table].get(name, name)!r}"


@dataclass(frozen=True)
class Tables:
    """Where the canonical tables are in the warehouse, and how their columns map."""

    names: Mapping[Table, str | None]  # table → its name in the warehouse
    preset: str
    columns: Mapping[Table, Mapping[str, str]]
    dialect: str

    def has(self, table: Table) -> bool:
        return self.names.get(table) is not None

    def mapping(self, table: Table) -> dict[str, exp.Expr | None]:
        """Canonical column → its expression over the table's columns (None: it has no source):
        the preset's, written in DuckDB's dialect, then `columns`, written in the warehouse's."""
        mapped: dict[str, exp.Expr | None] = {}
        for name, text in _preset_mapping(table, self.preset).items():
            mapped[name] = None if text is None else parse_duckdb(text, self.dialect, what=name)
        for name, text in self.columns.get(table, {}).items():
            mapped[name] = parse_in(text, self.dialect, what=f"columns.{table}.{name}")
        return mapped

    def table(self, table: Table) -> exp.Expr:
        """The table as the settings name it: a table (`analytics.events`, BigQuery's
        `analytics_123.events_*`) or a table function (DuckDB's read_parquet('...'), chdb's
        file('...'))."""
        name = self.names.get(table)
        if name is None:
            raise CompileError(f"no {table} table: name it under {table}")
        expected = f"{table}: {name!r} is not a {self.dialect} table name"
        try:
            parsed = sqlglot.parse(f"SELECT * FROM {name}", read=self.dialect)
        except SqlglotError:
            raise CompileError(expected) from None
        # One table (or table function) and nothing after it: no WHERE, JOIN or second statement.
        select = parsed[0] if len(parsed) == 1 else None
        if not isinstance(select, exp.Select) or _given(select) - {"expressions", "from", "from_"}:
            raise CompileError(expected)
        source = select.args.get("from_") or select.args.get("from")
        found = source.this if source is not None else None
        if not isinstance(found, exp.Table) or _given(found) - {"this", "db", "catalog"}:
            raise CompileError(expected)
        if self.dialect == "bigquery" and "*" in name:
            for part in found.parts:  # a wildcard table is written in backticks
                part.set("quoted", True)
        return found

    def source(
        self,
        table: Table,
        needed: set[str],
        conditions: Mapping[str, str],
        span: tuple[datetime, datetime],
    ) -> exp.Select:
        """SELECT the needed canonical columns, and each condition (a checked filter, error rule
        or cohort, over the canonical and the table's own columns) as a column of its own, of
        the rows in `span`; deduplicated on insert_id when one is mapped."""
        mapping = self.mapping(table)
        missing = sorted(name for name in needed | {"ts"} if mapping.get(name) is None)
        if missing:
            name = missing[0]
            raise CompileError(
                f"the {table} table has no {name} column ({_source_of(table, self.preset, name)});"
                f" map columns.{table}.{name} to an expression over the table's columns"
            )
        ts = mapping["ts"]
        assert ts is not None
        start, end = span
        where: exp.Expr = exp.and_(
            exp.GTE(this=ts.copy(), expression=moment_literal(start)),
            exp.LT(this=ts.copy(), expression=moment_literal(end)),
        )
        if self.dialect == "bigquery" and self.names[table] and "*" in str(self.names[table]):
            where = exp.and_(where, _shards(span))
        select = exp.select(
            *(_named(_expression(mapping, n), n) for n in sorted(needed | {"ts"})),
            *(
                exp.alias_(exp.paren(self._condition(text, mapping, name)), CONDITION.format(name))
                for name, text in conditions.items()
            ),
        )
        dedup = mapping.get(DEDUP)
        if dedup is None:
            return select.from_(self.table(table)).where(where)
        copy = exp.Window(
            this=exp.RowNumber(),
            partition_by=[dedup.copy()],
            order=exp.Order(expressions=[exp.Ordered(this=ts.copy())]),
        )
        # The first copy of an event sent twice, as the services count it (file_tables.prepare).
        numbered = select.select(
            exp.alias_(dedup.copy(), DEDUP), exp.alias_(copy, "cxe_copy")
        ).from_(self.table(table))
        return (
            exp.select("*")
            .from_(numbered.where(where).subquery("numbered"))
            .where(f"{DEDUP} IS NULL OR cxe_copy = 1")
        )

    def _condition(self, text: str, mapping: dict[str, exp.Expr | None], name: str) -> exp.Expr:
        """A condition written over canonical names: each name the table maps, replaced by its
        expression (the table's own columns stay as they are)."""
        condition = parse_in(text, self.dialect, what=name)
        for column in list(condition.find_all(exp.Column)):
            if column.table:
                continue
            expression = mapping.get(column.name)
            if expression is not None and expression != column:
                column.replace(exp.paren(expression.copy()))
        return condition


def _named(expression: exp.Expr, name: str) -> exp.Expr:
    """`expression AS name`, or the column alone where it has that name already."""
    if isinstance(expression, exp.Column) and not expression.table and expression.name == name:
        return expression
    return exp.alias_(expression, name)


def _given(node: exp.Expr) -> set[str]:
    return {key for key, value in node.args.items() if value}


def _expression(mapping: dict[str, exp.Expr | None], name: str) -> exp.Expr:
    expression = mapping[name]
    assert expression is not None  # source() named the missing ones
    return expression.copy()


def _shards(span: tuple[datetime, datetime]) -> exp.Expr:
    """BigQuery's date-sharded tables (events_YYYYMMDD, read as events_*): only the shards of the
    span's days are scanned. A day's shard holds that day in the property's own time zone (GA4),
    up to 14 hours off UTC: a day more on each side keeps every row."""
    start, end = span
    first = (start - timedelta(days=1)).strftime("%Y%m%d")
    last = (end + timedelta(days=1)).strftime("%Y%m%d")
    return exp.Between(
        this=exp.column("_TABLE_SUFFIX"),
        low=exp.Literal.string(first),
        high=exp.Literal.string(last),
    )
