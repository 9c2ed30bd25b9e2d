"""Deterministic breakages, for proving that a seeded test suite catches a regression: unlike
REGRESSIONS (a release's statistical effects on traffic), each one breaks every request it touches,
and none is shrunk by latency_scale."""

from __future__ import annotations

import argparse
from collections.abc import Iterable

BREAKAGES: dict[str, str] = {
    "product_api_500": 'GET /api/products/<id> answers 500 {"error": ...} every time',
    "product_field_removed": "GET /api/products/<id> answers 200 without its in_stock field",
    "checkout_form_broken": "the checkout form's email input is named e_mail, which the server "
    "does not read: submitting the form is refused with 422",
    "slow_checkout_page": "GET and POST /checkout take 1.5 s longer, slept for real at any "
    "latency_scale",
    "order_page_missing": "GET /orders/<id> answers 404",
}

SLOW_CHECKOUT_PAGE_SECONDS = 1.5
# What the broken checkout template calls the email input; the server still reads `email`.
BROKEN_EMAIL_FIELD = "e_mail"


def parse_breakages(names: Iterable[str]) -> frozenset[str]:
    """Validated breakage names; an unknown one is a mistake worth stopping for."""
    chosen = frozenset(names)
    unknown = sorted(chosen - BREAKAGES.keys())
    if unknown:
        raise ValueError(f"unknown breakage(s) {', '.join(unknown)}; known: {', '.join(BREAKAGES)}")
    return chosen


def add_breakage_options(parser: argparse.ArgumentParser) -> None:
    """--break NAME (repeatable), for the shop's server command."""
    parser.add_argument(
        "--break",
        dest="breakages",
        action="append",
        default=[],
        choices=sorted(BREAKAGES),
        metavar="NAME",
        help=f"break the shop deterministically (for testing test suites): {', '.join(BREAKAGES)}",
    )
