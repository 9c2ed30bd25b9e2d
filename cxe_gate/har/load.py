"""Reading HAR files from any producer into entries: small files whole, big ones streamed entry by
entry with ijson so a 1 GB HAR never sits in memory. Bad input raises HarError naming the file and
the JSON path.

haralyzer is not used to read: it raises on what real producers leave out (`connection`,
`serverIPAddress`, `pageref`, `content.text`) and spends most of its time parsing dates."""

from __future__ import annotations

import base64
import binascii
import glob
import json
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

import ijson

from ..errors import HarError
from .model import Entry, Pairs

LARGE_FILE_BYTES = 32 * 1024 * 1024  # from here on, entries are streamed
_CHUNK = 1 << 20


def expand(inputs: Iterable[str | Path]) -> list[Path]:
    """Files, directories (every `*.har` below) and globs → HAR paths, sorted, without repeats.
    A name that matches nothing is kept, so reading it reports it."""
    found: list[Path] = []
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            found.extend(sorted(p for p in path.rglob("*") if p.suffix.lower() == ".har"))
        elif not path.exists() and glob.has_magic(str(item)):
            matches = sorted(Path(p) for p in glob.glob(str(item), recursive=True))
            found.extend(matches or [path])
        else:
            found.append(path)
    return list(dict.fromkeys(found))


def read_entries(path: Path, *, large_file_bytes: int = LARGE_FILE_BYTES) -> Iterator[Entry]:
    """The entries of one HAR file, in file order."""
    name = str(path)
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise HarError(f"cannot read: {exc.strerror or exc}", file=name) from None
    if size == 0:
        raise HarError("the file is empty, expected a HAR (JSON) document", file=name)
    if size < large_file_bytes:
        yield from _read_whole(path, name)
    else:
        yield from _stream(path, name)


def _read_whole(path: Path, name: str) -> Iterator[Entry]:
    data = path.read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("latin-1")  # Windows tools write their code page; latin-1 never fails
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise HarError(
            f"not valid JSON ({exc.msg}); is the file truncated?",
            file=name,
            location=f"line {exc.lineno} column {exc.colno}",
        ) from None
    log = _object(document, "log", name, "$")
    entries = log.get("entries")
    if not isinstance(entries, list):
        raise HarError(
            f"expected an array of entries, got {_kind(entries)}", file=name, location="log.entries"
        )
    if not entries:
        raise HarError("the log has no entries", file=name, location="log.entries")
    for index, raw in enumerate(entries):
        yield parse_entry(raw, name, index)


class _Latin1AsUtf8:
    """A binary reader that re-encodes latin-1 bytes as UTF-8, for the streaming parser."""

    def __init__(self, raw: BinaryIO):
        self._raw = raw

    def read(self, size: int = -1) -> bytes:
        return self._raw.read(size).decode("latin-1").encode("utf-8")


def _stream(path: Path, name: str) -> Iterator[Entry]:
    count = 0
    for latin1 in (False, True):
        with path.open("rb") as raw:
            if raw.read(3) != b"\xef\xbb\xbf":
                raw.seek(0)
            source: Any = _Latin1AsUtf8(raw) if latin1 else raw
            items = ijson.items(source, "log.entries.item", use_float=True, buf_size=_CHUNK)
            index = 0
            try:
                for raw_entry in items:
                    if index >= count:  # after a restart in latin-1, skip what was yielded
                        yield parse_entry(raw_entry, name, index)
                        count += 1
                    index += 1
            except ijson.JSONError as exc:
                # yajl quotes the file around the error: keep only its first line (no data).
                reason = str(exc).strip().splitlines()[0] if str(exc).strip() else "invalid JSON"
                if "UTF8" in reason and not latin1:
                    continue
                raise HarError(
                    f"not valid JSON ({reason}); is the file truncated?",
                    file=name,
                    location=f"log.entries[{index}]",
                ) from None
        if count == 0:
            raise HarError(
                "no entries (missing or empty log.entries)", file=name, location="log.entries"
            )
        return


# --- validation at the door: each field checked once, with its JSON path ---------------------


def _kind(value: object) -> str:
    if value is None:
        return "null"
    return {dict: "an object", list: "an array", str: "a string", bool: "a boolean"}.get(
        type(value), "a number"
    )


def _object(parent: Any, key: str, name: str, where: str) -> dict[str, Any]:
    value = parent.get(key) if isinstance(parent, dict) else None
    if not isinstance(value, dict):
        path = key if where == "$" else f"{where}.{key}"
        raise HarError(f"expected an object, got {_kind(value)}", file=name, location=path)
    return value


def _string(parent: dict[str, Any], key: str, name: str, where: str, default: str | None = None):
    value = parent.get(key, default)
    if not isinstance(value, str):
        raise HarError(
            f"expected a string, got {_kind(value)}", file=name, location=f"{where}.{key}"
        )
    return value


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if value >= 0 else None  # -1: "not known" in HAR


def _pairs(parent: dict[str, Any], key: str, name: str, where: str) -> Pairs:
    value = parent.get(key)
    if value is None:
        return ()
    if not isinstance(value, list):
        raise HarError(
            f"expected an array, got {_kind(value)}", file=name, location=f"{where}.{key}"
        )
    pairs = []
    for i, item in enumerate(value):
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            raise HarError(
                "expected an object with a string `name`",
                file=name,
                location=f"{where}.{key}[{i}]",
            )
        pair_value = item.get("value", "")
        pairs.append((item["name"], pair_value if isinstance(pair_value, str) else str(pair_value)))
    return tuple(pairs)


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def _timestamp(value: Any, name: str, where: str) -> datetime:
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            pass
        else:
            return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    raise HarError(
        f"expected an ISO 8601 date-time, got {_kind(value)}",
        file=name,
        location=f"{where}.startedDateTime",
    )


def parse_entry(raw: Any, name: str, index: int) -> Entry:
    """One `log.entries[i]` object → Entry; wrong shapes raise HarError at their JSON path."""
    where = f"log.entries[{index}]"
    if not isinstance(raw, dict):
        raise HarError(f"expected an object, got {_kind(raw)}", file=name, location=where)
    request = _object(raw, "request", name, where)
    response = _object(raw, "response", name, where)
    req_where, resp_where = f"{where}.request", f"{where}.response"
    status = response.get("status", 0)
    if isinstance(status, str) and status.lstrip("-").isdigit():
        status = int(status)
    if isinstance(status, bool) or not isinstance(status, int | float):
        raise HarError(
            f"expected a number, got {_kind(status)}", file=name, location=f"{resp_where}.status"
        )
    content = response.get("content") if isinstance(response.get("content"), dict) else {}
    mime = content.get("mimeType") or ""
    mime = mime.split(";")[0].strip().lower() if isinstance(mime, str) else ""
    post_mime = post_text = None
    post_params: Pairs | None = None
    post = request.get("postData")
    if isinstance(post, dict):
        post_where = f"{req_where}.postData"
        post_mime = post.get("mimeType") if isinstance(post.get("mimeType"), str) else None
        text = post.get("text")
        if isinstance(text, str):
            if post.get("encoding") == "base64":
                try:
                    text = _decode(base64.b64decode(text, validate=False))
                except (binascii.Error, ValueError):
                    raise HarError(
                        "expected base64 text", file=name, location=f"{post_where}.text"
                    ) from None
            post_text = text
        if post.get("params"):
            post_params = _pairs(post, "params", name, post_where)
    time_ms = _number(raw.get("time"))
    if time_ms is None and isinstance(raw.get("timings"), dict):
        parts = [_number(v) for k, v in raw["timings"].items() if not k.startswith("_")]
        known = [p for p in parts if p is not None]
        time_ms = sum(known) if known else None
    resource_type = raw.get("_resourceType")
    pageref = raw.get("pageref")
    return Entry(
        file=name,
        index=index,
        started=_timestamp(raw.get("startedDateTime"), name, where),
        time_ms=time_ms,
        method=_string(request, "method", name, req_where, "GET").upper(),
        url=_string(request, "url", name, req_where),
        status=int(status),
        mime=mime,
        resource_type=resource_type.lower() if isinstance(resource_type, str) else None,
        pageref=pageref if isinstance(pageref, str) and pageref else None,
        request_headers=_pairs(request, "headers", name, req_where),
        response_headers=_pairs(response, "headers", name, resp_where),
        request_cookies=_pairs(request, "cookies", name, req_where),
        response_cookies=_pairs(response, "cookies", name, resp_where),
        post_mime=post_mime,
        post_text=post_text,
        post_params=post_params,
    )
