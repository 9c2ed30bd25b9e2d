"""The sql provider's settings: where the database is (a SQLAlchemy URL, a DuckDB file, chdb,
Spark), and for its built-in metrics where the canonical tables are and in which SQL dialect."""

from __future__ import annotations

import re
from datetime import timedelta
from urllib.parse import urlsplit

from pydantic import ByteSize, Field, field_validator, model_validator

from ..config import Duration, Secret
from .base import ProviderSettings
from .conditions import dialect_for_backend
from .file_presets import PresetName
from .file_tables import TABLES, Table
from .sql_bigquery import target_of
from .sql_compile import CompileError
from .sql_dialects import DIALECTS, supported
from .sql_tables import Tables, preset_problem
from .transport import http_url

ENV_REF = re.compile(r"^\$\{[A-Za-z_][A-Za-z0-9_]*\}$")
URL_HINT = (
    "e.g. postgresql+psycopg://gate@db.internal:5432/analytics, duckdb:///events.duckdb or "
    "bigquery://my-project/analytics"
)
# URL schemes of the databases reached without SQLAlchemy, and their SQLGlot dialects.
_IN_PROCESS = {"duckdb": "duckdb", "chdb": "clickhouse", "spark": "spark", "sc": "spark"}


def scheme_of(url: str) -> str:
    return url.split("://", 1)[0].lower() if "://" in url else ""


def dialect_of_url(url: str) -> str | None:
    """The SQLGlot dialect of a URL written out (postgresql+psycopg://..., chdb://); None when
    it is only known at run time (${DATABASE_URL}) or SQLGlot does not know the database."""
    scheme = scheme_of(url)
    return _IN_PROCESS.get(scheme) or dialect_for_backend(scheme.split("+", 1)[0])


class SqlSettings(ProviderSettings):
    url: str = Field(
        description="a SQLAlchemy URL: ${DATABASE_URL}, or written out without a password (give "
        "it in `password`); duckdb:///path/to/file.duckdb for a DuckDB file (relative to cxe.yml); "
        "chdb:// or chdb:///path/to/data for ClickHouse in-process; spark://local, "
        "spark://host:7077 or sc://host:15002 (Spark Connect) for Spark SQL; "
        "bigquery://project/dataset for BigQuery (the project billed, the default dataset)"
    )
    password: Secret | None = Field(
        None, description="the database password (a Spark Connect token), as ${VAR}"
    )
    credentials: Secret | None = Field(
        None,
        description="bigquery:// urls: a service account key (the key file's JSON or its path, "
        "relative to cxe.yml), as ${VAR}",
    )
    maximum_bytes_billed: ByteSize | None = Field(
        None,
        description="bigquery:// urls: the most a query may scan (e.g. 10 GB): a query whose dry "
        "run says more is not run, and BigQuery stops a job billed more",
    )
    api_endpoint: str = Field(
        "https://bigquery.googleapis.com",
        description="bigquery:// urls: the BigQuery API's address (a private endpoint)",
    )
    timeout: Duration = Field(
        timedelta(seconds=30),
        description="per query (PostgreSQL's statement_timeout; DuckDB is interrupted) and to "
        "connect; the evaluation's deadline cuts it shorter",
    )
    max_concurrency: int | None = Field(
        4, ge=1, description="queries in flight at once (connections held)"
    )
    events: str | None = Field(
        None,
        description="the event table, for conversion and engagement without a query: e.g. "
        "analytics.events, or BigQuery's GA4 export analytics_123456.events_* (only the "
        "windows' daily shards are read)",
    )
    requests: str | None = Field(
        None, description="the request table, for error_rate, apdex and latency without a query"
    )
    feedback: str | None = Field(
        None, description="the survey answers' table, for feedback without a query"
    )
    preset: PresetName = Field(
        "cxe",
        description="the event table's shape: cxe (the canonical columns), ga4 (BigQuery's "
        "GA4 export) or segment (Segment's tracks table in a warehouse)",
    )
    columns: dict[Table, dict[str, str]] = Field(
        default_factory=dict,
        description="per table, canonical column → SQL expression over the table's columns, in "
        "the database's dialect; extra names add columns usable in `filter`",
    )
    dialect: str | None = Field(
        None,
        description=f"the SQL dialect the built-in metrics are written in, when the url does "
        f"not tell it (a url from ${{DATABASE_URL}}) or tells it wrong (Redshift through a "
        f"postgresql:// url): {', '.join(DIALECTS)}",
    )

    @field_validator("url")
    @classmethod
    def _no_inline_password(cls, url: str) -> str:
        url = url.strip()
        if ENV_REF.match(url):
            return url
        # Never echo the URL: it may hold the password pasted inline.
        try:
            parts = urlsplit(url)
            password = parts.password
        except ValueError:
            raise ValueError(f"expected a SQLAlchemy URL, {URL_HINT}") from None
        if not parts.scheme or "://" not in url:
            raise ValueError(f"expected a SQLAlchemy URL, {URL_HINT}")
        if password or (parts.scheme == "sc" and "token=" in url):
            raise ValueError(
                "the url holds a password: give it as `password: ${DB_PASSWORD}`, or the whole "
                "url as ${DATABASE_URL}, never inline"
            )
        return url

    _endpoint = field_validator("api_endpoint")(http_url("https://bigquery.googleapis.com"))

    @field_validator("dialect")
    @classmethod
    def _known_dialect(cls, dialect: str | None) -> str | None:
        if dialect is not None and not supported(dialect):
            raise ValueError(f"expected one of {', '.join(DIALECTS)}")
        return dialect

    @model_validator(mode="after")
    def _bigquery_only(self) -> SqlSettings:
        """The BigQuery keys belong to bigquery:// urls; such a url names its project."""
        scheme = scheme_of(self.url)
        if scheme == "bigquery":
            project, dataset = target_of(self.url)
            if not project or (dataset and "/" in dataset):
                raise ValueError(
                    "expected bigquery://project or bigquery://project/dataset (the project "
                    "billed for the queries, and the dataset of tables named without one)"
                )
            if self.credentials is None:
                raise ValueError(
                    "bigquery:// urls sign in as a service account: give its key as "
                    "credentials: ${GOOGLE_APPLICATION_CREDENTIALS}"
                )
        elif not ENV_REF.match(self.url):
            given = [k for k in ("credentials", "maximum_bytes_billed") if getattr(self, k)]
            if given:
                raise ValueError(f"{' and '.join(given)} are for bigquery:// urls, not {scheme}://")
        return self

    @model_validator(mode="after")
    def _readable_tables(self) -> SqlSettings:
        problem = preset_problem(self.preset)
        if problem:
            raise ValueError(problem)
        dialect = self.dialect_for(self.url)
        if dialect is not None and supported(dialect):
            tables = self.tables(dialect)
            for table in TABLES:
                if tables.has(table):
                    try:
                        tables.table(table)
                    except CompileError as exc:
                        raise ValueError(str(exc)) from None
        return self

    def unknown_dialect(self) -> str:
        """Why the built-in metrics cannot be written: the dialect is not known."""
        where = (
            f"a url read from {self.url}"
            if ENV_REF.match(self.url)
            else f"{scheme_of(self.url)}:// urls"
        )
        return f"cannot tell the SQL dialect of {where}: set the provider's dialect"

    def dialect_for(self, url: str) -> str | None:
        """The dialect queries are written in: the setting, else the url's."""
        return self.dialect or dialect_of_url(url)

    def tables(self, dialect: str) -> Tables:
        return Tables(
            names={table: getattr(self, table) for table in TABLES},
            preset=self.preset,
            columns=self.columns,
            dialect=dialect,
        )
