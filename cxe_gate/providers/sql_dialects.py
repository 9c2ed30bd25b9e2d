"""The SQL dialects the sql provider writes its built-in metrics in (SQLGlot's names), and what
each one has for a latency percentile: the one function SQLGlot has no mapping for."""

from __future__ import annotations

from dataclasses import dataclass

# The dialects the metrics are compiled to and tested in (SQLGlot's names).
DIALECTS = (
    "duckdb",
    "postgres",
    "bigquery",
    "snowflake",
    "clickhouse",
    "spark",
    "trino",
    "redshift",
)
# Further dialects SQLGlot writes whose percentile is known (below): compiled, not tested here.
_ALSO = ("databricks", "presto", "athena")


@dataclass(frozen=True)
class Percentile:
    """An engine's aggregate for a latency percentile: `template` in its dialect ({x} the column,
    {p} the fraction, {n} and {k} the fraction as k/n), or None where SQLGlot writes it."""

    template: str | None
    exact: bool  # linear interpolation between the two nearest ranks, as DuckDB's quantile_cont

    def note(self, dialect: str) -> str | None:
        """What the report says of a percentile read with an approximate quantile."""
        if self.exact:
            return None
        function = (self.template or "").split("(", 1)[0]
        return (
            f"the percentile is approximate: {dialect} has no exact percentile aggregate, so it "
            f"is read with {function}"
        )


# The percentile aggregate of each dialect: SQLGlot writes PERCENTILE_CONT ... WITHIN GROUP where
# the engine has it, and has no mapping to the others' own functions.
PERCENTILES = {
    "duckdb": Percentile(None, exact=True),  # quantile_cont
    "postgres": Percentile(None, exact=True),  # percentile_cont(p) WITHIN GROUP (ORDER BY x)
    "snowflake": Percentile(None, exact=True),
    "redshift": Percentile(None, exact=True),
    "clickhouse": Percentile("quantileExactInclusive({p})({x})", exact=True),
    "spark": Percentile("percentile({x}, {p})", exact=True),
    "databricks": Percentile("percentile({x}, {p})", exact=True),
    # BigQuery's PERCENTILE_CONT is an analytic function only: over a whole window it must fit
    # in one worker, so the aggregate is APPROX_QUANTILES.
    "bigquery": Percentile("APPROX_QUANTILES({x}, {n})[OFFSET({k})]", exact=False),
    "trino": Percentile("APPROX_PERCENTILE({x}, {p})", exact=False),
    "presto": Percentile("APPROX_PERCENTILE({x}, {p})", exact=False),
    "athena": Percentile("APPROX_PERCENTILE({x}, {p})", exact=False),
}
# Engines without FILTER (WHERE ...) on aggregates: written as the aggregate of a CASE.
NO_FILTER = frozenset({"redshift"})


def supported(dialect: str | None) -> bool:
    return dialect in DIALECTS or dialect in _ALSO
