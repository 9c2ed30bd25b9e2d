"""Announcing a verdict where people are: Slack, Teams or any webhook (`notify:` in cxe.yml)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .send import Sent, announce

__all__ = ["Sent", "announce"]


def __getattr__(name: str) -> Any:
    # send.py imports requests (~45 ms): only a run that notifies pays for it, not one that
    # reads notify.ci for the report's links.
    if name in __all__:
        from . import send

        return getattr(send, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
