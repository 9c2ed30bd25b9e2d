"""The Teams message: an Adaptive Card (schema 1.4) in the envelope a Teams Workflows webhook
takes (`type: message` with one card attachment). Adaptive Card text is plain text with a little
Markdown, so names from the criteria file are kept as written."""

from __future__ import annotations

from typing import Any

from ..results import Verdict
from .announcement import Announcement

CARD = "application/vnd.microsoft.card.adaptive"
COLOUR = {  # an Adaptive Card's named text colours
    Verdict.PASS: "Good",
    Verdict.WARN: "Warning",
    Verdict.FAIL: "Attention",
    Verdict.INCONCLUSIVE: "Default",
    Verdict.ERROR: "Attention",
}
MOST_ACTIONS = 5


def teams_message(said: Announcement) -> dict[str, Any]:
    body: list[dict[str, Any]] = [
        {
            "type": "TextBlock",
            "text": said.title,
            "size": "Large",
            "weight": "Bolder",
            "color": COLOUR[said.verdict],
            "wrap": True,
        },
        {
            "type": "FactSet",
            "facts": [
                {"title": "Verdict", "value": said.verdict.value},
                {"title": "Score", "value": said.score_text},
                {"title": "Criteria", "value": said.counts_text},
            ],
        },
        {"type": "TextBlock", "text": said.summary, "wrap": True},
    ]
    if said.listed:
        body.append({"type": "TextBlock", "text": "Criteria to look at", "weight": "Bolder"})
        lines = [f"- **{i.name}** ({i.verdict.value}): {i.message}" for i in said.listed]
        if said.unlisted:
            lines.append(f"- …and {said.unlisted} more in the report")
        body.append({"type": "TextBlock", "text": "\n".join(lines), "wrap": True})
    card: dict[str, Any] = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": body,
    }
    actions = [
        {"type": "Action.OpenUrl", "title": title, "url": url}
        for title, url in list(said.links.items())[:MOST_ACTIONS]
    ]
    if actions:
        card["actions"] = actions
    return {
        "type": "message",
        "attachments": [{"contentType": CARD, "contentUrl": None, "content": card}],
    }
