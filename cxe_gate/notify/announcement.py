"""What a message about a verdict says, whatever the channel: the release, its verdict and score,
how many criteria ended how, the criteria that failed (worst first) and the links to follow."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass

from ..results import GateReport, Verdict
from .ci import CiRun, ci_run

# Worst first: what a reader must act on leads.
ORDER = (Verdict.ERROR, Verdict.FAIL, Verdict.WARN, Verdict.INCONCLUSIVE, Verdict.PASS)
LISTED = frozenset({Verdict.ERROR, Verdict.FAIL, Verdict.WARN})
MOST_LISTED = 10  # a channel message is a pointer to the report, not the report


@dataclass(frozen=True)
class Listed:
    name: str
    verdict: Verdict
    message: str


@dataclass(frozen=True)
class Announcement:
    release: str
    verdict: Verdict
    score: float | None
    summary: str
    dry_run: bool
    counts: dict[Verdict, int]  # criteria per verdict, worst first, only those that occur
    listed: list[Listed]  # the criteria that did not pass cleanly, worst first, at most MOST_LISTED
    unlisted: int  # those left out of `listed`
    links: dict[str, str]  # title → URL: the CI run, the commit, then the file's own links
    ci: CiRun | None

    @property
    def title(self) -> str:
        trial = " (dry run)" if self.dry_run else ""
        return f"{self.release}: {self.verdict.value.upper()}{trial}"

    @property
    def score_text(self) -> str:
        return "no score" if self.score is None else f"score {self.score:.1f}"

    @property
    def counts_text(self) -> str:
        total = sum(self.counts.values())
        parts = ", ".join(f"{n} {verdict.value}" for verdict, n in self.counts.items())
        return f"{total} criteria: {parts}"


def announcement(
    report: GateReport, links: Mapping[str, str], environ: Mapping[str, str]
) -> Announcement:
    counted = Counter(c.verdict for c in report.criteria)
    worst = sorted(
        (c for c in report.criteria if c.verdict in LISTED), key=lambda c: ORDER.index(c.verdict)
    )
    run = ci_run(environ)
    found: dict[str, str] = {}
    if run is not None and run.url:
        found[f"{run.system} run"] = run.url
    if run is not None and run.commit and run.commit_url:
        found[f"commit {run.commit[:7]}"] = run.commit_url
    found.update(links)
    return Announcement(
        release=report.release.name or "release",
        verdict=report.verdict,
        score=report.score,
        summary=report.summary,
        dry_run=report.dry_run,
        counts={v: counted[v] for v in ORDER if counted[v]},
        listed=[Listed(c.name, c.verdict, c.message) for c in worst[:MOST_LISTED]],
        unlisted=max(0, len(worst) - MOST_LISTED),
        links=found,
        ci=run,
    )
