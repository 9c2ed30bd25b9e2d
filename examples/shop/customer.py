"""How a simulated customer moves through the shop.

A visit is a generator: it makes a step's requests through its Browser, then yields how many seconds
the customer thinks before the next step, so the simulator can interleave many customers in time.
The customer leaves more often when pages are slow, after server errors and after a declined card,
and answers the feedback survey less kindly for it."""

from __future__ import annotations

import random
import re
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field

from .browser import Browser, Page

USER_COOKIE = "shop_uid"
SEARCHES = ("mug", "rain jacket", "wool", "stove", "map", "kettle", "pack", "boots", "socks")
CARDS = ("4242 4242 4242 4242", "5555 5555 5555 4444", "4000 0566 5566 5556")
MISTYPED_CARD = "4242 4242 4242 4241"  # fails the Luhn check

# Where a visit goes; each is a probability at that point of the visit.
BOUNCE = 0.08  # leaves after the first page
WISHLIST = 0.10  # of product viewers
ADD_TO_CART = {False: 0.42, True: 0.55}  # of product viewers: new / returning customers
GO_TO_CHECKOUT = 0.70  # of those with something in the cart
SUBMIT_ORDER = 0.80  # of those who opened the checkout form
MISTYPE = 0.05  # of submissions
RETRY_AFTER_ERROR = 0.6  # tries a failed action once more
RETRY_AFTER_DECLINE = 0.15  # tries another card
FEEDBACK = 0.25  # of purchasers

_PRODUCT_LINK = re.compile(r'href="/products/(\d+)"')
_INPUT = re.compile(r'<input type="hidden" name="(\w+)" value="([^"]*)">')

# NPS answers by category (detractor 0-6, passive 7-8, promoter 9-10) and CSAT answers 1-5, for a
# customer whose visit went well and for one who had a bad time; a visit in between mixes them.
NPS_HAPPY, NPS_UNHAPPY = (0.10, 0.28, 0.62), (0.60, 0.30, 0.10)
DETRACTOR_SCORES = (0, 1, 2, 3, 4, 5, 6)
DETRACTOR_WEIGHTS = (1, 1, 1, 2, 3, 5, 7)
CSAT_HAPPY, CSAT_UNHAPPY = (0.02, 0.03, 0.10, 0.35, 0.50), (0.20, 0.30, 0.30, 0.15, 0.05)
COMMENTS = {
    "good": ("Quick and easy.", "Great shop!", "Found what I needed.", "Smooth checkout."),
    "bad": (
        "Checkout was painfully slow.",
        "Something went wrong with my cart.",
        "My card was declined twice.",
        "The site kept failing.",
        "Too slow.",
    ),
}


def think(rng: random.Random, median_s: float) -> float:
    """How long a customer looks at something: lognormal around `median_s`."""
    return median_s * rng.lognormvariate(0.0, 0.6)


def leave_probability(waited_ms: float) -> float:
    """The chance a customer gives up after waiting this long for a page: none up to 1 s, a third
    at 2 s, most beyond 4 s."""
    if waited_ms <= 1000:
        return 0.0
    if waited_ms <= 2000:
        return 0.05 + 0.28 * (waited_ms - 1000) / 1000
    return min(0.8, 0.33 + 0.2 * (waited_ms - 2000) / 1000)


@dataclass
class Mood:
    """What went wrong during the visit."""

    errors: int = 0
    declines: int = 0
    waits_ms: list[float] = field(default_factory=list)

    @property
    def unhappiness(self) -> float:
        """0 for a smooth visit, 1 for a miserable one."""
        slowest = max(self.waits_ms, default=0.0)
        slow = max(0.0, (slowest - 700) / 1500)
        return min(1.0, 0.5 * self.errors + 0.6 * self.declines + slow)


@dataclass
class Customer:
    browser: Browser
    rng: random.Random
    returning: bool
    mood: Mood = field(default_factory=Mood)

    def visit(self) -> Iterator[float]:
        rng = self.rng
        page = self._entry_page()
        if self._gives_up(page) or rng.random() < BOUNCE:
            return
        yield think(rng, 12)
        links = [int(i) for i in _PRODUCT_LINK.findall(page.text)]
        if not links:  # a search without results: the customer looks at everything instead
            page = self.browser.get("/products")
            links = [int(i) for i in _PRODUCT_LINK.findall(page.text)]
            yield think(rng, 8)
        viewed: list[int] = []
        for _ in range(rng.choices((1, 2, 3), weights=(5, 3, 2))[0]):
            product_id = rng.choice(links)
            page = self.browser.get(f"/products/{product_id}")
            if self._gives_up(page):
                return
            self.browser.fetch("GET", f"/api/products/{product_id}")
            viewed.append(product_id)
            yield think(rng, 25)
        if rng.random() < WISHLIST:
            self.browser.fetch("POST", "/api/wishlist", {"product_id": rng.choice(viewed)})
            yield think(rng, 4)
        if rng.random() >= ADD_TO_CART[self.returning]:
            return
        wanted = [viewed[-1] if rng.random() < 0.6 else rng.choice(viewed)]
        if len(set(viewed)) > 1 and rng.random() < 0.2:
            wanted.append(rng.choice([p for p in viewed if p != wanted[0]]))
        for product_id in wanted:
            quantity = rng.choices((1, 2, 3), weights=(85, 12, 3))[0]
            added = yield from self._add_to_cart(product_id, quantity)
            if not added:
                return
            yield think(rng, 5)
        page = self.browser.get("/cart")
        if self._gives_up(page):
            return
        cart = self.browser.fetch("GET", "/api/cart")
        if cart.status != 200 or not cart.json()["items"]:
            return
        yield think(rng, 10)
        if rng.random() >= GO_TO_CHECKOUT:
            return
        confirmation = yield from self._checkout()
        if confirmation is not None and rng.random() < FEEDBACK:
            yield from self._feedback(confirmation)

    def _entry_page(self) -> Page:
        roll = self.rng.random()
        if roll < 0.5:
            return self.browser.get("/")
        if roll < 0.85:
            return self.browser.get("/products")
        query = self.rng.choice(SEARCHES).replace(" ", "+")
        return self.browser.get(f"/products?q={query}")

    def _gives_up(self, page: Page) -> bool:
        """After a page: leaves when it failed, or, more often the longer it took, when slow."""
        self.mood.waits_ms.append(page.waited_ms)
        if page.status >= 500:
            self.mood.errors += 1
            return True
        return page.status >= 400 or self.rng.random() < leave_probability(page.waited_ms)

    def _add_to_cart(self, product_id: int, quantity: int) -> Generator[float, None, bool]:
        body = {"product_id": product_id, "quantity": quantity}
        for attempt in range(2):
            answer = self.browser.fetch("POST", "/api/cart", body)
            self.mood.waits_ms.append(answer.waited_ms)
            if answer.status == 200:
                return True
            self.mood.errors += 1
            if attempt == 0 and self.rng.random() < RETRY_AFTER_ERROR:
                yield think(self.rng, 3)
            else:
                break
        return False

    def _checkout(self) -> Generator[float, None, Page | None]:
        """Fills in and submits the checkout form; the confirmation page if an order was placed."""
        rng = self.rng
        page = self.browser.get("/checkout")
        if self._gives_up(page):
            return None
        fields = dict(_INPUT.findall(page.text))
        if "csrf_token" not in fields:  # the cart emptied meanwhile: no form to fill
            return None
        yield think(rng, 45)
        if rng.random() >= SUBMIT_ORDER:
            return None
        form = {
            "csrf_token": fields["csrf_token"],
            "name": "Sam Walker",
            "email": f"sam{rng.randrange(10_000)}@example.com",
            "address": f"{rng.randrange(1, 200)} Ridge Road, Boulder",
            "card_number": rng.choice(CARDS),
            "expiry": f"{rng.randrange(1, 13):02d}/{rng.randrange(28, 32)}",
        }
        typed = {**form, "card_number": MISTYPED_CARD} if rng.random() < MISTYPE else form
        for _ in range(3):
            page = self.browser.submit("/checkout", typed)
            self.mood.waits_ms.append(page.waited_ms)
            if page.path.startswith("/orders/"):
                order_id = page.path.rsplit("/", 1)[1]
                self.browser.fetch("GET", f"/api/orders/{order_id}")
                yield think(rng, 15)
                return page
            if page.status >= 500:
                self.mood.errors += 1
                return None
            if page.status == 422:  # a typo the form pointed out: fix it and send again
                typed = form
                yield think(rng, 12)
            elif 'id="declined"' in page.text:
                self.mood.declines += 1
                if rng.random() >= RETRY_AFTER_DECLINE:
                    return None
                typed = form = {**form, "card_number": rng.choice(CARDS)}
                yield think(rng, 20)
            else:
                return None
        return None

    def _feedback(self, confirmation: Page) -> Iterator[float]:
        fields = dict(_INPUT.findall(confirmation.text))
        if "csrf_token" not in fields or "survey" not in fields:
            return
        score = self._score(fields["survey"])
        comment = ""
        if self.rng.random() < 0.4:
            tone = "good" if self._happy(fields["survey"], score) else "bad"
            comment = self.rng.choice(COMMENTS[tone])
        yield think(self.rng, 20)
        self.browser.submit("/feedback", {**fields, "score": str(score), "comment": comment})

    def _score(self, survey: str) -> int:
        u = self.mood.unhappiness
        if survey == "nps":
            weights = [(1 - u) * h + u * s for h, s in zip(NPS_HAPPY, NPS_UNHAPPY, strict=True)]
            category = self.rng.choices(range(3), weights=weights)[0]
            if category == 0:
                return self.rng.choices(DETRACTOR_SCORES, weights=DETRACTOR_WEIGHTS)[0]
            return self.rng.choice((7, 8) if category == 1 else (9, 10))
        weights = [(1 - u) * h + u * s for h, s in zip(CSAT_HAPPY, CSAT_UNHAPPY, strict=True)]
        return self.rng.choices(range(1, 6), weights=weights)[0]

    @staticmethod
    def _happy(survey: str, score: int) -> bool:
        return score >= (7 if survey == "nps" else 4)
