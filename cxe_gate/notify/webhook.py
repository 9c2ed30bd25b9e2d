"""The generic webhook's body: the verdict as JSON a script can act on, and its HMAC-SHA256
signature (the scheme GitHub's webhooks use) so the receiver can tell it came from the gate."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

from .announcement import Announcement

SIGNATURE_HEADER = "X-Cxe-Signature-256"


def webhook_message(said: Announcement) -> dict[str, Any]:
    return {
        "event": "cxe-gate.verdict",
        "release": said.release,
        "verdict": said.verdict.value,
        "score": said.score,
        "summary": said.summary,
        "dry_run": said.dry_run,
        "counts": {verdict.value: n for verdict, n in said.counts.items()},
        "criteria": [
            {"name": i.name, "verdict": i.verdict.value, "message": i.message} for i in said.listed
        ],
        "more_criteria": said.unlisted,
        "links": said.links,
        "commit": said.ci.commit if said.ci else None,
    }


def body_bytes(message: dict[str, Any]) -> bytes:
    return json.dumps(message, ensure_ascii=False, separators=(",", ":")).encode()


def signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
