"""Server-side state kept in memory: browser sessions (cart, CSRF token), orders and wishlists.

A `Store` can be shared by several apps: the simulator gives the releases before and after a deploy
the same one, as a shop with an external session store would keep carts across a deploy."""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta

SESSION_IDLE = timedelta(minutes=30)


def new_token(rng: random.Random, bits: int = 80) -> str:
    """A random hex id; unguessable when `rng` is a SystemRandom (the default when serving)."""
    return f"{rng.getrandbits(bits):0{bits // 4}x}"


@dataclass
class Session:
    id: str
    user_id: str
    csrf_token: str
    last_seen: datetime
    cart: dict[int, int] = field(default_factory=dict)  # product id → quantity


@dataclass(frozen=True)
class OrderLine:
    product_id: int
    name: str
    quantity: int
    unit_price_cents: int


@dataclass(frozen=True)
class Order:
    id: str
    user_id: str
    session_id: str
    created: datetime
    lines: tuple[OrderLine, ...]
    survey: str  # the feedback survey its confirmation page asks: nps or csat

    @property
    def total_cents(self) -> int:
        return sum(line.quantity * line.unit_price_cents for line in self.lines)

    def as_json(self, timestamp: str) -> dict[str, object]:
        return {
            "order_id": self.id,
            "created": timestamp,
            "status": "confirmed",
            "items": [
                {
                    "product_id": line.product_id,
                    "name": line.name,
                    "quantity": line.quantity,
                    "unit_price_cents": line.unit_price_cents,
                }
                for line in self.lines
            ],
            "total_cents": self.total_cents,
        }


class Store:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.sessions: dict[str, Session] = {}
        self.orders: dict[str, Order] = {}
        self.wishlists: dict[str, set[int]] = {}

    def session(
        self, session_id: str | None, user_id: str, now: datetime, rng: random.Random
    ) -> tuple[Session, bool]:
        """The browser's live session, or a new one when it has none, it lapsed after
        SESSION_IDLE, or it belongs to another user; and whether it is new."""
        with self._lock:
            current = self.sessions.get(session_id) if session_id else None
            if (
                current is not None
                and current.user_id == user_id
                and now - current.last_seen <= SESSION_IDLE
            ):
                current.last_seen = max(current.last_seen, now)
                return current, False
            if current is not None:
                del self.sessions[current.id]
            fresh = Session(new_token(rng, 64), user_id, new_token(rng, 128), now)
            self.sessions[fresh.id] = fresh
            return fresh, True

    def add_order(self, order: Order) -> None:
        with self._lock:
            self.orders[order.id] = order

    def wish(self, user_id: str, product_id: int) -> bool:
        """Adds to the user's wishlist; False when the product was already on it."""
        with self._lock:
            wishlist = self.wishlists.setdefault(user_id, set())
            added = product_id not in wishlist
            wishlist.add(product_id)
            return added
