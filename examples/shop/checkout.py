"""The checkout form: field checks a browser can't be trusted with, and the payment's answer."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

FIELDS = ("name", "email", "address", "card_number", "expiry")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_EXPIRY = re.compile(r"^(0[1-9]|1[0-2])/(\d{2})$")


@dataclass(frozen=True)
class CheckoutForm:
    name: str
    email: str
    address: str
    card_number: str
    expiry: str


def luhn_ok(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        d = int(char)
        if index % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def validate(form: Mapping[str, str], today: date) -> tuple[CheckoutForm | None, dict[str, str]]:
    """The submitted form, or the message to show next to each field that is wrong."""
    values = {name: form.get(name, "").strip() for name in FIELDS}
    errors: dict[str, str] = {}
    for name in ("name", "address"):
        if not values[name]:
            errors[name] = "Please fill this in."
    if not _EMAIL.match(values["email"]):
        errors["email"] = "Please enter an email address."
    digits = values["card_number"].replace(" ", "").replace("-", "")
    if not (digits.isdigit() and 12 <= len(digits) <= 19 and luhn_ok(digits)):
        errors["card_number"] = "This card number doesn't look right."
    match = _EXPIRY.match(values["expiry"])
    if not match:
        errors["expiry"] = "Use MM/YY."
    elif (2000 + int(match[2]), int(match[1])) < (today.year, today.month):
        errors["expiry"] = "This card has expired."
    if errors:
        return None, errors
    return CheckoutForm(**values), {}
