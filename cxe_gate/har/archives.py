"""Where a HAR's bytes come from besides a plain file: zip archives (which members are HARs, which
path names which member, damage reported as HarError naming the archive), and the bodies a
producer wrote beside the HAR, in its directory or its zip."""

from __future__ import annotations

import posixpath
import zipfile
import zlib
from functools import lru_cache
from pathlib import Path

from ..errors import HarError

# What zipfile raises on a damaged, truncated, encrypted or exotic archive.
ZIP_ERRORS = (
    zipfile.BadZipFile,
    zlib.error,
    EOFError,
    OSError,
    NotImplementedError,  # a compression method zipfile lacks
    RuntimeError,  # encrypted
    ValueError,
)


def zip_error(exc: BaseException, name: str) -> HarError:
    reason = str(exc) or type(exc).__name__
    return HarError(f"not a readable zip archive ({reason})", file=name)


def archive_paths(path: Path, *, named: bool) -> list[Path]:
    """The session paths a (possibly zip) path stands for: a zip holding several HARs gives one
    `archive.zip/member.har` per member. A zip named on purpose (`named`) but holding no HAR,
    and an unreadable zip, are kept so reading them reports them."""
    if path.suffix.lower() != ".zip" or not path.is_file():
        return [path]
    try:
        with zipfile.ZipFile(path) as archive:
            members = har_members(archive)
    except (zipfile.BadZipFile, OSError, EOFError, ValueError):
        return [path]  # reading it says what is wrong
    if not members:
        return [path] if named else []
    if len(members) == 1:
        return [path]  # Playwright's `record_har_path="x.zip"`: one `har.har`
    return [path / member for member in members]


def har_members(archive: zipfile.ZipFile) -> list[str]:
    """The `.har` members, without the `__MACOSX/._x.har` resource forks macOS zips carry."""
    return [
        info.filename
        for info in archive.infolist()
        if not info.is_dir()
        and info.filename.lower().endswith(".har")
        and not info.filename.startswith("__MACOSX/")
        and not posixpath.basename(info.filename).startswith("._")
    ]


def in_archive(path: Path) -> tuple[Path, str | None] | None:
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


class ArchiveReader:
    """A zip member as the streaming parser reads it, damage reported as HarError."""

    def __init__(self, archive: zipfile.ZipFile, info: zipfile.ZipInfo, name: str):
        self._name = name
        try:
            self._raw = archive.open(info)
        except ZIP_ERRORS as exc:
            raise zip_error(exc, name) from None

    def read(self, size: int = -1) -> bytes:
        try:
            return self._raw.read(size)
        except ZIP_ERRORS as exc:
            raise zip_error(exc, self._name) from None

    def seek(self, offset: int) -> int:
        return self._raw.seek(offset)

    def __enter__(self) -> ArchiveReader:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._raw.close()


# --- bodies a producer wrote beside the HAR --------------------------------------------------


def member_beside(
    archive: Path, har_member: str | None, parts: tuple[str, ...], max_bytes: int
) -> bytes | None:
    """The zip member at `parts` relative to the HAR member's folder (`har_member` None: the zip's
    only HAR); None when it is missing or larger than `max_bytes`."""
    try:
        stat = archive.stat()
        opened = _open_archive(str(archive.resolve()), stat.st_mtime_ns, stat.st_size)
    except ZIP_ERRORS as exc:
        raise zip_error(exc, str(archive)) from None
    if har_member is None:
        hars = har_members(opened)
        har_member = hars[0] if len(hars) == 1 else ""
    wanted = posixpath.join(posixpath.dirname(har_member), *parts)
    try:
        info = opened.getinfo(wanted)
    except KeyError:
        return None
    if info.is_dir() or info.file_size > max_bytes:
        return None
    with ArchiveReader(opened, info, f"{archive}/{wanted}") as body:
        data = body.read(max_bytes + 1)  # the size in the directory may lie
    return None if len(data) > max_bytes else data


# The seeder's parser asks once per entry; reading a big zip's directory each time is quadratic.
@lru_cache(maxsize=4)
def _open_archive(path: str, mtime_ns: int, size: int) -> zipfile.ZipFile:
    return zipfile.ZipFile(path)


def file_beside(
    directory: Path, parts: tuple[str, ...], max_bytes: int, har: str, location: str | None
) -> bytes | None:
    """The file at `parts` below the HAR's directory; None when it is missing or larger than
    `max_bytes`. A link pointing outside the directory raises HarError at `location`."""
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
