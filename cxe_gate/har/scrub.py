"""Scrubbing secrets and personal data out of entries before anything is kept.

By evidence (`scrub_evidence`): a field's name checked against its value, the value's own format
(JWTs, API keys, e-mail addresses, grouped card numbers, phone numbers, street addresses) and its
context (a bare Luhn-valid number is a card only in a payment form; a place name only next to
address fields; several words only in a form post). Every value found is replaced by a stable
named placeholder, `${CXE_SECRET_<NAME>_<N>}`, the same for the whole run, so a seeded test can
read it from an environment variable; a value known to be secret (a cookie, a credential, any
scrubbed value) is replaced wherever else in its session it reappears (`scrub_known`). A value the
server issued (a hidden input, a meta tag, a JSON answer, a header, a Location) that the client
sends back later is a captured value (`${CXE_SECRET_CAPTURED_<FIELD>_<N>}`): a seeded test takes
the live one from the page, so the recorded one is never kept. Findings record the kind and the
place, never the value."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, NamedTuple
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

from . import bounded_json
from .correlate import sent_values
from .facts import produced_by
from .model import Entry, Pairs, Produced
from .scrub_evidence import (
    ADDRESS_FIELD,
    BARE_DIGITS,
    MAYBE_SECRET,
    NOT_CARD_FIELD,
    OPAQUE_SEGMENT,
    PATTERNS,
    PLACE_NAME,
    SECRET_PATH_WORD,
    STREET_ADDRESS,
    WORDS_NOT_TEXT,
    bare_card,
    field_kind,
    is_about,
    is_free_text,
    issued_secret,
    luhn_ok,
    norm,
)
from .scrub_known import KnownSecrets

__all__ = ["PLACEHOLDER", "Finding", "ScrubRules", "Scrubber", "luhn_ok"]

PLACEHOLDER = re.compile(r"\$\{CXE_SECRET_[A-Z0-9_]+\}")

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
_BRACKETED = re.compile(r"\[([^\[\]]*)\]")
_CARD_WORDS = re.compile(r"(?i)card|cvv|cvc|expir|payment|\bpan\b")


@dataclass(frozen=True)
class ScrubRules:
    """keep: names (header, cookie, parameter, field, JSON key) never scrubbed by name or pattern.
    fields: extra names always scrubbed (`--scrub-field`), name → kind. patterns: extra value
    patterns, kind → regex."""

    keep: frozenset[str] = frozenset()
    fields: Mapping[str, str] = field(default_factory=dict)
    patterns: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Finding:
    kind: str  # password, card, email, phone, token, jwt, api_key, authorization, cookie, ...
    where: str  # e.g. request.header.authorization, request.form.email, request.json.user.pw
    placeholder: str


class _Context(NamedTuple):
    """What a value's neighbours say: a payment form (a bare Luhn-valid number is a card), an
    address (a place name is part of it), a form post (several words are a person's text)."""

    payment: bool = False
    address: bool = False
    form: bool = False


_PLAIN = _Context()


def _cookie_pairs(header: str, value: str) -> list[tuple[str, str]]:
    """The name=value pairs of a Cookie header, or of a Set-Cookie header's lines (one each)."""
    lines = value.split("\n")
    parts = value.split(";") if header == "cookie" else [line.partition(";")[0] for line in lines]
    pairs = []
    for part in parts:
        name, sep, cookie = part.strip().partition("=")
        if sep:
            pairs.append((name, cookie))
    return pairs


def _inner(name: str) -> str:
    """`billing_details[name]`, `user[email]`: the innermost bracketed name that is not an index,
    normalised ("" if there is none)."""
    if not name.endswith("]"):
        return ""
    return next((norm(p) for p in reversed(_BRACKETED.findall(name)) if not p.isdigit()), "")


class Scrubber:
    """Holds the placeholder numbering of a run (by a hash of each value, not the value) and the
    secrets known in the session being scrubbed (forgotten when the next file's entries come)."""

    def __init__(self, rules: ScrubRules | None = None):
        self.rules = rules or ScrubRules()
        self._keep = {norm(n) for n in self.rules.keep}
        self._fields = {norm(n): kind for n, kind in self.rules.fields.items()}
        self._custom: tuple[tuple[str, re.Pattern[str], None], ...] = tuple(
            (kind, re.compile(rx), None) for kind, rx in self.rules.patterns.items()
        )
        self._numbers: dict[tuple[str, bytes], str] = {}
        self._counts: dict[str, int] = {}
        self._known = KnownSecrets()
        # Values this session's server handed out, and values its client sent first: only the
        # first kind, sent back later, is a captured value.
        self._issued: set[str] = set()
        self._sent: set[str] = set()
        self._file: str | None = None

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

    def _secret(self, kind: str, label: str, value: str, where: str, found: list[Finding]) -> str:
        """The placeholder of a value found secret; the value is then chased through the session."""
        token = self.placeholder(label, value)
        found.append(Finding(kind, where, token))
        self._known.learn(kind, label, value)
        return token

    def field_kind(self, name: str, value: str = "x") -> str | None:
        """The kind a field of this name holding this value is scrubbed as, if any."""
        normed = norm(name)
        if normed in self._keep:
            return None
        if normed in self._fields:
            return self._fields[normed]
        inner = _inner(name)
        if inner and (inner in self._keep or WORDS_NOT_TEXT.fullmatch(inner)):
            return None  # `checkout[shipping_address][country]` is a country, not an address
        kind = field_kind(normed, value)
        if kind is None and inner:
            kind = self._fields.get(inner) or field_kind(inner, value)
        return kind

    # --- the session -----------------------------------------------------------------------

    def learn(self, entries: Iterable[Entry]) -> None:
        """Learn a session's secrets (cookies, credentials, secret fields, values its server
        issued and its client sent back) before scrubbing it, so that one reappearing before the
        request that names it is scrubbed too. Entries still carry their facts' values."""
        entries = list(entries)
        for entry in entries:
            self._enter(entry.file)
            self._learn_entry(entry)
            for name, value in parse_qsl(urlsplit(entry.url).query, keep_blank_values=True):
                self._learn_named(name, value)
            for name, value in entry.post_params or ():
                self._learn_named(name, value)
        self._learn_issued(entries)

    def _learn_issued(self, entries: Sequence[Entry]) -> None:
        """In the order things happened (as correlation orders them): each request's values
        against what the server had issued before it, then what its response issues."""
        files = {name: rank for rank, name in enumerate(dict.fromkeys(e.file for e in entries))}
        for entry in sorted(entries, key=lambda e: (files[e.file], e.started, e.index)):
            self._enter(entry.file)
            for target, at, value in sent_values(entry):
                # A path segment is a route's id: routes template it and a link captures it.
                if target != "path" and at:
                    self._sent_back(str(at[-1]), value)
            if entry.facts is not None:
                self.issue(entry.facts.produced)

    def issue(self, produced: Iterable[Produced]) -> None:
        """Values a response handed to the client. One the client had sent before is its own
        (a search term echoed in a hidden input), not the server's."""
        for item in produced:
            if item.value not in self._sent and issued_secret(item.value):
                self._issued.add(item.value)

    def issue_answer(self, mime: str, text: str) -> None:
        """`issue` for a response body given as text (hidden inputs, meta tags, JSON values)."""
        self.issue(produced_by(mime.lower(), text))

    def _sent_back(self, name: str, value: str) -> None:
        """A value the client sends under `name`: captured if the server issued it (and its name
        does not already make it a secret of another kind), else the client's own."""
        if not issued_secret(value):
            return
        if value not in self._issued:
            self._sent.add(value)
        elif self.field_kind(name, value) is None and norm(name) not in self._keep:
            self._known.learn("captured", f"captured_{name}", value)

    def _enter(self, file: str) -> None:
        if file != self._file:  # a new session: the last one's secrets say nothing of it
            self._known.clear()
            self._issued.clear()
            self._sent.clear()
            self._file = file

    def _learn_entry(self, entry: Entry) -> None:
        """Cookies and credentials (a query's or a form's secrets are learned by `pairs`)."""
        for side in (entry.request_cookies, entry.response_cookies):
            for name, value in side:
                if value and norm(name) not in self._keep:
                    self._known.learn("cookie", f"cookie_{name}", value)
        for name, value in (*entry.request_headers, *entry.response_headers):
            lower = name.lower()
            if not value or norm(name) in self._keep:
                continue
            if lower in ("cookie", "set-cookie"):
                for cookie, cookie_value in _cookie_pairs(lower, value):
                    if cookie_value and norm(cookie) not in self._keep:
                        self._known.learn("cookie", f"cookie_{cookie}", cookie_value)
            elif lower in _HEADER_KINDS:
                self._learn_credential(name, value)

    def _learn_credential(self, name: str, value: str) -> None:
        self._known.learn("authorization", name, value)
        scheme, space, credential = value.partition(" ")
        if space and scheme.isalpha():  # `Bearer <token>`: the token may travel alone
            self._known.learn("authorization", f"{name}_credential", credential)

    def _learn_named(self, name: str, value: str) -> None:
        kind = self.field_kind(name, value) if value else None
        if kind is not None:
            self._known.learn(kind, name, value)

    def _context(self, items: Iterable[tuple[str, Any]], *, form: bool) -> _Context:
        """What a form's or an object's fields say of each other: a payment form has a field
        that is a card's by name and value (`cvc=123`, not `cc=USD`); an address has a field
        named for one."""
        payment = address = False
        for name, value in items:
            normed = norm(name)
            if is_about(normed):
                continue
            if isinstance(value, str | int | float) and not isinstance(value, bool):
                payment = payment or self.field_kind(name, str(value)) == "card"
            address = address or ADDRESS_FIELD.fullmatch(normed) is not None
        return _Context(payment=payment, address=address, form=form)

    # --- values ----------------------------------------------------------------------------

    def text(self, value: str, where: str, found: list[Finding], *, payment: bool = False) -> str:
        """Known secrets and patterns over free text: each match replaced, the rest left alone.
        `payment`: the text sits in a payment form, where a bare Luhn-valid number is a card."""
        value, used = self._known.replace(value, self.placeholder)
        found.extend(Finding("reappearing", where, token) for token in used)
        for kind, pattern, check in self._custom:
            if pattern.search(value):
                value = pattern.sub(self._swapper(kind, check, where, found), value)
        if not MAYBE_SECRET.search(value):  # most values: no digit, no `@`, no JWT, no scheme
            return value
        for kind, pattern, check in PATTERNS:
            if pattern.search(value):
                value = pattern.sub(self._swapper(kind, check, where, found), value)
        if STREET_ADDRESS.search(value):
            value = STREET_ADDRESS.sub(self._swapper("address", None, where, found), value)
        if payment and BARE_DIGITS.search(value):
            value = BARE_DIGITS.sub(self._swapper("card", bare_card, where, found), value)
        return value

    def _swapper(self, kind: str, check: Any, where: str, found: list[Finding]) -> Any:
        def swap(match: re.Match[str]) -> str:
            if check is not None and not check(match.group()):
                return match.group()
            return self._secret(kind, kind, match.group(), where, found)

        return swap

    def named(
        self,
        name: str,
        value: str,
        where: str,
        found: list[Finding],
        context: _Context = _PLAIN,
    ) -> str:
        """A value with a name (header, cookie, parameter, field): by its name and what it is,
        else by pattern; `context` says what its neighbours are."""
        if not value or PLACEHOLDER.fullmatch(value):
            return value
        normed = norm(name)
        if normed in self._keep:
            return value
        known = self._known.get(value)
        if known is not None:  # a secret met elsewhere keeps the placeholder it got there
            return self._secret(*known, where, found)
        kind = self.field_kind(name, value)
        if kind is not None:
            return self._secret(kind, name, value, where, found)
        if not WORDS_NOT_TEXT.fullmatch(normed) and not WORDS_NOT_TEXT.fullmatch(_inner(name)):
            if context.address and PLACE_NAME.fullmatch(value):
                return self._secret("address", name, value, where, found)
            if context.form and is_free_text(value):
                return self._secret("text", name, value, where, found)
        payment = context.payment and not NOT_CARD_FIELD.fullmatch(normed)
        return self.text(value, where, found, payment=payment)

    def url(self, url: str, where: str, found: list[Finding]) -> str:
        parts = urlsplit(url)
        path = "/".join(self._path(parts.path.split("/"), f"{where}.path", found))
        query = self.query(parts.query, f"{where}.query", found)
        return urlunsplit((parts.scheme, parts.netloc, path, query, ""))  # fragments dropped

    def _path(self, segments: list[str], where: str, found: list[Finding]) -> list[str]:
        """Path segments: a one-time token after a word like `reset` (by position), then known
        secrets and patterns; bare numbers here are ids, never cards."""
        scrubbed, after_word = [], False
        for segment in segments:
            if after_word and OPAQUE_SEGMENT.fullmatch(segment):
                scrubbed.append(self._secret("token", "path_token", segment, where, found))
            elif segment:
                after_word = after_word or SECRET_PATH_WORD.fullmatch(segment) is not None
                scrubbed.append(self.text(segment, where, found))
            else:
                scrubbed.append(segment)
        return scrubbed

    def query(self, query: str, where: str, found: list[Finding], *, form: bool = False) -> str:
        if not query:
            return query
        pairs = parse_qsl(query, keep_blank_values=True)
        return urlencode(self.pairs(pairs, where, found, form=form), safe="${}", quote_via=quote)

    def pairs(
        self, pairs: Iterable[tuple[str, str]], where: str, found: list[Finding], *, form: bool
    ) -> list[tuple[str, str]]:
        """Named values side by side (a query string, a form): each scrubbed in their context."""
        pairs = list(pairs)
        context = self._context(pairs, form=form)
        for name, value in pairs:  # so a secret named later in the form is known earlier too
            self._learn_named(name, value)
            self._sent_back(name, value)
        return [(k, self.named(k, v, f"{where}.{k}", found, context)) for k, v in pairs]

    def json_value(self, value: Any, where: str, found: list[Finding], key: str = "") -> Any:
        """A parsed JSON body (nested at most `bounded_json.MAX_DEPTH` deep: `body` checks)."""
        return self._json(value, where, found, key, _PLAIN)

    def _json(self, value: Any, where: str, found: list[Finding], key: str, ctx: _Context) -> Any:
        if isinstance(value, dict):
            inner = self._context(value.items(), form=False)
            return {k: self._json(v, f"{where}.{k}", found, k, inner) for k, v in value.items()}
        if isinstance(value, list):
            return [self._json(v, f"{where}[]", found, key, ctx) for v in value]
        if isinstance(value, str):
            if key:
                self._sent_back(key, value)  # a request body's (responses are never scrubbed)
                return self.named(key, value, where, found, ctx)
            return self.text(value, where, found, payment=ctx.payment)
        if isinstance(value, int | float) and not isinstance(value, bool) and key:
            text = str(value)
            kind = self.field_kind(key, text)
            if (
                kind is None
                and ctx.payment
                and bare_card(text)
                and not NOT_CARD_FIELD.fullmatch(norm(key))
            ):
                kind = "card"
            if kind is not None:  # a card or a pin sent as a number
                return self._secret(kind, key, text, where, found)
        return value

    def cookie_header(self, value: str, where: str, found: list[Finding]) -> str:
        parts = []
        for part in value.split(";"):
            name, sep, cookie = part.strip().partition("=")
            if (
                sep
                and norm(name) not in self._keep
                and cookie
                and not PLACEHOLDER.fullmatch(cookie)
            ):
                cookie = self._secret("cookie", f"cookie_{name}", cookie, f"{where}.{name}", found)
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
        if norm(name) in self._keep or not value:
            return value
        if lower == "cookie":
            return self.cookie_header(value, where, found)
        if lower == "set-cookie":
            return "\n".join(self.set_cookie(v, where, found) for v in value.split("\n"))
        if kind is not None:
            self._learn_credential(name, value)
            return self._secret(kind, name, value, where, found)
        if lower in _URL_HEADERS:
            return self.url(value, where, found)
        if lower in _SAFE_HEADERS:
            return value
        if side == "request":  # a response's own header hands a value out, never sends it back
            self._sent_back(lower, value)
        return self.named(name, value, where, found)

    def headers(self, headers: Pairs, side: str, found: list[Finding]) -> Pairs:
        return tuple((name, self.header(name, value, side, found)) for name, value in headers)

    def cookie(self, name: str, value: str, side: str, found: list[Finding]) -> str:
        if not value or norm(name) in self._keep or PLACEHOLDER.fullmatch(value):
            return value
        return self._secret("cookie", f"cookie_{name}", value, f"{side}.cookie.{name}", found)

    def cookies(self, cookies: Pairs, side: str, found: list[Finding]) -> Pairs:
        return tuple((name, self.cookie(name, value, side, found)) for name, value in cookies)

    def body(self, mime: str | None, text: str, found: list[Finding]) -> str:
        mime = (mime or "").lower()
        if "x-www-form-urlencoded" in mime:
            return self.query(text, "request.form", found, form=True)
        stripped = text.lstrip()
        if "json" in mime or stripped.startswith(("{", "[")):
            try:
                data = bounded_json.loads(text)
            except ValueError:
                pass
            else:
                if data is bounded_json.TOO_DEEP:
                    # Too deep to walk safely: the whole body is one value the test must be given.
                    return self._secret("too_deep", "deep_json_body", text, "request.json", found)
                scrubbed = self.json_value(data, "request.json", found)
                return json.dumps(scrubbed, ensure_ascii=False, separators=(",", ":"))
        return self.text(text, "request.body", found, payment=_CARD_WORDS.search(text) is not None)

    # --- entries ---------------------------------------------------------------------------

    def scrub(self, entry: Entry) -> tuple[Entry, list[Finding]]:
        self._enter(entry.file)
        self._learn_entry(entry)
        found: list[Finding] = []
        params = None
        if entry.post_params is not None:
            params = tuple(self.pairs(entry.post_params, "request.form", found, form=True))
        files = tuple(
            replace(f, file_name=self.file_name(f.field, f.file_name, found))
            for f in entry.post_files
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
            post_files=files,
        )
        return scrubbed, found

    def file_name(self, field_name: str, file_name: str, found: list[Finding]) -> str:
        """An uploaded file's name, scrubbed as a form's text value under its field's name, and
        any value known secret in the session (a person's name too) replaced inside it: a file
        name often carries the customer's name."""
        where = f"request.file.{field_name}"
        named = self.named(field_name, file_name, where, found, _Context(form=True))
        named, used = self._known.replace_inside(named, self.placeholder)
        found.extend(Finding("reappearing", where, token) for token in used)
        return named
