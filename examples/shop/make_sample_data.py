"""Regenerates the committed sample data in examples/shop/data: one continuous production log that
covers two deploys, exported to Parquet.

    python -m examples.shop.make_sample_data

- shop-1.4.0, a good release, deployed 2026-11-10T14:00:00Z;
- shop-1.5.0, deployed 2026-11-17T14:00:00Z with all three regressions;
- shop-1.6.0, deployed 2026-11-25T14:00:00Z with none, but fewer of its customers come back.
Each gets the 24 hours before its deploy and the 2 hours after it, with a fixed seed, then the week
after (returns.py): its customers coming back, and customer-effort answers to their orders."""

from __future__ import annotations

import argparse
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from .export import export_parquet
from .regressions import REGRESSIONS
from .returns import RETURNS_AFTER_REGRESSION, RETURNS_WITHOUT_REMINDERS, Hours, write_week_after
from .simulate import simulate

DATA = Path(__file__).parent / "data"
BASELINE = timedelta(hours=24)
RELEASE_WINDOW = timedelta(hours=2)
# About 1,000 sessions and 50 NPS answers in each release window; under 5 MB of Parquet.
SESSIONS_PER_HOUR = 300


@dataclass(frozen=True)
class Deploy:
    release: str
    deployed_at: datetime
    regressions: frozenset[str]
    seed: int
    returns: float = 1.0  # how often its new customers come back (returns.py)


DEPLOYS = (
    Deploy("shop-1.4.0", datetime(2026, 11, 10, 14, tzinfo=UTC), frozenset(), seed=140),
    Deploy(
        "shop-1.5.0",
        datetime(2026, 11, 17, 14, tzinfo=UTC),
        frozenset(REGRESSIONS),
        seed=150,
        returns=RETURNS_AFTER_REGRESSION,
    ),
    # A day after shop-1.5.0's week-on checkpoint, so that its baseline day starts after it.
    Deploy(
        "shop-1.6.0",
        datetime(2026, 11, 25, 14, tzinfo=UTC),
        frozenset(),
        seed=160,
        returns=RETURNS_WITHOUT_REMINDERS,
    ),
)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m examples.shop.make_sample_data", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--out", type=Path, default=DATA, help=f"default {DATA}")
    parser.add_argument("--sessions-per-hour", type=float, default=SESSIONS_PER_HOUR)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="shop-logs-") as logs:
        for deploy in DEPLOYS:
            summary = simulate(
                logs,
                start=deploy.deployed_at - BASELINE,
                end=deploy.deployed_at + RELEASE_WINDOW,
                sessions_per_hour=args.sessions_per_hour,
                regressions_from=deploy.deployed_at,
                regressions=deploy.regressions,
                seed=deploy.seed,
            )
            shipped = ", ".join(sorted(deploy.regressions)) or "no regressions"
            print(f"{deploy.release} ({shipped}): {summary.describe()}")
            hours = Hours(
                deploy.deployed_at - BASELINE,
                deploy.deployed_at,
                deploy.deployed_at + RELEASE_WINDOW,
                regressed=bool(deploy.regressions),
                returns=deploy.returns,
            )
            visits, answers = write_week_after(Path(logs), hours, seed=deploy.seed)
            print(f"  the weeks after: {visits:,} return visits, {answers:,} CES answers")
        for path in export_parquet(logs, args.out).values():
            print(f"wrote {path} ({path.stat().st_size:,} bytes)")


if __name__ == "__main__":
    main()
