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
import posixpath
import zipfile
import zlib
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from functools import lru_cache, partial
from pathlib import Path, PureWindowsPath
from typing import Any, BinaryIO

import ijson

from ..errors import HarError
from .model import Entry, Pairs

LARGE_FILE_BYTES = 32 * 1024 * 1024  # from here on, entries are streamed
_CHUNK = 1 << 20
MAX_BODY_CHARS = 2 * 1024 * 1024  # bodies read for shapes and correlation; bigger ones are not


def expand(inputs: Iterable[str | Path]) -> list[Path]:
    """Files, directories (every `*.har` below, and every `*.zip` holding one) and globs → HAR
    paths, sorted, without repeats. A zip holding several HARs gives one path per member
    (`archive.zip/member.har`): each is a session. A name that matches nothing, a zip named
    without a HAR inside and an unreadable zip are kept, so reading them reports them; a readable
    zip without a HAR found in a directory is someone else's file and is skipped."""
    found: list[Path] = []
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            for p in sorted(path.rglob("*")):
                suffix = p.suffix.lower()
                if suffix == ".har":
                    found.append(p)
                elif suffix == ".zip" and p.is_file():
                    found.extend(_archive_paths(p, named=False))
        elif not path.exists() and glob.has_magic(str(item)):
            matches = sorted(Path(p) for p in glob.glob(str(item), recursive=True))
            for match in matches or [path]:
                found.extend(_archive_paths(match, named=True))
        else:
            found.extend(_archive_paths(path, named=True))
    return list(dict.fromkeys(found))


def _archive_paths(path: Path, *, named: bool) -> list[Path]:
    if path.suffix.lower() != ".zip" or not path.is_file():
        return [path]
    try:
        with zipfile.ZipFile(path) as archive:
            members = _har_members(archive)
    except (zipfile.BadZipFile, OSError, EOFError, ValueError):
        return [path]  # reading it says what is wrong
    if not members:
        return [path] if named else []
    if len(members) == 1:
        return [path]  # Playwright's `record_har_path="x.zip"`: one `har.har`
    return [path / member for member in members]


def _har_members(archive: zipfile.ZipFile) -> list[str]:
    """The `.har` members, without the `__MACOSX/._x.har` resource forks macOS zips carry."""
    return [
        info.filename
        for info in archive.infolist()
        if not info.is_dir()
        and info.filename.lower().endswith(".har")
        and not info.filename.startswith("__MACOSX/")
        and not posixpath.basename(info.filename).startswith("._")
    ]


def _in_archive(path: Path) -> tuple[Path, str | None] | None:
    """(zip, member) for `x.zip` (member None: every HAR inside) or `x.zip/dir/a.har`; None for a
    path outside any zip."""
    if path.suffix.lower() == ".zip" and path.is_file():
        return path, None
    if path.exists():
        return None
    for parent in path.parents:
        if parent.suffix.lower() == ".zip" and parent.is_file():
            return parent, path.relative_to(parent).as_posix()
    return None


def read_entries(path: Path, *, large_file_bytes: int = LARGE_FILE_BYTES) -> Iterator[Entry]:
    """The entries of one HAR file, in file order; of a zip, those of its HAR member(s) (or of
    the one named by `x.zip/member.har`), streamed out of the archive when large."""
    name = str(path)
    archived = _in_archive(path)
    if archived is not None:
        yield from _read_archive(*archived, large_file_bytes=large_file_bytes)
        return
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise HarError(f"cannot read: {exc.strerror or exc}", file=name) from None
    if size == 0:
        raise HarError("the file is empty, expected a HAR (JSON) document", file=name)
    if size < large_file_bytes:
        yield from _read_whole(path.read_bytes(), name)
    else:
        yield from _stream(lambda: path.open("rb"), name)


# What zipfile raises on a damaged, truncated, encrypted or exotic archive.
_ZIP_ERRORS = (
    zipfile.BadZipFile,
    zlib.error,
    EOFError,
    OSError,
    NotImplementedError,  # a compression method zipfile lacks
    RuntimeError,  # encrypted
    ValueError,
)


def _zip_error(exc: BaseException, name: str) -> HarError:
    reason = str(exc) or type(exc).__name__
    return HarError(f"not a readable zip archive ({reason})", file=name)


class _ArchiveReader:
    """A zip member as the streaming parser reads it, damage reported as HarError."""

    def __init__(self, archive: zipfile.ZipFile, info: zipfile.ZipInfo, name: str):
        self._name = name
        try:
            self._raw = archive.open(info)
        except _ZIP_ERRORS as exc:
            raise _zip_error(exc, name) from None

    def read(self, size: int = -1) -> bytes:
        try:
            return self._raw.read(size)
        except _ZIP_ERRORS as exc:
            raise _zip_error(exc, self._name) from None

    def seek(self, offset: int) -> int:
        return self._raw.seek(offset)

    def __enter__(self) -> _ArchiveReader:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._raw.close()


def _read_archive(archive: Path, member: str | None, *, large_file_bytes: int) -> Iterator[Entry]:
    zip_name = str(archive)
    try:
        opened = zipfile.ZipFile(archive)
    except _ZIP_ERRORS as exc:
        raise _zip_error(exc, zip_name) from None
    with opened:
        members = [member] if member is not None else _har_members(opened)
        if not members:
            raise HarError("the zip archive holds no .har file", file=zip_name)
        for each in members:
            name = f"{zip_name}/{each}"
            try:
                info = opened.getinfo(each)
            except KeyError:
                raise HarError(f"the zip archive has no member {each!r}", file=zip_name) from None
            if info.file_size == 0:
                raise HarError("the file is empty, expected a HAR (JSON) document", file=name)
            if info.file_size < large_file_bytes:
                with _ArchiveReader(opened, info, name) as reader:
                    data = reader.read()
                yield from _read_whole(data, name)
            else:
                yield from _stream(partial(_ArchiveReader, opened, info, name), name)


def _read_whole(data: bytes, name: str) -> Iterator[Entry]:
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


def _stream(open_source: Callable[[], Any], name: str) -> Iterator[Entry]:
    count = 0
    for latin1 in (False, True):
        with open_source() as raw:
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


# --- bodies a producer wrote beside the HAR --------------------------------------------------

ATTACHMENT_MAX_BYTES = 8 * 1024 * 1024


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
    archived = _in_archive(har)
    if archived is None:
        return _read_beside(har.parent, parts, max_bytes, str(har), location)
    archive, member = archived
    try:
        stat = archive.stat()
        opened = _open_archive(str(archive.resolve()), stat.st_mtime_ns, stat.st_size)
    except _ZIP_ERRORS as exc:
        raise _zip_error(exc, str(archive)) from None
    if member is None:
        hars = _har_members(opened)
        member = hars[0] if len(hars) == 1 else ""
    wanted = posixpath.join(posixpath.dirname(member), *parts)
    try:
        info = opened.getinfo(wanted)
    except KeyError:
        return None
    if info.is_dir() or info.file_size > max_bytes:
        return None
    with _ArchiveReader(opened, info, f"{archive}/{wanted}") as body:
        data = body.read(max_bytes + 1)  # the size in the directory may lie
    return None if len(data) > max_bytes else data


# The seeder's parser asks once per entry; reading a big zip's directory each time is quadratic.
@lru_cache(maxsize=4)
def _open_archive(path: str, mtime_ns: int, size: int) -> zipfile.ZipFile:
    return zipfile.ZipFile(path)


def _attachment_parts(file_name: object, har: str, location: str | None) -> tuple[str, ...]:
    if not isinstance(file_name, str):
        raise HarError(f"expected a file name, got {_kind(file_name)}", file=har, location=location)
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


def _read_beside(
    directory: Path, parts: tuple[str, ...], max_bytes: int, har: str, location: str | None
) -> bytes | None:
    target = directory.joinpath(*parts)
    try:
        if not target.resolve().is_relative_to(directory.resolve()):
            raise HarError(
                f"refusing the attachment {'/'.join(parts)!r}: it links outside the HAR's directory",
                file=har,
                location=location,
            )
        if not target.is_file() or target.stat().st_size > max_bytes:
            return None
        with target.open("rb") as body:
            data = body.read(max_bytes + 1)
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as exc:
        raise HarError(
            f"cannot read the attachment {str(target)!r}: {exc.strerror or exc}",
            file=har,
            location=location,
        ) from None
    return None if len(data) > max_bytes else data


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
    response_text = _response_text(content, mime)
    if response_text is None and _reads_body(mime):
        response_text = _attached_text(content, name, f"{resp_where}.content")
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
        if not post_text:  # Playwright's `attach` mode leaves the text empty, the body in a file
            post_text = _attached_text(post, name, post_where) or post_text
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
        response_text=response_text,
    )


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
