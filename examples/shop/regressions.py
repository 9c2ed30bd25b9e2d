"""The regressions a release of the shop can ship with: switches that make it measurably worse."""

from __future__ import annotations

import argparse
from collections.abc import Iterable

REGRESSIONS: dict[str, str] = {
    "slow_checkout": "GET and POST /checkout take about 900 ms longer",
    "cart_errors": "POST /api/cart answers 500 for about 8% of calls",
    "broken_payment": "about 35% of valid checkout submissions are declined (no order, HTTP 200)",
}

CART_ERROR_RATE = 0.08
PAYMENT_DECLINE_RATE = 0.35
# Cards are declined now and then in any shop; the broken release adds to this.
BASE_DECLINE_RATE = 0.01


def parse_regressions(names: Iterable[str]) -> frozenset[str]:
    """Validated regression names; an unknown one is a mistake worth stopping for."""
    chosen = frozenset(names)
    unknown = sorted(chosen - REGRESSIONS.keys())
    if unknown:
        raise ValueError(
            f"unknown regression(s) {', '.join(unknown)}; known: {', '.join(REGRESSIONS)}"
        )
    return chosen


def add_regression_options(parser: argparse.ArgumentParser, who: str) -> None:
    """--regression NAME (repeatable) and --regressed (all of them), for the shop's commands."""
    parser.add_argument("--regressed", action="store_true", help=f"{who} all three regressions")
    parser.add_argument(
        "--regression",
        action="append",
        default=[],
        choices=sorted(REGRESSIONS),
        metavar="NAME",
        help=f"{who}: {', '.join(REGRESSIONS)}",
    )


def chosen_regressions(args: argparse.Namespace) -> set[str]:
    return set(REGRESSIONS) if args.regressed else set(args.regression)
