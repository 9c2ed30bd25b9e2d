"""Small HAR documents written out field by field, for tests of one behaviour each."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

START = "2024-05-01T10:00:00.000Z"


def entry(
    url: str,
    *,
    method: str = "GET",
    status: int = 200,
    mime: str = "text/html",
    at_s: int = 0,
    time: float = 40,
    headers: dict[str, str] | None = None,
    size: int = 500,
    **extra: Any,
) -> dict[str, Any]:
    """One `log.entries[i]`; `extra` adds producer fields (`pageref`, `_initiator`, ...)."""
    return {
        "startedDateTime": f"2024-05-01T10:{at_s // 60:02d}:{at_s % 60:02d}.000Z",
        "time": time,
        "request": {
            "method": method,
            "url": url,
            "httpVersion": "HTTP/1.1",
            "headers": [{"name": k, "value": v} for k, v in (headers or {}).items()],
            "queryString": [],
            "cookies": [],
            "headersSize": -1,
            "bodySize": -1,
        },
        "response": {
            "status": status,
            "statusText": "",
            "httpVersion": "HTTP/1.1",
            "headers": [{"name": "Content-Type", "value": mime}],
            "cookies": [],
            "content": {"size": size, "mimeType": mime},
            "redirectURL": "",
            "headersSize": -1,
            "bodySize": -1,
        },
        "cache": {},
        "timings": {"send": 1, "wait": time - 2, "receive": 1},
        **extra,
    }


def har(entries: list[dict[str, Any]], pages: list[dict[str, Any]] | None = None) -> dict:
    log: dict[str, Any] = {"version": "1.2", "creator": {"name": "test", "version": "1"}}
    if pages is not None:
        log["pages"] = pages
    log["entries"] = entries
    return {"log": log}


def page(page_id: str, title: str, on_load: float = 1000.0, at_s: int = 0) -> dict[str, Any]:
    return {
        "id": page_id,
        "title": title,
        "startedDateTime": f"2024-05-01T10:{at_s // 60:02d}:{at_s % 60:02d}.000Z",
        "pageTimings": {"onContentLoad": on_load / 2, "onLoad": on_load},
    }


def write_har(path: Path, document: dict[str, Any]) -> Path:
    path.write_text(json.dumps(document), encoding="utf-8")
    return path
