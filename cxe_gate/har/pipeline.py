"""HAR files → the journey map, the whole way: read, drop noise, correlate, scrub, split each session
into journeys (`sessions.read_sessions`), then merge look-alike journeys across sessions and write
each kind as a `MappedJourney` (`merge.finish`). A shard of the files stops halfway, at a partial
map that merges with the other shards' into the same journey map."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TypedDict, Unpack

from .journey_map import JourneyMap
from .journeys import IDLE_GAP_S
from .load import LARGE_FILE_BYTES, expand
from .merge import finish
from .noise import TRACKER_HOSTS
from .partial import PartialMap, session_order
from .placeholders import Digests
from .scrub import ScrubRules
from .sessions import read_sessions, settings_of


class ReadOptions(TypedDict, total=False):
    """How HAR files are read: the site's own hosts (detected per session if not given), what to
    scrub, which hosts are trackers, the idle gap between journeys, when to stream a file, and
    what to call after each file."""

    first_party: Iterable[str]
    rules: ScrubRules | None
    tracker_hosts: frozenset[str]
    idle_gap_s: float
    large_file_bytes: int
    on_file: Callable[[Path], None] | None


def build_journey_map(inputs: Iterable[str | Path], **options: Unpack[ReadOptions]) -> JourneyMap:
    """Reads every HAR in the order the inputs name them (a file that fails is reported and
    skipped), scrubs, drops noise, splits each file (a session) into journeys and clusters them."""
    # Nothing leaves the process, so the digests standing for secrets need no key.
    return finish(_read(expand(inputs), None, **options))


def build_partial_map(
    inputs: Iterable[str | Path], *, key: bytes | None, **options: Unpack[ReadOptions]
) -> PartialMap:
    """A shard's partial map: its HARs read in session order, every secret as a digest under
    `key` (the same for every shard; None writes plain digests, which a guess can test)."""
    return _read(sorted(expand(inputs), key=lambda p: session_order(str(p))), key, **options)


def _read(
    paths: Sequence[Path],
    key: bytes | None,
    *,
    first_party: Iterable[str] = (),
    rules: ScrubRules | None = None,
    tracker_hosts: frozenset[str] = TRACKER_HOSTS,
    idle_gap_s: float = IDLE_GAP_S,
    large_file_bytes: int = LARGE_FILE_BYTES,
    on_file: Callable[[Path], None] | None = None,
) -> PartialMap:
    rules = rules or ScrubRules()
    return read_sessions(
        paths,
        digests=Digests(key),
        settings=settings_of(first_party, rules, tracker_hosts, idle_gap_s),
        rules=rules,
        tracker_hosts=tracker_hosts,
        large_file_bytes=large_file_bytes,
        on_file=on_file,
    )
