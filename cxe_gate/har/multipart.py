"""A `multipart/form-data` request body as HAR producers record it → its text fields and its files
(field, file name, content type, size: never a file's content). Read from `postData.params`
(Firefox, Chrome DevTools: `fileName`/`contentType` mark a file) or, when only `postData.text` is
there, parsed with the stdlib `email` parser and the boundary of the Content-Type."""

from __future__ import annotations

from dataclasses import dataclass
from email.message import Message
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any

from ..errors import HarError
from .model import Pairs, PostedFile

MULTIPART = "multipart/form-data"


@dataclass(frozen=True, slots=True)
class MultipartBody:
    fields: Pairs  # text fields, in the order sent
    files: tuple[PostedFile, ...]


def is_multipart(mime: str | None) -> bool:
    return (mime or "").split(";", 1)[0].strip().lower() == MULTIPART


def from_params(params: list[Any], name: str, where: str) -> MultipartBody:
    """`postData.params`: an item with a `fileName` is a file (its `value`, the content if the
    producer kept it, is only measured), any other a text field."""
    fields: list[tuple[str, str]] = []
    files: list[PostedFile] = []
    for i, item in enumerate(params):
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            raise HarError(
                "expected an object with a string `name`",
                file=name,
                location=f"{where}.params[{i}]",
            )
        value = item.get("value", "")
        value = value if isinstance(value, str) else "" if value is None else str(value)
        file_name = item.get("fileName")
        if isinstance(file_name, str):
            kind = item.get("contentType")
            files.append(
                PostedFile(
                    field=item["name"],
                    file_name=file_name,
                    content_type=kind if isinstance(kind, str) and kind else None,
                    size=len(value.encode("utf-8", "surrogatepass")),
                )
            )
        else:
            fields.append((item["name"], value))
    return MultipartBody(tuple(fields), tuple(files))


def from_text(mime: str, text: str, name: str, where: str) -> MultipartBody:
    """The raw body `postData.text` holds, split at the boundary its Content-Type names."""
    if "boundary=" not in mime.lower():
        # Some producers drop the boundary from postData.mimeType; the body's first line is it.
        first = text.lstrip("\r\n").split("\n", 1)[0].rstrip("\r")
        if not (first.startswith("--") and len(first) > 2 and " " not in first):
            raise HarError(
                f"a multipart body without a boundary in its content type {mime!r}: expected "
                "`multipart/form-data; boundary=...`",
                file=name,
                location=f"{where}.mimeType",
            )
        mime = f'{MULTIPART}; boundary="{first[2:]}"'
    # The body as the wire had it (a HAR holds it as text: latin-1 gives each byte back as is,
    # utf-8 a field's non-ASCII text).
    try:
        raw = text.encode("latin-1")
    except UnicodeEncodeError:
        raw = text.encode("utf-8", "surrogatepass")
    head = f"Content-Type: {mime}\r\nMIME-Version: 1.0\r\n\r\n".encode("latin-1", "replace")
    message = BytesParser(policy=HTTP).parsebytes(head + raw)
    parts = message.get_payload() if message.is_multipart() else None
    if not isinstance(parts, list) or (message.defects and not parts):
        raise HarError(
            "expected a multipart/form-data body whose parts start at its boundary",
            file=name,
            location=f"{where}.text",
        )
    fields: list[tuple[str, str]] = []
    files: list[PostedFile] = []
    for i, part in enumerate(parts):
        field = _param(part, "name")
        if field is None:
            raise HarError(
                "expected each part to have `Content-Disposition: form-data; name=...`",
                file=name,
                location=f"{where}.text (part {i + 1})",
            )
        data = part.get_payload(decode=True)
        data = data if isinstance(data, bytes) else b""
        file_name = _param(part, "filename")
        if file_name is None:
            fields.append((field, _decode(data, part.get_content_charset())))
        else:
            kind = part.get("Content-Type")
            files.append(
                PostedFile(
                    field=field,
                    file_name=_utf8(file_name),
                    content_type=str(kind).split(";")[0].strip() if kind else None,
                    size=len(data),
                )
            )
    return MultipartBody(tuple(fields), tuple(files))


def _param(part: Message, key: str) -> str | None:
    value = part.get_param(key, header="content-disposition")
    if value is None:
        return None
    if isinstance(value, tuple):  # RFC 2231 (charset, language, value)
        return str(value[2])
    return str(value)


def _utf8(value: str) -> str:
    """A header parameter as sent: browsers write UTF-8 bytes the parser read as latin-1."""
    try:
        return value.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return value


def _decode(data: bytes, charset: str | None) -> str:
    try:
        return data.decode(charset or "utf-8")
    except (LookupError, UnicodeDecodeError):
        return data.decode("latin-1")
