"""The values a seeded test cannot write down as recorded: secrets read from environment variables
(`env`), values captured earlier in the run (`ref`, filled by a `capture` spec), paths built from
them (`url`) and files uploaded in place of the recorded ones (`upload`). Generated tests hold
these as plain data; `resolve` turns them into values."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from .placeholder_files import placeholder_content

if TYPE_CHECKING:
    from playwright.sync_api import FilePayload


class MissingValue(Exception):
    """A value a journey needs is not there: an unset variable, or nothing captured."""


@dataclass(frozen=True)
class Env:
    name: str
    what: str = ""  # what was scrubbed, e.g. "email in request.form.email"


@dataclass(frozen=True)
class Ref:
    name: str


@dataclass(frozen=True)
class Url:
    parts: tuple[Any, ...]


@dataclass(frozen=True)
class Text:
    parts: tuple[Any, ...]


@dataclass(frozen=True)
class Capture:
    """Where a response hands out a value: `source` json / html_input / html_meta / location /
    header / cookie, and `key` (a JSON key path, a name, or a Location path segment index)."""

    source: str
    key: tuple[str | int, ...] = ()


@dataclass(frozen=True)
class Upload:
    """A file a multipart form sent: a placeholder of the recorded name and type stands in for it
    (a recording never keeps a file's content)."""

    name: Any  # a string, or a marker when the file name was scrubbed
    mime_type: str = "application/octet-stream"

    def payload(self) -> FilePayload:
        """What Playwright's set_input_files and multipart= take (a FilePayload)."""
        content = placeholder_content(self.mime_type)
        return {"name": str(self.name), "mimeType": self.mime_type, "buffer": content}


def env(name: str, what: str = "") -> Env:
    """A scrubbed value, read from the environment variable `name` when the test runs."""
    return Env(name, what)


def ref(name: str) -> Ref:
    """A value captured earlier in this journey (see `capture`)."""
    return Ref(name)


def url(*parts: Any) -> Url:
    """A path joined from literal parts, captured values and variables (URL-quoted)."""
    return Url(parts)


def text(*parts: Any) -> Text:
    """A string joined from literal parts and variables (a secret inside a longer value)."""
    return Text(parts)


def upload(name: Any, mime_type: str | None = None) -> Upload:
    """A file to upload under the recorded `name` (a string or a marker) and content type."""
    return Upload(name, mime_type or "application/octet-stream")


def capture(source: str, *key: str | int) -> Capture:
    return Capture(source, tuple(key))


def resolve(value: Any, captured: dict[str, str]) -> Any:
    """The value with every marker replaced; raises MissingValue naming what is missing."""
    if isinstance(value, Env):
        found = os.environ.get(value.name)
        if found is None:
            what = f" ({value.what})" if value.what else ""
            raise MissingValue(
                f"set the environment variable {value.name}{what}: it replaces a value scrubbed "
                "from the recorded session"
            )
        return found
    if isinstance(value, Ref):
        if value.name not in captured:
            raise MissingValue(f"nothing was captured for `{value.name}` earlier in the journey")
        return captured[value.name]
    if isinstance(value, Url):
        return "".join(
            part if isinstance(part, str) else quote(str(resolve(part, captured)), safe="")
            for part in value.parts
        )
    if isinstance(value, Text):
        return "".join(str(resolve(part, captured)) for part in value.parts)
    if isinstance(value, Upload):
        return Upload(resolve(value.name, captured), value.mime_type)
    if isinstance(value, dict):
        return {k: resolve(v, captured) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve(v, captured) for v in value]
    return value
