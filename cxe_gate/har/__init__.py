"""HAR ingestion: HAR files → entries → scrubbed entries → journeys → clusters → a journey map.

`build_journey_map` (in `pipeline`) runs the whole way; each module is one stage. A shard of the
files stops at a partial map (`build_partial_map`, `partial`), and `merge` merges partial maps into
the journey map one run over all their files gives."""

from __future__ import annotations
