"""The shop's NDJSON logs: analytics events, one line per request, and survey feedback."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

Stream = Literal["events", "requests", "feedback"]
STREAMS: tuple[Stream, ...] = ("events", "requests", "feedback")

# One encoder for every line: json.dumps with options would build a new one per call.
_encode = json.JSONEncoder(separators=(",", ":")).encode
# Every line starts with its time stamp, so lines sort by time on a fixed slice of bytes.
_PREFIX = b'{"timestamp":"'
_STAMP = slice(len(_PREFIX), len(_PREFIX) + len("2026-11-10T14:03:12.345Z"))


class ShopLog:
    """Appends one JSON object per line to events.ndjson, requests.ndjson and feedback.ndjson.

    Each line is one write() on an O_APPEND descriptor, so lines from several threads, or from
    two apps sharing a log directory across a deploy, never tear or interleave."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT
        self._fds = {s: os.open(self.directory / f"{s}.ndjson", flags, 0o644) for s in STREAMS}
        self.written = dict.fromkeys(STREAMS, 0)

    def write(self, stream: Stream, timestamp: str, record: dict[str, object]) -> None:
        line = _encode({"timestamp": timestamp, **record}) + "\n"
        os.write(self._fds[stream], line.encode())
        self.written[stream] += 1

    def close(self) -> None:
        for fd in self._fds.values():
            os.close(fd)
        self._fds.clear()


def merge_logs(sources: Sequence[Path], target: Path) -> None:
    """Appends the lines of the logs in `sources` to the logs in `target`, in time order (lines
    with the same time stamp keep the order of `sources`)."""
    target.mkdir(parents=True, exist_ok=True)
    for stream in STREAMS:
        lines: list[bytes] = []
        for source in sources:
            path = source / f"{stream}.ndjson"
            if path.exists():
                lines.extend(path.read_bytes().splitlines(keepends=True))
        if any(not line.startswith(_PREFIX) for line in lines):
            raise ValueError(f"a line of {stream}.ndjson does not start with its timestamp")
        lines.sort(key=lambda line: line[_STAMP])
        with open(target / f"{stream}.ndjson", "ab") as out:
            out.writelines(lines)
