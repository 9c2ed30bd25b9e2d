"""Which site a host belongs to (its registrable domain, by the Public Suffix List snapshot that
`publicsuffixlist` ships, never fetched at run time) and which site a recording is of."""

from __future__ import annotations

import ipaddress
from collections import Counter
from collections.abc import Iterable, Sequence
from functools import cache, lru_cache
from urllib.parse import urlsplit

from publicsuffixlist import PublicSuffixList

from .frames import is_navigation
from .model import Entry


def host_matches(host: str, suffixes: Iterable[str]) -> bool:
    """`host` is one of `suffixes` or under one, label by label (`notexample.com` is not under
    `example.com`)."""
    # A lookup per label rather than a scan of the suffixes: this runs for every entry read.
    if not isinstance(suffixes, set | frozenset):
        suffixes = frozenset(suffixes)
    labels = host.split(".")
    return any(".".join(labels[i:]) in suffixes for i in range(len(labels)))


@cache
def _suffixes() -> PublicSuffixList:
    # Built on first use, not at import: it reads the bundled list (~0.1 s).
    return PublicSuffixList()


@lru_cache(maxsize=1 << 16)  # one look-up per host, not per entry
def site(host: str) -> str:
    """The registrable domain of a host: `shop.example.co.uk` → `example.co.uk`, `me.github.io`
    stays itself (github.io is a public suffix); an IP address or a single label stays as is."""
    host = host.lower().rstrip(".")
    if not host or "." not in host:
        return host
    try:
        ipaddress.ip_address(host)
    except ValueError:
        pass
    else:
        return host
    return _suffixes().privatesuffix(host) or host


def _title_site(title: str, navigated: Sequence[str]) -> str | None:
    """The site a page title names: a URL's (Chrome and IE write the URL as the title), else the
    first site navigated to whose name the title mentions (`... - CNN.com`)."""
    title = title.strip()
    if "://" in title:
        host = urlsplit(title).hostname
        return site(host) if host else None
    lowered = title.lower()
    for candidate in navigated:
        if candidate in lowered:
            return candidate
    return None


def detect_first_party(entries: Iterable[Entry]) -> set[str]:
    """The site the recording is of: the one the first page's title names, else the site of the
    first top-level navigation (never an iframe's: ad frames navigate a lot), else, for an API
    client's recording, the site talked to most. Every host of that site is first party."""
    ordered = sorted(entries, key=lambda e: (e.started, e.index))
    navigated = list(dict.fromkeys(site(e.host) for e in ordered if e.host and is_navigation(e)))
    titles = [e.page_title for e in ordered if e.page_title]
    if titles:
        named = _title_site(titles[0], navigated)
        if named:
            return {named}
    if navigated:
        return {navigated[0]}
    hosts = Counter(site(e.host) for e in ordered if e.host)
    return {hosts.most_common(1)[0][0]} if hosts else set()


def is_first_party(host: str, first_party: Iterable[str]) -> bool:
    return host_matches(host, first_party)
