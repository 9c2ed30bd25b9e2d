"""The two weeks after a deploy's simulated hours: its customers coming back, and their
customer-effort answers. Written straight into the shop's logs rather than played through the shop,
since two weeks of full traffic would make the sample data many times bigger; only the returns are
needed to judge retention.

- Returns: each customer first seen in the deploy's hours (the day before it and the release
  window) comes back on day k (k = 1..8, each the 24 hours from first seen + k days) with
  probability RETURN_DAY_1 x DECAY^(k-1), a short visit of the home page and a search. Customers
  first seen on the new release come back `Hours.returns` times as often (RETURNS_AFTER_REGRESSION
  after a release with regressions, RETURNS_WITHOUT_REMINDERS after shop-1.6.0).
  Inside the simulated hours the simulator's own returning customers come back, so visits falling
  there are not written again.
- CES: a share of the orders placed in the deploy's hours get a customer-effort answer (1-7, 7:
  very easy) a few minutes later, as survey `ces`; regressions make checkout harder."""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from .logs import ShopLog

RETURN_DAY_1 = 0.30
DECAY = 0.9  # day 7: 0.30 x 0.9^6 = 16% come back
RETURNS_AFTER_REGRESSION = 0.55  # day 7: 9%
# shop-1.6.0 stops sending the "your order has shipped" e-mail, the link that brought customers
# back: its first two hours look healthy, but half as many of its new customers return.
RETURNS_WITHOUT_REMINDERS = 0.5
# A week-on checkpoint judges the gate window's customers (0-2 h) returning within 6 days: known
# 6 d 2 h after the deploy. Two days more, so that the log reaches past the end of any day-N up
# to day 6, and the log still ends before 2026-12-05 16:00 (tests deploy there, past all data).
RETURN_DAYS = range(1, 9)
CES_SHARE = 0.5  # of orders answered
# P(answer) for 1..7: good releases mostly 5-7 (about 76%), regressed ones about 45%.
CES_GOOD = (0.02, 0.03, 0.07, 0.12, 0.26, 0.30, 0.20)
CES_REGRESSED = (0.06, 0.10, 0.17, 0.22, 0.22, 0.15, 0.08)
SEARCHES = ("mug", "wool", "kettle", "boots", "shell")


@dataclass(frozen=True)
class Hours:
    """A deploy's simulated hours and whether its release has regressions."""

    start: datetime
    deployed_at: datetime
    end: datetime
    regressed: bool  # checkout is harder after the deploy (CES)
    returns: float = 1.0  # how often the deploy's new customers come back, against before it


def _moment(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _read(log_dir: Path) -> tuple[dict[str, datetime], list[dict]]:
    """Each user's first event in the whole log, and the orders placed."""
    first: dict[str, datetime] = {}
    orders = []
    with (log_dir / "events.ndjson").open() as lines:
        for line in lines:
            record = json.loads(line)
            user = record.get("user_id")
            if user is None:
                continue
            moment = _moment(record["timestamp"])
            if user not in first or moment < first[user]:
                first[user] = moment
            if record["event"] == "purchase":
                orders.append(record)
    return first, orders


def write_week_after(log_dir: Path, hours: Hours, seed: int) -> tuple[int, int]:
    """Appends the returns and CES answers of `hours` to the logs in `log_dir`: (visits, answers)
    written."""
    rng = random.Random(seed)
    first, orders = _read(log_dir)
    cohort = sorted((u, t) for u, t in first.items() if hours.start <= t < hours.end)
    log = ShopLog(log_dir)
    visits = answers = 0
    try:
        for user, seen in cohort:
            factor = hours.returns if seen >= hours.deployed_at else 1
            for day in RETURN_DAYS:
                if rng.random() >= RETURN_DAY_1 * DECAY ** (day - 1) * factor:
                    continue
                at = seen + timedelta(days=day, seconds=rng.uniform(0, 86_400))
                if at < hours.end:  # the simulator's own returning customers are there
                    continue
                session = f"{rng.getrandbits(64):016x}"
                ids = {"user_id": user, "session_id": session}
                log.write(
                    "events",
                    _stamp(at),
                    {"event": "page_view", **ids, "properties": {"path": "/", "title": "Home"}},
                )
                query = rng.choice(SEARCHES)
                log.write(
                    "events",
                    _stamp(at + timedelta(seconds=rng.uniform(5, 60))),
                    {"event": "search", **ids, "properties": {"query": query, "results": 1}},
                )
                visits += 1
        for order in orders:
            placed = _moment(order["timestamp"])
            if not hours.start <= placed < hours.end or rng.random() >= CES_SHARE:
                continue
            weights = CES_REGRESSED if hours.regressed and placed >= hours.deployed_at else CES_GOOD
            score = rng.choices(range(1, 8), weights=weights)[0]
            log.write(
                "feedback",
                _stamp(placed + timedelta(seconds=rng.uniform(60, 300))),
                {
                    "survey": "ces",
                    "score": score,
                    "user_id": order["user_id"],
                    "session_id": order["session_id"],
                    "comment": None,
                },
            )
            answers += 1
    finally:
        log.close()
    return visits, answers
