"""Writing a seeded suite: only the files the seeder owns, with LF line endings, so a re-seed of
the same input leaves `git diff` empty."""

from __future__ import annotations

from pathlib import Path


def write_suite(directory: Path, files: dict[str, str]) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, content in sorted(files.items()):
        path = directory / name
        path.write_bytes(content.encode("utf-8"))
        written.append(path)
    return written
