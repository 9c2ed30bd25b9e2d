"""The metric SQL of file_metrics.py (written once, in DuckDB's dialect) carried to a warehouse's
dialect by SQLGlot, with the few rewrites SQLGlot has no mapping for in one place: the percentile
function each engine has, the time literals, FILTER where the engine lacks it."""

from __future__ import annotations

from datetime import datetime

import sqlglot
from sqlglot import exp
from sqlglot.errors import ErrorLevel, UnsupportedError

from .answers import first_line
from .sql_dialects import NO_FILTER, PERCENTILES


class CompileError(ValueError):
    """The metric cannot be written in this dialect; the message says why."""


def parse_metric(sql: str) -> exp.Expr:
    """A metric query of file_metrics.py as a tree."""
    return sqlglot.parse_one(sql, read="duckdb")


def parse_duckdb(text: str, dialect: str, *, what: str) -> exp.Expr:
    """An expression of file_presets.py (DuckDB's SQL), to be written in `dialect`: a list
    indexed past its end is NULL there, as in DuckDB (BigQuery's [OFFSET(i)] and Spark's [i]
    would fail the query)."""
    expression = parse_in(text, "duckdb", what=what)
    for bracket in expression.find_all(exp.Bracket):
        bracket.set("safe", True)
        if dialect == "bigquery":
            bracket.set("offset", 0)  # written as [SAFE_OFFSET(i)]
    return expression


def parse_in(text: str, dialect: str, *, what: str) -> exp.Expr:
    """An expression written in cxe.yml (a mapped column, a checked condition) in `dialect`."""
    try:
        return sqlglot.parse_one(text, read=dialect)
    except sqlglot.errors.SqlglotError as exc:
        raise CompileError(f"{what} {text!r} is not {dialect} SQL: {exc}") from None


def write(tree: exp.Expr, dialect: str) -> str:
    """The tree as `dialect` SQL: time literals, percentiles and FILTER rewritten where SQLGlot
    has no mapping. The tree is not changed."""
    tree = tree.copy()
    for cast in list(tree.find_all(exp.Cast)):
        moment = _moment_of(cast)
        if moment is not None:
            cast.replace(moment_literal(moment))
    for percentile in list(tree.find_all(exp.PercentileCont)):
        percentile.replace(_percentile(percentile, dialect))
    if dialect != "duckdb":
        # A hint the metric SQL gives DuckDB; most engines have no such syntax.
        for cte in tree.find_all(exp.CTE):
            cte.set("materialized", None)
    if dialect in NO_FILTER:
        for clause in list(tree.find_all(exp.Filter)):
            clause.replace(_without_filter(clause))
    if dialect == "clickhouse" and isinstance(tree, exp.Select) and tree.find(exp.Join):
        # A LEFT JOIN fills a missing row with NULLs, as in SQL, not with 0 and ''.
        settings = sqlglot.parse_one("SELECT 1 SETTINGS join_use_nulls = 1", read="clickhouse")
        tree.set("settings", settings.args["settings"])
    try:
        # SQL that SQLGlot knows the engine would refuse is never sent.
        return tree.sql(dialect=dialect, pretty=True, unsupported_level=ErrorLevel.RAISE)
    except UnsupportedError as exc:
        raise CompileError(f"cannot be written in {dialect}: {first_line(exc)}") from None


def moment_literal(moment: datetime) -> exp.Expr:
    """A UTC time as a literal of the dialect's zoned timestamp type (ClickHouse's DateTime64(6,
    'UTC'), BigQuery's TIMESTAMP...), to the microsecond."""
    text = moment.strftime("%Y-%m-%d %H:%M:%S.%f") + "+00:00"
    return exp.TimeStrToTime(this=exp.Literal.string(text), zone=exp.Literal.string("UTC"))


def _moment_of(cast: exp.Cast) -> datetime | None:
    """The time of a TIMESTAMPTZ '...' literal of file_tables.timestamp, else None."""
    if not cast.to.is_type(exp.DataType.Type.TIMESTAMPTZ):
        return None
    if not isinstance(cast.this, exp.Literal) or not cast.this.is_string:
        return None
    try:
        return datetime.fromisoformat(cast.this.name)
    except ValueError:
        return None


def _percentile(node: exp.PercentileCont, dialect: str) -> exp.Expr:
    percentile = PERCENTILES.get(dialect)
    if percentile is None:
        raise CompileError(f"no percentile aggregate is known for {dialect}")
    if percentile.template is None:
        return node
    fraction = node.expression
    if not isinstance(fraction, exp.Literal):
        raise CompileError("the percentile must be a number")
    p = float(fraction.name)
    n = 100
    while abs(p * n - round(p * n)) > 1e-9 and n < 10**6:
        n *= 10  # 99.9th percentile: the 999th of 1000 quantiles
    text = percentile.template.format(x="cxe_x", p=repr(p), n=n, k=round(p * n))
    function = sqlglot.parse_one(text, read=dialect)
    for column in list(function.find_all(exp.Column)):
        if column.name == "cxe_x":
            column.replace(node.this.copy())
    return function


def _without_filter(node: exp.Filter) -> exp.Expr:
    """count(*) FILTER (WHERE c) as count(CASE WHEN c THEN 1 END); f(x) FILTER (WHERE c) as
    f(CASE WHEN c THEN x END): aggregates skip the NULLs, so the two agree."""
    aggregate = node.this.copy()
    condition = node.expression.this.copy()
    argument = aggregate.this
    value = exp.Literal.number(1) if isinstance(argument, exp.Star) else argument
    aggregate.set("this", exp.Case(ifs=[exp.If(this=condition, true=value)]))
    return aggregate
