"""Reading HAR files from any producer into entries: which files the inputs name (directories,
globs, zips holding several sessions), then each one's entries, small files whole, big ones
streamed entry by entry with ijson so a 1 GB HAR never sits in memory. Bad input raises HarError
naming the file and the JSON path."""

from __future__ import annotations

import glob
import json
import zipfile
from collections.abc import Callable, Iterable, Iterator
from functools import partial
from pathlib import Path
from typing import Any, BinaryIO

import ijson

from ..errors import HarError
from .archives import ZIP_ERRORS, ArchiveReader, archive_paths, har_members, in_archive, zip_error
from .frames import FrameTracker, pages_of
from .model import Entry
from .parse import json_kind, object_at, parse_entry, timestamp_or_none

LARGE_FILE_BYTES = 32 * 1024 * 1024  # from here on, entries are streamed
_CHUNK = 1 << 20


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
                    found.extend(archive_paths(p, named=False))
        elif not path.exists() and glob.has_magic(str(item)):
            matches = sorted(Path(p) for p in glob.glob(str(item), recursive=True))
            for match in matches or [path]:
                found.extend(archive_paths(match, named=True))
        else:
            found.extend(archive_paths(path, named=True))
    return list(dict.fromkeys(found))


def read_entries(path: Path, *, large_file_bytes: int = LARGE_FILE_BYTES) -> Iterator[Entry]:
    """The entries of one HAR file, in file order; of a zip, those of its HAR member(s) (or of
    the one named by `x.zip/member.har`), streamed out of the archive when large."""
    name = str(path)
    archived = in_archive(path)
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


def _read_archive(archive: Path, member: str | None, *, large_file_bytes: int) -> Iterator[Entry]:
    zip_name = str(archive)
    try:
        opened = zipfile.ZipFile(archive)
    except ZIP_ERRORS as exc:
        raise zip_error(exc, zip_name) from None
    with opened:
        members = [member] if member is not None else har_members(opened)
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
                with ArchiveReader(opened, info, name) as reader:
                    data = reader.read()
                yield from _read_whole(data, name)
            else:
                yield from _stream(partial(ArchiveReader, opened, info, name), name)


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
    log = object_at(document, "log", name, "$")
    entries = log.get("entries")
    if not isinstance(entries, list):
        raise HarError(
            f"expected an array of entries, got {json_kind(entries)}",
            file=name,
            location="log.entries",
        )
    if not entries:
        raise HarError("the log has no entries", file=name, location="log.entries")
    frames = FrameTracker(pages_of(log, timestamp_or_none))
    for index, raw in enumerate(entries):
        yield parse_entry(raw, name, index, frames)


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
            frames = FrameTracker()  # `log.pages` is not read when streaming: no titles
            try:
                for raw_entry in items:
                    if index >= count:  # after a restart in latin-1, skip what was yielded
                        yield parse_entry(raw_entry, name, index, frames)
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
