"""Turns the shop's NDJSON logs into Parquet files with duckdb, timestamps as TIMESTAMPTZ (UTC)."""

from __future__ import annotations

from pathlib import Path

import duckdb

from .logs import STREAMS, Stream

_IDS = {"user_id": "VARCHAR", "session_id": "VARCHAR"}
# The NDJSON fields and their SQL types, in column order; `timestamp` is read as text and cast.
COLUMNS: dict[Stream, dict[str, str]] = {
    "events": {"timestamp": "VARCHAR", "event": "VARCHAR", **_IDS, "properties": "JSON"},
    "requests": {
        "timestamp": "VARCHAR",
        "method": "VARCHAR",
        "path": "VARCHAR",
        "route": "VARCHAR",
        "status": "INTEGER",
        "duration_ms": "DOUBLE",
        **_IDS,
    },
    "feedback": {
        "timestamp": "VARCHAR",
        "survey": "VARCHAR",
        "score": "INTEGER",
        **_IDS,
        "comment": "VARCHAR",
    },
}


def export_parquet(log_dir: Path | str, out_dir: Path | str) -> dict[Stream, Path]:
    """Writes events.parquet, requests.parquet and feedback.parquet to `out_dir` from the NDJSON
    files in `log_dir`, ordered by time; a missing or empty log gives an empty table."""
    log_dir, out_dir = Path(log_dir), Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written: dict[Stream, Path] = {}
    with duckdb.connect() as con:
        con.execute("SET TimeZone = 'UTC'")
        for stream in STREAMS:
            columns = COLUMNS[stream]
            source = log_dir / f"{stream}.ndjson"
            rest = ", ".join(f'"{name}"' for name in columns if name != "timestamp")
            if source.exists() and source.stat().st_size > 0:
                table = con.read_json(str(source), format="newline_delimited", columns=columns)
                rows = table.select(f'CAST("timestamp" AS TIMESTAMPTZ) AS "timestamp", {rest}')
            else:  # nothing logged yet: the same columns, no rows
                kinds = {**columns, "timestamp": "TIMESTAMPTZ"}
                typed = ", ".join(
                    f'CAST(NULL AS {kind}) AS "{name}"' for name, kind in kinds.items()
                )
                rows = con.sql(f"SELECT {typed} WHERE false")
            target = out_dir / f"{stream}.parquet"
            rows.order("ALL").write_parquet(str(target), compression="zstd")
            written[stream] = target
    return written
