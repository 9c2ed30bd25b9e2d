"""A loopback BigQuery: a token endpoint that verifies a service account's signed assertion, and the
jobs API (jobs.query, jobs.getQueryResults, jobs.cancel) answering in its REST shape. It cannot run
GoogleSQL, so it carries each query back to DuckDB with SQLGlot and runs it on a DuckDB file holding
the test's rows: a faithful fake, whose numbers are DuckDB's on the same data.

The shape, as checked (December 2026) against BigQuery's REST reference and clients, found with the
`search` tool:
- jobs.query: `POST /bigquery/v2/projects/{projectId}/queries` with a QueryRequest (query,
  useLegacySql, dryRun, maximumBytesBilled as an int64 string, timeoutMs, maxResults,
  defaultDataset {projectId, datasetId}, parameterMode NAMED + queryParameters [{name,
  parameterType {type}, parameterValue {value}}], requestId, formatOptions.useInt64Timestamp);
  the QueryResponse holds kind, schema.fields[{name, type, mode}], jobReference {projectId, jobId,
  location}, totalRows, rows[].f[].v (every value a string), totalBytesProcessed (an int64 string),
  totalBytesBilled, jobComplete, cacheHit (developers.google.cn/bigquery/docs/reference/v2/jobs/
  query; hexdocs google_api_big_query QueryRequest; docs.rs google-cloud-bigquery QueryRequest).
- jobs.getQueryResults: `GET .../queries/{jobId}?location&maxResults&timeoutMs`, the same fields;
  jobs.cancel: `POST .../jobs/{jobId}/cancel` (APIs-guru/openapi-directory, googleapis.com/
  bigquery/v2 JobsApi.md).
- errors: `{"error": {"code", "message", "errors": [{"reason", "domain", "message"}], "status"}}`;
  reasons invalidQuery (400), notFound (404), accessDenied (403), bytesBilledLimitExceeded (400:
  "Query exceeded limit for bytes billed: 1000000. 10485760 or higher required.", on-demand
  queries are billed at least 10 MB per table read) (cloud.google.com/bigquery/docs/error-messages;
  the troubleshooting-errors table; the message quoted by edureka's answer on maximum bytes
  billed). A 401 for a bad token as every Google API answers one.
"""

from __future__ import annotations

import json
import math
import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import sqlglot
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from google.auth import jwt
from pytest_httpserver import HTTPServer
from sqlglot import exp
from werkzeug import Request, Response

from cxe_gate.providers.google_token import JWT_GRANT
from cxe_gate.providers.sql_bigquery import SCOPE

PROJECT = "shop-analytics"
EMAIL = "cxe-gate@shop-analytics.iam.gserviceaccount.com"
ROOT = f"/bigquery/v2/projects/{PROJECT}"
ROW_BYTES = 100  # what the fake says each row of a table read costs to scan
MIN_BILLED = 10 * 1024 * 1024  # BigQuery bills at least 10 MB per table a query reads
_BQ_TYPES = {
    "BIGINT": "INTEGER",
    "INTEGER": "INTEGER",
    "HUGEINT": "INTEGER",
    "UBIGINT": "INTEGER",
    "DOUBLE": "FLOAT",
    "FLOAT": "FLOAT",
    "BOOLEAN": "BOOLEAN",
    "VARCHAR": "STRING",
    "TIMESTAMP WITH TIME ZONE": "TIMESTAMP",
    "TIMESTAMP": "DATETIME",
}


def pem(key: rsa.RSAPrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def json_reply(body: Any, status: int = 200) -> Response:
    return Response(json.dumps(body), status=status, content_type="application/json")


def error_reply(status: int, reason: str, message: str, code: str) -> Response:
    return json_reply(
        {
            "error": {
                "code": status,
                "message": message,
                "errors": [{"message": message, "domain": "global", "reason": reason}],
                "status": code,
            }
        },
        status,
    )


@dataclass
class Job:
    answer: dict[str, Any]  # the finished job's QueryResponse
    done_at: float  # time.monotonic() it finishes
    cancelled: bool = False


@dataclass
class BigQueryServer:
    """A loopback BigQuery over the DuckDB file `data` (its schemas are the datasets). `slow`
    seconds each job runs before it is complete; `dry_runs` and `runs` the requests asked."""

    server: HTTPServer
    public_pem: bytes
    private_pem: str
    data: Path
    slow: float = 0.0
    tokens: list[str] = field(default_factory=list)
    revoked: set[str] = field(default_factory=set)
    dry_runs: list[dict[str, Any]] = field(default_factory=list)
    runs: list[dict[str, Any]] = field(default_factory=list)
    cancelled: list[str] = field(default_factory=list)
    jobs: dict[str, Job] = field(default_factory=dict)
    sizes: dict[str, int] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def endpoint(self) -> str:
        return self.server.url_for("/").rstrip("/")

    def key(self, private_pem: str | None = None) -> str:
        return json.dumps(
            {
                "type": "service_account",
                "project_id": PROJECT,
                "private_key_id": "1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d",
                "private_key": private_pem or self.private_pem,
                "client_email": EMAIL,
                "client_id": "100000000000000000002",
                "token_uri": self.server.url_for("/token"),
            }
        )

    def start(self) -> BigQueryServer:
        self.server.expect_request("/token", method="POST").respond_with_handler(self._token)
        self.server.expect_request(f"{ROOT}/queries", method="POST").respond_with_handler(
            self._query
        )
        self.server.expect_request(
            re.compile(f"{re.escape(ROOT)}/jobs/[^/]+/cancel"), method="POST"
        ).respond_with_handler(self._cancel)
        self.server.expect_request(
            re.compile(f"{re.escape(ROOT)}/queries/[^/]+"), method="GET"
        ).respond_with_handler(self._results)
        return self

    # --- sign-in ------------------------------------------------------------------------------

    def _token(self, request: Request) -> Response:
        if request.form.get("grant_type") != JWT_GRANT:
            return json_reply({"error": "unsupported_grant_type"}, 400)
        try:
            claims = jwt.decode(
                request.form["assertion"],
                certs=self.public_pem,
                audience=self.server.url_for("/token"),
            )
        except (ValueError, KeyError):
            return json_reply({"error": "invalid_grant", "error_description": "Invalid JWT"}, 400)
        if claims.get("scope") != SCOPE or claims.get("iss") != EMAIL:
            return json_reply({"error": "invalid_scope"}, 400)
        token = f"ya29.bq-loopback-{len(self.tokens) + 1}-Kx72"
        self.tokens.append(token)
        return json_reply({"access_token": token, "expires_in": 3599, "token_type": "Bearer"})

    def _unauthorized(self, request: Request) -> Response | None:
        sent = request.headers.get("Authorization", "").removeprefix("Bearer ")
        if sent in self.tokens and sent not in self.revoked:
            return None
        return error_reply(
            401,
            "authError",
            "Request had invalid authentication credentials. Expected OAuth 2 access token.",
            "UNAUTHENTICATED",
        )

    # --- jobs -----------------------------------------------------------------------------------

    def _query(self, request: Request) -> Response:
        refused = self._unauthorized(request)
        if refused is not None:
            return refused
        body = json.loads(request.data)
        (self.dry_runs if body.get("dryRun") else self.runs).append(body)
        if body.get("useLegacySql", True):
            return error_reply(400, "invalidQuery", "legacy SQL is not served here", "INVALID")
        try:
            tree = sqlglot.parse_one(body["query"], read="bigquery")
        except sqlglot.errors.ParseError as exc:
            return error_reply(400, "invalidQuery", f"Syntax error: {exc}", "INVALID_ARGUMENT")
        dataset = (body.get("defaultDataset") or {}).get("datasetId")
        tables = self._tables(tree, dataset)
        denied = sorted(t for t in tables if t.startswith("restricted."))
        if denied:  # a dataset the service account was given no access to
            return error_reply(
                403,
                "accessDenied",
                f"Access Denied: Table {PROJECT}:{denied[0]}: User does not have permission to "
                "query table, or perhaps it does not exist.",
                "PERMISSION_DENIED",
            )
        missing = sorted(t for t in tables if t not in self._sizes())
        if missing:
            name = missing[0]
            return error_reply(
                404,
                "notFound",
                f"Not found: Table {PROJECT}:{name} was not found in location US",
                "NOT_FOUND",
            )
        scanned = sum(self._sizes()[t] for t in tables)
        if body.get("dryRun"):
            return json_reply(
                {
                    "kind": "bigquery#queryResponse",
                    "jobReference": {"projectId": PROJECT, "location": "US"},
                    "totalBytesProcessed": str(scanned),
                    "jobComplete": True,
                    "cacheHit": False,
                }
            )
        billed = sum(max(self._sizes()[t], MIN_BILLED) for t in tables)
        limit = body.get("maximumBytesBilled")
        if limit is not None and billed > int(limit):
            return error_reply(
                400,
                "bytesBilledLimitExceeded",
                f"Query exceeded limit for bytes billed: {int(limit)}. {billed} or higher "
                "required.",
                "INVALID_ARGUMENT",
            )
        try:
            answer = self._run(tree, body)
        except duckdb.Error as exc:
            return error_reply(400, "invalidQuery", str(exc).split("\n")[0], "INVALID_ARGUMENT")
        job_id = f"job_{uuid.uuid4().hex[:12]}"
        reference = {"projectId": PROJECT, "jobId": job_id, "location": "US"}
        answer |= {
            "kind": "bigquery#queryResponse",
            "jobReference": reference,
            "totalBytesProcessed": str(scanned),
            "totalBytesBilled": str(billed),
            "jobComplete": True,
            "cacheHit": False,
        }
        with self._lock:
            self.jobs[job_id] = Job(answer, time.monotonic() + self.slow)
        return self._answer(job_id, float(body.get("timeoutMs", 10000)) / 1000)

    def _results(self, request: Request) -> Response:
        refused = self._unauthorized(request)
        if refused is not None:
            return refused
        job_id = request.path.rsplit("/", 1)[1]
        if job_id not in self.jobs:
            return error_reply(
                404, "notFound", f"Not found: Job {PROJECT}:US.{job_id}", "NOT_FOUND"
            )
        return self._answer(job_id, float(request.args.get("timeoutMs", 10000)) / 1000)

    def _cancel(self, request: Request) -> Response:
        refused = self._unauthorized(request)
        if refused is not None:
            return refused
        job_id = request.path.split("/")[-2]
        with self._lock:
            self.jobs[job_id].cancelled = True
        self.cancelled.append(job_id)
        return json_reply({"kind": "bigquery#jobCancelResponse", "job": {"id": job_id}})

    def _answer(self, job_id: str, wait: float) -> Response:
        """The job's answer once finished; else, after waiting up to `wait`, jobComplete false."""
        job = self.jobs[job_id]
        time.sleep(max(0.0, min(wait, job.done_at - time.monotonic())))
        if job.cancelled:
            return error_reply(400, "stopped", "Job execution was cancelled", "INVALID_ARGUMENT")
        if time.monotonic() < job.done_at:
            return json_reply(
                {
                    "kind": "bigquery#queryResponse",
                    "jobReference": job.answer["jobReference"],
                    "jobComplete": False,
                }
            )
        return json_reply(job.answer)

    # --- the SQL ----------------------------------------------------------------------------------

    def _sizes(self) -> dict[str, int]:
        """Each table's bytes to scan: ROW_BYTES a row (counted once: the data stays put)."""
        with self._lock:
            if not self.sizes:
                with duckdb.connect(str(self.data), read_only=True) as connection:
                    names = connection.execute(
                        "SELECT schema_name, table_name FROM duckdb_tables()"
                    ).fetchall()
                    for schema, name in names:
                        count = connection.execute(f'SELECT count(*) FROM "{schema}"."{name}"')
                        self.sizes[f"{schema}.{name}"] = count.fetchone()[0] * ROW_BYTES
            return self.sizes

    @staticmethod
    def _tables(tree: exp.Expr, dataset: str | None) -> set[str]:
        """dataset.table of each table the query reads (the default dataset where none is
        named); names of its CTEs are not tables."""
        ctes = {cte.alias for cte in tree.find_all(exp.CTE)}
        found = set()
        for table in tree.find_all(exp.Table):
            if table.name in ctes and not table.db:
                continue
            if not table.db and dataset:
                table.set("db", exp.to_identifier(dataset))
            found.add(f"{table.db}.{table.name}")
        return found

    def _run(self, tree: exp.Expr, body: dict[str, Any]) -> dict[str, Any]:
        """The query on DuckDB: schema.fields and rows[].f[].v as BigQuery writes them."""
        params = {
            p["name"]: _parameter(p["parameterType"]["type"], p["parameterValue"]["value"])
            for p in body.get("queryParameters", [])
        }
        sql = tree.sql(dialect="duckdb")
        micros = (body.get("formatOptions") or {}).get("useInt64Timestamp", False)
        with duckdb.connect(str(self.data), read_only=True) as connection:
            connection.execute("SET TimeZone = 'UTC'")
            cursor = connection.execute(sql, params)
            description = cursor.description or []
            rows = cursor.fetchall()
        fields = [
            {"name": d[0], "type": _BQ_TYPES.get(str(d[1]), "STRING"), "mode": "NULLABLE"}
            for d in description
        ]
        shown = rows[: int(body["maxResults"])] if "maxResults" in body else rows
        return {
            "schema": {"fields": fields},
            "totalRows": str(len(rows)),
            "rows": [{"f": [{"v": _cell(v, micros)} for v in row]} for row in shown],
        }


def _parameter(kind: str, value: str) -> Any:
    if kind == "TIMESTAMP":
        return datetime.fromisoformat(value)
    if kind == "INT64":
        return int(value)
    if kind == "FLOAT64":
        return float(value)
    return value


def _cell(value: Any, micros: bool) -> str | None:
    """A value as BigQuery's JSON sends it: text, times as µs (or float seconds)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=UTC)
        delta = moment - datetime(1970, 1, 1, tzinfo=UTC)
        whole = delta.days * 86_400_000_000 + delta.seconds * 1_000_000 + delta.microseconds
        return str(whole) if micros else f"{whole / 1e6:E}"
    if isinstance(value, float):
        return "NaN" if math.isnan(value) else repr(value)
    if isinstance(value, Decimal | int):
        return str(value)
    return str(value)


def on(server: HTTPServer, key: rsa.RSAPrivateKey, data: Path) -> BigQueryServer:
    """A loopback BigQuery on `server` over the DuckDB file `data`, whose token endpoint accepts
    assertions signed with `key`; it answers once started."""
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return BigQueryServer(server, public, pem(key), data)
