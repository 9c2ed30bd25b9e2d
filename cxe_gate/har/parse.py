"""One `log.entries[i]` object → an Entry, each field checked once and a wrong shape raising
HarError at its JSON path; the JSON and HTML bodies later stages read, embedded in the HAR or
attached beside it.

haralyzer is not used to read: it raises on what real producers leave out (`connection`,
`serverIPAddress`, `pageref`, `content.text`) and spends most of its time parsing dates."""

from __future__ import annotations

import base64
import binascii
from datetime import UTC, datetime
from pathlib import Path, PureWindowsPath
from typing import Any

from ..errors import HarError
from .archives import file_beside, in_archive, member_beside
from .frames import FrameTracker
from .model import Entry, Pairs, PostedFile
from .multipart import from_params, from_text, is_multipart

MAX_BODY_CHARS = 2 * 1024 * 1024  # bodies read for shapes and correlation; bigger ones are not
ATTACHMENT_MAX_BYTES = 8 * 1024 * 1024
MAX_DURATION_MS = 24 * 3600 * 1000.0


def json_kind(value: object) -> str:
    """A JSON value as an error message names it: an object, an array, null, ..."""
    if value is None:
        return "null"
    return {dict: "an object", list: "an array", str: "a string", bool: "a boolean"}.get(
        type(value), "a number"
    )


def object_at(parent: Any, key: str, name: str, where: str) -> dict[str, Any]:
    value = parent.get(key) if isinstance(parent, dict) else None
    if not isinstance(value, dict):
        path = key if where == "$" else f"{where}.{key}"
        raise HarError(f"expected an object, got {json_kind(value)}", file=name, location=path)
    return value


def _string(
    parent: dict[str, Any], key: str, name: str, where: str, default: str | None = None
) -> str:
    value = parent.get(key, default)
    if not isinstance(value, str):
        raise HarError(
            f"expected a string, got {json_kind(value)}", file=name, location=f"{where}.{key}"
        )
    return value


def _number(value: Any) -> float | None:
    """A duration in ms; None when not known: -1 in HAR, or past a day (`1e308`, Infinity, NaN),
    which measures nothing and would overflow the budgets made of it."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if 0 <= value <= MAX_DURATION_MS else None


def _pairs(parent: dict[str, Any], key: str, name: str, where: str) -> Pairs:
    value = parent.get(key)
    if value is None:
        return ()
    if isinstance(value, dict):  # IE11 writes a lone cookie as an object, not in an array
        value = [value] if "name" in value else [{"name": k, "value": v} for k, v in value.items()]
    if not isinstance(value, list):
        raise HarError(
            f"expected an array, got {json_kind(value)}", file=name, location=f"{where}.{key}"
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


def timestamp_or_none(value: Any) -> datetime | None:
    """An ISO 8601 date-time, timezone-aware (UTC when it names none); None when it is not one."""
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            return None
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return None


def _timestamp(value: Any, name: str, where: str) -> datetime:
    moment = timestamp_or_none(value)
    if moment is not None:
        return moment
    raise HarError(
        f"expected an ISO 8601 date-time, got {json_kind(value)}",
        file=name,
        location=f"{where}.startedDateTime",
    )


def parse_entry(raw: Any, name: str, index: int, frames: FrameTracker | None = None) -> Entry:
    """One `log.entries[i]` object → Entry; wrong shapes raise HarError at their JSON path.
    `frames` (one per file, fed the entries in order) tells iframe documents and page titles."""
    where = f"log.entries[{index}]"
    if not isinstance(raw, dict):
        raise HarError(f"expected an object, got {json_kind(raw)}", file=name, location=where)
    request = object_at(raw, "request", name, where)
    response = object_at(raw, "response", name, where)
    req_where, resp_where = f"{where}.request", f"{where}.response"
    status = _status(response, name, resp_where)
    mime, response_text = _response_body(response, name, resp_where)
    post_mime, post_text, post_params, post_files = _post(request, name, req_where)
    resource_type = raw.get("_resourceType")
    resource_type = resource_type.lower() if isinstance(resource_type, str) else None
    pageref = raw.get("pageref")
    pageref = pageref if isinstance(pageref, str) and pageref else None
    started = _timestamp(raw.get("startedDateTime"), name, where)
    request_headers = _pairs(request, "headers", name, req_where)
    frames = frames or FrameTracker()
    page = frames.pages.get(pageref) if pageref else None
    return Entry(
        file=name,
        index=index,
        started=started,
        time_ms=_time_ms(raw),
        method=_string(request, "method", name, req_where, "GET").upper(),
        url=_string(request, "url", name, req_where),
        status=status,
        mime=mime,
        resource_type=resource_type,
        pageref=pageref,
        request_headers=request_headers,
        response_headers=_pairs(response, "headers", name, resp_where),
        request_cookies=_pairs(request, "cookies", name, req_where),
        response_cookies=_pairs(response, "cookies", name, resp_where),
        post_mime=post_mime,
        post_text=post_text,
        post_params=post_params,
        post_files=post_files,
        response_text=response_text,
        subframe=frames.subframe(
            raw,
            pageref=pageref,
            started=started,
            status=status,
            resource_type=resource_type,
            headers=request_headers,
            mime=mime,
        ),
        page_title=page.title if page else None,
        body_size=_size(response),
    )


def _size(response: dict[str, Any]) -> int | None:
    content = response.get("content")
    size = content.get("size") if isinstance(content, dict) else None
    if isinstance(size, bool) or not isinstance(size, int | float) or not 0 <= size < 1e15:
        return None
    return int(size)


def _status(response: dict[str, Any], name: str, where: str) -> int:
    status = response.get("status", 0)
    if isinstance(status, str) and status.lstrip("-").isdigit():
        status = int(status)
    if isinstance(status, bool) or not isinstance(status, int | float):
        raise HarError(
            f"expected a number, got {json_kind(status)}", file=name, location=f"{where}.status"
        )
    return int(status)


def _time_ms(raw: dict[str, Any]) -> float | None:
    """The entry's duration; when the producer wrote -1, the sum of the known timings. A duration
    past a day anywhere (`1e308`, Infinity) makes it unknown: it measures nothing."""
    time_ms = _number(raw.get("time"))
    if time_ms is None and not _absurd(raw.get("time")):
        timings = raw.get("timings")
        if isinstance(timings, dict):
            parts = [v for k, v in timings.items() if not k.startswith("_")]
            known = [p for p in map(_number, parts) if p is not None]
            if known and not any(map(_absurd, parts)):
                time_ms = sum(known)
    return time_ms


def _absurd(value: Any) -> bool:
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and not value <= MAX_DURATION_MS
    )


def _response_body(response: dict[str, Any], name: str, where: str) -> tuple[str, str | None]:
    """The response's content type (lower case, no parameters) and, for JSON and HTML, its text."""
    content = response.get("content")
    if not isinstance(content, dict):
        content = {}
    mime = content.get("mimeType") or ""
    mime = mime.split(";")[0].strip().lower() if isinstance(mime, str) else ""
    text = _response_text(content, mime)
    if text is None and _reads_body(mime):
        text = _attached_text(content, name, f"{where}.content")
    return mime, text


def _post(
    request: dict[str, Any], name: str, where: str
) -> tuple[str | None, str | None, Pairs | None, tuple[PostedFile, ...]]:
    """The request body: its content type, its text (decoded from base64 or read from an
    attachment), its form parameters and, of a multipart body, its files. A multipart body's text
    is dropped once its fields are read: it holds the files' content."""
    post = request.get("postData")
    if not isinstance(post, dict):
        return None, None, None, ()
    where = f"{where}.postData"
    post_mime = post.get("mimeType") if isinstance(post.get("mimeType"), str) else None
    post_text = None
    text = post.get("text")
    if isinstance(text, str):
        if post.get("encoding") == "base64":
            try:
                text = _decode(base64.b64decode(text, validate=False))
            except (binascii.Error, ValueError):
                raise HarError(
                    "expected base64 text", file=name, location=f"{where}.text"
                ) from None
        post_text = text
    if not post_text:  # Playwright's `attach` mode leaves the text empty, the body in a file
        post_text = _attached_text(post, name, where) or post_text
    if is_multipart(post_mime):
        params = post.get("params")
        if isinstance(params, list) and params:
            body = from_params(params, name, where)
        elif post_text:
            body = from_text(post_mime or "", post_text, name, where)
        else:
            return post_mime, None, None, ()
        return post_mime, None, body.fields, body.files
    post_params = _pairs(post, "params", name, where) if post.get("params") else None
    return post_mime, post_text, post_params, ()


def _reads_body(mime: str) -> bool:
    """JSON and HTML answers are what correlation and shapes read; other bodies never are."""
    return "json" in mime or mime in ("text/html", "application/xhtml+xml")


def _attached_text(holder: dict[str, Any], name: str, where: str) -> str | None:
    """A body the producer wrote beside the HAR (`_file`), read from the HAR's own directory or
    archive; None when there is none, it is missing, or it is bigger than MAX_BODY_CHARS."""
    file_name = holder.get("_file")
    if not isinstance(file_name, str) or not file_name:
        return None
    data = open_attachment(name, file_name, max_bytes=MAX_BODY_CHARS, location=f"{where}._file")
    return None if data is None else _decode(data)


def _response_text(content: dict[str, Any], mime: str) -> str | None:
    """The body of a JSON or HTML response (what correlation and shapes read), if the producer
    embedded it and it is not huge; other bodies are never decoded."""
    if not _reads_body(mime):
        return None
    text = content.get("text")
    if not isinstance(text, str) or not text or len(text) > MAX_BODY_CHARS:
        return None
    if content.get("encoding") == "base64":
        try:
            return _decode(base64.b64decode(text, validate=False))
        except (binascii.Error, ValueError):
            return None  # an unreadable body is no reason to lose the entry
    return text


# --- bodies a producer wrote beside the HAR --------------------------------------------------


def open_attachment(
    har: str | Path,
    file_name: str,
    *,
    max_bytes: int = ATTACHMENT_MAX_BYTES,
    location: str | None = None,
) -> bytes | None:
    """A body a producer wrote beside the HAR instead of into it (`response.content._file`, as
    Playwright's `record_har_content="attach"` does): a file next to a `.har`, or a member of the
    same zip (`har` may be `x.zip`, or `x.zip/member.har` as the entries of a zip are named). None
    when it is missing or larger than `max_bytes`. A name that would leave the HAR's directory
    (`..`, an absolute path, a drive, a link pointing elsewhere) raises HarError at `location`."""
    har = Path(har)
    parts = _attachment_parts(file_name, str(har), location)
    archived = in_archive(har)
    if archived is None:
        return file_beside(har.parent, parts, max_bytes, str(har), location)
    return member_beside(*archived, parts, max_bytes)


def _attachment_parts(file_name: object, har: str, location: str | None) -> tuple[str, ...]:
    if not isinstance(file_name, str):
        raise HarError(
            f"expected a file name, got {json_kind(file_name)}", file=har, location=location
        )
    parts = tuple(p for p in file_name.replace("\\", "/").split("/") if p not in ("", "."))
    if (
        not parts
        or ".." in parts
        or "\0" in file_name
        or file_name.startswith(("/", "\\"))
        or PureWindowsPath(file_name).drive
    ):
        raise HarError(
            f"refusing the attachment {file_name!r}: expected a name relative to the HAR "
            "(no `..`, no absolute path)",
            file=har,
            location=location,
        )
    return parts
