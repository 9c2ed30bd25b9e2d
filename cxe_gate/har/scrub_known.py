"""Values of a session already known to be secret (cookie values, credentials, tokens, any value
scrubbed by name): wherever one reappears (an analytics beacon's query string, a path, a body,
another header) it is replaced by the placeholder it got where it was first recognised."""

from __future__ import annotations

import re
from collections.abc import Callable
from urllib.parse import quote, unquote

_WEAK = frozenset({"true", "false", "null", "none", "undefined", "deleted"})
# What a token looks like in text (ids, base64, percent-encoded values): a secret of this shape is
# found among a text's tokens by one C-speed `findall` and a set lookup, however many are known.
_TOKEN = re.compile(r"[A-Za-z0-9._~+/%-]+=*")
# Kinds chased inside other text. Personal data (names, addresses, e-mails) is matched as a whole
# value only: e-mails and phones inside text are found by their patterns anyway.
SECRET_KINDS = frozenset(
    {"cookie", "authorization", "token", "password", "jwt", "api_key", "card", "field", "captured"}
)


def _worth_matching(value: str, *, secret: bool) -> bool:
    """Short values and plain words (`en-US`, `1`, `deleted`, a `standard-uk` preference cookie)
    reappear by chance: replacing them everywhere would scrub harmless text. A secret worth
    chasing is long and has a digit or is very long; personal data is at least not one word."""
    if len(value) < 8 or value.lower() in _WEAK:
        return False
    if secret:
        return len(value) >= 16 or any(c.isdigit() for c in value)
    return not (value.isalpha() and value.islower() and len(value) < 16)


class KnownSecrets:
    """Secret spelling → (kind, placeholder label, value) for one session. The placeholder itself
    is made by the caller when a value is met, so a value learned but never met costs no name."""

    def __init__(self) -> None:
        self._values: dict[str, tuple[str, str, str]] = {}  # every spelling: whole-value matches
        self._tokens: set[str] = set()  # token-shaped secret spellings, chased inside text
        self._others: list[str] = []  # other secret spellings (a space, a comma): few, by `in`

    def __len__(self) -> int:
        return len(self._values)

    def clear(self) -> None:
        self._values.clear()
        self._tokens.clear()
        self._others.clear()

    def learn(self, kind: str, label: str, value: str) -> None:
        """Remember a secret value; its URL-encoded and decoded spellings are matched too."""
        secret = kind in SECRET_KINDS
        if value in self._values or not _worth_matching(value, secret=secret):
            return
        for spelling in {value, unquote(value), quote(value, safe="")}:
            if spelling in self._values or not _worth_matching(spelling, secret=secret):
                continue
            self._values[spelling] = (kind, label, value)
            if not secret:
                continue
            if _TOKEN.fullmatch(spelling):
                self._tokens.add(spelling)
            else:
                self._others.append(spelling)

    def get(self, value: str) -> tuple[str, str, str] | None:
        """The (kind, label, value) a whole value is known under, if it is a known secret."""
        return self._values.get(value)

    def replace(self, text: str, token: Callable[[str, str], str]) -> tuple[str, list[str]]:
        """The text with every known secret in it replaced by `token(label, value)`, and the
        placeholders used. A token-shaped secret is replaced where it is a whole token of the
        text (`1714557600` is not the start of `1714557600123`)."""
        used: list[str] = []
        if len(text) < 8 or not (self._tokens or self._others):
            return text, used
        if self._tokens and not self._tokens.isdisjoint(_TOKEN.findall(text)):

            def swap(match: re.Match[str]) -> str:
                found = match.group()
                if found not in self._tokens:
                    return found
                used.append(token(*self._values[found][1:]))
                return used[-1]

            text = _TOKEN.sub(swap, text)
        for spelling in self._others:
            if spelling in text:
                used.append(token(*self._values[spelling][1:]))
                text = text.replace(spelling, used[-1])
        return text, used

    def replace_inside(self, text: str, token: Callable[[str, str], str]) -> tuple[str, list[str]]:
        """`replace` for a short text a person named (an uploaded file's name): every known value
        inside it, personal data too, in any case and with its words joined by `_`, `-` or `.`
        (`ada_lovelace_cv.pdf`); the longest first. Few texts are, so the cost is no matter."""
        used: list[str] = []
        for _, label, value in sorted(set(self._values.values()), key=lambda v: -len(v[2])):
            words = value.split()
            pattern = re.compile(r"[\s_.-]+".join(map(re.escape, words)), re.IGNORECASE)
            if words and pattern.search(text):
                used.append(token(label, value))
                text = pattern.sub(lambda _: used[-1], text)
        return text, used
