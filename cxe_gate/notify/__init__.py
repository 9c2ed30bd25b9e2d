"""Announcing a verdict where people are: Slack, Teams or any webhook (`notify:` in cxe.yml)."""

from __future__ import annotations

from .send import Sent, announce

__all__ = ["Sent", "announce"]
