"""Requests prepared as `requests.Session.request` prepares them (the same bytes on the wire),
from what is fixed per client instead of merging the session's settings on every call, and
query strings encoded as requests encodes them without urllib's slow path for plain text."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote_plus, urlencode

import requests
from requests.cookies import RequestsCookieJar, merge_cookies
from requests.hooks import default_hooks
from requests.structures import CaseInsensitiveDict

from .proxies import EnvironmentOnce


class Preparer:
    """Prepares one client's requests: its session's headers checked once, each URL's normal
    form worked out once, netrc credentials settled per origin (EnvironmentOnce)."""

    def __init__(self, session: EnvironmentOnce):
        self._session = session
        self._checked_headers: CaseInsensitiveDict[str | bytes] | None = None
        self._urls: dict[str, str] = {}

    def prepare(
        self,
        method: str,
        url: str,
        encoded: str,
        headers: Mapping[str, str] | None,
        json_body: Any,
        form: Mapping[str, Any] | None,
    ) -> requests.PreparedRequest:
        """The request `Session.request` would prepare, built from what is fixed per client (the
        session's headers checked once, the URL's normal form per path, netrc per origin) rather
        than merging the session's settings again on every call: the same bytes on the wire."""
        prepared = requests.PreparedRequest()
        prepared.method = method.upper()
        prepared.url = self._url(url, encoded)
        if headers:
            merged = self._session.headers.copy()
            for name, value in headers.items():
                if value is None:  # a None value removes a session header, as in requests
                    merged.pop(name, None)
                else:
                    merged[name] = value
            prepared.prepare_headers(merged)
        else:
            prepared.headers = self._headers().copy()
        # Redirects read and extend the request's own jar: a copy of the session's, as requests.
        if len(self._session.cookies):
            prepared.prepare_cookies(merge_cookies(RequestsCookieJar(), self._session.cookies))
        else:
            prepared._cookies = RequestsCookieJar()  # no cookies yet: no Cookie header to add
        prepared.prepare_body(form or {}, None, json_body)
        auth = self._session.netrc_auth(url)
        if auth is not None or "@" in url:  # credentials in the URL: prepare_auth reads them
            prepared.prepare_auth(auth)
        prepared.hooks = default_hooks()
        return prepared

    def _headers(self) -> CaseInsensitiveDict[str | bytes]:
        """The session's headers as requests prepares them, each checked once (a header that
        fails the check fails every request, as requests does)."""
        if self._checked_headers is None:
            checked = requests.PreparedRequest()
            checked.prepare_headers(self._session.headers)
            self._checked_headers = checked.headers
        return self._checked_headers

    def _url(self, url: str, encoded: str) -> str:
        """`url` with the query string `encoded` as requests prepares it. The URL's own normal
        form is worked out once per URL; the query string, all unreserved characters and
        %-escapes, is one requests would leave as it is."""
        base = self._urls.get(url)
        if base is None:
            checked = requests.PreparedRequest()
            checked.prepare_url(url, None)
            base = checked.url or url
            if len(self._urls) < 256:  # paths with a window's times in them would grow it
                self._urls[url] = base
        if not encoded:
            return base
        if "#" in base or "%" in url:
            # A fragment goes after the query, and a stray % re-quotes the whole URL: requests'
            # own way for these rare URLs.
            checked = requests.PreparedRequest()
            checked.prepare_url(url, encoded)
            return checked.url or url
        return f"{base}&{encoded}" if "?" in base else f"{base}?{encoded}"


def encoded_query(params: Mapping[str, Any] | list[tuple[str, Any]] | str | None) -> str:
    """Query parameters encoded as requests encodes them (an iterable value repeats its key, None
    leaves the key out, spaces become +), once per request rather than per attempt; a string is
    taken as already encoded, as requests takes it. Text that needs no escaping, most keys and
    values, skips urllib's quoting: the same bytes for a fraction of the CPU."""
    if isinstance(params, str):
        return params
    pairs = params.items() if isinstance(params, Mapping) else params or []
    encoded: list[str] = []
    for key, values in pairs:
        each = (
            [values]
            if isinstance(values, str | bytes) or not hasattr(values, "__iter__")
            else values
        )
        for value in each:
            if value is None:
                continue
            if not isinstance(key, str | bytes) or not isinstance(value, str | bytes | int | float):
                return _urlencoded(pairs)  # nested values: urllib's own rules
            encoded.append(f"{_quoted(key)}={_quoted(value)}")
    return "&".join(encoded)


# What quote_plus leaves as it is: ASCII letters and digits, and _.-~
_UNRESERVED = re.compile(r"[A-Za-z0-9_.~-]*")


# quote_plus of each ASCII character, for str.translate: UTF-8 leaves ASCII as it is.
_PLUS_QUOTED = {
    code: chr(code) if _UNRESERVED.fullmatch(chr(code)) else "+" if code == 32 else f"%{code:02X}"
    for code in range(128)
}


def _quoted(value: str | bytes | int | float) -> str:
    if isinstance(value, bytes):
        return quote_plus(value)
    text = value if isinstance(value, str) else str(value)
    if _UNRESERVED.fullmatch(text):
        return text
    return text.translate(_PLUS_QUOTED) if text.isascii() else quote_plus(text)


def _urlencoded(pairs: Any) -> str:
    """requests' own encoding (RequestEncodingMixin._encode_params), for values of other kinds."""
    flat: list[tuple[bytes, Any]] = []
    for key, values in pairs:
        each = (
            [values]
            if isinstance(values, str | bytes) or not hasattr(values, "__iter__")
            else values
        )
        flat.extend(
            (key.encode() if isinstance(key, str) else key, v.encode() if isinstance(v, str) else v)
            for v in each
            if v is not None
        )
    return urlencode(flat, doseq=True)
