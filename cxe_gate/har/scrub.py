"""Scrubbing secrets and personal data out of entries before anything is kept.

By structure (header, cookie, query parameter, form field and JSON key names) and by pattern (JWTs,
API keys, e-mail addresses, Luhn-valid card numbers, phone numbers), every value found is replaced
by a stable named placeholder, `${CXE_SECRET_<NAME>_<N>}`: the same value gets the same placeholder
for the whole run, so a seeded test can read it from an environment variable. Findings record the
kind and the place, never the value."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

from .model import Entry, Pairs

PLACEHOLDER = re.compile(r"\$\{CXE_SECRET_[A-Z0-9_]+\}")

# Field names → kind; names are compared lower case with `-`, `_` and `.` removed.
_FIELD_KINDS = (
    ("password", re.compile(r"pass(word|wd|phrase)?|pwd|pin")),
    ("card", re.compile(r".*(card|ccnum|creditcard|cardnumber).*|cc|pan|cvv\d?|cvc\d?|csc")),
    ("email", re.compile(r".*e?mail.*")),
    ("phone", re.compile(r".*(phone|mobile|msisdn).*|tel")),
    # Personal data by field name: people's names and where they live.
    ("name", re.compile(r"(full|first|last|given|family|middle|sur|user|display|customer)?name")),
    ("address", re.compile(r".*(address|street|postcode|postalcode|zipcode).*|zip|city")),
    (
        "token",
        re.compile(
            r".*(token|secret|apikey|accesskey|auth(?!or)|session|csrf|xsrf|signature|credential|"
            r"bearer|otp).*|sid|sig|key|code"
        ),
    ),
)
_HEADER_KINDS = {
    "authorization": "authorization",
    "proxy-authorization": "authorization",
    "cookie": "cookie",
    "set-cookie": "cookie",
}
_URL_HEADERS = frozenset({"referer", "location", "origin", "content-location", ":path"})
_SAFE_HEADERS = frozenset(
    {"accept", "accept-encoding", "accept-language", "content-type", "content-length", "host",
     "connection", "cache-control", "pragma", "user-agent", "sec-fetch-site", "sec-fetch-mode",
     "sec-fetch-dest", "sec-fetch-user", "sec-ch-ua", "sec-ch-ua-mobile", "sec-ch-ua-platform",
     "upgrade-insecure-requests", "date", "server", "vary", "etag", "last-modified", "expires",
     "keep-alive", "transfer-encoding", "content-encoding", ":method", ":scheme", ":authority"}
)  # fmt: skip


def luhn_ok(digits: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(digits)):
        d = int(char)
        if position % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _card(match: str) -> bool:
    digits = re.sub(r"[ -]", "", match)
    return 13 <= len(digits) <= 19 and luhn_ok(digits)


def _phone(match: str) -> bool:
    digits = re.sub(r"\D", "", match)
    if not 9 <= len(digits) <= 15:
        return False
    if not (match.startswith("+") or re.search(r"[ ().-]", match)):
        return False  # bare digit runs are ids and timestamps far more often than phones
    if re.search(r"\d{4}-\d{2}-\d{2}|\d{1,2}:\d{2}", match) or re.fullmatch(r"[\d.]+", match):
        return False  # dates, times, version numbers and IP addresses
    return not (13 <= len(digits) <= 19 and luhn_ok(digits))


# Patterns in the order they are tried: the most specific first.
_PATTERNS: tuple[tuple[str, re.Pattern[str], Any], ...] = (
    ("jwt", re.compile(r"\beyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*"), None),
    (
        "api_key",
        re.compile(
            r"\b(?:sk|pk|rk)_(?:live|test)_[A-Za-z0-9]{8,}|\bgh[pousr]_[A-Za-z0-9]{20,}"
            r"|\bgithub_pat_\w{20,}|\bxox[abprs]-[A-Za-z0-9-]{10,}|\bAKIA[0-9A-Z]{16}\b"
            r"|\bAIza[0-9A-Za-z_-]{35}|\bglpat-[A-Za-z0-9_-]{20,}"
            r"|(?i:\bbearer\s+)[A-Za-z0-9._~+/=-]{8,}"
        ),
        None,
    ),
    (
        "email",
        re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"),
        None,
    ),
    ("card", re.compile(r"(?<![\d.])(?:\d[ -]?){12,18}\d(?![\d.])"), _card),
    ("phone", re.compile(r"(?<![\w+])\+?\(?\d[\d ().-]{7,}\d(?!\w)"), _phone),
)


@dataclass(frozen=True)
class ScrubRules:
    """keep: names (header, cookie, parameter, field, JSON key) never scrubbed by name or pattern.
    fields: extra names to scrub, name → kind. patterns: extra value patterns, kind → regex."""

    keep: frozenset[str] = frozenset()
    fields: Mapping[str, str] = field(default_factory=dict)
    patterns: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Finding:
    kind: str  # password, card, email, phone, token, jwt, api_key, authorization, cookie, ...
    where: str  # e.g. request.header.authorization, request.form.email, request.json.user.pw
    placeholder: str


def _norm(name: str) -> str:
    return re.sub(r"[-_.\s]", "", name.lower())


class Scrubber:
    """Holds the placeholder numbering of a run (by a hash of each value, not the value)."""

    def __init__(self, rules: ScrubRules | None = None):
        self.rules = rules or ScrubRules()
        self._keep = {_norm(n) for n in self.rules.keep}
        self._fields = {_norm(n): kind for n, kind in self.rules.fields.items()}
        self._patterns = (
            tuple((kind, re.compile(rx), None) for kind, rx in self.rules.patterns.items())
            + _PATTERNS
        )
        self._numbers: dict[tuple[str, bytes], str] = {}
        self._counts: dict[str, int] = {}

    # --- placeholders ----------------------------------------------------------------------

    def placeholder(self, label: str, value: str) -> str:
        label = re.sub(r"[^A-Z0-9]+", "_", label.upper()).strip("_") or "VALUE"
        key = (label, hashlib.sha256(value.encode("utf-8", "surrogatepass")).digest())
        found = self._numbers.get(key)
        if found is None:
            found = self._numbers[key] = self.new_placeholder(label, value)
        return found

    def new_placeholder(self, label: str, value: str) -> str:
        """The placeholder of a value met for the first time: numbered in the order met."""
        self._counts[label] = self._counts.get(label, 0) + 1
        return f"${{CXE_SECRET_{label}_{self._counts[label]}}}"

    def field_kind(self, name: str) -> str | None:
        norm = _norm(name)
        if norm in self._keep:
            return None
        if norm in self._fields:
            return self._fields[norm]
        for kind, pattern in _FIELD_KINDS:
            if pattern.fullmatch(norm):
                return kind
        return None

    # --- values ----------------------------------------------------------------------------

    def text(self, value: str, where: str, found: list[Finding]) -> str:
        """Patterns over free text: each match replaced, the rest left alone."""
        for kind, pattern, check in self._patterns:

            def swap(match: re.Match[str], kind: str = kind, check: Any = check) -> str:
                if check is not None and not check(match.group()):
                    return match.group()
                token = self.placeholder(kind, match.group())
                found.append(Finding(kind, where, token))
                return token

            value = pattern.sub(swap, value)
        return value

    def named(self, name: str, value: str, where: str, found: list[Finding]) -> str:
        """A value with a name (header, cookie, parameter, field): by name, else by pattern."""
        if not value or PLACEHOLDER.fullmatch(value) or _norm(name) in self._keep:
            return value
        kind = self.field_kind(name)
        if kind is not None:
            token = self.placeholder(name, value)
            found.append(Finding(kind, where, token))
            return token
        return self.text(value, where, found)

    def url(self, url: str, where: str, found: list[Finding]) -> str:
        parts = urlsplit(url)
        path = "/".join(
            self.text(seg, f"{where}.path", found) if seg else seg for seg in parts.path.split("/")
        )
        query = self.query(parts.query, f"{where}.query", found)
        return urlunsplit((parts.scheme, parts.netloc, path, query, ""))  # fragments dropped

    def query(self, query: str, where: str, found: list[Finding]) -> str:
        if not query:
            return query
        pairs = parse_qsl(query, keep_blank_values=True)
        scrubbed = [(k, self.named(k, v, f"{where}.{k}", found)) for k, v in pairs]
        return urlencode(scrubbed, safe="${}", quote_via=quote)

    def json_value(self, value: Any, where: str, found: list[Finding], key: str = "") -> Any:
        if isinstance(value, dict):
            return {k: self.json_value(v, f"{where}.{k}", found, k) for k, v in value.items()}
        if isinstance(value, list):
            return [self.json_value(v, f"{where}[]", found, key) for v in value]
        if isinstance(value, str):
            return self.named(key, value, where, found) if key else self.text(value, where, found)
        if isinstance(value, int | float) and not isinstance(value, bool) and key:
            kind = self.field_kind(key)
            if kind is not None and _norm(key) not in self._keep:  # a card or pin sent as number
                token = self.placeholder(key, str(value))
                found.append(Finding(kind, where, token))
                return token
        return value

    def cookie_header(self, value: str, where: str, found: list[Finding]) -> str:
        parts = []
        for part in value.split(";"):
            name, sep, cookie = part.strip().partition("=")
            if sep and _norm(name) not in self._keep and cookie:
                token = self.placeholder(f"cookie_{name}", cookie)
                found.append(Finding("cookie", f"{where}.{name}", token))
                cookie = token
            parts.append(f"{name}{sep}{cookie}")
        return "; ".join(parts)

    def set_cookie(self, value: str, where: str, found: list[Finding]) -> str:
        # One cookie per header line; its attributes (Path, HttpOnly, ...) carry no secret.
        first, sep, attributes = value.partition(";")
        return self.cookie_header(first, where, found) + sep + attributes

    def header(self, name: str, value: str, side: str, found: list[Finding]) -> str:
        lower = name.lower()
        where = f"{side}.header.{lower}"
        kind = _HEADER_KINDS.get(lower)
        if _norm(name) in self._keep or not value:
            return value
        if lower == "cookie":
            return self.cookie_header(value, where, found)
        if lower == "set-cookie":
            return "\n".join(self.set_cookie(v, where, found) for v in value.split("\n"))
        if kind is not None:
            token = self.placeholder(name, value)
            found.append(Finding(kind, where, token))
            return token
        if lower in _URL_HEADERS:
            return self.url(value, where, found)
        if lower in _SAFE_HEADERS:
            return value
        return self.named(name, value, where, found)

    def headers(self, headers: Pairs, side: str, found: list[Finding]) -> Pairs:
        return tuple((name, self.header(name, value, side, found)) for name, value in headers)

    def cookie(self, name: str, value: str, side: str, found: list[Finding]) -> str:
        if not value or _norm(name) in self._keep or PLACEHOLDER.fullmatch(value):
            return value
        token = self.placeholder(f"cookie_{name}", value)
        found.append(Finding("cookie", f"{side}.cookie.{name}", token))
        return token

    def cookies(self, cookies: Pairs, side: str, found: list[Finding]) -> Pairs:
        return tuple((name, self.cookie(name, value, side, found)) for name, value in cookies)

    def body(self, mime: str | None, text: str, found: list[Finding]) -> str:
        mime = (mime or "").lower()
        if "x-www-form-urlencoded" in mime:
            return self.query(text, "request.form", found)
        stripped = text.lstrip()
        if "json" in mime or stripped.startswith(("{", "[")):
            try:
                data = json.loads(text)
            except ValueError:
                pass
            else:
                scrubbed = self.json_value(data, "request.json", found)
                return json.dumps(scrubbed, ensure_ascii=False, separators=(",", ":"))
        return self.text(text, "request.body", found)

    # --- entries ---------------------------------------------------------------------------

    def scrub(self, entry: Entry) -> tuple[Entry, list[Finding]]:
        found: list[Finding] = []
        params = None
        if entry.post_params is not None:
            params = tuple(
                (k, self.named(k, v, f"request.form.{k}", found)) for k, v in entry.post_params
            )
        text = entry.post_text
        if text:
            text = self.body(entry.post_mime, text, found)
        scrubbed = replace(
            entry,
            url=self.url(entry.url, "request.url", found),
            request_headers=self.headers(entry.request_headers, "request", found),
            response_headers=self.headers(entry.response_headers, "response", found),
            request_cookies=self.cookies(entry.request_cookies, "request", found),
            response_cookies=self.cookies(entry.response_cookies, "response", found),
            post_text=text,
            post_params=params,
        )
        return scrubbed, found
