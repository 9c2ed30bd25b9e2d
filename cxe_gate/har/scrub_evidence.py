"""The evidence a value is a secret or personal data: what its field is called, checked against
what the value looks like (a field called `cc` holding `USD` is no card), and what the value is
by itself (a JWT, an e-mail address, a grouped card number, a phone number, a street address).
Patterns are compiled once; every check is a few regex calls, cheap enough for every entry."""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache

# --- field names -----------------------------------------------------------------------------
# A card's expiry date is not scrubbed: with the number and the code gone it opens nothing, and a
# seeded checkout would need one more variable for it.

Gate = Callable[[str], bool]

_FLAGS = frozenset({"", "true", "false", "on", "off", "yes", "no", "0", "1", "null", "none"})
_DIGIT = re.compile(r"\d")
_CARD_DIGITS = re.compile(r"\d(?:[ -]?\d){12,18}")


@lru_cache(maxsize=4096)  # the same few hundred names come back on every entry
def norm(name: str) -> str:
    """A field name compared lower case, without `-`, `_`, `.`, `[]` and spaces."""
    return _NORM.sub("", name.lower())


_NORM = re.compile(r"[-_.\s\[\]]")


def luhn_ok(digits: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(digits)):
        d = int(char)
        if position % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _any(value: str) -> bool:
    return True


def _not_flag(value: str) -> bool:
    return value.strip().lower() not in _FLAGS


def _has_digit(value: str) -> bool:
    return _DIGIT.search(value) is not None


def _card_like(value: str) -> bool:
    """13-19 digits (spaces or dashes allowed between them) passing the Luhn check."""
    if not _CARD_DIGITS.fullmatch(value.strip()):
        return False
    return luhn_ok(re.sub(r"[ -]", "", value))


def _opaque(value: str) -> bool:
    """A value a server made up (ids, codes, keys): long, and not one plain word."""
    return len(value) >= 12 and (_has_digit(value) or len(value) >= 16) and " " not in value


# Names that describe a value's kind, count or state, never the value itself (`email_verified`,
# `address_type`, `card_count`): no field named so is scrubbed by its name.
_ABOUT = re.compile(
    r".*(type|types|count|format|mode|enabled|verified|optin|optout|consent|status|required|"
    r"visible|label|placeholder|length|changed|valid|error|errors|hint)"
)
_ID = re.compile(r".*(id|ids|uuid|index|idx)")  # a record's id is no personal data

# (kind, name pattern over `norm(name)`, value gate, ids are data): tried in order.
FIELD_KINDS: tuple[tuple[str, re.Pattern[str], Gate, bool], ...] = (
    ("password", re.compile(r".*(password|passwd|passphrase).*|pwd|pin|pincode|pass"), _any, True),
    (
        "card",
        re.compile(
            r".*(cardnumber|cardno|cardnum|ccnumber|ccnum|creditcard|debitcard|cardcvv|cvv|"
            r"cvc|cardcode|securitycode|iban|accountnumber|routingnumber|sortcode).*|csc|cvn|card"
        ),
        _has_digit,
        False,
    ),
    ("card", re.compile(r"cc|pan|ccn"), _card_like, False),  # `cc=USD`, `pan=left` are no cards
    ("email", re.compile(r".*e?mail.*"), _not_flag, False),
    (
        "phone",
        re.compile(r".*(phone|mobile|msisdn|telephone|fax).*|tel|telno|cell"),
        _not_flag,
        False,
    ),
    (
        "name",
        re.compile(
            r".*(first|last|given|family|middle|full|sur|maiden|nick|display|user|customer|"
            r"contact|holder|recipient|billing|shipping|person|guest|member|owner|patient)name|name|fname|lname|surname|"
            r"nameoncard|.*holder|login|username"
        ),
        _not_flag,
        False,
    ),
    (
        "address",
        re.compile(
            r".*(address|street|postcode|postalcode|zipcode|addressline|houseno|housenumber).*|"
            r".*(zip|postal|line[1-4])|(billing|shipping|delivery|shipto|billto|home|work)?"
            r"(addr\d?|city|town|locality|suburb|county|district|apartment|apt|suite|building|flat)"
        ),
        _not_flag,
        False,
    ),
    ("birth_date", re.compile(r".*(birth|dob|birthday).*"), _not_flag, False),
    (
        "id_number",
        re.compile(
            r"ssn|sin|socialsecurity.*|taxid|tin|vatnumber|vatno|nationalid.*|passport.*|"
            r"driverslicen[cs]e.*|licen[cs]enumber"
        ),
        _has_digit,
        False,
    ),
    (
        "text",
        re.compile(
            r"(delivery|special|shipping|order|gift)?(notes?|comments?|message|msg|remarks?|"
            r"instructions?|feedback|bio|about|giftmessage|review|reviewtext|body)"
        ),
        _not_flag,
        False,
    ),
    (
        "token",
        re.compile(
            r".*(token|secret|apikey|accesskey|privatekey|authori[sz]ation|oauth|auth(?!or)|"
            r"session|csrf|xsrf|signature|credential|bearer|otp|nonce|jwt|saml|refresh).*|sid"
        ),
        _not_flag,
        True,
    ),
    # Words that name a key or a code as often as a harmless value: only an opaque value counts.
    (
        "token",
        re.compile(
            r"(?!.*(promo|coupon|discount|voucher|gift|currency|country|lang|locale|product|"
            r"sku|item|colou?r|size|status|error|response|http|post|area|dial|zip|key(board|word)))"
            r".*(key|code|challenge|verifier)|state|sig|hash|ticket|"
            # Pseudonymous ids of a person or a device (analytics client and visitor ids).
            r"cid|clientid|mid|fid|ecid|visitorid|deviceid|anonymousid|fingerprint|advertisingid"
        ),
        _opaque,
        True,
    ),
)


@lru_cache(maxsize=4096)
def is_about(normed: str) -> bool:
    """A name that describes a value (`card_type`, `address_id`) rather than holding one."""
    return _ABOUT.fullmatch(normed) is not None or _ID.fullmatch(normed) is not None


def field_kind(normed: str, value: str) -> str | None:
    """The kind of secret a field with this (normalised) name holding this value is, if any."""
    rule = _name_rule(normed)
    if rule is None:
        return None
    kind, gate = rule
    return kind if gate(value) else None


@lru_cache(maxsize=4096)
def _name_rule(normed: str) -> tuple[str, Gate] | None:
    """The kind a name says and the check its value must pass (names repeat: cached)."""
    about = _ABOUT.fullmatch(normed) is not None
    is_id = _ID.fullmatch(normed) is not None
    for kind, pattern, gate, ids_too in FIELD_KINDS:
        if pattern.fullmatch(normed):
            if kind != "password" and (about or (is_id and not ids_too)):
                return None
            return kind, gate
    return None


def issued_secret(value: str) -> bool:
    """Could a value the server issued be a session's own (a sequence id, a view state, a cart's
    UUID)? Opaque, and not a bare number: a number sent back is an id of the app's catalogue
    (`product_id=48213977`), which its routes and links already stand for."""
    return _opaque(value) and not value.isdigit()


# Names of fields next to which a place name is part of an address.
ADDRESS_FIELD = re.compile(r".*(address|street|postcode|postalcode|zip|line[1-4]).*")
# Fields whose words are a query, a choice or a button, not a person's free text.
WORDS_NOT_TEXT = re.compile(
    r"q|query|search.*|s|term|terms|keywords?|k|filter.*|sort.*|submit|action|commit|button|op|"
    r"title|subject|operationname|country|countrycode|state|region|currency|language|lang|locale|"
    r".*(method|option|choice|select|variant|url|uri)|category|tags?|next|redirect.*|return.*|"
    r"csrfmiddlewaretoken|.*(company|organi[sz]ation|business|brand|store|shop)"
)

# --- values by themselves --------------------------------------------------------------------


def _card(match: str) -> bool:
    digits = re.sub(r"[ -]", "", match)
    return 13 <= len(digits) <= 19 and luhn_ok(digits)


def _phone(match: str) -> bool:
    digits = re.sub(r"\D", "", match)
    if not 9 <= len(digits) <= 15:
        return False
    if _DATE_OR_TIME.search(match) or re.fullmatch(r"[\d.]+", match):
        return False  # dates, times, version numbers and IP addresses
    return not (13 <= len(digits) <= 19 and luhn_ok(digits))


_DATE_OR_TIME = re.compile(r"\d{4}-\d{2}-\d{2}|\d{1,2}:\d{2}")
# Brand prefixes and lengths (Visa, Mastercard, Amex, Discover, JCB, Diners, UnionPay, Maestro):
# a bare digit run with none of them is an id or a timestamp, however Luhn-valid.
_CARD_BRAND = re.compile(
    r"4\d{12}(?:\d{3}){0,2}|5[1-5]\d{14}|2[2-7]\d{14}|3[47]\d{13}|6(?:011|5\d\d)\d{12,15}|"
    r"35\d{14}|3(?:0[0-5]|[68]\d)\d{11}|62\d{14,17}|(?:5[06-8]|6\d)\d{10,17}"
)


def bare_card(match: str) -> bool:
    """A Luhn-valid digit run with a card brand's prefix and length: a card only where the
    context says payment (the caller knows), else a timestamp, id or cache-buster."""
    return _CARD_BRAND.fullmatch(match) is not None and luhn_ok(match)


# (kind, pattern, check): tried in order over free text, the most specific first.
PATTERNS: tuple[tuple[str, re.Pattern[str], Callable[[str], bool] | None], ...] = (
    ("jwt", re.compile(r"\beyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*"), None),
    (
        "api_key",
        re.compile(
            r"\b(?:sk|pk|rk)_(?:live|test)_[A-Za-z0-9]{8,}|\bgh[pousr]_[A-Za-z0-9]{20,}"
            r"|\bgithub_pat_\w{20,}|\bxox[abprs]-[A-Za-z0-9-]{10,}|\bAKIA[0-9A-Z]{16}\b"
            r"|\bAIza[0-9A-Za-z_-]{35}|\bglpat-[A-Za-z0-9_-]{20,}"
            r"|(?i:\b(?:bearer|basic)\s+)[A-Za-z0-9._~+/=-]{8,}"
        ),
        None,
    ),
    (
        "email",
        re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"),
        None,
    ),
    # A card by itself: grouped in fours (or Amex's 4-6-5) by spaces or dashes, Luhn-valid.
    (
        "card",
        re.compile(
            r"(?<![\w.-])(?:\d{4}([ -])\d{4}\1\d{4}\1\d{1,7}|3[47]\d{2}([ -])\d{6}\2\d{5})(?![\w.-])"
        ),
        _card,
    ),
    # A phone: `+` and digits, an area code in brackets, or digits grouped by separators as
    # numbers are written (3-3-4, or 0 then groups); never inside a word or a host name.
    (
        "phone",
        re.compile(
            r"(?<![\w+.-])(?:\+\d[\d ().-]{7,}\d|\(\d{2,5}\) ?\d[\d .-]{4,}\d|"
            r"\d{3}([ .-])\d{3}\1\d{4}|0\d{1,4}(?: \d{2,4}){2,4})(?![\w.-])"
        ),
        _phone,
    ),
)

# What every pattern above and the street address below need one of: a value without any is
# passed over after one search.
MAYBE_SECRET = re.compile(
    r"[\d@]|eyJ|(?i:bearer|basic)\s|_(?:live|test)_|gh[pousr]_|github_pat_|xox[abprs]-|AKIA|AIza|"
    r"glpat-"
)
# A bare digit run, checked with `bare_card` where a payment form says it may be a card.
BARE_DIGITS = re.compile(r"(?<![\w.-])\d{13,19}(?![\w.-])")
# Names that say a number is not a card even in a payment form: ids, times, amounts.
NOT_CARD_FIELD = re.compile(
    r".*(id|ids|uuid|ts|time|timestamp|date|at|version|count|total|amount|price|ref|reference)|"
    # Cache-busters' names (`_` is the empty name once normalised).
    r"|t|cb|r|rnd|rand|random|nocache|cachebust|cachebuster|z|ord|v|ver"
)

# Street words: the unambiguous ones in any case, the short or common ones only capitalised.
_STREET_ANY_CASE = r"street|road|avenue|boulevard|lane|drive|terrace|crescent|highway|parkway"
_STREET_CAPITAL = (
    r"St|Rd|Ave|Ln|Dr|Blvd|Way|Court|Ct|Place|Pl|Close|Square|Sq|Hwy|Pkwy|Row|Gardens|Grove|"
    r"Hill|Mews|Walk|Plaza|Circle"
)
# A postal address: a house number then a street word (`12 Baker Street`, `5b High St`), or a
# street word then a number as much of Europe writes it (`Hauptstraße 5`, `Rue de Rivoli 10`).
STREET_ADDRESS = re.compile(
    r"\b\d{1,5}[A-Za-z]?(?:[-/]\d{1,4})?,?\s+(?:[\w'.-]+\s+){0,4}"
    rf"(?:(?i:{_STREET_ANY_CASE})|{_STREET_CAPITAL})\b"
    r"|\b(?i:rue|via|calle|avenida|rua|ulica)\s+[\w' .-]{2,40}?,?\s*\d{1,5}[a-z]?\b"
    r"|\b[\w-]{2,40}(?i:straße|strasse|str\.|weg|gasse|platz|allee|laan|gracht|vej|gatan)"
    r"\s+\d{1,5}[a-z]?\b"
)
# A place name: one to four capitalised words (`London`, `San Francisco`, `Saint-Étienne`).
PLACE_NAME = re.compile(r"[A-ZÀ-Þ][a-zß-ÿ'.]+(?:[ -](?:[A-ZÀ-Þ][a-zß-ÿ'.]+|de|la|le|upon|on)){0,3}")
# Words a person wrote: at least four words of letters.
_WORD = re.compile(r"[^\W\d_]{2,}")


def is_free_text(value: str) -> bool:
    return value.count(" ") >= 3 and len(_WORD.findall(value)) >= 4


# Path words after which an opaque segment is a one-time secret (`/password/reset/MQ/<token>/`,
# `/verify-email/<key>`, `/magic-link/<token>`), not an id the site's routes are made of.
SECRET_PATH_WORD = re.compile(
    r"(?i).*(reset|verify|verification|confirm|activate|activation|token|magic|invite|"
    r"invitation|unsubscribe|passwordless|otp|onetime).*"
)
OPAQUE_SEGMENT = re.compile(r"(?=[^/]*\d)(?=[^/]*[A-Za-z])[A-Za-z0-9_:.=-]{16,}")
