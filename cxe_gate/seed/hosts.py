"""Where a seeded journey sends each recorded host: the suite's main host follows --base-url, every
other first-party host (api., guce.) its mapping from --host-map or CXE_SEEDED_HOST_MAP. A host
nobody mapped is never sent to: one message names every host the selected tests need mapped."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from urllib.parse import urlsplit

HOST_MAP_VARIABLE = "CXE_SEEDED_HOST_MAP"  # "api.example.com=staging-api.example.com,b=c"
# What a recorded host may be called in a comment or .env.example: a plain host name.
_HOST_NAME = re.compile(r"^[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?$")


def parse_host_map(specs: Iterable[str]) -> dict[str, str]:
    """`HOST=TARGET` specs (each may hold several, comma-separated) → recorded host → target, a
    host (sent with the base URL's scheme) or a URL. A later spec for a host wins."""
    mapped: dict[str, str] = {}
    for spec in specs:
        for pair in filter(None, (p.strip() for p in spec.split(","))):
            host, _, target = pair.partition("=")
            host, target = host.strip().lower(), target.strip().rstrip("/")
            if not host or not target or "/" in host:
                raise ValueError(
                    f"expected RECORDED_HOST=TARGET (e.g. api.example.com=staging-api.example.com"
                    f" or api.example.com=http://127.0.0.1:8001), got {pair!r}"
                )
            mapped[host] = target
    return mapped


def host_map(options: Sequence[str], environ: Mapping[str, str]) -> dict[str, str]:
    """The mapping a run uses: CXE_SEEDED_HOST_MAP, then every --host-map (which win)."""
    return parse_host_map([environ.get(HOST_MAP_VARIABLE, ""), *options])


def base_urls(base_url: str, mapped: Mapping[str, str]) -> dict[str, str]:
    """Recorded host → the base URL its requests go to: a target without a scheme takes the
    base URL's."""
    scheme = urlsplit(base_url).scheme or "https"
    return {
        host: target if "://" in target else f"{scheme}://{target}"
        for host, target in mapped.items()
    }


def printable_host(host: str) -> str:
    """A recorded host as a comment may show it: itself when it is a plain host name."""
    return host if _HOST_NAME.match(host) else "(a host with unusual characters; see HOSTS)"


def unmapped_message(
    table: Mapping[str, Mapping[str, str]], tests: Iterable[str], mapped: Mapping[str, str]
) -> str | None:
    """One message naming every host the given tests call that is not mapped (None: all are).
    `table` is test → host → where the test first calls it."""
    missing: dict[str, str] = {}
    for test in sorted(set(tests) & set(table)):
        for host, where in table[test].items():
            if host not in mapped:
                missing.setdefault(host, f"{test}, {where}")
    if not missing:
        return None
    lines = [
        f"{len(missing)} recorded host(s) the selected journeys call are not mapped, and a "
        "recorded host is never called as it is (it may be production): map each to the host "
        "to test with --host-map HOST=TARGET (repeatable) or "
        f'{HOST_MAP_VARIABLE}="HOST=TARGET,...":'
    ]
    lines.extend(f"  - {host!r}: {missing[host]}" for host in sorted(missing))
    return "\n".join(lines)


def hosts_example(main: str | None, table: Mapping[str, Mapping[str, str]]) -> str:
    """The lines of `.env.example` that list the hosts to map ("" when there are none)."""
    places: dict[str, list[str]] = {}
    for test, row in table.items():
        for host, where in row.items():
            places.setdefault(host, []).append(f"{test}, {where}")
    if not places:
        return ""
    shown = printable_host(main) if main else "the first page's"
    lines = [
        "",
        f"# The journeys also call these recorded hosts besides the main one ({shown}, which",
        "# follows --base-url). Map each to the host to test (a host name, or a URL with its",
        "# scheme and port), here or with --host-map HOST=TARGET; an unmapped host fails the test.",
    ]
    for host in sorted(places):
        lines.append(f"#   {printable_host(host)}: {places[host][0]}")
    targets = ",".join(f"{printable_host(h)}=" for h in sorted(places) if _HOST_NAME.match(h))
    lines.append(f"# {HOST_MAP_VARIABLE}={targets}")
    return "\n".join(lines) + "\n"
