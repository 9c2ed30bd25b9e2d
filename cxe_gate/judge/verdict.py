"""Verdicts from checks: a criterion's from its rules' checks, and the release's from every
criterion's, by the gate's policy, with the weighted score."""

from __future__ import annotations

from ..config import GateSettings, Severity
from ..results import Check, CriterionResult, Outcome, Verdict
from .rules import RuleSpec

_CREDIT = {Verdict.PASS: 1.0, Verdict.WARN: 0.5, Verdict.FAIL: 0.0}


def criterion_verdict(checks: list[Check], severity: Severity) -> tuple[Verdict, Check]:
    """The criterion's verdict and the check that decides it: the first breach, else the first
    unsure check, else the first (every rule held)."""
    breach = _first(checks, Outcome.BREACH)
    if breach is not None:
        return (Verdict.FAIL if severity == "fail" else Verdict.WARN), breach
    unsure = _first(checks, Outcome.UNSURE)
    if unsure is not None:
        return Verdict.INCONCLUSIVE, unsure
    return Verdict.PASS, checks[0]


def _first(checks: list[Check], outcome: Outcome) -> Check | None:
    return next((c for c in checks if c.outcome == outcome), None)


def shown_threshold(deciding: Check, specs: list[RuleSpec], checks: list[Check]) -> float | None:
    """The threshold a report shows for the criterion. A relative rule on a baseline of 0 has
    none (it is judged on the difference from 0): a bound on the same side, where one is given,
    is the limit that reads true (`max: 1%`), not "0%"."""
    spec = specs[checks.index(deciding)]
    if not (spec.relative_to_baseline and spec.undefined_note):
        return deciding.threshold
    same_side = next(
        (
            check
            for other, check in zip(specs, checks, strict=True)
            if not other.relative_to_baseline and other.direction == spec.direction
        ),
        None,
    )
    return same_side.threshold if same_side is not None else None


def score(results: list[CriterionResult]) -> float | None:
    """0-100, weighted: pass counts fully, warn half, fail nothing. Criteria without an answer
    (inconclusive, error) are left out; with none decided, there is no score."""
    decided = [r for r in results if r.verdict in _CREDIT]
    total = sum(r.weight for r in decided)
    if not decided or total == 0:
        return None
    return round(100 * sum(r.weight * _CREDIT[r.verdict] for r in decided) / total, 1)


def overall(results: list[CriterionResult], settings: GateSettings) -> tuple[Verdict, str]:
    """The release's verdict. A failed key criterion fails the release alone. Under `policy:
    any_fail` (the default) so does any failed criterion of severity fail; under `policy: score`
    the weighted score decides between pass, warn and fail (Keptn-style). Then errors, then
    undecided criteria (as `on_inconclusive` says), then warnings."""
    total = score(results)
    key_failures = [r.name for r in results if r.key and r.verdict == Verdict.FAIL]
    if key_failures:
        return Verdict.FAIL, f"key criterion failed: {', '.join(key_failures)}"
    failed = [r.name for r in results if r.verdict == Verdict.FAIL]
    if settings.policy == "any_fail" and failed:
        return Verdict.FAIL, f"failed: {', '.join(failed)}"
    if settings.policy == "score" and total is not None and total < settings.warn_score:
        warned = [r.name for r in results if r.verdict == Verdict.WARN]
        named = [f"failed: {', '.join(failed)}"] if failed else []
        named += [f"warned: {', '.join(warned)}"] if warned else []
        return Verdict.FAIL, (
            f"score {total:g} is below warn_score {settings.warn_score:g} ({'; '.join(named)})"
        )
    errors = [r.name for r in results if r.verdict == Verdict.ERROR]
    if errors and settings.on_error == "closed":
        return Verdict.ERROR, f"could not read the data for: {', '.join(errors)}"
    # An undecided warn-only criterion cannot block the release, but it cannot pass either.
    blocking = [r for r in results if r.verdict == Verdict.INCONCLUSIVE and r.severity == "fail"]
    unsure = [r.name for r in blocking]
    if unsure and settings.on_inconclusive == "fail":
        return Verdict.INCONCLUSIVE, f"not enough evidence for: {', '.join(unsure)}"
    # "No evidence of harm" needs evidence: a criterion that read no data at all is never accepted.
    unread = [r.name for r in blocking if r.value is None]
    if unread:
        return Verdict.INCONCLUSIVE, (
            f"no data for: {', '.join(unread)} (on_inconclusive: {settings.on_inconclusive} "
            "accepts undecided criteria, never a window without data)"
        )
    if total is None and not unsure:
        # Every criterion errored under on_error: open; nothing was decided, so nothing passed.
        return Verdict.ERROR, "no criterion could be decided"
    accepted = (
        [f"undecided, accepted by on_inconclusive: {settings.on_inconclusive}: {', '.join(unsure)}"]
        if unsure
        else []
    )
    # Under policy: score a failed criterion that is not key only lowers the score: it warns.
    warned = [r.name for r in results if r.verdict in (Verdict.WARN, Verdict.FAIL)]
    undecided = [
        r.name for r in results if r.verdict == Verdict.INCONCLUSIVE and r.severity == "warn"
    ]
    notes = [f"warnings: {', '.join(warned)}"] if warned else []
    notes += [f"undecided (warn only): {', '.join(undecided)}"] if undecided else []
    # Under on_error: open an unread criterion does not block, but the release cannot pass on it.
    notes += [f"could not read (on_error: open): {', '.join(errors)}"] if errors else []
    if settings.policy == "score" and total is not None and total < settings.pass_score:
        return Verdict.WARN, "; ".join(
            [f"score {total:g} is below pass_score {settings.pass_score:g}", *notes, *accepted]
        )
    if notes or (unsure and settings.on_inconclusive == "warn"):
        return Verdict.WARN, "; ".join([*notes, *accepted])
    if accepted:
        return Verdict.PASS, "; ".join(["every decided criterion passed", *accepted])
    return Verdict.PASS, "every criterion passed"
