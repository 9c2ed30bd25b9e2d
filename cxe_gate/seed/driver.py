"""How a seeded journey's steps are sent: the `Driver` protocol a browser or a bare request context
implements, and the route matching both use."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urljoin, urlsplit

from .answer import Answer

# Sent on the way to a page or a call as a browser sends them: apps check them (a shop's "add to
# basket" goes back to the Referer; CSRF checks compare Origin and Referer with the site).
REFERER = "Referer"
ORIGIN = "Origin"


@dataclass(frozen=True)
class Outgoing:
    """A request as the journey sends it: recorded values, every marker resolved."""

    method: str
    target: str  # path and query, below the base URL
    form: dict[str, Any] | None = None
    json: Any = None
    headers: dict[str, Any] | None = None
    base: str | None = None  # another recorded host's base URL (None: the driver's own)
    # Form field name → its recorded label or button text; "" → the submit button pressed.
    labels: dict[str, str] | None = None
    # A multipart/form-data body: text fields by name, files as `Upload`s (a list when several).
    multipart: dict[str, Any] | None = None

    @property
    def fields(self) -> dict[str, Any] | None:
        """The form's fields, however it is encoded (None: no form)."""
        return self.form if self.form is not None else self.multipart


class Driver(Protocol):
    """Sends pages and calls and hands back their answers. What goes wrong on the way (a form
    without a field customers filled in, a page that got no response) is appended to `problems`,
    in order; the journey takes them after each send."""

    problems: list[str]

    def open(
        self, target: str, headers: dict[str, str] | None = None, base: str | None = None
    ) -> Answer | None:
        """Navigates to a path (with recorded headers, e.g. Authorization) below `base` (another
        host's base URL; None: the driver's own); a redirect is not followed here: its answer is
        the first hop's, and `follow` takes the next hops."""
        ...

    def follow(self, last: Answer | None, base: str | None = None) -> Answer | None:
        """The next hop of the redirect chain the previous answer (`last`) started, recorded on
        the host of `base`; None when it did not redirect."""
        ...

    def send_page(self, request: Outgoing, route: str, last: Answer | None) -> Answer | None:
        """A page reached by sending something: a form submitted on `last`, or a request."""
        ...

    def observed(self, method: str, route: str, base: str | None = None) -> Answer | None:
        """The current page's own request to `route` on the host of `base`, if the page made it."""
        ...

    def send(self, request: Outgoing) -> Answer | None:
        """A call sent directly, as the page would have sent it."""
        ...

    def settle(self) -> None:
        """Waits for the page to finish loading what it loads by itself."""
        ...

    def page_problems(self) -> list[str]:
        """What went wrong in the page since the last step, beyond the journey's own requests."""
        ...


def target_of(base_url: str, location: str, *, against: str | None = None) -> str:
    """A Location (absolute, or relative to the URL `against`) as a path and query below the
    base URL."""
    parts = urlsplit(urljoin(against or base_url + "/", location))
    return (parts.path or "/") + (f"?{parts.query}" if parts.query else "")


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def route_pattern(route: str) -> re.Pattern[str]:
    """`/products/{id}` → a regex for paths: each `{...}` one segment; query names ignored."""
    path = route.split("?", 1)[0]
    pieces = re.split(r"\{[^/{}]*\}", path)
    return re.compile("^" + "[^/]+".join(re.escape(p) for p in pieces) + "/?$")


def missing_field(method: str, route: str, name: str, label: str | None = None) -> str:
    labelled = f" labelled {label!r}" if label else ""
    return (
        f"{method} {route}: the form has no field `{name}`{labelled} "
        "(the recorded customers filled it in)"
    )
