"""What the logs say about a journey's requests: each route's calls, errors and p95 in the request
log, and which analytics event a request sends (evidence from the same sessions at the same time),
read with DuckDB through the file provider's own table mappings and presets."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

import duckdb

from ..errors import DataError
from ..measurement import TimeWindow
from ..providers.base import ProviderContext
from ..providers.file_presets import PresetName
from ..providers.file_tables import FileSettings, FileTables

# An event counts as sent by a request when it is in the same session this close in time...
NEAR_SECONDS = 2
# ... and the mapping holds both ways for at least this share: most of the route's requests
# send the event, and most of the event's occurrences come with one of them.
MIN_SHARE = 0.5
# Template parameters as HARs ({id}), Flask (<int:id>) and Express (:id) write them.
_PARAMETER = r"\{[^}]*\}|<[^>]*>|:[A-Za-z_][A-Za-z0-9_]*"
# Where an event log may keep the page's path: a column, or a key of a JSON `properties`.
_PATH_COLUMNS = ("path", "page_path", "pathname", "page", "url", "page_location")
_PATH_KEYS = ("path", "page_path", "$pathname", "pathname", "page", "url", "$current_url")
_ALL_TIME = [TimeWindow("all", datetime(1970, 1, 1, tzinfo=UTC), datetime(2200, 1, 1, tzinfo=UTC))]


@dataclass(frozen=True)
class Call:
    """A journey's request as the HAR names it: method and route template."""

    method: str
    route: str

    @property
    def key(self) -> tuple[str, str]:
        return self.method.upper(), template_key(self.route)


@dataclass(frozen=True)
class RouteFacts:
    """A route's calls in the request log, over all of it."""

    route: str  # as the log spells it, e.g. /orders/{id} for the HAR's /orders/{hash}
    calls: int
    errors: int  # status >= 500
    p95_ms: float | None
    hours: int  # hours of the log with any request at all


@dataclass(frozen=True)
class EventFacts:
    """Why a request is taken to send an event."""

    event: str
    requests: int  # the route's requests (or page views of its path)
    with_event: int  # of them, with the event nearby in the same session
    events: int  # the event's occurrences with a session
    near: int  # of them, nearest to one of the route's requests
    source: Literal["requests", "path"]  # request log timing, or the event log's own page paths


def template_key(route: str) -> str:
    """A route template with its parameters unnamed, so /orders/{hash} matches /orders/{id}."""
    return re.sub(_PARAMETER, "{}", route)


def template_regex(route: str) -> str:
    """An RE2 pattern matching the paths of a route template."""
    parts = re.split(_PARAMETER, route)
    return "^" + "[^/]+".join(re.sub(r"([\\.^$|?*+()\[\]{}])", r"\\\1", p) for p in parts) + "$"


def _norm_sql(column: str) -> str:
    return f"regexp_replace({column}, '{_PARAMETER}', '{{}}', 'g')"


class Logs:
    """The request log and the event log (either may be absent) on one DuckDB connection."""

    def __init__(
        self,
        *,
        requests: Path | None,
        events: Path | None,
        preset: PresetName = "cxe",
        until: datetime | None = None,
    ):
        # Only rows before `until` count (e.g. the deploy to judge: its own hours are no baseline).
        self.until = until
        self.has_requests = requests is not None
        self.has_events = events is not None
        settings = FileSettings(
            requests=None if requests is None else str(requests.resolve()),
            events=None if events is None else str(events.resolve()),
            preset=preset,
        )
        self._tables = FileTables(settings, ProviderContext(name="init", base_dir=Path.cwd()))
        for table, present in (("requests", self.has_requests), ("events", self.has_events)):
            if present:
                self._tables.prepare(table, _ALL_TIME)  # type: ignore[arg-type]
        self._db = self._tables.connect()
        end = "" if until is None else f"WHERE ts < TIMESTAMPTZ '{until.isoformat()}'"
        for table, present in (("requests", self.has_requests), ("events", self.has_events)):
            if present:
                self._db.execute(
                    f"CREATE OR REPLACE TEMP VIEW {table}_read AS SELECT * FROM {table} {end}"
                )
        self._routes: dict[tuple[str, str], RouteFacts] | None = None

    def close(self) -> None:
        self._tables.close()

    def _sql(self, query: str, parameters: list[object] | None = None) -> list[tuple]:
        try:
            return self._db.execute(query, parameters or []).fetchall()
        except duckdb.Error as exc:
            raise DataError(
                f"cannot read the logs: {str(exc).splitlines()[0]}", provider="init"
            ) from exc

    def route(self, call: Call) -> RouteFacts | None:
        """The request log's figures for the call's route, or None when the log has no such
        route (or there is no request log)."""
        if not self.has_requests:
            return None
        if self._routes is None:
            hours = self._sql("SELECT count(DISTINCT date_trunc('hour', ts)) FROM requests_read")[
                0
            ][0]
            rows = self._sql(
                f"SELECT upper(method), {_norm_sql('route')}, any_value(route), count(*), "
                "count(*) FILTER (WHERE status >= 500), quantile_cont(duration_ms, 0.95) "
                "FROM requests_read WHERE route IS NOT NULL GROUP BY 1, 2"
            )
            self._routes = {
                (method, key): RouteFacts(route, calls, errors, p95, hours)
                for method, key, route, calls, errors, p95 in rows
            }
        return self._routes.get(call.key)

    def events_for(self, calls: Iterable[Call]) -> dict[Call, EventFacts]:
        """The event each call sends, where the logs show one (see NEAR_SECONDS, MIN_SHARE)."""
        wanted = list(dict.fromkeys(calls))
        if not self.has_events or not wanted:
            return {}
        self._db.execute("CREATE OR REPLACE TEMP TABLE har_routes (idx INT, method TEXT, key TEXT)")
        self._db.executemany(
            "INSERT INTO har_routes VALUES (?, ?, ?)",
            [[i, *c.key] for i, c in enumerate(wanted)],
        )
        source: Literal["requests", "path"]
        if self.has_requests:
            source = "requests"
            anchors = (
                "SELECT r.session_id, r.ts, h.idx FROM requests_read r LEFT JOIN har_routes h "
                f"ON upper(r.method) = h.method AND {_norm_sql('r.route')} = h.key "
                "WHERE r.session_id IS NOT NULL"
            )
        else:
            path = self._path_column()
            if path is None:
                return {}
            source = "path"
            # A page view is a GET of its page: match its path against each GET route template.
            regexes = [(i, template_regex(c.route)) for i, c in enumerate(wanted)]
            self._db.execute("CREATE OR REPLACE TEMP TABLE har_regex (idx INT, regex TEXT)")
            self._db.executemany("INSERT INTO har_regex VALUES (?, ?)", [list(r) for r in regexes])
            anchors = (
                "SELECT e.session_id, e.ts, x.idx FROM (SELECT session_id, ts, "
                f"regexp_extract({path}, '^(?:[a-z]+://[^/]+)?([^?#]*)', 1) AS p FROM events_read "
                f"WHERE session_id IS NOT NULL AND {path} IS NOT NULL) e "
                "LEFT JOIN (SELECT x.* FROM har_regex x JOIN har_routes h USING (idx) "
                "WHERE h.method = 'GET') x ON regexp_full_match(e.p, x.regex)"
            )
        rows = self._sql(
            f"""
            WITH anchors AS ({anchors}),
            ev AS (SELECT row_number() OVER () AS eid, event, session_id, ts FROM events_read
                   WHERE session_id IS NOT NULL AND event IS NOT NULL),
            nearest AS (
                SELECT ev.eid, ev.event, a.idx, a.session_id AS asid, a.ts AS ats FROM ev
                JOIN anchors a ON a.session_id = ev.session_id
                 AND a.ts BETWEEN ev.ts - INTERVAL {NEAR_SECONDS} SECOND
                              AND ev.ts + INTERVAL {NEAR_SECONDS} SECOND
                QUALIFY row_number() OVER (PARTITION BY ev.eid
                    ORDER BY abs(epoch_ms(a.ts) - epoch_ms(ev.ts)), a.idx NULLS LAST) = 1),
            pairs AS (
                SELECT idx, event, count(*) AS near, count(DISTINCT (asid, ats)) AS with_event
                FROM nearest WHERE idx IS NOT NULL GROUP BY ALL),
            totals AS (SELECT event, count(*) AS events FROM ev GROUP BY ALL),
            sizes AS (SELECT idx, count(DISTINCT (session_id, ts)) AS requests FROM anchors
                      WHERE idx IS NOT NULL GROUP BY ALL)
            SELECT p.idx, p.event, s.requests, p.with_event, t.events, p.near
            FROM pairs p JOIN totals t USING (event) JOIN sizes s USING (idx)
            ORDER BY p.idx, least(p.with_event / s.requests, p.near / t.events) DESC, p.event
            """
        )
        found: dict[Call, EventFacts] = {}
        for idx, event, requests, with_event, events, near in rows:
            call = wanted[idx]
            if call in found or with_event < MIN_SHARE * requests or near < MIN_SHARE * events:
                continue
            found[call] = EventFacts(event, requests, with_event, events, near, source)
        return found

    def _path_column(self) -> str | None:
        """An SQL expression for the page path an event log carries, if it carries one."""
        described = self._db.sql("SELECT * FROM events LIMIT 0")
        types = dict(zip(described.columns, described.types, strict=True))
        candidates = [f'"{c}"' for c in _PATH_COLUMNS if c in types]
        if "properties" in types:
            json = "to_json(properties)" if str(types["properties"]) != "JSON" else "properties"
            candidates += [
                f"json_extract_string({json}, '$.\"{key}\"')"
                if key.startswith("$")
                else f"json_extract_string({json}, '$.{key}')"
                for key in _PATH_KEYS
            ]
        for expression in candidates:
            try:
                rows = self._db.execute(
                    f"SELECT count(*) FROM (SELECT CAST({expression} AS VARCHAR) AS p FROM events "
                    "LIMIT 10000) WHERE starts_with(p, '/') OR regexp_matches(p, '^[a-z]+://')"
                ).fetchall()
            except duckdb.Error:
                continue  # the column is not text: no path there
            if rows[0][0]:
                return f"CAST({expression} AS VARCHAR)"
        return None
