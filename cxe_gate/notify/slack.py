"""The Slack message: Block Kit blocks for the channel, and `text` for the notification and for
clients that cannot show blocks. Text from the criteria file is escaped (`&`, `<`, `>` are
Slack's control characters) and cut to Block Kit's limits, so a long name cannot break a
message."""

from __future__ import annotations

from typing import Any

from ..results import Verdict
from .announcement import Announcement

HEADER_MOST = 150  # characters of a header block's plain text
SECTION_MOST = 3000  # characters of a section's text
BUTTON_TEXT_MOST = 75
MOST_BUTTONS = 5  # fewer than the 25 allowed: more is a list, not a row of buttons

ICON = {
    Verdict.PASS: ":white_check_mark:",
    Verdict.WARN: ":warning:",
    Verdict.FAIL: ":x:",
    Verdict.INCONCLUSIVE: ":grey_question:",
    Verdict.ERROR: ":rotating_light:",
}


def escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _cut(text: str, most: int) -> str:
    return text if len(text) <= most else text[: most - 1] + "…"


def slack_message(said: Announcement) -> dict[str, Any]:
    blocks: list[dict[str, Any]] = [
        {
            "type": "header",
            "text": {"type": "plain_text", "text": _cut(said.title, HEADER_MOST), "emoji": True},
        },
        {
            "type": "section",
            "text": {
                "type": "mrkdwn",
                "text": _cut(
                    f"{ICON[said.verdict]} *{said.verdict.value}* · {said.score_text} · "
                    f"{said.counts_text}\n{escape(said.summary)}",
                    SECTION_MOST,
                ),
            },
        },
    ]
    if said.listed:
        lines = [
            f"{ICON[item.verdict]} *{escape(item.name)}* ({item.verdict.value}): "
            f"{escape(item.message)}"
            for item in said.listed
        ]
        if said.unlisted:
            lines.append(f"…and {said.unlisted} more in the report")
        blocks.append(
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": _cut("\n".join(lines), SECTION_MOST)},
            }
        )
    buttons = [
        {
            "type": "button",
            "text": {"type": "plain_text", "text": _cut(title, BUTTON_TEXT_MOST)},
            "url": url,
        }
        for title, url in list(said.links.items())[:MOST_BUTTONS]
    ]
    if buttons:
        blocks.append({"type": "actions", "elements": buttons})
    return {
        "text": f"cxe-gate: {said.title}, {said.score_text}",
        "blocks": blocks,
    }
