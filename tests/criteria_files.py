"""The release the sql and http provider tests judge: its deploy, the windows around it, and its
criteria file (a day of baseline, two hours of release) with the test's providers and criteria."""

from __future__ import annotations

import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cxe_gate.measurement import TimeWindow

DEPLOY = datetime(2026, 11, 10, 14, 0, tzinfo=UTC)
WINDOWS = [
    TimeWindow("baseline", DEPLOY - timedelta(hours=24), DEPLOY),
    TimeWindow("release", DEPLOY, DEPLOY + timedelta(hours=2)),
]
NOW = DEPLOY + timedelta(hours=3)  # the gate runs an hour after the release window closed


def write_criteria(directory: Path, providers: str, criteria: str) -> Path:
    """`providers` and `criteria` are YAML blocks, indented however the test finds readable."""
    path = directory / "cxe.yml"
    path.write_text(
        f"release: {{deployed_at: '{DEPLOY.isoformat()}'}}\n"
        "windows: {baseline: 24h, release: 2h}\n"
        f"providers:\n{textwrap.indent(textwrap.dedent(providers), '  ')}"
        f"criteria:\n{textwrap.indent(textwrap.dedent(criteria), '  ')}"
    )
    return path
