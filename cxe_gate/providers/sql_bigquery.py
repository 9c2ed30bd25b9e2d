"""BigQuery through its REST API, the sql provider's `bigquery://project/dataset` urls: each query
is dry-run first and refused when it would scan more than `maximum_bytes_billed`, then run as a job
BigQuery itself holds to that limit, signed in as a service account (google-auth's grant)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, unquote, urlsplit

from ..config import SecretRef
from ..errors import ConfigError, ProviderError
from .base import ProviderContext
from .google_account import load_service_account
from .google_token import AccessTokens
from .sql_engines import PARAMETER, Fail, Result
from .transport import ApiClient, HttpSettings, Reply

if TYPE_CHECKING:
    from .sql_settings import SqlSettings

SCOPE = "https://www.googleapis.com/auth/bigquery"
API = "https://bigquery.googleapis.com"
_POLL = 10.0  # at most this long BigQuery holds one request waiting for the job (timeoutMs)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# BigQuery's reasons for a request that would fail the same way again: never retried, even when
# sent with a 5xx (an over-limit job has been seen answered with a 500).
_FINAL = frozenset(
    {"bytesBilledLimitExceeded", "invalidQuery", "invalid", "notFound", "accessDenied"}
)
_QUOTA = frozenset({"quotaExceeded", "rateLimitExceeded", "billingNotEnabled"})


def target_of(url: str) -> tuple[str, str | None]:
    """The project a `bigquery://project/dataset` url bills and its default dataset (or None)."""
    parts = urlsplit(url)
    dataset = unquote(parts.path.strip("/"))
    return unquote(parts.netloc), dataset or None


def size(count: float) -> str:
    """Bytes as people read them: 1,234,567 bytes (1.2 MiB)."""
    amount, unit = float(count), "bytes"
    for bigger in ("KiB", "MiB", "GiB", "TiB", "PiB"):
        if amount < 1024:
            break
        amount, unit = amount / 1024, bigger
    return f"{int(count):,} bytes" + (f" ({amount:.1f} {unit})" if unit != "bytes" else "")


class BigQuery:
    """One project's BigQuery, shared by the query threads (the token is renewed under a lock)."""

    def __init__(self, url: str, settings: SqlSettings, context: ProviderContext):
        self.project, self.dataset = target_of(url)
        self.limit = settings.maximum_bytes_billed
        where = f"providers.{context.name}"
        if settings.credentials is None:
            raise ConfigError(
                f"{where}.credentials: bigquery:// urls sign in as a service account: give its "
                "key as credentials: ${GOOGLE_APPLICATION_CREDENTIALS}",
                file=context.where or None,
            )
        try:
            import google.oauth2.service_account  # noqa: F401
        except ImportError:
            raise ConfigError(
                f"{where}.url: bigquery:// urls sign in with google-auth: pip install "
                "'cxe-gate[bigquery]'",
                file=context.where or None,
            ) from None
        ref = SecretRef(settings.credentials)
        account = load_service_account(context.secret(ref, "credentials"), context, ref, [SCOPE])
        # BigQuery holds a request at most timeoutMs (see _wait_ms): a second more is its answer's
        # time on the wire. Retries are safe: a job has a requestId.
        http = HttpSettings(timeout=settings.timeout + timedelta(seconds=1), retries=2)
        self._client = ApiClient(
            context,
            http,
            base_url=settings.api_endpoint,
            auth_hint=f"and that {account.email} may run jobs in project {self.project}",
        )
        self._tokens = AccessTokens(account, [SCOPE], self._client, context, ref.variable)
        self._limit_key = f"{where}.maximum_bytes_billed"
        self._email = account.email

    def close(self) -> None:
        self._client.close()

    def run(
        self, sql: str, params: dict[str, Any], timeout: float, fail: Fail, rows: int = 2
    ) -> Result:
        started = time.monotonic()
        body = self._body(sql, params, rows)
        scanned = self.dry_run(sql, params, fail)
        over = self.over_limit(scanned)
        if over:
            raise fail(f"not run: {over}")
        if self.limit is not None:
            body["maximumBytesBilled"] = str(self.limit)  # BigQuery refuses the job over it
        body["requestId"] = str(uuid.uuid4())  # a retried request runs the job once
        body["timeoutMs"] = _wait_ms(timeout, started)
        answer = self._call("POST", "/queries", fail, body)
        while not answer.get("jobComplete"):
            job = _job_of(answer, fail)
            if time.monotonic() - started >= timeout:
                raise fail.timed_out(timeout, self._cancel(job, fail))
            path = f"/queries/{quote(job['jobId'], safe='')}"
            query = {"maxResults": rows, "timeoutMs": _wait_ms(timeout, started)}
            if job.get("location"):
                query["location"] = job["location"]
            answer = self._call("GET", path, fail, params=query)
        columns, found = _rows(answer, fail)
        details = {"bytes scanned (dry run)": float(scanned)}
        for key, name in (
            ("totalBytesProcessed", "bytes scanned"),
            ("totalBytesBilled", "bytes billed"),
        ):
            if answer.get(key) is not None:
                details[name] = float(_count(answer[key], key, fail))
        return Result(columns, found[:rows], details)

    def dry_run(self, sql: str, params: Mapping[str, Any], fail: Fail) -> int:
        """The bytes BigQuery says the query would scan (it checks the query, runs nothing)."""
        dry = self._call("POST", "/queries", fail, {**self._body(sql, params, 1), "dryRun": True})
        return _count(dry.get("totalBytesProcessed"), "totalBytesProcessed", fail)

    def over_limit(self, scanned: int) -> str:
        """Why a query scanning `scanned` bytes is not run, or "" when the limit allows it."""
        if self.limit is None or scanned <= self.limit:
            return ""
        return (
            f"the dry run says the query would scan {size(scanned)}, over {self._limit_key} "
            f"({size(self.limit)}); raise the limit, or narrow the windows or the tables the "
            "query reads"
        )

    def _body(self, sql: str, params: Mapping[str, Any], rows: int) -> dict[str, Any]:
        """A jobs.query request: GoogleSQL, :name parameters as BigQuery's @name."""
        body: dict[str, Any] = {
            "query": PARAMETER.sub(r"@\1", sql).replace("\\:", ":"),
            "useLegacySql": False,
            "maxResults": rows,
            "formatOptions": {"useInt64Timestamp": True},  # microseconds, not float seconds
        }
        if self.dataset:
            body["defaultDataset"] = {"projectId": self.project, "datasetId": self.dataset}
        if params:
            body["parameterMode"] = "NAMED"
            body["queryParameters"] = [_parameter(n, v) for n, v in sorted(params.items())]
        return body

    def _call(
        self,
        method: str,
        path: str,
        fail: Fail,
        body: dict[str, Any] | None = None,
        params: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """One request to the project's jobs API with a bearer token (renewed once on a 401);
        BigQuery's refusals as the provider's errors."""
        where = f"/bigquery/v2/projects/{quote(self.project, safe='')}{path}"

        def retryable(reply: Reply) -> bool:
            reason, message = _error_of(reply.body)
            if reason in _FINAL:
                raise self._refused(reply.status, reason, message, fail)
            return True

        def send(auth: dict[str, str]) -> Reply:
            return self._client.request(
                method,
                where,
                json_body=body,
                params=params,
                headers=auth,
                query=fail.query,
                accept={400, 401, 403, 404, 409},
                retryable=retryable,
            )

        auth = self._tokens.header()
        reply = send(auth)
        if reply.status == 401:  # expired or revoked early: one new token, then give up
            reply = send(self._tokens.header(failed=auth))
        if reply.status >= 400:
            reason, message = _error_of(reply.body)
            raise self._refused(reply.status, reason, message, fail)
        if not isinstance(reply.body, dict):
            raise fail(f"{method} {where}: {reply.status} without a JSON object")
        return reply.body

    def _refused(self, status: int, reason: str, message: str, fail: Fail) -> Exception:
        said = f"{message} ({status} {reason})" if reason else f"{message} ({status})"
        if reason == "bytesBilledLimitExceeded":
            limit = f" ({size(self.limit)})" if self.limit is not None else ""
            return fail(
                f"BigQuery stopped the job at {self._limit_key}{limit}: {said}; raise the limit "
                "(BigQuery bills at least 10 MB per table a query reads)"
            )
        if status == 401 or (status == 403 and reason not in _QUOTA):
            return fail.refused(f"BigQuery refused the service account {self._email}: {said}")
        if reason in _QUOTA:
            return fail(f"BigQuery's quota or billing refused the query: {said}")
        return fail(f"query failed: {said}")

    def _cancel(self, job: dict[str, Any], fail: Fail) -> str:
        """Cancel a job past its timeout; how it ended, for the timeout's message."""
        path = f"/jobs/{quote(job['jobId'], safe='')}/cancel"
        location = {"location": job["location"]} if job.get("location") else None
        try:
            self._call("POST", path, fail, params=location)
        except ProviderError as exc:  # the timeout is the error; the cancel's failure is said
            return f"timeout; cancelling the BigQuery job failed: {exc}"
        return "timeout; the BigQuery job was cancelled"


def _wait_ms(timeout: float, started: float) -> int:
    """How long BigQuery may hold the next request: what is left of the timeout, less a margin
    to cancel the job in, and at most _POLL."""
    left = timeout - (time.monotonic() - started) - min(1.0, timeout / 4)
    return max(0, int(min(left, _POLL) * 1000))


def _parameter(name: str, value: Any) -> dict[str, Any]:
    """A named query parameter: a window's bound (TIMESTAMP), a criterion's number or text."""
    if isinstance(value, datetime):
        kind, text = "TIMESTAMP", value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f+00:00")
    elif isinstance(value, bool):
        kind, text = "BOOL", str(value).lower()
    elif isinstance(value, int):
        kind, text = "INT64", str(value)
    elif isinstance(value, float):
        kind, text = "FLOAT64", repr(value)
    else:
        kind, text = "STRING", str(value)
    return {"name": name, "parameterType": {"type": kind}, "parameterValue": {"value": text}}


def _error_of(body: Any) -> tuple[str, str]:
    """The first reason and the message of BigQuery's error body."""
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return "", "no error details"
    errors = error.get("errors")
    first = errors[0] if isinstance(errors, list) and errors and isinstance(errors[0], dict) else {}
    message = str(error.get("message") or first.get("message") or "no message")
    return str(first.get("reason") or error.get("status") or ""), " ".join(message.split())


def _job_of(answer: dict[str, Any], fail: Fail) -> dict[str, Any]:
    job = answer.get("jobReference")
    if not isinstance(job, dict) or not isinstance(job.get("jobId"), str):
        raise fail("BigQuery answered jobComplete: false without a jobReference.jobId to wait on")
    return job


def _count(value: Any, key: str, fail: Fail) -> int:
    """An int64 of BigQuery's answer, sent as a string."""
    try:
        number = int(str(value))
    except ValueError:
        raise fail(f"{key} is {value!r}; expected a count of bytes") from None
    if number < 0:
        raise fail(f"{key} is {value!r}; expected a count of bytes")
    return number


def _rows(answer: dict[str, Any], fail: Fail) -> tuple[list[str], list[tuple[Any, ...]]]:
    """schema.fields and rows[].f[].v of a finished query, as typed values."""
    schema = answer.get("schema")
    fields = schema.get("fields") if isinstance(schema, dict) else None
    if not isinstance(fields, list) or not all(isinstance(f, dict) for f in fields):
        raise fail("BigQuery answered jobComplete: true without schema.fields")
    columns = [str(f.get("name")) for f in fields]
    found = []
    for row in answer.get("rows") or []:
        cells = row.get("f") if isinstance(row, dict) else None
        if not isinstance(cells, list) or len(cells) != len(fields):
            raise fail(f"a row of BigQuery's answer is not {len(fields)} cells (rows[].f[].v)")
        found.append(
            tuple(
                _value(f, c.get("v") if isinstance(c, dict) else c, fail)
                for f, c in zip(fields, cells, strict=True)
            )
        )
    return columns, found


def _value(field: dict[str, Any], value: Any, fail: Fail) -> Any:
    """A cell as BigQuery's JSON sends it (numbers and times as text) in its column's type."""
    if value is None or not isinstance(value, str):
        return value
    kind = str(field.get("type", "STRING")).upper()
    try:
        if kind in ("INTEGER", "INT64"):
            return int(value)
        if kind in ("FLOAT", "FLOAT64"):
            return float(value)
        if kind in ("NUMERIC", "BIGNUMERIC", "BIGDECIMAL"):
            return Decimal(value)
        if kind in ("BOOLEAN", "BOOL"):
            return value.lower() == "true"
        if kind == "TIMESTAMP":
            if value.lstrip("-").isdigit():  # formatOptions.useInt64Timestamp: microseconds
                return _EPOCH + timedelta(microseconds=int(value))
            return _EPOCH + timedelta(seconds=float(value))
        if kind == "DATETIME":
            return datetime.fromisoformat(value)
    except (ValueError, InvalidOperation, OverflowError):
        raise fail(
            f"column {field.get('name')} is {value!r}, not a BigQuery {kind} value"
        ) from None
    return value
