"""Precision and recall of the scrubber on hand-labelled requests (tests/har/scrub_cases.json):
real apps' forms, query strings, JSON bodies, headers and cookies, with the secrets and personal
data that must go and the look-alikes (timestamps, cache-busters, currencies, ids, host names,
SKUs, prices, dates) that must stay.

    python benchmarks/scrub_quality.py [--cases PATH] [--misses]

Recall = labelled secrets gone from the output / labelled secrets; precision = secrets gone /
(secrets gone + look-alikes changed). A secret is gone when neither its text nor its URL-encoded
text is left; a look-alike stays when its text is still there, verbatim."""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

from cxe_gate.har.scrub import Finding, Scrubber

CASES = Path(__file__).resolve().parent.parent / "tests" / "har" / "scrub_cases.json"


@dataclass
class Quality:
    secrets: int = 0
    caught: int = 0
    kept: int = 0
    changed: int = 0
    misses: list[str] = field(default_factory=list)  # "app: value" of each secret left
    changes: list[str] = field(default_factory=list)  # "app: value" of each look-alike changed

    @property
    def recall(self) -> float:
        return self.caught / self.secrets if self.secrets else 1.0

    @property
    def precision(self) -> float:
        return self.caught / (self.caught + self.changed) if self.caught + self.changed else 1.0


def scrubbed_text(scrubber: Scrubber, part: dict[str, Any]) -> str:
    """One part of a sample, scrubbed, as text the labels are looked for in."""
    found: list[Finding] = []
    if "response" in part:  # an answer: the values it issues, which a later part may send back
        scrubber.issue_answer(part["response"]["mime"], part["response"]["text"])
        return ""
    if "form" in part:
        pairs = scrubber.pairs(part["form"], "request.form", found, form=True)
        return "\n".join(f"{k}={v}" for k, v in pairs)
    if "url" in part:
        return unquote(scrubber.url(part["url"], "request.url", found))
    if "json" in part:
        return scrubber.body("application/json", json.dumps(part["json"]), found)
    if "headers" in part:
        headers = tuple((k, v) for k, v in part["headers"])
        return "\n".join(f"{k}: {v}" for k, v in scrubber.headers(headers, "request", found))
    if "text" in part:
        return scrubber.body(part.get("mime"), part["text"], found)
    raise ValueError(f"a part must be response, form, url, json, headers or text: {sorted(part)}")


def measure(path: Path = CASES) -> Quality:
    quality = Quality()
    for sample in json.loads(path.read_text("utf-8"))["samples"]:
        scrubber = Scrubber()  # a sample is one session: its parts share what is known secret
        output = "\n".join(scrubbed_text(scrubber, part) for part in sample["parts"])
        for secret in sample["secrets"]:
            quality.secrets += 1
            if secret in output or quote(secret, safe="") in output:
                quality.misses.append(f"{sample['app']}: {secret}")
            else:
                quality.caught += 1
        for look_alike in sample["keep"]:
            if look_alike in output:
                quality.kept += 1
            else:
                quality.changed += 1
                quality.changes.append(f"{sample['app']}: {look_alike}")
    return quality


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=Path, default=CASES)
    parser.add_argument(
        "--misses", action="store_true", help="list secrets left, look-alikes changed"
    )
    args = parser.parse_args()
    quality = measure(args.cases)
    print(f"secrets {quality.secrets}, caught {quality.caught}: recall {quality.recall:.3f}")
    print(
        f"look-alikes {quality.kept + quality.changed}, changed {quality.changed}: "
        f"precision {quality.precision:.3f}"
    )
    if args.misses:
        for line in quality.misses:
            print(f"  secret left: {line}")
        for line in quality.changes:
            print(f"  look-alike changed: {line}")


if __name__ == "__main__":
    main()
